//! AllocateDedicatedHosts: create pay-as-you-go or subscription dedicated hosts.

use ecs_domain::ErrorCode;
use ecs_service::hosts::{AllocateHosts, ALLOCATE_MALFORMED_RELEASE_TIME};

use super::common::{billing, count, dry_run, fields_of, idempotency, region, required, zone};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "AllocateDedicatedHosts",
    run: |ctx| super::fields(run(ctx)),
};

const INVALID_CHARGE_TYPE: ErrorCode = ErrorCode::new(
    400,
    "InvalidChargeType.ValueNotSupported",
    "The specified ChargeType is not valid.",
);

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let region = region(ctx)?;
    let idempotency = idempotency(ctx)?;
    let dry_run = dry_run(ctx)?;
    let cmd = AllocateHosts {
        region,
        host_type: required(ctx, "DedicatedHostType")?.to_string(),
        zone: zone(ctx),
        quantity: count(ctx, "Quantity")?,
        billing: billing(
            ctx,
            "ChargeType",
            INVALID_CHARGE_TYPE,
            ALLOCATE_MALFORMED_RELEASE_TIME,
        )?,
        name: ctx
            .params
            .get("DedicatedHostName")
            .unwrap_or_default()
            .to_string(),
        description: ctx
            .params
            .get("Description")
            .unwrap_or_default()
            .to_string(),
        tags: ctx.params.tags(),
        dry_run,
        idempotency,
    };
    let created = ctx.service.allocate_hosts(&ctx.caller, cmd).await?;
    Ok(fields_of(&created))
}
