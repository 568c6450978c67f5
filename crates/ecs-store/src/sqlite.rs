//! The SQLite engine.
//!
//! One file, in WAL mode with `synchronous=FULL`, so a commit is on disk (WAL fsynced) before it
//! is acknowledged and readers never wait for the writer.
//!
//! Writes all go through one writer thread that owns the only read-write connection. Callers
//! hand it their closure over a channel and either block on a reply channel (`write_boxed`) or
//! are called back (`submit_write`). The thread commits in
//! groups: it takes the first queued job, drains whatever else is already waiting, runs every
//! job in its own SAVEPOINT inside one `BEGIN IMMEDIATE` transaction, commits once, and only then
//! answers. A job that fails or panics is rolled back to its savepoint without touching the
//! others. Under load many writes share one fsync; alone, a write still costs exactly one.
//!
//! Reads run on the caller's thread, each on a read-only connection taken from a small pool and
//! inside one `BEGIN DEFERRED` transaction, so a closure sees one consistent snapshot.
//!
//! Deep pages of a region's listing start from positions remembered across reads
//! (the `positions` module), which the writer invalidates when it commits a change of membership.

use std::any::Any;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::{Store, StoreError, StoreResult, TxDone, TxError, TxFn, TxResult, MAX_TX_ATTEMPTS};

/// How many times a group whose COMMIT failed (a full disk, an I/O error) is run again before
/// its callers are told: such a failure rarely clears at once, unlike a conflict.
const COMMIT_ATTEMPTS: u32 = 5;

mod positions;
mod schema;
mod tx;

use positions::PagePositions;
use tx::SqliteTx;

/// At most this many jobs share one transaction, which bounds how long the first of them waits
/// for its answer behind the others.
const MAX_BATCH: usize = 256;
/// Idle read connections kept for reuse; more are opened when more readers run at once.
const MAX_IDLE_READERS: usize = 8;
/// How long a connection waits on a lock before failing with SQLITE_BUSY. With a single writer
/// this only matters for another process on the same file, or a checkpoint racing a reader.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Page cache per connection, in KiB (SQLite takes a negative number as KiB).
const CACHE_KIB: i64 = 32 * 1024;

type Reply = TxResult<Box<dyn Any + Send>>;

struct WriteJob {
    f: TxFn,
    /// Called once with the job's outcome, after its transaction committed (or failed).
    reply: TxDone,
}

/// Counters of the writer thread, to see how well writes are being grouped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Transactions committed.
    pub commits: u64,
    /// Jobs that were part of a committed transaction (kept or rolled back to their savepoint).
    pub jobs: u64,
}

#[derive(Default)]
struct Counters {
    commits: AtomicU64,
    jobs: AtomicU64,
}

struct Writer {
    jobs: mpsc::Sender<WriteJob>,
    thread: JoinHandle<()>,
}

/// The SQLite [`Store`].
pub struct SqliteStore {
    path: PathBuf,
    /// `None` only while dropping.
    writer: Option<Writer>,
    writer_id: ThreadId,
    readers: Mutex<Vec<Connection>>,
    counters: Arc<Counters>,
    positions: Arc<PagePositions>,
}

/// Maps rusqlite's errors into the store's.
pub(crate) trait DbResult<T> {
    fn db(self) -> StoreResult<T>;
}

impl<T> DbResult<T> for rusqlite::Result<T> {
    fn db(self) -> StoreResult<T> {
        self.map_err(|e| match e.sqlite_error_code() {
            // Another connection (an offline command on the same file) held a lock past the
            // busy timeout: nothing was done, and trying again may work.
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Conflict(format!("sqlite: {e}"))
            }
            _ => StoreError::Backend(format!("sqlite: {e}")),
        })
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, brings its schema up to date and starts
    /// the writer thread.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        let mut conn = open_writer(path)?;
        schema::migrate(&mut conn)?;

        // Open one reader now so that a path readers cannot use fails here, not on first read.
        let first_reader = open_reader(path)?;

        let counters = Arc::new(Counters::default());
        let positions = Arc::new(PagePositions::default());
        let (jobs, queue) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("ecs-store-writer".into())
            .spawn({
                let counters = Arc::clone(&counters);
                let positions = Arc::clone(&positions);
                move || writer_loop(conn, queue, &counters, &positions)
            })
            .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;
        tracing::info!(path = %path.display(), version = schema::CURRENT_VERSION, "sqlite store open");
        Ok(SqliteStore {
            path: path.to_owned(),
            writer_id: thread.thread().id(),
            writer: Some(Writer { jobs, thread }),
            readers: Mutex::new(vec![first_reader]),
            counters,
            positions,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Commits and jobs so far; `jobs / commits` is the average group size.
    pub fn write_stats(&self) -> WriteStats {
        WriteStats {
            commits: self.counters.commits.load(Ordering::Relaxed),
            jobs: self.counters.jobs.load(Ordering::Relaxed),
        }
    }

    fn take_reader(&self) -> StoreResult<Connection> {
        // A poisoned lock only means another reader panicked while pushing or popping; the
        // vector itself is still a valid list of connections.
        let idle = self
            .readers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            None => open_reader(&self.path),
        }
    }

    fn give_back_reader(&self, conn: Connection) {
        let mut idle = self
            .readers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Readers first, so that the writer's connection is the last one on the file: closing
        // the last connection checkpoints the WAL, which a read-only one cannot do.
        self.readers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
        if let Some(Writer { jobs, thread }) = self.writer.take() {
            // Closing the channel ends the writer loop once the queued jobs are done.
            drop(jobs);
            // The last handle could in principle be dropped by a closure on the writer thread
            // itself; joining there would wait forever.
            if thread::current().id() != self.writer_id {
                let _ = thread.join();
            }
        }
    }
}

impl Store for SqliteStore {
    fn write_boxed(&self, f: TxFn) -> TxResult<Box<dyn Any + Send>> {
        if thread::current().id() == self.writer_id {
            // A write from inside a write closure would wait for itself.
            return Err(TxError::Store(StoreError::Backend(
                "nested write transaction".into(),
            )));
        }
        let (reply, answer) = mpsc::sync_channel(1);
        self.submit_write(
            f,
            Box::new(move |outcome| {
                let _ = reply.send(outcome);
            }),
        );
        answer.recv().map_err(|_| writer_gone())?
    }

    fn submit_write(&self, f: TxFn, done: TxDone) {
        if thread::current().id() == self.writer_id {
            return done(Err(TxError::Store(StoreError::Backend(
                "nested write transaction".into(),
            ))));
        }
        let Some(writer) = self.writer.as_ref() else {
            return done(Err(TxError::Store(writer_gone())));
        };
        if let Err(mpsc::SendError(job)) = writer.jobs.send(WriteJob { f, reply: done }) {
            (job.reply)(Err(TxError::Store(writer_gone())));
        }
    }

    fn read_boxed(&self, f: TxFn) -> TxResult<Box<dyn Any + Send>> {
        let conn = self.take_reader()?;
        // Noted before the snapshot begins (see `positions`).
        let generation = self.positions.stable_generation();
        control(&conn, "BEGIN DEFERRED").db()?;
        let outcome = run_guarded(&f, &mut SqliteTx::read(&conn, &self.positions, generation));
        // Nothing to keep from a read; ROLLBACK just ends the snapshot. A connection that
        // cannot end it is not put back.
        if control(&conn, "ROLLBACK").is_ok() && conn.is_autocommit() {
            self.give_back_reader(conn);
        }
        outcome
    }

    fn engine(&self) -> &'static str {
        "sqlite"
    }
}

fn writer_gone() -> StoreError {
    StoreError::Backend("the sqlite writer thread has stopped".into())
}

/// Settings every connection gets.
fn configure(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT).db()?;
    // Statement journals (a statement that fires the counting triggers keeps one so it can be
    // undone alone) and sorter spills stay in memory instead of temp files: under a release
    // burst those file writes were a fifth of the writer's time.
    conn.pragma_update(None, "temp_store", "MEMORY").db()?;
    conn.pragma_update(None, "cache_size", -CACHE_KIB).db()?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// The read-write connection the writer thread owns, with the settings that make an
/// acknowledged commit durable.
fn open_writer(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path).db()?;
    configure(&conn)?;
    // WAL is a property of the file; setting it is a no-op when it is already on. The pragma
    // answers with the mode now in force, which is not WAL where the VFS cannot do it.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .db()?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "{} cannot use WAL journaling (got {mode})",
            path.display()
        )));
    }
    // FULL: in WAL mode NORMAL may lose the last commits on power loss; an acknowledged
    // write must not be lost.
    conn.pragma_update(None, "synchronous", "FULL").db()?;
    // On macOS plain fsync does not flush the drive's cache; F_FULLFSYNC does. Elsewhere
    // these two are no-ops.
    conn.pragma_update(None, "fullfsync", true).db()?;
    conn.pragma_update(None, "checkpoint_fullfsync", true)
        .db()?;
    // A checkpoint leaves the WAL file at its largest size; cap what it keeps after a big
    // batch (a reset, a bulk load) so the disk space comes back.
    conn.pragma_update(None, "journal_size_limit", 64i64 * 1024 * 1024)
        .db()?;
    conn.pragma_update(None, "foreign_keys", true).db()?;
    // Zero the bytes a delete or an update frees instead of leaving them in the page: a
    // value replaced in place (an access-key secret sealed by ecsd's migration) must not
    // stay readable in the file. FAST does it where it costs no extra I/O.
    conn.pragma_update(None, "secure_delete", "FAST").db()?;
    // The commit that takes the WAL past this many pages copies them into the database file
    // before it returns (SQLite's default is 1,000). Under random single-row writes a
    // checkpoint was a fifth of the writer's time; a longer WAL lets one checkpoint write a
    // page rewritten by many commits once, and it halved that share. The WAL then peaks near
    // 40 MiB and `journal_size_limit` trims it back after the checkpoint.
    conn.pragma_update(None, "wal_autocheckpoint", 10_000)
        .db()?;
    Ok(conn)
}

fn open_reader(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )
    .db()?;
    configure(&conn)?;
    Ok(conn)
}

/// Runs a closure against `conn`, turning a panic into [`StoreError::Panicked`].
fn run_guarded(f: &TxFn, tx: &mut SqliteTx<'_>) -> Reply {
    // AssertUnwindSafe: after a panic the only state we reuse is the connection, and the caller
    // rolls it back (to the savepoint, or the whole read) before anything else sees it.
    let writable = tx.is_writable();
    match catch_unwind(AssertUnwindSafe(|| f(tx))) {
        Ok(outcome) => outcome,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(%message, writable, "store transaction closure panicked");
            Err(TxError::Store(StoreError::Panicked))
        }
    }
}

fn writer_loop(
    conn: Connection,
    queue: mpsc::Receiver<WriteJob>,
    counters: &Counters,
    positions: &PagePositions,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = VecDeque::from([first]);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push_back(job),
                Err(_) => break,
            }
        }
        run_batch(&conn, batch, counters, positions);
        // Committed or rolled back: either way membership is settled.
        positions.settled();
    }
    // Every sender is gone: the store was dropped. The connection closes here, which also
    // checkpoints the WAL into the main file.
}

/// How one job inside a group transaction ended.
enum JobEnd {
    /// The transaction is still good; the reply says whether the job's writes were kept.
    Done(Reply),
    /// The enclosing transaction can no longer be committed (SQLite rolled it back, or a
    /// savepoint statement failed); the string says why.
    Broken(String),
}

fn run_batch(
    conn: &Connection,
    mut pending: VecDeque<WriteJob>,
    counters: &Counters,
    positions: &PagePositions,
) {
    // Normally one pass. If the group transaction breaks part way or its commit fails, nothing
    // of it was kept; its jobs are run again in a fresh transaction (transaction bodies are
    // `Fn` for this), up to MAX_TX_ATTEMPTS times, and only then answered with the failure.
    let mut attempt = 1;
    while !pending.is_empty() {
        if let Err(e) = control(conn, "BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "cannot begin a write transaction");
            for job in pending.drain(..) {
                (job.reply)(Err(TxError::Store(StoreError::Backend(format!(
                    "cannot begin a write transaction: {e}"
                )))));
            }
            recover(conn);
            return;
        }

        let mut ran: Vec<(WriteJob, Reply)> = Vec::with_capacity(pending.len());
        let mut broken = None;
        while let Some(job) = pending.pop_front() {
            match run_job(conn, positions, &job.f) {
                JobEnd::Done(outcome) => ran.push((job, outcome)),
                JobEnd::Broken(why) => {
                    ran.push((job, Err(TxError::Store(StoreError::Backend(why.clone())))));
                    broken = Some(why);
                    break;
                }
            }
        }

        let committed = match broken {
            Some(why) => Err(why),
            None => control(conn, "COMMIT").map_err(|e| e.to_string()),
        };
        match committed {
            Ok(()) => {
                counters.commits.fetch_add(1, Ordering::Relaxed);
                counters.jobs.fetch_add(ran.len() as u64, Ordering::Relaxed);
                // Only now, with the commit durable, does anyone learn their write succeeded.
                for (job, outcome) in ran {
                    (job.reply)(outcome);
                }
                attempt = 1;
            }
            Err(why) => {
                tracing::error!(error = %why, jobs = ran.len(), attempt, "write transaction failed");
                recover(conn);
                if attempt < COMMIT_ATTEMPTS {
                    attempt += 1;
                    // Nothing was kept: the same jobs go first into the next transaction.
                    for (job, _) in ran.into_iter().rev() {
                        pending.push_front(job);
                    }
                    continue;
                }
                for (job, _) in ran {
                    (job.reply)(Err(TxError::Store(StoreError::Backend(format!(
                        "write transaction failed, nothing was kept: {why}"
                    )))));
                }
                attempt = 1;
            }
        }
    }
}

/// Makes sure no transaction is left open after a failure, so the next batch can begin.
fn recover(conn: &Connection) {
    if !conn.is_autocommit() {
        if let Err(e) = control(conn, "ROLLBACK") {
            tracing::error!(error = %e, "cannot roll back a failed write transaction");
        }
    }
}

fn run_job(conn: &Connection, positions: &PagePositions, f: &TxFn) -> JobEnd {
    let mut attempt = 1;
    loop {
        if let Err(e) = control(conn, "SAVEPOINT job") {
            return JobEnd::Broken(format!("cannot open a savepoint: {e}"));
        }
        let outcome = run_guarded(f, &mut SqliteTx::write(conn, positions));
        // Some errors (disk full, I/O errors) make SQLite roll the whole transaction back by
        // itself, taking the earlier jobs of the group with it.
        if conn.is_autocommit() {
            let cause = match &outcome {
                Err(TxError::Store(e)) => format!(": {e}"),
                _ => String::new(),
            };
            return JobEnd::Broken(format!("the write transaction was rolled back{cause}"));
        }
        let end = match outcome {
            Ok(_) => control(conn, "RELEASE job"),
            Err(_) => control(conn, "ROLLBACK TO job").and_then(|()| control(conn, "RELEASE job")),
        };
        if let Err(e) = end {
            return JobEnd::Broken(format!("cannot end a savepoint: {e}"));
        }
        // A body that met a conflict changed nothing (it was rolled back to its savepoint);
        // run it again, a bounded number of times.
        match outcome {
            Err(e) if e.is_conflict() && attempt < MAX_TX_ATTEMPTS => attempt += 1,
            outcome => return JobEnd::Done(outcome),
        }
    }
}

/// Runs a transaction-control statement (BEGIN, COMMIT, SAVEPOINT, ...) from the connection's
/// statement cache: a read pays BEGIN and ROLLBACK on every request, and parsing them again each
/// time was measurable.
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

#[cfg(test)]
mod tests {
    use super::tx::glob_pattern;
    use super::*;

    /// The writer's connection is the one every acknowledged write is committed on: it must
    /// fsync the WAL at each commit (`synchronous=FULL`, 2). NORMAL (1) in WAL mode may lose the
    /// last commits on power loss while a kill -9 test still passes, so it is pinned here.
    #[test]
    fn the_writer_connection_commits_with_synchronous_full_in_wal_mode() {
        let dir =
            std::env::temp_dir().join(format!("ecs-store-writer-pragmas-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conn = open_writer(&dir.join("db.sqlite3")).expect("open the writer connection");
        let pragma = |name: &str| -> String {
            conn.query_row(&format!("PRAGMA {name}"), [], |r| {
                r.get::<_, rusqlite::types::Value>(0).map(|v| match v {
                    rusqlite::types::Value::Integer(n) => n.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    other => format!("{other:?}"),
                })
            })
            .unwrap()
        };
        assert_eq!(pragma("synchronous"), "2", "synchronous must be FULL (2)");
        assert_eq!(pragma("journal_mode"), "wal");
        assert_eq!(pragma("fullfsync"), "1");
        assert_eq!(pragma("checkpoint_fullfsync"), "1");
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn glob_pattern_keeps_only_star_as_wildcard() {
        assert_eq!(glob_pattern("web-*"), "web-*");
        assert_eq!(glob_pattern("a?b[c]*"), "a[?]b[[]c]*");
        assert_eq!(glob_pattern("100%_x"), "100%_x");
    }
}
