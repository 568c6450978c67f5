//! DeleteInstance: release one instance now. Refused for protected instances, running ones
//! without Force, and subscriptions unless expired and TerminateSubscription is set.

use ecs_domain::error::common::DRY_RUN_OPERATION;
use ecs_domain::model::Instance;
use ecs_domain::rules::{check_manual_release, ReleaseRefusal};
use ecs_domain::{ApiError, ErrorCode};

use super::common::{empty, find_instance, optional_region, release_instance, required};
use super::{OpCtx, OpResult, Operation};

/// This operation's name, also written into the events it records.
const ACTION: &str = "DeleteInstance";

pub const OP: Operation = Operation {
    name: ACTION,
    run: |ctx| super::fields(run(ctx)),
};

pub const NOT_FOUND: ErrorCode = ErrorCode::new(
    404,
    "InvalidInstanceId.NotFound",
    "The specified InstanceId does not exist.",
);
pub const INCORRECT_STATUS: ErrorCode = ErrorCode::new(
    403,
    "IncorrectInstanceStatus",
    "The current status of the resource does not support this operation.",
);
pub const CHARGE_TYPE_VIOLATION: ErrorCode = ErrorCode::new(
    403,
    "ChargeTypeViolation",
    "The operation is not permitted due to charge type of the instance.",
);
pub const DELETION_PROTECTION: ErrorCode = ErrorCode::new(
    403,
    "InvalidOperation.DeletionProtection",
    "The instance is protected from deletion, please disable DeletionProtection first.",
);

/// The manual-release checks with this family's error rows.
pub fn check(instance: &Instance, force: bool, terminate: bool) -> Result<(), ApiError> {
    check_manual_release(instance, force, terminate).map_err(|why| match why {
        ReleaseRefusal::Protected => DELETION_PROTECTION.with_message(format!(
            "The instance {} is protected from deletion, please disable DeletionProtection first.",
            instance.id
        )),
        ReleaseRefusal::ChargeType => CHARGE_TYPE_VIOLATION.err(),
        ReleaseRefusal::Status => INCORRECT_STATUS.err(),
    })
}

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let id = required(ctx, "InstanceId")?.to_string();
    let region = optional_region(ctx)?;
    let force = ctx.params.bool("Force")?.unwrap_or(false);
    // Accepted for compatibility (a released instance needs no stopping), but still a boolean.
    ctx.params.bool("ForceStop")?;
    let terminate = ctx.params.bool("TerminateSubscription")?.unwrap_or(false);
    let dry = ctx.params.bool("DryRun")?.unwrap_or(false);
    let (account, now) = (ctx.account_id, ctx.now);
    ctx.write_async(move |tx| {
        let instance = find_instance(tx, account, region.as_deref(), &id, NOT_FOUND)?;
        check(&instance, force, terminate)?;
        if dry {
            return Err(DRY_RUN_OPERATION.err().into());
        }
        release_instance(tx, &instance, ACTION, None, now)
    })
    .await?;
    Ok(empty())
}
