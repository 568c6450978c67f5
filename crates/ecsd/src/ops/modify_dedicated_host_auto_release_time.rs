//! ModifyDedicatedHostAutoReleaseTime: set, change or cancel when a pay-as-you-go dedicated
//! host is released.

use ecs_domain::model::ChargeType;
use ecs_domain::ErrorCode;

use super::common::{empty, region, release_time, required_or};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "ModifyDedicatedHostAutoReleaseTime",
    run: |ctx| super::fields(run(ctx)),
};

const MISSING_HOST_ID: ErrorCode = ErrorCode::new(
    400,
    "MissingParameter",
    "DedicatedHostId should not be null.",
);
const MALFORMED_RELEASE_TIME: ErrorCode = ErrorCode::new(
    400,
    "InvalidAutoReleaseTime.Malformed",
    "The specified parameter autoReleaseTime is not valid.",
);
const CHARGE_TYPE_VIOLATION: ErrorCode = ErrorCode::new(
    403,
    "ChargeTypeViolation",
    "The operation is not permitted due to charge type of the dedicated host.",
);
const NO_SUCH_RESOURCE: ErrorCode = ErrorCode::new(
    404,
    "NoSuchResource",
    "The specified resource is not found.",
);

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let id = required_or(ctx, "DedicatedHostId", MISSING_HOST_ID)?.to_string();
    let region = region(ctx)?;
    let at = release_time(ctx, MALFORMED_RELEASE_TIME)?;
    let account = ctx.account_id;
    ctx.write_async(move |tx| {
        let mut host = match tx.host(account, &id)? {
            Some(h) if h.region_id == region => h,
            _ => return Err(NO_SUCH_RESOURCE.err().into()),
        };
        if host.charge_type != ChargeType::PostPaid {
            return Err(CHARGE_TYPE_VIOLATION.err().into());
        }
        host.auto_release_time = at;
        tx.put_host(&host)?;
        Ok(())
    })
    .await?;
    Ok(empty())
}
