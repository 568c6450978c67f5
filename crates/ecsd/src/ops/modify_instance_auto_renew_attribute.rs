//! ModifyInstanceAutoRenewAttribute: the auto-renew settings of up to 100 subscription
//! instances at once. All ids are checked before any is changed.

use ecs_domain::{ApiError, ErrorCode};
use ecs_service::instances::SetAutoRenew;

use super::common::{empty, region};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "ModifyInstanceAutoRenewAttribute",
    run: |ctx| super::fields(run(ctx)),
};

const MISSING_INSTANCE_ID: ErrorCode = ErrorCode::new(
    403,
    "MissingParameter.InstanceId",
    "InstanceId should not be null.",
);

/// The comma-separated `InstanceId` list, or the operation's `missing` row.
pub fn instance_ids(ctx: &OpCtx, missing: ErrorCode) -> Result<Vec<String>, ApiError> {
    let ids = ctx.params.comma_list("InstanceId").unwrap_or_default();
    if ids.is_empty() {
        return Err(missing.err());
    }
    Ok(ids)
}

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let ids = instance_ids(ctx, MISSING_INSTANCE_ID)?;
    let cmd = SetAutoRenew {
        ids,
        region: region(ctx)?,
        duration: ctx.params.int("Duration")?,
        auto_renew: ctx.params.bool("AutoRenew")?,
        unit: ctx.params.get("PeriodUnit").map(str::to_string),
        renewal_status: ctx.params.get("RenewalStatus").map(str::to_string),
    };
    ctx.service.set_auto_renew(&ctx.caller, cmd).await?;
    Ok(empty())
}
