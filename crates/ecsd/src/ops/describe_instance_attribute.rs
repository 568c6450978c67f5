//! DescribeInstanceAttribute: one instance's attributes.

use serde_json::{json, Map, Value};

use super::common::{optional_region, required};
use super::views::InstanceView;
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "DescribeInstanceAttribute",
    run: |ctx| super::fields(run(ctx)),
};

/// The fields DescribeInstanceAttribute shares with DescribeInstances' view of an instance;
/// taken from that view so both answers always agree.
const SHARED: &[&str] = &[
    "InstanceId",
    "InstanceName",
    "Description",
    "RegionId",
    "ZoneId",
    "Status",
    "InstanceChargeType",
    "InternetChargeType",
    "InstanceType",
    "Cpu",
    "Memory",
    "ImageId",
    "HostName",
    "CreationTime",
    "ExpiredTime",
    "StoppedMode",
    "OperationLocks",
    "SecurityGroupIds",
    "VpcAttributes",
    "DedicatedHostAttribute",
    "InstanceNetworkType",
    "IoOptimized",
    "PublicIpAddress",
    "InnerIpAddress",
    "EipAddress",
    "InternetMaxBandwidthIn",
    "InternetMaxBandwidthOut",
    "SerialNumber",
    "CreditSpecification",
];

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let id = required(ctx, "InstanceId")?.to_string();
    let region = optional_region(ctx)?;
    let instance = ctx.service.instance(&ctx.caller, region, id)?;
    let Value::Object(view) = serde_json::to_value(InstanceView::of(
        &instance,
        ctx.service.catalog().image(&instance.image_id),
    ))
    .map_err(|_| ecs_domain::error::common::INTERNAL_ERROR.err())?
    else {
        return Err(ecs_domain::error::common::INTERNAL_ERROR.err());
    };
    // What this answer has and the list view may not: empty address lists, no bandwidth.
    let mut fields: Map<String, Value> = match json!({
        "PublicIpAddress": { "IpAddress": [] },
        "InnerIpAddress": { "IpAddress": [] },
        "EipAddress": { "AllocationId": "", "IpAddress": "", "Bandwidth": 0, "InternetChargeType": "" },
        "InternetMaxBandwidthIn": 0,
        "InternetMaxBandwidthOut": 0,
        "SerialNumber": "",
        "ClusterId": "",
        "VlanId": "",
        "EnableJumboFrame": false,
    }) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    for (k, v) in view {
        if SHARED.contains(&k.as_str()) {
            fields.insert(k, v);
        }
    }
    Ok(fields)
}
