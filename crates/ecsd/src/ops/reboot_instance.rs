//! RebootInstance: a running instance restarts and is Running again when the call answers.

use ecs_service::power::RebootInstance;

use super::common::{dry_run, empty, flag, optional_region, required};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "RebootInstance",
    run: |ctx| super::fields(run(ctx)),
};

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let cmd = RebootInstance {
        id: required(ctx, "InstanceId")?.to_string(),
        region: optional_region(ctx)?,
        force_stop: flag(ctx, "ForceStop")?,
        dry_run: dry_run(ctx)?,
    };
    ctx.service.reboot_instance(&ctx.caller, cmd).await?;
    Ok(empty())
}
