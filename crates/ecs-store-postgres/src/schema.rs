//! The PostgreSQL schema, created and upgraded on open.
//!
//! `ecsd_migrations` lists the versions applied. Opening takes a transaction-scoped advisory
//! lock (released by COMMIT or by the connection dying, so it cannot strand), then applies the
//! missing entries of [`MIGRATIONS`] in that same transaction: replicas starting at once queue
//! on the lock, and the first one's work is what the others find. A crash half way leaves the
//! previous version. A released entry is never edited: a change is a new entry.

use postgres::Client;

use crate::db_error;
use ecs_store::{StoreError, StoreResult};

/// Entry `i` takes a database from version `i` to version `i + 1`.
const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// The first schema.
///
/// Times the store compares (due times, leases, nonces) are integer columns (unix seconds plus
/// nanoseconds, or milliseconds) so that a value comes back exactly as put and no comparison
/// depends on the session's time zone. Resources are kept whole as JSON text in `data` (exactly
/// as serialized), with copies of the filtered fields in columns; the creation and expiry
/// minutes are computed by ecsd when the row is put.
const V1: &str = "
CREATE TABLE accounts (
    id      BIGSERIAL PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    balance BIGINT NOT NULL DEFAULT 0 -- ten-thousandths, Money::units
);

CREATE TABLE access_keys (
    id         TEXT PRIMARY KEY,
    secret     TEXT NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts(id)
);

-- seq is the creation order listings are sorted by (never reused, so Page::After cursors stay
-- valid).
CREATE TABLE instances (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    account_id   BIGINT NOT NULL,
    region_id    TEXT NOT NULL,
    zone_id      TEXT NOT NULL,
    status       TEXT NOT NULL,
    charge_type  TEXT NOT NULL,
    name         TEXT NOT NULL,
    host_id      TEXT,
    lock_reasons TEXT[] NOT NULL,
    created_min  BIGINT NOT NULL,
    expires_min  BIGINT NOT NULL,
    data         TEXT NOT NULL
);
CREATE INDEX instances_by_region ON instances (account_id, region_id, seq);
CREATE INDEX instances_by_account ON instances (account_id, seq);
CREATE INDEX instances_by_host ON instances (host_id) WHERE host_id IS NOT NULL;

CREATE TABLE hosts (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    account_id   BIGINT NOT NULL,
    region_id    TEXT NOT NULL,
    zone_id      TEXT NOT NULL,
    status       TEXT NOT NULL,
    charge_type  TEXT NOT NULL,
    name         TEXT NOT NULL,
    lock_reasons TEXT[] NOT NULL,
    data         TEXT NOT NULL
);
CREATE INDEX hosts_by_region ON hosts (account_id, region_id, seq);

-- The due-time index, with claims: who carries a job out and until when (real unix ms).
CREATE TABLE jobs (
    resource_kind TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    account_id    BIGINT NOT NULL,
    due_at        BIGINT NOT NULL,
    due_ns        BIGINT NOT NULL,
    claimed_by    TEXT,
    lease_until   BIGINT,
    PRIMARY KEY (resource_kind, resource_id, kind)
);
CREATE INDEX jobs_by_due ON jobs (due_at, due_ns, resource_id, kind);

CREATE TABLE events (
    seq           BIGSERIAL PRIMARY KEY,
    account_id    BIGINT NOT NULL,
    resource_kind TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    action        TEXT NOT NULL,
    scheduled_at  BIGINT,
    scheduled_ns  BIGINT,
    happened_at   BIGINT NOT NULL,
    happened_ns   BIGINT NOT NULL,
    outcome       TEXT NOT NULL,
    detail        TEXT NOT NULL
);

CREATE TABLE idempotency (
    account_id  BIGINT NOT NULL,
    action      TEXT NOT NULL,
    token       TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response    TEXT NOT NULL,
    PRIMARY KEY (account_id, action, token)
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Signature nonces: one row per (key, nonce), so two processes cannot both accept one.
CREATE TABLE nonces (
    key_id  TEXT NOT NULL,
    nonce   TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX nonces_by_time ON nonces (seen_at);
";

/// Leader rows (`StoreTx::try_lead`): who leads each role and until when (real unix
/// milliseconds). A row that expires, rather than a session advisory lock: a session lock is
/// tied to one connection, which a pooler may hand to someone else or a reconnect drops.
const V2: &str = "
CREATE TABLE leaders (
    role       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    term_until BIGINT NOT NULL
);
";

/// Disks (issue 14), as in the SQLite engine: whole as JSON, with their lookup columns.
const V3: &str = "
CREATE TABLE disks (
    seq         BIGSERIAL PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    account_id  BIGINT NOT NULL,
    region_id   TEXT NOT NULL,
    instance_id TEXT,
    data        TEXT NOT NULL
);
CREATE INDEX disks_by_account ON disks (account_id, region_id, seq);
CREATE INDEX disks_by_instance ON disks (instance_id) WHERE instance_id IS NOT NULL;
";

/// The schema version this build writes.
pub(crate) const CURRENT_VERSION: i32 = MIGRATIONS.len() as i32;

/// The advisory lock's first key: "ecsd" in ASCII, so it is recognisable in `pg_locks`.
const LOCK_CLASS: i32 = 0x6563_7364;

/// The second key: which schema is being migrated (replicas on different schemas of one
/// database do not wait for each other). FNV-1a, stable across builds.
fn lock_key(schema: &str) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in schema.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    i32::from_ne_bytes(h.to_ne_bytes())
}

/// Brings the database (or `schema` in it) up to [`CURRENT_VERSION`].
pub(crate) fn migrate(client: &mut Client, schema: Option<&str>) -> StoreResult<()> {
    let mut tx = client.transaction().map_err(db_error)?;
    // "already exists, skipping" notices of a second replica are expected, not news.
    tx.batch_execute("SET LOCAL client_min_messages = warning")
        .map_err(db_error)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&LOCK_CLASS, &lock_key(schema.unwrap_or(""))],
    )
    .map_err(db_error)?;
    if let Some(schema) = schema {
        // Checked to be a plain identifier by the caller.
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .map_err(db_error)?;
    }
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS ecsd_migrations (
             version INTEGER PRIMARY KEY,
             note    TEXT NOT NULL
         )",
    )
    .map_err(db_error)?;
    let version: i32 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM ecsd_migrations", &[])
        .map_err(db_error)?
        .get(0);
    if !(0..=CURRENT_VERSION).contains(&version) {
        return Err(StoreError::Backend(format!(
            "database schema version {version} is not one this ecsd knows (0..={CURRENT_VERSION}); \
             it was written by a newer ecsd or is not an ecsd database"
        )));
    }
    for (done, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql).map_err(db_error)?;
        let next = done as i32 + 1;
        tx.execute(
            "INSERT INTO ecsd_migrations (version, note) VALUES ($1, $2)",
            &[&next, &format!("ecsd {}", env!("CARGO_PKG_VERSION"))],
        )
        .map_err(db_error)?;
        tracing::info!(version = next, "postgres schema migrated");
    }
    tx.commit().map_err(db_error)
}
