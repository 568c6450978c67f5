//! DescribeInstances: the caller's instances in a region, filtered, by page or by token.

use std::collections::HashMap;

use ecs_domain::catalog::Image;
use ecs_domain::error::common::{invalid_parameter, DRY_RUN_OPERATION};
use ecs_domain::model::{ChargeType, Instance, InstanceStatus, LockReason};
use ecs_domain::time::{parse_utc_minute_or_second, truncate_to_minute};
use ecs_domain::ApiError;
use ecs_domain::ErrorCode;
use ecs_service::{DataField, FieldMatch, InstanceFilter, Page, TimeRange};
use serde::Serialize;
use serde::Serializer;

use super::common::{dry_run, optional_enum, page_number_and_size, region};
use super::views::InstanceView;
use super::{Answer, OpCtx, Operation};

pub const OP: Operation = Operation {
    name: "DescribeInstances",
    run: |ctx| Box::pin(run(ctx)),
};

const INVALID_STATUS: ErrorCode = ErrorCode::new(
    404,
    "InvalidStatus.NotFound",
    "The specified Status is not found",
);
const INVALID_CHARGE_TYPE: ErrorCode = ErrorCode::new(
    404,
    "InvalidInstanceChargeType.NotFound",
    "The InstanceChargeType does not exist in our records",
);
const INVALID_LOCK_REASON: ErrorCode = ErrorCode::new(
    404,
    "InvalidLockReason.NotFound",
    "The specified LockReason is not found",
);

/// Up to this many ids fit in one `InstanceIds` filter.
const MAX_IDS: usize = 100;

/// How the caller pages: by number, or by the token of the previous answer.
pub enum Paging {
    Numbered { number: u32, size: u32 },
    Token { after: i64, max: u32 },
}

/// `NextToken`/`MaxResults` win over `PageNumber`/`PageSize` when either is sent.
pub fn paging(ctx: &OpCtx) -> Result<Paging, ecs_domain::ApiError> {
    let token = ctx.params.get("NextToken");
    let max = ctx.params.int("MaxResults")?;
    if token.is_none() && max.is_none() {
        let (number, size) = page_number_and_size(ctx)?;
        return Ok(Paging::Numbered { number, size });
    }
    let max = match max {
        None => 10,
        Some(n) if (1..=100).contains(&n) => n as u32,
        Some(_) => return Err(invalid_parameter("MaxResults")),
    };
    let after = match token {
        None | Some("") => 0,
        Some(t) => parse_token(t).ok_or_else(|| invalid_parameter("NextToken"))?,
    };
    Ok(Paging::Token { after, max })
}

/// Tokens are opaque to clients; inside they carry the creation sequence of the last row seen.
pub fn make_token(after: i64) -> String {
    format!("e{after:x}")
}

fn parse_token(t: &str) -> Option<i64> {
    i64::from_str_radix(t.strip_prefix('e')?, 16).ok()
}

impl Paging {
    pub fn page(&self) -> Page {
        match *self {
            Paging::Numbered { number, size } => Page::Offset {
                offset: u64::from(number - 1) * u64::from(size),
                limit: size,
            },
            Paging::Token { after, max } => Page::After { after, limit: max },
        }
    }

    /// The `PageNumber` and `PageSize` to show.
    pub fn shown(&self) -> (u32, u32) {
        match *self {
            Paging::Numbered { number, size } => (number, size),
            Paging::Token { max, .. } => (1, max),
        }
    }
}

/// At most this many `Tag.N` pairs filter one call.
const MAX_TAGS: usize = 20;

const INVALID_TAG_COUNT: ErrorCode = ErrorCode::new(
    400,
    "InvalidTagCount",
    "The specified tags are beyond the permitted range.",
);
const TAG_MISMATCH: ErrorCode = ErrorCode::new(
    400,
    "InvalidTag.Mismatch",
    "The specified Tag.n.Key and Tag.n.Value are not match.",
);

const INVALID_FILTER_KEY: ErrorCode = ErrorCode::new(
    404,
    "InvalidFilterKey.NotFound",
    "The specified filter key is not found.",
);

/// `Filter.N.Key`/`Filter.N.Value`: bounds on the creation and expiry times. A key sent with no
/// value bounds nothing.
fn time_filters(ctx: &OpCtx) -> Result<(TimeRange, TimeRange), ApiError> {
    let (mut created, mut expires) = (TimeRange::default(), TimeRange::default());
    for (n, fields) in ctx.params.object_list("Filter") {
        let Some(key) = fields.get("Key").filter(|k| !k.is_empty()) else {
            continue;
        };
        // (bound, is a lower bound)
        let (bound, lower) = match *key {
            "CreationStartTime" => (&mut created.from, true),
            "CreationEndTime" => (&mut created.to, false),
            "ExpiredStartTime" => (&mut expires.from, true),
            "ExpiredEndTime" => (&mut expires.to, false),
            _ => return Err(INVALID_FILTER_KEY.err()),
        };
        let Some(raw) = fields.get("Value").filter(|v| !v.is_empty()) else {
            continue;
        };
        let at = parse_utc_minute_or_second(raw)
            .ok_or_else(|| invalid_parameter(&format!("Filter.{n}.Value")))?;
        let at = truncate_to_minute(at);
        // Filters AND together, so a key given twice keeps the narrower bound.
        *bound = Some(match *bound {
            Some(old) if lower => old.max(at),
            Some(old) => old.min(at),
            None => at,
        });
    }
    Ok((created, expires))
}

/// `Tag.N.Key` (with an optional `Tag.N.Value`): every pair must match.
pub fn tag_filter(ctx: &OpCtx) -> Result<Vec<(String, Option<String>)>, ecs_domain::ApiError> {
    let pairs = ctx.params.object_list("Tag");
    if pairs.len() > MAX_TAGS {
        return Err(INVALID_TAG_COUNT.err());
    }
    pairs
        .into_iter()
        .map(|(_, fields)| {
            let key = fields.get("Key").filter(|k| !k.is_empty());
            let value = fields.get("Value").map(|v| v.to_string());
            match key {
                Some(k) => Ok((k.to_string(), value)),
                None => Err(TAG_MISMATCH.err()),
            }
        })
        .collect()
}

/// Every request parameter of DescribeInstances the SDK models document (both the Tea and the
/// classic SDK): each one filters, pages, or is checked and shown as ECS does; none is read and
/// dropped. `tests/data/describe_instances_request.txt` (extracted from the SDK models) must
/// be a subset of it.
// Read by the test that holds it against the SDK models.
#[cfg_attr(not(test), allow(dead_code))]
pub const PARAMETERS: &[&str] = &[
    // Common to every call (the caller, the signature) or paging.
    "RegionId",
    "OwnerId",
    "OwnerAccount",
    "ResourceOwnerId",
    "ResourceOwnerAccount",
    "DryRun",
    "PageNumber",
    "PageSize",
    "NextToken",
    "MaxResults",
    // Column filters.
    "InstanceIds",
    "ZoneId",
    "Status",
    "InstanceChargeType",
    "InstanceName",
    "LockReason",
    "DedicatedHostId",
    "Tag",
    "Filter",
    // Filters on what the instance keeps in its JSON.
    "VpcId",
    "VSwitchId",
    "SecurityGroupId",
    "InstanceType",
    "InstanceTypeFamily",
    "ImageId",
    "KeyPairName",
    "ResourceGroupId",
    "InternetChargeType",
    "PrivateIpAddresses",
    "PublicIpAddresses",
    // Filters on what no ecsd instance has (nothing matches a value).
    "InnerIpAddresses",
    "EipAddresses",
    "RdmaIpAddresses",
    "Ipv6Address",
    "HpcClusterId",
    // Filters on what every ecsd instance has alike.
    "InstanceNetworkType",
    "IoOptimized",
    "DeviceAvailable",
    "HttpEndpoint",
    "HttpTokens",
    "HttpPutResponseHopLimit",
    // What the answer shows: ecsd always shows every attribute it has.
    "NeedSaleCycle",
    "AdditionalAttributes",
];

/// A JSON-array address filter holds at most this many addresses.
const MAX_ADDRESSES: usize = 100;

/// The filters on fields kept in the instance's JSON. The bool is false when no ecsd
/// instance can match them (a classic-network address, an IPv6 address, an HPC cluster, a
/// metadata setting no instance has...).
fn field_filters(ctx: &OpCtx) -> Result<(Vec<FieldMatch>, Option<String>, bool), ApiError> {
    let p = ctx.params;
    let mut fields = Vec::new();
    let mut possible = true;
    let one = |field: DataField, name: &str, fields: &mut Vec<FieldMatch>| {
        if let Some(v) = p.non_empty(name) {
            fields.push(FieldMatch {
                field,
                values: vec![v.to_string()],
            });
        }
    };
    one(DataField::VpcId, "VpcId", &mut fields);
    one(DataField::VSwitchId, "VSwitchId", &mut fields);
    one(DataField::SecurityGroupIds, "SecurityGroupId", &mut fields);
    one(DataField::InstanceType, "InstanceType", &mut fields);
    one(DataField::ImageId, "ImageId", &mut fields);
    one(DataField::KeyPairName, "KeyPairName", &mut fields);
    one(DataField::ResourceGroupId, "ResourceGroupId", &mut fields);
    if let Some(v) = p.non_empty("InternetChargeType") {
        if !matches!(v, "PayByTraffic" | "PayByBandwidth") {
            return Err(invalid_parameter("InternetChargeType"));
        }
        one(
            DataField::InternetChargeType,
            "InternetChargeType",
            &mut fields,
        );
    }
    let addresses = |name: &str| -> Result<Option<Vec<String>>, ApiError> {
        let list = p.json_string_array(name)?;
        if list.as_ref().is_some_and(|l| l.len() > MAX_ADDRESSES) {
            return Err(invalid_parameter(name));
        }
        Ok(list)
    };
    for (name, field) in [
        ("PrivateIpAddresses", DataField::PrivateIpAddresses),
        ("PublicIpAddresses", DataField::PublicIpAddresses),
    ] {
        if let Some(values) = addresses(name)? {
            fields.push(FieldMatch { field, values });
        }
    }
    // ecsd instances are all in a VPC (no classic-network inner address), have no EIP, RDMA
    // or IPv6 address and no HPC cluster: a value of these matches none of them.
    for name in ["InnerIpAddresses", "EipAddresses", "RdmaIpAddresses"] {
        if addresses(name)?.is_some() {
            possible = false;
        }
    }
    if !p.repeat_list("Ipv6Address").is_empty() || p.non_empty("HpcClusterId").is_some() {
        possible = false;
    }
    // What every ecsd instance has alike: the value it has matches all, another none.
    match p.non_empty("InstanceNetworkType") {
        None | Some("vpc") => {}
        Some("classic") => possible = false,
        Some(_) => return Err(invalid_parameter("InstanceNetworkType")),
    }
    if p.bool("IoOptimized")? == Some(false) || p.bool("DeviceAvailable")? == Some(false) {
        possible = false;
    }
    match p.non_empty("HttpEndpoint") {
        None | Some("enabled") => {}
        Some("disabled") => possible = false,
        Some(_) => return Err(invalid_parameter("HttpEndpoint")),
    }
    match p.non_empty("HttpTokens") {
        None | Some("optional") => {}
        Some("required") => possible = false,
        Some(_) => return Err(invalid_parameter("HttpTokens")),
    }
    match p.int("HttpPutResponseHopLimit")? {
        None => {}
        Some(n) if n == i64::from(super::views::HTTP_HOP_LIMIT) => {}
        Some(n) if (1..=64).contains(&n) => possible = false,
        Some(_) => return Err(invalid_parameter("HttpPutResponseHopLimit")),
    }
    p.bool("NeedSaleCycle")?;
    // `AdditionalAttributes.N` only asks for more of each instance to be shown; ecsd always
    // shows everything it has, so the list needs no more than its shape checked.
    p.try_repeat_list("AdditionalAttributes")?;
    let family = p.non_empty("InstanceTypeFamily").map(str::to_string);
    Ok((fields, family, possible))
}

async fn run(ctx: &OpCtx<'_>) -> Result<Answer, ApiError> {
    let region = region(ctx)?;
    let ids = ctx.params.json_string_array("InstanceIds")?;
    if ids.as_ref().is_some_and(|ids| ids.len() > MAX_IDS) {
        return Err(invalid_parameter("InstanceIds"));
    }
    let status = optional_enum(ctx, "Status", InstanceStatus::parse, INVALID_STATUS)?
        .map(|s| s.as_str().to_string());
    let charge_type = optional_enum(
        ctx,
        "InstanceChargeType",
        ChargeType::parse,
        INVALID_CHARGE_TYPE,
    )?;
    let lock_reason = optional_enum(ctx, "LockReason", LockReason::parse, INVALID_LOCK_REASON)?
        .map(|r| r.as_str().to_string());
    let paging = paging(ctx)?;
    let tags = tag_filter(ctx)?;
    let (created, expires) = time_filters(ctx)?;
    let (fields, type_family, possible) = field_filters(ctx)?;
    // The Tea SDKs send DryRun with every DescribeInstances.
    if dry_run(ctx)? {
        return Err(DRY_RUN_OPERATION.err());
    }
    let filter = InstanceFilter {
        account_id: ctx.caller.account_id,
        region_id: Some(region),
        // An explicit empty id list matches nothing, as a filter no instance can meet should.
        ids: if possible { ids } else { Some(Vec::new()) },
        zone_id: ctx.params.non_empty("ZoneId").map(str::to_string),
        status,
        charge_type,
        name: ctx.params.non_empty("InstanceName").map(str::to_string),
        lock_reason,
        host_id: ctx.params.non_empty("DedicatedHostId").map(str::to_string),
        tags,
        created,
        expires,
        type_family,
        fields,
    };
    let page = paging.page();
    let listing = ctx.service.list_instances(&ctx.caller, filter, page)?;
    let on_hosts = listing
        .items
        .iter()
        .filter_map(|i| i.dedicated_host_id.clone())
        .collect();
    let host_names = ctx.service.host_names(&ctx.caller, on_hosts)?;
    // The listed instances' images, copied from the catalogue: the answer is serialized after
    // this call returns, so it cannot borrow the catalogue.
    let catalog = ctx.service.catalog();
    let images = listing
        .items
        .iter()
        .filter_map(|i| catalog.image(&i.image_id))
        .map(|img| (img.id.clone(), img.clone()))
        .collect();
    let (number, size) = paging.shown();
    Ok(Answer::Typed(Box::new(Listed {
        total_count: listing.total,
        page_number: number,
        page_size: size,
        next_token: listing.next_after.map(make_token).unwrap_or_default(),
        instances: Instances {
            items: listing.items,
            host_names,
            images,
        },
    })))
}

/// The answer. It owns the listed instances; their views are made while serializing.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Listed {
    total_count: u64,
    page_number: u32,
    page_size: u32,
    next_token: String,
    instances: Instances,
}

/// The listed instances and the names of the hosts they are on.
struct Instances {
    items: Vec<Instance>,
    host_names: HashMap<String, String>,
    images: HashMap<String, Image>,
}

/// `{"Instance": [view, ...]}`.
impl Serialize for Instances {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct InstanceList<'a> {
            #[serde(rename = "Instance")]
            instance: Vec<InstanceView<'a>>,
        }
        InstanceList {
            instance: self
                .items
                .iter()
                .map(|i| {
                    let host = i.dedicated_host_id.as_ref();
                    let name = host.and_then(|h| self.host_names.get(h));
                    InstanceView::of(i, self.images.get(&i.image_id))
                        .on_host_named(name.map_or("", String::as_str))
                })
                .collect(),
        }
        .serialize(s)
    }
}
