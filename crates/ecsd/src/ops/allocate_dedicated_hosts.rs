//! AllocateDedicatedHosts: create pay-as-you-go or subscription dedicated hosts.

use ecs_domain::error::common::DRY_RUN_OPERATION;
use ecs_domain::model::{DedicatedHost, HostStatus};
use ecs_domain::ErrorCode;
use serde_json::json;

use super::common::{
    billing, count, new_resource_id, object, once_per_token, region, repeatable, required, zone,
    Billing, BillingRows, Repeatable,
};
use super::{OpCtx, OpResult, Operation};

/// This operation's name, also written into the events it records.
const ACTION: &str = "AllocateDedicatedHosts";

pub const OP: Operation = Operation {
    name: ACTION,
    run: |ctx| super::fields(run(ctx)),
};

const INVALID_HOST_TYPE: ErrorCode = ErrorCode::new(
    403,
    "InvalidDedicatedHostType.ValueNotSupported",
    "The specified DedicatedHostType is not supported.",
);
const INVALID_CHARGE_TYPE: ErrorCode = ErrorCode::new(
    400,
    "InvalidChargeType.ValueNotSupported",
    "The specified ChargeType is not valid.",
);
const BILLING_ROWS: BillingRows = BillingRows {
    invalid_charge_type: INVALID_CHARGE_TYPE,
    malformed_release_time: MALFORMED_RELEASE_TIME,
    release_time_for_subscription: RELEASE_TIME_FOR_SUBSCRIPTION,
    invalid_auto_renew_period: INVALID_AUTO_RENEW_PERIOD,
    // AllocateDedicatedHosts documents 1, 2, 3, 6 and 12 months.
    auto_renew_months: &[1, 2, 3, 6, 12],
};
const INVALID_AUTO_RENEW_PERIOD: ErrorCode = ErrorCode::new(
    400,
    "InvalidAutoRenewPeriod.ValueNotSupported",
    "The specified autoRenewPeriod is not valid.",
);
const MALFORMED_RELEASE_TIME: ErrorCode = ErrorCode::new(
    400,
    "InvalidAutoReleaseTime.Malformed",
    "The specified parameter AutoReleaseTime is not valid.",
);
const RELEASE_TIME_FOR_SUBSCRIPTION: ErrorCode = ErrorCode::new(
    400,
    "InvalidParameter.AutoReleaseTime",
    "AutoReleaseTime is only supported for PostPaid dedicated hosts.",
);

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let region = region(ctx)?;
    let Repeatable {
        token,
        fingerprint,
        dry,
        earlier,
    } = repeatable(ctx, ACTION)?;
    if let Some(answer) = earlier {
        return Ok(answer);
    }
    let type_id = required(ctx, "DedicatedHostType")?;
    let host_type = ctx
        .app
        .catalog
        .host_type(type_id)
        .ok_or_else(|| INVALID_HOST_TYPE.err())?
        .clone();
    let zone_id = zone(ctx, &region)?;
    let quantity = count(ctx, "Quantity")?;
    let Billing {
        charge_type,
        subscription,
        auto_release_time,
    } = billing(ctx, "ChargeType", &BILLING_ROWS)?;
    if dry {
        return Err(DRY_RUN_OPERATION.err());
    }
    let template = DedicatedHost {
        id: String::new(),
        account_id: ctx.account_id,
        region_id: region,
        zone_id,
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
        host_type: host_type.id,
        charge_type,
        status: HostStatus::Available,
        creation_time: ctx.now,
        auto_release_time,
        subscription,
        locks: Vec::new(),
        tags: ctx.params.tags(),
    };
    let account = ctx.account_id;
    ctx.write_async(move |tx| {
        once_per_token(tx, account, ACTION, token.as_deref(), &fingerprint, |tx| {
            let mut ids = Vec::with_capacity(quantity as usize);
            for _ in 0..quantity {
                let mut host = template.clone();
                host.id = new_resource_id("dh");
                tx.put_host(&host)?;
                ids.push(host.id);
            }
            Ok(object(
                json!({ "DedicatedHostIdSets": { "DedicatedHostId": ids } }),
            ))
        })
    })
    .await
}
