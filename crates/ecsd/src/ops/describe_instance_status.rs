//! DescribeInstanceStatus: the status of each of the caller's instances in a region, paged.

use ecs_domain::error::common::invalid_parameter;
use ecs_service::{InstanceFilter, Page};
use serde_json::json;

use super::common::{object, region};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "DescribeInstanceStatus",
    run: |ctx| super::fields(run(ctx)),
};

/// ECS takes at most 100 `InstanceId.N`.
const MAX_IDS: usize = 100;
/// `PageSize` is 1 to 50 here (not 100 as for DescribeInstances), 10 when left out.
const MAX_PAGE_SIZE: i64 = 50;

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let region = region(ctx)?;
    let ids = ctx.params.try_repeat_list("InstanceId")?;
    if ids.len() > MAX_IDS {
        return Err(invalid_parameter("InstanceId"));
    }
    let number = match ctx.params.int("PageNumber")? {
        None => 1,
        Some(n) if (1..=i64::from(u32::MAX)).contains(&n) => n as u32,
        Some(_) => return Err(invalid_parameter("PageNumber")),
    };
    let size = match ctx.params.int("PageSize")? {
        None => 10,
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n as u32,
        Some(_) => return Err(invalid_parameter("PageSize")),
    };
    let filter = InstanceFilter {
        region_id: Some(region),
        ids: (!ids.is_empty()).then_some(ids),
        zone_id: ctx.params.non_empty("ZoneId").map(str::to_string),
        ..InstanceFilter::default()
    };
    let page = Page::Offset {
        offset: u64::from(number - 1) * u64::from(size),
        limit: size,
    };
    let listing = ctx.service.list_instances(&ctx.caller, filter, page)?;
    let statuses: Vec<_> = listing
        .items
        .iter()
        .map(|i| json!({ "InstanceId": i.id, "Status": i.status.as_str() }))
        .collect();
    Ok(object(json!({
        "TotalCount": listing.total,
        "PageNumber": number,
        "PageSize": size,
        "InstanceStatuses": { "InstanceStatus": statuses },
    })))
}
