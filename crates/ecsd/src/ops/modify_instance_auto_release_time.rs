//! ModifyInstanceAutoReleaseTime: set, change or cancel when a pay-as-you-go instance is
//! released. The latest setting wins.

use ecs_domain::ErrorCode;
use ecs_service::instances::{SetReleaseTime, INSTANCE_RELEASE_TIME_ROWS};

use super::common::{empty, optional_region, release_time, required_or};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "ModifyInstanceAutoReleaseTime",
    run: |ctx| super::fields(run(ctx)),
};

const MISSING_INSTANCE_ID: ErrorCode =
    ErrorCode::new(400, "MissingParameter", "InstanceId should not be null.");

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let cmd = SetReleaseTime {
        id: required_or(ctx, "InstanceId", MISSING_INSTANCE_ID)?.to_string(),
        region: optional_region(ctx)?,
        at: release_time(ctx, INSTANCE_RELEASE_TIME_ROWS.malformed)?,
    };
    ctx.service
        .set_instance_release_time(&ctx.caller, cmd)
        .await?;
    Ok(empty())
}
