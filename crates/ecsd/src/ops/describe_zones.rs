//! DescribeZones: the zones of a region and what can be created in each.

use ecs_domain::model::ChargeType;
use ecs_domain::ErrorCode;
use serde_json::{json, Value};

use super::common::{object, region};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "DescribeZones",
    run: |ctx| super::fields(run(ctx)),
};

const INVALID_LANGUAGE: ErrorCode = ErrorCode::new(
    404,
    "InvalidAcceptLanguage.NotFound",
    "The specified AcceptLanguage is not found.",
);
const INVALID_CHARGE_TYPE: ErrorCode = ErrorCode::new(
    404,
    "InvalidInstanceChargeType.NotFound",
    "The InstanceChargeType does not exist in our records",
);
const INVALID_SPOT_STRATEGY: ErrorCode = ErrorCode::new(
    404,
    "InvalidSpotStrategy.NotFound",
    "The specified SpotStrategy is not found.",
);

/// The disk categories every zone offers (system and data disks alike).
const DISK_CATEGORIES: [&str; 4] = ["cloud_efficiency", "cloud_ssd", "cloud_essd", "cloud_auto"];

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let region_id = region(ctx)?;
    let language = ctx.params.non_empty("AcceptLanguage");
    if let Some(lang) = language {
        if !["zh-CN", "en-US", "ja"].contains(&lang) {
            return Err(INVALID_LANGUAGE.err());
        }
    }
    if let Some(c) = ctx.params.non_empty("InstanceChargeType") {
        ChargeType::parse(c).ok_or_else(|| INVALID_CHARGE_TYPE.err())?;
    }
    if let Some(s) = ctx.params.non_empty("SpotStrategy") {
        if !["NoSpot", "SpotWithPriceLimit", "SpotAsPriceGo"].contains(&s) {
            return Err(INVALID_SPOT_STRATEGY.err());
        }
    }
    // ECS documents `Verbose` as true by default: false leaves out the lists of what a zone
    // offers, for callers that only want the zone ids.
    let verbose = ctx.params.bool("Verbose")?.unwrap_or(true);
    let catalog = ctx.service.catalog();
    let Some(region) = catalog.region(&region_id) else {
        return Ok(object(json!({ "Zones": { "Zone": [] } })));
    };
    let types: Vec<&str> = catalog
        .instance_types
        .iter()
        .map(|t| t.id.as_str())
        .collect();
    let mut families: Vec<&str> = catalog.instance_types.iter().map(|t| t.family()).collect();
    families.sort_unstable();
    families.dedup();
    let host_types: Vec<&str> = catalog.host_types.iter().map(|t| t.id.as_str()).collect();
    let zones: Vec<Value> = region
        .zones
        .iter()
        .map(|zone_id| {
            // `cn-hangzhou-h` is zone H of its region; a config's zone that does not start with
            // the region id is named by its whole id.
            let letter = zone_id
                .strip_prefix(region.id.as_str())
                .map(|rest| rest.trim_start_matches('-').to_uppercase())
                .filter(|rest| !rest.is_empty())
                .unwrap_or_else(|| zone_id.clone());
            let local_name = match (language, &region.english_name) {
                (Some("en-US"), Some(en)) => format!("{en} Zone {letter}"),
                _ => format!("{} 可用区 {letter}", region.local_name),
            };
            let mut zone = json!({
                "ZoneId": zone_id,
                "LocalName": local_name,
                "ZoneType": "AvailabilityZone",
                "AvailableResourceCreation": {
                    "ResourceTypes": ["Instance", "Disk", "DedicatedHost", "VSwitch"],
                },
            });
            if verbose {
                let more = json!({
                    "AvailableInstanceTypes": { "InstanceTypes": types },
                    "AvailableDiskCategories": { "DiskCategories": DISK_CATEGORIES },
                    "AvailableVolumeCategories": { "VolumeCategories": DISK_CATEGORIES },
                    "AvailableDedicatedHostTypes": { "DedicatedHostType": host_types },
                    "DedicatedHostGenerations": { "DedicatedHostGeneration": [] },
                    "AvailableResources": { "ResourcesInfo": [{
                        "IoOptimized": true,
                        "InstanceTypes": { "supportedInstanceType": types },
                        "InstanceTypeFamilies": { "supportedInstanceTypeFamily": families },
                        "InstanceGenerations": { "supportedInstanceGeneration": ["ecs-4", "ecs-5"] },
                        "SystemDiskCategories": { "supportedSystemDiskCategory": DISK_CATEGORIES },
                        "DataDiskCategories": { "supportedDataDiskCategory": DISK_CATEGORIES },
                        "NetworkTypes": { "supportedNetworkCategory": ["vpc"] },
                    }]},
                });
                if let (Value::Object(z), Value::Object(m)) = (&mut zone, more) {
                    z.extend(m);
                }
            }
            zone
        })
        .collect();
    Ok(object(json!({ "Zones": { "Zone": zones } })))
}
