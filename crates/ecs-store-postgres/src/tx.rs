//! [`StoreTx`] over one PostgreSQL connection that is already inside a transaction.

use chrono::{DateTime, Utc};
use ecs_domain::lifecycle::{host_due, instance_due, ActionKind, Due};
use ecs_domain::model::{
    post_paid_expired_time, AccessKey, Account, DedicatedHost, Instance, LockReason,
};
use ecs_domain::Money;
use ecs_store::{
    Claim, Event, FieldMatch, HostFilter, IdempotentAnswer, InstanceFilter, Job, Listing, NewEvent,
    Page, ResourceKind, StoreError, StoreResult, StoreTx, TimeRange,
};
use postgres::types::ToSql;
use postgres::Row;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{db_error, Conn};

type Param = Box<dyn ToSql + Sync>;

pub(crate) struct PgTx<'c> {
    conn: &'c mut Conn,
    writable: bool,
    /// The first database error met: after it PostgreSQL refuses every statement until the
    /// transaction ends, and the engine must not report the transaction as committed.
    failure: Option<StoreError>,
    /// Whether a statement ran yet: a REPEATABLE READ transaction takes its snapshot at its
    /// first statement, and [`StoreTx::events_after`] must wait for writers before that.
    started: bool,
}

impl<'c> PgTx<'c> {
    pub(crate) fn new(conn: &'c mut Conn, writable: bool) -> Self {
        Self {
            conn,
            writable,
            failure: None,
            started: false,
        }
    }

    pub(crate) fn take_failure(&mut self) -> Option<StoreError> {
        self.failure.take()
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

    fn note<T>(&mut self, r: Result<T, postgres::Error>) -> StoreResult<T> {
        r.map_err(|e| {
            let e = db_error(e);
            if self.failure.is_none() {
                self.failure = Some(clone_error(&e));
            }
            e
        })
    }

    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<Row>> {
        self.started = true;
        let stmt = match self.conn.prepare(sql) {
            Ok(s) => s,
            Err(e) => {
                if self.failure.is_none() {
                    self.failure = Some(clone_error(&e));
                }
                return Err(e);
            }
        };
        let r = self.conn.client().query(&stmt, params);
        self.note(r)
    }

    fn query_opt(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    fn exec(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        self.started = true;
        let stmt = match self.conn.prepare(sql) {
            Ok(s) => s,
            Err(e) => {
                if self.failure.is_none() {
                    self.failure = Some(clone_error(&e));
                }
                return Err(e);
            }
        };
        let r = self.conn.client().execute(&stmt, params);
        self.note(r)
    }

    /// Removes an instance or a host and its scheduled actions, in one place for both; false
    /// when it was not there.
    fn delete_resource(
        &mut self,
        kind: ResourceKind,
        account_id: i64,
        id: &str,
    ) -> StoreResult<bool> {
        // The table name is chosen here, never taken from a value.
        let (what, sql) = match kind {
            ResourceKind::Instance => (
                "delete_instance",
                "DELETE FROM instances WHERE id = $1 AND account_id = $2",
            ),
            ResourceKind::DedicatedHost => (
                "delete_host",
                "DELETE FROM hosts WHERE id = $1 AND account_id = $2",
            ),
        };
        self.writing(what)?;
        if self.exec(sql, &[&id, &account_id])? == 0 {
            return Ok(false);
        }
        self.exec(
            "DELETE FROM jobs WHERE resource_kind = $1 AND resource_id = $2",
            &[&kind.as_str(), &id],
        )?;
        Ok(true)
    }

    /// Replaces the jobs of one resource with `due`, leaving them (and their claims) alone when
    /// they are unchanged.
    fn reindex(
        &mut self,
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
        let current: Vec<(String, i64, i64, i64)> = self
            .query(
                "SELECT kind, due_at, due_ns, account_id FROM jobs
                 WHERE resource_kind = $1 AND resource_id = $2 ORDER BY kind",
                &[&resource.as_str(), &id],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        if current == wanted {
            return Ok(());
        }
        self.exec(
            "DELETE FROM jobs WHERE resource_kind = $1 AND resource_id = $2",
            &[&resource.as_str(), &id],
        )?;
        for (kind, at, ns, account) in &wanted {
            self.exec(
                "INSERT INTO jobs (resource_kind, resource_id, kind, account_id, due_at, due_ns)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[&resource.as_str(), &id, kind, account, at, ns],
            )?;
        }
        Ok(())
    }

    fn list<T: DeserializeOwned>(
        &mut self,
        table: &str,
        conditions: Option<Conditions>,
        page: Page,
    ) -> StoreResult<Listing<T>> {
        let Some(c) = conditions else {
            return Ok(Listing {
                items: Vec::new(),
                total: 0,
                next_after: None,
            });
        };
        let Conditions { sql, mut args } = c;
        let n = args.len();
        let (limit, page_sql) = match page {
            Page::Offset { offset, limit } => {
                args.push(Box::new(i64::from(limit) + 1));
                args.push(Box::new(i64::try_from(offset).unwrap_or(i64::MAX)));
                (
                    limit,
                    format!(
                        "SELECT seq, data FROM {table} WHERE {sql} ORDER BY seq LIMIT ${} OFFSET ${}",
                        n + 1,
                        n + 2
                    ),
                )
            }
            Page::After { after, limit } => {
                args.push(Box::new(after));
                args.push(Box::new(i64::from(limit) + 1));
                (
                    limit,
                    format!(
                        "SELECT seq, data FROM {table} WHERE {sql} AND seq > ${} ORDER BY seq LIMIT ${}",
                        n + 1,
                        n + 2
                    ),
                )
            }
        };
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref()).collect();
        let rows = self.query(&page_sql, &refs)?;
        let more = rows.len() > limit as usize;
        let mut items = Vec::with_capacity(rows.len().min(limit as usize));
        let mut last_seq = None;
        for row in rows.iter().take(limit as usize) {
            let text: String = row.get(1);
            items.push(from_json(table, &text)?);
            last_seq = Some(row.get::<_, i64>(0));
        }
        let from_start = matches!(
            page,
            Page::Offset { offset: 0, .. } | Page::After { after: 0, .. }
        );
        let total = if from_start && !more {
            items.len() as u64
        } else {
            let count_sql = format!("SELECT COUNT(*) FROM {table} WHERE {sql}");
            let row = self.query(&count_sql, &refs[..n])?;
            let n: i64 = row.first().map(|r| r.get(0)).unwrap_or(0);
            u64::try_from(n).unwrap_or(0)
        };
        Ok(Listing {
            items,
            total,
            next_after: if more { last_seq } else { None },
        })
    }
}

fn clone_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Backend(s) => StoreError::Backend(s.clone()),
        StoreError::Corrupt(s) => StoreError::Corrupt(s.clone()),
        StoreError::Panicked => StoreError::Panicked,
        StoreError::Conflict(s) => StoreError::Conflict(s.clone()),
        StoreError::Unavailable(s) => StoreError::Unavailable(s.clone()),
    }
}

/// A WHERE clause whose values are all bound parameters, numbered in order.
struct Conditions {
    sql: String,
    args: Vec<Param>,
}

impl Conditions {
    fn new(account_id: i64, ids: &Option<Vec<String>>) -> Option<Self> {
        let mut c = Conditions {
            sql: String::new(),
            args: Vec::new(),
        };
        c.sql.push_str("account_id = $1");
        c.args.push(Box::new(account_id));
        if let Some(ids) = ids {
            if ids.is_empty() {
                return None;
            }
            c.and("id = ANY(", ids.clone(), ")");
        }
        Some(c)
    }

    /// Appends ` AND {before}$n{after}` with the value as parameter `n`.
    fn and<T: ToSql + Sync + 'static>(&mut self, before: &str, value: T, after: &str) {
        self.args.push(Box::new(value));
        let n = self.args.len();
        self.sql.push_str(&format!(" AND {before}${n}{after}"));
    }

    fn and_eq(&mut self, column: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.and(&format!("{column} = "), v.clone(), "");
        }
    }

    fn and_lock_reason(&mut self, reason: &Option<String>) {
        if let Some(r) = reason {
            self.and("", r.clone(), " = ANY(lock_reasons)");
        }
    }
}

fn instance_conditions(f: &InstanceFilter) -> Option<Conditions> {
    let mut c = Conditions::new(f.account_id, &f.ids)?;
    c.and_eq("host_id", &f.host_id);
    c.and_eq("region_id", &f.region_id);
    c.and_eq("zone_id", &f.zone_id);
    c.and_eq("status", &f.status);
    if let Some(charge) = f.charge_type {
        c.and("charge_type = ", charge.as_str().to_owned(), "");
    }
    if let Some(name) = &f.name {
        if name.contains('*') {
            c.and("name LIKE ", like_pattern(name), " ESCAPE '\\'");
        } else {
            c.and("name = ", name.clone(), "");
        }
    }
    c.and_lock_reason(&f.lock_reason);
    and_tags(&mut c, &f.tags);
    if let Some(family) = &f.type_family {
        // `ecs.g7` holds `ecs.g7.large`: the type is the family, a dot, and a last part
        // without one; `ecs.t6` holds `ecs.t6-c1m2.large`: the family, a hyphen, and a rest
        // with a size part. A family never has a hyphen itself (`ecs_domain::catalog::family_of`).
        if family.contains('-') {
            return None;
        }
        let len = family.chars().count() as i32;
        c.args.push(Box::new(len + 1));
        c.args.push(Box::new(format!("{family}.")));
        c.args.push(Box::new(format!("{family}-")));
        c.args.push(Box::new(len + 2));
        let n = c.args.len();
        let (cut, dot, hyphen, rest) = (n - 3, n - 2, n - 1, n);
        let ty = "data::jsonb ->> 'instance_type'";
        c.sql.push_str(&format!(
            " AND ((left({ty}, ${cut}) = ${dot} AND strpos(substr({ty}, ${rest}), '.') = 0) \
               OR (left({ty}, ${cut}) = ${hyphen} AND strpos(substr({ty}, ${rest}), '.') > 0))"
        ));
    }
    if !and_fields(&mut c, &f.fields) {
        return None;
    }
    time_bounds(&mut c, "created_min", &f.created);
    time_bounds(&mut c, "expires_min", &f.expires);
    Some(c)
}

/// Tags are only in the JSON, a list of [key, value] pairs; checked on the rows the column
/// conditions leave.
fn and_tags(c: &mut Conditions, tags: &[(String, Option<String>)]) {
    for (key, value) in tags {
        c.and(
            "EXISTS (SELECT 1 FROM jsonb_array_elements(data::jsonb -> 'tags') AS t WHERE t ->> 0 = ",
            key.clone(),
            "",
        );
        if let Some(v) = value {
            c.args.push(Box::new(v.clone()));
            c.sql.push_str(&format!(" AND t ->> 1 = ${}", c.args.len()));
        }
        c.sql.push(')');
    }
}

/// Conditions on JSON fields; false when one can match nothing (no values). The path is a
/// constant of [`ecs_store::DataField`]; the values are one text-array parameter.
fn and_fields(c: &mut Conditions, fields: &[FieldMatch]) -> bool {
    for m in fields {
        if m.values.is_empty() {
            return false;
        }
        let path = m.field.path().join(",");
        if m.field.is_list() {
            c.and(
                &format!(
                    "EXISTS (SELECT 1 FROM jsonb_array_elements_text(\
                     coalesce(data::jsonb #> '{{{path}}}', '[]'::jsonb)) AS f(v) WHERE f.v = ANY("
                ),
                m.values.clone(),
                "))",
            );
        } else {
            c.and(
                &format!(
                    "coalesce(nullif(data::jsonb #>> '{{{path}}}', ''), '{}') = ANY(",
                    m.field.default_value()
                ),
                m.values.clone(),
                ")",
            );
        }
    }
    true
}

fn time_bounds(c: &mut Conditions, column: &str, range: &TimeRange) {
    for (bound, op) in [(range.from, ">="), (range.to, "<=")] {
        if let Some(t) = bound {
            c.and(&format!("{column} {op} "), minute(t), "");
        }
    }
}

fn host_conditions(f: &HostFilter) -> Option<Conditions> {
    let mut c = Conditions::new(f.account_id, &f.ids)?;
    c.and_eq("region_id", &f.region_id);
    c.and_eq("zone_id", &f.zone_id);
    c.and_eq("status", &f.status);
    c.and_eq("name", &f.name);
    c.and_lock_reason(&f.lock_reason);
    and_tags(&mut c, &f.tags);
    if !and_fields(&mut c, &f.fields) {
        return None;
    }
    Some(c)
}

/// A name pattern whose only wildcard is `*`, as a LIKE pattern (case-sensitive in
/// PostgreSQL, like the exact comparison): `%`, `_` and the escape are made literal.
fn like_pattern(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for ch in name.chars() {
        match ch {
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            '*' => out.push('%'),
            _ => out.push(ch),
        }
    }
    out
}

/// Minutes since the epoch: listings compare creation and expiry by the minute, as ECS shows
/// them.
fn minute(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(60)
}

fn lock_list(locks: &[LockReason]) -> Vec<String> {
    locks.iter().map(|l| l.as_str().to_owned()).collect()
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

fn account_row(row: &Row) -> Account {
    Account {
        id: row.get(0),
        name: row.get(1),
        balance: Money::from_units(row.get(2)),
    }
}

fn key_row(row: &Row) -> AccessKey {
    AccessKey {
        id: row.get(0),
        secret: row.get(1),
        account_id: row.get(2),
    }
}

fn job_row(row: &Row) -> StoreResult<Job> {
    let resource: String = row.get(0);
    let kind: String = row.get(2);
    Ok(Job {
        resource: ResourceKind::parse(&resource)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown resource kind {resource:?}")))?,
        resource_id: row.get(1),
        kind: ActionKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown action kind {kind:?}")))?,
        account_id: row.get(3),
        due_at: join_time(row.get(4), row.get(5))?,
    })
}

fn event_row(row: &Row) -> StoreResult<Event> {
    let resource: String = row.get(2);
    let scheduled_at: Option<i64> = row.get(5);
    let scheduled_ns: Option<i64> = row.get(6);
    let detail: String = row.get(10);
    Ok(Event {
        seq: row.get(0),
        event: NewEvent {
            account_id: row.get(1),
            resource: ResourceKind::parse(&resource).ok_or_else(|| {
                StoreError::Corrupt(format!("unknown resource kind {resource:?}"))
            })?,
            resource_id: row.get(3),
            action: row.get(4),
            scheduled_at: match scheduled_at {
                Some(s) => Some(join_time(s, scheduled_ns.unwrap_or(0))?),
                None => None,
            },
            happened_at: join_time(row.get(7), row.get(8))?,
            outcome: row.get(9),
            detail: from_json("event detail", &detail)?,
        },
    })
}

const JOB_COLUMNS: &str = "resource_kind, resource_id, kind, account_id, due_at, due_ns";

impl StoreTx for PgTx<'_> {
    fn create_account(&mut self, name: &str) -> StoreResult<Account> {
        self.writing("create_account")?;
        // DO NOTHING rather than a unique violation: the refusal is an answer, and the
        // transaction stays usable.
        let row = self.query_opt(
            "INSERT INTO accounts (name, balance) VALUES ($1, 0)
             ON CONFLICT (name) DO NOTHING RETURNING id",
            &[&name],
        )?;
        match row {
            Some(row) => Ok(Account {
                id: row.get(0),
                name: name.to_owned(),
                balance: Money::ZERO,
            }),
            None => Err(StoreError::Backend(format!(
                "an account named {name:?} already exists"
            ))),
        }
    }

    fn account(&mut self, id: i64) -> StoreResult<Option<Account>> {
        Ok(self
            .query_opt(
                "SELECT id, name, balance FROM accounts WHERE id = $1",
                &[&id],
            )?
            .map(|r| account_row(&r)))
    }

    fn account_by_name(&mut self, name: &str) -> StoreResult<Option<Account>> {
        Ok(self
            .query_opt(
                "SELECT id, name, balance FROM accounts WHERE name = $1",
                &[&name],
            )?
            .map(|r| account_row(&r)))
    }

    fn set_balance(&mut self, account_id: i64, balance: Money) -> StoreResult<()> {
        self.writing("set_balance")?;
        let changed = self.exec(
            "UPDATE accounts SET balance = $2 WHERE id = $1",
            &[&account_id, &balance.units()],
        )?;
        if changed == 0 {
            return Err(StoreError::Backend(format!("no account {account_id}")));
        }
        Ok(())
    }

    fn put_access_key(&mut self, key: &AccessKey) -> StoreResult<()> {
        self.writing("put_access_key")?;
        self.exec(
            "INSERT INTO access_keys (id, secret, account_id) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET secret = excluded.secret,
                                            account_id = excluded.account_id",
            &[&key.id, &key.secret, &key.account_id],
        )
        .map(drop)
    }

    fn access_key(&mut self, id: &str) -> StoreResult<Option<AccessKey>> {
        Ok(self
            .query_opt(
                "SELECT id, secret, account_id FROM access_keys WHERE id = $1",
                &[&id],
            )?
            .map(|r| key_row(&r)))
    }

    fn access_keys(&mut self) -> StoreResult<Vec<AccessKey>> {
        Ok(self
            .query(
                "SELECT id, secret, account_id FROM access_keys ORDER BY id",
                &[],
            )?
            .iter()
            .map(key_row)
            .collect())
    }

    fn instance(&mut self, account_id: i64, id: &str) -> StoreResult<Option<Instance>> {
        match self.query_opt(
            "SELECT data FROM instances WHERE id = $1 AND account_id = $2",
            &[&id, &account_id],
        )? {
            Some(row) => from_json("instance", &row.get::<_, String>(0)).map(Some),
            None => Ok(None),
        }
    }

    fn put_instance(&mut self, instance: &Instance) -> StoreResult<()> {
        self.writing("put_instance")?;
        let data = to_json("instance", instance)?;
        let expires = instance
            .subscription
            .as_ref()
            .map(|s| s.expired_time)
            .unwrap_or_else(post_paid_expired_time);
        // An upsert keeps the row's seq, so an updated instance keeps its place in listings.
        self.exec(
            "INSERT INTO instances (id, account_id, region_id, zone_id, status, charge_type,
                                    name, host_id, lock_reasons, created_min, expires_min, data)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (id) DO UPDATE SET
                 account_id = excluded.account_id, region_id = excluded.region_id,
                 zone_id = excluded.zone_id, status = excluded.status,
                 charge_type = excluded.charge_type, name = excluded.name,
                 host_id = excluded.host_id, lock_reasons = excluded.lock_reasons,
                 created_min = excluded.created_min, expires_min = excluded.expires_min,
                 data = excluded.data",
            &[
                &instance.id,
                &instance.account_id,
                &instance.region_id,
                &instance.zone_id,
                &instance.status.as_str(),
                &instance.charge_type.as_str(),
                &instance.name,
                &instance.dedicated_host_id,
                &lock_list(&instance.locks),
                &minute(instance.creation_time),
                &minute(expires),
                &data,
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
        self.delete_resource(ResourceKind::Instance, account_id, id)
    }

    fn list_instances(
        &mut self,
        filter: &InstanceFilter,
        page: Page,
    ) -> StoreResult<Listing<Instance>> {
        self.list("instances", instance_conditions(filter), page)
    }

    fn put_disk(&mut self, disk: &ecs_domain::disk::Disk) -> StoreResult<()> {
        self.writing("put_disk")?;
        let data = to_json("disk", disk)?;
        self.exec(
            "INSERT INTO disks (id, account_id, region_id, instance_id, data)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET
                 account_id = excluded.account_id, region_id = excluded.region_id,
                 instance_id = excluded.instance_id, data = excluded.data",
            &[
                &disk.id,
                &disk.account_id,
                &disk.region_id,
                &disk.instance_id,
                &data,
            ],
        )
        .map(drop)
    }

    fn delete_disk(&mut self, account_id: i64, id: &str) -> StoreResult<bool> {
        self.writing("delete_disk")?;
        let gone = self.exec(
            "DELETE FROM disks WHERE id = $1 AND account_id = $2",
            &[&id, &account_id],
        )?;
        Ok(gone > 0)
    }

    fn disks(
        &mut self,
        account_id: i64,
        region_id: Option<&str>,
        instance_id: Option<&str>,
    ) -> StoreResult<Vec<ecs_domain::disk::Disk>> {
        let rows = self.query(
            "SELECT data FROM disks
             WHERE account_id = $1 AND ($2::TEXT IS NULL OR region_id = $2)
               AND ($3::TEXT IS NULL OR instance_id = $3)
             ORDER BY seq",
            &[&account_id, &region_id, &instance_id],
        )?;
        rows.iter()
            .map(|r| from_json("disk", &r.get::<_, String>(0)))
            .collect()
    }

    fn host(&mut self, account_id: i64, id: &str) -> StoreResult<Option<DedicatedHost>> {
        match self.query_opt(
            "SELECT data FROM hosts WHERE id = $1 AND account_id = $2",
            &[&id, &account_id],
        )? {
            Some(row) => from_json("dedicated host", &row.get::<_, String>(0)).map(Some),
            None => Ok(None),
        }
    }

    fn put_host(&mut self, host: &DedicatedHost) -> StoreResult<()> {
        self.writing("put_host")?;
        let data = to_json("dedicated host", host)?;
        self.exec(
            "INSERT INTO hosts (id, account_id, region_id, zone_id, status, charge_type,
                                name, lock_reasons, data)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (id) DO UPDATE SET
                 account_id = excluded.account_id, region_id = excluded.region_id,
                 zone_id = excluded.zone_id, status = excluded.status,
                 charge_type = excluded.charge_type, name = excluded.name,
                 lock_reasons = excluded.lock_reasons, data = excluded.data",
            &[
                &host.id,
                &host.account_id,
                &host.region_id,
                &host.zone_id,
                &host.status.as_str(),
                &host.charge_type.as_str(),
                &host.name,
                &lock_list(&host.locks),
                &data,
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
        self.delete_resource(ResourceKind::DedicatedHost, account_id, id)
    }

    fn list_hosts(
        &mut self,
        filter: &HostFilter,
        page: Page,
    ) -> StoreResult<Listing<DedicatedHost>> {
        self.list("hosts", host_conditions(filter), page)
    }

    fn instances_on_host(&mut self, account_id: i64, host_id: &str) -> StoreResult<u64> {
        let rows = self.query(
            "SELECT COUNT(*) FROM instances WHERE host_id = $2 AND account_id = $1",
            &[&account_id, &host_id],
        )?;
        let n: i64 = rows.first().map(|r| r.get(0)).unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn due_jobs(&mut self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Job>> {
        let (secs, nanos) = split_time(now);
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs
             WHERE due_at <= $1 AND (due_at < $1 OR due_ns <= $2)
             ORDER BY due_at, due_ns, resource_id, kind LIMIT $3"
        );
        self.query(&sql, &[&secs, &nanos, &i64::from(limit)])?
            .iter()
            .map(job_row)
            .collect()
    }

    fn next_due(&mut self) -> StoreResult<Option<DateTime<Utc>>> {
        match self.query_opt(
            "SELECT due_at, due_ns FROM jobs ORDER BY due_at, due_ns LIMIT 1",
            &[],
        )? {
            Some(row) => join_time(row.get(0), row.get(1)).map(Some),
            None => Ok(None),
        }
    }

    fn claim_due_jobs(
        &mut self,
        now: DateTime<Utc>,
        claim: &Claim,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        self.writing("claim_due_jobs")?;
        let (secs, nanos) = split_time(now);
        // SKIP LOCKED: rows another claimer's open transaction is taking are passed over, not
        // waited for, so replicas claiming at once each get different jobs. The lease times are
        // the real clock's, from the caller. A job waits while an earlier one of its resource
        // is in the index, so claimers working side by side still act on one resource in due
        // order.
        let sql = "WITH picked AS (
                 SELECT resource_kind, resource_id, kind FROM jobs
                 WHERE due_at <= $1 AND (due_at < $1 OR due_ns <= $2)
                   AND (claimed_by IS NULL OR lease_until < $4 OR claimed_by = $5)
                   AND NOT EXISTS (SELECT 1 FROM jobs AS e
                       WHERE e.resource_kind = jobs.resource_kind
                         AND e.resource_id = jobs.resource_id
                         AND (e.due_at, e.due_ns, e.kind) < (jobs.due_at, jobs.due_ns, jobs.kind))
                 ORDER BY due_at, due_ns, resource_id, kind
                 LIMIT $3
                 FOR UPDATE SKIP LOCKED)
             UPDATE jobs AS j SET claimed_by = $5, lease_until = $6
             FROM picked AS p
             WHERE j.resource_kind = p.resource_kind AND j.resource_id = p.resource_id
               AND j.kind = p.kind
             RETURNING j.resource_kind, j.resource_id, j.kind, j.account_id, j.due_at, j.due_ns";
        let rows = self.query(
            sql,
            &[
                &secs,
                &nanos,
                &i64::from(limit),
                &claim.real_now.timestamp_millis(),
                &claim.owner,
                &claim.lease_until.timestamp_millis(),
            ],
        )?;
        let mut jobs = rows.iter().map(job_row).collect::<StoreResult<Vec<_>>>()?;
        // RETURNING follows no order; the claimer carries jobs out earliest first.
        jobs.sort_by(|a, b| {
            (a.due_at, &a.resource_id, a.kind.as_str()).cmp(&(
                b.due_at,
                &b.resource_id,
                b.kind.as_str(),
            ))
        });
        Ok(jobs)
    }

    fn holds_claim(&mut self, job: &Job, owner: &str) -> StoreResult<bool> {
        let (at, ns) = split_time(job.due_at);
        Ok(self
            .query_opt(
                "SELECT 1 FROM jobs
                 WHERE resource_kind = $1 AND resource_id = $2 AND kind = $3
                   AND due_at = $4 AND due_ns = $5 AND claimed_by = $6",
                &[
                    &job.resource.as_str(),
                    &job.resource_id,
                    &job.kind.as_str(),
                    &at,
                    &ns,
                    &owner,
                ],
            )?
            .is_some())
    }

    fn finish_claim(&mut self, job: &Job, owner: &str) -> StoreResult<()> {
        self.writing("finish_claim")?;
        let (at, ns) = split_time(job.due_at);
        self.exec(
            "DELETE FROM jobs
             WHERE resource_kind = $1 AND resource_id = $2 AND kind = $3
               AND due_at = $4 AND due_ns = $5 AND claimed_by = $6",
            &[
                &job.resource.as_str(),
                &job.resource_id,
                &job.kind.as_str(),
                &at,
                &ns,
                &owner,
            ],
        )
        .map(drop)
    }

    fn append_event(&mut self, event: &NewEvent) -> StoreResult<i64> {
        self.writing("append_event")?;
        let (happened_at, happened_ns) = split_time(event.happened_at);
        let scheduled = event.scheduled_at.map(split_time);
        let detail = to_json("event detail", &event.detail)?;
        let rows = self.query(
            "INSERT INTO events (account_id, resource_kind, resource_id, action, scheduled_at,
                                 scheduled_ns, happened_at, happened_ns, outcome, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING seq",
            &[
                &event.account_id,
                &event.resource.as_str(),
                &event.resource_id,
                &event.action,
                &scheduled.map(|s| s.0),
                &scheduled.map(|s| s.1),
                &happened_at,
                &happened_ns,
                &event.outcome,
                &detail,
            ],
        )?;
        rows.first()
            .map(|r| r.get(0))
            .ok_or_else(|| StoreError::Backend("INSERT RETURNING gave no row".into()))
    }

    fn events_after(&mut self, after_seq: i64, limit: u32) -> StoreResult<Vec<Event>> {
        // `seq` comes from a sequence when the row is inserted, not when it commits: a writer
        // may take 5, another 6 and commit first. A reader shown 6 alone would continue after
        // 6 and never see 5. Every writer of `events` holds ROW EXCLUSIVE on it from its
        // insert (the lock is taken before the row's default runs) until it ends, and the
        // SHARE lock taken here conflicts with that: it waits for the writers in flight to end
        // (and holds new ones back meanwhile) before the snapshot is taken, so every number
        // handed out so far is either committed and seen, or rolled back for good; later ones
        // are higher than any seen. LOCK TABLE takes no snapshot (the SELECT after it does),
        // and needs a read-write transaction, which a read may still become before its first
        // statement. In a transaction that already read, or one that writes, its snapshot is
        // what it sees.
        if !self.writable && !self.started {
            self.started = true;
            let r = self
                .conn
                .client()
                .batch_execute("SET TRANSACTION READ WRITE; LOCK TABLE events IN SHARE MODE");
            self.note(r)?;
        }
        self.query(
            "SELECT seq, account_id, resource_kind, resource_id, action, scheduled_at,
                    scheduled_ns, happened_at, happened_ns, outcome, detail
             FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after_seq, &i64::from(limit)],
        )?
        .iter()
        .map(event_row)
        .collect()
    }

    fn idempotent_answer(
        &mut self,
        account_id: i64,
        action: &str,
        token: &str,
    ) -> StoreResult<Option<IdempotentAnswer>> {
        match self.query_opt(
            "SELECT fingerprint, response FROM idempotency
             WHERE account_id = $1 AND action = $2 AND token = $3",
            &[&account_id, &action, &token],
        )? {
            Some(row) => Ok(Some(IdempotentAnswer {
                fingerprint: row.get(0),
                response: from_json("remembered response", &row.get::<_, String>(1))?,
            })),
            None => Ok(None),
        }
    }

    fn put_idempotent_answer(
        &mut self,
        account_id: i64,
        action: &str,
        token: &str,
        answer: &IdempotentAnswer,
    ) -> StoreResult<()> {
        self.writing("put_idempotent_answer")?;
        let response = to_json("response", &answer.response)?;
        self.exec(
            "INSERT INTO idempotency (account_id, action, token, fingerprint, response)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (account_id, action, token) DO UPDATE SET
                 fingerprint = excluded.fingerprint, response = excluded.response",
            &[&account_id, &action, &token, &answer.fingerprint, &response],
        )
        .map(drop)
    }

    fn record_nonce(
        &mut self,
        key_id: &str,
        nonce: &str,
        seen_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.claim_nonce(key_id, nonce, seen_at).map(drop)
    }

    fn claim_nonce(
        &mut self,
        key_id: &str,
        nonce: &str,
        seen_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.writing("claim_nonce")?;
        // The primary key decides: of two transactions inserting the same pair, the second
        // waits for the first and then finds the row (or, not seeing it in its snapshot, fails
        // with a serialization error and is run again, finding it then).
        let inserted = self.exec(
            "INSERT INTO nonces (key_id, nonce, seen_at) VALUES ($1, $2, $3)
             ON CONFLICT (key_id, nonce) DO NOTHING",
            &[&key_id, &nonce, &seen_at.timestamp()],
        )?;
        Ok(inserted == 1)
    }

    fn nonces_since(
        &mut self,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, String, DateTime<Utc>)>> {
        self.query(
            "SELECT key_id, nonce, seen_at FROM nonces WHERE seen_at >= $1 ORDER BY seen_at",
            &[&since.timestamp()],
        )?
        .iter()
        .map(|r| {
            let at: i64 = r.get(2);
            let at = DateTime::from_timestamp(at, 0)
                .ok_or_else(|| StoreError::Corrupt(format!("nonce time {at} out of range")))?;
            Ok((r.get(0), r.get(1), at))
        })
        .collect()
    }

    fn forget_nonces_before(&mut self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.writing("forget_nonces_before")?;
        self.exec(
            "DELETE FROM nonces WHERE seen_at < $1",
            &[&before.timestamp()],
        )
    }

    fn try_lead(
        &mut self,
        role: &str,
        owner: &str,
        real_now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.writing("try_lead")?;
        // The primary key makes two owners racing for a free row meet (the second waits, then
        // conflicts under SERIALIZABLE and reruns, finding the first's row); the update's
        // condition leaves a live term of another owner alone, so no row changes.
        let changed = self.exec(
            "INSERT INTO leaders (role, owner, term_until) VALUES ($1, $2, $3)
             ON CONFLICT (role) DO UPDATE SET owner = excluded.owner,
                                              term_until = excluded.term_until
             WHERE leaders.owner = excluded.owner OR leaders.term_until <= $4",
            &[
                &role,
                &owner,
                &until.timestamp_millis(),
                &real_now.timestamp_millis(),
            ],
        )?;
        Ok(changed == 1)
    }

    fn resign(&mut self, role: &str, owner: &str) -> StoreResult<bool> {
        self.writing("resign")?;
        let gone = self.exec(
            "DELETE FROM leaders WHERE role = $1 AND owner = $2",
            &[&role, &owner],
        )?;
        Ok(gone == 1)
    }

    fn setting(&mut self, key: &str) -> StoreResult<Option<String>> {
        Ok(self
            .query_opt("SELECT value FROM settings WHERE key = $1", &[&key])?
            .map(|r| r.get(0)))
    }

    fn put_setting(&mut self, key: &str, value: &str) -> StoreResult<()> {
        self.writing("put_setting")?;
        self.exec(
            "INSERT INTO settings (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )
        .map(drop)
    }

    fn reset(&mut self) -> StoreResult<()> {
        self.writing("reset")?;
        // DELETE, not TRUNCATE: TRUNCATE takes an exclusive lock on each table that would stall
        // every other replica, and is not MVCC-safe for their open snapshots. The sequences
        // are left alone so cursors handed out before stay meaningful.
        for sql in [
            "DELETE FROM instances",
            "DELETE FROM hosts",
            "DELETE FROM disks",
            "DELETE FROM jobs",
            "DELETE FROM events",
            "DELETE FROM idempotency",
            "UPDATE accounts SET balance = 0",
        ] {
            self.exec(sql, &[])?;
        }
        Ok(())
    }
}
