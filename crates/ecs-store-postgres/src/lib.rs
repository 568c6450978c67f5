//! The PostgreSQL engine behind [`ecs_store::Store`], for several ecsd processes on one database.
//!
//! * **Connections.** The store owns a fixed set of worker threads, one database connection each
//!   (opened lazily, reopened after a failure): that set is the pool, and its size bounds the
//!   connections one process holds. Every transaction, read or write, runs on a worker. The
//!   synchronous `postgres` client drives its own small runtime and must not be called from
//!   inside the server's async tasks; on a worker it never is.
//! * **Isolation.** Writes run `SERIALIZABLE`, so whatever a transaction read still holds when it
//!   commits, whichever process wrote in between; reads run `REPEATABLE READ READ ONLY`, one
//!   snapshot. A serialization failure or deadlock (SQLSTATE 40001, 40P01) is
//!   [`StoreError::Conflict`]: the transaction is rolled back and run again (the trait's bounded
//!   retry, with a short random pause so that the same transactions do not meet again).
//! * **Time.** No statement reads the database's clock: the lifecycle time and the real time of
//!   leases are parameters, so a virtual clock and the replicas' own clocks are what count.
//! * **Outages.** A connection that cannot be opened within the connect timeout, a lost
//!   connection and a statement cancelled by `statement_timeout` are [`StoreError::Unavailable`];
//!   the worker drops its connection and opens a new one for the next transaction.
//! * **Durability.** `synchronous_commit` is left on (the default): COMMIT returns once the WAL
//!   is flushed, so an acknowledged write survives a crash of the database server.

use std::any::Any;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::str::FromStr;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use ecs_store::{Store, StoreError, StoreResult, TxDone, TxError, TxFn, TxResult, MAX_TX_ATTEMPTS};
use postgres::error::SqlState;
use postgres::{Client, NoTls, Statement};

mod schema;
mod tx;

use tx::PgTx;

/// How to reach the database and how patient to be with it.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// `postgres://user@host:port/db` (or a key=value string).
    pub url: String,
    /// Connections (and worker threads) this process keeps at most.
    pub pool_size: usize,
    /// Bound on each statement, enforced by the server (`statement_timeout`).
    pub statement_timeout: Duration,
    /// Bound on opening a connection.
    pub connect_timeout: Duration,
    /// A schema to keep every table in (created if missing); `None` uses the connection's
    /// default search path (normally `public`). Tests give each case its own.
    pub schema: Option<String>,
}

impl PgOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: 8,
            statement_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            schema: None,
        }
    }
}

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("bad database URL")]
    BadUrl(#[source] postgres::Error),
    #[error("bad schema name {0:?}: use letters, digits and underscores")]
    BadSchema(String),
    #[error("the pool size must be at least 2 (a read may wait on a write)")]
    PoolSize,
    #[error("cannot start a database worker thread")]
    Thread(#[source] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether `url` names a PostgreSQL database (the scheme decides the engine).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

enum Job {
    Write(TxFn, TxDone),
    Read(TxFn, TxDone),
}

/// The PostgreSQL [`Store`].
pub struct PgStore {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    workers: Vec<JoinHandle<()>>,
}

/// What a worker needs to (re)connect.
struct Connector {
    config: postgres::Config,
    schema: Option<String>,
}

/// One open connection and the statements prepared on it.
pub(crate) struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// Prepared statements kept per connection; listings build their text from the filters given,
/// so the set is bounded but not tiny.
const MAX_STATEMENTS: usize = 512;

impl Conn {
    pub(crate) fn prepare(&mut self, sql: &str) -> StoreResult<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let stmt = self.client.prepare(sql).map_err(db_error)?;
        if self.statements.len() >= MAX_STATEMENTS {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    pub(crate) fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

impl Connector {
    fn connect(&self) -> StoreResult<Conn> {
        let mut client = self.config.connect(NoTls).map_err(db_error)?;
        if let Some(schema) = &self.schema {
            // The name was checked to be a plain identifier at open; quoting keeps its case.
            client
                .batch_execute(&format!("SET search_path TO \"{schema}\""))
                .map_err(db_error)?;
        }
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }
}

impl PgStore {
    /// Connects, brings the schema up to date (safe when several processes start at once) and
    /// starts the workers.
    pub fn open(options: &PgOptions) -> Result<PgStore, OpenError> {
        if options.pool_size < 2 {
            return Err(OpenError::PoolSize);
        }
        let mut config = postgres::Config::from_str(&options.url).map_err(OpenError::BadUrl)?;
        config.connect_timeout(options.connect_timeout);
        // A peer that vanished without closing the connection (a frozen server, a cut network)
        // must not hold a worker forever: TCP gives up on unacknowledged data after this.
        config.tcp_user_timeout(options.statement_timeout + options.connect_timeout);
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(10));
        let timeout_ms = options.statement_timeout.as_millis().max(1);
        // A transaction left open by a process that stopped mid-way (a frozen replica) holds its
        // row locks until this ends it; long enough for any real transaction of ours.
        let idle_ms = (timeout_ms * 4).max(30_000);
        let mut opts = format!(
            "-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms} \
             -c idle_in_transaction_session_timeout={idle_ms} -c synchronous_commit=on \
             -c TimeZone=UTC"
        );
        if let Some(existing) = config.get_options() {
            opts = format!("{existing} {opts}");
        }
        config.options(&opts);
        config.application_name("ecsd");
        if let Some(schema) = &options.schema {
            let plain = !schema.is_empty()
                && schema.len() <= 63
                && schema
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !plain {
                return Err(OpenError::BadSchema(schema.clone()));
            }
        }
        let connector = Arc::new(Connector {
            config,
            schema: options.schema.clone(),
        });

        let mut first = connector.connect()?;
        schema::migrate(&mut first.client, options.schema.as_deref())?;
        tracing::info!(version = schema::CURRENT_VERSION, "postgres store open");

        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let mut workers = Vec::with_capacity(options.pool_size);
        let mut first = Some(first);
        for n in 0..options.pool_size {
            let receiver = Arc::clone(&receiver);
            let connector = Arc::clone(&connector);
            let conn = first.take();
            let handle = thread::Builder::new()
                .name(format!("ecs-pg-{n}"))
                .spawn(move || worker_loop(&receiver, &connector, conn))
                .map_err(OpenError::Thread)?;
            workers.push(handle);
        }
        Ok(PgStore {
            jobs: Mutex::new(Some(sender)),
            workers,
        })
    }

    fn send(&self, job: Job) {
        let sender = self.jobs.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let refused = match sender {
            Some(sender) => sender.send(job).err().map(|mpsc::SendError(job)| job),
            None => Some(job),
        };
        if let Some(Job::Write(_, done) | Job::Read(_, done)) = refused {
            done(Err(TxError::Store(StoreError::Backend(
                "the postgres store is closed".into(),
            ))));
        }
    }

    fn run_blocking(&self, write: bool, f: TxFn) -> TxResult<Box<dyn Any + Send>> {
        let (reply, answer) = mpsc::sync_channel(1);
        let done: TxDone = Box::new(move |outcome| {
            let _ = reply.send(outcome);
        });
        self.send(if write {
            Job::Write(f, done)
        } else {
            Job::Read(f, done)
        });
        answer.recv().map_err(|_| {
            TxError::Store(StoreError::Backend(
                "a postgres worker stopped without answering".into(),
            ))
        })?
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Closing the queue ends each worker once the queued jobs are done.
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
        let me = thread::current().id();
        for worker in self.workers.drain(..) {
            // The last handle could be dropped by a closure on a worker itself.
            if worker.thread().id() != me {
                let _ = worker.join();
            }
        }
    }
}

impl Store for PgStore {
    fn write_boxed(&self, f: TxFn) -> TxResult<Box<dyn Any + Send>> {
        self.run_blocking(true, f)
    }

    fn submit_write(&self, f: TxFn, done: TxDone) {
        self.send(Job::Write(f, done));
    }

    fn read_boxed(&self, f: TxFn) -> TxResult<Box<dyn Any + Send>> {
        self.run_blocking(false, f)
    }

    fn engine(&self) -> &'static str {
        "postgres"
    }
}

fn worker_loop(
    receiver: &Mutex<mpsc::Receiver<Job>>,
    connector: &Connector,
    mut conn: Option<Conn>,
) {
    loop {
        let job = {
            let queue = receiver.lock().unwrap_or_else(|p| p.into_inner());
            queue.recv()
        };
        let Ok(job) = job else {
            return;
        };
        let (f, done, write) = match job {
            Job::Write(f, done) => (f, done, true),
            Job::Read(f, done) => (f, done, false),
        };
        let outcome = run_transaction(connector, &mut conn, &f, write);
        done(outcome);
    }
}

/// Runs `f` in a transaction on the worker's connection (opening one if needed), retrying
/// conflicts a bounded number of times.
fn run_transaction(
    connector: &Connector,
    conn: &mut Option<Conn>,
    f: &TxFn,
    write: bool,
) -> TxResult<Box<dyn Any + Send>> {
    let mut attempt = 1;
    loop {
        let outcome = attempt_once(connector, conn, f, write);
        match &outcome {
            Err(TxError::Store(StoreError::Unavailable(_))) => {
                // The connection may be the broken part: the next transaction opens a new one.
                *conn = None;
            }
            Err(e) if e.is_conflict() && attempt < MAX_TX_ATTEMPTS => {
                attempt += 1;
                thread::sleep(ecs_store::conflict_pause(attempt));
                continue;
            }
            _ => {}
        }
        return outcome;
    }
}

fn attempt_once(
    connector: &Connector,
    slot: &mut Option<Conn>,
    f: &TxFn,
    write: bool,
) -> TxResult<Box<dyn Any + Send>> {
    let begin = if write {
        "BEGIN ISOLATION LEVEL SERIALIZABLE"
    } else {
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
    };
    // A connection kept from before may have died quietly (the server restarted): one fresh
    // connection is tried before giving up.
    let mut fresh = slot.is_none();
    loop {
        if slot.is_none() {
            *slot = Some(connector.connect()?);
        }
        let Some(conn) = slot.as_mut() else {
            continue;
        };
        match conn.client.batch_execute(begin) {
            Ok(()) => break,
            Err(e) => {
                *slot = None;
                if fresh {
                    return Err(db_error(e).into());
                }
                fresh = true;
            }
        }
    }
    let Some(conn) = slot.as_mut() else {
        return Err(TxError::Store(StoreError::Backend("no connection".into())));
    };
    let mut tx = PgTx::new(conn, write);
    let outcome = match catch_unwind(AssertUnwindSafe(|| f(&mut tx))) {
        Ok(outcome) => outcome,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(%message, write, "store transaction closure panicked");
            Err(TxError::Store(StoreError::Panicked))
        }
    };
    // A statement that failed aborts the whole transaction in PostgreSQL, and COMMIT of an
    // aborted transaction quietly rolls back: a closure that swallowed such an error must not
    // be told it succeeded.
    let failed = tx.take_failure();
    let outcome = match (outcome, failed) {
        (Ok(_), Some(e)) => Err(TxError::Store(e)),
        (outcome, _) => outcome,
    };
    let end = if outcome.is_ok() && write {
        "COMMIT"
    } else {
        "ROLLBACK"
    };
    match conn.client.batch_execute(end) {
        Ok(()) => outcome,
        Err(e) => {
            let e = db_error(e);
            if matches!(e, StoreError::Unavailable(_)) || conn.client.is_closed() {
                *slot = None;
            }
            match outcome {
                // The commit itself failed: nothing was kept.
                Ok(_) => Err(e.into()),
                // Already failing; the rollback's error adds nothing for the caller.
                Err(first) => Err(first),
            }
        }
    }
}

/// Maps a driver error to the store's: serialization failures and deadlocks are conflicts (run
/// again), a lost or unreachable server and timeouts are unavailability, the rest failures.
pub(crate) fn db_error(e: postgres::Error) -> StoreError {
    let text = match e.as_db_error() {
        Some(db) => format!("postgres: {} ({})", db.message(), db.code().code()),
        None => format!("postgres: {e}"),
    };
    match e.code() {
        Some(code)
            if *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            StoreError::Conflict(text)
        }
        Some(code)
            if code.code().starts_with("08")
                || *code == SqlState::QUERY_CANCELED
                || *code == SqlState::LOCK_NOT_AVAILABLE
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || *code == SqlState::TOO_MANY_CONNECTIONS
                || *code == SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT =>
        {
            StoreError::Unavailable(text)
        }
        Some(_) => StoreError::Backend(text),
        // No SQLSTATE: the connection failed (refused, reset, timed out, closed).
        None => StoreError::Unavailable(text),
    }
}
