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
//!   console/      the web console under /console: forms -> the same typed commands
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

pub mod accounts;
pub mod app;
pub mod cli;
pub mod console;
pub mod ops;
pub mod output;
pub mod secrets;
pub mod serve;
pub mod server;

/// Where the store is: SQLite in the data dir (the default), or a database named by URL. The
/// data dir is still where the master key file lives unless `ECSD_MASTER_KEY` gives it.
#[derive(Args, Clone)]
pub struct DataDir {
    /// Where the embedded database lives.
    #[arg(long, env = "ECSD_DATA_DIR", default_value = "./ecsd-data")]
    pub data_dir: PathBuf,
    /// Store everything in this database instead (`postgres://user@host:port/db`); the
    /// scheme chooses the engine. Several servers may share one PostgreSQL database.
    #[arg(long, env = "ECSD_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Database connections (and worker threads) this process keeps at most.
    #[arg(long, env = "ECSD_DB_POOL_SIZE", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(2..=1000))]
    pub db_pool_size: u16,
    /// Longest a database statement may run (e.g. `5s`, `500ms`); a call that needs longer
    /// (the database is down or stuck) answers ServiceUnavailable.
    #[arg(long, env = "ECSD_DB_STATEMENT_TIMEOUT", default_value = "5s", value_parser = parse_timeout)]
    pub db_statement_timeout: Duration,
    /// Longest opening a database connection may take.
    #[arg(long, env = "ECSD_DB_CONNECT_TIMEOUT", default_value = "5s", value_parser = parse_timeout)]
    pub db_connect_timeout: Duration,
}

impl DataDir {
    /// The SQLite store in `path`, with the database options' defaults.
    pub fn at(path: &Path) -> Self {
        Self {
            data_dir: path.to_path_buf(),
            database_url: None,
            db_pool_size: 8,
            db_statement_timeout: Duration::from_secs(5),
            db_connect_timeout: Duration::from_secs(5),
        }
    }

    /// Whether other processes may serve the same store (a database server rather than a
    /// file in the data dir): then the data dir's lock means nothing and is not taken.
    pub fn is_shared(&self) -> bool {
        self.database_url.is_some()
    }
}

/// `5s`, `500ms`, `2m`, or a bare number of seconds.
pub(crate) fn parse_timeout(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: use e.g. 5s, 500ms or 2m"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        _ => return Err(format!("{text:?}: use e.g. 5s, 500ms or 2m")),
    };
    if d.is_zero() {
        return Err("a timeout must be more than zero".into());
    }
    Ok(d)
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
