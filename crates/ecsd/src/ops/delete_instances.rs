//! DeleteInstances: release up to 100 instances now, all or none.

use ecs_domain::ErrorCode;
use ecs_service::instances::ReleaseInstances;

use super::common::{dry_run, empty, flag, idempotency, region};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "DeleteInstances",
    run: |ctx| super::fields(run(ctx)),
};

const MISSING_INSTANCE_ID: ErrorCode = ErrorCode::new(
    400,
    "MissingParameter",
    "The input parameter \"InstanceId\" that is mandatory for processing this request is not supplied.",
);

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let region = region(ctx)?;
    let mut ids = ctx.params.repeat_list("InstanceId");
    ids.retain(|id| !id.is_empty());
    if ids.is_empty() {
        return Err(MISSING_INSTANCE_ID.err());
    }
    let force = flag(ctx, "Force")?;
    // Accepted for compatibility (a released instance needs no stopping), but still a boolean.
    flag(ctx, "ForceStop")?;
    let cmd = ReleaseInstances {
        ids,
        region,
        force,
        terminate_subscription: flag(ctx, "TerminateSubscription")?,
        dry_run: dry_run(ctx)?,
        idempotency: idempotency(ctx)?,
    };
    ctx.service.release_instances(&ctx.caller, cmd).await?;
    Ok(empty())
}
