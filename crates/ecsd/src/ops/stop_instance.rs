//! StopInstance: a running instance becomes Stopped.

use ecs_domain::error::common::DRY_RUN_OPERATION;
use ecs_domain::model::InstanceStatus;
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
    ctx.params.bool("ForceStop")?;
    let dry = ctx.params.bool("DryRun")?.unwrap_or(false);
    let account = ctx.account_id;
    ctx.app
        .write_async(move |tx| {
            let mut instance = find_instance(tx, account, region.as_deref(), &id, NOT_FOUND)?;
            check_stop(&instance).map_err(|why| match why {
                PowerRefusal::Expired => EXPIRED_OR_IN_ARREARS.err(),
                PowerRefusal::Status => INCORRECT_STATUS.err(),
            })?;
            if dry {
                return Err(DRY_RUN_OPERATION.err().into());
            }
            instance.status = InstanceStatus::Stopped;
            tx.put_instance(&instance)?;
            Ok(())
        })
        .await?;
    Ok(empty())
}
