//! ecsd, the server and its tools, as a library: the binary (`main.rs`) only parses the command
//! line and calls in here, and the tests drive the same router in-process.
//!
//! The layers, and where a change goes:
//!
//! ```text
//!   ecs-wire      the protocol: parameters, signatures, JSON/XML, error envelopes
//!   ops/          one file per API operation: parameters -> typed command -> answer fields
//!   ecs-service   the rules: typed commands and queries, their error rows (every door calls it)
//!   ecs-store     the Store trait and its engines (SQLite), the conformance suite
//!   ecs-domain    pure rules and the model, the clock passed in
//!   ecs-scheduler due work: claims it and has the service carry it out
//!   server/, serve, cli, accounts, secrets: the shells (HTTP, start-up, command line)
//! ```

use std::path::PathBuf;

use clap::Args;

pub mod accounts;
pub mod app;
pub mod cli;
pub mod ops;
pub mod output;
pub mod secrets;
pub mod serve;
pub mod server;

#[derive(Args, Clone)]
pub struct DataDir {
    /// Where the embedded database lives.
    #[arg(long, env = "ECSD_DATA_DIR", default_value = "./ecsd-data")]
    pub data_dir: PathBuf,
}

#[derive(Args, Clone)]
pub struct AdminTarget {
    /// Base URL of a running ecsd.
    #[arg(long, env = "ECSD_URL", default_value = "http://127.0.0.1:9380")]
    pub server: String,
    /// Bearer token of its admin API.
    #[arg(long, env = "ECSD_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}
