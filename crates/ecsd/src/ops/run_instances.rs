//! RunInstances: create and start pay-as-you-go or subscription instances. They are Running
//! when the call answers.

use ecs_domain::ErrorCode;
use ecs_service::instances::{RunInstances, RUN_MALFORMED_RELEASE_TIME};

use super::common::{
    billing, count, dry_run, fields_of, flag, idempotency, launch_request, region, required, zone,
};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "RunInstances",
    run: |ctx| super::fields(run(ctx)),
};

const INVALID_CHARGE_TYPE: ErrorCode = ErrorCode::new(
    400,
    "InvalidInstanceChargeType.NotFound",
    "The InstanceChargeType does not exist in our records",
);

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let region = region(ctx)?;
    let idempotency = idempotency(ctx)?;
    let dry_run = dry_run(ctx)?;
    let image_id = required(ctx, "ImageId")?.to_string();
    let instance_type = required(ctx, "InstanceType")?.to_string();
    let security_group_ids = ctx
        .params
        .non_empty("SecurityGroupId")
        .map(str::to_string)
        .into_iter()
        .chain(ctx.params.repeat_list("SecurityGroupIds"))
        .collect();
    let cmd = RunInstances {
        region,
        zone: zone(ctx),
        instance_type,
        image_id,
        amount: count(ctx, "Amount")?,
        billing: billing(
            ctx,
            "InstanceChargeType",
            INVALID_CHARGE_TYPE,
            RUN_MALFORMED_RELEASE_TIME,
        )?,
        deletion_protection: flag(ctx, "DeletionProtection")?,
        dedicated_host_id: ctx.params.non_empty("DedicatedHostId").map(str::to_string),
        name: ctx
            .params
            .get("InstanceName")
            .unwrap_or_default()
            .to_string(),
        description: ctx
            .params
            .get("Description")
            .unwrap_or_default()
            .to_string(),
        tags: ctx.params.tags(),
        security_group_ids,
        vswitch_id: ctx.params.get("VSwitchId").unwrap_or_default().to_string(),
        dry_run,
        idempotency,
        launch: launch_request(ctx)?,
        stopped: false,
    };
    let created = ctx.service.run_instances(&ctx.caller, cmd).await?;
    Ok(fields_of(&created))
}
