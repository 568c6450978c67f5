//! DescribeDisks: the caller's disks (system and data disks of its instances, and detached
//! ones), filtered and paged.

use ecs_domain::disk::Disk;
use ecs_domain::error::common::invalid_parameter;
use ecs_domain::ErrorCode;
use ecs_service::disks::DiskQuery;
use serde_json::{json, Value};

use super::common::{object, page_number_and_size, region};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "DescribeDisks",
    run: |ctx| super::fields(run(ctx)),
};

const INVALID_DISK_TYPE: ErrorCode = ErrorCode::new(
    400,
    "InvalidDiskType.ValueNotSupported",
    "The specified DiskType is not valid.",
);
const INVALID_STATUS: ErrorCode = ErrorCode::new(
    400,
    "InvalidStatus.ValueNotSupported",
    "The specified Status is not valid.",
);

/// ECS takes at most 100 ids in `DiskIds`.
const MAX_IDS: usize = 100;

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let region = region(ctx)?;
    let ids = ctx.params.json_string_array("DiskIds")?;
    if ids.as_ref().is_some_and(|ids| ids.len() > MAX_IDS) {
        return Err(invalid_parameter("DiskIds"));
    }
    let disk_type = match ctx.params.non_empty("DiskType") {
        None | Some("all") => None,
        Some(t @ ("system" | "data")) => Some(t.to_string()),
        Some(_) => return Err(INVALID_DISK_TYPE.err()),
    };
    // The statuses ECS documents; ecsd's disks are only ever In_use or Available, so the others
    // match nothing.
    let status = match ctx.params.non_empty("Status") {
        None | Some("All") => None,
        Some(
            s @ ("In_use" | "Available" | "Attaching" | "Detaching" | "Creating" | "ReIniting"),
        ) => Some(s.to_string()),
        Some(_) => return Err(INVALID_STATUS.err()),
    };
    let (number, size) = page_number_and_size(ctx)?;
    let query = DiskQuery {
        region: region.clone(),
        zone: ctx.params.non_empty("ZoneId").map(str::to_string),
        ids,
        instance_id: ctx.params.non_empty("InstanceId").map(str::to_string),
        disk_type,
        category: ctx.params.non_empty("Category").map(str::to_string),
        status,
        delete_with_instance: ctx.params.bool("DeleteWithInstance")?,
    };
    let (total, page) = ctx.service.list_disks(&ctx.caller, query, number, size)?;
    Ok(object(json!({
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
        "NextToken": "",
        "Disks": { "Disk": page.iter().map(render).collect::<Vec<_>>() },
    })))
}

fn render(d: &Disk) -> Value {
    let created = d.creation_time.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    json!({
        "DiskId": d.id,
        "DiskName": d.name,
        "Description": d.description,
        "RegionId": d.region_id,
        "ZoneId": d.zone_id,
        "Type": d.disk_type,
        "Category": d.category,
        "Size": d.size_gib,
        "Status": d.status(),
        "InstanceId": d.instance_id.as_deref().unwrap_or_default(),
        "Device": d.device,
        "DeleteWithInstance": d.delete_with_instance,
        "DeleteAutoSnapshot": true,
        "ImageId": d.image_id,
        "DiskChargeType": d.charge_type,
        "Portable": d.disk_type == "data",
        "Encrypted": false,
        "CreationTime": created,
        "AttachedTime": if d.instance_id.is_some() { created.clone() } else { String::new() },
        "Tags": { "Tag": [] },
    })
}
