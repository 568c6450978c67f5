//! RenewInstance: renew a subscription instance by hand, paid from the account's balance.

use ecs_domain::error::common::{invalid_parameter, missing_parameter};
use ecs_domain::model::PeriodUnit;
use ecs_service::charging::{RenewInstance, RENEW_PERIOD_UNIT};

use super::common::{fields_of, idempotency, optional_enum, optional_region, required};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "RenewInstance",
    run: |ctx| super::fields(run(ctx)),
};

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let id = required(ctx, "InstanceId")?.to_string();
    let region = optional_region(ctx)?;
    // ExpectedRenewDay renews to the account's unified expiry day, which ecsd never has set:
    // ECS refuses a day that differs from the one set.
    if ctx.params.non_empty("ExpectedRenewDay").is_some() {
        return Err(invalid_parameter("ExpectedRenewDay"));
    }
    let period = ctx
        .params
        .int("Period")?
        .ok_or_else(|| missing_parameter("Period"))?;
    let unit = optional_enum(ctx, "PeriodUnit", PeriodUnit::parse, RENEW_PERIOD_UNIT)?
        .unwrap_or(PeriodUnit::Month);
    let cmd = RenewInstance {
        id,
        region,
        // Out of u32 range is as invalid as any other period outside the list.
        period: u32::try_from(period).unwrap_or(0),
        unit,
        idempotency: idempotency(ctx)?,
    };
    let renewed = ctx.service.renew_instance(&ctx.caller, cmd).await?;
    Ok(fields_of(&renewed))
}
