//! DescribeDedicatedHosts: the caller's dedicated hosts in a region.

use ecs_domain::error::common::invalid_parameter;
use ecs_domain::model::{HostStatus, LockReason};
use ecs_domain::ErrorCode;
use ecs_service::{DataField, FieldMatch, HostFilter};
use serde_json::{json, Value};

use super::common::{object, optional_enum, region};
use super::describe_instances::{make_token, paging, tag_filter};
use super::views::{host_view, HostDetails};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "DescribeDedicatedHosts",
    run: |ctx| super::fields(run(ctx)),
};

const INVALID_STATUS: ErrorCode = ErrorCode::new(
    404,
    "InvalidStatus.NotFound",
    "The specified Status is not found",
);

const INVALID_LOCK_REASON: ErrorCode = ErrorCode::new(
    404,
    "InvalidLockReason.NotFound",
    "The specified LockReason is not found",
);

/// Every request parameter of DescribeDedicatedHosts the SDK models document: each one
/// filters, pages, or is checked as ECS does; none is read and dropped.
// Read by the test that holds it against the SDK models.
#[cfg_attr(not(test), allow(dead_code))]
pub const PARAMETERS: &[&str] = &[
    "RegionId",
    "OwnerId",
    "OwnerAccount",
    "ResourceOwnerId",
    "ResourceOwnerAccount",
    "PageNumber",
    "PageSize",
    "NextToken",
    "MaxResults",
    "DedicatedHostIds",
    "ZoneId",
    "Status",
    "LockReason",
    "DedicatedHostName",
    "DedicatedHostType",
    "Tag",
    "DedicatedHostClusterId",
    "ResourceGroupId",
    "NeedHostDetail",
    "QueryInventory",
    "SocketDetails",
];

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let region = region(ctx)?;
    let ids = ctx.params.json_string_array("DedicatedHostIds")?;
    if ids.as_ref().is_some_and(|ids| ids.len() > 100) {
        return Err(invalid_parameter("DedicatedHostIds"));
    }
    let status = optional_enum(ctx, "Status", HostStatus::parse, INVALID_STATUS)?
        .map(|s| s.as_str().to_string());
    let lock_reason = optional_enum(ctx, "LockReason", LockReason::parse, INVALID_LOCK_REASON)?
        .map(|r| r.as_str().to_string());
    let paging = paging(ctx)?;
    let tags = tag_filter(ctx)?;
    let p = ctx.params;
    let fields: Vec<FieldMatch> = p
        .non_empty("DedicatedHostType")
        .map(|t| FieldMatch {
            field: DataField::HostType,
            values: vec![t.to_string()],
        })
        .into_iter()
        .collect();
    // No ecsd host is in a host cluster or a resource group: a value of these matches none.
    let possible =
        p.non_empty("DedicatedHostClusterId").is_none() && p.non_empty("ResourceGroupId").is_none();
    // What the answer shows beyond the host, as the SDK models document the three:
    // socket-level capacity, the inventory (how many more of each type fit), the machine's
    // details. `NeedHostDetail` is free text in the SDK models; `true` (any case) asks.
    let details = HostDetails {
        sockets: p.bool("SocketDetails")?.unwrap_or(false),
        inventory: p.bool("QueryInventory")?.unwrap_or(false),
        host_detail: p
            .non_empty("NeedHostDetail")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
    };
    let filter = HostFilter {
        account_id: ctx.caller.account_id,
        region_id: Some(region),
        ids: if possible { ids } else { Some(Vec::new()) },
        zone_id: p.non_empty("ZoneId").map(str::to_string),
        status,
        lock_reason,
        name: p.non_empty("DedicatedHostName").map(str::to_string),
        tags,
        fields,
    };
    let listing = ctx.service.list_hosts(&ctx.caller, filter, paging.page())?;
    let catalog = ctx.service.catalog();
    let hosts: Vec<Value> = listing
        .items
        .iter()
        .map(|(h, placed)| host_view(h, placed, catalog, details))
        .collect();
    let (number, size) = paging.shown();
    Ok(object(json!({
        "TotalCount": listing.total,
        "PageNumber": number,
        "PageSize": size,
        "NextToken": listing.next_after.map(make_token).unwrap_or_default(),
        "DedicatedHosts": { "DedicatedHost": hosts },
    })))
}
