//! StartInstance: a stopped instance becomes Running.

use ecs_service::instances::StartInstance;

use super::common::{dry_run, empty, flag, optional_region, required};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "StartInstance",
    run: |ctx| super::fields(run(ctx)),
};

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let id = required(ctx, "InstanceId")?.to_string();
    let region = optional_region(ctx)?;
    // No local disks to initialize, but the flag must be a boolean.
    flag(ctx, "InitLocalDisk")?;
    let cmd = StartInstance {
        id,
        region,
        dry_run: dry_run(ctx)?,
    };
    ctx.service.start_instance(&ctx.caller, cmd).await?;
    Ok(empty())
}
