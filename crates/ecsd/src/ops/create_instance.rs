//! CreateInstance: the older single-instance create. The instance is `Stopped` until
//! StartInstance; from then on it goes through the same lifecycle as one RunInstances made.

use ecs_domain::ErrorCode;
use ecs_service::instances::{RunInstances, RUN_MALFORMED_RELEASE_TIME};
use ecs_service::network::parse_private_ip;
use serde_json::json;

use super::common::{
    billing, dry_run, flag, idempotency, launch_request, object, region, required, zone,
};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "CreateInstance",
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
    let cmd = RunInstances {
        region,
        zone: zone(ctx),
        instance_type,
        image_id,
        amount: 1,
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
        tags: super::run_instances::checked_tags(ctx)?,
        security_group_ids: ctx
            .params
            .non_empty("SecurityGroupId")
            .map(str::to_string)
            .into_iter()
            .collect(),
        vswitch_id: ctx.params.get("VSwitchId").unwrap_or_default().to_string(),
        dry_run,
        idempotency,
        launch: launch_request(ctx)?,
        stopped: true,
        settings: super::run_instances::launch_settings(ctx, 1, false)?,
        unique_suffix: false,
        private_ip: ctx
            .params
            .non_empty("PrivateIpAddress")
            .map(parse_private_ip)
            .transpose()?,
    };
    let created = ctx.service.run_instances(&ctx.caller, cmd).await?;
    let id = created
        .instance_id_sets
        .instance_id_set
        .first()
        .cloned()
        .unwrap_or_default();
    Ok(object(json!({
        "InstanceId": id,
        "OrderId": created.order_id,
        "TradePrice": created.trade_price,
    })))
}
