//! What the service does for the web console: previews that answer exactly what their command
//! answers (and change nothing), the console's records, the latest events.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ecs_domain::catalog::Catalog;
use ecs_domain::lifecycle::new_subscription;
use ecs_domain::model::{ChargeType, InstanceStatus, LockReason, PeriodUnit, RenewalSettings};
use ecs_domain::ApiError;
use ecs_service::clock::{store_time, VIRTUAL_NOW_SETTING};
use ecs_service::hosts::ReleaseHost;
use ecs_service::instances::{ReleaseInstance, SetReleaseTime};
use ecs_service::{Caller, LifecycleClock, Service};
use ecs_store::sqlite::SqliteStore;
use ecs_store::testsuite::{sample_host, sample_instance};
use ecs_store::{NewEvent, ResourceKind, Store, StoreExt};

const REGION: &str = "cn-hangzhou";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2029-12-31T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

struct World {
    store: Arc<dyn Store>,
    service: Service,
    account: i64,
    dir: std::path::PathBuf,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A service over a fresh SQLite store with the virtual clock at [`now`], and these resources:
/// pay-as-you-go running, stopped, protected; a subscription running and one expired (locked);
/// an empty host, a busy host, a subscription host.
fn world() -> World {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ecs-service-console-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("db.sqlite3")).unwrap());
    let account = store
        .write(|tx| {
            store_time(tx, VIRTUAL_NOW_SETTING, now())?;
            let account = tx.create_account("a")?.id;
            let mut stopped = sample_instance(account, "i-stopped");
            stopped.status = InstanceStatus::Stopped;
            let mut protected = sample_instance(account, "i-protected");
            protected.deletion_protection = true;
            let subscription = |id: &str, months_ago: i64| {
                let mut i = sample_instance(account, id);
                i.charge_type = ChargeType::PrePaid;
                i.subscription = new_subscription(
                    now() - Duration::days(30 * months_ago),
                    1,
                    PeriodUnit::Month,
                    RenewalSettings::default(),
                );
                i
            };
            let mut expired = subscription("i-expired", 2);
            expired.status = InstanceStatus::Stopped;
            expired.locks = vec![LockReason::Financial];
            if let Some(sub) = expired.subscription.as_mut() {
                sub.expiry_release_time = Some(now() + Duration::days(10));
            }
            let mut busy = sample_host(account, "dh-busy");
            busy.zone_id = "cn-hangzhou-i".into();
            let mut on_host = sample_instance(account, "i-on-host");
            on_host.dedicated_host_id = Some("dh-busy".into());
            let mut prepaid_host = sample_host(account, "dh-prepaid");
            prepaid_host.charge_type = ChargeType::PrePaid;
            prepaid_host.subscription =
                new_subscription(now(), 1, PeriodUnit::Month, RenewalSettings::default());
            for i in [
                sample_instance(account, "i-running"),
                stopped,
                protected,
                subscription("i-sub", 0),
                expired,
                on_host,
            ] {
                tx.put_instance(&i)?;
            }
            for h in [sample_host(account, "dh-idle"), busy, prepaid_host] {
                tx.put_host(&h)?;
            }
            Ok(account)
        })
        .unwrap();
    let clock = LifecycleClock::open_virtual(store.clone()).unwrap();
    let service = Service::new(store.clone(), clock, Catalog::builtin(), Duration::days(15));
    World {
        store,
        service,
        account,
        dir,
    }
}

fn code<T>(r: &Result<T, ApiError>) -> String {
    match r {
        Ok(_) => "OK".into(),
        Err(e) => e.code.to_string(),
    }
}

const INSTANCES: [&str; 7] = [
    "i-running",
    "i-stopped",
    "i-protected",
    "i-sub",
    "i-expired",
    "i-on-host",
    "i-missing",
];

#[tokio::test]
async fn the_release_now_preview_answers_what_the_command_answers() {
    for force in [false, true] {
        for terminate in [false, true] {
            for id in INSTANCES {
                let w = world();
                let caller = Caller::account(w.account);
                let cmd = ReleaseInstance {
                    id: id.into(),
                    region: Some(REGION.into()),
                    force,
                    terminate_subscription: terminate,
                    dry_run: false,
                };
                let preview = w.service.preview_release_instance(&caller, &cmd);
                let events = w.store.read(|tx| Ok(tx.events_after(0, 10)?)).unwrap();
                assert!(events.is_empty(), "a preview changes nothing");
                let done = w.service.release_instance(&caller, cmd).await;
                assert_eq!(
                    code(&preview),
                    code(&done),
                    "{id} force={force} terminate={terminate}"
                );
            }
        }
    }
    // What the console sends: the subscription and the protected one refused, the rest go.
    let w = world();
    let caller = Caller::account(w.account);
    let codes: Vec<String> = INSTANCES
        .iter()
        .map(|id| {
            code(&w.service.preview_release_instance(
                &caller,
                &ReleaseInstance {
                    id: (*id).into(),
                    region: Some(REGION.into()),
                    force: true,
                    terminate_subscription: true,
                    dry_run: false,
                },
            ))
        })
        .collect();
    assert_eq!(
        codes,
        [
            "OK",
            "OK",
            "InvalidOperation.DeletionProtection",
            "ChargeTypeViolation",
            "OK",
            "OK",
            "InvalidInstanceId.NotFound"
        ]
    );
}

#[tokio::test]
async fn the_release_time_preview_answers_what_the_command_answers() {
    let times = [
        Some(now() + Duration::minutes(29)),
        Some(now() + Duration::minutes(30)),
        Some(now() + Duration::hours(2) + Duration::seconds(59)),
        Some(now() + Duration::days(3 * 366)),
        None,
    ];
    for at in times {
        let w = world();
        let caller = Caller::account(w.account);
        for id in INSTANCES {
            let cmd = SetReleaseTime {
                id: id.into(),
                region: Some(REGION.into()),
                at,
            };
            let preview = w.service.preview_instance_release_time(&caller, &cmd);
            let done = w.service.set_instance_release_time(&caller, cmd).await;
            assert_eq!(code(&preview), code(&done), "{id} at {at:?}");
            if let (Ok(kept), Some(instance)) = (
                &preview,
                w.store
                    .read(move |tx| Ok(tx.instance(w.account, id)?))
                    .unwrap(),
            ) {
                assert_eq!(
                    *kept, instance.auto_release_time,
                    "the time kept, to the minute"
                );
            }
        }
        for id in ["dh-idle", "dh-busy", "dh-prepaid", "dh-missing"] {
            let cmd = SetReleaseTime {
                id: id.into(),
                region: Some(REGION.into()),
                at,
            };
            let preview = w.service.preview_host_release_time(&caller, &cmd);
            let done = w.service.set_host_release_time(&caller, cmd).await;
            assert_eq!(code(&preview), code(&done), "{id} at {at:?}");
        }
    }
}

#[tokio::test]
async fn the_host_release_preview_answers_what_the_command_answers() {
    let w = world();
    let caller = Caller::account(w.account);
    let mut codes = Vec::new();
    for id in ["dh-idle", "dh-busy", "dh-prepaid", "dh-missing"] {
        let cmd = ReleaseHost {
            id: id.into(),
            region: REGION.into(),
        };
        let preview = w.service.preview_release_host(&caller, &cmd);
        let done = w.service.release_host(&caller, cmd).await;
        assert_eq!(code(&preview), code(&done), "{id}");
        codes.push(code(&preview));
    }
    assert_eq!(
        codes,
        [
            "OK",
            "InstanceExist",
            "ChargeTypeViolation",
            "InvalidDedicatedHostId.NotFound"
        ]
    );
}

#[tokio::test]
async fn console_records_are_kept_apart_from_other_settings() {
    let w = world();
    assert_eq!(w.service.console_record("session:abc").unwrap(), None);
    w.service
        .put_console_record("session:abc", Some("{\"a\":1}".into()))
        .await
        .unwrap();
    assert_eq!(
        w.service.console_record("session:abc").unwrap().as_deref(),
        Some("{\"a\":1}")
    );
    // The console's names cannot reach the clock's setting.
    w.service
        .put_console_record(VIRTUAL_NOW_SETTING, Some("garbage".into()))
        .await
        .unwrap();
    assert_eq!(w.service.now(), now());
    assert_eq!(
        w.service
            .console_record(VIRTUAL_NOW_SETTING)
            .unwrap()
            .as_deref(),
        Some("garbage")
    );
    w.service
        .put_console_record("session:abc", None)
        .await
        .unwrap();
    assert_eq!(w.service.console_record("session:abc").unwrap(), None);
    // A reset keeps them (sessions outlive the emulator's reset).
    w.service
        .put_console_record("session:kept", Some("x".into()))
        .await
        .unwrap();
    w.service.reset().unwrap();
    assert_eq!(
        w.service.console_record("session:kept").unwrap().as_deref(),
        Some("x")
    );
}

#[test]
fn the_latest_events_are_the_last_ones_oldest_first() {
    let w = world();
    assert!(w.service.latest_events(10).unwrap().is_empty());
    let account = w.account;
    let append = move |n: usize| {
        move |tx: &mut dyn ecs_store::StoreTx| {
            for k in 0..n {
                tx.append_event(&NewEvent {
                    account_id: account,
                    resource: ResourceKind::Instance,
                    resource_id: format!("i-{k}"),
                    action: "AutoRelease".into(),
                    scheduled_at: None,
                    happened_at: now(),
                    outcome: "released".into(),
                    detail: serde_json::json!({}),
                })?;
            }
            Ok(())
        }
    };
    w.store.write(append(1)).unwrap();
    let one = w.service.latest_events(10).unwrap();
    assert_eq!(one.len(), 1);
    w.store.write(append(1000)).unwrap();
    let all: Vec<i64> = w
        .store
        .read(|tx| Ok(tx.events_after(0, 10_000)?))
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    for limit in [1, 7, 100, 1001, 5000] {
        let got: Vec<i64> = w
            .service
            .latest_events(limit)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        let want = &all[all.len().saturating_sub(limit as usize)..];
        assert_eq!(got, want, "limit {limit}");
    }
    // After a reset the sequence goes on from where it was: the tail is still found.
    w.service.reset().unwrap();
    assert!(w.service.latest_events(10).unwrap().is_empty());
    w.store.write(append(3)).unwrap();
    let after: Vec<String> = w
        .service
        .latest_events(10)
        .unwrap()
        .into_iter()
        .map(|e| e.event.resource_id)
        .collect();
    assert_eq!(after, ["i-0", "i-1", "i-2"]);
}

/// The confirm step's disks: what the preview says goes with the instance and what is kept is
/// what the release then does (its event lists the same ids, and the kept disk is detached).
#[tokio::test]
async fn the_release_preview_names_the_disks_the_release_takes_and_keeps() {
    let w = world();
    let a = w.account;
    let disk = |id: &str, kind: &str, with_instance: bool| ecs_domain::disk::Disk {
        id: id.into(),
        account_id: a,
        region_id: REGION.into(),
        zone_id: format!("{REGION}-i"),
        name: String::new(),
        description: String::new(),
        disk_type: kind.into(),
        category: "cloud_essd".into(),
        size_gib: 40,
        instance_id: Some("i-running".into()),
        device: String::new(),
        delete_with_instance: with_instance,
        image_id: String::new(),
        charge_type: "PostPaid".into(),
        creation_time: now(),
    };
    let (system, scratch, kept) = (
        disk("d-system", "system", true),
        disk("d-scratch", "data", true),
        disk("d-kept", "data", false),
    );
    w.store
        .write(move |tx| {
            for d in [&system, &scratch, &kept] {
                tx.put_disk(d)?;
            }
            Ok(())
        })
        .unwrap();
    let caller = Caller::account(a);
    let cmd = ReleaseInstance {
        id: "i-running".into(),
        region: Some(REGION.into()),
        force: true,
        terminate_subscription: true,
        dry_run: false,
    };
    let preview = w.service.preview_release_instance(&caller, &cmd).unwrap();
    let ids = |disks: &[ecs_domain::disk::Disk]| {
        let mut ids: Vec<String> = disks.iter().map(|d| d.id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&preview.released), ["d-scratch", "d-system"]);
    assert_eq!(ids(&preview.detached), ["d-kept"]);

    w.service.release_instance(&caller, cmd).await.unwrap();
    let events = w.store.read(|tx| Ok(tx.events_after(0, 10)?)).unwrap();
    let detail = &events.last().expect("the release event").event.detail;
    let mut released: Vec<String> =
        serde_json::from_value(detail["ReleasedDisks"].clone()).unwrap();
    released.sort();
    assert_eq!(released, ids(&preview.released));
    assert_eq!(detail["DetachedDisks"], serde_json::json!(["d-kept"]));
    let left = w
        .store
        .read(move |tx| Ok(tx.disks(a, None, None)?))
        .unwrap();
    assert_eq!(ids(&left), ["d-kept"]);
    assert_eq!(left[0].instance_id, None);
}
