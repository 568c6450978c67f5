//! The scheduler over a real SQLite store, with a virtual clock: releases at their minute, in
//! due order, renewals, expiry; and claims that keep every due action exactly once with
//! several claimers at work on one store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ecs_domain::catalog::Catalog;
use ecs_domain::lifecycle::new_subscription;
use ecs_domain::model::{
    ChargeType, Instance, InstanceStatus, LockReason, PeriodUnit, RenewalSettings, RenewalStatus,
};
use ecs_domain::Money;
use ecs_scheduler::Scheduler;
use ecs_service::clock::{store_time, VIRTUAL_NOW_SETTING};
use ecs_service::{ActionRecord, LifecycleClock, Service};
use ecs_store::sqlite::SqliteStore;
use ecs_store::testsuite::sample_instance;
use ecs_store::{Store, StoreExt};

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

struct World {
    store: Arc<dyn Store>,
    service: Arc<Service>,
    scheduler: Arc<Scheduler>,
    account: i64,
    _dir: TempDir,
}

fn world(start: DateTime<Utc>) -> World {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ecs-scheduler-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("db.sqlite3")).unwrap());
    let account = store
        .write(move |tx| {
            store_time(tx, VIRTUAL_NOW_SETTING, start)?;
            Ok(tx.create_account("t")?.id)
        })
        .unwrap();
    let clock = LifecycleClock::open_virtual(store.clone()).unwrap();
    let service = Arc::new(Service::new(
        store.clone(),
        clock,
        Catalog::builtin(),
        Duration::days(15),
    ));
    let scheduler = Arc::new(Scheduler::new(service.clone()));
    World {
        store,
        service,
        scheduler,
        account,
        _dir: TempDir(dir),
    }
}

impl World {
    fn instance(&self, id: &str) -> Instance {
        let mut i = sample_instance(self.account, id);
        i.charge_type = ChargeType::PostPaid;
        i.subscription = None;
        i.auto_release_time = None;
        i
    }

    fn put(&self, i: Instance) {
        self.store
            .write(move |tx| Ok(tx.put_instance(&i)?))
            .unwrap();
    }

    fn get(&self, id: &str) -> Option<Instance> {
        let (a, id) = (self.account, id.to_string());
        self.store.read(move |tx| Ok(tx.instance(a, &id)?)).unwrap()
    }

    /// A jump of the virtual clock to `to`, as the admin API makes it.
    fn advance_to(&self, to: DateTime<Utc>) -> Vec<ActionRecord> {
        let seconds = (to - self.service.now()).num_seconds();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (now, done) = rt.block_on(self.scheduler.jump(seconds)).unwrap();
        assert_eq!(now, to);
        assert_eq!(self.service.now(), to, "the clock shows the jump's end");
        done
    }

    fn prepaid(&self, id: &str, now: DateTime<Utc>, status: RenewalStatus) -> Instance {
        let mut i = self.instance(id);
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

    fn set_balance(&self, amount: &str) {
        let (a, m): (i64, Money) = (self.account, amount.parse().unwrap());
        self.store
            .write(move |tx| Ok(tx.set_balance(a, m)?))
            .unwrap();
    }

    fn balance(&self) -> Money {
        let a = self.account;
        self.store
            .read(move |tx| Ok(tx.account(a)?.unwrap().balance))
            .unwrap()
    }
}

#[test]
fn release_happens_at_the_minute_not_a_second_before() {
    let start = t("2026-01-01T00:00:00Z");
    let w = world(start);
    let mut i = w.instance("i-a");
    i.auto_release_time = Some(t("2026-01-01T01:00:00Z"));
    i.deletion_protection = true; // protection does not stop auto-release
    w.put(i);
    assert!(w.advance_to(t("2026-01-01T00:59:59Z")).is_empty());
    assert!(w.get("i-a").is_some());
    let done = w.advance_to(t("2026-01-01T01:00:00Z"));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].outcome, "released");
    // Carried out inside a clock jump, it is recorded at its due time.
    assert_eq!(done[0].happened_at, t("2026-01-01T01:00:00Z"));
    assert!(w.get("i-a").is_none());
    // Running again finds nothing: the release happened once.
    assert!(w
        .scheduler
        .run_due(t("2026-01-01T02:00:00Z"), None)
        .unwrap()
        .is_empty());
}

#[test]
fn latest_setting_wins_and_cancel_keeps_the_instance() {
    let start = t("2026-01-01T00:00:00Z");
    let w = world(start);
    let mut i = w.instance("i-b");
    i.auto_release_time = Some(t("2026-01-01T01:00:00Z"));
    w.put(i.clone());
    i.auto_release_time = Some(t("2026-01-01T03:00:00Z"));
    w.put(i.clone());
    assert!(w.advance_to(t("2026-01-01T02:00:00Z")).is_empty());
    i.auto_release_time = None;
    w.put(i);
    assert!(w.advance_to(t("2026-01-02T00:00:00Z")).is_empty());
    assert!(w.get("i-b").is_some());
}

#[test]
fn actions_run_in_due_order() {
    let start = t("2026-01-01T00:00:00Z");
    let w = world(start);
    for (id, at) in [("i-3", "03"), ("i-1", "01"), ("i-2", "02")] {
        let mut i = w.instance(id);
        i.auto_release_time = Some(t(&format!("2026-01-01T{at}:00:00Z")));
        w.put(i);
    }
    let done = w.advance_to(t("2026-01-01T05:00:00Z"));
    let order: Vec<&str> = done.iter().map(|r| r.resource_id.as_str()).collect();
    assert_eq!(order, ["i-1", "i-2", "i-3"]);
}

#[test]
fn renewal_charges_and_extends() {
    let start = t("2026-01-01T10:00:00Z");
    let w = world(start);
    w.put(w.prepaid("i-r", start, RenewalStatus::AutoRenewal));
    w.set_balance("100");
    // One second before the first charge slot nothing happens.
    assert!(w.advance_to(t("2026-01-22T23:59:59Z")).is_empty());
    let done = w.advance_to(t("2026-01-23T00:00:00Z"));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].outcome, "renewed");
    // ecs.g7.large: 2 vCPU × 12 a month.
    assert_eq!(w.balance(), "76".parse().unwrap());
    let sub = w.get("i-r").unwrap().subscription.unwrap();
    assert_eq!(sub.expired_time, t("2026-03-01T10:00:00Z"));
}

#[test]
fn short_balance_retries_daily_then_locks_then_releases() {
    let start = t("2026-01-01T10:00:00Z");
    let w = world(start);
    w.put(w.prepaid("i-s", start, RenewalStatus::AutoRenewal));
    w.set_balance("0.0001");
    let done = w.advance_to(t("2026-02-01T10:00:00Z"));
    let attempts = done.iter().filter(|r| r.action == "RenewalAttempt").count();
    assert_eq!(attempts, 10, "Jan 23 to Feb 1, daily");
    assert!(done
        .iter()
        .all(|r| r.action != "RenewalAttempt" || r.outcome == "insufficient_balance"));
    assert_eq!(done.last().unwrap().outcome, "locked");
    let i = w.get("i-s").unwrap();
    assert_eq!(i.status, InstanceStatus::Stopped);
    assert_eq!(i.locks, vec![LockReason::Financial]);
    assert_eq!(w.balance(), "0.0001".parse().unwrap());
    assert!(w.advance_to(t("2026-02-16T09:59:59Z")).is_empty());
    let done = w.advance_to(t("2026-02-16T10:00:00Z"));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].action, "ExpiryRelease");
    assert!(w.get("i-s").is_none());
}

#[test]
fn not_renewal_is_never_charged() {
    let start = t("2026-01-01T10:00:00Z");
    let w = world(start);
    w.put(w.prepaid("i-n", start, RenewalStatus::NotRenewal));
    w.set_balance("1000");
    let done = w.advance_to(t("2026-02-01T10:00:00Z"));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].outcome, "locked");
    assert_eq!(w.balance(), "1000".parse().unwrap());
}

#[test]
fn a_jump_cut_short_is_finished_by_the_catch_up() {
    let start = t("2026-01-01T00:00:00Z");
    let w = world(start);
    let mut i = w.instance("i-cut");
    i.auto_release_time = Some(t("2026-01-01T01:00:00Z"));
    w.put(i);
    // The jump's destination was stored, then the process died before any work ran.
    let to = t("2026-01-01T02:00:00Z");
    w.service.clock().begin_jump(to).unwrap();
    let restarted = Scheduler::new(w.service.clone());
    let done = restarted.catch_up().unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].happened_at, t("2026-01-01T01:00:00Z"));
    assert_eq!(w.service.now(), to);
    assert_eq!(w.service.clock().unfinished_jump().unwrap(), None);
}

/// Several claimers (threads, each its own owner) run the due work of one store at once:
/// every due release is carried out exactly once, none is missed.
#[test]
fn concurrent_claimers_carry_out_each_due_action_exactly_once() {
    let start = t("2026-01-01T00:00:00Z");
    let w = world(start);
    const N: usize = 3_000;
    let instances: Vec<Instance> = (0..N)
        .map(|n| {
            let mut i = w.instance(&format!("i-burst-{n:05}"));
            // Spread over ten minutes, many sharing a minute.
            i.auto_release_time = Some(start + Duration::minutes(1 + (n % 10) as i64));
            i
        })
        .collect();
    w.store
        .write(move |tx| {
            for i in &instances {
                tx.put_instance(i)?;
            }
            Ok(())
        })
        .unwrap();
    let now = start + Duration::hours(1);
    let claimers: Vec<_> = (0..4)
        .map(|k| {
            let scheduler =
                Scheduler::with_owner(w.service.clone(), format!("claimer-{k}")).batch_size(50);
            std::thread::spawn(move || {
                // Small batches make the claimers interleave many times.
                let mut mine = Vec::new();
                loop {
                    let done = scheduler.run_due(now, None).unwrap();
                    if done.is_empty() {
                        return mine;
                    }
                    mine.extend(done);
                }
            })
        })
        .collect();
    let mut per_instance: HashMap<String, usize> = HashMap::new();
    let mut by_claimer = Vec::new();
    for c in claimers {
        let done = c.join().unwrap();
        by_claimer.push(done.len());
        for r in done {
            *per_instance.entry(r.resource_id).or_default() += 1;
        }
    }
    assert_eq!(per_instance.len(), N, "every due release was carried out");
    assert!(
        per_instance.values().all(|&n| n == 1),
        "each exactly once: {:?}",
        per_instance
            .iter()
            .filter(|(_, n)| **n != 1)
            .take(5)
            .collect::<Vec<_>>()
    );
    // The events agree: one release event per instance.
    let events = w.service.events_after(0, 100_000).unwrap();
    let mut released: HashMap<String, usize> = HashMap::new();
    for e in events.iter().filter(|e| e.event.outcome == "released") {
        *released.entry(e.event.resource_id.clone()).or_default() += 1;
    }
    assert_eq!(released.len(), N);
    assert!(released.values().all(|&n| n == 1));
    eprintln!("releases per claimer: {by_claimer:?}");
}

/// A server killed after claiming due work (a jump cut short): the server started next on the
/// same store carries the work out in its start-up catch-up, without waiting for the dead
/// one's lease (only one process serves a SQLite store, so both are the sole owner).
#[test]
fn a_restarted_server_takes_its_predecessors_claims_at_once() {
    let start = t("2026-01-01T00:00:00Z");
    let w = world(start);
    let mut i = w.instance("i-claimed");
    i.auto_release_time = Some(t("2026-01-01T01:00:00Z"));
    w.put(i);
    let to = t("2026-01-01T02:00:00Z");
    w.service.clock().begin_jump(to).unwrap();
    let real_now = Utc::now();
    let claimed = w
        .service
        .claim_due(
            to,
            &ecs_store::Claim {
                owner: w.scheduler.owner().to_string(),
                real_now,
                lease_until: real_now + ecs_scheduler::LEASE,
            },
            10,
            true,
        )
        .unwrap();
    assert_eq!(claimed.len(), 1, "the dead server held the claim");
    let restarted = Scheduler::new(w.service.clone());
    let done = restarted.catch_up().unwrap();
    assert_eq!(done.len(), 1, "carried out in the catch-up: {done:?}");
    assert!(w.get("i-claimed").is_none());
}

/// `clock advance --offline` on a data dir whose jump was cut short moves on from the jump's
/// destination, and the next start carries out everything due up to the new time.
#[test]
fn an_offline_advance_after_a_cut_jump_starts_from_its_destination() {
    let start = t("2026-01-01T00:00:00Z");
    let w = world(start);
    let mut i = w.instance("i-late");
    i.auto_release_time = Some(t("2026-01-01T01:30:00Z"));
    w.put(i);
    w.service
        .clock()
        .begin_jump(t("2026-01-01T01:00:00Z"))
        .unwrap();
    let to = ecs_service::clock::advance_stored(&*w.store, 3600)
        .unwrap()
        .unwrap();
    assert_eq!(to, t("2026-01-01T02:00:00Z"));
    assert_eq!(w.service.clock().unfinished_jump().unwrap(), None);
    let done = Scheduler::new(w.service.clone()).catch_up().unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(w.service.now(), to);
}

/// The scheduler as `ecsd serve --clock real` runs it: [`Scheduler::spawn`]'s tick loop over a
/// real clock, no jump and no start-up catch-up. A release already due when the loop starts,
/// and another that becomes due while it runs, are both carried out (recorded at the real time
/// they ran); one due tomorrow is left alone. Waited for by polling the store.
#[test]
fn the_real_clock_tick_loop_carries_out_due_releases() {
    let dir = std::env::temp_dir().join(format!("ecs-scheduler-real-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _dir = TempDir(dir.clone());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("db.sqlite3")).unwrap());
    let account = store.write(|tx| Ok(tx.create_account("t")?.id)).unwrap();
    let service = Arc::new(Service::new(
        store.clone(),
        LifecycleClock::real(store.clone()),
        Catalog::builtin(),
        Duration::days(15),
    ));
    let scheduler = Arc::new(Scheduler::new(service.clone()));
    let put = |id: &str, release: DateTime<Utc>| {
        let mut i = sample_instance(account, id);
        i.charge_type = ChargeType::PostPaid;
        i.subscription = None;
        i.auto_release_time = Some(release);
        store.write(move |tx| Ok(tx.put_instance(&i)?)).unwrap();
    };
    let exists = |id: &str| {
        let id = id.to_string();
        store
            .read(move |tx| Ok(tx.instance(account, &id)?))
            .unwrap()
            .is_some()
    };
    let minute = |t: DateTime<Utc>| t - Duration::seconds(t.timestamp() % 60);
    let started = Utc::now();
    put("i-due", minute(started) - Duration::minutes(1));
    put("i-tomorrow", minute(started) + Duration::days(1));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ticking = {
        let _in_runtime = rt.enter();
        scheduler.clone().spawn()
    };
    let wait_gone = |id: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while exists(id) {
            assert!(
                std::time::Instant::now() < deadline,
                "{id} is still there 30 s after it fell due: the real-clock scheduler did not run it"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    wait_gone("i-due");
    // Due work that appears while the loop runs is found by a later tick.
    put("i-due-later", minute(Utc::now()));
    wait_gone("i-due-later");
    ticking.abort();

    assert!(
        exists("i-tomorrow"),
        "a release due tomorrow was carried out"
    );
    let events = store.read(|tx| Ok(tx.events_after(0, 100)?)).unwrap();
    for id in ["i-due", "i-due-later"] {
        let released: Vec<_> = events
            .iter()
            .filter(|e| e.event.resource_id == id)
            .collect();
        assert_eq!(released.len(), 1, "{id}: {events:?}");
        let e = &released[0].event;
        assert_eq!(e.outcome, "released");
        // A real clock records when the action ran, not when it was due.
        assert!(
            e.happened_at >= started,
            "{id} recorded at {}",
            e.happened_at
        );
    }
    assert!(events.iter().all(|e| e.event.resource_id != "i-tomorrow"));
}

/// Of two schedulers sharing a store, only the upkeep leader prunes old nonces; the other
/// prunes only once it may take the role over (here: the leader resigned).
#[test]
fn only_the_upkeep_leader_prunes_nonces() {
    let w = world(t("2026-03-01T00:00:00Z"));
    let first = Scheduler::with_owner(w.service.clone(), "replica-a".into());
    let second = Scheduler::with_owner(w.service.clone(), "replica-b".into());
    let plant = |nonce: &'static str| {
        w.store
            .write(move |tx| Ok(tx.record_nonce("key", nonce, t("2000-01-01T00:00:00Z"))?))
            .unwrap();
    };
    let left = || {
        w.store
            .read(|tx| Ok(tx.nonces_since(t("1999-01-01T00:00:00Z"))?.len()))
            .unwrap()
    };
    plant("old-1");
    second.upkeep();
    assert!(second.is_leading());
    assert_eq!(left(), 0, "the leader pruned");
    plant("old-2");
    first.upkeep();
    assert!(!first.is_leading());
    assert_eq!(left(), 1, "a follower prunes nothing");
    second.resign();
    assert!(!second.is_leading());
    first.upkeep();
    assert!(first.is_leading());
    assert_eq!(left(), 0, "the new leader pruned");
}

/// On a store shared with other processes, a tick that finds a jump in progress (its
/// destination stored) carries out the work due up to the destination, recorded at the due
/// times, and leaves the clock alone (the jumping process moves it); without a jump in
/// progress a tick does only what is due at the clock's time.
#[test]
fn a_tick_on_a_shared_store_helps_a_jump_in_progress() {
    let start = t("2026-01-01T00:00:00Z");
    let w = world(start);
    let shared = Arc::new(
        Service::new(
            w.store.clone(),
            LifecycleClock::open_virtual(w.store.clone()).unwrap(),
            Catalog::builtin(),
            Duration::days(15),
        )
        .with_shared_store(true),
    );
    let helper = Scheduler::with_owner(shared.clone(), "helper".into());
    for (n, minutes) in [(0, 10), (1, 20), (2, 90)] {
        let mut i = w.instance(&format!("i-help-{n}"));
        i.auto_release_time = Some(start + Duration::minutes(minutes));
        w.put(i);
    }
    assert!(helper.tick().unwrap().is_empty(), "nothing due yet");

    // Another process begins a jump to +30 min (and has not moved the clock yet).
    let target = start + Duration::minutes(30);
    shared.clock().begin_jump(target).unwrap();
    let helped = helper.tick().unwrap();
    let ids: Vec<&str> = helped.iter().map(|r| r.resource_id.as_str()).collect();
    assert_eq!(ids, ["i-help-0", "i-help-1"]);
    assert!(helped.iter().all(|r| r.happened_at == r.scheduled_at));
    assert_eq!(
        shared.now(),
        start,
        "only the jumping process moves the clock"
    );
    assert!(w.get("i-help-2").is_some(), "due after the destination");

    // The jump ends; with none in progress a tick helps nothing.
    shared.clock().end_jump(target).unwrap();
    assert!(helper.tick().unwrap().is_empty());
    assert!(w.get("i-help-2").is_some());
}
