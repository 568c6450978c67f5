//! [`StoreTx`] over one SQLite connection that is already inside a transaction.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ecs_domain::lifecycle::{host_due, instance_due, ActionKind, Due};
use ecs_domain::model::{
    post_paid_expired_time, AccessKey, Account, DedicatedHost, Instance, LockReason,
};
use ecs_domain::Money;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::positions::{Anchors, PagePositions, STRIDE};
use super::DbResult;
use crate::{
    Claim, Event, FieldMatch, HostFilter, IdempotentAnswer, InstanceFilter, Job, Listing, NewEvent,
    Page, ResourceKind, StoreError, StoreResult, StoreTx, TimeRange,
};

/// The transaction handle given to closures. The caller owns BEGIN/COMMIT (or the savepoint);
/// this only runs statements.
pub(super) struct SqliteTx<'c> {
    conn: &'c Connection,
    /// False inside `Store::read`: writes are refused here with a clear error rather than left
    /// to fail on the read-only connection with SQLite's less helpful one.
    writable: bool,
    positions: &'c PagePositions,
    /// A read's [`PagePositions`] generation, noted before its snapshot began; `None` in writes
    /// and while a membership change was committing (no anchors then).
    read_generation: Option<u64>,
}

impl<'c> SqliteTx<'c> {
    pub(super) fn read(
        conn: &'c Connection,
        positions: &'c PagePositions,
        generation: Option<u64>,
    ) -> Self {
        Self {
            conn,
            writable: false,
            positions,
            read_generation: generation,
        }
    }

    pub(super) fn write(conn: &'c Connection, positions: &'c PagePositions) -> Self {
        Self {
            conn,
            writable: true,
            positions,
            read_generation: None,
        }
    }

    pub(super) fn is_writable(&self) -> bool {
        self.writable
    }

    fn writing(&self, what: &str) -> StoreResult<()> {
        if self.writable {
            Ok(())
        } else {
            Err(StoreError::Backend(format!(
                "{what} attempted in a read-only transaction"
            )))
        }
    }

    fn exec(&self, sql: &str, args: impl rusqlite::Params) -> StoreResult<usize> {
        self.conn.prepare_cached(sql).db()?.execute(args).db()
    }

    /// Replaces the jobs of one resource with `due`.
    fn reindex(
        &self,
        resource: ResourceKind,
        id: &str,
        account_id: i64,
        due: &[Due],
    ) -> StoreResult<()> {
        let mut wanted: Vec<(String, i64, i64, i64)> = due
            .iter()
            .map(|d| {
                let (at, ns) = split_time(d.at);
                (d.kind.as_str().to_owned(), at, ns, account_id)
            })
            .collect();
        wanted.sort();
        // Most puts leave the schedule alone (renames, stops, tag changes); comparing first
        // saves rewriting the index rows, and their WAL pages, on every such update.
        let current: Vec<(String, i64, i64, i64)> = {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT kind, due_at, due_ns, account_id FROM jobs
                     WHERE resource_kind = ?1 AND resource_id = ?2 ORDER BY kind",
                )
                .db()?;
            let rows = stmt
                .query_map(params![resource.as_str(), id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .db()?;
            rows.collect::<Result<_, _>>().db()?
        };
        if current == wanted {
            return Ok(());
        }
        self.exec(
            "DELETE FROM jobs WHERE resource_kind = ?1 AND resource_id = ?2",
            params![resource.as_str(), id],
        )?;
        for (kind, at, ns, account) in &wanted {
            self.exec(
                "INSERT INTO jobs (resource_kind, resource_id, kind, account_id, due_at, due_ns)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![resource.as_str(), id, kind, account, at, ns],
            )?;
        }
        Ok(())
    }

    fn drop_jobs(&self, resource: ResourceKind, id: &str) -> StoreResult<()> {
        self.exec(
            "DELETE FROM jobs WHERE resource_kind = ?1 AND resource_id = ?2",
            params![resource.as_str(), id],
        )
        .map(drop)
    }

    /// One page of `table` (instances or hosts) matching `filter`, oldest first.
    /// Moves the kept instance count of an account's region by `delta`.
    fn count_instance(&self, account_id: i64, region_id: &str, delta: i64) -> StoreResult<()> {
        // Every insert or delete of an instance passes here: listing anchors go stale.
        self.positions.membership_changing();
        self.exec(
            "INSERT INTO instance_counts (account_id, region_id, n) VALUES (?1, ?2, ?3)
             ON CONFLICT (account_id, region_id) DO UPDATE SET n = n + excluded.n",
            params![account_id, region_id, delta],
        )
        .map(drop)
    }

    fn instance_count(&self, account_id: i64, region_id: &str) -> StoreResult<i64> {
        let n: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT n FROM instance_counts WHERE account_id = ?1 AND region_id = ?2",
            )
            .db()?
            .query_row(params![account_id, region_id], |r| r.get(0))
            .optional()
            .db()?;
        Ok(n.unwrap_or(0))
    }

    fn list<T: DeserializeOwned>(
        &self,
        table: &str,
        filter: Option<Conditions>,
        page: Page,
        counted: Option<i64>,
    ) -> StoreResult<Listing<T>> {
        let Some(conditions) = filter else {
            return Ok(Listing {
                items: Vec::new(),
                total: 0,
                next_after: None,
            });
        };
        let q = listing_sql(table, conditions, page);
        let (items, last_seq, more) = self.page_rows(
            table,
            &q.page,
            params_from_iter(q.page_args.iter()),
            q.limit,
        )?;
        let from_start = matches!(
            page,
            Page::Offset { offset: 0, .. } | Page::After { after: 0, .. }
        );
        let total: i64 = match counted {
            Some(n) => n,
            // A first page that holds every match already is the count (a lookup by a few ids,
            // a small account): no need to count again.
            None if from_start && !more => items.len() as i64,
            None => self
                .conn
                .prepare_cached(&q.count)
                .db()?
                .query_row(params_from_iter(q.count_args.iter()), |r| r.get(0))
                .db()?,
        };
        Ok(Listing {
            items,
            total: u64::try_from(total).unwrap_or(0),
            next_after: if more { last_seq } else { None },
        })
    }
}

impl SqliteTx<'_> {
    /// Runs a listing's page query (`seq, data` rows, asked for one more than `limit`).
    /// Returns the items, the seq of the last one, and whether more rows follow.
    fn page_rows<T: DeserializeOwned>(
        &self,
        table: &str,
        sql: &str,
        args: impl rusqlite::Params,
        limit: u32,
    ) -> StoreResult<(Vec<T>, Option<i64>, bool)> {
        let mut stmt = self.conn.prepare_cached(sql).db()?;
        let mut rows = stmt.query(args).db()?;
        let mut items = Vec::new();
        let mut last_seq = None;
        let mut more = false;
        while let Some(row) = rows.next().db()? {
            if items.len() == limit as usize {
                more = true;
                break;
            }
            let seq: i64 = row.get(0).db()?;
            items.push(decode_data(table, row, 1)?);
            last_seq = Some(seq);
        }
        Ok((items, last_seq, more))
    }

    /// A deep page of a region's unfiltered listing, started from an anchor (see
    /// [`super::positions`]). `None` when anchors cannot be trusted in this snapshot: the caller
    /// then pages with OFFSET.
    fn anchored_instance_page(
        &self,
        account_id: i64,
        region_id: &str,
        offset: u64,
        limit: u32,
        total: i64,
    ) -> StoreResult<Option<Listing<Instance>>> {
        let Some(generation) = self.read_generation else {
            return Ok(None);
        };
        let anchors = match self.positions.anchors(account_id, region_id, generation) {
            Some(anchors) => anchors,
            None => {
                let mut stmt = self.conn.prepare_cached(ANCHOR_SEQS_SQL).db()?;
                let seqs = stmt
                    .query_map(params![account_id, region_id], |r| r.get::<_, i64>(0))
                    .db()?
                    .collect::<Result<Vec<i64>, _>>()
                    .db()?;
                let anchors = Arc::new(Anchors::from_seqs(generation, seqs));
                if !self.positions.unchanged_since(generation) {
                    return Ok(None);
                }
                self.positions
                    .remember(account_id, region_id, anchors.clone());
                anchors
            }
        };
        let (items, last_seq, more) = match anchors.start(offset) {
            Some(start) => self.page_rows(
                "instances",
                ANCHORED_PAGE_SQL,
                params![
                    account_id,
                    region_id,
                    start.from,
                    i64::from(limit) + 1,
                    start.skip as i64
                ],
                limit,
            )?,
            None => (Vec::new(), None, false),
        };
        // Checked after this read's statements ran (the count at least, before this call), so
        // its snapshot is surely in place.
        if !self.positions.unchanged_since(generation) {
            return Ok(None);
        }
        Ok(Some(Listing {
            items,
            total: u64::try_from(total).unwrap_or(0),
            next_after: if more { last_seq } else { None },
        }))
    }
}

/// Every seq of one region in listing order, to build its anchors from.
const ANCHOR_SEQS_SQL: &str =
    "SELECT seq FROM instances WHERE account_id = ?1 AND region_id = ?2 ORDER BY seq";

/// A page that starts at an anchor: the rows from seq `?3` on, skipping `?5` of them.
const ANCHORED_PAGE_SQL: &str = "SELECT seq, data FROM instances
    WHERE account_id = ?1 AND region_id = ?2 AND seq >= ?3
    ORDER BY seq LIMIT ?4 OFFSET ?5";

/// The scheduler's query. `due_at <= ?1` bounds the range scan on `jobs_by_due`, whose order
/// is the ORDER BY, so only the rows returned are read; the second term trims the last second.
const DUE_JOBS_SQL: &str = "
    SELECT resource_kind, resource_id, kind, account_id, due_at, due_ns FROM jobs
    WHERE due_at <= ?1 AND (due_at < ?1 OR due_ns <= ?2)
    ORDER BY due_at, due_ns, resource_id, kind
    LIMIT ?3";

/// The claimer's query: like [`DUE_JOBS_SQL`], skipping jobs under another owner's live claim
/// (`?4`: the real time now, unix milliseconds; `?5`: the claimer, who may take its own unfinished
/// claims again). Claimed jobs sit at the head of the range while they are
/// carried out, so the scan passes over at most the jobs in flight.
const CLAIMABLE_JOBS_SQL: &str = "
    SELECT resource_kind, resource_id, kind, account_id, due_at, due_ns FROM jobs
    WHERE due_at <= ?1 AND (due_at < ?1 OR due_ns <= ?2)
      AND (claimed_by IS NULL OR lease_until < ?4 OR claimed_by = ?5)
      AND NOT EXISTS (SELECT 1 FROM jobs AS e
                      WHERE e.resource_kind = jobs.resource_kind
                        AND e.resource_id = jobs.resource_id
                        AND (e.due_at, e.due_ns, e.kind) < (jobs.due_at, jobs.due_ns, jobs.kind))
    ORDER BY due_at, due_ns, resource_id, kind
    LIMIT ?3";

const CLAIM_JOB_SQL: &str = "UPDATE jobs SET claimed_by = ?4, lease_until = ?5
    WHERE resource_kind = ?1 AND resource_id = ?2 AND kind = ?3";

/// The same job (resource, kind and due time) under this owner's claim.
const CLAIMED_JOB_SQL: &str = "SELECT 1 FROM jobs
    WHERE resource_kind = ?1 AND resource_id = ?2 AND kind = ?3
      AND due_at = ?4 AND due_ns = ?5 AND claimed_by = ?6";

const FINISH_CLAIM_SQL: &str = "DELETE FROM jobs
    WHERE resource_kind = ?1 AND resource_id = ?2 AND kind = ?3
      AND due_at = ?4 AND due_ns = ?5 AND claimed_by = ?6";

const NEXT_DUE_SQL: &str = "SELECT due_at, due_ns FROM jobs ORDER BY due_at, due_ns LIMIT 1";

/// `+account_id` for the reason given at [`Conditions`]: the host index must drive this.
const ON_HOST_SQL: &str = "SELECT COUNT(*) FROM instances WHERE host_id = ?2 AND +account_id = ?1";

/// The statements of one listing: the count of every match, and the page, which asks for one
/// row more than `limit` so that its presence tells whether another page follows.
struct ListingSql {
    count: String,
    count_args: Vec<Value>,
    page: String,
    page_args: Vec<Value>,
    limit: u32,
}

fn listing_sql(table: &str, c: Conditions, page: Page) -> ListingSql {
    let Conditions { sql, args, .. } = c;
    let mut page_args = args.clone();
    let (limit, page_sql) = match page {
        Page::Offset { offset, limit } => {
            page_args.push(Value::Integer(i64::from(limit) + 1));
            page_args.push(Value::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
            (
                limit,
                format!("SELECT seq, data FROM {table} WHERE {sql} ORDER BY seq LIMIT ? OFFSET ?"),
            )
        }
        Page::After { after, limit } => {
            page_args.push(Value::Integer(after));
            page_args.push(Value::Integer(i64::from(limit) + 1));
            (
                limit,
                format!(
                    "SELECT seq, data FROM {table} WHERE {sql} AND seq > ? ORDER BY seq LIMIT ?"
                ),
            )
        }
    };
    ListingSql {
        count: format!("SELECT COUNT(*) FROM {table} WHERE {sql}"),
        count_args: args,
        page: page_sql,
        page_args,
        limit,
    }
}

/// A WHERE clause with its arguments, in order.
///
/// Which index a listing uses is decided here, not left to SQLite's planner: without table
/// statistics it prefers any index that yields rows in `seq` order, so with an id list or a host
/// it would walk the account's whole region index (100,000 entries for a big account: half a
/// second) rather than probe the id or host index for a handful of rows. When the rows are to
/// be found by id or by host, that term comes first and every other column is written `+col`:
/// a unary `+` leaves the value alone but makes the term unusable for an index lookup, so the
/// id or host index is the only way in.
struct Conditions {
    sql: String,
    args: Vec<Value>,
    /// `"+"` when the leading term alone must drive the lookup, else `""`.
    prefix: &'static str,
}

impl Conditions {
    /// The leading terms: the id list or host if given, and the account. `None` when the filter
    /// can match nothing (an explicit empty id list).
    fn new(account_id: i64, ids: &Option<Vec<String>>, host_id: &Option<String>) -> Option<Self> {
        let mut c = Conditions {
            sql: String::new(),
            args: Vec::new(),
            prefix: "",
        };
        if let Some(ids) = ids {
            let mut ids: Vec<&String> = ids.iter().collect();
            ids.sort();
            ids.dedup();
            if ids.is_empty() {
                return None;
            }
            if let [only] = ids[..] {
                // The common lookup of one instance: a plain equality spares setting up the
                // json_each table for a single value.
                c.sql.push_str("id = ?");
                c.args.push(Value::Text(only.clone()));
            } else {
                // One JSON array argument rather than a placeholder per id: the statement text
                // is the same whatever the count (so it is prepared once) and no list can
                // exceed SQLite's limit on bound variables.
                let list = serde_json::Value::from(ids.into_iter().cloned().collect::<Vec<_>>());
                c.sql.push_str("id IN (SELECT value FROM json_each(?))");
                c.args.push(Value::Text(list.to_string()));
            }
            c.prefix = "+";
        } else if let Some(host) = host_id {
            c.sql.push_str("host_id = ?");
            c.args.push(Value::Text(host.clone()));
            c.prefix = "+";
        }
        if c.sql.is_empty() {
            c.sql.push_str("account_id = ?");
            c.args.push(Value::Integer(account_id));
        } else {
            c.and("account_id", "=", account_id);
        }
        Some(c)
    }

    fn and(&mut self, column: &str, op: &str, arg: impl Into<Value>) {
        self.sql
            .push_str(&format!(" AND {}{column} {op} ?", self.prefix));
        self.args.push(arg.into());
    }

    /// Lock reasons are kept as a comma-wrapped list (`,financial,security,`). False when the
    /// filter can match nothing (a comma in it could straddle two reasons).
    fn and_lock_reason(&mut self, reason: &Option<String>) -> bool {
        let Some(reason) = reason else {
            return true;
        };
        if reason.is_empty() || reason.contains(',') {
            return false;
        }
        self.sql.push_str(" AND instr(lock_reasons, ?) > 0");
        self.args.push(Value::Text(format!(",{reason},")));
        true
    }

    fn and_opt(&mut self, column: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.and(column, "=", v.clone());
        }
    }
}

/// The region, when it is the filter's only condition besides the account: then the kept
/// count (`instance_counts`) is the total.
fn region_only(f: &InstanceFilter) -> Option<&str> {
    let InstanceFilter {
        account_id: _,
        region_id,
        ids,
        zone_id,
        status,
        charge_type,
        name,
        lock_reason,
        host_id,
        tags,
        created,
        expires,
        type_family,
        fields,
    } = f;
    let unfiltered = ids.is_none()
        && type_family.is_none()
        && fields.is_empty()
        && zone_id.is_none()
        && status.is_none()
        && charge_type.is_none()
        && name.is_none()
        && lock_reason.is_none()
        && host_id.is_none()
        && tags.is_empty()
        && created.is_open()
        && expires.is_open();
    region_id.as_deref().filter(|_| unfiltered)
}

fn instance_conditions(f: &InstanceFilter) -> Option<Conditions> {
    let mut c = Conditions::new(f.account_id, &f.ids, &f.host_id)?;
    if f.ids.is_some() {
        // With ids leading, the host (if any) is one more plain condition.
        c.and_opt("host_id", &f.host_id);
    }
    c.and_opt("region_id", &f.region_id);
    c.and_opt("zone_id", &f.zone_id);
    c.and_opt("status", &f.status);
    if let Some(charge) = f.charge_type {
        c.and("charge_type", "=", charge.as_str().to_owned());
    }
    if let Some(name) = &f.name {
        if name.contains('*') {
            c.and("name", "GLOB", glob_pattern(name));
        } else {
            c.and("name", "=", name.clone());
        }
    }
    if !c.and_lock_reason(&f.lock_reason) {
        return None;
    }
    and_tags(&mut c, &f.tags);
    if let Some(family) = &f.type_family {
        // `ecs.g7` holds `ecs.g7.large`: the type is the family, a dot, and a last part
        // without one; `ecs.t6` holds `ecs.t6-c1m2.large`: the family, a hyphen, and a rest
        // with a size part. A family never has a hyphen itself (`ecs_domain::catalog::family_of`).
        if family.contains('-') {
            return None;
        }
        let len = family.chars().count() as i64;
        c.sql.push_str(
            " AND ((substr(json_extract(data, '$.instance_type'), 1, ?) = ? \
                    AND instr(substr(json_extract(data, '$.instance_type'), ?), '.') = 0) \
               OR (substr(json_extract(data, '$.instance_type'), 1, ?) = ? \
                    AND instr(substr(json_extract(data, '$.instance_type'), ?), '.') > 0))",
        );
        c.args.push(Value::Integer(len + 1));
        c.args.push(Value::Text(format!("{family}.")));
        c.args.push(Value::Integer(len + 2));
        c.args.push(Value::Integer(len + 1));
        c.args.push(Value::Text(format!("{family}-")));
        c.args.push(Value::Integer(len + 2));
    }
    if !and_fields(&mut c, &f.fields) {
        return None;
    }
    // Like tags, the times live in the JSON; minutes, because answers show them by the minute.
    // A pay-as-you-go instance never expires and shows ECS's conventional far-off date, so
    // that is what its expiry is compared as.
    time_bounds(
        &mut c,
        "unixepoch(json_extract(data, '$.creation_time'))",
        &f.created,
    );
    time_bounds(
        &mut c,
        &format!(
            "coalesce(unixepoch(json_extract(data, '$.subscription.expired_time')), {})",
            post_paid_expired_time().timestamp()
        ),
        &f.expires,
    );
    Some(c)
}

/// Tags live only in the row's JSON (a list of [key, value] pairs); they are checked on the
/// rows the indexed conditions leave.
fn and_tags(c: &mut Conditions, tags: &[(String, Option<String>)]) {
    for (key, value) in tags {
        c.sql.push_str(
            " AND EXISTS (SELECT 1 FROM json_each(data, '$.tags') AS t \
             WHERE json_extract(t.value, '$[0]') = ?",
        );
        c.args.push(Value::Text(key.clone()));
        if let Some(v) = value {
            c.sql.push_str(" AND json_extract(t.value, '$[1]') = ?");
            c.args.push(Value::Text(v.clone()));
        }
        c.sql.push(')');
    }
}

/// Conditions on JSON fields; false when one can match nothing (no values). The path is a
/// constant of [`DataField`]; the values go in as one JSON array argument.
fn and_fields(c: &mut Conditions, fields: &[FieldMatch]) -> bool {
    for m in fields {
        if m.values.is_empty() {
            return false;
        }
        let path = format!("$.{}", m.field.path().join("."));
        let list = serde_json::Value::from(m.values.clone()).to_string();
        if m.field.is_list() {
            c.sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM json_each(data, '{path}') AS f \
                 WHERE f.value IN (SELECT value FROM json_each(?)))"
            ));
        } else {
            c.sql.push_str(&format!(
                " AND coalesce(nullif(json_extract(data, '{path}'), ''), '{}') \
                 IN (SELECT value FROM json_each(?))",
                m.field.default_value()
            ));
        }
        c.args.push(Value::Text(list));
    }
    true
}

fn time_bounds(c: &mut Conditions, seconds: &str, range: &TimeRange) {
    for (bound, op) in [(range.from, ">="), (range.to, "<=")] {
        if let Some(t) = bound {
            c.sql.push_str(&format!(" AND {seconds} / 60 {op} ?"));
            c.args.push(Value::Integer(t.timestamp().div_euclid(60)));
        }
    }
}

fn host_conditions(f: &HostFilter) -> Option<Conditions> {
    let mut c = Conditions::new(f.account_id, &f.ids, &None)?;
    c.and_opt("region_id", &f.region_id);
    c.and_opt("zone_id", &f.zone_id);
    c.and_opt("status", &f.status);
    c.and_opt("name", &f.name);
    if !c.and_lock_reason(&f.lock_reason) {
        return None;
    }
    and_tags(&mut c, &f.tags);
    if !and_fields(&mut c, &f.fields) {
        return None;
    }
    Some(c)
}

/// Turns a name pattern whose only wildcard is `*` into a GLOB pattern. GLOB rather than LIKE
/// because SQLite's LIKE ignores ASCII case, while an exact name filter (`name = ?`) does not:
/// GLOB keeps both forms case-sensitive, as PostgreSQL's LIKE would be. GLOB's other
/// metacharacters, `?` and `[`, are made literal by wrapping them in a one-character class.
pub(super) fn glob_pattern(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for ch in name.chars() {
        match ch {
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            _ => out.push(ch),
        }
    }
    out
}

/// The lock reasons as stored: `,a,b,` so that `instr(lock_reasons, ',a,')` matches exactly one
/// whole reason, or `''` when there are none.
fn lock_column(locks: &[LockReason]) -> String {
    if locks.is_empty() {
        return String::new();
    }
    let mut s = String::from(",");
    for lock in locks {
        s.push_str(lock.as_str());
        s.push(',');
    }
    s
}

fn split_time(t: DateTime<Utc>) -> (i64, i64) {
    (t.timestamp(), i64::from(t.timestamp_subsec_nanos()))
}

fn join_time(secs: i64, nanos: i64) -> StoreResult<DateTime<Utc>> {
    u32::try_from(nanos)
        .ok()
        .and_then(|ns| DateTime::from_timestamp(secs, ns))
        .ok_or_else(|| StoreError::Corrupt(format!("time out of range: {secs}s {nanos}ns")))
}

fn to_json<T: Serialize>(what: &str, value: &T) -> StoreResult<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Backend(format!("cannot encode {what} as JSON: {e}")))
}

fn from_json<T: DeserializeOwned>(what: &str, text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn decode_data<T: DeserializeOwned>(what: &str, row: &Row<'_>, col: usize) -> StoreResult<T> {
    let text: String = row.get(col).db()?;
    from_json(what, &text)
}

fn account_row(row: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: row.get(0)?,
        name: row.get(1)?,
        balance: Money::from_units(row.get(2)?),
    })
}

fn key_row(row: &Row<'_>) -> rusqlite::Result<AccessKey> {
    Ok(AccessKey {
        id: row.get(0)?,
        secret: row.get(1)?,
        account_id: row.get(2)?,
    })
}

fn job_row(row: &Row<'_>) -> StoreResult<Job> {
    let resource: String = row.get(0).db()?;
    let kind: String = row.get(2).db()?;
    Ok(Job {
        resource: ResourceKind::parse(&resource)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown resource kind {resource:?}")))?,
        resource_id: row.get(1).db()?,
        kind: ActionKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown action kind {kind:?}")))?,
        account_id: row.get(3).db()?,
        due_at: join_time(row.get(4).db()?, row.get(5).db()?)?,
    })
}

fn event_row(row: &Row<'_>) -> StoreResult<Event> {
    let resource: String = row.get(2).db()?;
    let scheduled_at: Option<i64> = row.get(5).db()?;
    let scheduled_ns: Option<i64> = row.get(6).db()?;
    let detail: String = row.get(10).db()?;
    Ok(Event {
        seq: row.get(0).db()?,
        event: NewEvent {
            account_id: row.get(1).db()?,
            resource: ResourceKind::parse(&resource).ok_or_else(|| {
                StoreError::Corrupt(format!("unknown resource kind {resource:?}"))
            })?,
            resource_id: row.get(3).db()?,
            action: row.get(4).db()?,
            scheduled_at: match scheduled_at {
                Some(s) => Some(join_time(s, scheduled_ns.unwrap_or(0))?),
                None => None,
            },
            happened_at: join_time(row.get(7).db()?, row.get(8).db()?)?,
            outcome: row.get(9).db()?,
            detail: from_json("event detail", &detail)?,
        },
    })
}

impl StoreTx for SqliteTx<'_> {
    fn create_account(&mut self, name: &str) -> StoreResult<Account> {
        self.writing("create_account")?;
        let taken: bool = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM accounts WHERE name = ?1)")
            .db()?
            .query_row([name], |r| r.get(0))
            .db()?;
        if taken {
            return Err(StoreError::Backend(format!(
                "an account named {name:?} already exists"
            )));
        }
        self.exec(
            "INSERT INTO accounts (name, balance) VALUES (?1, 0)",
            [name],
        )?;
        Ok(Account {
            id: self.conn.last_insert_rowid(),
            name: name.to_owned(),
            balance: Money::ZERO,
        })
    }

    fn account(&mut self, id: i64) -> StoreResult<Option<Account>> {
        self.conn
            .prepare_cached("SELECT id, name, balance FROM accounts WHERE id = ?1")
            .db()?
            .query_row([id], account_row)
            .optional()
            .db()
    }

    fn account_by_name(&mut self, name: &str) -> StoreResult<Option<Account>> {
        self.conn
            .prepare_cached("SELECT id, name, balance FROM accounts WHERE name = ?1")
            .db()?
            .query_row([name], account_row)
            .optional()
            .db()
    }

    fn set_balance(&mut self, account_id: i64, balance: Money) -> StoreResult<()> {
        self.writing("set_balance")?;
        let changed = self.exec(
            "UPDATE accounts SET balance = ?2 WHERE id = ?1",
            params![account_id, balance.units()],
        )?;
        if changed == 0 {
            return Err(StoreError::Backend(format!("no account {account_id}")));
        }
        Ok(())
    }

    fn put_access_key(&mut self, key: &AccessKey) -> StoreResult<()> {
        self.writing("put_access_key")?;
        self.exec(
            "INSERT INTO access_keys (id, secret, account_id) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET secret = excluded.secret,
                                            account_id = excluded.account_id",
            params![key.id, key.secret, key.account_id],
        )
        .map(drop)
    }

    fn access_key(&mut self, id: &str) -> StoreResult<Option<AccessKey>> {
        self.conn
            .prepare_cached("SELECT id, secret, account_id FROM access_keys WHERE id = ?1")
            .db()?
            .query_row([id], key_row)
            .optional()
            .db()
    }

    fn access_keys(&mut self) -> StoreResult<Vec<AccessKey>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, secret, account_id FROM access_keys ORDER BY id")
            .db()?;
        let rows = stmt.query_map([], key_row).db()?;
        rows.collect::<Result<_, _>>().db()
    }

    fn instance(&mut self, account_id: i64, id: &str) -> StoreResult<Option<Instance>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT data FROM instances WHERE id = ?1 AND account_id = ?2")
            .db()?;
        let mut rows = stmt.query(params![id, account_id]).db()?;
        match rows.next().db()? {
            Some(row) => decode_data("instance", row, 0).map(Some),
            None => Ok(None),
        }
    }

    fn put_instance(&mut self, instance: &Instance) -> StoreResult<()> {
        self.writing("put_instance")?;
        let data = to_json("instance", instance)?;
        let locks = lock_column(&instance.locks);
        let (status, charge_type) = (instance.status.as_str(), instance.charge_type.as_str());
        // The row's columns, numbered ?1 to ?10 in both statements below.
        let row: [&dyn rusqlite::ToSql; 10] = [
            &instance.id,
            &instance.account_id,
            &instance.region_id,
            &instance.zone_id,
            &status,
            &charge_type,
            &instance.name,
            &instance.dedicated_host_id,
            &locks,
            &data,
        ];
        let due = instance_due(instance);
        // Most updates change only what no index holds (a release time, renewal settings,
        // protection): then rewriting `data` alone spares every index entry, which an upsert
        // setting all columns would rewrite. The WHERE clause checks that the indexed columns
        // are indeed unchanged; if no row matched, the full upsert below handles it.
        let unchanged_columns = self.exec(
            "UPDATE instances SET data = ?10
             WHERE id = ?1 AND account_id = ?2 AND region_id = ?3 AND zone_id = ?4
               AND status = ?5 AND charge_type = ?6 AND name = ?7 AND host_id IS ?8
               AND lock_reasons = ?9",
            &row[..],
        )?;
        if unchanged_columns == 1 {
            return self.reindex(
                ResourceKind::Instance,
                &instance.id,
                instance.account_id,
                &due,
            );
        }
        let before: Option<(i64, String)> = self
            .conn
            .prepare_cached("SELECT account_id, region_id FROM instances WHERE id = ?1")
            .db()?
            .query_row(params![instance.id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .db()?;
        let placed = (instance.account_id, instance.region_id.clone());
        if before.as_ref() != Some(&placed) {
            if let Some((account, region)) = &before {
                self.count_instance(*account, region, -1)?;
            }
            self.count_instance(instance.account_id, &instance.region_id, 1)?;
        }
        // An upsert, not INSERT OR REPLACE: REPLACE deletes the old row and inserts a new one
        // with a fresh seq, which would move an updated instance to the end of every listing.
        self.exec(
            "INSERT INTO instances (id, account_id, region_id, zone_id, status, charge_type,
                                    name, host_id, lock_reasons, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (id) DO UPDATE SET
                 account_id = excluded.account_id, region_id = excluded.region_id,
                 zone_id = excluded.zone_id, status = excluded.status,
                 charge_type = excluded.charge_type, name = excluded.name,
                 host_id = excluded.host_id, lock_reasons = excluded.lock_reasons,
                 data = excluded.data",
            &row[..],
        )?;
        self.reindex(
            ResourceKind::Instance,
            &instance.id,
            instance.account_id,
            &due,
        )
    }

    fn delete_instance(&mut self, account_id: i64, id: &str) -> StoreResult<bool> {
        self.writing("delete_instance")?;
        let region: Option<String> = self
            .conn
            .prepare_cached(
                "DELETE FROM instances WHERE id = ?1 AND account_id = ?2 RETURNING region_id",
            )
            .db()?
            .query_row(params![id, account_id], |r| r.get(0))
            .optional()
            .db()?;
        let Some(region) = region else {
            return Ok(false);
        };
        self.count_instance(account_id, &region, -1)?;
        self.drop_jobs(ResourceKind::Instance, id)?;
        Ok(true)
    }

    fn list_instances(
        &mut self,
        filter: &InstanceFilter,
        page: Page,
    ) -> StoreResult<Listing<Instance>> {
        let counted = match region_only(filter) {
            Some(region) => {
                let total = self.instance_count(filter.account_id, region)?;
                if let Page::Offset { offset, limit } = page {
                    if offset >= STRIDE {
                        let anchored = self.anchored_instance_page(
                            filter.account_id,
                            region,
                            offset,
                            limit,
                            total,
                        )?;
                        if let Some(listing) = anchored {
                            return Ok(listing);
                        }
                    }
                }
                Some(total)
            }
            None => None,
        };
        self.list("instances", instance_conditions(filter), page, counted)
    }

    fn put_disk(&mut self, disk: &ecs_domain::disk::Disk) -> StoreResult<()> {
        self.writing("put_disk")?;
        let data = to_json("disk", disk)?;
        // An upsert keeps the creation seq, the order listings show.
        self.exec(
            "INSERT INTO disks (id, account_id, region_id, instance_id, data)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET
                 account_id = excluded.account_id, region_id = excluded.region_id,
                 instance_id = excluded.instance_id, data = excluded.data",
            params![
                disk.id,
                disk.account_id,
                disk.region_id,
                disk.instance_id,
                data
            ],
        )
        .map(drop)
    }

    fn delete_disk(&mut self, account_id: i64, id: &str) -> StoreResult<bool> {
        self.writing("delete_disk")?;
        let gone = self.exec(
            "DELETE FROM disks WHERE id = ?1 AND account_id = ?2",
            params![id, account_id],
        )?;
        Ok(gone > 0)
    }

    fn disks(
        &mut self,
        account_id: i64,
        region_id: Option<&str>,
        instance_id: Option<&str>,
    ) -> StoreResult<Vec<ecs_domain::disk::Disk>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT data FROM disks
                 WHERE account_id = ?1 AND (?2 IS NULL OR region_id = ?2)
                   AND (?3 IS NULL OR instance_id = ?3)
                 ORDER BY seq",
            )
            .db()?;
        let mut rows = stmt
            .query(params![account_id, region_id, instance_id])
            .db()?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().db()? {
            out.push(decode_data("disk", row, 0)?);
        }
        Ok(out)
    }

    fn host(&mut self, account_id: i64, id: &str) -> StoreResult<Option<DedicatedHost>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT data FROM hosts WHERE id = ?1 AND account_id = ?2")
            .db()?;
        let mut rows = stmt.query(params![id, account_id]).db()?;
        match rows.next().db()? {
            Some(row) => decode_data("dedicated host", row, 0).map(Some),
            None => Ok(None),
        }
    }

    fn put_host(&mut self, host: &DedicatedHost) -> StoreResult<()> {
        self.writing("put_host")?;
        let data = to_json("dedicated host", host)?;
        // Upsert for the same reason as put_instance: keep the creation seq.
        self.exec(
            "INSERT INTO hosts (id, account_id, region_id, zone_id, status, charge_type,
                                name, lock_reasons, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (id) DO UPDATE SET
                 account_id = excluded.account_id, region_id = excluded.region_id,
                 zone_id = excluded.zone_id, status = excluded.status,
                 charge_type = excluded.charge_type, name = excluded.name,
                 lock_reasons = excluded.lock_reasons, data = excluded.data",
            params![
                host.id,
                host.account_id,
                host.region_id,
                host.zone_id,
                host.status.as_str(),
                host.charge_type.as_str(),
                host.name,
                lock_column(&host.locks),
                data,
            ],
        )?;
        self.reindex(
            ResourceKind::DedicatedHost,
            &host.id,
            host.account_id,
            &host_due(host),
        )
    }

    fn delete_host(&mut self, account_id: i64, id: &str) -> StoreResult<bool> {
        self.writing("delete_host")?;
        let gone = self.exec(
            "DELETE FROM hosts WHERE id = ?1 AND account_id = ?2",
            params![id, account_id],
        )?;
        if gone == 0 {
            return Ok(false);
        }
        self.drop_jobs(ResourceKind::DedicatedHost, id)?;
        Ok(true)
    }

    fn list_hosts(
        &mut self,
        filter: &HostFilter,
        page: Page,
    ) -> StoreResult<Listing<DedicatedHost>> {
        self.list("hosts", host_conditions(filter), page, None)
    }

    fn instances_on_host(&mut self, account_id: i64, host_id: &str) -> StoreResult<u64> {
        let n: i64 = self
            .conn
            .prepare_cached(ON_HOST_SQL)
            .db()?
            .query_row(params![account_id, host_id], |r| r.get(0))
            .db()?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn due_jobs(&mut self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Job>> {
        let (secs, nanos) = split_time(now);
        let mut stmt = self.conn.prepare_cached(DUE_JOBS_SQL).db()?;
        let mut rows = stmt.query(params![secs, nanos, limit]).db()?;
        let mut jobs = Vec::new();
        while let Some(row) = rows.next().db()? {
            jobs.push(job_row(row)?);
        }
        Ok(jobs)
    }

    fn claim_due_jobs(
        &mut self,
        now: DateTime<Utc>,
        claim: &Claim,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        self.writing("claim_due_jobs")?;
        let (secs, nanos) = split_time(now);
        let jobs = {
            let mut stmt = self.conn.prepare_cached(CLAIMABLE_JOBS_SQL).db()?;
            let mut rows = stmt
                .query(params![
                    secs,
                    nanos,
                    limit,
                    claim.real_now.timestamp_millis(),
                    claim.owner
                ])
                .db()?;
            let mut jobs = Vec::new();
            while let Some(row) = rows.next().db()? {
                jobs.push(job_row(row)?);
            }
            jobs
        };
        // The writer is the only one, so nobody can claim these between the read and here.
        let lease = claim.lease_until.timestamp_millis();
        for job in &jobs {
            self.exec(
                CLAIM_JOB_SQL,
                params![
                    job.resource.as_str(),
                    job.resource_id,
                    job.kind.as_str(),
                    claim.owner,
                    lease
                ],
            )?;
        }
        Ok(jobs)
    }

    fn holds_claim(&mut self, job: &Job, owner: &str) -> StoreResult<bool> {
        let (at, ns) = split_time(job.due_at);
        self.conn
            .prepare_cached(CLAIMED_JOB_SQL)
            .db()?
            .query_row(
                params![
                    job.resource.as_str(),
                    job.resource_id,
                    job.kind.as_str(),
                    at,
                    ns,
                    owner
                ],
                |_| Ok(()),
            )
            .optional()
            .db()
            .map(|found| found.is_some())
    }

    fn finish_claim(&mut self, job: &Job, owner: &str) -> StoreResult<()> {
        self.writing("finish_claim")?;
        let (at, ns) = split_time(job.due_at);
        self.exec(
            FINISH_CLAIM_SQL,
            params![
                job.resource.as_str(),
                job.resource_id,
                job.kind.as_str(),
                at,
                ns,
                owner
            ],
        )
        .map(drop)
    }

    fn next_due(&mut self) -> StoreResult<Option<DateTime<Utc>>> {
        let first: Option<(i64, i64)> = self
            .conn
            .prepare_cached(NEXT_DUE_SQL)
            .db()?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .db()?;
        first.map(|(s, ns)| join_time(s, ns)).transpose()
    }

    fn append_event(&mut self, event: &NewEvent) -> StoreResult<i64> {
        self.writing("append_event")?;
        let (happened_at, happened_ns) = split_time(event.happened_at);
        let scheduled = event.scheduled_at.map(split_time);
        self.exec(
            "INSERT INTO events (account_id, resource_kind, resource_id, action, scheduled_at,
                                 scheduled_ns, happened_at, happened_ns, outcome, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                event.account_id,
                event.resource.as_str(),
                event.resource_id,
                event.action,
                scheduled.map(|s| s.0),
                scheduled.map(|s| s.1),
                happened_at,
                happened_ns,
                event.outcome,
                to_json("event detail", &event.detail)?,
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn events_after(&mut self, after_seq: i64, limit: u32) -> StoreResult<Vec<Event>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, account_id, resource_kind, resource_id, action, scheduled_at,
                        scheduled_ns, happened_at, happened_ns, outcome, detail
                 FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .db()?;
        let mut rows = stmt.query(params![after_seq, limit]).db()?;
        let mut events = Vec::new();
        while let Some(row) = rows.next().db()? {
            events.push(event_row(row)?);
        }
        Ok(events)
    }

    fn idempotent_answer(
        &mut self,
        account_id: i64,
        action: &str,
        token: &str,
    ) -> StoreResult<Option<IdempotentAnswer>> {
        let found: Option<(String, String)> = self
            .conn
            .prepare_cached(
                "SELECT fingerprint, response FROM idempotency
                 WHERE account_id = ?1 AND action = ?2 AND token = ?3",
            )
            .db()?
            .query_row(params![account_id, action, token], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .db()?;
        found
            .map(|(fingerprint, response)| {
                Ok(IdempotentAnswer {
                    fingerprint,
                    response: from_json("remembered response", &response)?,
                })
            })
            .transpose()
    }

    fn put_idempotent_answer(
        &mut self,
        account_id: i64,
        action: &str,
        token: &str,
        answer: &IdempotentAnswer,
    ) -> StoreResult<()> {
        self.writing("put_idempotent_answer")?;
        self.exec(
            "INSERT INTO idempotency (account_id, action, token, fingerprint, response)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (account_id, action, token) DO UPDATE SET
                 fingerprint = excluded.fingerprint, response = excluded.response",
            params![
                account_id,
                action,
                token,
                answer.fingerprint,
                to_json("response", &answer.response)?,
            ],
        )
        .map(drop)
    }

    fn record_nonce(
        &mut self,
        key_id: &str,
        nonce: &str,
        seen_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.writing("record_nonce")?;
        self.exec(
            "INSERT INTO nonces (key_id, nonce, seen_at) VALUES (?1, ?2, ?3)",
            params![key_id, nonce, seen_at.timestamp()],
        )
        .map(drop)
    }

    fn claim_nonce(
        &mut self,
        key_id: &str,
        nonce: &str,
        seen_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.writing("claim_nonce")?;
        // One writer: nobody can insert the same pair between this look and the insert.
        let seen: bool = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM nonces WHERE key_id = ?1 AND nonce = ?2)")
            .db()?
            .query_row(params![key_id, nonce], |r| r.get(0))
            .db()?;
        if seen {
            return Ok(false);
        }
        self.record_nonce(key_id, nonce, seen_at)?;
        Ok(true)
    }

    fn nonces_since(
        &mut self,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, String, DateTime<Utc>)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT key_id, nonce, seen_at FROM nonces WHERE seen_at >= ?1 ORDER BY seen_at",
            )
            .db()?;
        let rows = stmt
            .query_map([since.timestamp()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?))
            })
            .db()?;
        rows.map(|row| {
            let (key, nonce, at) = row.db()?;
            let at = DateTime::from_timestamp(at, 0)
                .ok_or_else(|| StoreError::Backend(format!("nonce time {at} out of range")))?;
            Ok((key, nonce, at))
        })
        .collect()
    }

    fn forget_nonces_before(&mut self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.writing("forget_nonces_before")?;
        self.exec(
            "DELETE FROM nonces WHERE seen_at < ?1",
            [before.timestamp()],
        )
        .map(|n| n as u64)
    }

    fn try_lead(
        &mut self,
        role: &str,
        owner: &str,
        real_now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.writing("try_lead")?;
        // The update's condition leaves a live term of another owner alone: no row changes.
        let changed = self.exec(
            "INSERT INTO leaders (role, owner, term_until) VALUES (?1, ?2, ?3)
             ON CONFLICT (role) DO UPDATE SET owner = excluded.owner,
                                              term_until = excluded.term_until
             WHERE leaders.owner = excluded.owner OR leaders.term_until <= ?4",
            params![
                role,
                owner,
                until.timestamp_millis(),
                real_now.timestamp_millis()
            ],
        )?;
        Ok(changed == 1)
    }

    fn resign(&mut self, role: &str, owner: &str) -> StoreResult<bool> {
        self.writing("resign")?;
        let gone = self.exec(
            "DELETE FROM leaders WHERE role = ?1 AND owner = ?2",
            params![role, owner],
        )?;
        Ok(gone == 1)
    }

    fn setting(&mut self, key: &str) -> StoreResult<Option<String>> {
        self.conn
            .prepare_cached("SELECT value FROM settings WHERE key = ?1")
            .db()?
            .query_row([key], |r| r.get(0))
            .optional()
            .db()
    }

    fn put_setting(&mut self, key: &str, value: &str) -> StoreResult<()> {
        self.writing("put_setting")?;
        self.exec(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )
        .map(drop)
    }

    fn reset(&mut self) -> StoreResult<()> {
        self.writing("reset")?;
        self.positions.membership_changing();
        // The AUTOINCREMENT counters are left alone on purpose: seqs handed out before the reset
        // are never reused, so an events cursor or page cursor a client kept stays meaningful.
        for sql in [
            "DELETE FROM instances",
            "DELETE FROM instance_counts",
            "DELETE FROM hosts",
            "DELETE FROM disks",
            "DELETE FROM jobs",
            "DELETE FROM events",
            "DELETE FROM idempotency",
            "UPDATE accounts SET balance = 0",
        ] {
            self.exec(sql, [])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite's own description of how it would run `sql`.
    fn plan(conn: &Connection, sql: &str, args: &[Value]) -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("prepare");
        let rows = stmt
            .query_map(params_from_iter(args.iter()), |r| r.get::<_, String>(3))
            .expect("explain");
        rows.map(|r| r.expect("row"))
            .collect::<Vec<_>>()
            .join(" | ")
    }

    fn schema() -> Connection {
        let mut conn = Connection::open_in_memory().expect("memory db");
        crate::sqlite::schema::migrate(&mut conn).expect("schema");
        conn
    }

    /// Deep pages: building a region's anchors reads only the region index, and a page from an
    /// anchor is a range of that index in seq order (no sort, no walk from the start).
    #[test]
    fn anchored_pages_use_the_region_index() {
        let conn = schema();
        let build = plan(
            &conn,
            ANCHOR_SEQS_SQL,
            &[Value::Integer(1), Value::Text("r".into())],
        );
        assert!(
            build.contains("COVERING INDEX instances_by_region"),
            "{build}"
        );
        assert!(!build.contains("TEMP B-TREE"), "{build}");
        let page = plan(
            &conn,
            ANCHORED_PAGE_SQL,
            &[
                Value::Integer(1),
                Value::Text("r".into()),
                Value::Integer(5000),
                Value::Integer(101),
                Value::Integer(7),
            ],
        );
        assert!(
            page.contains("INDEX instances_by_region (account_id=? AND region_id=? AND seq>?)"),
            "{page}"
        );
        assert!(!page.contains("TEMP B-TREE"), "{page}");
    }

    /// The plans the performance numbers depend on. The planner has no statistics (ecsd never
    /// runs ANALYZE), so these are the plans a large file gets too.
    #[test]
    fn queries_use_the_intended_indexes() {
        let conn = schema();
        let region = InstanceFilter {
            account_id: 1,
            region_id: Some("cn-hangzhou".into()),
            ..Default::default()
        };
        let pages = [
            Page::After {
                after: 10,
                limit: 100,
            },
            Page::Offset {
                offset: 10,
                limit: 100,
            },
        ];
        let cases: Vec<(InstanceFilter, &str, &str)> = vec![
            (
                region.clone(),
                "COVERING INDEX instances_by_region",
                "INDEX instances_by_region",
            ),
            (
                InstanceFilter {
                    zone_id: Some("cn-hangzhou-i".into()),
                    status: Some("Running".into()),
                    charge_type: Some(ecs_domain::model::ChargeType::PrePaid),
                    name: Some("web-*".into()),
                    lock_reason: Some("financial".into()),
                    ..region.clone()
                },
                "COVERING INDEX instances_by_region",
                "INDEX instances_by_region",
            ),
            (
                InstanceFilter {
                    ids: Some(vec!["i-1".into(), "i-2".into()]),
                    status: Some("Running".into()),
                    ..region.clone()
                },
                "sqlite_autoindex_instances_1",
                "sqlite_autoindex_instances_1",
            ),
            (
                InstanceFilter {
                    ids: Some(vec!["i-1".into()]),
                    host_id: Some("dh-1".into()),
                    ..region.clone()
                },
                "sqlite_autoindex_instances_1",
                "sqlite_autoindex_instances_1",
            ),
            (
                InstanceFilter {
                    host_id: Some("dh-1".into()),
                    status: Some("Running".into()),
                    ..region.clone()
                },
                "INDEX instances_by_host",
                "INDEX instances_by_host",
            ),
        ];
        for (filter, count_index, page_index) in cases {
            for page in pages {
                let conditions = instance_conditions(&filter).expect("matches something");
                let q = listing_sql("instances", conditions, page);
                let count = plan(&conn, &q.count, &q.count_args);
                let rows = plan(&conn, &q.page, &q.page_args);
                assert!(count.contains(count_index), "{filter:?}: {count}");
                assert!(rows.contains(page_index), "{filter:?} {page:?}: {rows}");
                if filter.ids.is_none() {
                    // Rows come in seq order straight from the index: no sort of all matches.
                    assert!(!rows.contains("TEMP B-TREE"), "{filter:?} {page:?}: {rows}");
                }
            }
        }

        let hosts = HostFilter {
            account_id: 1,
            region_id: Some("cn-hangzhou".into()),
            status: Some("Available".into()),
            ..Default::default()
        };
        let q = listing_sql("hosts", host_conditions(&hosts).expect("some"), pages[0]);
        assert!(plan(&conn, &q.count, &q.count_args).contains("COVERING INDEX hosts_by_region"));
        assert!(plan(&conn, &q.page, &q.page_args).contains("INDEX hosts_by_region"));

        let due = plan(
            &conn,
            DUE_JOBS_SQL,
            &[Value::Integer(1), Value::Integer(0), Value::Integer(100)],
        );
        assert!(due.contains("INDEX jobs_by_due (due_at<?)"), "{due}");
        assert!(!due.contains("TEMP B-TREE"), "{due}");
        let next = plan(&conn, NEXT_DUE_SQL, &[]);
        assert!(next.contains("COVERING INDEX jobs_by_due"), "{next}");
        let on_host = plan(
            &conn,
            ON_HOST_SQL,
            &[Value::Integer(1), Value::Text("dh-1".into())],
        );
        assert!(
            on_host.contains("INDEX instances_by_host (host_id=?)"),
            "{on_host}"
        );
    }
}
