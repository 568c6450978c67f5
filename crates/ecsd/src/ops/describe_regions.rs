//! DescribeRegions: the regions this server offers.

use ecs_domain::model::ChargeType;
use ecs_domain::ErrorCode;
use serde_json::{json, Value};

use super::common::object;
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "DescribeRegions",
    run: |ctx| super::fields(run(ctx)),
};

const INVALID_LANGUAGE: ErrorCode = ErrorCode::new(
    404,
    "InvalidAcceptLanguage.NotFound",
    "The specified AcceptLanguage is not found.",
);
const INVALID_RESOURCE_TYPE: ErrorCode = ErrorCode::new(
    404,
    "InvalidResourceType.NotFound",
    "The specified ResourceType is not found.",
);
const INVALID_CHARGE_TYPE: ErrorCode = ErrorCode::new(
    404,
    "InvalidInstanceChargeType.NotFound",
    "The InstanceChargeType does not exist in our records",
);

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let language = ctx.params.non_empty("AcceptLanguage");
    if let Some(lang) = language {
        if !["zh-CN", "en-US", "ja"].contains(&lang) {
            return Err(INVALID_LANGUAGE.err());
        }
    }
    // Names are kept in Chinese and English; Japanese ones are not known here.
    let english = language == Some("en-US");
    if let Some(t) = ctx.params.non_empty("ResourceType") {
        if !["instance", "disk", "reservedinstance", "scu"].contains(&t) {
            return Err(INVALID_RESOURCE_TYPE.err());
        }
    }
    if let Some(c) = ctx.params.non_empty("InstanceChargeType") {
        ChargeType::parse(c).ok_or_else(|| INVALID_CHARGE_TYPE.err())?;
    }
    let regions: Vec<Value> = ctx
        .service
        .catalog()
        .regions
        .iter()
        .map(|r| {
            json!({
                "RegionId": r.id,
                "LocalName": match (&r.english_name, english) {
                    (Some(name), true) => name,
                    _ => &r.local_name,
                },
                "RegionEndpoint": format!("ecs.{}.aliyuncs.com", r.id),
                "Status": "available",
            })
        })
        .collect();
    Ok(object(json!({ "Regions": { "Region": regions } })))
}
