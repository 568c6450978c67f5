//! Conformance tests every [`Store`] engine must pass.
//!
//! Each case drives a store through the [`Store`] trait only, so any engine runs the same
//! suite. Two ways in:
//!
//! * [`store_conformance_tests!`](crate::store_conformance_tests) in an integration test, given a
//!   `fn() -> Arc<dyn Store>`, makes one `#[test]` per case;
//! * [`run_all`] runs every case in turn.
//!
//! Each case gets its own store from the factory and starts by calling `reset`. Cases only ever
//! create accounts with unique names, so a factory may hand out the same database again
//! provided the cases using it do not run at the same time. Cases fail by panicking.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration as StdDuration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Duration, Utc};
use ecs_domain::error::common::INVALID_PARAMETER;
use ecs_domain::lifecycle::ActionKind;
use ecs_domain::model::{
    AccessKey, Account, ChargeType, DedicatedHost, HostStatus, Instance, InstanceStatus,
    LockReason, RenewalSettings, Subscription,
};
use ecs_domain::Money;

use crate::{
    Claim, HostFilter, IdempotentAnswer, InstanceFilter, Job, Listing, NewEvent, Page,
    ResourceKind, Store, StoreError, StoreExt, StoreTx, TimeRange, TxError, TxResult,
};

/// One conformance case.
pub type Case = fn(Arc<dyn Store>);

/// Every case, by name. [`store_conformance_tests!`](crate::store_conformance_tests) lists the
/// same names and checks the counts agree.
pub const CASES: &[(&str, Case)] = &[
    ("accounts_and_keys", accounts_and_keys),
    ("instance_roundtrip", instance_roundtrip),
    ("upsert_keeps_creation_order", upsert_keeps_creation_order),
    ("jobs_follow_put_and_delete", jobs_follow_put_and_delete),
    ("instance_filters", instance_filters),
    ("time_filters", time_filters),
    ("field_filters", field_filters),
    ("listing_pages", listing_pages),
    ("deep_region_pages", deep_region_pages),
    (
        "deep_pages_while_membership_changes",
        deep_pages_while_membership_changes,
    ),
    ("totals_follow_changes", totals_follow_changes),
    ("hosts_and_placement", hosts_and_placement),
    ("events_cursor", events_cursor),
    ("idempotency", idempotency),
    ("settings", settings),
    ("nonces", nonces),
    ("reset_clears_resources", reset_clears_resources),
    ("rollback_on_error", rollback_on_error),
    ("rollback_on_panic", rollback_on_panic),
    ("read_only_rejects_writes", read_only_rejects_writes),
    ("read_is_a_snapshot", read_is_a_snapshot),
    ("concurrent_writers", concurrent_writers),
    ("crowded_read_modify_delete", crowded_read_modify_delete),
    ("failed_writes_in_a_crowd", failed_writes_in_a_crowd),
    (
        "claims_are_exclusive_and_lapse",
        claims_are_exclusive_and_lapse,
    ),
    ("conflicts_are_retried", conflicts_are_retried),
    ("one_leader_per_role", one_leader_per_role),
    (
        "claims_keep_each_resources_order",
        claims_keep_each_resources_order,
    ),
    ("disks_round_trip", disks_round_trip),
];

/// Runs one case on a fresh store from `make`.
pub fn run_case(case: Case, make: &dyn Fn() -> Arc<dyn Store>) {
    let store = make();
    write(&*store, |tx| tx.reset());
    case(store);
}

/// Runs every case, each on its own store from `make`.
pub fn run_all(make: &dyn Fn() -> Arc<dyn Store>) {
    for (name, case) in CASES {
        eprintln!("store conformance: {name}");
        run_case(*case, make);
    }
}

/// One `#[test]` per conformance case, each on a store from `$make`, a `fn() -> Arc<dyn Store>`
/// (or a closure expression of that type).
///
/// `store_conformance_tests!(make, skip_if = f)`: each case first calls `f() -> bool` and
/// passes without running when it is true (an engine whose server is not available here; `f`
/// says so, and decides whether that is acceptable, e.g. not in CI).
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!($make, skip_if = || false);
    };
    ($make:expr, skip_if = $skip:expr) => {
        $crate::store_conformance_tests!(@cases $make, $skip;
            accounts_and_keys,
            instance_roundtrip,
            upsert_keeps_creation_order,
            jobs_follow_put_and_delete,
            instance_filters,
            time_filters,
            field_filters,
            listing_pages,
            deep_region_pages,
            deep_pages_while_membership_changes,
            totals_follow_changes,
            hosts_and_placement,
            events_cursor,
            idempotency,
            settings,
            nonces,
            reset_clears_resources,
            rollback_on_error,
            rollback_on_panic,
            read_only_rejects_writes,
            read_is_a_snapshot,
            concurrent_writers,
            crowded_read_modify_delete,
            failed_writes_in_a_crowd,
            claims_are_exclusive_and_lapse,
            conflicts_are_retried,
            one_leader_per_role,
            claims_keep_each_resources_order,
            disks_round_trip,
        );
    };
    (@cases $make:expr, $skip:expr; $($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                if ($skip)() {
                    return;
                }
                $crate::testsuite::run_case($crate::testsuite::$case, &$make);
            }
        )+

        #[test]
        fn conformance_macro_lists_every_case() {
            let listed: &[&str] = &[$(stringify!($case)),+];
            let known: Vec<&str> = $crate::testsuite::CASES.iter().map(|(n, _)| *n).collect();
            assert_eq!(listed, known.as_slice());
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Fixtures and helpers.

/// A time from RFC 3339 text.
pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("fixture time is RFC 3339")
        .with_timezone(&Utc)
}

/// A plain running pay-as-you-go instance in cn-hangzhou-i, named after its id.
pub fn sample_instance(account_id: i64, id: &str) -> Instance {
    let created = at("2026-01-01T00:00:00Z");
    Instance {
        id: id.to_owned(),
        account_id,
        region_id: "cn-hangzhou".into(),
        zone_id: "cn-hangzhou-i".into(),
        name: id.to_owned(),
        description: String::new(),
        instance_type: "ecs.g7.large".into(),
        cpu: 2,
        memory_mib: 8192,
        image_id: "aliyun_3_x64_20G_alibase_20240819.vhd".into(),
        charge_type: ChargeType::PostPaid,
        status: InstanceStatus::Running,
        creation_time: created,
        start_time: Some(created),
        auto_release_time: None,
        deletion_protection: false,
        subscription: None,
        locks: Vec::new(),
        tags: Vec::new(),
        security_group_ids: vec!["sg-bp1".into()],
        vswitch_id: "vsw-bp1".into(),
        dedicated_host_id: None,
        stopped_charging: false,
        host_socket: None,
        network: Default::default(),
        launch: Default::default(),
    }
}

/// A plain available pay-as-you-go host in cn-hangzhou-i, named after its id.
pub fn sample_host(account_id: i64, id: &str) -> DedicatedHost {
    DedicatedHost {
        id: id.to_owned(),
        account_id,
        region_id: "cn-hangzhou".into(),
        zone_id: "cn-hangzhou-i".into(),
        name: id.to_owned(),
        description: String::new(),
        host_type: "ddh.g6".into(),
        charge_type: ChargeType::PostPaid,
        status: HostStatus::Available,
        creation_time: at("2026-01-01T00:00:00Z"),
        auto_release_time: None,
        subscription: None,
        locks: Vec::new(),
        tags: Vec::new(),
    }
}

fn subscription(expired_time: DateTime<Utc>) -> Subscription {
    Subscription {
        expired_time,
        renewal: RenewalSettings::default(),
        next_renewal_attempt: None,
        expiry_release_time: None,
    }
}

/// A name no other case (or earlier run on a kept database) has used.
fn unique(base: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{base}-{}-{nanos}-{n}", std::process::id())
}

fn write<T, F>(store: &dyn Store, f: F) -> T
where
    T: Send + 'static,
    F: Fn(&mut dyn StoreTx) -> crate::StoreResult<T> + Send + 'static,
{
    store
        .write(move |tx| f(tx).map_err(TxError::from))
        .unwrap_or_else(|e| panic!("write failed: {e:?}"))
}

fn read<T, F>(store: &dyn Store, f: F) -> T
where
    T: Send + 'static,
    F: Fn(&mut dyn StoreTx) -> crate::StoreResult<T> + Send + 'static,
{
    store
        .read(move |tx| f(tx).map_err(TxError::from))
        .unwrap_or_else(|e| panic!("read failed: {e:?}"))
}

fn new_account(store: &dyn Store, base: &str) -> Account {
    let name = unique(base);
    write(store, move |tx| tx.create_account(&name))
}

fn put_instances(store: &dyn Store, instances: Vec<Instance>) {
    write(store, move |tx| {
        instances.iter().try_for_each(|i| tx.put_instance(i))
    });
}

fn list_instances(store: &dyn Store, filter: InstanceFilter, page: Page) -> Listing<Instance> {
    read(store, move |tx| tx.list_instances(&filter, page))
}

/// Ids of every instance matching `filter`, checking `total` agrees.
fn matching(store: &dyn Store, filter: InstanceFilter) -> Vec<String> {
    let what = format!("{filter:?}");
    let listing = list_instances(
        store,
        filter,
        Page::Offset {
            offset: 0,
            limit: 1000,
        },
    );
    assert_eq!(listing.total, listing.items.len() as u64, "total of {what}");
    assert_eq!(listing.next_after, None, "next_after of {what}");
    ids(&listing.items)
}

fn ids(items: &[Instance]) -> Vec<String> {
    items.iter().map(|i| i.id.clone()).collect()
}

fn host_ids(items: &[DedicatedHost]) -> Vec<String> {
    items.iter().map(|h| h.id.clone()).collect()
}

fn strs(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

fn all_jobs(store: &dyn Store) -> Vec<Job> {
    read(store, |tx| tx.due_jobs(at("2999-01-01T00:00:00Z"), 10_000))
}

fn rejected() -> TxError {
    TxError::Rejected(INVALID_PARAMETER.err())
}

// ---------------------------------------------------------------------------------------------
// Cases.

/// Accounts get distinct ids and unique names; balances and access keys round-trip.
pub fn accounts_and_keys(store: Arc<dyn Store>) {
    let (name_a, name_b) = (unique("alice"), unique("bob"));
    let (a, b) = {
        let (na, nb) = (name_a.clone(), name_b.clone());
        write(&*store, move |tx| {
            Ok((tx.create_account(&na)?, tx.create_account(&nb)?))
        })
    };
    assert_ne!(a.id, b.id);
    assert_eq!((a.name.as_str(), a.balance), (name_a.as_str(), Money::ZERO));

    let dup = name_a.clone();
    let again = store.write(move |tx| Ok(tx.create_account(&dup)?));
    assert!(
        again.is_err(),
        "a second account with the same name must be refused"
    );

    let rich: Money = "1234.5678".parse().unwrap();
    let poor: Money = "-3.5".parse().unwrap();
    write(&*store, move |tx| {
        tx.set_balance(a.id, rich)?;
        tx.set_balance(b.id, poor)
    });
    let (got_a, got_b, missing, missing_name) = {
        let nb = name_b.clone();
        read(&*store, move |tx| {
            Ok((
                tx.account(a.id)?,
                tx.account_by_name(&nb)?,
                tx.account(i64::MAX)?,
                tx.account_by_name("no such account")?,
            ))
        })
    };
    assert_eq!(
        got_a,
        Some(Account {
            id: a.id,
            name: name_a,
            balance: rich
        })
    );
    assert_eq!(
        got_b.map(|acct| (acct.id, acct.balance)),
        Some((b.id, poor))
    );
    assert_eq!((missing, missing_name), (None, None));

    let key_a = AccessKey {
        id: unique("LTAIa"),
        secret: "secret-a".into(),
        account_id: a.id,
    };
    let key_b = AccessKey {
        id: unique("LTAIb"),
        secret: "secret-b".into(),
        account_id: b.id,
    };
    {
        let (ka, kb) = (key_a.clone(), key_b.clone());
        write(&*store, move |tx| {
            tx.put_access_key(&ka)?;
            tx.put_access_key(&kb)
        });
    }
    let (one, all, none) = {
        let id = key_a.id.clone();
        read(&*store, move |tx| {
            Ok((
                tx.access_key(&id)?,
                tx.access_keys()?,
                tx.access_key("LTAI-missing")?,
            ))
        })
    };
    assert_eq!(one, Some(key_a.clone()));
    assert!(all.contains(&key_a) && all.contains(&key_b), "{all:?}");
    assert_eq!(none, None);

    // Putting a key again replaces its secret.
    let rotated = AccessKey {
        secret: "secret-a2".into(),
        ..key_a.clone()
    };
    {
        let k = rotated.clone();
        write(&*store, move |tx| tx.put_access_key(&k));
    }
    let id = key_a.id.clone();
    assert_eq!(read(&*store, move |tx| tx.access_key(&id)), Some(rotated));
}

/// Every field of an instance survives a round trip; it is visible only to its account; delete
/// reports whether it removed something.
pub fn instance_roundtrip(store: Arc<dyn Store>) {
    let owner = new_account(&*store, "owner");
    let other = new_account(&*store, "other");
    let mut inst = sample_instance(owner.id, "i-roundtrip");
    inst.charge_type = ChargeType::PrePaid;
    inst.status = InstanceStatus::Stopped;
    inst.description = "quoted \"text\", unicode ✓".into();
    // Sub-second precision must survive too.
    inst.start_time = Some(at("2026-01-02T03:04:05.123456789Z"));
    inst.auto_release_time = Some(at("2026-06-01T00:00:00Z"));
    inst.deletion_protection = true;
    inst.subscription = Some(Subscription {
        next_renewal_attempt: Some(at("2026-04-22T00:00:00Z")),
        ..subscription(at("2026-05-01T00:00:00Z"))
    });
    inst.locks = vec![LockReason::Financial, LockReason::Security];
    inst.tags = vec![("env".into(), "prod".into()), ("team".into(), "".into())];
    inst.dedicated_host_id = Some("dh-roundtrip".into());
    put_instances(&*store, vec![inst.clone()]);

    let (mine, theirs, missing) = read(&*store, move |tx| {
        Ok((
            tx.instance(owner.id, "i-roundtrip")?,
            tx.instance(other.id, "i-roundtrip")?,
            tx.instance(owner.id, "i-missing")?,
        ))
    });
    assert_eq!(mine, Some(inst));
    assert_eq!((theirs, missing), (None, None));

    let wrong_owner = write(&*store, move |tx| {
        tx.delete_instance(other.id, "i-roundtrip")
    });
    assert!(!wrong_owner, "another account cannot delete the instance");
    let (first, second) = write(&*store, move |tx| {
        Ok((
            tx.delete_instance(owner.id, "i-roundtrip")?,
            tx.delete_instance(owner.id, "i-roundtrip")?,
        ))
    });
    assert!(first && !second);
    assert_eq!(
        read(&*store, move |tx| tx.instance(owner.id, "i-roundtrip")),
        None
    );
}

/// Updating an instance keeps its place in listings; deleting and re-creating moves it last.
pub fn upsert_keeps_creation_order(store: Arc<dyn Store>) {
    let acct = new_account(&*store, "order");
    for id in ["i-a", "i-b", "i-c"] {
        put_instances(&*store, vec![sample_instance(acct.id, id)]);
    }
    let mut renamed = sample_instance(acct.id, "i-a");
    renamed.name = "renamed".into();
    renamed.status = InstanceStatus::Stopped;
    put_instances(&*store, vec![renamed.clone()]);

    let filter = InstanceFilter {
        account_id: acct.id,
        ..Default::default()
    };
    let listing = list_instances(
        &*store,
        filter.clone(),
        Page::After {
            after: 0,
            limit: 10,
        },
    );
    assert_eq!(ids(&listing.items), strs(&["i-a", "i-b", "i-c"]));
    assert_eq!(listing.items[0], renamed);

    write(&*store, move |tx| tx.delete_instance(acct.id, "i-b"));
    put_instances(&*store, vec![sample_instance(acct.id, "i-b")]);
    assert_eq!(matching(&*store, filter), strs(&["i-a", "i-c", "i-b"]));
}

/// The due-time index follows puts and deletes: ordering, limit, inclusive boundary, next_due.
pub fn jobs_follow_put_and_delete(store: Arc<dyn Store>) {
    let acct = new_account(&*store, "jobs");
    let a = acct.id;
    let t0 = at("2026-03-01T00:00:00Z");
    let release = t0 + Duration::hours(3);
    let host_release = t0 + Duration::hours(2) + Duration::milliseconds(500);

    let mut i0 = sample_instance(a, "i-0");
    i0.auto_release_time = Some(release);
    let mut i1 = sample_instance(a, "i-1");
    i1.auto_release_time = Some(release);
    let mut i2 = sample_instance(a, "i-2");
    i2.charge_type = ChargeType::PrePaid;
    i2.subscription = Some(Subscription {
        next_renewal_attempt: Some(t0 + Duration::days(1)),
        ..subscription(t0 + Duration::days(10))
    });
    let mut h1 = sample_host(a, "dh-1");
    h1.auto_release_time = Some(host_release);
    let plain = sample_instance(a, "i-plain");
    {
        // Put in an order unlike the expected one, so ordering comes from the index.
        let (i0, i1, i2, h1) = (i0.clone(), i1.clone(), i2.clone(), h1.clone());
        write(&*store, move |tx| {
            tx.put_instance(&i2)?;
            tx.put_instance(&i1)?;
            tx.put_instance(&plain)?;
            tx.put_host(&h1)?;
            tx.put_instance(&i0)
        });
    }

    let job = |resource, id: &str, kind, due_at| Job {
        resource,
        resource_id: id.to_owned(),
        account_id: a,
        kind,
        due_at,
    };
    let expected = vec![
        job(
            ResourceKind::DedicatedHost,
            "dh-1",
            ActionKind::AutoRelease,
            host_release,
        ),
        job(
            ResourceKind::Instance,
            "i-0",
            ActionKind::AutoRelease,
            release,
        ),
        job(
            ResourceKind::Instance,
            "i-1",
            ActionKind::AutoRelease,
            release,
        ),
        job(
            ResourceKind::Instance,
            "i-2",
            ActionKind::RenewalAttempt,
            t0 + Duration::days(1),
        ),
        job(
            ResourceKind::Instance,
            "i-2",
            ActionKind::Expire,
            t0 + Duration::days(10),
        ),
    ];
    assert_eq!(all_jobs(&*store), expected);

    let far = at("2999-01-01T00:00:00Z");
    let (two, before, just_before, exactly, next) = read(&*store, move |tx| {
        Ok((
            tx.due_jobs(far, 2)?,
            tx.due_jobs(t0, 10)?,
            tx.due_jobs(t0 + Duration::hours(2), 10)?,
            tx.due_jobs(host_release, 10)?,
            tx.next_due()?,
        ))
    });
    assert_eq!(two, expected[..2].to_vec());
    assert!(
        before.is_empty() && just_before.is_empty(),
        "{before:?} {just_before:?}"
    );
    assert_eq!(
        exactly,
        expected[..1].to_vec(),
        "due exactly now counts as due"
    );
    assert_eq!(next, Some(host_release));

    // A put that leaves the schedule alone keeps the jobs; one that changes it replaces them.
    let mut renamed = i0.clone();
    renamed.name = "still due".into();
    let mut expired = i2.clone();
    if let Some(sub) = expired.subscription.as_mut() {
        sub.next_renewal_attempt = None;
        sub.expiry_release_time = Some(t0 + Duration::days(25));
    }
    let mut cancelled = i1.clone();
    cancelled.auto_release_time = None;
    write(&*store, move |tx| {
        tx.put_instance(&renamed)?;
        tx.put_instance(&expired)?;
        tx.put_instance(&cancelled)?;
        tx.delete_host(a, "dh-1")
    });
    assert_eq!(
        all_jobs(&*store),
        vec![
            job(
                ResourceKind::Instance,
                "i-0",
                ActionKind::AutoRelease,
                release
            ),
            job(
                ResourceKind::Instance,
                "i-2",
                ActionKind::ExpiryRelease,
                t0 + Duration::days(25)
            ),
        ]
    );
    assert_eq!(read(&*store, |tx| tx.next_due()), Some(release));

    write(&*store, move |tx| {
        tx.delete_instance(a, "i-0")?;
        tx.delete_instance(a, "i-2")
    });
    assert_eq!(all_jobs(&*store), Vec::new());
    assert_eq!(read(&*store, |tx| tx.next_due()), None);
}

/// Every InstanceFilter field, alone and combined; results always scoped to the account.
/// Filters on fields kept only in the JSON (DescribeInstances' VpcId, InstanceType, addresses,
/// ...; DescribeDedicatedHosts' type, name and tags): matching and non-matching rows, lists,
/// defaults for rows without the field, and totals and pages agreeing.
pub fn field_filters(store: Arc<dyn Store>) {
    use crate::{DataField, FieldMatch};
    let acct = new_account(&*store, "fields");
    let a = acct.id;
    let mut j1 = sample_instance(a, "i-j1");
    j1.network.vpc_id = "vpc-a".into();
    j1.network.private_ips = vec!["172.16.0.1".into()];
    j1.network.public_ips = vec!["47.1.1.1".into()];
    j1.security_group_ids = vec!["sg-a".into(), "sg-b".into()];
    j1.launch.key_pair_name = "kp".into();
    j1.launch.resource_group_id = "rg-a".into();
    j1.launch.internet_charge_type = "PayByBandwidth".into();
    let mut j2 = sample_instance(a, "i-j2");
    j2.network.vpc_id = "vpc-b".into();
    j2.network.private_ips = vec!["172.16.0.2".into(), "172.16.0.3".into()];
    j2.instance_type = "ecs.g7.xlarge".into();
    j2.image_id = "win2022".into();
    j2.vswitch_id = "vsw-b".into();
    j2.security_group_ids = vec!["sg-b".into()];
    let mut j3 = sample_instance(a, "i-j3");
    // Written before the network existed: no VPC, no addresses, default charge type.
    j3.instance_type = "ecs.g7ne.large".into();
    j3.security_group_ids = Vec::new();
    let mut j4 = sample_instance(a, "i-j4");
    j4.instance_type = "ecs.g7.ne.large".into();
    j4.security_group_ids = vec!["sg-c".into()];
    put_instances(&*store, vec![j1, j2, j3, j4]);

    let check = |fields: Vec<FieldMatch>, family: Option<&str>, want: &[&str]| {
        let filter = InstanceFilter {
            account_id: a,
            region_id: Some("cn-hangzhou".into()),
            fields,
            type_family: family.map(str::to_owned),
            ..Default::default()
        };
        let what = format!("{filter:?}");
        assert_eq!(matching(&*store, filter.clone()), strs(want), "{what}");
        // Filters apply before paging: a page of one shows the first match and the full total.
        let page = list_instances(
            &*store,
            filter,
            Page::Offset {
                offset: 0,
                limit: 1,
            },
        );
        assert_eq!(page.total, want.len() as u64, "{what}");
        assert_eq!(ids(&page.items), strs(&want[..want.len().min(1)]), "{what}");
    };
    let m = |field: DataField, values: &[&str]| FieldMatch {
        field,
        values: strs(values),
    };
    check(vec![m(DataField::VpcId, &["vpc-a"])], None, &["i-j1"]);
    check(
        vec![m(DataField::VpcId, &["vpc-a", "vpc-b"])],
        None,
        &["i-j1", "i-j2"],
    );
    check(vec![m(DataField::VpcId, &["vpc-x"])], None, &[]);
    check(vec![m(DataField::VpcId, &[])], None, &[]);
    check(
        vec![m(DataField::InstanceType, &["ecs.g7.xlarge"])],
        None,
        &["i-j2"],
    );
    check(vec![m(DataField::ImageId, &["win2022"])], None, &["i-j2"]);
    check(
        vec![m(DataField::VSwitchId, &["vsw-bp1"])],
        None,
        &["i-j1", "i-j3", "i-j4"],
    );
    check(
        vec![m(DataField::SecurityGroupIds, &["sg-b"])],
        None,
        &["i-j1", "i-j2"],
    );
    check(
        vec![m(DataField::SecurityGroupIds, &["sg-c", "sg-a"])],
        None,
        &["i-j1", "i-j4"],
    );
    check(vec![m(DataField::SecurityGroupIds, &["sg-z"])], None, &[]);
    check(
        vec![m(DataField::PrivateIpAddresses, &["172.16.0.3"])],
        None,
        &["i-j2"],
    );
    check(
        vec![m(
            DataField::PrivateIpAddresses,
            &["172.16.0.1", "172.16.0.2"],
        )],
        None,
        &["i-j1", "i-j2"],
    );
    check(
        vec![m(DataField::PublicIpAddresses, &["47.1.1.1"])],
        None,
        &["i-j1"],
    );
    check(
        vec![m(DataField::PublicIpAddresses, &["172.16.0.1"])],
        None,
        &[],
    );
    check(vec![m(DataField::KeyPairName, &["kp"])], None, &["i-j1"]);
    check(
        vec![m(DataField::ResourceGroupId, &["rg-a"])],
        None,
        &["i-j1"],
    );
    check(
        vec![m(DataField::ResourceGroupId, &[""])],
        None,
        &["i-j2", "i-j3", "i-j4"],
    );
    check(
        vec![m(DataField::InternetChargeType, &["PayByBandwidth"])],
        None,
        &["i-j1"],
    );
    check(
        vec![m(DataField::InternetChargeType, &["PayByTraffic"])],
        None,
        &["i-j2", "i-j3", "i-j4"],
    );
    // Every condition must hold.
    check(
        vec![
            m(DataField::SecurityGroupIds, &["sg-b"]),
            m(DataField::VpcId, &["vpc-b"]),
        ],
        None,
        &["i-j2"],
    );
    // A family is the type without its last part: `ecs.g7` holds neither `ecs.g7ne.large` nor
    // `ecs.g7.ne.large`.
    check(Vec::new(), Some("ecs.g7"), &["i-j1", "i-j2"]);
    check(Vec::new(), Some("ecs.g7ne"), &["i-j3"]);
    check(Vec::new(), Some("ecs.g7.ne"), &["i-j4"]);
    check(Vec::new(), Some("ecs.g"), &[]);
    check(Vec::new(), Some("ecs.g7%"), &[]);
    // A burstable type names its CPU-to-memory ratio after a hyphen: `ecs.t6` holds
    // `ecs.t6-c1m2.large` (as the catalogue's family rule says), and `ecs.t6-c1m2` is no family.
    let mut j5 = sample_instance(a, "i-j5");
    j5.instance_type = "ecs.t6-c1m2.large".into();
    // Without a size part it is a lone type, its own family.
    let mut j6 = sample_instance(a, "i-j6");
    j6.instance_type = "ecs.t6-c1m2".into();
    put_instances(&*store, vec![j5, j6]);
    check(Vec::new(), Some("ecs.t6"), &["i-j5"]);
    check(Vec::new(), Some("ecs.t6-c1m2"), &[]);
    check(Vec::new(), Some("ecs.t"), &[]);
    check(Vec::new(), Some("ecs.g7"), &["i-j1", "i-j2"]);

    // Hosts: name, type, tags.
    let mut h1 = sample_host(a, "dh-1");
    h1.name = "alpha".into();
    h1.tags = vec![("env".into(), "prod".into())];
    let mut h2 = sample_host(a, "dh-2");
    h2.host_type = "ddh.c6".into();
    write(&*store, move |tx| {
        tx.put_host(&h1)?;
        tx.put_host(&h2)
    });
    let hosts = |f: HostFilter| -> Vec<String> {
        let listing = read(&*store, move |tx| {
            tx.list_hosts(
                &f,
                Page::Offset {
                    offset: 0,
                    limit: 100,
                },
            )
        });
        assert_eq!(listing.total, listing.items.len() as u64);
        listing.items.into_iter().map(|h| h.id).collect()
    };
    let base = HostFilter {
        account_id: a,
        ..Default::default()
    };
    assert_eq!(hosts(base.clone()), strs(&["dh-1", "dh-2"]));
    assert_eq!(
        hosts(HostFilter {
            name: Some("alpha".into()),
            ..base.clone()
        }),
        strs(&["dh-1"])
    );
    assert_eq!(
        hosts(HostFilter {
            tags: vec![("env".into(), Some("prod".into()))],
            ..base.clone()
        }),
        strs(&["dh-1"])
    );
    assert_eq!(
        hosts(HostFilter {
            tags: vec![("env".into(), Some("test".into()))],
            ..base.clone()
        }),
        strs(&[])
    );
    assert_eq!(
        hosts(HostFilter {
            fields: vec![m(DataField::HostType, &["ddh.c6"])],
            ..base.clone()
        }),
        strs(&["dh-2"])
    );
}

pub fn instance_filters(store: Arc<dyn Store>) {
    let acct = new_account(&*store, "filters");
    let stranger = new_account(&*store, "stranger");
    let a = acct.id;

    let mut f1 = sample_instance(a, "i-f1");
    f1.name = "web-1".into();
    f1.dedicated_host_id = Some("dh-a".into());
    let mut f2 = sample_instance(a, "i-f2");
    f2.name = "web-2".into();
    f2.zone_id = "cn-hangzhou-j".into();
    f2.status = InstanceStatus::Stopped;
    f2.charge_type = ChargeType::PrePaid;
    f2.subscription = Some(subscription(at("2026-05-01T00:00:00Z")));
    f2.locks = vec![LockReason::Financial];
    let mut f3 = sample_instance(a, "i-f3");
    f3.name = "db_1%".into();
    f3.region_id = "cn-beijing".into();
    f3.zone_id = "cn-beijing-a".into();
    f3.locks = vec![LockReason::Security, LockReason::Financial];
    f3.dedicated_host_id = Some("dh-a".into());
    let mut f4 = sample_instance(a, "i-f4");
    f4.name = "Web-3".into();
    f4.locks = vec![LockReason::Recycling];
    f4.dedicated_host_id = Some("dh-b".into());
    let mut f5 = sample_instance(a, "i-f5");
    f5.name = "dbx1x".into();
    f5.zone_id = "cn-hangzhou-j".into();
    f1.tags = vec![("env".into(), "prod".into()), ("team".into(), "a".into())];
    f2.tags = vec![("env".into(), "test".into())];
    f5.tags = vec![("env".into(), "prod".into())];
    let mut g1 = sample_instance(stranger.id, "i-g1");
    g1.name = "web-1".into();
    g1.dedicated_host_id = Some("dh-a".into());
    put_instances(&*store, vec![f1, g1, f2, f3, f4, f5]);

    let base = InstanceFilter {
        account_id: a,
        ..Default::default()
    };
    let check = |filter: InstanceFilter, want: &[&str]| {
        let what = format!("{filter:?}");
        assert_eq!(matching(&*store, filter), strs(want), "{what}");
    };
    let tag = |k: &str, v: Option<&str>| (k.to_string(), v.map(str::to_string));
    check(
        InstanceFilter {
            tags: vec![tag("env", Some("prod"))],
            ..base.clone()
        },
        &["i-f1", "i-f5"],
    );
    check(
        InstanceFilter {
            tags: vec![tag("env", None)],
            ..base.clone()
        },
        &["i-f1", "i-f2", "i-f5"],
    );
    check(
        InstanceFilter {
            tags: vec![tag("env", Some("prod")), tag("team", Some("a"))],
            ..base.clone()
        },
        &["i-f1"],
    );
    check(
        InstanceFilter {
            tags: vec![tag("env", Some("staging"))],
            ..base.clone()
        },
        &[],
    );
    let region = |r: &str| Some(r.to_owned());

    check(base.clone(), &["i-f1", "i-f2", "i-f3", "i-f4", "i-f5"]);
    check(
        InstanceFilter {
            account_id: stranger.id,
            ..Default::default()
        },
        &["i-g1"],
    );
    check(
        InstanceFilter {
            account_id: i64::MAX,
            ..Default::default()
        },
        &[],
    );
    check(
        InstanceFilter {
            region_id: region("cn-hangzhou"),
            ..base.clone()
        },
        &["i-f1", "i-f2", "i-f4", "i-f5"],
    );
    check(
        InstanceFilter {
            region_id: region("us-west-1"),
            ..base.clone()
        },
        &[],
    );
    check(
        InstanceFilter {
            region_id: region("cn-hangzhou"),
            zone_id: Some("cn-hangzhou-i".into()),
            ..base.clone()
        },
        &["i-f1", "i-f4"],
    );
    check(
        InstanceFilter {
            status: Some("Stopped".into()),
            ..base.clone()
        },
        &["i-f2"],
    );
    check(
        InstanceFilter {
            charge_type: Some(ChargeType::PrePaid),
            ..base.clone()
        },
        &["i-f2"],
    );
    check(
        InstanceFilter {
            charge_type: Some(ChargeType::PostPaid),
            ..base.clone()
        },
        &["i-f1", "i-f3", "i-f4", "i-f5"],
    );

    for (host, want) in [
        ("dh-a", &["i-f1", "i-f3"][..]),
        ("dh-b", &["i-f4"][..]),
        ("dh-none", &[][..]),
    ] {
        check(
            InstanceFilter {
                host_id: Some(host.into()),
                ..base.clone()
            },
            want,
        );
    }

    // Names: exact, `*` wildcards; `%`, `_`, `?` and `[` are ordinary characters; case counts.
    for (pattern, want) in [
        ("web-1", &["i-f1"][..]),
        ("web", &[][..]),
        ("web-*", &["i-f1", "i-f2"][..]),
        ("*1*", &["i-f1", "i-f3", "i-f5"][..]),
        ("*", &["i-f1", "i-f2", "i-f3", "i-f4", "i-f5"][..]),
        ("db_1*", &["i-f3"][..]),
        ("db_1%", &["i-f3"][..]),
        ("*%", &["i-f3"][..]),
        ("db?1*", &[][..]),
        ("[d]*", &[][..]),
        ("Web-*", &["i-f4"][..]),
        ("WEB-1", &[][..]),
    ] {
        check(
            InstanceFilter {
                name: Some(pattern.into()),
                ..base.clone()
            },
            want,
        );
    }

    for (reason, want) in [
        ("financial", &["i-f2", "i-f3"][..]),
        ("security", &["i-f3"][..]),
        ("recycling", &["i-f4"][..]),
        ("refunded", &[][..]),
        ("financial,security", &[][..]),
    ] {
        check(
            InstanceFilter {
                lock_reason: Some(reason.into()),
                ..base.clone()
            },
            want,
        );
    }

    // Ids: creation order whatever the list order; other accounts' and unknown ids ignored;
    // duplicates count once; an explicit empty list matches nothing.
    check(
        InstanceFilter {
            ids: Some(strs(&["i-f3", "i-g1", "i-nope", "i-f1", "i-f3"])),
            ..base.clone()
        },
        &["i-f1", "i-f3"],
    );
    check(
        InstanceFilter {
            ids: Some(Vec::new()),
            ..base.clone()
        },
        &[],
    );

    check(
        InstanceFilter {
            region_id: region("cn-hangzhou"),
            status: Some("Running".into()),
            name: Some("*-*".into()),
            ..base.clone()
        },
        &["i-f1", "i-f4"],
    );
    check(
        InstanceFilter {
            ids: Some(strs(&["i-f1", "i-f2", "i-f4"])),
            lock_reason: Some("financial".into()),
            ..base
        },
        &["i-f2"],
    );
}

/// Creation and expiry bounds: inclusive, by the minute (seconds inside the bound's minute
/// match), combined with each other and with the other filters, and pay-as-you-go instances
/// expire at ECS's conventional far-off date.
pub fn time_filters(store: Arc<dyn Store>) {
    let a = new_account(&*store, "times").id;
    let mut early = sample_instance(a, "i-t-early");
    early.creation_time = at("2026-03-01T10:00:00Z");
    let mut mid = sample_instance(a, "i-t-mid");
    mid.creation_time = at("2026-03-01T10:05:42.250Z");
    mid.charge_type = ChargeType::PrePaid;
    mid.subscription = Some(subscription(at("2026-04-01T10:05:00Z")));
    let mut late = sample_instance(a, "i-t-late");
    late.creation_time = at("2026-03-02T00:00:00Z");
    late.charge_type = ChargeType::PrePaid;
    late.subscription = Some(subscription(at("2027-03-02T00:00:00Z")));
    late.status = InstanceStatus::Stopped;
    put_instances(&*store, vec![early, mid, late]);

    let base = InstanceFilter {
        account_id: a,
        ..Default::default()
    };
    let range = |from: Option<&str>, to: Option<&str>| TimeRange {
        from: from.map(at),
        to: to.map(at),
    };
    let check = |filter: InstanceFilter, want: &[&str]| {
        let what = format!("{filter:?}");
        let listing = list_instances(
            &*store,
            filter,
            Page::Offset {
                offset: 0,
                limit: 10,
            },
        );
        assert_eq!(ids(&listing.items), strs(want), "{what}");
        assert_eq!(listing.total, want.len() as u64, "total of {what}");
    };
    let created = |from, to| InstanceFilter {
        created: range(from, to),
        ..base.clone()
    };
    let expires = |from, to| InstanceFilter {
        expires: range(from, to),
        ..base.clone()
    };
    check(
        created(Some("2026-03-01T10:05:00Z"), None),
        &["i-t-mid", "i-t-late"],
    );
    check(
        created(None, Some("2026-03-01T10:05:00Z")),
        &["i-t-early", "i-t-mid"],
    );
    check(
        created(Some("2026-03-01T10:01:00Z"), Some("2026-03-01T23:59:00Z")),
        &["i-t-mid"],
    );
    check(created(Some("2026-03-03T00:00:00Z"), None), &[]);
    check(expires(None, Some("2026-04-01T10:05:00Z")), &["i-t-mid"]);
    check(
        expires(Some("2026-04-01T10:06:00Z"), None),
        &["i-t-early", "i-t-late"],
    );
    check(
        expires(None, Some("2099-01-01T00:00:00Z")),
        &["i-t-mid", "i-t-late"],
    );
    check(
        InstanceFilter {
            created: range(Some("2026-03-01T10:05:00Z"), None),
            expires: range(Some("2026-05-01T00:00:00Z"), None),
            status: Some("Stopped".into()),
            ..base.clone()
        },
        &["i-t-late"],
    );
    check(
        InstanceFilter {
            created: range(Some("2026-03-01T10:05:00Z"), None),
            status: Some("Running".into()),
            ..base
        },
        &["i-t-mid"],
    );
}

/// Both page kinds: items, `total` of all matches, `next_after` only when more rows follow.
/// A listing's total stays right through inserts, upserts, deletes, a move to another region,
/// rollbacks and reset, with and without other filters.
pub fn totals_follow_changes(store: Arc<dyn Store>) {
    let a = new_account(&*store, "totals").id;
    let total = |region: &str, status: Option<&str>| {
        let filter = InstanceFilter {
            account_id: a,
            region_id: Some(region.to_string()),
            status: status.map(str::to_string),
            ..Default::default()
        };
        read(&*store, move |tx| {
            Ok(tx
                .list_instances(
                    &filter,
                    Page::Offset {
                        offset: 0,
                        limit: 1,
                    },
                )?
                .total)
        })
    };
    let instances: Vec<Instance> = (0..5)
        .map(|n| sample_instance(a, &format!("i-t{n}")))
        .collect();
    put_instances(&*store, instances.clone());
    assert_eq!(total("cn-hangzhou", None), 5);
    // Upserting the same instances again changes nothing.
    put_instances(&*store, instances.clone());
    assert_eq!(total("cn-hangzhou", None), 5);
    write(&*store, move |tx| tx.delete_instance(a, "i-t0").map(|_| ()));
    assert_eq!(total("cn-hangzhou", None), 4);
    let mut moved = instances[1].clone();
    moved.region_id = "cn-beijing".into();
    moved.status = InstanceStatus::Stopped;
    put_instances(&*store, vec![moved]);
    assert_eq!(total("cn-hangzhou", None), 3);
    assert_eq!(total("cn-beijing", None), 1);
    assert_eq!(total("cn-beijing", Some("Stopped")), 1);
    let failed = store.write(move |tx| -> TxResult<()> {
        tx.put_instance(&sample_instance(a, "i-rolled-back"))?;
        Err(StoreError::Backend("refused on purpose".into()).into())
    });
    assert!(failed.is_err());
    assert_eq!(total("cn-hangzhou", None), 3);
    write(&*store, |tx| tx.reset());
    assert_eq!(total("cn-hangzhou", None), 0);
    assert_eq!(total("cn-beijing", None), 0);
}

pub fn listing_pages(store: Arc<dyn Store>) {
    let acct = new_account(&*store, "pages");
    let noise = new_account(&*store, "noise");
    let names: Vec<String> = (0..25).map(|n| format!("i-p{n:02}")).collect();
    // Another account's instances in between, so the sequence has gaps.
    let mut batch = Vec::new();
    for (n, id) in names.iter().enumerate() {
        batch.push(sample_instance(acct.id, id));
        batch.push(sample_instance(noise.id, &format!("i-noise{n:02}")));
    }
    put_instances(&*store, batch);

    let filter = InstanceFilter {
        account_id: acct.id,
        ..Default::default()
    };
    let page = |p| list_instances(&*store, filter.clone(), p);
    let want = |range: std::ops::Range<usize>| names[range].to_vec();

    let first = page(Page::Offset {
        offset: 0,
        limit: 10,
    });
    assert_eq!((ids(&first.items), first.total), (want(0..10), 25));
    assert!(first.next_after.is_some());
    let middle = page(Page::Offset {
        offset: 10,
        limit: 10,
    });
    assert_eq!(ids(&middle.items), want(10..20));
    assert!(middle.next_after.is_some());
    let last = page(Page::Offset {
        offset: 20,
        limit: 10,
    });
    assert_eq!(
        (ids(&last.items), last.total, last.next_after),
        (want(20..25), 25, None)
    );
    let exact_end = page(Page::Offset {
        offset: 15,
        limit: 10,
    });
    assert_eq!(
        (ids(&exact_end.items), exact_end.next_after),
        (want(15..25), None)
    );
    for offset in [25, 1000, u64::MAX] {
        let past = page(Page::Offset { offset, limit: 10 });
        assert_eq!(
            (past.items.len(), past.total, past.next_after),
            (0, 25, None)
        );
    }
    let empty = page(Page::Offset {
        offset: 0,
        limit: 0,
    });
    assert_eq!(
        (empty.items.len(), empty.total, empty.next_after),
        (0, 25, None)
    );

    // Walking with After gives every row once, in order, and the cursors match Offset pages.
    let after_first = page(Page::After {
        after: first.next_after.unwrap_or_default(),
        limit: 10,
    });
    assert_eq!(ids(&after_first.items), want(10..20));
    let mut seen = Vec::new();
    let mut cursor = 0;
    let mut sizes = Vec::new();
    loop {
        let listing = page(Page::After {
            after: cursor,
            limit: 10,
        });
        assert_eq!(listing.total, 25);
        sizes.push(listing.items.len());
        seen.extend(ids(&listing.items));
        match listing.next_after {
            Some(next) => {
                assert!(next > cursor);
                cursor = next;
            }
            None => break,
        }
    }
    assert_eq!((seen, sizes), (want(0..25), vec![10, 10, 5]));

    // A cursor that ends exactly at the last row: the final page is full and says no more.
    let fifteen = page(Page::After {
        after: 0,
        limit: 15,
    });
    let rest = page(Page::After {
        after: fifteen.next_after.unwrap_or_default(),
        limit: 10,
    });
    assert_eq!((ids(&rest.items), rest.next_after), (want(15..25), None));
    let beyond = page(Page::After {
        after: i64::MAX,
        limit: 10,
    });
    assert_eq!(
        (beyond.items.len(), beyond.total, beyond.next_after),
        (0, 25, None)
    );

    // Pages of a filtered listing count only the matches.
    let f = InstanceFilter {
        ids: Some(want(5..12)),
        ..filter.clone()
    };
    let filtered = list_instances(&*store, f.clone(), Page::After { after: 0, limit: 4 });
    assert_eq!((ids(&filtered.items), filtered.total), (want(5..9), 7));
    let more = list_instances(
        &*store,
        f,
        Page::After {
            after: filtered.next_after.unwrap_or_default(),
            limit: 4,
        },
    );
    assert_eq!((ids(&more.items), more.next_after), (want(9..12), None));
}

/// Page-number listings of one region, far from the start (an engine may find where a page starts
/// without stepping over every row before it), before and after the region's membership changes.
pub fn deep_region_pages(store: Arc<dyn Store>) {
    let acct = new_account(&*store, "deep");
    let noise = new_account(&*store, "deep-noise");
    let mut names: Vec<String> = (0..700).map(|n| format!("i-deep{n:04}")).collect();
    // Another region of the same account and another account in between: gaps in the sequence.
    let mut batch = Vec::new();
    for (n, id) in names.iter().enumerate() {
        batch.push(sample_instance(acct.id, id));
        if n % 3 == 0 {
            let mut elsewhere = sample_instance(acct.id, &format!("i-west{n:04}"));
            elsewhere.region_id = "us-west-1".into();
            batch.push(elsewhere);
            batch.push(sample_instance(noise.id, &format!("i-other{n:04}")));
        }
    }
    put_instances(&*store, batch);

    let filter = InstanceFilter {
        account_id: acct.id,
        region_id: Some("cn-hangzhou".into()),
        ..Default::default()
    };
    let check = |names: &[String], why: &str| {
        for (offset, limit) in [
            (0u64, 10u32),
            (127, 1),
            (128, 1),
            (129, 100),
            (250, 7),
            (255, 1),
            (256, 100),
            (600, 100),
            (650, 100),
            (699, 5),
            (700, 5),
            (5000, 100),
        ] {
            let listing = list_instances(&*store, filter.clone(), Page::Offset { offset, limit });
            let from = (offset as usize).min(names.len());
            let to = (from + limit as usize).min(names.len());
            assert_eq!(
                (ids(&listing.items), listing.total),
                (names[from..to].to_vec(), names.len() as u64),
                "{why}: offset {offset}, limit {limit}"
            );
            assert_eq!(
                listing.next_after.is_some(),
                to < names.len(),
                "{why}: offset {offset}, limit {limit}"
            );
        }
    };
    check(&names, "as created");

    // Deleting and creating move every later row: a page read before must not be reused.
    let account_id = acct.id;
    write(&*store, move |tx| {
        for id in ["i-deep0005", "i-deep0130", "i-deep0131", "i-deep0400"] {
            assert!(tx.delete_instance(account_id, id)?);
        }
        Ok(())
    });
    names.retain(|n| {
        !["i-deep0005", "i-deep0130", "i-deep0131", "i-deep0400"].contains(&n.as_str())
    });
    check(&names, "after deletions");

    let added: Vec<String> = (0..40).map(|n| format!("i-late{n:02}")).collect();
    put_instances(
        &*store,
        added
            .iter()
            .map(|id| sample_instance(acct.id, id))
            .collect(),
    );
    names.extend(added);
    check(&names, "after creations");

    // Moving an instance to another region changes both regions' rows.
    let mut moved = sample_instance(acct.id, "i-deep0200");
    moved.region_id = "us-west-1".into();
    put_instances(&*store, vec![moved]);
    names.retain(|n| n != "i-deep0200");
    check(&names, "after a move");
}

/// Deep pages read while another thread creates and deletes instances of the same region: inside
/// one read, the unfiltered page must equal the same page of an equivalent filtered listing (every
/// instance is pay-as-you-go), which no engine can answer from remembered positions.
pub fn deep_pages_while_membership_changes(store: Arc<dyn Store>) {
    let acct = new_account(&*store, "churn");
    let a = acct.id;
    put_instances(
        &*store,
        (0..400)
            .map(|n| sample_instance(a, &format!("i-churn{n:04}")))
            .collect(),
    );
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let store = Arc::clone(&store);
        let done = Arc::clone(&done);
        thread::spawn(move || {
            for n in 0..300 {
                let gone = format!("i-churn{:04}", (n * 7) % 400);
                let new = format!("i-new{n:04}");
                write(&*store, move |tx| {
                    tx.delete_instance(a, &gone)?;
                    tx.put_instance(&sample_instance(a, &new))
                });
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let store = Arc::clone(&store);
            let done = Arc::clone(&done);
            thread::spawn(move || {
                let mut rounds = 0;
                while !done.load(Ordering::SeqCst) || rounds < 3 {
                    rounds += 1;
                    let mismatches = read(&*store, move |tx| {
                        let plain = InstanceFilter {
                            account_id: a,
                            region_id: Some("cn-hangzhou".into()),
                            ..Default::default()
                        };
                        let filtered = InstanceFilter {
                            charge_type: Some(ChargeType::PostPaid),
                            ..plain.clone()
                        };
                        let mut bad = Vec::new();
                        for offset in [128u64, 200, 333] {
                            let page = Page::Offset { offset, limit: 50 };
                            let fast = tx.list_instances(&plain, page)?;
                            let slow = tx.list_instances(&filtered, page)?;
                            if (ids(&fast.items), fast.total) != (ids(&slow.items), slow.total) {
                                bad.push(offset);
                            }
                        }
                        Ok(bad)
                    });
                    assert_eq!(mismatches, Vec::<u64>::new(), "round {rounds}");
                }
                rounds
            })
        })
        .collect();
    writer.join().expect("writer thread");
    for r in readers {
        assert!(r.join().expect("reader thread") >= 3);
    }
}

/// Hosts: filters, pages, upsert order, deletion scope; counting instances placed on a host.
pub fn hosts_and_placement(store: Arc<dyn Store>) {
    let acct = new_account(&*store, "hosts");
    let stranger = new_account(&*store, "host-stranger");
    let a = acct.id;
    let h1 = sample_host(a, "dh-1");
    let mut h2 = sample_host(a, "dh-2");
    h2.region_id = "cn-beijing".into();
    h2.zone_id = "cn-beijing-a".into();
    h2.status = HostStatus::UnderAssessment;
    let mut h3 = sample_host(a, "dh-3");
    h3.zone_id = "cn-hangzhou-j".into();
    h3.locks = vec![LockReason::Financial];
    let h9 = sample_host(stranger.id, "dh-9");
    {
        let (h1, h2, h3) = (h1.clone(), h2.clone(), h3.clone());
        write(&*store, move |tx| {
            tx.put_host(&h1)?;
            tx.put_host(&h9)?;
            tx.put_host(&h2)?;
            tx.put_host(&h3)
        });
    }
    let hosts =
        |filter: HostFilter, page: Page| read(&*store, move |tx| tx.list_hosts(&filter, page));
    let all = Page::Offset {
        offset: 0,
        limit: 100,
    };
    let base = HostFilter {
        account_id: a,
        ..Default::default()
    };
    let check = |filter: HostFilter, want: &[&str]| {
        let what = format!("{filter:?}");
        let listing = hosts(filter, all);
        assert_eq!(host_ids(&listing.items), strs(want), "{what}");
        assert_eq!(listing.total, want.len() as u64, "{what}");
    };
    check(base.clone(), &["dh-1", "dh-2", "dh-3"]);
    check(
        HostFilter {
            region_id: Some("cn-hangzhou".into()),
            ..base.clone()
        },
        &["dh-1", "dh-3"],
    );
    check(
        HostFilter {
            zone_id: Some("cn-hangzhou-j".into()),
            ..base.clone()
        },
        &["dh-3"],
    );
    check(
        HostFilter {
            status: Some("UnderAssessment".into()),
            ..base.clone()
        },
        &["dh-2"],
    );
    check(
        HostFilter {
            ids: Some(strs(&["dh-3", "dh-9", "dh-1"])),
            ..base.clone()
        },
        &["dh-1", "dh-3"],
    );
    check(
        HostFilter {
            ids: Some(Vec::new()),
            ..base.clone()
        },
        &[],
    );
    check(
        HostFilter {
            lock_reason: Some("financial".into()),
            ..base.clone()
        },
        &["dh-3"],
    );
    check(
        HostFilter {
            lock_reason: Some("security".into()),
            ..base.clone()
        },
        &[],
    );

    let first = hosts(base.clone(), Page::After { after: 0, limit: 2 });
    assert_eq!(
        (host_ids(&first.items), first.total),
        (strs(&["dh-1", "dh-2"]), 3)
    );
    let second = hosts(
        base.clone(),
        Page::After {
            after: first.next_after.unwrap_or_default(),
            limit: 2,
        },
    );
    assert_eq!(
        (host_ids(&second.items), second.next_after),
        (strs(&["dh-3"]), None)
    );
    let offset = hosts(
        base.clone(),
        Page::Offset {
            offset: 1,
            limit: 1,
        },
    );
    assert_eq!(host_ids(&offset.items), strs(&["dh-2"]));
    assert!(offset.next_after.is_some());

    // Updating keeps the place; the data comes back whole.
    let mut h1b = h1.clone();
    h1b.status = HostStatus::PermanentFailure;
    h1b.locks = vec![LockReason::Financial];
    {
        let h = h1b.clone();
        write(&*store, move |tx| tx.put_host(&h));
    }
    let listing = hosts(base.clone(), all);
    assert_eq!(listing.items.first(), Some(&h1b));
    assert_eq!(
        read(&*store, move |tx| Ok((
            tx.host(a, "dh-1")?,
            tx.host(a, "dh-9")?
        ))),
        (Some(h1b), None)
    );

    // Placement counts are per account and follow puts and deletes.
    let on = |host: &str| {
        let mut i = sample_instance(a, &format!("i-on-{host}-{}", unique("x")));
        i.dedicated_host_id = Some(host.to_owned());
        i
    };
    let (p1, p2, p3) = (on("dh-1"), on("dh-1"), on("dh-3"));
    let mut foreign = sample_instance(stranger.id, "i-foreign");
    foreign.dedicated_host_id = Some("dh-1".into());
    put_instances(
        &*store,
        vec![
            p1.clone(),
            p2.clone(),
            p3,
            foreign,
            sample_instance(a, "i-floating"),
        ],
    );
    let counts = |store: &dyn Store| {
        read(store, move |tx| {
            Ok((
                tx.instances_on_host(a, "dh-1")?,
                tx.instances_on_host(a, "dh-2")?,
                tx.instances_on_host(a, "dh-3")?,
            ))
        })
    };
    assert_eq!(counts(&*store), (2, 0, 1));
    let mut moved = p2;
    moved.dedicated_host_id = Some("dh-3".into());
    let p1_id = p1.id.clone();
    write(&*store, move |tx| {
        tx.put_instance(&moved)?;
        tx.delete_instance(a, &p1_id)
    });
    assert_eq!(counts(&*store), (0, 0, 2));

    let (theirs, mine, again) = write(&*store, move |tx| {
        Ok((
            tx.delete_host(stranger.id, "dh-2")?,
            tx.delete_host(a, "dh-2")?,
            tx.delete_host(a, "dh-2")?,
        ))
    });
    assert_eq!((theirs, mine, again), (false, true, false));
    check(base, &["dh-1", "dh-3"]);
}

/// Events get increasing sequence numbers and are read back in order from a cursor.
pub fn events_cursor(store: Arc<dyn Store>) {
    let acct = new_account(&*store, "events");
    let events: Vec<NewEvent> = (0..5)
        .map(|n| NewEvent {
            account_id: acct.id,
            resource: if n % 2 == 0 {
                ResourceKind::Instance
            } else {
                ResourceKind::DedicatedHost
            },
            resource_id: format!("i-ev{n}"),
            action: if n == 0 {
                "DeleteInstance".into()
            } else {
                ActionKind::Expire.as_str().into()
            },
            scheduled_at: (n > 0).then(|| at("2026-02-01T00:00:00Z") + Duration::days(n)),
            happened_at: at("2026-02-01T00:00:00.25Z") + Duration::days(n),
            outcome: "locked".into(),
            detail: serde_json::json!({ "n": n, "price": "12.50", "nested": { "ok": true } }),
        })
        .collect();
    let seqs = {
        let events = events.clone();
        write(&*store, move |tx| {
            events
                .iter()
                .map(|e| tx.append_event(e))
                .collect::<Result<Vec<_>, _>>()
        })
    };
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    let (head, tail, none, zero) = {
        let (s3, s5) = (seqs[2], seqs[4]);
        read(&*store, move |tx| {
            Ok((
                tx.events_after(0, 3)?,
                tx.events_after(s3, 10)?,
                tx.events_after(s5, 10)?,
                tx.events_after(0, 0)?,
            ))
        })
    };
    let pairs = |got: &[crate::Event]| -> Vec<(i64, NewEvent)> {
        got.iter().map(|e| (e.seq, e.event.clone())).collect()
    };
    let expected: Vec<(i64, NewEvent)> = seqs.iter().copied().zip(events).collect();
    assert_eq!(pairs(&head), expected[..3].to_vec());
    assert_eq!(pairs(&tail), expected[3..].to_vec());
    assert!(none.is_empty() && zero.is_empty());
}

/// Remembered answers are keyed by account, action and token, and can be replaced.
pub fn idempotency(store: Arc<dyn Store>) {
    let acct = new_account(&*store, "tokens");
    let other = new_account(&*store, "tokens-other");
    let a = acct.id;
    let answer = IdempotentAnswer {
        fingerprint: "sha256:abc".into(),
        response: serde_json::json!({ "InstanceIdSets": { "InstanceIdSet": ["i-1"] } }),
    };
    assert_eq!(
        read(&*store, move |tx| tx.idempotent_answer(
            a,
            "RunInstances",
            "tok"
        )),
        None
    );
    {
        let ans = answer.clone();
        write(&*store, move |tx| {
            tx.put_idempotent_answer(a, "RunInstances", "tok", &ans)
        });
    }
    let (got, other_action, other_token, other_account) = read(&*store, move |tx| {
        Ok((
            tx.idempotent_answer(a, "RunInstances", "tok")?,
            tx.idempotent_answer(a, "DeleteInstance", "tok")?,
            tx.idempotent_answer(a, "RunInstances", "tok2")?,
            tx.idempotent_answer(other.id, "RunInstances", "tok")?,
        ))
    });
    assert_eq!(got, Some(answer));
    assert_eq!(
        (other_action, other_token, other_account),
        (None, None, None)
    );

    let replaced = IdempotentAnswer {
        fingerprint: "sha256:def".into(),
        response: serde_json::json!("plain string"),
    };
    {
        let ans = replaced.clone();
        write(&*store, move |tx| {
            tx.put_idempotent_answer(a, "RunInstances", "tok", &ans)
        });
    }
    assert_eq!(
        read(&*store, move |tx| tx.idempotent_answer(
            a,
            "RunInstances",
            "tok"
        )),
        Some(replaced)
    );
}

/// Settings: absent until put, then the last value put.
pub fn settings(store: Arc<dyn Store>) {
    let key = unique("clock");
    let k = key.clone();
    assert_eq!(read(&*store, move |tx| tx.setting(&k)), None);
    for value in ["2026-01-01T00:00:00Z", "", "later"] {
        let k = key.clone();
        write(&*store, move |tx| tx.put_setting(&k, value));
        let k = key.clone();
        assert_eq!(
            read(&*store, move |tx| tx.setting(&k)),
            Some(value.to_owned())
        );
    }
    assert_eq!(read(&*store, |tx| tx.setting("no such setting")), None);
}

/// Nonces come back by time, oldest first; forgetting drops only older ones; a reset keeps
/// them; a failed transaction records none.
pub fn nonces(store: Arc<dyn Store>) {
    let t = |s: &str| at(s);
    write(&*store, move |tx| {
        tx.record_nonce("key-a", "n1", t("2026-06-01T10:00:00Z"))?;
        tx.record_nonce("key-b", "n1", t("2026-06-01T10:05:00Z"))?;
        tx.record_nonce("key-a", "n2", t("2026-06-01T10:10:00Z"))?;
        Ok(())
    });
    let failed = store.write(move |tx| {
        tx.record_nonce("key-a", "lost", t("2026-06-01T10:11:00Z"))?;
        Err::<(), _>(rejected())
    });
    assert!(failed.is_err());
    write(&*store, |tx| tx.reset());
    let since = |when: &'static str| {
        read(&*store, move |tx| tx.nonces_since(at(when)))
            .into_iter()
            .map(|(k, n, when)| (k, n, when.to_rfc3339()))
            .collect::<Vec<_>>()
    };
    let row = |k: &str, n: &str, when: &str| (k.to_string(), n.to_string(), at(when).to_rfc3339());
    assert_eq!(
        since("2026-06-01T10:05:00Z"),
        vec![
            row("key-b", "n1", "2026-06-01T10:05:00Z"),
            row("key-a", "n2", "2026-06-01T10:10:00Z"),
        ]
    );
    let gone = write(&*store, |tx| {
        tx.forget_nonces_before(at("2026-06-01T10:05:00Z"))
    });
    assert_eq!(gone, 1);
    assert_eq!(since("2026-01-01T00:00:00Z").len(), 2);

    // Claiming: new once per key; a recorded nonce is not new; a pruned one is new again.
    let claim = |k: &'static str, n: &'static str| {
        write(&*store, move |tx| {
            tx.claim_nonce(k, n, at("2026-06-01T10:20:00Z"))
        })
    };
    assert!(!claim("key-a", "n2"), "recorded by record_nonce");
    assert!(claim("key-a", "n9"));
    assert!(!claim("key-a", "n9"));
    assert!(claim("key-c", "n9"), "nonces are per key");
    assert!(claim("key-a", "n1"), "forgotten, so new again");
    // Many claimers of one nonce at once: exactly one is told it is new.
    let firsts: usize = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                store
                    .write(|tx| {
                        Ok(tx.claim_nonce("key-race", "n-race", at("2026-06-01T10:21:00Z"))?)
                    })
                    .unwrap_or_else(|e| panic!("claim failed: {e:?}"))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| usize::from(t.join().expect("claimer thread")))
        .sum();
    assert_eq!(firsts, 1);
}

/// Reset empties resources, jobs, events and tokens and zeroes balances; accounts, keys and
/// settings stay.
/// A disk as an instance's data disk would be made.
pub fn sample_disk(account_id: i64, id: &str, instance_id: Option<&str>) -> ecs_domain::disk::Disk {
    ecs_domain::disk::Disk {
        id: id.into(),
        account_id,
        region_id: "cn-hangzhou".into(),
        zone_id: "cn-hangzhou-i".into(),
        name: String::new(),
        description: String::new(),
        disk_type: "data".into(),
        category: "cloud_essd".into(),
        size_gib: 40,
        instance_id: instance_id.map(str::to_string),
        device: "/dev/xvdb".into(),
        delete_with_instance: true,
        image_id: String::new(),
        charge_type: "PostPaid".into(),
        creation_time: at("2026-01-01T00:00:00Z"),
    }
}

/// Disks: put (insert, then replace keeping creation order), looked up by account, region and
/// instance, deleted; other accounts' disks are not seen; reset removes them.
pub fn disks_round_trip(store: Arc<dyn Store>) {
    let a = new_account(&*store, "disks-a").id;
    let b = new_account(&*store, "disks-b").id;
    let d1 = sample_disk(a, &unique("d-one"), Some("i-disk"));
    let d2 = sample_disk(a, &unique("d-two"), Some("i-disk"));
    let mut far = sample_disk(a, &unique("d-far"), None);
    far.region_id = "cn-beijing".into();
    let theirs = sample_disk(b, &unique("d-theirs"), Some("i-disk"));
    {
        let (d1, d2, far, theirs) = (d1.clone(), d2.clone(), far.clone(), theirs.clone());
        write(&*store, move |tx| {
            for d in [&d1, &d2, &far, &theirs] {
                tx.put_disk(d)?;
            }
            Ok(())
        });
    }
    let all = read(&*store, move |tx| tx.disks(a, None, None));
    assert_eq!(all, vec![d1.clone(), d2.clone(), far.clone()]);
    let on = read(&*store, move |tx| {
        tx.disks(a, Some("cn-hangzhou"), Some("i-disk"))
    });
    assert_eq!(on, vec![d1.clone(), d2.clone()]);
    // Detaching the first keeps its place in creation order.
    let mut detached = d1.clone();
    detached.instance_id = None;
    {
        let detached = detached.clone();
        write(&*store, move |tx| tx.put_disk(&detached));
    }
    let on = read(&*store, move |tx| tx.disks(a, None, Some("i-disk")));
    assert_eq!(on, vec![d2.clone()]);
    let all = read(&*store, move |tx| tx.disks(a, Some("cn-hangzhou"), None));
    assert_eq!(all, vec![detached, d2.clone()]);
    let (id2, idt) = (d2.id.clone(), theirs.id.clone());
    let gone = write(&*store, move |tx| {
        Ok((tx.delete_disk(a, &id2)?, tx.delete_disk(a, &idt)?))
    });
    assert_eq!(gone, (true, false), "another account's disk is not deleted");
    assert_eq!(
        read(&*store, move |tx| tx.disks(b, None, None)),
        vec![theirs]
    );
    write(&*store, |tx| tx.reset());
    assert!(read(&*store, move |tx| tx.disks(a, None, None)).is_empty());
}

pub fn reset_clears_resources(store: Arc<dyn Store>) {
    let acct = new_account(&*store, "reset");
    let a = acct.id;
    let key = AccessKey {
        id: unique("LTAIreset"),
        secret: "s".into(),
        account_id: a,
    };
    let setting = unique("reset-setting");
    let mut inst = sample_instance(a, "i-reset");
    inst.auto_release_time = Some(at("2026-03-01T00:00:00Z"));
    let mut host = sample_host(a, "dh-reset");
    host.auto_release_time = Some(at("2026-03-02T00:00:00Z"));
    {
        let (key, setting, inst, host) = (key.clone(), setting.clone(), inst.clone(), host);
        write(&*store, move |tx| {
            tx.set_balance(a, Money::from_units(1_000_000))?;
            tx.put_access_key(&key)?;
            tx.put_instance(&inst)?;
            tx.put_host(&host)?;
            tx.append_event(&NewEvent {
                account_id: a,
                resource: ResourceKind::Instance,
                resource_id: "i-reset".into(),
                action: "AutoRelease".into(),
                scheduled_at: None,
                happened_at: at("2026-01-01T00:00:00Z"),
                outcome: "released".into(),
                detail: serde_json::Value::Null,
            })?;
            tx.put_idempotent_answer(
                a,
                "RunInstances",
                "t",
                &IdempotentAnswer {
                    fingerprint: "f".into(),
                    response: serde_json::Value::Null,
                },
            )?;
            tx.put_setting(&setting, "kept")
        });
    }
    write(&*store, |tx| tx.reset());

    let listing = list_instances(
        &*store,
        InstanceFilter {
            account_id: a,
            ..Default::default()
        },
        Page::Offset {
            offset: 0,
            limit: 10,
        },
    );
    assert_eq!((listing.items.len(), listing.total), (0, 0));
    let (instance, host, next, events, answer, account, kept_key, kept_setting) = {
        let (key_id, setting) = (key.id.clone(), setting.clone());
        read(&*store, move |tx| {
            Ok((
                tx.instance(a, "i-reset")?,
                tx.host(a, "dh-reset")?,
                tx.next_due()?,
                tx.events_after(0, 10)?,
                tx.idempotent_answer(a, "RunInstances", "t")?,
                tx.account(a)?,
                tx.access_key(&key_id)?,
                tx.setting(&setting)?,
            ))
        })
    };
    assert_eq!((instance, host, next, answer), (None, None, None, None));
    assert!(events.is_empty());
    assert_eq!(all_jobs(&*store), Vec::new());
    assert_eq!(account.map(|acct| acct.balance), Some(Money::ZERO));
    assert_eq!(kept_key, Some(key));
    assert_eq!(kept_setting.as_deref(), Some("kept"));

    // The store is fully usable afterwards, including the same ids.
    put_instances(&*store, vec![inst.clone()]);
    assert_eq!(
        matching(
            &*store,
            InstanceFilter {
                account_id: a,
                ..Default::default()
            }
        ),
        strs(&["i-reset"])
    );
    assert_eq!(all_jobs(&*store).len(), 1);
}

/// A closure that returns an error leaves no trace, whatever it wrote first, jobs included.
pub fn rollback_on_error(store: Arc<dyn Store>) {
    let acct = new_account(&*store, "rollback");
    let a = acct.id;
    let setting = unique("rollback-setting");
    let mut keep = sample_instance(a, "i-keep");
    keep.auto_release_time = Some(at("2026-04-01T00:00:00Z"));
    {
        let (keep, setting) = (keep.clone(), setting.clone());
        write(&*store, move |tx| {
            tx.put_instance(&keep)?;
            tx.set_balance(a, Money::from_units(500))?;
            tx.put_setting(&setting, "before")
        });
    }
    let jobs_before = all_jobs(&*store);
    assert_eq!(jobs_before.len(), 1);

    let new_name = unique("ghost");
    let key_id = unique("LTAIghost");
    let outcomes: Vec<TxError> = [true, false]
        .into_iter()
        .map(|as_rejection| {
            let (new_name, key_id, setting) = (new_name.clone(), key_id.clone(), setting.clone());
            let result = store.write(move |tx| -> TxResult<()> {
                let ghost = tx.create_account(&new_name)?;
                tx.set_balance(a, Money::from_units(1))?;
                tx.put_access_key(&AccessKey {
                    id: key_id.clone(),
                    secret: "s".into(),
                    account_id: ghost.id,
                })?;
                let mut inst = sample_instance(a, "i-ghost");
                inst.auto_release_time = Some(at("2026-03-01T00:00:00Z"));
                tx.put_instance(&inst)?;
                let mut host = sample_host(a, "dh-ghost");
                host.auto_release_time = Some(at("2026-03-01T00:00:00Z"));
                tx.put_host(&host)?;
                tx.delete_instance(a, "i-keep")?;
                tx.append_event(&NewEvent {
                    account_id: a,
                    resource: ResourceKind::Instance,
                    resource_id: "i-ghost".into(),
                    action: "RunInstances".into(),
                    scheduled_at: None,
                    happened_at: at("2026-01-01T00:00:00Z"),
                    outcome: "created".into(),
                    detail: serde_json::Value::Null,
                })?;
                tx.put_idempotent_answer(
                    a,
                    "RunInstances",
                    "ghost",
                    &IdempotentAnswer {
                        fingerprint: "f".into(),
                        response: serde_json::Value::Null,
                    },
                )?;
                tx.put_setting(&setting, "after")?;
                Err(if as_rejection {
                    rejected()
                } else {
                    TxError::Store(StoreError::Backend("closure gave up".into()))
                })
            });
            match result {
                Ok(()) => panic!("a failing closure must fail the write"),
                Err(e) => e,
            }
        })
        .collect();
    assert!(
        matches!(&outcomes[0], TxError::Rejected(e) if e.is(&INVALID_PARAMETER)),
        "{:?}",
        outcomes[0]
    );
    assert!(
        matches!(&outcomes[1], TxError::Store(StoreError::Backend(_))),
        "{:?}",
        outcomes[1]
    );

    let seen = read(&*store, move |tx| {
        Ok((
            tx.account_by_name(&new_name)?,
            tx.account(a)?.map(|acct| acct.balance),
            tx.access_key(&key_id)?,
            tx.instance(a, "i-ghost")?,
            tx.host(a, "dh-ghost")?,
            tx.instance(a, "i-keep")?,
            tx.events_after(0, 10)?,
            tx.idempotent_answer(a, "RunInstances", "ghost")?,
            tx.setting(&setting)?,
        ))
    });
    assert_eq!(seen.0, None, "account created by a failed write");
    assert_eq!(
        seen.1,
        Some(Money::from_units(500)),
        "balance set by a failed write"
    );
    assert_eq!(seen.2, None, "access key put by a failed write");
    assert_eq!(
        (seen.3, seen.4),
        (None, None),
        "resources put by a failed write"
    );
    assert_eq!(seen.5, Some(keep), "instance deleted by a failed write");
    assert!(seen.6.is_empty(), "events appended by a failed write");
    assert_eq!(seen.7, None, "token remembered by a failed write");
    assert_eq!(seen.8.as_deref(), Some("before"));
    assert_eq!(
        all_jobs(&*store),
        jobs_before,
        "jobs changed by a failed write"
    );
}

/// A panicking closure is rolled back and reported as [`StoreError::Panicked`]; the store keeps
/// working, for writes around it and for reads.
pub fn rollback_on_panic(store: Arc<dyn Store>) {
    let acct = new_account(&*store, "panic");
    let a = acct.id;
    let result = store.write(move |tx| -> TxResult<()> {
        let mut inst = sample_instance(a, "i-panic");
        inst.auto_release_time = Some(at("2026-03-01T00:00:00Z"));
        tx.put_instance(&inst)?;
        panic!("deliberate panic inside a write closure (expected by the test)");
    });
    assert!(
        matches!(result, Err(TxError::Store(StoreError::Panicked))),
        "{result:?}"
    );
    assert_eq!(read(&*store, move |tx| tx.instance(a, "i-panic")), None);
    assert_eq!(all_jobs(&*store), Vec::new());

    let result = store.read(|_tx| -> TxResult<()> {
        panic!("deliberate panic inside a read closure (expected by the test)");
    });
    assert!(
        matches!(result, Err(TxError::Store(StoreError::Panicked))),
        "{result:?}"
    );

    // Panics among concurrent writers do not take the others' writes down with them.
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                for n in 0..10 {
                    let id = format!("i-pt{t}-{n}");
                    let explode = n % 3 == 0;
                    let result = store.write(move |tx| -> TxResult<()> {
                        tx.put_instance(&sample_instance(a, &id))?;
                        if explode {
                            panic!("deliberate panic among concurrent writers (expected)");
                        }
                        Ok(())
                    });
                    assert_eq!(result.is_ok(), !explode, "{result:?}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
    let mut want: Vec<String> = (0..8)
        .flat_map(|t| {
            (0..10)
                .filter(|n| n % 3 != 0)
                .map(move |n| format!("i-pt{t}-{n}"))
        })
        .collect();
    want.sort();
    let mut got = matching(
        &*store,
        InstanceFilter {
            account_id: a,
            ..Default::default()
        },
    );
    got.sort();
    assert_eq!(got, want);
}

/// Writes attempted inside `read` fail with an error (no panic) and change nothing.
pub fn read_only_rejects_writes(store: Arc<dyn Store>) {
    let acct = new_account(&*store, "readonly");
    let a = acct.id;
    let key = unique("readonly-setting");
    let k = key.clone();
    let refused = store
        .read(move |tx| {
            let setting = tx.put_setting(&k, "v").is_err();
            let instance = tx.put_instance(&sample_instance(a, "i-ro")).is_err();
            let balance = tx.set_balance(a, Money::from_units(7)).is_err();
            Ok((setting, instance, balance))
        })
        .map_err(|e| format!("{e:?}"));
    // An engine may also fail the whole read once a write was attempted; it must not succeed.
    if let Ok(flags) = refused {
        assert_eq!(flags, (true, true, true));
    }
    let (setting, instance, balance) = read(&*store, move |tx| {
        Ok((tx.setting(&key)?, tx.instance(a, "i-ro")?, tx.account(a)?))
    });
    assert_eq!((setting, instance), (None, None));
    assert_eq!(balance.map(|acct| acct.balance), Some(Money::ZERO));
    // And writing still works.
    write(&*store, move |tx| tx.set_balance(a, Money::from_units(9)));
}

/// A read closure sees one snapshot: a write committed while it runs is not visible to it, and
/// is visible to the next read.
pub fn read_is_a_snapshot(store: Arc<dyn Store>) {
    let key = unique("snapshot");
    {
        let k = key.clone();
        write(&*store, move |tx| tx.put_setting(&k, "1"));
    }
    let (started_tx, started) = mpsc::channel();
    let (go, go_rx) = mpsc::channel::<()>();
    let reader = {
        let store = Arc::clone(&store);
        let k = key.clone();
        thread::spawn(move || {
            store.read(move |tx| {
                let first = tx.setting(&k)?;
                let _ = started_tx.send(());
                let _ = go_rx.recv_timeout(StdDuration::from_secs(10));
                let second = tx.setting(&k)?;
                Ok((first, second))
            })
        })
    };
    started
        .recv_timeout(StdDuration::from_secs(10))
        .expect("reader started");
    {
        let k = key.clone();
        write(&*store, move |tx| tx.put_setting(&k, "2"));
    }
    let _ = go.send(());
    let seen = reader.join().expect("reader thread").expect("read");
    assert_eq!(seen, (Some("1".to_owned()), Some("1".to_owned())));
    assert_eq!(
        read(&*store, move |tx| tx.setting(&key)),
        Some("2".to_owned())
    );
}

/// Many threads writing at once: every acknowledged write is there afterwards.
pub fn concurrent_writers(store: Arc<dyn Store>) {
    const THREADS: usize = 16;
    const WRITES: usize = 50;
    let acct = new_account(&*store, "concurrent");
    let a = acct.id;
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                for n in 0..WRITES {
                    let id = format!("i-c{t:02}-{n:02}");
                    write(&*store, move |tx| {
                        tx.put_instance(&sample_instance(a, &id))?;
                        tx.append_event(&NewEvent {
                            account_id: a,
                            resource: ResourceKind::Instance,
                            resource_id: id.clone(),
                            action: "RunInstances".into(),
                            scheduled_at: None,
                            happened_at: at("2026-01-01T00:00:00Z"),
                            outcome: "created".into(),
                            detail: serde_json::Value::Null,
                        })
                    });
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
    let listing = list_instances(
        &*store,
        InstanceFilter {
            account_id: a,
            ..Default::default()
        },
        Page::Offset {
            offset: 0,
            limit: 10_000,
        },
    );
    assert_eq!(listing.total, (THREADS * WRITES) as u64);
    let mut got = ids(&listing.items);
    got.sort();
    let mut want: Vec<String> = (0..THREADS)
        .flat_map(|t| (0..WRITES).map(move |n| format!("i-c{t:02}-{n:02}")))
        .collect();
    want.sort();
    assert_eq!(got, want);
    let events = read(&*store, |tx| tx.events_after(0, 10_000));
    assert_eq!(events.len(), THREADS * WRITES);
}

/// Many clients each working on their own instances (create, read and change with a release
/// time, delete): nothing they touch is shared, so every transaction must succeed. An engine
/// whose isolation reports false conflicts (PostgreSQL's serializable locks whole index pages)
/// must absorb them by running the transaction again; giving up after a few reruns failed one
/// call in a hundred and fifty from eight HTTP clients.
pub fn crowded_read_modify_delete(store: Arc<dyn Store>) {
    const THREADS: usize = 8;
    const CYCLES: usize = 60;
    let acct = new_account(&*store, "crowded");
    let a = acct.id;
    let release = at("2026-06-01T00:00:00Z");
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                for n in 0..CYCLES {
                    let id = format!("i-rmd{t:02}-{n:03}");
                    {
                        let id = id.clone();
                        write(&*store, move |tx| tx.put_instance(&sample_instance(a, &id)));
                    }
                    {
                        let id = id.clone();
                        write(&*store, move |tx| {
                            let mut instance = tx
                                .instance(a, &id)?
                                .ok_or_else(|| StoreError::Backend(format!("{id} vanished")))?;
                            instance.auto_release_time =
                                Some(release + Duration::minutes((t * CYCLES + n) as i64));
                            instance.status = InstanceStatus::Stopped;
                            tx.put_instance(&instance)
                        });
                    }
                    let kept = read(&*store, {
                        let id = id.clone();
                        move |tx| tx.instance(a, &id)
                    })
                    .expect("the changed instance");
                    assert_eq!(kept.status, InstanceStatus::Stopped);
                    if n % 2 == 0 {
                        write(&*store, move |tx| tx.delete_instance(a, &id));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
    let listing = list_instances(
        &*store,
        InstanceFilter {
            account_id: a,
            ..Default::default()
        },
        Page::Offset {
            offset: 0,
            limit: 10_000,
        },
    );
    assert_eq!(listing.total, (THREADS * CYCLES / 2) as u64);
    let due = read(&*store, |tx| {
        tx.due_jobs(at("2030-01-01T00:00:00Z"), 10_000)
    });
    assert_eq!(
        due.len(),
        THREADS * CYCLES / 2,
        "one release job per kept instance"
    );
}

/// Writes queued up behind a slow one (an engine that commits in groups runs them together):
/// the failing and panicking ones leave nothing, the others all keep their writes.
pub fn failed_writes_in_a_crowd(store: Arc<dyn Store>) {
    const CROWD: usize = 30;
    let acct = new_account(&*store, "crowd");
    let a = acct.id;

    // Hold the writer busy until the crowd has queued behind it.
    let (inside_tx, inside) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let blocker = {
        let store = Arc::clone(&store);
        thread::spawn(move || {
            write(&*store, move |tx| {
                tx.put_instance(&sample_instance(a, "i-blocker"))?;
                let _ = inside_tx.send(());
                let _ = release_rx.recv_timeout(StdDuration::from_secs(10));
                Ok(())
            })
        })
    };
    inside
        .recv_timeout(StdDuration::from_secs(10))
        .expect("blocking write started");

    // `submit` returns once the write is queued (an engine without a writer thread runs it
    // right away), so the whole crowd is behind the blocker when it is let go: no sleep.
    let crowd: Vec<_> = (0..CROWD)
        .map(|n| {
            let id = format!("i-crowd{n:02}");
            let (answer, outcome) = mpsc::channel();
            store.submit(
                move |tx| -> TxResult<usize> {
                    let mut inst = sample_instance(a, &id);
                    inst.auto_release_time = Some(at("2026-03-01T00:00:00Z"));
                    tx.put_instance(&inst)?;
                    match n % 3 {
                        0 => Err(rejected()),
                        1 => panic!("deliberate panic in a crowded batch (expected)"),
                        _ => Ok(n),
                    }
                },
                move |result| {
                    let _ = answer.send(result);
                },
            );
            outcome
        })
        .collect();
    let _ = release.send(());
    blocker.join().expect("blocker thread");

    for (n, outcome) in crowd.into_iter().enumerate() {
        let result = outcome
            .recv_timeout(StdDuration::from_secs(30))
            .expect("every crowd write answers");
        match n % 3 {
            0 => assert!(
                matches!(result, Err(TxError::Rejected(_))),
                "{n}: {result:?}"
            ),
            1 => assert!(
                matches!(result, Err(TxError::Store(StoreError::Panicked))),
                "{n}: {result:?}"
            ),
            _ => assert_eq!(result.ok(), Some(n)),
        }
    }
    let mut want: Vec<String> = (0..CROWD)
        .filter(|n| n % 3 == 2)
        .map(|n| format!("i-crowd{n:02}"))
        .collect();
    want.push("i-blocker".into());
    want.sort();
    let mut got = matching(
        &*store,
        InstanceFilter {
            account_id: a,
            ..Default::default()
        },
    );
    got.sort();
    assert_eq!(got, want);
    let mut job_ids: Vec<String> = all_jobs(&*store)
        .into_iter()
        .map(|j| j.resource_id)
        .collect();
    job_ids.sort();
    want.retain(|id| id != "i-blocker");
    assert_eq!(job_ids, want, "only the kept writes have jobs");
}

/// A due job is claimed by one owner at a time; a lapsed lease is taken over; a claim is only
/// honoured for the very job it was made on (a rescheduled resource is a new, unclaimed job);
/// finishing a claim removes the job.
pub fn claims_are_exclusive_and_lapse(store: Arc<dyn Store>) {
    let a = new_account(&*store, "claims").id;
    let t0 = at("2026-05-01T00:00:00Z");
    let real = at("2026-12-01T00:00:00Z");
    let mut instances = Vec::new();
    for n in 0..5 {
        let mut i = sample_instance(a, &format!("i-claim-{n}"));
        i.auto_release_time = Some(t0 + Duration::minutes(n));
        instances.push(i);
    }
    put_instances(&*store, instances.clone());
    let claim = |owner: &str, real_now: DateTime<Utc>| Claim {
        owner: owner.to_owned(),
        real_now,
        lease_until: real_now + Duration::seconds(30),
    };
    let claim_jobs = |c: Claim, now: DateTime<Utc>, limit: u32| {
        write(&*store, move |tx| tx.claim_due_jobs(now, &c, limit))
    };

    // Only what is due, earliest first, up to the limit.
    let first = claim_jobs(claim("a", real), t0 + Duration::minutes(2), 2);
    let ids: Vec<&str> = first.iter().map(|j| j.resource_id.as_str()).collect();
    assert_eq!(ids, ["i-claim-0", "i-claim-1"]);
    // Another owner, lease still live: it gets the next due job only.
    let second = claim_jobs(claim("b", real), t0 + Duration::minutes(2), 10);
    let ids: Vec<&str> = second.iter().map(|j| j.resource_id.as_str()).collect();
    assert_eq!(ids, ["i-claim-2"]);
    assert!(claim_jobs(claim("c", real), t0 + Duration::minutes(2), 10).is_empty());
    // An owner takes its own unfinished claims again (a batch it stopped short of).
    let own = claim_jobs(claim("b", real), t0 + Duration::minutes(2), 10);
    assert_eq!(own, second);

    let holds = |job: &Job, owner: &str| {
        let (job, owner) = (job.clone(), owner.to_owned());
        read(&*store, move |tx| tx.holds_claim(&job, &owner))
    };
    assert!(holds(&first[0], "a"));
    assert!(!holds(&first[0], "b"));

    // a's lease lapses: c takes both of its jobs over, and a no longer holds them.
    let later = real + Duration::seconds(31);
    let taken = claim_jobs(claim("c", later), t0 + Duration::minutes(2), 10);
    let ids: Vec<&str> = taken.iter().map(|j| j.resource_id.as_str()).collect();
    assert_eq!(ids, ["i-claim-0", "i-claim-1", "i-claim-2"]);
    assert!(!holds(&first[0], "a"));
    assert!(holds(&first[0], "c"));

    // Finishing a claim someone else holds changes nothing; the holder's finish removes it.
    {
        let job = first[0].clone();
        write(&*store, move |tx| tx.finish_claim(&job, "a"));
    }
    assert!(holds(&first[0], "c"));
    {
        let job = first[0].clone();
        write(&*store, move |tx| tx.finish_claim(&job, "c"));
    }
    assert!(!all_jobs(&*store).contains(&first[0]));

    // Rescheduling the resource makes a new job; the old claim does not carry over to it.
    let mut moved = instances[1].clone();
    moved.auto_release_time = Some(t0 + Duration::minutes(1) + Duration::seconds(30));
    put_instances(&*store, vec![moved]);
    assert!(!holds(&first[1], "c"));
    let again = claim_jobs(claim("d", later), t0 + Duration::minutes(2), 10);
    let ids: Vec<&str> = again.iter().map(|j| j.resource_id.as_str()).collect();
    assert_eq!(
        ids,
        ["i-claim-1"],
        "the rescheduled job is free; i-claim-2 is still c's"
    );

    // A put that leaves the schedule alone keeps the claim.
    let mut renamed = instances[2].clone();
    renamed.name = "renamed".into();
    put_instances(&*store, vec![renamed]);
    assert!(holds(&second[0], "c"));
}

/// A transaction body that reports a conflict is run again (the engine's bounded retry), and
/// what it finally writes is written once; one that always conflicts fails, having written
/// nothing.
pub fn conflicts_are_retried(store: Arc<dyn Store>) {
    let a = new_account(&*store, "conflicts").id;
    let attempts = Arc::new(AtomicU64::new(0));
    let seen = attempts.clone();
    let out = store.write(move |tx| {
        tx.append_event(&NewEvent {
            account_id: a,
            resource: ResourceKind::Instance,
            resource_id: "i-retried".into(),
            action: "Test".into(),
            scheduled_at: None,
            happened_at: at("2026-01-01T00:00:00Z"),
            outcome: "ok".into(),
            detail: serde_json::json!({}),
        })?;
        if seen.fetch_add(1, Ordering::SeqCst) < 2 {
            return Err(TxError::Store(StoreError::Conflict("test".into())));
        }
        Ok(7)
    });
    assert_eq!(out.unwrap(), 7);
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    let events = read(&*store, |tx| tx.events_after(0, 100));
    let mine = events
        .iter()
        .filter(|e| e.event.resource_id == "i-retried")
        .count();
    assert_eq!(mine, 1, "the rolled-back attempts left nothing");

    let always = Arc::new(AtomicU64::new(0));
    let seen = always.clone();
    let out: TxResult<()> = store.write(move |tx| {
        tx.set_balance(a, Money::from_units(5))?;
        seen.fetch_add(1, Ordering::SeqCst);
        Err(TxError::Store(StoreError::Conflict("test".into())))
    });
    assert!(out.unwrap_err().is_conflict());
    assert_eq!(
        always.load(Ordering::SeqCst),
        u64::from(crate::MAX_TX_ATTEMPTS)
    );
    let balance = read(&*store, move |tx| tx.account(a)).unwrap().balance;
    assert_eq!(balance, Money::ZERO);
}

/// A leader row: one owner leads a role at a time; the leader renews its own term; another
/// takes over only once the term ended (by the real time given); roles are independent;
/// resigning frees the row at once; of many owners racing for a free row exactly one leads.
pub fn one_leader_per_role(store: Arc<dyn Store>) {
    let t0 = at("2026-07-01T00:00:00Z");
    let term = Duration::seconds(30);
    let lead = |owner: &'static str, role: &'static str, now: DateTime<Utc>| {
        write(&*store, move |tx| tx.try_lead(role, owner, now, now + term))
    };
    assert!(lead("a", "upkeep", t0), "a free role is taken");
    assert!(
        !lead("b", "upkeep", t0 + Duration::seconds(1)),
        "a live term is kept"
    );
    assert!(lead("b", "other", t0), "roles are independent");
    // The leader renews: its term now ends at t0 + 20 s + 30 s.
    assert!(lead("a", "upkeep", t0 + Duration::seconds(20)));
    assert!(
        !lead("b", "upkeep", t0 + Duration::seconds(40)),
        "the renewed term still runs at +40 s (the first one would have ended at +30 s)"
    );
    assert!(
        lead("b", "upkeep", t0 + Duration::seconds(50)),
        "a term that ended is taken over"
    );
    assert!(
        !lead("a", "upkeep", t0 + Duration::seconds(51)),
        "the old leader does not get it back by renewing"
    );
    // A failed transaction takes nothing.
    let failed = store.write(move |tx| {
        tx.try_lead("rolled-back", "a", t0, t0 + term)?;
        Err::<(), _>(rejected())
    });
    assert!(failed.is_err());
    assert!(lead("b", "rolled-back", t0));
    // Resigning: only the leader can, and the role is free at once.
    assert!(!write(&*store, |tx| tx.resign("upkeep", "a")));
    assert!(write(&*store, |tx| tx.resign("upkeep", "b")));
    assert!(lead("a", "upkeep", t0 + Duration::seconds(52)));

    // Many owners racing for one free role at once: exactly one leads.
    let leaders: usize = (0..8)
        .map(|n| {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                let owner = format!("racer-{n}");
                store
                    .write(move |tx| Ok(tx.try_lead("race", &owner, t0, t0 + term)?))
                    .unwrap_or_else(|e| panic!("try_lead failed: {e:?}"))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| usize::from(t.join().expect("racer thread")))
        .sum();
    assert_eq!(leaders, 1);
}

/// A resource with several due jobs: only its earliest is claimable, by anyone, until that one
/// leaves the index; then the next. Claimers side by side (replicas sharing a clock jump's
/// burst) so never carry one resource's actions out of order or at once.
pub fn claims_keep_each_resources_order(store: Arc<dyn Store>) {
    let a = new_account(&*store, "order").id;
    let t0 = at("2026-08-01T00:00:00Z");
    let mut i = sample_instance(a, "i-many");
    i.charge_type = ChargeType::PrePaid;
    i.subscription = Some(Subscription {
        next_renewal_attempt: Some(t0 + Duration::days(1)),
        ..subscription(t0 + Duration::days(10))
    });
    i.auto_release_time = Some(t0 + Duration::days(2));
    let mut other = sample_instance(a, "i-single");
    other.auto_release_time = Some(t0 + Duration::days(3));
    put_instances(&*store, vec![i, other]);
    let mut mine: Vec<Job> = all_jobs(&*store)
        .into_iter()
        .filter(|j| j.resource_id == "i-many")
        .collect();
    mine.sort_by_key(|j| j.due_at);
    assert!(
        mine.len() >= 2,
        "the fixture schedules several jobs: {mine:?}"
    );

    let now = t0 + Duration::days(400);
    let real = at("2026-12-01T00:00:00Z");
    let claim = |owner: &str| Claim {
        owner: owner.to_owned(),
        real_now: real,
        lease_until: real + Duration::seconds(30),
    };
    let claim_jobs = |c: Claim| write(&*store, move |tx| tx.claim_due_jobs(now, &c, 100));
    let first = claim_jobs(claim("a"));
    assert_eq!(
        first
            .iter()
            .map(|j| j.resource_id.as_str())
            .collect::<Vec<_>>(),
        ["i-many", "i-single"],
        "one job per resource: {first:?}"
    );
    assert_eq!(first[0], mine[0]);
    assert!(
        claim_jobs(claim("b")).is_empty(),
        "the later jobs wait behind a's"
    );
    {
        let job = first[0].clone();
        write(&*store, move |tx| tx.finish_claim(&job, "a"));
    }
    let next = claim_jobs(claim("b"));
    assert_eq!(next, vec![mine[1].clone()]);
}
