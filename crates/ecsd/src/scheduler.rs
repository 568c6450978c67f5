//! The lifecycle scheduler: runs every due action from the store's due-time index, each exactly
//! once.
//!
//! Exactly once: a batch of due jobs is read and carried out inside one write transaction, and
//! carrying out an action changes the resource so that the action is no longer in its index
//! (released, renewed to a later date, locked). Writes are serialized by the store, so no two
//! runs can claim the same job. Before acting, each job is checked against the resource's
//! current schedule, so a job made stale by a later setting does nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use ecs_domain::catalog::Catalog;
use ecs_domain::lifecycle::{
    attempt_renewal, expire_host, expire_instance, host_due, instance_due, ActionKind, Due, Outcome,
};
use ecs_domain::model::DedicatedHost;
use ecs_domain::{ApiError, Money};
use ecs_store::{InstanceFilter, Job, NewEvent, Page, ResourceKind, StoreTx, TxResult};
use serde::Serialize;
use serde_json::json;

use crate::app::App;
use crate::ops::release_instance;

/// How many due jobs one transaction carries out. Bigger batches rewrite the pages every
/// transaction touches (the events tail, the counts, index interior pages) less often: the
/// 100,000-release burst took 7.6–8.3 s at 512, 6.2 s at 2,048 and 5.6 s at 8,192. The cost is
/// that an API write waits behind a whole batch (about 0.1 s at 2,048).
const BATCH: u32 = 2048;
/// How often the real-clock scheduler looks for due work. Lateness is at most this plus the
/// time to carry the work out.
const TICK: StdDuration = StdDuration::from_millis(200);

/// How often recorded signature nonces older than the signature window are dropped.
const NONCE_PRUNE_INTERVAL: StdDuration = StdDuration::from_secs(60);

/// One action carried out, as the admin API reports it.
#[derive(Debug, Clone, Serialize)]
pub struct ActionRecord {
    pub resource_type: &'static str,
    pub resource_id: String,
    pub action: &'static str,
    pub scheduled_at: DateTime<Utc>,
    pub happened_at: DateTime<Utc>,
    pub outcome: &'static str,
}

/// Runs every action due at or before `now`, in due order, until none is left.
///
/// Jobs go in batches, one transaction each. If a batch fails, its jobs are retried one per
/// transaction, so one job that cannot be carried out (its failure is recorded as an event and
/// it stays due, to be retried on the next run) does not hold up the others.
///
/// `replay_from` is set when a virtual clock jumped from that time to `now`: an action that fell
/// due inside the jump is recorded as happening at its due time, as it would have with the
/// clock running. Otherwise actions are recorded at the clock's time when carried out, so any
/// lateness shows.
pub fn run_due(
    app: &App,
    now: DateTime<Utc>,
    replay_from: Option<DateTime<Utc>>,
) -> Result<Vec<ActionRecord>, ApiError> {
    let mut done = Vec::new();
    let mut previous_head: Option<Job> = None;
    loop {
        let jobs = app.read(move |tx| Ok(tx.due_jobs(now, BATCH)?))?;
        if jobs.is_empty() {
            return Ok(done);
        }
        // Every carried-out action takes its job out of the index; a head that stays put
        // means the index disagrees with its resource. Stop rather than spin.
        if previous_head.as_ref() == jobs.first() {
            tracing::error!(job = ?jobs[0], "due job made no progress; leaving it for the next run");
            return Ok(done);
        }
        previous_head = jobs.first().cloned();
        if replay_from.is_some() {
            // Inside a jump, calls served meanwhile see the time of the work being done, not
            // the jump's end: nothing still due can then be changed by a call that only a
            // later time would allow (a release time more than three years past the due one),
            // so the jump runs every action as the clock running there would have.
            if let Some(first) = jobs.first() {
                app.clock.move_up_to(first.due_at.min(now));
            }
        }
        match carry_out_all(app, jobs.clone(), replay_from) {
            Ok(records) => done.extend(records),
            Err(e) => {
                tracing::warn!(error = %e, "lifecycle batch failed; retrying its jobs one by one");
                let mut failed = 0;
                for job in jobs {
                    match carry_out_all(app, vec![job.clone()], replay_from) {
                        Ok(records) => done.extend(records),
                        Err(e) => {
                            failed += 1;
                            record_failure(app, &job, &e);
                        }
                    }
                }
                if failed > 0 {
                    // The failed jobs are still due; leave them for the next run rather than
                    // spinning on them now.
                    return Ok(done);
                }
            }
        }
    }
}

/// Carries out `jobs` (earliest first) in one transaction. An action can schedule a new one
/// (a failed renewal plans tomorrow's retry) that falls before the rest of the batch; the
/// batch stops there, and the next one, read afresh from the index, keeps everything in due
/// order.
fn carry_out_all(
    app: &App,
    jobs: Vec<Job>,
    replay_from: Option<DateTime<Utc>>,
) -> Result<Vec<ActionRecord>, ApiError> {
    let catalog = app.catalog.clone();
    let grace = app.expiry_grace;
    let clock_now = app.clock.now();
    app.write(move |tx| {
        let mut records = Vec::with_capacity(jobs.len());
        let mut horizon: Option<DateTime<Utc>> = None;
        for job in &jobs {
            if horizon.is_some_and(|h| job.due_at > h) {
                break;
            }
            let happened_at = match replay_from {
                Some(from) if job.due_at >= from => job.due_at,
                _ => clock_now,
            };
            let (carried, next) = carry_out(tx, job, &catalog, grace, happened_at)?;
            records.extend(carried);
            if let Some(next) = next {
                horizon = Some(horizon.map_or(next, |h| h.min(next)));
            }
        }
        Ok(records)
    })
}

/// A job that keeps failing is retried on every run, but its failure is recorded at most this
/// often, so the event log does not fill with the same line.
const FAILURE_RECORD_INTERVAL: StdDuration = StdDuration::from_secs(60);

fn record_failure(app: &App, job: &Job, error: &ApiError) {
    tracing::error!(resource = %job.resource_id, action = job.kind.as_str(), %error, "lifecycle action failed; it stays due");
    static LAST_RECORDED: OnceLock<Mutex<HashMap<(String, ActionKind), Instant>>> = OnceLock::new();
    {
        let mut last = LAST_RECORDED.get_or_init(Default::default).lock().unwrap();
        let key = (job.resource_id.clone(), job.kind);
        if last
            .get(&key)
            .is_some_and(|at| at.elapsed() < FAILURE_RECORD_INTERVAL)
        {
            return;
        }
        last.insert(key, Instant::now());
    }
    let event = NewEvent {
        account_id: job.account_id,
        resource: job.resource,
        resource_id: job.resource_id.clone(),
        action: job.kind.as_str().to_string(),
        scheduled_at: Some(job.due_at),
        happened_at: app.clock.now(),
        outcome: "failed".into(),
        detail: json!({"error": error.message.as_ref(), "code": error.code.as_ref()}),
    };
    if let Err(e) = app.write(move |tx| Ok(tx.append_event(&event)?)) {
        tracing::error!(error = %e, "could not record the failure either");
    }
}

fn carry_out(
    tx: &mut dyn StoreTx,
    job: &Job,
    catalog: &Catalog,
    grace: Duration,
    happened_at: DateTime<Utc>,
) -> TxResult<(Vec<ActionRecord>, Option<DateTime<Utc>>)> {
    let due = Due {
        kind: job.kind,
        at: job.due_at,
    };
    let (outcome, next) = match job.resource {
        ResourceKind::Instance => {
            let Some(mut instance) = tx.instance(job.account_id, &job.resource_id)? else {
                return Ok((Vec::new(), None));
            };
            if !instance_due(&instance).contains(&due) {
                return Ok((Vec::new(), None));
            }
            match job.kind {
                ActionKind::AutoRelease | ActionKind::ExpiryRelease => {
                    release_instance(
                        tx,
                        &instance,
                        job.kind.as_str(),
                        Some(job.due_at),
                        happened_at,
                    )?;
                    return Ok((vec![record(job, happened_at, "released")], None));
                }
                ActionKind::RenewalAttempt => {
                    let price = catalog
                        .instance_type(&instance.instance_type)
                        .map(|t| t.monthly_price)
                        .unwrap_or(Money::ZERO);
                    let outcome = renew(tx, job, instance.subscription.as_mut(), price)?;
                    tx.put_instance(&instance)?;
                    (outcome, earliest(&instance_due(&instance)))
                }
                ActionKind::Expire => {
                    let o = expire_instance(&mut instance, job.due_at, grace);
                    tx.put_instance(&instance)?;
                    (o, earliest(&instance_due(&instance)))
                }
            }
        }
        ResourceKind::DedicatedHost => {
            let Some(mut host) = tx.host(job.account_id, &job.resource_id)? else {
                return Ok((Vec::new(), None));
            };
            if !host_due(&host).contains(&due) {
                return Ok((Vec::new(), None));
            }
            match job.kind {
                ActionKind::AutoRelease | ActionKind::ExpiryRelease => {
                    let mut carried = release_placed_instances(tx, &host, job, happened_at)?;
                    tx.delete_host(host.account_id, &host.id)?;
                    append_outcome_event(tx, job, happened_at, &Outcome::Released)?;
                    carried.push(record(job, happened_at, Outcome::Released.label()));
                    return Ok((carried, None));
                }
                ActionKind::RenewalAttempt => {
                    let price = catalog
                        .host_type(&host.host_type)
                        .map(|t| t.monthly_price)
                        .unwrap_or(Money::ZERO);
                    let outcome = renew(tx, job, host.subscription.as_mut(), price)?;
                    tx.put_host(&host)?;
                    (outcome, earliest(&host_due(&host)))
                }
                ActionKind::Expire => {
                    let o = expire_host(&mut host, job.due_at, grace);
                    tx.put_host(&host)?;
                    (o, earliest(&host_due(&host)))
                }
            }
        }
    };
    append_outcome_event(tx, job, happened_at, &outcome)?;
    Ok((vec![record(job, happened_at, outcome.label())], next))
}

fn append_outcome_event(
    tx: &mut dyn StoreTx,
    job: &Job,
    happened_at: DateTime<Utc>,
    outcome: &Outcome,
) -> TxResult<()> {
    tx.append_event(&NewEvent {
        account_id: job.account_id,
        resource: job.resource,
        resource_id: job.resource_id.clone(),
        action: job.kind.as_str().to_string(),
        scheduled_at: Some(job.due_at),
        happened_at,
        outcome: outcome.label().to_string(),
        detail: outcome_detail(outcome),
    })?;
    Ok(())
}

/// Releases the instances placed on a host that is being released, under the host's action.
///
/// ReleaseDedicatedHost refuses a host that still has instances (InstanceExist), but a release
/// time is kept whatever runs there ("make sure that you have stopped using these DDHs"). The
/// instances cannot outlive the host they run on; keeping them would leave them pointing at a
/// host that no longer exists.
fn release_placed_instances(
    tx: &mut dyn StoreTx,
    host: &DedicatedHost,
    job: &Job,
    happened_at: DateTime<Utc>,
) -> TxResult<Vec<ActionRecord>> {
    let filter = InstanceFilter {
        account_id: host.account_id,
        host_id: Some(host.id.clone()),
        ..InstanceFilter::default()
    };
    let mut carried = Vec::new();
    let mut after = 0;
    loop {
        let page = tx.list_instances(&filter, Page::After { after, limit: 100 })?;
        for instance in &page.items {
            release_instance(
                tx,
                instance,
                job.kind.as_str(),
                Some(job.due_at),
                happened_at,
            )?;
            carried.push(ActionRecord {
                resource_type: ResourceKind::Instance.as_str(),
                resource_id: instance.id.clone(),
                ..record(job, happened_at, Outcome::Released.label())
            });
        }
        match page.next_after {
            Some(next) => after = next,
            None => return Ok(carried),
        }
    }
}

fn earliest(due: &[Due]) -> Option<DateTime<Utc>> {
    due.iter().map(|d| d.at).min()
}

/// Charges a renewal from the owner's balance at the job's due time.
fn renew(
    tx: &mut dyn StoreTx,
    job: &Job,
    sub: Option<&mut ecs_domain::model::Subscription>,
    monthly_price: Money,
) -> TxResult<Outcome> {
    let Some(sub) = sub else {
        return Ok(Outcome::RenewalFailed {
            price: Money::ZERO,
            balance: Money::ZERO,
            next_attempt: None,
        });
    };
    let balance = tx
        .account(job.account_id)?
        .map(|a| a.balance)
        .unwrap_or(Money::ZERO);
    let (outcome, left) = attempt_renewal(sub, monthly_price, balance, job.due_at);
    if let Some(left) = left {
        tx.set_balance(job.account_id, left)?;
    }
    Ok(outcome)
}

fn outcome_detail(outcome: &Outcome) -> serde_json::Value {
    use ecs_domain::time::format_minute;
    match outcome {
        Outcome::Released => json!({}),
        Outcome::Renewed {
            charged,
            new_expired_time,
        } => json!({"charged": charged, "expired_time": format_minute(*new_expired_time)}),
        Outcome::RenewalFailed {
            price,
            balance,
            next_attempt,
        } => json!({
            "price": price,
            "balance": balance,
            "next_attempt": next_attempt.map(|t| t.to_rfc3339()),
        }),
        Outcome::Locked { release_time } => json!({"release_time": release_time.to_rfc3339()}),
    }
}

fn record(job: &Job, happened_at: DateTime<Utc>, outcome: &'static str) -> ActionRecord {
    ActionRecord {
        resource_type: job.resource.as_str(),
        resource_id: job.resource_id.clone(),
        action: job.kind.as_str(),
        scheduled_at: job.due_at,
        happened_at,
        outcome,
    }
}

/// Catches up on start, then keeps running due work as the clock moves.
pub fn spawn(app: Arc<App>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut nonces_pruned = Instant::now();
        loop {
            if nonces_pruned.elapsed() >= NONCE_PRUNE_INTERVAL {
                nonces_pruned = Instant::now();
                let worker = app.clone();
                let pruned =
                    tokio::task::spawn_blocking(move || worker.forget_old_nonces(Utc::now())).await;
                if let Ok(Err(e)) = pruned {
                    tracing::warn!(error = %e, "could not drop old signature nonces");
                }
            }
            {
                let _guard = app.lifecycle_lock.lock().await;
                let worker = app.clone();
                let result =
                    tokio::task::spawn_blocking(move || run_due(&worker, worker.clock.now(), None))
                        .await;
                match result {
                    Ok(Ok(done)) if !done.is_empty() => {
                        tracing::info!(actions = done.len(), "lifecycle actions carried out")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "scheduler task failed"),
                }
            }
            tokio::time::sleep(TICK).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ServerClock;
    use ecs_domain::lifecycle::new_subscription;
    use ecs_domain::model::{
        ChargeType, Instance, InstanceStatus, LockReason, PeriodUnit, RenewalSettings,
        RenewalStatus,
    };
    use ecs_store::sqlite::SqliteStore;
    use ecs_store::StoreExt;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// Removes a test's database directory when the test ends.
    struct TempDir(std::path::PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn app(start: DateTime<Utc>) -> (Arc<App>, i64, TempDir) {
        let dir = std::env::temp_dir().join(format!(
            "ecsd-scheduler-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let store: Arc<dyn ecs_store::Store> =
            Arc::new(SqliteStore::open(&dir.join("db.sqlite3")).unwrap());
        let account = store.write(|tx| Ok(tx.create_account("t")?.id)).unwrap();
        let app = App::new(
            store,
            ServerClock::virtual_at(start),
            Catalog::builtin(),
            Duration::days(15),
            None,
        );
        (Arc::new(app), account, TempDir(dir))
    }

    fn instance(account: i64, id: &str, now: DateTime<Utc>) -> Instance {
        Instance {
            id: id.into(),
            account_id: account,
            region_id: "cn-hangzhou".into(),
            zone_id: "cn-hangzhou-h".into(),
            name: id.into(),
            description: String::new(),
            instance_type: "ecs.g7.large".into(),
            cpu: 2,
            memory_mib: 8192,
            image_id: "img".into(),
            charge_type: ChargeType::PostPaid,
            status: InstanceStatus::Running,
            creation_time: now,
            start_time: Some(now),
            auto_release_time: None,
            deletion_protection: false,
            subscription: None,
            locks: vec![],
            tags: vec![],
            security_group_ids: vec![],
            vswitch_id: String::new(),
            dedicated_host_id: None,
            stopped_charging: false,
        }
    }

    fn put(app: &App, i: Instance) {
        app.write(move |tx| Ok(tx.put_instance(&i)?)).unwrap();
    }

    fn get(app: &App, account: i64, id: &str) -> Option<Instance> {
        let id = id.to_string();
        app.read(move |tx| Ok(tx.instance(account, &id)?)).unwrap()
    }

    fn advance_to(app: &App, to: DateTime<Utc>) -> Vec<ActionRecord> {
        let from = app.clock.now();
        app.clock.set(to).unwrap();
        run_due(app, to, Some(from)).unwrap()
    }

    #[test]
    fn release_happens_at_the_minute_not_a_second_before() {
        let start = t("2026-01-01T00:00:00Z");
        let (app, acc, _dir) = app(start);
        let mut i = instance(acc, "i-a", start);
        i.auto_release_time = Some(t("2026-01-01T01:00:00Z"));
        i.deletion_protection = true; // protection does not stop auto-release
        put(&app, i);
        assert!(advance_to(&app, t("2026-01-01T00:59:59Z")).is_empty());
        assert!(get(&app, acc, "i-a").is_some());
        let done = advance_to(&app, t("2026-01-01T01:00:00Z"));
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].outcome, "released");
        // Replayed inside a clock jump, it is recorded at its due time.
        assert_eq!(done[0].happened_at, t("2026-01-01T01:00:00Z"));
        assert!(get(&app, acc, "i-a").is_none());
        // Running again finds nothing: the release happened once.
        assert!(run_due(&app, t("2026-01-01T02:00:00Z"), None)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn latest_setting_wins_and_cancel_keeps_the_instance() {
        let start = t("2026-01-01T00:00:00Z");
        let (app, acc, _dir) = app(start);
        let mut i = instance(acc, "i-b", start);
        i.auto_release_time = Some(t("2026-01-01T01:00:00Z"));
        put(&app, i.clone());
        i.auto_release_time = Some(t("2026-01-01T03:00:00Z"));
        put(&app, i.clone());
        assert!(advance_to(&app, t("2026-01-01T02:00:00Z")).is_empty());
        i.auto_release_time = None;
        put(&app, i);
        assert!(advance_to(&app, t("2026-01-02T00:00:00Z")).is_empty());
        assert!(get(&app, acc, "i-b").is_some());
    }

    #[test]
    fn actions_run_in_due_order() {
        let start = t("2026-01-01T00:00:00Z");
        let (app, acc, _dir) = app(start);
        for (id, at) in [("i-3", "03"), ("i-1", "01"), ("i-2", "02")] {
            let mut i = instance(acc, id, start);
            i.auto_release_time = Some(t(&format!("2026-01-01T{at}:00:00Z")));
            put(&app, i);
        }
        let done = advance_to(&app, t("2026-01-01T05:00:00Z"));
        let order: Vec<&str> = done.iter().map(|r| r.resource_id.as_str()).collect();
        assert_eq!(order, ["i-1", "i-2", "i-3"]);
    }

    fn prepaid(acc: i64, id: &str, now: DateTime<Utc>, status: RenewalStatus) -> Instance {
        let mut i = instance(acc, id, now);
        i.charge_type = ChargeType::PrePaid;
        i.subscription = new_subscription(
            now,
            1,
            PeriodUnit::Month,
            RenewalSettings {
                status,
                duration: 1,
                unit: PeriodUnit::Month,
            },
        );
        i
    }

    fn set_balance(app: &App, acc: i64, amount: &str) {
        let m: Money = amount.parse().unwrap();
        app.write(move |tx| Ok(tx.set_balance(acc, m)?)).unwrap();
    }

    fn balance(app: &App, acc: i64) -> Money {
        app.read(move |tx| Ok(tx.account(acc)?.unwrap().balance))
            .unwrap()
    }

    #[test]
    fn renewal_charges_and_extends() {
        let start = t("2026-01-01T10:00:00Z");
        let (app, acc, _dir) = app(start);
        put(&app, prepaid(acc, "i-r", start, RenewalStatus::AutoRenewal));
        set_balance(&app, acc, "100");
        // One second before the first charge slot nothing happens.
        assert!(advance_to(&app, t("2026-01-22T23:59:59Z")).is_empty());
        let done = advance_to(&app, t("2026-01-23T00:00:00Z"));
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].outcome, "renewed");
        // ecs.g7.large: 2 vCPU × 12 a month.
        assert_eq!(balance(&app, acc), "76".parse().unwrap());
        let sub = get(&app, acc, "i-r").unwrap().subscription.unwrap();
        assert_eq!(sub.expired_time, t("2026-03-01T10:00:00Z"));
    }

    #[test]
    fn short_balance_retries_daily_then_locks_then_releases() {
        let start = t("2026-01-01T10:00:00Z");
        let (app, acc, _dir) = app(start);
        put(&app, prepaid(acc, "i-s", start, RenewalStatus::AutoRenewal));
        set_balance(&app, acc, "1");
        let done = advance_to(&app, t("2026-02-01T10:00:00Z"));
        let attempts = done.iter().filter(|r| r.action == "RenewalAttempt").count();
        assert_eq!(attempts, 10, "Jan 23 to Feb 1, daily");
        assert!(done
            .iter()
            .all(|r| r.action != "RenewalAttempt" || r.outcome == "insufficient_balance"));
        assert_eq!(done.last().unwrap().outcome, "locked");
        let i = get(&app, acc, "i-s").unwrap();
        assert_eq!(i.status, InstanceStatus::Stopped);
        assert_eq!(i.locks, vec![LockReason::Financial]);
        assert_eq!(balance(&app, acc), "1".parse().unwrap());
        assert!(advance_to(&app, t("2026-02-16T09:59:59Z")).is_empty());
        let done = advance_to(&app, t("2026-02-16T10:00:00Z"));
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].action, "ExpiryRelease");
        assert!(get(&app, acc, "i-s").is_none());
    }

    #[test]
    fn not_renewal_is_never_charged() {
        let start = t("2026-01-01T10:00:00Z");
        let (app, acc, _dir) = app(start);
        put(&app, prepaid(acc, "i-n", start, RenewalStatus::NotRenewal));
        set_balance(&app, acc, "1000");
        let done = advance_to(&app, t("2026-02-01T10:00:00Z"));
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].outcome, "locked");
        assert_eq!(balance(&app, acc), "1000".parse().unwrap());
    }
}
