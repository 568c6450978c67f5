//! The SQLite schema, created and upgraded on open.
//!
//! `PRAGMA user_version` holds how many entries of [`MIGRATIONS`] a database has had applied.
//! Opening applies the missing ones, in order, inside one transaction, so a crash half way leaves
//! the previous version intact. A released entry is never edited: a schema change is a new entry.

use rusqlite::{Connection, TransactionBehavior};

use super::DbResult;
use crate::{StoreError, StoreResult};

/// Entry `i` takes a database from version `i` to version `i + 1`.
const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7, V8];

/// The first schema.
///
/// Times are integer unix seconds (UTC) with a companion nanoseconds column, so that a time
/// comes back exactly as it was put (the scheduler compares a job's due time with the resource's
/// own fields) while the seconds column alone keeps range scans on the due index cheap.
const V1: &str = "
CREATE TABLE accounts (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    name    TEXT NOT NULL UNIQUE,
    balance INTEGER NOT NULL DEFAULT 0 -- ten-thousandths, Money::units
);

CREATE TABLE access_keys (
    id         TEXT PRIMARY KEY,
    secret     TEXT NOT NULL,
    account_id INTEGER NOT NULL REFERENCES accounts(id)
) WITHOUT ROWID;

-- seq is the creation order listings are sorted by; AUTOINCREMENT so that a deleted
-- instance's seq is never handed out again and Page::After cursors stay valid.
-- The scalar columns copy fields of `data` (the whole domain value, JSON) for filtering.
CREATE TABLE instances (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    account_id   INTEGER NOT NULL REFERENCES accounts(id),
    region_id    TEXT NOT NULL,
    zone_id      TEXT NOT NULL,
    status       TEXT NOT NULL,
    charge_type  TEXT NOT NULL,
    name         TEXT NOT NULL,
    host_id      TEXT,
    lock_reasons TEXT NOT NULL, -- ',financial,security,' or '' so instr() finds one reason
    data         TEXT NOT NULL
);
CREATE INDEX instances_by_account ON instances(account_id, seq);
CREATE INDEX instances_by_region ON instances(account_id, region_id, seq);
CREATE INDEX instances_by_host ON instances(account_id, host_id) WHERE host_id IS NOT NULL;

CREATE TABLE hosts (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    account_id   INTEGER NOT NULL REFERENCES accounts(id),
    region_id    TEXT NOT NULL,
    zone_id      TEXT NOT NULL,
    status       TEXT NOT NULL,
    charge_type  TEXT NOT NULL,
    name         TEXT NOT NULL,
    lock_reasons TEXT NOT NULL,
    data         TEXT NOT NULL
);
CREATE INDEX hosts_by_account ON hosts(account_id, seq);
CREATE INDEX hosts_by_region ON hosts(account_id, region_id, seq);

-- The due-time index. resource_kind is part of the key so an instance and a host can never
-- clobber each other's jobs, whatever their ids look like.
CREATE TABLE jobs (
    resource_kind TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    account_id    INTEGER NOT NULL,
    due_at        INTEGER NOT NULL,
    due_ns        INTEGER NOT NULL,
    PRIMARY KEY (resource_kind, resource_id, kind)
) WITHOUT ROWID;
-- Carries the whole ORDER BY of due_jobs, so the scheduler reads the first rows of a range
-- and never sorts or scans the table.
CREATE INDEX jobs_by_due ON jobs(due_at, due_ns, resource_id, kind);

CREATE TABLE events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    INTEGER NOT NULL,
    resource_kind TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    action        TEXT NOT NULL,
    scheduled_at  INTEGER,
    scheduled_ns  INTEGER,
    happened_at   INTEGER NOT NULL,
    happened_ns   INTEGER NOT NULL,
    outcome       TEXT NOT NULL,
    detail        TEXT NOT NULL
);

CREATE TABLE idempotency (
    account_id  INTEGER NOT NULL,
    action      TEXT NOT NULL,
    token       TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response    TEXT NOT NULL,
    PRIMARY KEY (account_id, action, token)
) WITHOUT ROWID;

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
";

/// Listing indexes that carry every filtered column.
///
/// DescribeInstances always names a region, so the region index serves nearly every listing.
/// With only `(account_id, region_id, seq)` in it, any further filter (status, zone, name, ...)
/// and the COUNT(*) for TotalCount had to fetch each candidate row from the table: about 120 ms
/// for one account's 50,000 instances in a 1,000,000-row file. With the filtered columns in the
/// index, SQLite tests them on the index entries and counts without touching the table (about
/// 5 ms), and reads table rows only for the page it returns.
///
/// The host index drops its account column: a host id names one host whatever the account,
/// and lookups by host use it as their only indexed term (see `tx::Conditions`).
const V2: &str = "
DROP INDEX instances_by_region;
CREATE INDEX instances_by_region ON instances(
    account_id, region_id, seq,
    zone_id, status, charge_type, name, host_id, lock_reasons
);
DROP INDEX instances_by_host;
CREATE INDEX instances_by_host ON instances(host_id) WHERE host_id IS NOT NULL;
DROP INDEX hosts_by_region;
CREATE INDEX hosts_by_region ON hosts(account_id, region_id, seq, zone_id, status);
";

/// Instance counts per account and region, kept by triggers.
///
/// DescribeInstances answers every page with the total of matches. With no filter but the
/// region, that is every instance of the account there, and counting them on the index still
/// walks one entry each (a few ms at 100,000): the counter makes it one lookup. AFTER triggers
/// see only what really happened: an upsert that took its UPDATE path fires the update trigger,
/// not the insert one.
const V3: &str = "
CREATE TABLE instance_counts (
    account_id INTEGER NOT NULL,
    region_id  TEXT NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (account_id, region_id)
) WITHOUT ROWID;
INSERT INTO instance_counts (account_id, region_id, n)
    SELECT account_id, region_id, COUNT(*) FROM instances GROUP BY account_id, region_id;
CREATE TRIGGER instance_counts_insert AFTER INSERT ON instances BEGIN
    INSERT INTO instance_counts (account_id, region_id, n)
        VALUES (NEW.account_id, NEW.region_id, 1)
        ON CONFLICT (account_id, region_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER instance_counts_delete AFTER DELETE ON instances BEGIN
    UPDATE instance_counts SET n = n - 1
        WHERE account_id = OLD.account_id AND region_id = OLD.region_id;
END;
CREATE TRIGGER instance_counts_move AFTER UPDATE OF account_id, region_id ON instances
    WHEN OLD.account_id IS NOT NEW.account_id OR OLD.region_id IS NOT NEW.region_id
BEGIN
    UPDATE instance_counts SET n = n - 1
        WHERE account_id = OLD.account_id AND region_id = OLD.region_id;
    INSERT INTO instance_counts (account_id, region_id, n)
        VALUES (NEW.account_id, NEW.region_id, 1)
        ON CONFLICT (account_id, region_id) DO UPDATE SET n = n + 1;
END;
";

/// The counts of V3 are kept by the store's own statements instead of triggers: a statement
/// that fires triggers needs a statement journal inside the writer's group transaction, and
/// opening and closing those was a sixth of the writer's time in a release burst.
const V4: &str = "
DROP TRIGGER instance_counts_insert;
DROP TRIGGER instance_counts_delete;
DROP TRIGGER instance_counts_move;
";

/// Signature nonces of committed writes, with the (real) time each was seen, so a restart does
/// not forget which requests were already carried out. Rows are appended in time order and
/// dropped once out of the signature window, so both indexes grow at their right-hand end.
const V5: &str = "
CREATE TABLE nonces (
    seq     INTEGER PRIMARY KEY,
    key_id  TEXT NOT NULL,
    nonce   TEXT NOT NULL,
    seen_at INTEGER NOT NULL
);
CREATE INDEX nonces_by_time ON nonces(seen_at);
";

/// Claims on due jobs: who is carrying a job out and until when (real unix milliseconds). A job
/// nobody holds has both NULL. See `StoreTx::claim_due_jobs`.
const V6: &str = "
ALTER TABLE jobs ADD COLUMN claimed_by TEXT;
ALTER TABLE jobs ADD COLUMN lease_until INTEGER;
";

/// Leader rows (`StoreTx::try_lead`): who leads each role and until when (real unix
/// milliseconds). One process serves a SQLite file, so it always leads; the table keeps the
/// engines alike.
const V7: &str = "
CREATE TABLE leaders (
    role       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    term_until INTEGER NOT NULL
);
";

/// Disks (issue 14): kept whole as JSON in `data`, with the columns they are looked up by. A
/// disk outlives its instance when it is not deleted with it, so it has a table of its own.
const V8: &str = "
CREATE TABLE disks (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    account_id  INTEGER NOT NULL,
    region_id   TEXT NOT NULL,
    instance_id TEXT,
    data        TEXT NOT NULL
);
CREATE INDEX disks_by_account ON disks(account_id, region_id, seq);
CREATE INDEX disks_by_instance ON disks(instance_id) WHERE instance_id IS NOT NULL;
";

/// The schema version this build writes.
pub(super) const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`CURRENT_VERSION`].
pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    // IMMEDIATE: two processes opening the same fresh file must not both create the tables.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .db()?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .db()?;
    if !(0..=CURRENT_VERSION).contains(&version) {
        return Err(StoreError::Backend(format!(
            "database schema version {version} is not one this ecsd knows (0..={CURRENT_VERSION}); \
             it was written by a newer ecsd or is not an ecsd database"
        )));
    }
    for (done, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql).db()?;
        tx.pragma_update(None, "user_version", done as i64 + 1)
            .db()?;
        tracing::info!(version = done + 1, "sqlite schema migrated");
    }
    tx.commit().db()
}
