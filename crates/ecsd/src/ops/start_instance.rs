//! StartInstance: a stopped instance becomes Running.

use ecs_domain::error::common::DRY_RUN_OPERATION;
use ecs_domain::model::InstanceStatus;
use ecs_domain::rules::{check_start, PowerRefusal};
use ecs_domain::ErrorCode;

use super::common::{empty, find_instance, optional_region, required};
use super::delete_instance::{INCORRECT_STATUS, NOT_FOUND};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "StartInstance",
    run: |ctx| super::fields(run(ctx)),
};

const EXPIRED: ErrorCode = ErrorCode::new(
    403,
    "InstanceExpired",
    "The prePaid instance has been expired.",
);

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let id = required(ctx, "InstanceId")?.to_string();
    let region = optional_region(ctx)?;
    // No local disks to initialize, but the flag must be a boolean.
    ctx.params.bool("InitLocalDisk")?;
    let dry = ctx.params.bool("DryRun")?.unwrap_or(false);
    let (account, now) = (ctx.account_id, ctx.now);
    ctx.write_async(move |tx| {
        let mut instance = find_instance(tx, account, region.as_deref(), &id, NOT_FOUND)?;
        check_start(&instance).map_err(|why| match why {
            PowerRefusal::Expired => EXPIRED.err(),
            PowerRefusal::Status => INCORRECT_STATUS.err(),
        })?;
        if dry {
            return Err(DRY_RUN_OPERATION.err().into());
        }
        instance.status = InstanceStatus::Running;
        instance.stopped_charging = false;
        instance.start_time = Some(now);
        tx.put_instance(&instance)?;
        Ok(())
    })
    .await?;
    Ok(empty())
}
