//! [`StoreTx`] over one SQLite connection that is already inside a transaction.

use chrono::{DateTime, Utc};
use ecs_domain::lifecycle::{host_due, instance_due, ActionKind, Due};
use ecs_domain::model::{AccessKey, Account, DedicatedHost, Instance, LockReason};
use ecs_domain::Money;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::DbResult;
use crate::{
    Event, HostFilter, IdempotentAnswer, InstanceFilter, Job, Listing, NewEvent, Page,
    ResourceKind, StoreError, StoreResult, StoreTx,
};

/// The transaction handle given to closures. The caller owns BEGIN/COMMIT (or the savepoint);
/// this only runs statements.
pub(super) struct SqliteTx<'c> {
    conn: &'c Connection,
    /// False inside `Store::read`: writes are refused here with a clear error rather than left
    /// to fail on the read-only connection with SQLite's less helpful one.
    writable: bool,
}

impl<'c> SqliteTx<'c> {
    pub(super) fn new(conn: &'c Connection, writable: bool) -> Self {
        Self { conn, writable }
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
    fn list<T: DeserializeOwned>(
        &self,
        table: &str,
        filter: Option<Conditions>,
        page: Page,
    ) -> StoreResult<Listing<T>> {
        let Some(Conditions { sql, mut args }) = filter else {
            return Ok(Listing {
                items: Vec::new(),
                total: 0,
                next_after: None,
            });
        };

        let total: i64 = self
            .conn
            .prepare_cached(&format!("SELECT COUNT(*) FROM {table} WHERE {sql}"))
            .db()?
            .query_row(params_from_iter(args.iter()), |r| r.get(0))
            .db()?;

        // One row more than asked tells whether another page follows without a second query.
        let (limit, query) = match page {
            Page::Offset { offset, limit } => {
                args.push(Value::Integer(i64::from(limit) + 1));
                args.push(Value::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
                (
                    limit,
                    format!(
                        "SELECT seq, data FROM {table} WHERE {sql} ORDER BY seq LIMIT ? OFFSET ?"
                    ),
                )
            }
            Page::After { after, limit } => {
                args.push(Value::Integer(after));
                args.push(Value::Integer(i64::from(limit) + 1));
                (
                    limit,
                    format!(
                        "SELECT seq, data FROM {table} WHERE {sql} AND seq > ? ORDER BY seq LIMIT ?"
                    ),
                )
            }
        };
        let mut stmt = self.conn.prepare_cached(&query).db()?;
        let mut rows = stmt.query(params_from_iter(args.iter())).db()?;
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
        Ok(Listing {
            items,
            total: u64::try_from(total).unwrap_or(0),
            next_after: if more { last_seq } else { None },
        })
    }
}

/// A WHERE clause with its arguments, in order.
struct Conditions {
    sql: String,
    args: Vec<Value>,
}

impl Conditions {
    fn new(account_id: i64) -> Self {
        Conditions {
            sql: "account_id = ?".to_owned(),
            args: vec![Value::Integer(account_id)],
        }
    }

    fn and(&mut self, sql: &str, arg: impl Into<Value>) {
        self.sql.push_str(" AND ");
        self.sql.push_str(sql);
        self.args.push(arg.into());
    }

    fn and_opt(&mut self, column: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.and(&format!("{column} = ?"), v.clone());
        }
    }

    /// `id IN (...)`; false when the list is empty, which must match nothing.
    fn and_ids(&mut self, ids: &Option<Vec<String>>) -> bool {
        let Some(ids) = ids else { return true };
        let mut ids: Vec<&String> = ids.iter().collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return false;
        }
        // A single JSON array argument instead of one placeholder per id: the statement text
        // stays the same whatever the count (so it is cached once) and no count can reach
        // SQLite's limit on bound variables.
        let list = serde_json::Value::from(ids.into_iter().cloned().collect::<Vec<_>>());
        self.and("id IN (SELECT value FROM json_each(?))", list.to_string());
        true
    }
}

fn instance_conditions(f: &InstanceFilter) -> Option<Conditions> {
    let mut c = Conditions::new(f.account_id);
    c.and_opt("region_id", &f.region_id);
    if !c.and_ids(&f.ids) {
        return None;
    }
    c.and_opt("zone_id", &f.zone_id);
    c.and_opt("status", &f.status);
    c.and_opt("host_id", &f.host_id);
    if let Some(charge) = f.charge_type {
        c.and("charge_type = ?", charge.as_str().to_owned());
    }
    if let Some(name) = &f.name {
        if name.contains('*') {
            c.and("name GLOB ?", glob_pattern(name));
        } else {
            c.and("name = ?", name.clone());
        }
    }
    if let Some(reason) = &f.lock_reason {
        // The column is a comma-wrapped list; a comma in the filter could straddle two reasons.
        if reason.is_empty() || reason.contains(',') {
            return None;
        }
        c.and("instr(lock_reasons, ?) > 0", format!(",{reason},"));
    }
    Some(c)
}

fn host_conditions(f: &HostFilter) -> Option<Conditions> {
    let mut c = Conditions::new(f.account_id);
    c.and_opt("region_id", &f.region_id);
    if !c.and_ids(&f.ids) {
        return None;
    }
    c.and_opt("zone_id", &f.zone_id);
    c.and_opt("status", &f.status);
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
            params![
                instance.id,
                instance.account_id,
                instance.region_id,
                instance.zone_id,
                instance.status.as_str(),
                instance.charge_type.as_str(),
                instance.name,
                instance.dedicated_host_id,
                lock_column(&instance.locks),
                data,
            ],
        )?;
        self.reindex(
            ResourceKind::Instance,
            &instance.id,
            instance.account_id,
            &instance_due(instance),
        )
    }

    fn delete_instance(&mut self, account_id: i64, id: &str) -> StoreResult<bool> {
        self.writing("delete_instance")?;
        let gone = self.exec(
            "DELETE FROM instances WHERE id = ?1 AND account_id = ?2",
            params![id, account_id],
        )?;
        if gone == 0 {
            return Ok(false);
        }
        self.drop_jobs(ResourceKind::Instance, id)?;
        Ok(true)
    }

    fn list_instances(
        &mut self,
        filter: &InstanceFilter,
        page: Page,
    ) -> StoreResult<Listing<Instance>> {
        self.list("instances", instance_conditions(filter), page)
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
        self.list("hosts", host_conditions(filter), page)
    }

    fn instances_on_host(&mut self, account_id: i64, host_id: &str) -> StoreResult<u64> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM instances WHERE account_id = ?1 AND host_id = ?2")
            .db()?
            .query_row(params![account_id, host_id], |r| r.get(0))
            .db()?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn due_jobs(&mut self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Job>> {
        let (secs, nanos) = split_time(now);
        // `due_at <= ?1` bounds the index range; the second term only trims the last second.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT resource_kind, resource_id, kind, account_id, due_at, due_ns FROM jobs
                 WHERE due_at <= ?1 AND (due_at < ?1 OR due_ns <= ?2)
                 ORDER BY due_at, due_ns, resource_id, kind
                 LIMIT ?3",
            )
            .db()?;
        let mut rows = stmt.query(params![secs, nanos, limit]).db()?;
        let mut jobs = Vec::new();
        while let Some(row) = rows.next().db()? {
            jobs.push(job_row(row)?);
        }
        Ok(jobs)
    }

    fn next_due(&mut self) -> StoreResult<Option<DateTime<Utc>>> {
        let first: Option<(i64, i64)> = self
            .conn
            .prepare_cached("SELECT due_at, due_ns FROM jobs ORDER BY due_at, due_ns LIMIT 1")
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
        // The AUTOINCREMENT counters are left alone on purpose: seqs handed out before the reset
        // are never reused, so an events cursor or page cursor a client kept stays meaningful.
        for sql in [
            "DELETE FROM instances",
            "DELETE FROM hosts",
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
