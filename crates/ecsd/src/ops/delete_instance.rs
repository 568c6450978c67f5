//! DeleteInstance: release one instance now. Refused for protected instances, running ones
//! without Force, and subscriptions unless expired and TerminateSubscription is set.

use ecs_service::instances::ReleaseInstance;

use super::common::{dry_run, empty, flag, optional_region, required};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "DeleteInstance",
    run: |ctx| super::fields(run(ctx)),
};

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let id = required(ctx, "InstanceId")?.to_string();
    let region = optional_region(ctx)?;
    let force = flag(ctx, "Force")?;
    // Accepted for compatibility (a released instance needs no stopping), but still a boolean.
    flag(ctx, "ForceStop")?;
    let cmd = ReleaseInstance {
        id,
        region,
        force,
        terminate_subscription: flag(ctx, "TerminateSubscription")?,
        dry_run: dry_run(ctx)?,
    };
    ctx.service.release_instance(&ctx.caller, cmd).await?;
    Ok(empty())
}
