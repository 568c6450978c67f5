//! Every operation ecsd serves, answered in-process by the real router and snapshot-tested:
//! a success and at least one refusal each, in JSON and in XML, with their HTTP statuses.
//!
//! Each case runs on a fresh store holding the same resources (see [`seeded`]) with the
//! virtual clock at [`common::now`], so JSON and XML show the same data. What a run cannot
//! repeat is redacted: RequestIds (and the Recommend link that carries one), OrderIds, ids the
//! server generates (numbered by first appearance), and times, written relative to the clock.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::http::StatusCode;
use chrono::Duration;
use common::{from_now, now, Fmt, Reply, TestServer};
use ecs_domain::lifecycle::new_subscription;
use ecs_domain::model::{ChargeType, InstanceStatus, PeriodUnit, RenewalSettings};
use ecs_scheduler::Scheduler;
use ecs_store::testsuite::{sample_host, sample_instance};
use ecs_store::StoreExt;
use regex::{Captures, Regex};
use serde_json::Value;

const REGION: &str = "cn-hangzhou";
const FORMATS: [Fmt; 2] = [Fmt::Json, Fmt::Xml];

/// A server holding the resources every case starts from:
///
/// * `i-postpaid-running`, `i-postpaid-stopped`: pay-as-you-go, tagged `env=test`;
/// * `i-protected`: pay-as-you-go, stopped, with release protection;
/// * `i-prepaid`: a subscription that expires in 30 days;
/// * `dh-idle` (empty), `dh-busy` (running `i-on-host`): pay-as-you-go hosts;
/// * `dh-prepaid`: a subscription host.
fn seeded() -> TestServer {
    let server = TestServer::new("ops-snapshots");
    let account = server.account;
    let created = now() - Duration::days(1);
    let instance = |id: &str, status: InstanceStatus| {
        let mut i = sample_instance(account, id);
        i.creation_time = created;
        i.start_time = Some(created);
        i.status = status;
        i.tags = vec![("env".into(), "test".into())];
        i
    };
    server.put_instance(instance("i-postpaid-running", InstanceStatus::Running));
    server.put_instance(instance("i-postpaid-stopped", InstanceStatus::Stopped));
    let mut protected = instance("i-protected", InstanceStatus::Stopped);
    protected.deletion_protection = true;
    server.put_instance(protected);
    let mut prepaid = instance("i-prepaid", InstanceStatus::Running);
    prepaid.charge_type = ChargeType::PrePaid;
    prepaid.subscription =
        new_subscription(created, 1, PeriodUnit::Month, RenewalSettings::default());
    server.put_instance(prepaid);

    let host = |id: &str| {
        let mut h = sample_host(account, id);
        h.creation_time = created;
        h
    };
    server.put_host(host("dh-idle"));
    server.put_host(host("dh-busy"));
    let mut on_host = instance("i-on-host", InstanceStatus::Running);
    on_host.dedicated_host_id = Some("dh-busy".into());
    server.put_instance(on_host);
    let mut prepaid_host = host("dh-prepaid");
    prepaid_host.charge_type = ChargeType::PrePaid;
    prepaid_host.subscription =
        new_subscription(created, 1, PeriodUnit::Month, RenewalSettings::default());
    server.put_host(prepaid_host);
    server
}

// ---------------------------------------------------------------------------------------------
// Redaction.

/// Rewrites what a run cannot repeat. Generated ids (`i-` or `dh-` and 20 lower-case letters
/// and digits, as the server makes them) become `[i-1]`, `[dh-1]`… by first appearance, so an
/// answer that repeats an id still shows it; times become their distance from the clock.
struct Redactor {
    ids: HashMap<String, String>,
    id_pattern: Regex,
    time_pattern: Regex,
}

impl Redactor {
    fn new() -> Redactor {
        Redactor {
            ids: HashMap::new(),
            id_pattern: Regex::new(r"\b(i|dh|d)-[a-z0-9]{20}\b").unwrap(),
            time_pattern: Regex::new(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?Z").unwrap(),
        }
    }

    fn text(&mut self, text: &str) -> String {
        let ids = &mut self.ids;
        let text = self.id_pattern.replace_all(text, |c: &Captures| {
            let n = ids.len() + 1;
            ids.entry(c[0].to_string())
                .or_insert_with(|| format!("[{}-{n}]", &c[1]))
                .clone()
        });
        self.time_pattern
            .replace_all(&text, |c: &Captures| relative_time(&c[0]))
            .into_owned()
    }

    fn json(&mut self, value: &mut Value) {
        match value {
            Value::String(s) => *s = self.text(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.json(v)),
            Value::Object(fields) => fields.values_mut().for_each(|v| self.json(v)),
            _ => {}
        }
    }

    /// The XML body with the per-request fields blanked, then ids and times rewritten.
    fn xml(&mut self, body: &str) -> String {
        let per_request = Regex::new(r"<(RequestId|Recommend|OrderId)>[^<]*</").unwrap();
        let body = per_request.replace_all(body, "<$1>[redacted]</");
        self.text(&body)
    }
}

/// `2029-12-31T01:30Z` → `[now+0d01h30m]`: the distance from the test clock. ECS's fixed
/// far-future times (a pay-as-you-go instance "expires" on 2099-12-31T15:59Z) stay as they are.
fn relative_time(text: &str) -> String {
    if text.starts_with("2099-") {
        return text.to_string();
    }
    let parsed = if text.len() == 17 {
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%MZ")
    } else {
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ")
    };
    let Ok(t) = parsed else {
        return text.to_string();
    };
    let delta = t.and_utc() - now();
    let sign = if delta < Duration::zero() { '-' } else { '+' };
    let s = delta.num_seconds().abs();
    let mut out = format!(
        "[now{sign}{}d{:02}h{:02}m",
        s / 86_400,
        s % 86_400 / 3_600,
        s % 3_600 / 60
    );
    if s % 60 != 0 {
        out.push_str(&format!("{:02}s", s % 60));
    }
    out.push(']');
    out
}

/// Checks the status and the envelope, then snapshots the redacted answer as `name`.
fn snap(name: &str, reply: &Reply, status: u16) {
    assert_eq!(
        reply.status,
        StatusCode::from_u16(status).unwrap(),
        "{name}: {}",
        reply.body
    );
    let mut redactor = Redactor::new();
    if reply.content_type.starts_with("application/json") {
        let mut value = reply.json();
        assert!(
            value["RequestId"].as_str().is_some_and(|r| !r.is_empty()),
            "{name}: no RequestId"
        );
        if status >= 400 {
            for field in ["Code", "Message", "HostId", "Recommend"] {
                assert!(value[field].is_string(), "{name}: no {field}");
            }
        } else {
            assert!(value.get("Code").is_none(), "{name}: a success with a Code");
        }
        redactor.json(&mut value);
        insta::assert_json_snapshot!(name, value, {
            ".RequestId" => "[request-id]",
            ".Recommend" => "[recommend]",
            ".OrderId" => "[order-id]",
        });
    } else {
        assert_eq!(reply.content_type, "text/xml;charset=utf-8", "{name}");
        let root = if status >= 400 {
            "<Error>".to_string()
        } else {
            format!("<{}Response>", name.split('-').next().unwrap())
        };
        assert!(reply.body.contains(&root), "{name}: {}", reply.body);
        assert!(reply.body.contains("<RequestId>"), "{name}: no RequestId");
        insta::assert_snapshot!(name, redactor.xml(&reply.body));
    }
}

fn fmt_name(fmt: Fmt) -> &'static str {
    match fmt {
        Fmt::Json => "json",
        Fmt::Xml => "xml",
    }
}

/// Runs `case` on a fresh [`seeded`] server for each format and snapshots the answer as
/// `{action}-{label}-{format}`. Returns the servers, for checks on what the call changed.
async fn each_format(
    action: &str,
    label: &str,
    params: &[(&str, &str)],
    status: u16,
) -> Vec<TestServer> {
    let mut servers = Vec::new();
    for fmt in FORMATS {
        let server = seeded();
        let reply = server.call(action, params, fmt).await;
        snap(
            &format!("{action}-{label}-{}", fmt_name(fmt)),
            &reply,
            status,
        );
        servers.push(server);
    }
    servers
}

/// The operations with snapshots below; checked against `OPERATIONS`.
const COVERED: &[&str] = &[
    "ModifyInstanceAutoReleaseTime",
    "ModifyDedicatedHostAutoReleaseTime",
    "ModifyInstanceAutoRenewAttribute",
    "DescribeInstanceAutoRenewAttribute",
    "RunInstances",
    "DescribeInstances",
    "DeleteInstance",
    "DeleteInstances",
    "ModifyInstanceAttribute",
    "StopInstance",
    "StartInstance",
    "AllocateDedicatedHosts",
    "DescribeDedicatedHosts",
    "ReleaseDedicatedHost",
    "DescribeRegions",
    "DescribeZones",
    "DescribeInstanceTypes",
    "DescribeImages",
    "RebootInstance",
    "DescribeInstanceStatus",
    "DescribeInstanceAttribute",
    "RenewInstance",
    "ModifyInstanceChargeType",
    "CreateInstance",
    "DescribeUserData",
    "DescribeDisks",
];

#[test]
fn every_served_operation_has_snapshots_here() {
    let served: BTreeSet<&str> = ecsd::ops::OPERATIONS.iter().map(|op| op.name).collect();
    let covered: BTreeSet<&str> = COVERED.iter().copied().collect();
    assert_eq!(served, covered);
}

#[test]
fn the_test_signer_matches_the_documented_example() {
    // The worked example of Alibaba Cloud's RPC signature documentation.
    let pairs: Vec<(String, String)> = [
        ("AccessKeyId", "testid"),
        ("Action", "DescribeRegions"),
        ("Format", "XML"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
        ("SignatureVersion", "1.0"),
        ("Timestamp", "2016-02-23T12:46:24Z"),
        ("Version", "2014-05-26"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let query = common::sign_v1_query("GET", &pairs, "testsecret");
    assert!(
        query.ends_with("&Signature=OLeaidS1JvxuMvnyHOwuJ%2BuX5qY%3D"),
        "{query}"
    );
}

// ---------------------------------------------------------------------------------------------
// Release times.

#[tokio::test]
async fn modify_instance_auto_release_time_sets_the_minute_and_refuses_times_outside_the_window() {
    let at = from_now(Duration::days(1) + Duration::seconds(42));
    for server in each_format(
        "ModifyInstanceAutoReleaseTime",
        "ok",
        &[
            ("RegionId", REGION),
            ("InstanceId", "i-postpaid-running"),
            ("AutoReleaseTime", &at),
        ],
        200,
    )
    .await
    {
        let kept = server.instance("i-postpaid-running").unwrap();
        assert_eq!(kept.auto_release_time, Some(now() + Duration::days(1)));
    }
    let too_early = from_now(Duration::minutes(10));
    for server in each_format(
        "ModifyInstanceAutoReleaseTime",
        "too-early",
        &[
            ("RegionId", REGION),
            ("InstanceId", "i-postpaid-running"),
            ("AutoReleaseTime", &too_early),
        ],
        400,
    )
    .await
    {
        let kept = server.instance("i-postpaid-running").unwrap();
        assert_eq!(kept.auto_release_time, None, "a refused time is not kept");
    }
    each_format(
        "ModifyInstanceAutoReleaseTime",
        "subscription",
        &[("InstanceId", "i-prepaid"), ("AutoReleaseTime", &at)],
        403,
    )
    .await;
    each_format(
        "ModifyInstanceAutoReleaseTime",
        "unknown-instance",
        &[("InstanceId", "i-nowhere"), ("AutoReleaseTime", &at)],
        404,
    )
    .await;
}

#[tokio::test]
async fn modify_dedicated_host_auto_release_time_sets_pay_as_you_go_hosts_only() {
    let at = from_now(Duration::hours(3));
    for server in each_format(
        "ModifyDedicatedHostAutoReleaseTime",
        "ok",
        &[
            ("RegionId", REGION),
            ("DedicatedHostId", "dh-idle"),
            ("AutoReleaseTime", &at),
        ],
        200,
    )
    .await
    {
        let host = server.host("dh-idle").unwrap();
        assert_eq!(host.auto_release_time, Some(now() + Duration::hours(3)));
    }
    each_format(
        "ModifyDedicatedHostAutoReleaseTime",
        "subscription",
        &[
            ("RegionId", REGION),
            ("DedicatedHostId", "dh-prepaid"),
            ("AutoReleaseTime", &at),
        ],
        403,
    )
    .await;
    each_format(
        "ModifyDedicatedHostAutoReleaseTime",
        "missing-id",
        &[("RegionId", REGION), ("AutoReleaseTime", &at)],
        400,
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Auto-renew.

#[tokio::test]
async fn modify_instance_auto_renew_attribute_sets_subscriptions_and_refuses_pay_as_you_go() {
    for server in each_format(
        "ModifyInstanceAutoRenewAttribute",
        "ok",
        &[
            ("RegionId", REGION),
            ("InstanceId", "i-prepaid"),
            ("Duration", "3"),
            ("PeriodUnit", "Month"),
            ("RenewalStatus", "AutoRenewal"),
        ],
        200,
    )
    .await
    {
        let renewal = server
            .instance("i-prepaid")
            .unwrap()
            .subscription
            .unwrap()
            .renewal;
        assert_eq!(renewal.duration, 3);
        assert_eq!(renewal.status.as_str(), "AutoRenewal");
    }
    each_format(
        "ModifyInstanceAutoRenewAttribute",
        "pay-as-you-go",
        &[
            ("RegionId", REGION),
            ("InstanceId", "i-postpaid-running"),
            ("AutoRenew", "true"),
        ],
        403,
    )
    .await;
    each_format(
        "ModifyInstanceAutoRenewAttribute",
        "bad-duration",
        &[
            ("RegionId", REGION),
            ("InstanceId", "i-prepaid"),
            ("Duration", "5"),
        ],
        403,
    )
    .await;
}

#[tokio::test]
async fn describe_instance_auto_renew_attribute_shows_settings_and_needs_ids_or_a_status() {
    each_format(
        "DescribeInstanceAutoRenewAttribute",
        "ok",
        &[("RegionId", REGION), ("InstanceId", "i-prepaid")],
        200,
    )
    .await;
    each_format(
        "DescribeInstanceAutoRenewAttribute",
        "neither-ids-nor-status",
        &[("RegionId", REGION)],
        403,
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Instances.

#[tokio::test]
async fn run_instances_creates_running_instances_and_refuses_unknown_types() {
    let release = from_now(Duration::hours(2));
    for server in each_format(
        "RunInstances",
        "ok",
        &[
            ("RegionId", REGION),
            ("ImageId", "aliyun_3_x64_20G_alibase_20240819.vhd"),
            ("InstanceType", "ecs.g7.large"),
            ("Amount", "2"),
            ("InstanceName", "web"),
            ("AutoReleaseTime", &release),
        ],
        200,
    )
    .await
    {
        let listed = server
            .call(
                "DescribeInstances",
                &[("RegionId", REGION), ("InstanceName", "web")],
                Fmt::Json,
            )
            .await
            .json();
        assert_eq!(listed["TotalCount"], 2, "{listed}");
        for i in listed["Instances"]["Instance"].as_array().unwrap() {
            assert_eq!(i["Status"], "Running");
        }
    }
    each_format(
        "RunInstances",
        "unknown-type",
        &[
            ("RegionId", REGION),
            ("ImageId", "aliyun_3_x64_20G_alibase_20240819.vhd"),
            ("InstanceType", "ecs.nosuch.large"),
        ],
        400,
    )
    .await;
    each_format(
        "RunInstances",
        "unknown-image",
        &[
            ("RegionId", REGION),
            ("ImageId", "m-nosuchimage"),
            ("InstanceType", "ecs.g7.large"),
        ],
        404,
    )
    .await;
    each_format(
        "RunInstances",
        "missing-image",
        &[("RegionId", REGION), ("InstanceType", "ecs.g7.large")],
        400,
    )
    .await;
}

#[tokio::test]
async fn describe_instances_lists_the_asked_instances_and_refuses_unknown_statuses() {
    each_format(
        "DescribeInstances",
        "ok",
        &[
            ("RegionId", REGION),
            ("InstanceIds", r#"["i-postpaid-running","i-prepaid"]"#),
        ],
        200,
    )
    .await;
    each_format(
        "DescribeInstances",
        "unknown-status",
        &[("RegionId", REGION), ("Status", "Sleeping")],
        404,
    )
    .await;
    each_format(
        "DescribeInstances",
        "unknown-region",
        &[("RegionId", "xx-nowhere-1")],
        404,
    )
    .await;
}

#[tokio::test]
async fn delete_instance_releases_a_stopped_instance_and_refuses_a_protected_one() {
    for server in each_format(
        "DeleteInstance",
        "ok",
        &[("InstanceId", "i-postpaid-stopped")],
        200,
    )
    .await
    {
        assert!(server.instance("i-postpaid-stopped").is_none());
    }
    for server in each_format(
        "DeleteInstance",
        "protected",
        &[("InstanceId", "i-protected")],
        403,
    )
    .await
    {
        assert!(server.instance("i-protected").is_some());
    }
    each_format(
        "DeleteInstance",
        "running-without-force",
        &[("InstanceId", "i-postpaid-running")],
        403,
    )
    .await;
}

#[tokio::test]
async fn delete_instances_releases_all_or_none() {
    for server in each_format(
        "DeleteInstances",
        "ok",
        &[
            ("RegionId", REGION),
            ("InstanceId.1", "i-postpaid-stopped"),
            ("InstanceId.2", "i-postpaid-running"),
            ("Force", "true"),
        ],
        200,
    )
    .await
    {
        assert!(server.instance("i-postpaid-stopped").is_none());
        assert!(server.instance("i-postpaid-running").is_none());
    }
    for server in each_format(
        "DeleteInstances",
        "one-is-a-subscription",
        &[
            ("RegionId", REGION),
            ("InstanceId.1", "i-postpaid-stopped"),
            ("InstanceId.2", "i-prepaid"),
        ],
        403,
    )
    .await
    {
        assert!(
            server.instance("i-postpaid-stopped").is_some(),
            "the releasable one stays when another is refused"
        );
    }
    each_format(
        "DeleteInstances",
        "dry-run",
        &[
            ("RegionId", REGION),
            ("InstanceId.1", "i-postpaid-stopped"),
            ("DryRun", "true"),
        ],
        400,
    )
    .await;
}

#[tokio::test]
async fn modify_instance_attribute_changes_name_description_and_protection() {
    for server in each_format(
        "ModifyInstanceAttribute",
        "ok",
        &[
            ("InstanceId", "i-postpaid-running"),
            ("InstanceName", "renamed"),
            ("Description", "now described"),
            ("DeletionProtection", "true"),
        ],
        200,
    )
    .await
    {
        let i = server.instance("i-postpaid-running").unwrap();
        assert_eq!(
            (
                i.name.as_str(),
                i.description.as_str(),
                i.deletion_protection
            ),
            ("renamed", "now described", true)
        );
    }
    each_format(
        "ModifyInstanceAttribute",
        "unknown-instance",
        &[("InstanceId", "i-nowhere"), ("InstanceName", "renamed")],
        404,
    )
    .await;
    each_format(
        "ModifyInstanceAttribute",
        "missing-id",
        &[("InstanceName", "renamed")],
        400,
    )
    .await;
    // Names and descriptions by ECS's rules; a refused one changes nothing.
    for (case, param, value) in [
        ("bad-name", "InstanceName", "my web server"),
        ("bad-description", "Description", "https://example.com"),
    ] {
        for server in each_format(
            "ModifyInstanceAttribute",
            case,
            &[
                ("InstanceId", "i-postpaid-running"),
                (param, value),
                ("DeletionProtection", "true"),
            ],
            400,
        )
        .await
        {
            let i = server.instance("i-postpaid-running").unwrap();
            assert_eq!(
                (i.name.as_str(), i.deletion_protection),
                ("i-postpaid-running", false)
            );
        }
    }
    // Attributes ECS takes and ecsd does not keep: refused, and nothing else in the call is
    // carried out.
    for (label, attribute, value) in [
        ("unsupported-password", "Password", "Secret-123"),
        (
            "unsupported-security-groups",
            "SecurityGroupIds.1",
            "sg-other",
        ),
        ("unsupported-cpu-options", "CpuOptions.Core", "2"),
    ] {
        for server in each_format(
            "ModifyInstanceAttribute",
            label,
            &[
                ("InstanceId", "i-postpaid-running"),
                ("DeletionProtection", "true"),
                (attribute, value),
            ],
            400,
        )
        .await
        {
            let i = server.instance("i-postpaid-running").unwrap();
            assert!(
                !i.deletion_protection,
                "{label}: the refused call changed the instance"
            );
        }
    }
}

#[tokio::test]
async fn stop_instance_stops_a_running_instance_only() {
    for server in each_format(
        "StopInstance",
        "ok",
        &[
            ("InstanceId", "i-postpaid-running"),
            ("StoppedMode", "StopCharging"),
        ],
        200,
    )
    .await
    {
        let i = server.instance("i-postpaid-running").unwrap();
        assert_eq!(i.status, InstanceStatus::Stopped);
        assert!(i.stopped_charging);
    }
    each_format(
        "StopInstance",
        "already-stopped",
        &[("InstanceId", "i-postpaid-stopped")],
        403,
    )
    .await;
}

#[tokio::test]
async fn start_instance_starts_a_stopped_instance_only() {
    for server in each_format(
        "StartInstance",
        "ok",
        &[("InstanceId", "i-postpaid-stopped")],
        200,
    )
    .await
    {
        let i = server.instance("i-postpaid-stopped").unwrap();
        assert_eq!(i.status, InstanceStatus::Running);
        assert_eq!(i.start_time, Some(now()));
    }
    each_format(
        "StartInstance",
        "already-running",
        &[("InstanceId", "i-postpaid-running")],
        403,
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Dedicated hosts, regions.

#[tokio::test]
async fn allocate_dedicated_hosts_creates_hosts_and_refuses_unknown_types() {
    each_format(
        "AllocateDedicatedHosts",
        "ok",
        &[
            ("RegionId", REGION),
            ("DedicatedHostType", "ddh.g6"),
            ("Quantity", "2"),
        ],
        200,
    )
    .await;
    each_format(
        "AllocateDedicatedHosts",
        "unknown-type",
        &[("RegionId", REGION), ("DedicatedHostType", "ddh.nosuch")],
        403,
    )
    .await;
}

#[tokio::test]
async fn describe_dedicated_hosts_lists_hosts_with_their_instances() {
    each_format("DescribeDedicatedHosts", "ok", &[("RegionId", REGION)], 200).await;
    // The socket-level capacity, the inventory and the machine's details, each asked for.
    each_format(
        "DescribeDedicatedHosts",
        "details",
        &[
            ("RegionId", REGION),
            ("DedicatedHostIds", r#"["dh-busy"]"#),
            ("SocketDetails", "true"),
            ("QueryInventory", "true"),
            ("NeedHostDetail", "true"),
        ],
        200,
    )
    .await;
    each_format(
        "DescribeDedicatedHosts",
        "unknown-status",
        &[("RegionId", REGION), ("Status", "Broken")],
        404,
    )
    .await;
}

#[tokio::test]
async fn release_dedicated_host_releases_an_empty_host_only() {
    for server in each_format(
        "ReleaseDedicatedHost",
        "ok",
        &[("RegionId", REGION), ("DedicatedHostId", "dh-idle")],
        200,
    )
    .await
    {
        assert!(server.host("dh-idle").is_none());
    }
    for server in each_format(
        "ReleaseDedicatedHost",
        "instances-on-it",
        &[("RegionId", REGION), ("DedicatedHostId", "dh-busy")],
        403,
    )
    .await
    {
        assert!(server.host("dh-busy").is_some());
    }
    each_format(
        "ReleaseDedicatedHost",
        "subscription",
        &[("RegionId", REGION), ("DedicatedHostId", "dh-prepaid")],
        400,
    )
    .await;
}

#[tokio::test]
async fn describe_regions_lists_the_catalog_and_refuses_unknown_languages() {
    each_format("DescribeRegions", "ok", &[("AcceptLanguage", "en-US")], 200).await;
    each_format(
        "DescribeRegions",
        "unknown-language",
        &[("AcceptLanguage", "fr-FR")],
        404,
    )
    .await;
}

#[tokio::test]
async fn describe_zones_lists_the_zones_of_a_region() {
    each_format(
        "DescribeZones",
        "ok",
        &[("RegionId", "us-west-1"), ("AcceptLanguage", "en-US")],
        200,
    )
    .await;
    each_format(
        "DescribeZones",
        "not-verbose",
        &[("RegionId", REGION), ("Verbose", "false")],
        200,
    )
    .await;
    each_format(
        "DescribeZones",
        "unknown-region",
        &[("RegionId", "xx-nowhere-1")],
        404,
    )
    .await;
    each_format(
        "DescribeZones",
        "unknown-charge-type",
        &[("RegionId", REGION), ("InstanceChargeType", "Free")],
        404,
    )
    .await;
}

#[tokio::test]
async fn describe_instance_types_lists_and_filters_the_catalog() {
    each_format(
        "DescribeInstanceTypes",
        "ok",
        &[
            ("InstanceTypes.1", "ecs.g7.large"),
            ("InstanceTypes.2", "ecs.c7.xlarge"),
        ],
        200,
    )
    .await;
    for server in each_format(
        "DescribeInstanceTypes",
        "family-paged",
        &[("InstanceTypeFamily", "ecs.r7"), ("MaxResults", "3")],
        200,
    )
    .await
    {
        let next = server
            .call(
                "DescribeInstanceTypes",
                &[
                    ("InstanceTypeFamily", "ecs.r7"),
                    ("MaxResults", "3"),
                    ("NextToken", "t3"),
                ],
                Fmt::Json,
            )
            .await
            .json();
        let ids: Vec<&str> = next["InstanceTypes"]["InstanceType"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["InstanceTypeId"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["ecs.r7.3xlarge", "ecs.r7.4xlarge", "ecs.r7.8xlarge"]);
    }
    each_format(
        "DescribeInstanceTypes",
        "bad-max-results",
        &[("MaxResults", "1601")],
        400,
    )
    .await;
}

#[tokio::test]
async fn describe_images_lists_the_public_images() {
    each_format(
        "DescribeImages",
        "ok",
        &[
            ("RegionId", REGION),
            (
                "ImageId",
                "aliyun_3_x64_20G_alibase_20240819.vhd,win2022_21H2_x64_dtc_en-us_40G_alibase_20240816.vhd",
            ),
        ],
        200,
    )
    .await;
    each_format(
        "DescribeImages",
        "own-images",
        &[("RegionId", REGION), ("ImageOwnerAlias", "self")],
        200,
    )
    .await;
    each_format(
        "DescribeImages",
        "unknown-os-type",
        &[("RegionId", REGION), ("OSType", "beos")],
        400,
    )
    .await;
    each_format("DescribeImages", "missing-region", &[], 400).await;
}

#[tokio::test]
async fn reboot_instance_restarts_a_running_instance_only() {
    for server in each_format(
        "RebootInstance",
        "ok",
        &[("InstanceId", "i-postpaid-running"), ("ForceStop", "true")],
        200,
    )
    .await
    {
        let got = server
            .call(
                "DescribeInstances",
                &[
                    ("RegionId", REGION),
                    ("InstanceIds", r#"["i-postpaid-running"]"#),
                ],
                Fmt::Json,
            )
            .await
            .json();
        let i = &got["Instances"]["Instance"][0];
        assert_eq!(i["Status"], "Running", "{got}");
        // Started again at the server's time, not the seeded start a day earlier.
        assert_eq!(
            i["StartTime"],
            ecs_domain::time::format_minute(now()),
            "{got}"
        );
    }
    each_format(
        "RebootInstance",
        "stopped",
        &[("InstanceId", "i-postpaid-stopped")],
        403,
    )
    .await;
    each_format(
        "RebootInstance",
        "unknown-id",
        &[("InstanceId", "i-nosuchinstance")],
        404,
    )
    .await;
}

#[tokio::test]
async fn describe_instance_status_pages_the_statuses() {
    each_format(
        "DescribeInstanceStatus",
        "ok",
        &[
            ("RegionId", REGION),
            ("InstanceId.1", "i-postpaid-running"),
            ("InstanceId.2", "i-postpaid-stopped"),
        ],
        200,
    )
    .await;
    each_format(
        "DescribeInstanceStatus",
        "page-size-too-big",
        &[("RegionId", REGION), ("PageSize", "51")],
        400,
    )
    .await;
}

#[tokio::test]
async fn describe_instance_attribute_shows_one_instance() {
    each_format(
        "DescribeInstanceAttribute",
        "ok",
        &[("InstanceId", "i-prepaid")],
        200,
    )
    .await;
    each_format(
        "DescribeInstanceAttribute",
        "unknown-id",
        &[("InstanceId", "i-nosuchinstance")],
        404,
    )
    .await;
}

#[tokio::test]
async fn create_instance_creates_one_stopped_instance_with_its_settings() {
    for server in each_format(
        "CreateInstance",
        "ok",
        &[
            ("RegionId", REGION),
            ("ImageId", "aliyun_3_x64_20G_alibase_20240819.vhd"),
            ("InstanceType", "ecs.g7.large"),
            ("InstanceName", "legacy"),
            ("UserData", "ZWNobyBoZWxsbw=="),
            ("SpotStrategy", "SpotWithPriceLimit"),
            ("SpotPriceLimit", "0.25"),
        ],
        200,
    )
    .await
    {
        let listed = server
            .call(
                "DescribeInstances",
                &[("RegionId", REGION), ("InstanceName", "legacy")],
                Fmt::Json,
            )
            .await
            .json();
        let i = &listed["Instances"]["Instance"][0];
        assert_eq!(
            (
                &i["Status"],
                &i["SpotStrategy"],
                &i["SpotPriceLimit"],
                &i["SpotDuration"]
            ),
            (
                &Value::from("Stopped"),
                &Value::from("SpotWithPriceLimit"),
                &Value::from(0.25),
                &Value::from(1)
            ),
            "{listed}"
        );
        let id = i["InstanceId"].as_str().unwrap();
        let data = server
            .call(
                "DescribeUserData",
                &[("RegionId", REGION), ("InstanceId", id)],
                Fmt::Json,
            )
            .await
            .json();
        assert_eq!(data["UserData"], "ZWNobyBoZWxsbw==", "{data}");
    }
    each_format(
        "CreateInstance",
        "spot-subscription",
        &[
            ("RegionId", REGION),
            ("ImageId", "aliyun_3_x64_20G_alibase_20240819.vhd"),
            ("InstanceType", "ecs.g7.large"),
            ("InstanceChargeType", "PrePaid"),
            ("Period", "1"),
            ("SpotStrategy", "SpotAsPriceGo"),
        ],
        400,
    )
    .await;
    each_format(
        "CreateInstance",
        "bad-user-data",
        &[
            ("RegionId", REGION),
            ("ImageId", "aliyun_3_x64_20G_alibase_20240819.vhd"),
            ("InstanceType", "ecs.g7.large"),
            ("UserData", "not base64!"),
        ],
        400,
    )
    .await;
}

#[tokio::test]
async fn describe_user_data_shows_what_was_given() {
    each_format(
        "DescribeUserData",
        "none",
        &[("RegionId", REGION), ("InstanceId", "i-postpaid-running")],
        200,
    )
    .await;
    each_format(
        "DescribeUserData",
        "unknown-id",
        &[("RegionId", REGION), ("InstanceId", "i-nosuchinstance")],
        404,
    )
    .await;
}

#[tokio::test]
async fn describe_disks_lists_the_disks_of_instances_and_what_release_leaves() {
    for fmt in FORMATS {
        let server = seeded();
        let run = server
            .call(
                "RunInstances",
                &[
                    ("RegionId", REGION),
                    ("ImageId", "aliyun_3_x64_20G_alibase_20240819.vhd"),
                    ("InstanceType", "ecs.g7.large"),
                    ("SystemDisk.Category", "cloud_ssd"),
                    ("SystemDisk.Size", "60"),
                    ("DataDisk.1.Size", "100"),
                    ("DataDisk.1.DiskName", "kept"),
                    ("DataDisk.1.DeleteWithInstance", "false"),
                    ("DataDisk.2.Size", "50"),
                    ("DataDisk.2.Category", "cloud_efficiency"),
                ],
                Fmt::Json,
            )
            .await
            .json();
        let id = run["InstanceIdSets"]["InstanceIdSet"][0]
            .as_str()
            .unwrap()
            .to_string();
        let reply = server
            .call(
                "DescribeDisks",
                &[("RegionId", REGION), ("InstanceId", &id)],
                fmt,
            )
            .await;
        snap(
            &format!("DescribeDisks-of-instance-{}", fmt_name(fmt)),
            &reply,
            200,
        );
        let deleted = server
            .call(
                "DeleteInstance",
                &[("InstanceId", &id), ("Force", "true")],
                Fmt::Json,
            )
            .await;
        assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
        let reply = server
            .call("DescribeDisks", &[("RegionId", REGION)], fmt)
            .await;
        snap(
            &format!("DescribeDisks-after-release-{}", fmt_name(fmt)),
            &reply,
            200,
        );
    }
    each_format(
        "DescribeDisks",
        "bad-disk-type",
        &[("RegionId", REGION), ("DiskType", "floppy")],
        400,
    )
    .await;
    each_format(
        "RunInstances",
        "system-disk-too-small",
        &[
            ("RegionId", REGION),
            (
                "ImageId",
                "win2022_21H2_x64_dtc_en-us_40G_alibase_20240816.vhd",
            ),
            ("InstanceType", "ecs.g7.large"),
            ("SystemDisk.Size", "30"),
        ],
        400,
    )
    .await;
}

/// [`each_format`] on a [`seeded`] server whose account holds `balance`.
async fn each_format_funded(
    action: &str,
    label: &str,
    params: &[(&str, &str)],
    status: u16,
    balance: &str,
) -> Vec<TestServer> {
    let mut servers = Vec::new();
    for fmt in FORMATS {
        let server = seeded();
        let (account, money) = (server.account, balance.parse().unwrap());
        server
            .store
            .write(move |tx| Ok(tx.set_balance(account, money)?))
            .unwrap();
        let reply = server.call(action, params, fmt).await;
        snap(
            &format!("{action}-{label}-{}", fmt_name(fmt)),
            &reply,
            status,
        );
        servers.push(server);
    }
    servers
}

#[tokio::test]
async fn renew_instance_extends_a_subscription_from_the_balance() {
    for server in each_format_funded(
        "RenewInstance",
        "ok",
        &[
            ("InstanceId", "i-prepaid"),
            ("Period", "2"),
            ("PeriodUnit", "Month"),
        ],
        200,
        "1000",
    )
    .await
    {
        let before = new_subscription(
            now() - Duration::days(1),
            1,
            PeriodUnit::Month,
            RenewalSettings::default(),
        )
        .unwrap()
        .expired_time;
        let sub = server.instance("i-prepaid").unwrap().subscription.unwrap();
        assert_eq!(
            sub.expired_time,
            ecs_domain::lifecycle::add_period(before, 2, PeriodUnit::Month).unwrap()
        );
    }
    each_format_funded(
        "RenewInstance",
        "not-enough-balance",
        &[("InstanceId", "i-prepaid"), ("Period", "1")],
        403,
        "1",
    )
    .await;
    each_format_funded(
        "RenewInstance",
        "pay-as-you-go",
        &[("InstanceId", "i-postpaid-running"), ("Period", "1")],
        403,
        "1000",
    )
    .await;
    each_format_funded(
        "RenewInstance",
        "bad-period",
        &[("InstanceId", "i-prepaid"), ("Period", "10")],
        400,
        "1000",
    )
    .await;
}

#[tokio::test]
async fn modify_instance_charge_type_converts_both_ways() {
    for server in each_format_funded(
        "ModifyInstanceChargeType",
        "to-pay-as-you-go",
        &[
            ("RegionId", REGION),
            ("InstanceIds", r#"["i-prepaid"]"#),
            ("InstanceChargeType", "PostPaid"),
        ],
        200,
        "0",
    )
    .await
    {
        let i = server.instance("i-prepaid").unwrap();
        assert_eq!(
            (i.charge_type, i.subscription.is_none()),
            (ChargeType::PostPaid, true)
        );
    }
    for server in each_format_funded(
        "ModifyInstanceChargeType",
        "to-subscription",
        &[
            ("RegionId", REGION),
            (
                "InstanceIds",
                r#"["i-postpaid-running","i-postpaid-stopped"]"#,
            ),
            ("Period", "1"),
        ],
        200,
        "1000",
    )
    .await
    {
        for id in ["i-postpaid-running", "i-postpaid-stopped"] {
            assert_eq!(
                server.instance(id).unwrap().charge_type,
                ChargeType::PrePaid
            );
        }
    }
    for server in each_format_funded(
        "ModifyInstanceChargeType",
        "not-enough-for-all",
        &[
            ("RegionId", REGION),
            (
                "InstanceIds",
                r#"["i-postpaid-running","i-postpaid-stopped"]"#,
            ),
            ("Period", "1"),
        ],
        403,
        "30",
    )
    .await
    {
        assert_eq!(
            server.instance("i-postpaid-running").unwrap().charge_type,
            ChargeType::PostPaid,
            "all or none"
        );
    }
    each_format_funded(
        "ModifyInstanceChargeType",
        "already-so",
        &[
            ("RegionId", REGION),
            ("InstanceIds", r#"["i-prepaid"]"#),
            ("Period", "1"),
        ],
        403,
        "1000",
    )
    .await;
    each_format_funded(
        "ModifyInstanceChargeType",
        "missing-period",
        &[
            ("RegionId", REGION),
            ("InstanceIds", r#"["i-postpaid-running"]"#),
        ],
        400,
        "1000",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// The lifecycle: a release time falls due while the clock jumps.

#[tokio::test]
async fn a_release_time_releases_the_instance_when_the_clock_jumps_past_it() {
    let server = seeded();
    let at = from_now(Duration::hours(1));
    let set = server
        .call(
            "ModifyInstanceAutoReleaseTime",
            &[
                ("InstanceId", "i-postpaid-running"),
                ("AutoReleaseTime", &at),
            ],
            Fmt::Json,
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);

    let scheduler = Arc::new(Scheduler::new(server.service.clone()));
    let (reached, done) = scheduler
        .jump(2 * 3_600)
        .await
        .expect("the virtual clock jumps");
    assert_eq!(reached, now() + Duration::hours(2));
    let mut records = serde_json::to_value(&done).unwrap();
    let mut redactor = Redactor::new();
    redactor.json(&mut records);
    insta::assert_json_snapshot!("lifecycle-jump-actions", records);

    let events: Vec<Value> = server
        .service
        .events_after(0, 100)
        .unwrap()
        .into_iter()
        .map(|e| {
            serde_json::json!({
                "resource": e.event.resource.as_str(),
                "resource_id": e.event.resource_id,
                "action": e.event.action,
                "scheduled_at": e.event.scheduled_at.map(common::wire_time),
                "happened_at": common::wire_time(e.event.happened_at),
                "outcome": e.event.outcome,
                "detail": e.event.detail,
            })
        })
        .collect();
    let mut events = Value::from(events);
    redactor.json(&mut events);
    insta::assert_json_snapshot!("lifecycle-jump-events", events);

    let after = server
        .call(
            "DescribeInstances",
            &[
                ("RegionId", REGION),
                ("InstanceIds", r#"["i-postpaid-running"]"#),
            ],
            Fmt::Json,
        )
        .await;
    snap("DescribeInstances-after-release-json", &after, 200);
    assert!(server.instance("i-postpaid-running").is_none());
}
