//! The service without any wire: each command family's typed results and its refusals (the
//! ECS code and HTTP status of each row), that a refused command changes nothing, and that a
//! signed request's nonce is recorded whether its command succeeds or is refused.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ecs_domain::catalog::Catalog;
use ecs_domain::error::common::{DRY_RUN_OPERATION, IDEMPOTENT_PARAMETER_MISMATCH};
use ecs_domain::lifecycle::new_subscription;
use ecs_domain::model::{
    ChargeType, DedicatedHost, Instance, InstanceStatus, LockReason, PeriodUnit, RenewalSettings,
    RenewalStatus,
};
use ecs_domain::{ApiError, ErrorCode};
use ecs_service::charging::{self, ModifyChargeType, RenewInstance};
use ecs_service::clock::{store_time, VIRTUAL_NOW_SETTING};
use ecs_service::hosts::{self, AllocateHosts, ReleaseHost, HOST_RELEASE_TIME_ROWS};
use ecs_service::instances::{
    self, AutoRenewQuery, ModifyInstance, ReleaseInstance, ReleaseInstances, RunInstances,
    SetAutoRenew, SetReleaseTime, StartInstance, StopInstance, INSTANCE_RELEASE_TIME_ROWS,
};
use ecs_service::power::RebootInstance;
use ecs_service::{
    Caller, CreateBilling, HostFilter, Idempotency, InstanceFilter, LifecycleClock, Page,
    RequestNonce, Service,
};
use ecs_store::sqlite::SqliteStore;
use ecs_store::testsuite::{sample_host, sample_instance};
use ecs_store::{Store, StoreExt};

const REGION: &str = "cn-hangzhou";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2029-12-31T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A service over a fresh SQLite store, the virtual clock at [`now`], with two accounts.
struct World {
    store: Arc<dyn Store>,
    service: Service,
    account: i64,
    other_account: i64,
    _dir: TempDir,
}

fn world() -> World {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!(
        "ecs-service-tests-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("db.sqlite3")).unwrap());
    let start = now();
    let (account, other_account) = store
        .write(move |tx| {
            store_time(tx, VIRTUAL_NOW_SETTING, start)?;
            Ok((tx.create_account("a")?.id, tx.create_account("b")?.id))
        })
        .unwrap();
    let clock = LifecycleClock::open_virtual(store.clone()).unwrap();
    let service = Service::new(store.clone(), clock, Catalog::builtin(), Duration::days(15));
    World {
        store,
        service,
        account,
        other_account,
        _dir: TempDir(dir),
    }
}

/// What a command could change: the account's instances, hosts and events.
#[derive(Debug, PartialEq)]
struct State {
    instances: Vec<Instance>,
    hosts: Vec<DedicatedHost>,
    events: usize,
}

impl World {
    fn caller(&self) -> Caller {
        Caller::account(self.account)
    }

    /// A caller with a signed request whose nonce is `nonce`.
    fn signed(&self, nonce: &str) -> Caller {
        Caller {
            account_id: self.account,
            request: Some(RequestNonce::new(
                "LTAIservice".into(),
                nonce.into(),
                Utc::now(),
            )),
        }
    }

    fn put(&self, instance: Instance) {
        self.store
            .write(move |tx| Ok(tx.put_instance(&instance)?))
            .unwrap();
    }

    fn put_host(&self, host: DedicatedHost) {
        self.store.write(move |tx| Ok(tx.put_host(&host)?)).unwrap();
    }

    fn instance(&self, id: &str) -> Option<Instance> {
        let (account, id) = (self.account, id.to_string());
        self.store
            .read(move |tx| Ok(tx.instance(account, &id)?))
            .unwrap()
    }

    fn host(&self, id: &str) -> Option<DedicatedHost> {
        let (account, id) = (self.account, id.to_string());
        self.store
            .read(move |tx| Ok(tx.host(account, &id)?))
            .unwrap()
    }

    fn postpaid(&self, id: &str, status: InstanceStatus) -> Instance {
        let mut i = sample_instance(self.account, id);
        i.status = status;
        self.put(i.clone());
        i
    }

    fn prepaid(&self, id: &str) -> Instance {
        let mut i = sample_instance(self.account, id);
        i.charge_type = ChargeType::PrePaid;
        i.subscription = new_subscription(now(), 1, PeriodUnit::Month, RenewalSettings::default());
        self.put(i.clone());
        i
    }

    fn state(&self) -> State {
        let caller = self.caller();
        let all = Page::Offset {
            offset: 0,
            limit: 10_000,
        };
        let instances = self
            .service
            .list_instances(&caller, InstanceFilter::default(), all)
            .unwrap()
            .items;
        let hosts = self
            .service
            .list_hosts(&caller, HostFilter::default(), all)
            .unwrap()
            .items
            .into_iter()
            .map(|(h, _)| h)
            .collect();
        let events = self.service.events_after(0, 10_000).unwrap().len();
        State {
            instances,
            hosts,
            events,
        }
    }

    fn nonces(&self) -> Vec<String> {
        self.store
            .read(|tx| Ok(tx.nonces_since(DateTime::<Utc>::MIN_UTC)?))
            .unwrap()
            .into_iter()
            .map(|(_, nonce, _)| nonce)
            .collect()
    }
}

/// The refusal is `row`: its code and its HTTP status.
#[track_caller]
fn assert_row<T: std::fmt::Debug>(result: Result<T, ApiError>, row: &ErrorCode) -> ApiError {
    let err = result.expect_err("refused");
    assert_eq!(
        (err.code.as_ref(), err.status),
        (row.code, row.status),
        "{err}"
    );
    err
}

/// The refusal has this code and status (rows built by a function, such as InvalidParameter).
#[track_caller]
fn assert_code<T: std::fmt::Debug>(result: Result<T, ApiError>, code: &str, status: u16) {
    let err = result.expect_err("refused");
    assert_eq!((err.code.as_ref(), err.status), (code, status), "{err}");
}

fn set_release(id: &str, at: Option<DateTime<Utc>>) -> SetReleaseTime {
    SetReleaseTime {
        id: id.into(),
        region: Some(REGION.into()),
        at,
    }
}

// ---------------------------------------------------------------------------------------------
// Release times.

#[tokio::test]
async fn a_release_time_is_kept_to_the_minute_and_an_absent_one_cancels_it() {
    let w = world();
    w.postpaid("i-a", InstanceStatus::Running);
    let asked = now() + Duration::hours(2) + Duration::seconds(59);
    w.service
        .set_instance_release_time(&w.caller(), set_release("i-a", Some(asked)))
        .await
        .unwrap();
    assert_eq!(
        w.instance("i-a").unwrap().auto_release_time,
        Some(now() + Duration::hours(2))
    );
    w.service
        .set_instance_release_time(&w.caller(), set_release("i-a", None))
        .await
        .unwrap();
    assert_eq!(w.instance("i-a").unwrap().auto_release_time, None);
}

#[tokio::test]
async fn release_times_outside_thirty_minutes_to_three_years_are_refused_as_malformed() {
    let w = world();
    w.postpaid("i-a", InstanceStatus::Running);
    let before = w.state();
    for at in [
        now() + Duration::minutes(29),
        now() - Duration::hours(1),
        now() + Duration::days(3 * 366),
    ] {
        assert_row(
            w.service
                .set_instance_release_time(&w.caller(), set_release("i-a", Some(at)))
                .await,
            &INSTANCE_RELEASE_TIME_ROWS.malformed,
        );
    }
    assert_eq!(w.state(), before);
    // Both edges are inside.
    for at in [
        now() + Duration::minutes(30),
        now() + Duration::days(365 * 3),
    ] {
        w.service
            .set_instance_release_time(&w.caller(), set_release("i-a", Some(at)))
            .await
            .unwrap_or_else(|e| panic!("{at}: {e}"));
    }
}

#[tokio::test]
async fn release_times_are_refused_for_subscriptions_and_unknown_or_foreign_instances() {
    let w = world();
    w.prepaid("i-sub");
    w.postpaid("i-a", InstanceStatus::Running);
    let mut foreign = sample_instance(w.other_account, "i-foreign");
    foreign.charge_type = ChargeType::PostPaid;
    w.put(foreign);
    let at = Some(now() + Duration::hours(1));
    let before = w.state();
    assert_row(
        w.service
            .set_instance_release_time(&w.caller(), set_release("i-sub", at))
            .await,
        &INSTANCE_RELEASE_TIME_ROWS.charge_type_violation,
    );
    for id in ["i-nowhere", "i-foreign"] {
        assert_row(
            w.service
                .set_instance_release_time(&w.caller(), set_release(id, at))
                .await,
            &INSTANCE_RELEASE_TIME_ROWS.not_found,
        );
    }
    let other_region = SetReleaseTime {
        region: Some("cn-beijing".into()),
        ..set_release("i-a", at)
    };
    assert_row(
        w.service
            .set_instance_release_time(&w.caller(), other_region)
            .await,
        &INSTANCE_RELEASE_TIME_ROWS.not_found,
    );
    assert_eq!(w.state(), before, "refusals change nothing");
}

#[tokio::test]
async fn host_release_times_follow_the_same_window_with_the_hosts_rows() {
    let w = world();
    w.put_host(sample_host(w.account, "dh-a"));
    let mut sub = sample_host(w.account, "dh-sub");
    sub.charge_type = ChargeType::PrePaid;
    sub.subscription = new_subscription(now(), 1, PeriodUnit::Month, RenewalSettings::default());
    w.put_host(sub);
    let at = now() + Duration::hours(1);
    w.service
        .set_host_release_time(&w.caller(), set_release("dh-a", Some(at)))
        .await
        .unwrap();
    assert_eq!(w.host("dh-a").unwrap().auto_release_time, Some(at));
    let err = assert_row(
        w.service
            .set_host_release_time(&w.caller(), set_release("dh-sub", Some(at)))
            .await,
        &HOST_RELEASE_TIME_ROWS.charge_type_violation,
    );
    assert!(err.message.contains("dedicated host"), "{err}");
    assert_row(
        w.service
            .set_host_release_time(
                &w.caller(),
                set_release("dh-a", Some(now() + Duration::minutes(5))),
            )
            .await,
        &HOST_RELEASE_TIME_ROWS.malformed,
    );
    assert_row(
        w.service
            .set_host_release_time(&w.caller(), set_release("dh-nowhere", Some(at)))
            .await,
        &HOST_RELEASE_TIME_ROWS.not_found,
    );
    assert_eq!(w.host("dh-a").unwrap().auto_release_time, Some(at));
}

// ---------------------------------------------------------------------------------------------
// Release now.

fn release_one(id: &str, force: bool) -> ReleaseInstance {
    ReleaseInstance {
        id: id.into(),
        region: None,
        force,
        terminate_subscription: false,
        dry_run: false,
    }
}

fn release_many(ids: &[&str], force: bool) -> ReleaseInstances {
    ReleaseInstances {
        ids: ids.iter().map(|s| s.to_string()).collect(),
        region: REGION.into(),
        force,
        terminate_subscription: false,
        dry_run: false,
        idempotency: None,
    }
}

#[tokio::test]
async fn releasing_one_instance_refuses_protection_then_charge_type_then_status() {
    let w = world();
    let mut protected_sub = w.prepaid("i-protected-sub");
    protected_sub.deletion_protection = true;
    protected_sub.status = InstanceStatus::Running;
    w.put(protected_sub);
    w.prepaid("i-sub");
    w.postpaid("i-running", InstanceStatus::Running);
    let before = w.state();

    let err = assert_row(
        w.service
            .release_instance(&w.caller(), release_one("i-protected-sub", false))
            .await,
        &instances::DELETION_PROTECTION,
    );
    assert!(err.message.contains("i-protected-sub"), "{err}");
    assert_row(
        w.service
            .release_instance(&w.caller(), release_one("i-sub", true))
            .await,
        &instances::CHARGE_TYPE_VIOLATION,
    );
    assert_row(
        w.service
            .release_instance(&w.caller(), release_one("i-running", false))
            .await,
        &instances::INCORRECT_STATUS,
    );
    assert_row(
        w.service
            .release_instance(&w.caller(), release_one("i-nowhere", true))
            .await,
        &instances::NOT_FOUND,
    );
    let dry = ReleaseInstance {
        dry_run: true,
        ..release_one("i-running", true)
    };
    assert_row(
        w.service.release_instance(&w.caller(), dry).await,
        &DRY_RUN_OPERATION,
    );
    assert_eq!(w.state(), before, "refusals and dry runs change nothing");

    w.service
        .release_instance(&w.caller(), release_one("i-running", true))
        .await
        .unwrap();
    assert!(w.instance("i-running").is_none());
    let events = w.service.events_after(0, 10).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (
            events[0].event.action.as_str(),
            events[0].event.outcome.as_str()
        ),
        ("DeleteInstance", "released")
    );
}

#[tokio::test]
async fn an_expired_subscription_is_released_with_terminate_subscription_only() {
    let w = world();
    let mut expired = w.prepaid("i-expired");
    let sub = expired.subscription.as_mut().unwrap();
    sub.expiry_release_time = Some(now() + Duration::days(10));
    expired.status = InstanceStatus::Stopped;
    expired.locks = vec![LockReason::Financial];
    w.put(expired);
    assert_row(
        w.service
            .release_instance(&w.caller(), release_one("i-expired", false))
            .await,
        &instances::CHARGE_TYPE_VIOLATION,
    );
    let terminate = ReleaseInstance {
        terminate_subscription: true,
        ..release_one("i-expired", false)
    };
    w.service
        .release_instance(&w.caller(), terminate)
        .await
        .unwrap();
    assert!(w.instance("i-expired").is_none());
}

#[tokio::test]
async fn releasing_many_is_all_or_none() {
    let w = world();
    w.postpaid("i-a", InstanceStatus::Stopped);
    w.postpaid("i-b", InstanceStatus::Running);
    let mut protected = sample_instance(w.account, "i-c");
    protected.deletion_protection = true;
    w.put(protected);
    let before = w.state();

    assert_row(
        w.service
            .release_instances(&w.caller(), release_many(&["i-a", "i-b", "i-c"], true))
            .await,
        &instances::DELETION_PROTECTION,
    );
    assert_row(
        w.service
            .release_instances(&w.caller(), release_many(&["i-a", "i-b"], false))
            .await,
        &instances::INCORRECT_STATUS,
    );
    assert_row(
        w.service
            .release_instances(&w.caller(), release_many(&["i-a", "i-nowhere"], true))
            .await,
        &instances::NOT_FOUND,
    );
    let dry = ReleaseInstances {
        dry_run: true,
        ..release_many(&["i-a", "i-b"], true)
    };
    assert_row(
        w.service.release_instances(&w.caller(), dry).await,
        &instances::BATCH_DRY_RUN_SUCCESS,
    );
    let ids: Vec<String> = (0..=instances::MAX_RELEASE_IDS)
        .map(|n| format!("i-{n}"))
        .collect();
    let too_many = ReleaseInstances {
        ids,
        ..release_many(&[], true)
    };
    assert_code(
        w.service.release_instances(&w.caller(), too_many).await,
        "InvalidParameter",
        400,
    );
    assert_eq!(w.state(), before, "no refused batch released anything");

    // A repeated id is one instance.
    w.service
        .release_instances(&w.caller(), release_many(&["i-a", "i-b", "i-a"], true))
        .await
        .unwrap();
    assert!(w.instance("i-a").is_none() && w.instance("i-b").is_none());
    assert!(w.instance("i-c").is_some());
}

#[tokio::test]
async fn a_repeated_release_batch_client_token_answers_success_again_without_releasing_more() {
    let w = world();
    w.postpaid("i-a", InstanceStatus::Stopped);
    let token = Idempotency {
        token: "release-once".into(),
        fingerprint: "InstanceId.1=i-a".into(),
    };
    let cmd = ReleaseInstances {
        idempotency: Some(token.clone()),
        ..release_many(&["i-a"], false)
    };
    w.service
        .release_instances(&w.caller(), cmd.clone())
        .await
        .unwrap();
    let after_first = w.state();
    w.service
        .release_instances(&w.caller(), cmd.clone())
        .await
        .expect("the repeat gets the first answer, though i-a is gone now");
    assert_eq!(w.state(), after_first);
    let other = ReleaseInstances {
        idempotency: Some(Idempotency {
            fingerprint: "InstanceId.1=i-b".into(),
            ..token
        }),
        ..cmd
    };
    assert_row(
        w.service.release_instances(&w.caller(), other).await,
        &IDEMPOTENT_PARAMETER_MISMATCH,
    );
}

// ---------------------------------------------------------------------------------------------
// Attributes and power.

#[tokio::test]
async fn modifying_an_instance_changes_only_the_fields_given() {
    let w = world();
    w.postpaid("i-a", InstanceStatus::Running);
    w.service
        .modify_instance(
            &w.caller(),
            ModifyInstance {
                id: "i-a".into(),
                name: Some("web".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    w.service
        .modify_instance(
            &w.caller(),
            ModifyInstance {
                id: "i-a".into(),
                description: Some("front".into()),
                deletion_protection: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let i = w.instance("i-a").unwrap();
    assert_eq!(
        (
            i.name.as_str(),
            i.description.as_str(),
            i.deletion_protection
        ),
        ("web", "front", true)
    );
    let before = w.state();
    assert_row(
        w.service
            .modify_instance(
                &w.caller(),
                ModifyInstance {
                    id: "i-a".into(),
                    region: Some("cn-beijing".into()),
                    name: Some("moved".into()),
                    ..Default::default()
                },
            )
            .await,
        &instances::NOT_FOUND,
    );
    assert_eq!(w.state(), before);
}

fn stop(id: &str, stop_charging: bool) -> StopInstance {
    StopInstance {
        id: id.into(),
        region: None,
        stop_charging,
        dry_run: false,
    }
}

fn start(id: &str) -> StartInstance {
    StartInstance {
        id: id.into(),
        region: None,
        dry_run: false,
    }
}

#[tokio::test]
async fn stopping_and_starting_move_between_running_and_stopped_only() {
    let w = world();
    w.postpaid("i-a", InstanceStatus::Running);
    w.prepaid("i-sub");

    let dry = StopInstance {
        dry_run: true,
        ..stop("i-a", false)
    };
    assert_row(
        w.service.stop_instance(&w.caller(), dry).await,
        &DRY_RUN_OPERATION,
    );
    assert_eq!(w.instance("i-a").unwrap().status, InstanceStatus::Running);

    w.service
        .stop_instance(&w.caller(), stop("i-a", true))
        .await
        .unwrap();
    let i = w.instance("i-a").unwrap();
    assert_eq!(
        (i.status, i.stopped_charging),
        (InstanceStatus::Stopped, true)
    );
    assert_row(
        w.service
            .stop_instance(&w.caller(), stop("i-a", false))
            .await,
        &instances::INCORRECT_STATUS,
    );

    w.service
        .stop_instance(&w.caller(), stop("i-sub", true))
        .await
        .unwrap();
    assert!(
        !w.instance("i-sub").unwrap().stopped_charging,
        "a subscription keeps charging when stopped"
    );

    w.service
        .start_instance(&w.caller(), start("i-a"))
        .await
        .unwrap();
    let i = w.instance("i-a").unwrap();
    assert_eq!(
        (i.status, i.stopped_charging, i.start_time),
        (InstanceStatus::Running, false, Some(now()))
    );
    assert_row(
        w.service.start_instance(&w.caller(), start("i-a")).await,
        &instances::INCORRECT_STATUS,
    );
    assert_row(
        w.service
            .start_instance(&w.caller(), start("i-nowhere"))
            .await,
        &instances::NOT_FOUND,
    );
}

#[tokio::test]
async fn a_financially_locked_instance_can_be_neither_stopped_nor_started() {
    let w = world();
    let mut running = w.prepaid("i-locked-running");
    running.locks = vec![LockReason::Financial];
    w.put(running);
    let mut stopped = w.prepaid("i-locked-stopped");
    stopped.locks = vec![LockReason::Financial];
    stopped.status = InstanceStatus::Stopped;
    w.put(stopped);
    let before = w.state();
    assert_row(
        w.service
            .stop_instance(&w.caller(), stop("i-locked-running", false))
            .await,
        &instances::EXPIRED_OR_IN_ARREARS,
    );
    assert_row(
        w.service
            .start_instance(&w.caller(), start("i-locked-stopped"))
            .await,
        &instances::EXPIRED,
    );
    assert_eq!(w.state(), before);
}

fn fund(w: &World, amount: &str) {
    let (account, money) = (w.account, amount.parse().unwrap());
    w.store
        .write(move |tx| Ok(tx.set_balance(account, money)?))
        .unwrap();
}

fn balance(w: &World) -> ecs_domain::Money {
    let account = w.account;
    w.store
        .read(move |tx| Ok(tx.account(account)?.unwrap().balance))
        .unwrap()
}

/// RenewInstance's row for a period outside its list (the creating calls' `InvalidPeriod`).
fn creating_invalid_period() -> ErrorCode {
    ErrorCode::new(400, "InvalidPeriod", "The specified period is not valid.")
}

fn renew(id: &str, period: u32) -> RenewInstance {
    RenewInstance {
        id: id.into(),
        region: None,
        period,
        unit: PeriodUnit::Month,
        idempotency: None,
    }
}

#[tokio::test]
async fn renewing_by_hand_pays_from_the_balance_or_changes_nothing() {
    let w = world();
    w.prepaid("i-sub");
    w.postpaid("i-post", InstanceStatus::Running);
    fund(&w, "30");
    let before = w.state();
    for (cmd, row) in [
        (renew("i-sub", 2), &charging::NOT_ENOUGH_BALANCE),
        (renew("i-post", 1), &charging::CHARGE_TYPE_VIOLATION),
        (renew("i-sub", 10), &creating_invalid_period()),
        (
            RenewInstance {
                unit: PeriodUnit::Year,
                ..renew("i-sub", 1)
            },
            &charging::RENEW_PERIOD_UNIT,
        ),
        (renew("i-nowhere", 1), &instances::NOT_FOUND),
    ] {
        assert_row(w.service.renew_instance(&w.caller(), cmd).await, row);
    }
    assert_eq!(w.state(), before);
    assert_eq!(balance(&w), "30".parse().unwrap());
    let old = w
        .instance("i-sub")
        .unwrap()
        .subscription
        .unwrap()
        .expired_time;
    w.service
        .renew_instance(&w.caller(), renew("i-sub", 1))
        .await
        .unwrap();
    assert_eq!(balance(&w), "6".parse().unwrap());
    assert_eq!(
        w.instance("i-sub")
            .unwrap()
            .subscription
            .unwrap()
            .expired_time,
        ecs_domain::lifecycle::add_period(old, 1, PeriodUnit::Month).unwrap()
    );
    assert_eq!(
        w.state().events,
        before.events + 1,
        "the renewal is an event"
    );
}

#[tokio::test]
async fn changing_charge_type_is_all_or_none() {
    let w = world();
    w.postpaid("i-a", InstanceStatus::Running);
    w.postpaid("i-b", InstanceStatus::Stopped);
    w.prepaid("i-sub");
    fund(&w, "30");
    let to_sub = |ids: &[&str]| ModifyChargeType {
        ids: ids.iter().map(|s| s.to_string()).collect(),
        region: REGION.into(),
        to: ChargeType::PrePaid,
        period: Some(1),
        unit: PeriodUnit::Month,
        auto_renew: false,
        dry_run: false,
        idempotency: None,
    };
    let before = w.state();
    assert_row(
        w.service
            .modify_charge_type(&w.caller(), to_sub(&["i-a", "i-b"]))
            .await,
        &charging::NOT_ENOUGH_BALANCE,
    );
    assert_row(
        w.service
            .modify_charge_type(&w.caller(), to_sub(&["i-a", "i-sub"]))
            .await,
        &charging::CHARGE_TYPE_VIOLATION,
    );
    assert_eq!(
        w.state(),
        before,
        "nothing changed, the first instance included"
    );
    let done = w
        .service
        .modify_charge_type(&w.caller(), to_sub(&["i-a"]))
        .await
        .unwrap();
    assert_eq!(done.fee_of_instances.fee_of_instance[0].fee, "24.00");
    assert_eq!(balance(&w), "6".parse().unwrap());
    assert_eq!(w.instance("i-a").unwrap().charge_type, ChargeType::PrePaid);
    let back = w
        .service
        .modify_charge_type(
            &w.caller(),
            ModifyChargeType {
                to: ChargeType::PostPaid,
                period: None,
                ..to_sub(&["i-sub"])
            },
        )
        .await
        .unwrap();
    assert!(back.fee_of_instances.fee_of_instance[0]
        .fee
        .starts_with('-'));
    let i = w.instance("i-sub").unwrap();
    assert_eq!(
        (i.charge_type, i.subscription),
        (ChargeType::PostPaid, None)
    );
}

#[tokio::test]
async fn instances_get_disks_and_release_takes_or_detaches_them_in_one_transaction() {
    use ecs_service::disks::DiskQuery;
    use ecs_service::launch::{DiskRequest, LaunchRequest};
    let w = world();
    let data = |size: i64, keep: bool| DiskRequest {
        size: Some(size),
        delete_with_instance: Some(!keep),
        ..DiskRequest::default()
    };
    let created = w
        .service
        .run_instances(
            &w.caller(),
            RunInstances {
                launch: LaunchRequest {
                    data_disks: vec![data(100, true), data(50, false)],
                    ..LaunchRequest::default()
                },
                ..run(1, None)
            },
        )
        .await
        .unwrap();
    let id = created.instance_id_sets.instance_id_set[0].clone();
    let query = |instance: Option<String>| DiskQuery {
        region: REGION.into(),
        instance_id: instance,
        ..DiskQuery::default()
    };
    let (total, disks) = w
        .service
        .list_disks(&w.caller(), query(Some(id.clone())), 1, 100)
        .unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        disks
            .iter()
            .map(|d| (d.disk_type.as_str(), d.size_gib, d.status()))
            .collect::<Vec<_>>(),
        vec![
            ("system", 40, "In_use"),
            ("data", 100, "In_use"),
            ("data", 50, "In_use")
        ]
    );
    let kept = disks[1].id.clone();
    w.service
        .release_instance(&w.caller(), release_one(&id, true))
        .await
        .unwrap();
    let (total, left) = w
        .service
        .list_disks(&w.caller(), query(None), 1, 100)
        .unwrap();
    assert_eq!(total, 1);
    assert_eq!(
        (
            left[0].id.as_str(),
            left[0].status(),
            left[0].instance_id.as_deref()
        ),
        (kept.as_str(), "Available", None)
    );
    // The other account sees none of them.
    let theirs = w
        .service
        .list_disks(&Caller::account(w.other_account), query(None), 1, 100)
        .unwrap();
    assert_eq!(theirs.0, 0);
    // A system disk smaller than the image is refused before anything is made.
    assert_row(
        w.service
            .run_instances(
                &w.caller(),
                RunInstances {
                    launch: LaunchRequest {
                        system_disk: DiskRequest {
                            size: Some(19),
                            ..DiskRequest::default()
                        },
                        ..LaunchRequest::default()
                    },
                    ..run(1, None)
                },
            )
            .await,
        &ecs_service::launch::INVALID_SYSTEM_DISK_SIZE,
    );
}

fn reboot(id: &str) -> RebootInstance {
    RebootInstance {
        id: id.into(),
        region: None,
        force_stop: false,
        dry_run: false,
    }
}

#[tokio::test]
async fn rebooting_restarts_a_running_instance_and_refuses_anything_else() {
    let w = world();
    let mut running = w.postpaid("i-a", InstanceStatus::Running);
    running.start_time = Some(now() - Duration::days(3));
    w.put(running);
    w.postpaid("i-stopped", InstanceStatus::Stopped);
    let mut locked = w.prepaid("i-locked");
    locked.locks = vec![LockReason::Financial];
    w.put(locked);
    let before = w.state();
    for (cmd, row) in [
        (
            RebootInstance {
                dry_run: true,
                ..reboot("i-a")
            },
            &DRY_RUN_OPERATION,
        ),
        (reboot("i-stopped"), &instances::INCORRECT_STATUS),
        (reboot("i-locked"), &instances::EXPIRED_OR_IN_ARREARS),
        (reboot("i-nowhere"), &instances::NOT_FOUND),
        (
            RebootInstance {
                region: Some("cn-beijing".into()),
                ..reboot("i-a")
            },
            &instances::NOT_FOUND,
        ),
    ] {
        assert_row(w.service.reboot_instance(&w.caller(), cmd).await, row);
    }
    assert_eq!(w.state(), before, "refusals change nothing");
    w.service
        .reboot_instance(
            &w.caller(),
            RebootInstance {
                force_stop: true,
                ..reboot("i-a")
            },
        )
        .await
        .unwrap();
    let i = w.instance("i-a").unwrap();
    assert_eq!(
        (i.status, i.start_time),
        (InstanceStatus::Running, Some(now()))
    );
    // Other accounts' instances do not exist for the caller.
    assert_row(
        w.service
            .reboot_instance(&Caller::account(w.other_account), reboot("i-a"))
            .await,
        &instances::NOT_FOUND,
    );
    assert_row(
        w.service
            .instance(&Caller::account(w.other_account), None, "i-a".into()),
        &instances::NOT_FOUND,
    );
    assert_eq!(
        w.service
            .instance(&w.caller(), None, "i-a".into())
            .unwrap()
            .id,
        "i-a"
    );
}

// ---------------------------------------------------------------------------------------------
// Auto-renew settings.

fn auto_renew(ids: &[&str]) -> SetAutoRenew {
    SetAutoRenew {
        ids: ids.iter().map(|s| s.to_string()).collect(),
        region: REGION.into(),
        duration: None,
        unit: None,
        renewal_status: None,
        auto_renew: None,
    }
}

fn renew_query(ids: Option<&[&str]>, status: Option<RenewalStatus>) -> AutoRenewQuery {
    AutoRenewQuery {
        region: REGION.into(),
        ids: ids.map(|ids| ids.iter().map(|s| s.to_string()).collect()),
        renewal_status: status,
        page_number: 1,
        page_size: 10,
    }
}

#[tokio::test]
async fn auto_renew_settings_are_set_and_read_back() {
    let w = world();
    w.prepaid("i-a");
    w.prepaid("i-b");
    w.service
        .set_auto_renew(
            &w.caller(),
            SetAutoRenew {
                duration: Some(6),
                unit: Some("Month".into()),
                auto_renew: Some(true),
                ..auto_renew(&["i-a"])
            },
        )
        .await
        .unwrap();
    let renewal = w.instance("i-a").unwrap().subscription.unwrap().renewal;
    assert_eq!(
        (renewal.status, renewal.duration, renewal.unit),
        (RenewalStatus::AutoRenewal, 6, PeriodUnit::Month)
    );

    let (total, page) = w
        .service
        .auto_renew_settings(
            &w.caller(),
            renew_query(None, Some(RenewalStatus::AutoRenewal)),
        )
        .unwrap();
    assert_eq!(total, 1);
    assert_eq!(page[0].id, "i-a");
    let (total, page) = w
        .service
        .auto_renew_settings(
            &w.caller(),
            AutoRenewQuery {
                page_number: 2,
                page_size: 1,
                ..renew_query(Some(&["i-a", "i-b"]), None)
            },
        )
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(
        page.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["i-b"]
    );
}

#[tokio::test]
async fn auto_renew_refusals_name_their_rows_and_change_no_instance() {
    let w = world();
    w.prepaid("i-a");
    w.postpaid("i-payg", InstanceStatus::Running);
    let before = w.state();

    let err = assert_row(
        w.service
            .set_auto_renew(&w.caller(), auto_renew(&["i-a", "i-nowhere"]))
            .await,
        &instances::INVALID_RENEW_INSTANCE_ID,
    );
    assert_eq!(
        err.message,
        "The specified InstanceId i-nowhere is invalid."
    );
    assert_row(
        w.service
            .set_auto_renew(
                &w.caller(),
                SetAutoRenew {
                    auto_renew: Some(true),
                    ..auto_renew(&["i-a", "i-payg"])
                },
            )
            .await,
        &instances::RENEW_CHARGE_TYPE_VIOLATION,
    );
    let err = assert_row(
        w.service
            .set_auto_renew(
                &w.caller(),
                SetAutoRenew {
                    duration: Some(5),
                    ..auto_renew(&["i-a"])
                },
            )
            .await,
        &instances::INVALID_DURATION,
    );
    assert!(err.message.contains("Duration 5"), "{err}");
    assert_row(
        w.service
            .set_auto_renew(
                &w.caller(),
                SetAutoRenew {
                    unit: Some("Week".into()),
                    ..auto_renew(&["i-a"])
                },
            )
            .await,
        &instances::INVALID_RENEW_PERIOD_UNIT,
    );
    assert_row(
        w.service
            .set_auto_renew(
                &w.caller(),
                SetAutoRenew {
                    renewal_status: Some("Forever".into()),
                    ..auto_renew(&["i-a"])
                },
            )
            .await,
        &instances::INVALID_RENEWAL_STATUS,
    );
    let many: Vec<String> = (0..=instances::MAX_RENEW_IDS)
        .map(|n| format!("i-{n}"))
        .collect();
    assert_row(
        w.service
            .set_auto_renew(
                &w.caller(),
                SetAutoRenew {
                    ids: many,
                    ..auto_renew(&[])
                },
            )
            .await,
        &instances::TOO_MANY_RENEW_IDS,
    );
    assert_eq!(w.state(), before);

    assert_row(
        w.service
            .auto_renew_settings(&w.caller(), renew_query(Some(&["i-payg"]), None)),
        &instances::RENEW_CHARGE_TYPE_VIOLATION,
    );
    assert_row(
        w.service
            .auto_renew_settings(&w.caller(), renew_query(Some(&["i-nowhere"]), None)),
        &instances::INVALID_RENEW_INSTANCE_ID,
    );
}

// ---------------------------------------------------------------------------------------------
// Creating instances.

fn postpaid_billing() -> CreateBilling {
    CreateBilling {
        charge_type: ChargeType::PostPaid,
        period: None,
        unit: PeriodUnit::Month,
        auto_renew: false,
        auto_renew_period: None,
        auto_release_time: None,
    }
}

fn run(amount: u32, token: Option<(&str, &str)>) -> RunInstances {
    RunInstances {
        region: REGION.into(),
        zone: None,
        instance_type: "ecs.g7.large".into(),
        image_id: "aliyun_3_x64_20G_alibase_20240819.vhd".into(),
        amount,
        billing: postpaid_billing(),
        deletion_protection: false,
        dedicated_host_id: None,
        name: String::new(),
        description: String::new(),
        tags: vec![("team".into(), "core".into())],
        // The defaults of the account's network: the VPC's group and the zone's vSwitch.
        security_group_ids: Vec::new(),
        vswitch_id: String::new(),
        dry_run: false,
        idempotency: token.map(|(token, fingerprint)| Idempotency {
            token: token.into(),
            fingerprint: fingerprint.into(),
        }),
        launch: Default::default(),
        settings: Default::default(),
        stopped: false,
        private_ip: None,
        unique_suffix: false,
    }
}

#[tokio::test]
async fn run_instances_creates_running_instances_named_after_their_ids() {
    let w = world();
    let created = w
        .service
        .run_instances(&w.caller(), run(3, None))
        .await
        .unwrap();
    let ids = &created.instance_id_sets.instance_id_set;
    assert_eq!(ids.len(), 3);
    assert!(created.order_id.chars().all(|c| c.is_ascii_digit()));
    let first_zone = w.service.catalog().region(REGION).unwrap().zones[0].clone();
    for id in ids {
        assert!(id.starts_with("i-") && id.len() == 22, "{id}");
        let i = w.instance(id).unwrap();
        assert_eq!(
            (
                i.status,
                i.name.as_str(),
                i.zone_id.as_str(),
                i.creation_time
            ),
            (
                InstanceStatus::Running,
                id.as_str(),
                first_zone.as_str(),
                now()
            )
        );
    }
}

#[tokio::test]
async fn a_repeated_client_token_gets_the_first_answer_and_other_parameters_are_refused() {
    let w = world();
    let first = w
        .service
        .run_instances(&w.caller(), run(2, Some(("tok-1", "Amount=2"))))
        .await
        .unwrap();
    let after_first = w.state();
    let again = w
        .service
        .run_instances(&w.caller(), run(2, Some(("tok-1", "Amount=2"))))
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(w.state(), after_first, "the repeat created nothing");
    assert_row(
        w.service
            .run_instances(&w.caller(), run(3, Some(("tok-1", "Amount=3"))))
            .await,
        &IDEMPOTENT_PARAMETER_MISMATCH,
    );
    assert_eq!(w.state(), after_first);
    // Tokens are per account.
    let other = Caller::account(w.other_account);
    let theirs = w
        .service
        .run_instances(&other, run(1, Some(("tok-1", "Amount=1"))))
        .await
        .unwrap();
    assert_ne!(theirs, first);
}

#[tokio::test]
async fn run_instances_refusals_create_nothing() {
    let w = world();
    w.put_host(sample_host(w.account, "dh-a"));
    let mut locked = sample_host(w.account, "dh-locked");
    locked.locks = vec![LockReason::Financial];
    w.put_host(locked);
    let before = w.state();
    let cases: Vec<(RunInstances, &str, u16)> = vec![
        (
            RunInstances {
                instance_type: "ecs.nosuch".into(),
                ..run(1, None)
            },
            instances::INVALID_INSTANCE_TYPE.code,
            400,
        ),
        (
            RunInstances {
                image_id: "m-nosuchimage".into(),
                ..run(1, None)
            },
            instances::INVALID_IMAGE_ID.code,
            404,
        ),
        (
            RunInstances {
                zone: Some("cn-beijing-g".into()),
                ..run(1, None)
            },
            instances::INVALID_ZONE_ID.code,
            400,
        ),
        (
            RunInstances {
                dedicated_host_id: Some("dh-nowhere".into()),
                ..run(1, None)
            },
            instances::RUN_HOST_NOT_FOUND.code,
            404,
        ),
        (
            RunInstances {
                dedicated_host_id: Some("dh-a".into()),
                zone: Some("cn-hangzhou-k".into()),
                ..run(1, None)
            },
            "InvalidParameter",
            400,
        ),
        // dh-a is a ddh.g6: it carries ecs.g6 only, one socket holds 52 vCPUs.
        (
            RunInstances {
                dedicated_host_id: Some("dh-a".into()),
                ..run(1, None)
            },
            "DedicatedHostType.Unmatched",
            400,
        ),
        (
            RunInstances {
                dedicated_host_id: Some("dh-a".into()),
                instance_type: "ecs.g6.16xlarge".into(),
                ..run(1, None)
            },
            instances::RUN_HOST_ROWS.lacks_resource.code,
            400,
        ),
        // 3 x 32 vCPUs: one per socket fits, the third does not; none is created.
        (
            RunInstances {
                dedicated_host_id: Some("dh-a".into()),
                instance_type: "ecs.g6.8xlarge".into(),
                ..run(3, None)
            },
            "LackResource",
            400,
        ),
        (
            RunInstances {
                dedicated_host_id: Some("dh-a".into()),
                instance_type: "ecs.g6.8xlarge".into(),
                stopped: true,
                ..run(3, None)
            },
            "NoAvaliableDedicatedHost",
            400,
        ),
        (
            RunInstances {
                dedicated_host_id: Some("dh-locked".into()),
                instance_type: "ecs.g6.large".into(),
                ..run(1, None)
            },
            "InvalidDedicatedHostStatus.NotSupport",
            400,
        ),
        (
            RunInstances {
                billing: CreateBilling {
                    charge_type: ChargeType::PrePaid,
                    ..postpaid_billing()
                },
                ..run(1, None)
            },
            "MissingParameter",
            400,
        ),
        (
            RunInstances {
                billing: CreateBilling {
                    charge_type: ChargeType::PrePaid,
                    period: Some(10),
                    ..postpaid_billing()
                },
                ..run(1, None)
            },
            "InvalidPeriod",
            400,
        ),
        (
            RunInstances {
                billing: CreateBilling {
                    charge_type: ChargeType::PrePaid,
                    period: Some(1),
                    auto_release_time: Some(now() + Duration::hours(2)),
                    ..postpaid_billing()
                },
                ..run(1, None)
            },
            "InvalidParameter.AutoReleaseTime",
            400,
        ),
        (
            RunInstances {
                billing: CreateBilling {
                    auto_release_time: Some(now() + Duration::minutes(1)),
                    ..postpaid_billing()
                },
                ..run(1, None)
            },
            instances::RUN_MALFORMED_RELEASE_TIME.code,
            400,
        ),
        (
            RunInstances {
                dry_run: true,
                ..run(1, None)
            },
            DRY_RUN_OPERATION.code,
            400,
        ),
    ];
    for (cmd, code, status) in cases {
        let asked = format!("{cmd:?}");
        let err = w
            .service
            .run_instances(&w.caller(), cmd)
            .await
            .expect_err(&asked);
        assert_eq!((err.code.as_ref(), err.status), (code, status), "{asked}");
    }
    assert_eq!(w.state(), before);

    // On a host, the instance takes the host's zone.
    let placed = w
        .service
        .run_instances(
            &w.caller(),
            RunInstances {
                dedicated_host_id: Some("dh-a".into()),
                instance_type: "ecs.g6.8xlarge".into(),
                ..run(2, None)
            },
        )
        .await
        .unwrap();
    // One on each socket: the first fills most of socket 0.
    let sockets: Vec<Option<u32>> = placed
        .instance_id_sets
        .instance_id_set
        .iter()
        .map(|id| w.instance(id).unwrap().host_socket)
        .collect();
    assert_eq!(sockets, [Some(0), Some(1)]);
    let id = &placed.instance_id_sets.instance_id_set[0];
    let i = w.instance(id).unwrap();
    assert_eq!(
        (i.zone_id.as_str(), i.dedicated_host_id.as_deref()),
        ("cn-hangzhou-i", Some("dh-a"))
    );
}

#[tokio::test]
async fn a_subscription_run_gets_its_expiry_and_renewal_settings() {
    let w = world();
    let created = w
        .service
        .run_instances(
            &w.caller(),
            RunInstances {
                billing: CreateBilling {
                    charge_type: ChargeType::PrePaid,
                    period: Some(1),
                    unit: PeriodUnit::Year,
                    auto_renew: true,
                    auto_renew_period: Some(2),
                    auto_release_time: None,
                },
                ..run(1, None)
            },
        )
        .await
        .unwrap();
    let i = w
        .instance(&created.instance_id_sets.instance_id_set[0])
        .unwrap();
    let sub = i.subscription.expect("a subscription");
    assert_eq!(sub.expired_time, now() + Duration::days(365));
    assert_eq!(
        (sub.renewal.status, sub.renewal.duration, sub.renewal.unit),
        (RenewalStatus::AutoRenewal, 2, PeriodUnit::Year)
    );
}

// ---------------------------------------------------------------------------------------------
// Dedicated hosts.

fn allocate(quantity: u32, host_type: &str) -> AllocateHosts {
    AllocateHosts {
        region: REGION.into(),
        zone: Some("cn-hangzhou-j".into()),
        host_type: host_type.into(),
        quantity,
        billing: postpaid_billing(),
        name: "ddh".into(),
        description: String::new(),
        tags: Vec::new(),
        dry_run: false,
        idempotency: None,
    }
}

fn release_host(id: &str) -> ReleaseHost {
    ReleaseHost {
        id: id.into(),
        region: REGION.into(),
    }
}

#[tokio::test]
async fn hosts_are_allocated_and_released_when_empty_and_pay_as_you_go() {
    let w = world();
    let created = w
        .service
        .allocate_hosts(&w.caller(), allocate(2, "ddh.g6"))
        .await
        .unwrap();
    let ids = created.dedicated_host_id_sets.dedicated_host_id;
    assert_eq!(ids.len(), 2);
    for id in &ids {
        let h = w.host(id).unwrap();
        assert_eq!(
            (h.zone_id.as_str(), h.host_type.as_str(), h.creation_time),
            ("cn-hangzhou-j", "ddh.g6", now())
        );
    }
    let mut on_host = sample_instance(w.account, "i-on-host");
    on_host.dedicated_host_id = Some(ids[0].clone());
    w.put(on_host);
    let mut sub = sample_host(w.account, "dh-sub");
    sub.charge_type = ChargeType::PrePaid;
    sub.subscription = new_subscription(now(), 1, PeriodUnit::Month, RenewalSettings::default());
    w.put_host(sub);
    let before = w.state();

    assert_row(
        w.service
            .release_host(&w.caller(), release_host(&ids[0]))
            .await,
        &hosts::INSTANCE_EXIST,
    );
    assert_row(
        w.service
            .release_host(&w.caller(), release_host("dh-sub"))
            .await,
        &hosts::RELEASE_CHARGE_TYPE_VIOLATION,
    );
    assert_row(
        w.service
            .release_host(&w.caller(), release_host("dh-nowhere"))
            .await,
        &hosts::NOT_FOUND,
    );
    assert_row(
        w.service
            .release_host(
                &w.caller(),
                ReleaseHost {
                    region: "cn-beijing".into(),
                    ..release_host(&ids[1])
                },
            )
            .await,
        &hosts::NOT_FOUND,
    );
    assert_row(
        w.service
            .allocate_hosts(&w.caller(), allocate(1, "ddh.nosuch"))
            .await,
        &hosts::INVALID_HOST_TYPE,
    );
    assert_row(
        w.service
            .allocate_hosts(
                &w.caller(),
                AllocateHosts {
                    dry_run: true,
                    ..allocate(1, "ddh.g6")
                },
            )
            .await,
        &DRY_RUN_OPERATION,
    );
    assert_eq!(w.state(), before);

    w.service
        .release_host(&w.caller(), release_host(&ids[1]))
        .await
        .unwrap();
    assert!(w.host(&ids[1]).is_none());
}

#[tokio::test]
async fn a_repeated_allocate_client_token_gets_the_same_hosts() {
    let w = world();
    let cmd = AllocateHosts {
        idempotency: Some(Idempotency {
            token: "hosts-once".into(),
            fingerprint: "Quantity=1".into(),
        }),
        ..allocate(1, "ddh.c7")
    };
    let first = w
        .service
        .allocate_hosts(&w.caller(), cmd.clone())
        .await
        .unwrap();
    let again = w.service.allocate_hosts(&w.caller(), cmd).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(w.state().hosts.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Listings.

#[tokio::test]
async fn listings_show_the_callers_resources_only_page_by_page() {
    let w = world();
    for n in 0..5 {
        w.postpaid(&format!("i-{n}"), InstanceStatus::Running);
    }
    w.put(sample_instance(w.other_account, "i-theirs"));
    w.put_host(sample_host(w.other_account, "dh-theirs"));
    w.put_host(sample_host(w.account, "dh-mine"));
    let mut placed = sample_instance(w.account, "i-placed");
    placed.dedicated_host_id = Some("dh-mine".into());
    w.put(placed);

    // The filter's account is overridden by the caller's.
    let asking_for_theirs = InstanceFilter {
        account_id: w.other_account,
        ..Default::default()
    };
    let page = w
        .service
        .list_instances(
            &w.caller(),
            asking_for_theirs,
            Page::Offset {
                offset: 2,
                limit: 2,
            },
        )
        .unwrap();
    assert_eq!(page.total, 6);
    assert_eq!(
        page.items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["i-2", "i-3"]
    );
    let everything = Page::Offset {
        offset: 0,
        limit: 100,
    };
    let ids: Vec<String> = w
        .service
        .list_instances(&w.caller(), InstanceFilter::default(), everything)
        .unwrap()
        .items
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert!(!ids.contains(&"i-theirs".to_string()), "{ids:?}");

    let hosts = w
        .service
        .list_hosts(&w.caller(), HostFilter::default(), everything)
        .unwrap();
    assert_eq!(hosts.total, 1);
    let (host, on_it) = &hosts.items[0];
    assert_eq!(host.id, "dh-mine");
    assert_eq!(
        on_it
            .iter()
            .map(|p| (p.id.as_str(), p.instance_type.as_str(), p.demand.vcpus))
            .collect::<Vec<_>>(),
        vec![("i-placed", "ecs.g7.large", 2)]
    );
}

// ---------------------------------------------------------------------------------------------
// Nonces.

#[tokio::test]
async fn a_signed_commands_nonce_is_recorded_when_it_succeeds_and_when_its_transaction_refuses_it()
{
    let w = world();
    w.postpaid("i-a", InstanceStatus::Running);
    w.service
        .stop_instance(&w.signed("nonce-ok"), stop("i-a", false))
        .await
        .unwrap();
    assert_row(
        w.service
            .stop_instance(&w.signed("nonce-refused"), stop("i-a", false))
            .await,
        &instances::INCORRECT_STATUS,
    );
    assert_row(
        w.service
            .release_instances(
                &w.signed("nonce-batch-refused"),
                release_many(&["i-nowhere"], true),
            )
            .await,
        &instances::NOT_FOUND,
    );
    // A command without a signed request records none.
    w.service
        .start_instance(&w.caller(), start("i-a"))
        .await
        .unwrap();
    let mut recorded = w.nonces();
    recorded.sort();
    assert_eq!(
        recorded,
        ["nonce-batch-refused", "nonce-ok", "nonce-refused"]
    );
}

/// `Service::write` documents that a refused command records its nonce, so that a replay of
/// the same signed request after a restart is refused too. Commands whose checks run before
/// their transaction (the release window, the catalog, billing, ClientToken mismatches, id
/// limits, dry runs of AllocateDedicatedHosts) answer without recording it.
#[tokio::test]
async fn a_signed_commands_nonce_is_recorded_when_it_is_refused_before_its_transaction() {
    let w = world();
    w.postpaid("i-a", InstanceStatus::Running);
    w.service
        .run_instances(&w.caller(), run(1, Some(("tok", "Amount=1"))))
        .await
        .unwrap();
    assert_row(
        w.service
            .set_instance_release_time(
                &w.signed("nonce-window"),
                set_release("i-a", Some(now() + Duration::days(4 * 365))),
            )
            .await,
        &INSTANCE_RELEASE_TIME_ROWS.malformed,
    );
    assert_row(
        w.service
            .run_instances(
                &w.signed("nonce-type"),
                RunInstances {
                    instance_type: "ecs.nosuch".into(),
                    ..run(1, None)
                },
            )
            .await,
        &instances::INVALID_INSTANCE_TYPE,
    );
    assert_row(
        w.service
            .run_instances(&w.signed("nonce-token"), run(2, Some(("tok", "Amount=2"))))
            .await,
        &IDEMPOTENT_PARAMETER_MISMATCH,
    );
    assert_row(
        w.service
            .allocate_hosts(
                &w.signed("nonce-dry-run"),
                AllocateHosts {
                    dry_run: true,
                    ..allocate(1, "ddh.g6")
                },
            )
            .await,
        &DRY_RUN_OPERATION,
    );
    assert_row(
        w.service
            .set_auto_renew(
                &w.signed("nonce-duration"),
                SetAutoRenew {
                    duration: Some(5),
                    ..auto_renew(&["i-a"])
                },
            )
            .await,
        &instances::INVALID_DURATION,
    );
    let mut recorded = w.nonces();
    recorded.sort();
    assert_eq!(
        recorded,
        [
            "nonce-dry-run",
            "nonce-duration",
            "nonce-token",
            "nonce-type",
            "nonce-window"
        ]
    );
}

/// A store that refuses blocking writes on an async runtime's thread and commits submitted
/// ones later, on a thread of its own (as a database a network away would).
struct NoBlockingWritesOnRuntime(Arc<dyn Store>);

impl Store for NoBlockingWritesOnRuntime {
    fn write_boxed(
        &self,
        f: ecs_store::TxFn,
    ) -> ecs_store::TxResult<Box<dyn std::any::Any + Send>> {
        assert!(
            tokio::runtime::Handle::try_current().is_err(),
            "a blocking store write on an async runtime's thread"
        );
        self.0.write_boxed(f)
    }
    fn submit_write(&self, f: ecs_store::TxFn, done: ecs_store::TxDone) {
        let inner = self.0.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            done(inner.write_boxed(f));
        });
    }
    fn read_boxed(&self, f: ecs_store::TxFn) -> ecs_store::TxResult<Box<dyn std::any::Any + Send>> {
        self.0.read_boxed(f)
    }
    fn engine(&self) -> &'static str {
        "slow"
    }
}

/// On a shared store every nonce is claimed in the store, so a nonce one process accepted is
/// refused by another; the claim is submitted and awaited, never a blocking write on the
/// request's async thread.
#[test]
fn shared_store_nonces_are_claimed_without_blocking_the_runtime() {
    let w = world();
    let slow: Arc<dyn Store> = Arc::new(NoBlockingWritesOnRuntime(w.store.clone()));
    let replica = || {
        let clock = LifecycleClock::open_virtual(slow.clone()).unwrap();
        Service::new(slow.clone(), clock, Catalog::builtin(), Duration::days(15))
            .with_shared_store(true)
    };
    let (a, b) = (replica(), replica());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let real_now = Utc::now();
    let (first, replayed, other) = runtime.block_on(async {
        // The runtime's only thread keeps ticking while the claims are in the store's hands.
        let ticks = async {
            let mut n = 0;
            for _ in 0..5 {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                n += 1;
            }
            n
        };
        let claims = async {
            (
                a.accept_nonce("key", "n-1", real_now).await,
                b.accept_nonce("key", "n-1", real_now).await,
                b.accept_nonce("key", "n-2", real_now).await,
            )
        };
        let (claims, ticked) = tokio::join!(claims, ticks);
        assert_eq!(ticked, 5);
        claims
    });
    assert!(first.unwrap());
    assert!(!replayed.unwrap(), "accepted by the other replica already");
    assert!(other.unwrap());
}
