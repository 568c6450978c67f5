//! DescribeUserData: the user data an instance was created with, base64 as given ("" if none).

use serde_json::json;

use super::common::{object, region, required};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "DescribeUserData",
    run: |ctx| super::fields(run(ctx)),
};

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let region = region(ctx)?;
    let id = required(ctx, "InstanceId")?.to_string();
    let instance = ctx
        .service
        .instance(&ctx.caller, Some(region.clone()), id)?;
    Ok(object(json!({
        "InstanceId": instance.id,
        "RegionId": region,
        "UserData": instance.launch.user_data.unwrap_or_default(),
    })))
}
