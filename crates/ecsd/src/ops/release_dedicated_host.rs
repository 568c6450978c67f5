//! ReleaseDedicatedHost: release an empty pay-as-you-go dedicated host now.

use ecs_service::hosts::ReleaseHost;

use super::common::{empty, region, required};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "ReleaseDedicatedHost",
    run: |ctx| super::fields(run(ctx)),
};

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let region = region(ctx)?;
    let cmd = ReleaseHost {
        id: required(ctx, "DedicatedHostId")?.to_string(),
        region,
    };
    ctx.service.release_host(&ctx.caller, cmd).await?;
    Ok(empty())
}
