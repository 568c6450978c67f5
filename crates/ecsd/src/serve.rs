//! `ecsd serve`: open the store, set up the clock and keys, start the scheduler and the HTTP
//! server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::Duration;
use clap::Args;
use ecs_domain::catalog::{Catalog, CatalogOverrides};
use ecs_domain::lifecycle::DEFAULT_EXPIRY_GRACE;
use ecs_domain::ApiError;
use ecs_scheduler::Scheduler;
use ecs_service::clock::parse_duration;
use ecs_service::{LifecycleClock, Service};
use ecs_store::TxError;
use serde::Deserialize;

use crate::accounts::{
    bootstrap_default, hold_server_lock_in, open_store_in, AccountsError, DataDirError,
};
use crate::app::App;
use crate::output::say;
use crate::secrets::SecretsError;
use crate::{secrets, server, DataDir};

/// Why `ecsd serve` did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("bad listen address {listen:?}")]
    BadListen {
        listen: String,
        #[source]
        source: std::net::AddrParseError,
    },
    #[error("cannot read config {}", path.display())]
    ReadConfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("bad config {}", path.display())]
    ParseConfig {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("bad expiry_grace {text:?}: use e.g. \"15d\" (at most 3650d)")]
    BadExpiryGrace { text: String },
    /// The catalog's check explains itself in a sentence; it has no error type of its own.
    #[error("bad config: {why}")]
    BadCatalog { why: String },
    #[error(
        "set both ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or neither"
    )]
    HalfAnEnvKey,
    #[error("cannot open the virtual clock")]
    VirtualClock(#[source] TxError),
    #[error("cannot load the recorded signature nonces")]
    Nonces(#[source] ApiError),
    #[error("cannot catch up on due lifecycle actions")]
    CatchUp(#[source] ApiError),
    #[error("cannot start the runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot listen on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the bound address")]
    BoundAddress(#[source] std::io::Error),
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Bootstrap(#[from] AccountsError),
}

/// Which clock the lifecycle runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ClockArg {
    Real,
    Virtual,
}

/// The longest `expiry_grace` a config may set: ten years is already more than any test wants,
/// and it keeps every planned release time far inside what a timestamp can hold.
const MAX_EXPIRY_GRACE_SECONDS: i64 = 3650 * 86_400;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ECSD_LISTEN", default_value = "127.0.0.1:9380")]
    listen: String,
    #[command(flatten)]
    dir: DataDir,
    /// `real`, or `virtual`: starts at the current time (or where it was left) and moves only
    /// through the admin API.
    #[arg(long, env = "ECSD_CLOCK", value_enum, default_value = "real")]
    clock: ClockArg,
    /// JSON config: catalog overrides (regions, instance_types, host_types) and
    /// `expiry_grace` (e.g. "15d").
    #[arg(long, env = "ECSD_CONFIG")]
    config: Option<PathBuf>,
    /// How long a term as upkeep leader lasts unless renewed (real time; e.g. `30s`): of the
    /// processes serving one database, the leader alone prunes old nonces, and another takes
    /// over this long after the leader died.
    #[arg(long, env = "ECSD_LEADER_TERM", default_value = "30s", value_parser = crate::parse_timeout)]
    leader_term: std::time::Duration,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(flatten)]
    catalog: CatalogOverrides,
    expiry_grace: Option<String>,
}

fn load_config(path: Option<&PathBuf>) -> Result<(Catalog, Duration), ServeError> {
    let config: ConfigFile = match path {
        None => ConfigFile::default(),
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| ServeError::ReadConfig {
                path: p.clone(),
                source,
            })?;
            serde_json::from_str(&text).map_err(|source| ServeError::ParseConfig {
                path: p.clone(),
                source,
            })?
        }
    };
    let grace = match config.expiry_grace.as_deref() {
        None => DEFAULT_EXPIRY_GRACE,
        Some(text) => parse_duration(text)
            .filter(|s| (0..=MAX_EXPIRY_GRACE_SECONDS).contains(s))
            .and_then(Duration::try_seconds)
            .ok_or_else(|| ServeError::BadExpiryGrace {
                text: text.to_string(),
            })?,
    };
    let catalog = Catalog::builtin().apply(config.catalog);
    catalog
        .check()
        .map_err(|why| ServeError::BadCatalog { why })?;
    Ok((catalog, grace))
}

fn env_key() -> Result<Option<(String, String)>, ServeError> {
    let id = std::env::var("ALIBABA_CLOUD_ACCESS_KEY_ID")
        .ok()
        .filter(|s| !s.is_empty());
    let secret = std::env::var("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        .ok()
        .filter(|s| !s.is_empty());
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(Some((id, secret))),
        (None, None) => Ok(None),
        _ => Err(ServeError::HalfAnEnvKey),
    }
}

pub fn run(args: ServeArgs) -> Result<(), ServeError> {
    let addr: SocketAddr = args
        .listen
        .parse()
        .map_err(|source| ServeError::BadListen {
            listen: args.listen.clone(),
            source,
        })?;
    let (catalog, grace) = load_config(args.config.as_ref())?;
    // Released when the process ends, however it ends.
    // One server per data dir for SQLite; on a shared database any number of servers may run
    // (what makes that safe is in ecs_service::state), and no lock is taken.
    let _running = hold_server_lock_in(&args.dir)?;
    let shared = args.dir.is_shared();
    let store = open_store_in(&args.dir)?;
    let key_ring = secrets::prepare(&args.dir.data_dir, &store)?;
    bootstrap_default(&store, env_key()?, &key_ring)?;

    let clock = match args.clock {
        ClockArg::Real => LifecycleClock::real(store.clone()),
        // Resumes a virtual clock where it was left, so a restart catches up on what was due
        // at that time; a new one starts at the real time.
        ClockArg::Virtual => {
            LifecycleClock::open_virtual(store.clone()).map_err(ServeError::VirtualClock)?
        }
    };
    let admin_token = std::env::var("ECSD_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let service = Arc::new(
        Service::new(store, clock, catalog, grace)
            .with_key_secrets(key_ring)
            .with_shared_store(shared),
    );
    let term = Duration::from_std(args.leader_term).unwrap_or(ecs_scheduler::LEADER_TERM);
    let app = Arc::new(App {
        service: service.clone(),
        scheduler: Arc::new(Scheduler::new(service.clone()).leader_term(term)),
        admin_token,
    });
    let real_now = chrono::Utc::now();
    // Pruning is upkeep for the leader on a shared store (the scheduler's upkeep task); here
    // it only keeps the load below small for a process that serves its store alone.
    if !shared {
        service
            .forget_old_nonces(real_now)
            .map_err(ServeError::Nonces)?;
    }
    service.load_nonces(real_now).map_err(ServeError::Nonces)?;

    // Catch up before taking calls: whatever fell due while ecsd was down is carried out now,
    // in due order, so the first answer already reflects it.
    let caught_up = app.scheduler.catch_up().map_err(ServeError::CatchUp)?;
    if !caught_up.is_empty() {
        tracing::info!(
            actions = caught_up.len(),
            "caught up on actions that fell due while stopped"
        );
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Listen { addr, source })?;
        let bound = listener.local_addr().map_err(ServeError::BoundAddress)?;
        app.scheduler.clone().spawn();
        // Without a standard output (closed, full) there is nobody to tell; serve anyway.
        if let Err(e) = say!(
            "ecsd listening on http://{bound} (clock: {}, store: {})",
            app.service.clock().mode().as_str(),
            app.service.engine()
        ) {
            tracing::warn!(error = %e, "could not print the listening address");
        }
        let scheduler = app.scheduler.clone();
        server::listen::serve(listener, server::router(app), shutdown_signal()).await;
        // Another replica takes the upkeep over at once instead of when the term ends.
        let _ = tokio::task::spawn_blocking(move || scheduler.resign()).await;
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
