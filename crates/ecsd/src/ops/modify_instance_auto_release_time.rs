//! ModifyInstanceAutoReleaseTime: set, change or cancel when a pay-as-you-go instance is
//! released. The latest setting wins.

use ecs_domain::model::ChargeType;
use ecs_domain::ErrorCode;

use super::common::{empty, find_instance, optional_region, release_time, required_or};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "ModifyInstanceAutoReleaseTime",
    run: |ctx| super::fields(run(ctx)),
};

const MISSING_INSTANCE_ID: ErrorCode =
    ErrorCode::new(400, "MissingParameter", "InstanceId should not be null.");
pub const MALFORMED_RELEASE_TIME: ErrorCode = ErrorCode::new(
    400,
    "InvalidAutoReleaseTime.Malformed",
    "The specified parameter autoReleaseTime is not valid.",
);
const CHARGE_TYPE_VIOLATION: ErrorCode = ErrorCode::new(
    403,
    "ChargeTypeViolation",
    "The operation is not permitted due to charge type of the instance.",
);
const NO_SUCH_RESOURCE: ErrorCode = ErrorCode::new(
    404,
    "NoSuchResource",
    "The specified resource is not found.",
);

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let id = required_or(ctx, "InstanceId", MISSING_INSTANCE_ID)?.to_string();
    let region = optional_region(ctx)?;
    let at = release_time(ctx, MALFORMED_RELEASE_TIME)?;
    let account = ctx.account_id;
    ctx.write_async(move |tx| {
        let mut instance = find_instance(tx, account, region.as_deref(), &id, NO_SUCH_RESOURCE)?;
        if instance.charge_type != ChargeType::PostPaid {
            return Err(CHARGE_TYPE_VIOLATION.err().into());
        }
        instance.auto_release_time = at;
        tx.put_instance(&instance)?;
        Ok(())
    })
    .await?;
    Ok(empty())
}
