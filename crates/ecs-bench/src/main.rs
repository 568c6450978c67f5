//! `ecs-bench`: the benchmark suite of ecsd.
//!
//! - `ecs-bench suite`: the whole run (baseline, ecsd, moto, lifecycle scale run), table and
//!   JSON; `bench/run` builds everything and calls it.
//! - `ecs-bench baseline`: the bare axum server used as the ceiling.
//! - `ecs-bench create` / `ecs-bench load`: one step by hand against a running ecsd (for
//!   profiling a server while the generator drives it).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod api;
mod baseline;
mod http;
mod load;
mod procs;
mod sign;
mod suite;

use load::{LoadSpec, Workload};
use sign::EcsClient;

#[derive(Parser)]
#[command(
    name = "ecs-bench",
    about = "Benchmarks of ecsd against a baseline and moto"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

/// The access key a `create` or `load` run signs with.
#[derive(Args)]
struct Keys {
    #[arg(long, env = "ALIBABA_CLOUD_ACCESS_KEY_ID", default_value = "benchid")]
    key_id: String,
    #[arg(
        long,
        env = "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        default_value = "benchsecret",
        hide_env_values = true
    )]
    secret: String,
}

impl Keys {
    fn client(&self, server: SocketAddr) -> EcsClient {
        EcsClient::new(server.to_string(), &self.key_id, &self.secret)
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Run every target and the scale run; print the table and write the JSON results.
    Suite {
        /// The ecsd binary.
        #[arg(long, default_value = "target/release/ecsd")]
        ecsd: PathBuf,
        /// moto's `moto_server` script; without it the peer is reported as not measured.
        #[arg(long)]
        moto: Option<PathBuf>,
        /// A few seconds per target and small data; checks correctness, never speed.
        #[arg(long)]
        quick: bool,
        #[arg(long, default_value = "bench/results.json")]
        out: PathBuf,
        /// Data directories and server logs.
        #[arg(long, default_value = "bench/out")]
        work_dir: PathBuf,
        /// Measured seconds per target (default: 10, quick 1.5).
        #[arg(long)]
        duration: Option<f64>,
        /// Instances of the scale run (default 1,000,000, quick 10,000); a tenth are due in
        /// the same minute.
        #[arg(long)]
        scale_instances: Option<u64>,
        #[arg(long)]
        skip_scale: bool,
        /// What is being measured (e.g. a git commit), recorded in the results.
        #[arg(long)]
        label: Option<String>,
        /// Run only some parts: baseline, ecsd, moto, scale, postgres (comma-separated).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// A PostgreSQL server for the PostgreSQL rows (a database is created there for the run
        /// and dropped after); without one they are skipped with a notice. Falls back to
        /// ECSD_TEST_DATABASE_URL.
        #[arg(long, env = "ECSD_BENCH_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
    /// The baseline server: axum answering a constant JSON body.
    Baseline {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// Create instances on a running ecsd (RunInstances, Amount=100) and print their ids.
    Create {
        #[arg(long)]
        server: SocketAddr,
        #[arg(long, default_value_t = 1000)]
        count: u64,
        /// AutoReleaseTime of every instance (yyyy-MM-ddTHH:mm:ssZ, at least 30 minutes ahead
        /// of the server's clock).
        #[arg(long)]
        release_at: Option<String>,
        #[command(flatten)]
        keys: Keys,
    },
    /// Drive one workload at a running ecsd and print the result as JSON.
    Load {
        #[arg(long)]
        server: SocketAddr,
        #[arg(long, value_enum)]
        op: Op,
        /// A file of instance ids, one a line (from `create`); needed by modify and describe-one.
        #[arg(long)]
        ids: Option<PathBuf>,
        /// Instances in the region, for describe-page.
        #[arg(long, default_value_t = 100_000)]
        total: u64,
        #[arg(short, long, default_value_t = 64)]
        concurrency: usize,
        #[arg(short, long, default_value_t = 10.0)]
        duration: f64,
        #[command(flatten)]
        keys: Keys,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Op {
    Modify,
    DescribeOne,
    DescribePage,
}

/// The generator runs on one thread, so it takes at most one of the machine's cores.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

fn run(cli: Cli) -> Result<bool, String> {
    match cli.command {
        Cmd::Baseline { listen } => baseline::serve(listen).map(|()| true),
        Cmd::Suite {
            ecsd,
            moto,
            quick,
            out,
            work_dir,
            duration,
            scale_instances,
            skip_scale,
            label,
            only,
            database_url,
        } => {
            if !ecsd.exists() {
                return Err(format!(
                    "{} not found: build it with `cargo build --release --bin ecsd`",
                    ecsd.display()
                ));
            }
            let mut cfg = if quick {
                suite::SuiteConfig::quick(ecsd, moto, work_dir, out)
            } else {
                suite::SuiteConfig::full(ecsd, moto, work_dir, out)
            };
            if let Some(d) = duration {
                cfg.duration = Duration::from_secs_f64(d);
            }
            if let Some(n) = scale_instances {
                cfg.scale_instances = n;
                cfg.scale_burst = n / 10;
            }
            cfg.skip_scale = skip_scale;
            for part in &only {
                if !["baseline", "ecsd", "moto", "scale", "postgres"].contains(&part.as_str()) {
                    return Err(format!("--only: unknown part {part:?}"));
                }
            }
            cfg.only = only;
            cfg.label = label;
            cfg.database_url = database_url
                .or_else(|| std::env::var("ECSD_TEST_DATABASE_URL").ok())
                .filter(|u| !u.is_empty());
            let report = runtime()?.block_on(suite::run(cfg))?;
            Ok(report.ok)
        }
        Cmd::Create {
            server,
            count,
            release_at,
            keys,
        } => {
            let client = keys.client(server);
            let created = runtime()?.block_on(api::create_instances(
                server,
                &client,
                count,
                4,
                usize::MAX,
                Arc::new(move |_| release_at.clone()),
                Arc::new(|_| {}),
            ))?;
            for id in &created.ids {
                println!("{id}");
            }
            eprintln!(
                "{} instances in {:.2} s",
                created.instances,
                created.elapsed.as_secs_f64()
            );
            Ok(true)
        }
        Cmd::Load {
            server,
            op,
            ids,
            total,
            concurrency,
            duration,
            keys,
        } => {
            let client = keys.client(server);
            let read_ids = || -> Result<Arc<Vec<String>>, String> {
                let path = ids.as_ref().ok_or("--ids FILE is needed for this op")?;
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let list: Vec<String> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect();
                if list.is_empty() {
                    return Err(format!("{} holds no ids", path.display()));
                }
                Ok(Arc::new(list))
            };
            let workload = match op {
                Op::Modify => Workload::EcsModify {
                    client,
                    ids: read_ids()?,
                    base: chrono::Utc::now() + chrono::TimeDelta::hours(2),
                },
                Op::DescribeOne => Workload::EcsDescribeOne {
                    client,
                    ids: read_ids()?,
                },
                Op::DescribePage => Workload::EcsDescribePage {
                    client,
                    total,
                    page_size: 100,
                },
            };
            let spec = LoadSpec {
                concurrency,
                warmup: Duration::from_secs(1),
                duration: Duration::from_secs_f64(duration),
                max_requests: None,
                thorough_every: 64,
            };
            let result = runtime()?.block_on(load::run(server, Arc::new(workload), spec, None));
            println!(
                "{}",
                serde_json::to_string_pretty(&result).map_err(|e| e.to_string())?
            );
            Ok(result.errors == 0 && result.requests > 0)
        }
    }
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("ecs-bench: some targets did not answer correctly (see above)");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("ecs-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
