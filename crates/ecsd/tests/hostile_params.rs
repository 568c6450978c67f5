//! Every operation's parameter validation under hostile input. Seeds are the parameters of the
//! requests captured from the official SDKs (tests/fixtures/sdk-requests.jsonl of ecs-wire),
//! plus one hand-written call for each operation the capture lacks. Each case mutates a seed
//! (drops a parameter, sets values empty, huge, non-ASCII, negative, overflowing, garbage
//! times, repeats a list index, adds unknown parameters), signs it correctly and sends it
//! in-process: the answer is never a panic nor a 5xx, and every refusal is a 4xx ECS error
//! envelope with Code, Message and RequestId.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use common::{from_now, now, Fmt, Reply, TestServer};
use ecs_domain::lifecycle::new_subscription;
use ecs_domain::model::{ChargeType, InstanceStatus, PeriodUnit, RenewalSettings};
use ecs_store::testsuite::{sample_host, sample_instance};
use ecs_store::StoreExt;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;

const CASES_PER_OPERATION: u32 = 64;

/// Parameters that belong to the envelope and the signature, not to the operation; the test
/// signer sets its own.
const ENVELOPE: &[&str] = &[
    "AccessKeyId",
    "Action",
    "Version",
    "Format",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "SignatureType",
    "Signature",
    "Timestamp",
];

/// One operation's seeds: parameter lists as the SDKs sent them.
type Seeds = BTreeMap<String, Vec<Vec<(String, String)>>>;

/// The business parameters of every captured request, by action. V1 requests carry them in
/// the query and the form body; V3 ones in the same places, with the action in a header.
fn captured_seeds() -> Seeds {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ecs-wire/tests/fixtures/sdk-requests.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("the captured SDK requests");
    let mut seeds = Seeds::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let raw: Value = serde_json::from_str(line).expect("a JSON line");
        let headers: Vec<(String, String)> = raw["headers"]
            .as_array()
            .expect("headers")
            .iter()
            .map(|h| {
                (
                    h[0].as_str().unwrap().to_ascii_lowercase(),
                    h[1].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let body = match raw["body_b64"].as_str() {
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("body_b64"),
            None => raw["body"].as_str().unwrap_or_default().as_bytes().to_vec(),
        };
        let mut pairs: Vec<(String, String)> =
            form_pairs(raw["query_string"].as_str().unwrap_or_default().as_bytes());
        if header("content-type")
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
        {
            pairs.extend(form_pairs(&body));
        }
        let action = pairs
            .iter()
            .find(|(k, _)| k == "Action")
            .map(|(_, v)| v.clone())
            .or_else(|| header("x-acs-action"))
            .expect("every captured request names its action");
        pairs.retain(|(k, _)| !ENVELOPE.contains(&k.as_str()));
        pairs.sort();
        let list = seeds.entry(action).or_default();
        if !list.contains(&pairs) {
            list.push(pairs);
        }
    }
    seeds
}

fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// One well-formed call for each operation, on the resources of [`seeded`].
fn written_seeds() -> Seeds {
    let release = from_now(chrono::Duration::hours(5));
    let seeds: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "RunInstances",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("ImageId", "aliyun_3_x64_20G_alibase_20240819.vhd"),
                ("InstanceType", "ecs.g7.large"),
                ("Amount", "1"),
                ("InstanceChargeType", "PrePaid"),
                ("Period", "1"),
                ("PeriodUnit", "Month"),
                ("AutoRenew", "true"),
                ("AutoRenewPeriod", "1"),
                ("Tag.1.Key", "env"),
                ("Tag.1.Value", "test"),
                // No security group: ecsd knows only the default one, whose id depends on the
                // account (`sg-1` is refused as unknown).
                ("ClientToken", "hostile-run"),
            ],
        ),
        (
            "RunInstances",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("ImageId", "aliyun_3_x64_20G_alibase_20240819.vhd"),
                ("InstanceType", "ecs.g7.large"),
                ("AutoReleaseTime", &release),
                ("DedicatedHostId", "dh-idle"),
                ("DryRun", "true"),
            ],
        ),
        (
            "RunInstances",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("ImageId", "aliyun_3_x64_20G_alibase_20240819.vhd"),
                ("InstanceType", "ecs.g7.large"),
                ("UserData", "ZWNobyBoZWxsbw=="),
                ("SpotStrategy", "SpotAsPriceGo"),
                ("SystemDisk.Category", "cloud_essd"),
                ("SystemDisk.Size", "40"),
                ("DataDisk.1.Size", "100"),
                ("DataDisk.1.Category", "cloud_ssd"),
                ("DataDisk.1.DeleteWithInstance", "false"),
            ],
        ),
        (
            "DeleteInstances",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("InstanceId.1", "i-test1"),
                ("InstanceId.2", "i-test2"),
                ("Force", "true"),
                ("ClientToken", "hostile-delete"),
            ],
        ),
        (
            "ModifyInstanceAttribute",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("InstanceId", "i-test1"),
                ("InstanceName", "renamed"),
                ("Description", "described"),
                ("DeletionProtection", "false"),
            ],
        ),
        (
            "StopInstance",
            vec![
                ("InstanceId", "i-test1"),
                ("StoppedMode", "StopCharging"),
                ("ForceStop", "false"),
                ("ConfirmStop", "true"),
                ("DryRun", "false"),
            ],
        ),
        (
            "StartInstance",
            vec![
                ("InstanceId", "i-test2"),
                ("InitLocalDisk", "false"),
                ("DryRun", "false"),
            ],
        ),
        (
            "AllocateDedicatedHosts",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("DedicatedHostType", "ddh.g6"),
                ("ZoneId", "cn-hangzhou-i"),
                ("Quantity", "1"),
                ("ChargeType", "PostPaid"),
                ("AutoReleaseTime", &release),
                ("ClientToken", "hostile-allocate"),
            ],
        ),
        (
            "DescribeDedicatedHosts",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("DedicatedHostIds", r#"["dh-idle","dh-test1"]"#),
                ("Status", "Available"),
                ("PageNumber", "1"),
                ("PageSize", "10"),
            ],
        ),
        (
            "ReleaseDedicatedHost",
            vec![("RegionId", "cn-hangzhou"), ("DedicatedHostId", "dh-idle")],
        ),
        (
            "DescribeRegions",
            vec![
                ("AcceptLanguage", "en-US"),
                ("ResourceType", "instance"),
                ("InstanceChargeType", "PrePaid"),
            ],
        ),
        (
            "RebootInstance",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("InstanceId", "i-test1"),
                ("ForceStop", "false"),
            ],
        ),
        (
            "DescribeInstanceStatus",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("InstanceId.1", "i-test1"),
                ("ZoneId", "cn-hangzhou-i"),
                ("PageNumber", "1"),
                ("PageSize", "50"),
            ],
        ),
        (
            "DescribeInstanceAttribute",
            vec![("RegionId", "cn-hangzhou"), ("InstanceId", "i-test1")],
        ),
        (
            "RenewInstance",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("InstanceId", "i-prepaid1"),
                ("Period", "1"),
                ("PeriodUnit", "Month"),
                ("ClientToken", "hostile-renew"),
            ],
        ),
        (
            "ModifyInstanceChargeType",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("InstanceIds", r#"["i-prepaid1"]"#),
                ("InstanceChargeType", "PostPaid"),
                ("AutoPay", "true"),
                ("DryRun", "false"),
            ],
        ),
        (
            "CreateInstance",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("ImageId", "aliyun_3_x64_20G_alibase_20240819.vhd"),
                ("InstanceType", "ecs.g7.large"),
                ("InstanceName", "hostile"),
                ("UserData", "ZWNobyBoZWxsbw=="),
                ("SpotStrategy", "SpotWithPriceLimit"),
                ("SpotPriceLimit", "0.5"),
                ("SpotDuration", "1"),
                ("ClientToken", "hostile-create"),
            ],
        ),
        (
            "DescribeUserData",
            vec![("RegionId", "cn-hangzhou"), ("InstanceId", "i-test1")],
        ),
        (
            "DescribeDisks",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("ZoneId", "cn-hangzhou-i"),
                ("DiskIds", r#"["d-1","d-2"]"#),
                ("InstanceId", "i-test1"),
                ("DiskType", "all"),
                ("Category", "cloud_essd"),
                ("Status", "In_use"),
                ("DeleteWithInstance", "true"),
                ("PageNumber", "1"),
                ("PageSize", "10"),
            ],
        ),
        (
            "DescribeZones",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("AcceptLanguage", "en-US"),
                ("InstanceChargeType", "PostPaid"),
                ("SpotStrategy", "NoSpot"),
                ("Verbose", "false"),
            ],
        ),
        (
            "DescribeInstanceTypes",
            vec![
                ("InstanceTypes.1", "ecs.g7.large"),
                ("InstanceTypeFamily", "ecs.g7"),
                ("MinimumCpuCoreCount", "1"),
                ("MaximumMemorySize", "64.5"),
                ("MaxResults", "5"),
                ("NextToken", "t0"),
            ],
        ),
        (
            "DescribeImages",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("ImageId", "aliyun_3_x64_20G_alibase_20240819.vhd"),
                ("ImageOwnerAlias", "system"),
                ("OSType", "linux"),
                ("Architecture", "x86_64"),
                ("Status", "Available"),
                ("PageNumber", "1"),
                ("PageSize", "10"),
            ],
        ),
        (
            "DescribeInstanceAutoRenewAttribute",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("InstanceId", "i-prepaid1,i-prepaid2"),
                ("RenewalStatus", "Normal"),
                ("PageNumber", "1"),
                ("PageSize", "50"),
            ],
        ),
        (
            "DescribeInstances",
            vec![
                ("RegionId", "cn-hangzhou"),
                ("Filter.1.Key", "CreationStartTime"),
                ("Filter.1.Value", "2029-01-01T00:00Z"),
                ("Tag.1.Key", "env"),
                ("MaxResults", "5"),
                ("NextToken", ""),
            ],
        ),
    ];
    let mut out = Seeds::new();
    for (action, pairs) in seeds {
        let mut pairs: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        pairs.sort();
        out.entry(action.to_string()).or_default().push(pairs);
    }
    out
}

fn all_seeds() -> Seeds {
    let mut seeds = captured_seeds();
    for (action, more) in written_seeds() {
        seeds.entry(action).or_default().extend(more);
    }
    seeds
}

/// A server holding what the seeds name: pay-as-you-go instances `i-test1`…`i-test3` and
/// every other instance id a seed names (stopped when the id ends in 2), subscriptions
/// `i-prepaid1`, `i-prepaid2` and the instances the auto-renew seeds name, hosts `dh-idle`,
/// `dh-test1` and every other host id a seed names.
fn seeded(ids: &BTreeMap<String, bool>) -> TestServer {
    let server = TestServer::new("hostile");
    let account = server.account;
    for (id, prepaid) in ids.iter().filter(|(id, _)| id.starts_with("i-")) {
        let mut i = sample_instance(account, id);
        i.status = if id.ends_with('2') {
            InstanceStatus::Stopped
        } else {
            InstanceStatus::Running
        };
        if *prepaid {
            i.charge_type = ChargeType::PrePaid;
            i.subscription =
                new_subscription(now(), 1, PeriodUnit::Month, RenewalSettings::default());
        }
        server.put_instance(i);
    }
    for id in ids.keys().filter(|id| id.starts_with("dh-")) {
        server.put_host(sample_host(account, id));
    }
    // Enough for the calls that pay (RenewInstance, ModifyInstanceChargeType) to succeed.
    let funds = "100000".parse().expect("a balance");
    server
        .store
        .write(move |tx| Ok(tx.set_balance(account, funds)?))
        .expect("fund the account");
    server
}

/// Every resource id a seed of `action` names, plus the fixed ones, each with whether it is to
/// be a subscription (the auto-renew operations take subscriptions only).
fn named_ids(seeds: &Seeds, action: &str) -> BTreeMap<String, bool> {
    let mut ids: BTreeMap<String, bool> = [
        "i-test1",
        "i-test2",
        "i-test3",
        "i-prepaid1",
        "i-prepaid2",
        "dh-idle",
        "dh-test1",
    ]
    .iter()
    .map(|s| (s.to_string(), s.starts_with("i-prepaid")))
    .collect();
    let prepaid = action.contains("AutoRenew");
    for pairs in &seeds[action] {
        for (k, v) in pairs {
            if k.starts_with("InstanceId") || k.starts_with("DedicatedHostId") {
                for id in v.split(',') {
                    let id = id.trim();
                    if id.starts_with("i-") || id.starts_with("dh-") {
                        *ids.entry(id.to_string()).or_default() |= prepaid;
                    }
                }
            }
        }
    }
    ids
}

// ---------------------------------------------------------------------------------------------
// Mutations.

/// Values no parameter should take without a clean refusal.
fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_string()),
        Just("x".repeat(20_000)),
        Just("实例-ñ-🦀".to_string()),
        Just("\u{0}\u{1}\r\n\t".to_string()),
        Just("-1".to_string()),
        Just("0".to_string()),
        Just("-9223372036854775809".to_string()),
        Just("9223372036854775808".to_string()),
        Just("18446744073709551616".to_string()),
        Just("99999999999999999999999999999".to_string()),
        Just("1e309".to_string()),
        Just("NaN".to_string()),
        Just("TRUE".to_string()),
        Just("yes".to_string()),
        Just("9999-12-31T23:59:59Z".to_string()),
        Just("0000-01-01T00:00:00Z".to_string()),
        Just("2030-02-30T00:00:00Z".to_string()),
        Just("2030-13-45T25:61:61Z".to_string()),
        Just("2030-01-01T00:00:60Z".to_string()),
        Just("+2030-01-01T00:00:00Z".to_string()),
        Just("2030-01-01 00:00:00".to_string()),
        Just("2030-01-01T00:00Z".to_string()),
        Just("[\"i-test1\",".to_string()),
        Just("[1,2,3]".to_string()),
        Just("{\"a\":1}".to_string()),
        Just(format!("[{}]", vec!["\"i-x\""; 150].join(","))),
        Just(vec!["i-test1"; 150].join(",")),
        Just("e-1".to_string()),
        Just("effffffffffffffffffff".to_string()),
        Just("%00%ZZ".to_string()),
        "\\PC{0,40}",
        any::<i64>().prop_map(|n| n.to_string()),
    ]
}

/// Parameter names an operation may read, to set to hostile values when a seed lacks them.
const KNOWN_NAMES: &[&str] = &[
    "RegionId",
    "InstanceId",
    "InstanceIds",
    "DedicatedHostId",
    "DedicatedHostIds",
    "AutoReleaseTime",
    "DryRun",
    "Force",
    "ForceStop",
    "TerminateSubscription",
    "ClientToken",
    "Amount",
    "Quantity",
    "Period",
    "PeriodUnit",
    "AutoRenew",
    "AutoRenewPeriod",
    "Duration",
    "RenewalStatus",
    "InstanceChargeType",
    "ChargeType",
    "PageNumber",
    "PageSize",
    "MaxResults",
    "NextToken",
    "Status",
    "LockReason",
    "ZoneId",
    "InstanceType",
    "DedicatedHostType",
    "ImageId",
    "StoppedMode",
    "DeletionProtection",
    "AcceptLanguage",
    "ResourceType",
    "Filter.1.Key",
    "Filter.1.Value",
    "Tag.1.Key",
    "Tag.21.Key",
    "SecurityGroupIds.1",
    "InstanceId.1",
    "InstanceId.101",
];

/// Names shaped like lists the server must refuse or ignore, never miscount.
const ODD_NAMES: &[&str] = &[
    "InstanceId.0",
    "InstanceId.01",
    "InstanceId.-1",
    "InstanceId.99999999999999999999",
    "InstanceId..1",
    "InstanceId.",
    "Tag.x.Key",
    "Tag.1",
    "Tag.1.Key.Extra",
    "Filter.0.Key",
    "Unknown",
    "unknownParam",
    "实例",
    "",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Drop the parameter at this position (modulo the count).
    Drop(usize),
    /// Set the parameter at this position to a hostile value.
    Set(usize, String),
    /// Send the parameter at this position twice (a repeated name or list index).
    Repeat(usize, String),
    /// Set a parameter the operation may read, whether or not the seed has it.
    SetKnown(&'static str, String),
    /// Add a parameter with an odd or unknown name.
    Add(String, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => any::<usize>().prop_map(Mutation::Drop),
        4 => (any::<usize>(), hostile_value()).prop_map(|(i, v)| Mutation::Set(i, v)),
        1 => (any::<usize>(), hostile_value()).prop_map(|(i, v)| Mutation::Repeat(i, v)),
        3 => (prop::sample::select(KNOWN_NAMES), hostile_value())
            .prop_map(|(k, v)| Mutation::SetKnown(k, v)),
        1 => (
            prop_oneof![
                prop::sample::select(ODD_NAMES).prop_map(str::to_string),
                "[A-Za-z.0-9]{1,12}",
            ],
            hostile_value()
        )
            .prop_map(|(k, v)| Mutation::Add(k, v)),
    ]
}

fn apply(mut pairs: Vec<(String, String)>, mutations: &[Mutation]) -> Vec<(String, String)> {
    for m in mutations {
        match m {
            Mutation::Drop(i) if !pairs.is_empty() => {
                let at = i % pairs.len();
                pairs.remove(at);
            }
            Mutation::Set(i, v) if !pairs.is_empty() => {
                let at = i % pairs.len();
                pairs[at].1 = v.clone();
            }
            Mutation::Repeat(i, v) if !pairs.is_empty() => {
                let name = pairs[i % pairs.len()].0.clone();
                pairs.push((name, v.clone()));
            }
            Mutation::SetKnown(k, v) => {
                pairs.retain(|(name, _)| name != k);
                pairs.push((k.to_string(), v.clone()));
            }
            Mutation::Add(k, v) => pairs.push((k.clone(), v.clone())),
            _ => {}
        }
    }
    pairs
}

// ---------------------------------------------------------------------------------------------
// The check.

/// The answer is a success, or a 4xx ECS error envelope with Code, Message and RequestId.
fn check_answer(
    action: &str,
    fmt: Fmt,
    sent: &[(String, String)],
    reply: &Reply,
) -> Result<(), TestCaseError> {
    let status = reply.status.as_u16();
    let shown: Vec<(String, String)> = sent
        .iter()
        .map(|(k, v)| (k.clone(), v.chars().take(60).collect()))
        .collect();
    let context = || format!("{action} {fmt:?} {shown:?} -> {status} {:.400}", reply.body);
    prop_assert!(status < 500, "a server error: {}", context());
    // Correctly signed: a signature refusal would mean the operation was never reached.
    prop_assert!(
        !reply.body.contains("SignatureDoesNotMatch")
            && !reply.body.contains("IncompleteSignature"),
        "the signature was refused: {}",
        context()
    );
    match fmt {
        Fmt::Json => {
            let body: Value = serde_json::from_str(&reply.body)
                .map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {}", context())))?;
            prop_assert!(
                body["RequestId"].as_str().is_some_and(|r| !r.is_empty()),
                "no RequestId: {}",
                context()
            );
            if status != 200 {
                prop_assert!((400..500).contains(&status), "{}", context());
                for field in ["Code", "Message"] {
                    prop_assert!(
                        body[field].as_str().is_some_and(|v| !v.is_empty()),
                        "no {}: {}",
                        field,
                        context()
                    );
                }
            }
        }
        Fmt::Xml => {
            prop_assert!(reply.body.starts_with("<?xml"), "not XML: {}", context());
            let has = |tag: &str| {
                let open = format!("<{tag}>");
                reply
                    .body
                    .find(&open)
                    .is_some_and(|at| !reply.body[at + open.len()..].starts_with("</"))
            };
            prop_assert!(has("RequestId"), "no RequestId: {}", context());
            if status != 200 {
                prop_assert!((400..500).contains(&status), "{}", context());
                prop_assert!(reply.body.contains("<Error>"), "{}", context());
                prop_assert!(has("Code") && has("Message"), "{}", context());
            }
        }
    }
    Ok(())
}

/// Runs [`CASES_PER_OPERATION`] mutated, correctly signed calls of `action` against one
/// server; returns how many were answered with success (so a seed set that never succeeds
/// is noticed).
fn hammer(action: &str, seeds: &[Vec<(String, String)>], ids: &BTreeMap<String, bool>) -> usize {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = seeded(ids);
    // The unmutated seeds first: the envelope check holds for them too.
    let mut successes = 0;
    for seed in seeds {
        let reply = runtime.block_on(server.call_pairs(action, seed, Fmt::Json));
        check_answer(action, Fmt::Json, seed, &reply).unwrap();
        successes += usize::from(reply.status == 200);
    }
    let mut runner = TestRunner::new(Config {
        cases: CASES_PER_OPERATION,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        prop::sample::select(seeds.to_vec()),
        prop::collection::vec(mutation(), 1..4),
        prop::bool::ANY,
    );
    runner
        .run(&strategy, |(seed, mutations, xml)| {
            let fmt = if xml { Fmt::Xml } else { Fmt::Json };
            let sent = apply(seed, &mutations);
            let reply = runtime.block_on(server.call_pairs(action, &sent, fmt));
            check_answer(action, fmt, &sent, &reply)
        })
        .unwrap_or_else(|e| panic!("{action}: {e}"));
    successes
}

#[test]
fn every_served_operation_has_seeds() {
    let seeds = all_seeds();
    let served: BTreeSet<&str> = ecsd::ops::OPERATIONS.iter().map(|op| op.name).collect();
    let seeded: BTreeSet<&str> = seeds.keys().map(String::as_str).collect();
    assert_eq!(served, seeded);
}

macro_rules! hostile {
    ($($test:ident => $action:literal,)*) => {$(
        #[test]
        fn $test() {
            let seeds = all_seeds();
            let ids = named_ids(&seeds, $action);
            let successes = hammer($action, &seeds[$action], &ids);
            assert!(successes > 0, "no unmutated seed of {} succeeds", $action);
        }
    )*};
}

hostile! {
    modify_instance_auto_release_time_never_fails_on_hostile_parameters => "ModifyInstanceAutoReleaseTime",
    modify_dedicated_host_auto_release_time_never_fails_on_hostile_parameters => "ModifyDedicatedHostAutoReleaseTime",
    modify_instance_auto_renew_attribute_never_fails_on_hostile_parameters => "ModifyInstanceAutoRenewAttribute",
    describe_instance_auto_renew_attribute_never_fails_on_hostile_parameters => "DescribeInstanceAutoRenewAttribute",
    run_instances_never_fails_on_hostile_parameters => "RunInstances",
    describe_instances_never_fails_on_hostile_parameters => "DescribeInstances",
    delete_instance_never_fails_on_hostile_parameters => "DeleteInstance",
    delete_instances_never_fails_on_hostile_parameters => "DeleteInstances",
    modify_instance_attribute_never_fails_on_hostile_parameters => "ModifyInstanceAttribute",
    stop_instance_never_fails_on_hostile_parameters => "StopInstance",
    start_instance_never_fails_on_hostile_parameters => "StartInstance",
    allocate_dedicated_hosts_never_fails_on_hostile_parameters => "AllocateDedicatedHosts",
    describe_dedicated_hosts_never_fails_on_hostile_parameters => "DescribeDedicatedHosts",
    release_dedicated_host_never_fails_on_hostile_parameters => "ReleaseDedicatedHost",
    describe_regions_never_fails_on_hostile_parameters => "DescribeRegions",
    describe_zones_never_fails_on_hostile_parameters => "DescribeZones",
    describe_instance_types_never_fails_on_hostile_parameters => "DescribeInstanceTypes",
    describe_images_never_fails_on_hostile_parameters => "DescribeImages",
    reboot_instance_never_fails_on_hostile_parameters => "RebootInstance",
    describe_instance_status_never_fails_on_hostile_parameters => "DescribeInstanceStatus",
    describe_instance_attribute_never_fails_on_hostile_parameters => "DescribeInstanceAttribute",
    renew_instance_never_fails_on_hostile_parameters => "RenewInstance",
    modify_instance_charge_type_never_fails_on_hostile_parameters => "ModifyInstanceChargeType",
    create_instance_never_fails_on_hostile_parameters => "CreateInstance",
    describe_user_data_never_fails_on_hostile_parameters => "DescribeUserData",
    describe_disks_never_fails_on_hostile_parameters => "DescribeDisks",
}
