//! ModifyDedicatedHostAutoReleaseTime: set, change or cancel when a pay-as-you-go dedicated
//! host is released.

use ecs_domain::ErrorCode;
use ecs_service::hosts::HOST_RELEASE_TIME_ROWS;
use ecs_service::instances::SetReleaseTime;

use super::common::{empty, region, release_time, required_or};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "ModifyDedicatedHostAutoReleaseTime",
    run: |ctx| super::fields(run(ctx)),
};

const MISSING_HOST_ID: ErrorCode = ErrorCode::new(
    400,
    "MissingParameter",
    "DedicatedHostId should not be null.",
);

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let id = required_or(ctx, "DedicatedHostId", MISSING_HOST_ID)?.to_string();
    let cmd = SetReleaseTime {
        id,
        region: Some(region(ctx)?),
        at: release_time(ctx, HOST_RELEASE_TIME_ROWS.malformed)?,
    };
    ctx.service.set_host_release_time(&ctx.caller, cmd).await?;
    Ok(empty())
}
