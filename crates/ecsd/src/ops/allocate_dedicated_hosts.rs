//! AllocateDedicatedHosts: create pay-as-you-go or subscription dedicated hosts.

use ecs_domain::names::{description_ok, name_ok};
use ecs_domain::{ApiError, ErrorCode};
use ecs_service::hosts::{AllocateHosts, ALLOCATE_MALFORMED_RELEASE_TIME};

use super::common::{billing, count, dry_run, fields_of, idempotency, region, required, zone};
// ECS's AllocateDedicatedHosts table repeats the creating calls' row for descriptions.
use super::creating::INVALID_DESCRIPTION;
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

/// 404, as ECS's current AllocateDedicatedHosts table has it (older versions of the table,
/// and ModifyDedicatedHostAttribute's, say 400 for the same code and message).
const INVALID_HOST_NAME: ErrorCode = ErrorCode::new(
    404,
    "InvalidDedicatedHostName.Malformed",
    "The specified parameter DedicatedHostName is not valid.",
);

/// A parameter checked by `rule` when sent; empty when not.
fn checked(
    ctx: &OpCtx,
    name: &str,
    rule: fn(&str) -> bool,
    bad: ErrorCode,
) -> Result<String, ApiError> {
    match ctx.params.non_empty(name) {
        None => Ok(String::new()),
        Some(value) if rule(value) => Ok(value.to_string()),
        Some(_) => Err(bad.err()),
    }
}

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
        name: checked(ctx, "DedicatedHostName", name_ok, INVALID_HOST_NAME)?,
        description: checked(ctx, "Description", description_ok, INVALID_DESCRIPTION)?,
        tags: ctx.params.tags(),
        dry_run,
        idempotency,
    };
    let created = ctx.service.allocate_hosts(&ctx.caller, cmd).await?;
    Ok(fields_of(&created))
}
