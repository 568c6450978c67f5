//! ModifyInstanceChargeType: subscription to pay-as-you-go (the unused time refunded) or back
//! (paid from the balance), for up to 20 instances at once, all or none.

use ecs_domain::error::common::{invalid_parameter, missing_parameter, UNSUPPORTED_PARAMETER};
use ecs_domain::model::{ChargeType, PeriodUnit};
use ecs_domain::ErrorCode;
use ecs_service::charging::ModifyChargeType;

use super::common::{
    dry_run, fields_of, flag, idempotency, optional_enum, region, INVALID_PERIOD_UNIT,
};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "ModifyInstanceChargeType",
    run: |ctx| super::fields(run(ctx)),
};

const INVALID_CHARGE_TYPE: ErrorCode = ErrorCode::new(
    400,
    "InvalidInstanceChargeType.NotFound",
    "The InstanceChargeType does not exist in our records",
);

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let region = region(ctx)?;
    let ids = ctx
        .params
        .json_string_array("InstanceIds")?
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| missing_parameter("InstanceIds"))?;
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != ids.len() {
        return Err(invalid_parameter("InstanceIds"));
    }
    // ECS's default is a change to subscription.
    let to = optional_enum(
        ctx,
        "InstanceChargeType",
        ChargeType::parse,
        INVALID_CHARGE_TYPE,
    )?
    .unwrap_or(ChargeType::PrePaid);
    let unit = optional_enum(ctx, "PeriodUnit", PeriodUnit::parse, INVALID_PERIOD_UNIT)?
        .unwrap_or(PeriodUnit::Month);
    if unit == PeriodUnit::Year {
        return Err(INVALID_PERIOD_UNIT.err());
    }
    // AutoPay=false leaves an unpaid order to pay in the console; ecsd keeps no orders, so
    // it pays at once (the default) or not at all.
    if ctx.params.bool("AutoPay")? == Some(false) {
        return Err(UNSUPPORTED_PARAMETER.err());
    }
    flag(ctx, "IncludeDataDisks")?;
    flag(ctx, "IsDetailFee")?;
    let cmd = ModifyChargeType {
        ids,
        region,
        to,
        period: ctx.params.int("Period")?,
        unit,
        auto_renew: false,
        dry_run: dry_run(ctx)?,
        idempotency: idempotency(ctx)?,
    };
    let converted = ctx.service.modify_charge_type(&ctx.caller, cmd).await?;
    Ok(fields_of(&converted))
}
