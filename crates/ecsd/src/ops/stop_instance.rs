//! StopInstance: a running instance becomes Stopped.

use ecs_domain::error::common::{invalid_parameter, DRY_RUN_OPERATION};
use ecs_domain::model::{ChargeType, InstanceStatus};
use ecs_domain::rules::{check_stop, PowerRefusal};
use ecs_domain::ErrorCode;

use super::common::{empty, find_instance, optional_region, required};
use super::delete_instance::{INCORRECT_STATUS, NOT_FOUND};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "StopInstance",
    run: |ctx| super::fields(run(ctx)),
};

const EXPIRED_OR_IN_ARREARS: ErrorCode = ErrorCode::new(
    403,
    "InstanceExpiredOrInArrears",
    "The specified operation is denied as your prepay instance is expired (prepay mode) or in arrears (afterpay mode).",
);

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let id = required(ctx, "InstanceId")?.to_string();
    let region = optional_region(ctx)?;
    // No disks or guests to stop here, so these change nothing, but they must be booleans.
    ctx.params.bool("ForceStop")?;
    ctx.params.bool("ConfirmStop")?;
    let stop_charging = match ctx.params.non_empty("StoppedMode") {
        None | Some("KeepCharging") => false,
        Some("StopCharging") => true,
        Some(_) => return Err(invalid_parameter("StoppedMode")),
    };
    let dry = ctx.params.bool("DryRun")?.unwrap_or(false);
    let account = ctx.account_id;
    ctx.write_async(move |tx| {
        let mut instance = find_instance(tx, account, region.as_deref(), &id, NOT_FOUND)?;
        check_stop(&instance).map_err(|why| match why {
            PowerRefusal::Expired => EXPIRED_OR_IN_ARREARS.err(),
            PowerRefusal::Status => INCORRECT_STATUS.err(),
        })?;
        if dry {
            return Err(DRY_RUN_OPERATION.err().into());
        }
        instance.status = InstanceStatus::Stopped;
        // Economical mode exists for pay-as-you-go instances only; a subscription is paid
        // for whether it runs or not, so it keeps charging.
        instance.stopped_charging = stop_charging && instance.charge_type == ChargeType::PostPaid;
        tx.put_instance(&instance)?;
        Ok(())
    })
    .await?;
    Ok(empty())
}
