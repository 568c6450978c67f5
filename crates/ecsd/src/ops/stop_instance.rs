//! StopInstance: a running instance becomes Stopped.

use ecs_domain::error::common::invalid_parameter;
use ecs_service::instances::StopInstance;

use super::common::{dry_run, empty, flag, optional_region, required};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "StopInstance",
    run: |ctx| super::fields(run(ctx)),
};

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let id = required(ctx, "InstanceId")?.to_string();
    let region = optional_region(ctx)?;
    // No disks or guests to stop here, so these change nothing, but they must be booleans.
    flag(ctx, "ForceStop")?;
    flag(ctx, "ConfirmStop")?;
    let stop_charging = match ctx.params.non_empty("StoppedMode") {
        None | Some("KeepCharging") => false,
        Some("StopCharging") => true,
        Some(_) => return Err(invalid_parameter("StoppedMode")),
    };
    let cmd = StopInstance {
        id,
        region,
        stop_charging,
        dry_run: dry_run(ctx)?,
    };
    ctx.service.stop_instance(&ctx.caller, cmd).await?;
    Ok(empty())
}
