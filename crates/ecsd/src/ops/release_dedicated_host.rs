//! ReleaseDedicatedHost: release an empty pay-as-you-go dedicated host now.

use ecs_domain::model::ChargeType;
use ecs_domain::ErrorCode;
use ecs_store::{NewEvent, ResourceKind};
use serde_json::json;

use super::common::{empty, region, required};
use super::{OpCtx, OpResult, Operation};

/// This operation's name, also written into the events it records.
const ACTION: &str = "ReleaseDedicatedHost";

pub const OP: Operation = Operation {
    name: ACTION,
    run: |ctx| super::fields(run(ctx)),
};

const NOT_FOUND: ErrorCode = ErrorCode::new(
    404,
    "InvalidDedicatedHostId.NotFound",
    "The specified DedicatedHostId does not exist.",
);
const INSTANCE_EXIST: ErrorCode = ErrorCode::new(
    403,
    "InstanceExist",
    "Instance exists on the dedicated host.",
);
const CHARGE_TYPE_VIOLATION: ErrorCode = ErrorCode::new(
    400,
    "ChargeTypeViolation",
    "The operation is not permitted due to charge type of the dedicated host.",
);

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let region = region(ctx)?;
    let id = required(ctx, "DedicatedHostId")?.to_string();
    let (account, now) = (ctx.account_id, ctx.now);
    ctx.write_async(move |tx| {
        let host = match tx.host(account, &id)? {
            Some(h) if h.region_id == region => h,
            _ => return Err(NOT_FOUND.err().into()),
        };
        if host.charge_type != ChargeType::PostPaid {
            return Err(CHARGE_TYPE_VIOLATION.err().into());
        }
        if tx.instances_on_host(account, &id)? > 0 {
            return Err(INSTANCE_EXIST.err().into());
        }
        tx.delete_host(account, &id)?;
        tx.append_event(&NewEvent {
            account_id: account,
            resource: ResourceKind::DedicatedHost,
            resource_id: id,
            action: ACTION.into(),
            scheduled_at: None,
            happened_at: now,
            outcome: "released".into(),
            detail: json!({}),
        })?;
        Ok(())
    })
    .await?;
    Ok(empty())
}
