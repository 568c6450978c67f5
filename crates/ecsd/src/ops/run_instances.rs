//! RunInstances: create and start pay-as-you-go or subscription instances. They are Running
//! when the call answers.

use ecs_domain::error::common::{invalid_parameter, DRY_RUN_OPERATION};
use ecs_domain::model::{Instance, InstanceStatus};
use ecs_domain::rules::AUTO_RENEW_PERIODS;
use ecs_domain::ErrorCode;
use serde_json::json;

use super::common::{
    billing, count, new_resource_id, object, once_per_token, region, repeatable, required, zone,
    Billing, BillingRows, Repeatable,
};
use super::{OpCtx, OpResult, Operation};

/// This operation's name, also written into the events it records.
const ACTION: &str = "RunInstances";

pub const OP: Operation = Operation {
    name: ACTION,
    run: |ctx| super::fields(run(ctx)),
};

const INVALID_INSTANCE_TYPE: ErrorCode = ErrorCode::new(
    400,
    "InvalidInstanceType.ValueNotSupported",
    "The specified InstanceType does not exist or beyond the permitted range.",
);
const INVALID_CHARGE_TYPE: ErrorCode = ErrorCode::new(
    400,
    "InvalidInstanceChargeType.NotFound",
    "The InstanceChargeType does not exist in our records",
);
const BILLING_ROWS: BillingRows = BillingRows {
    invalid_charge_type: INVALID_CHARGE_TYPE,
    malformed_release_time: MALFORMED_RELEASE_TIME,
    release_time_for_subscription: RELEASE_TIME_FOR_SUBSCRIPTION,
    invalid_auto_renew_period: INVALID_AUTO_RENEW_PERIOD,
    // The current RunInstances documentation.
    auto_renew_months: AUTO_RENEW_PERIODS,
};
const INVALID_AUTO_RENEW_PERIOD: ErrorCode = ErrorCode::new(
    400,
    "InvalidAutoRenewPeriod.ValueNotSupported",
    "The specified autoRenewPeriod is invalid.",
);
const MALFORMED_RELEASE_TIME: ErrorCode = ErrorCode::new(
    400,
    "InvalidAutoReleaseTime.Malformed",
    "The specified parameter AutoReleaseTime is not valid.",
);
const RELEASE_TIME_FOR_SUBSCRIPTION: ErrorCode = ErrorCode::new(
    400,
    "InvalidParameter.AutoReleaseTime",
    "AutoReleaseTime is only supported for PostPaid instances.",
);
const HOST_NOT_FOUND: ErrorCode = ErrorCode::new(
    404,
    "InvalidDedicatedHostId.NotFound",
    "The specified DedicatedHostId does not exist.",
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
    let image_id = required(ctx, "ImageId")?.to_string();
    let type_id = required(ctx, "InstanceType")?;
    let instance_type = ctx
        .app
        .catalog
        .instance_type(type_id)
        .ok_or_else(|| INVALID_INSTANCE_TYPE.err())?
        .clone();
    let zone_id = zone(ctx, &region)?;
    let amount = count(ctx, "Amount")?;
    let Billing {
        charge_type,
        subscription,
        auto_release_time,
    } = billing(ctx, "InstanceChargeType", &BILLING_ROWS)?;
    let deletion_protection = ctx.params.bool("DeletionProtection")?.unwrap_or(false);
    let host_id = ctx.params.non_empty("DedicatedHostId").map(str::to_string);

    let security_group_ids: Vec<String> = ctx
        .params
        .non_empty("SecurityGroupId")
        .map(str::to_string)
        .into_iter()
        .chain(ctx.params.repeat_list("SecurityGroupIds"))
        .collect();
    // An instance on a dedicated host is in the host's zone (checked against it below).
    let zone_asked = ctx.params.non_empty("ZoneId").is_some();
    let mut template = Instance {
        id: String::new(),
        account_id: ctx.account_id,
        region_id: region.clone(),
        zone_id,
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
        instance_type: instance_type.id.clone(),
        cpu: instance_type.cpu,
        memory_mib: instance_type.memory_mib,
        image_id,
        charge_type,
        status: InstanceStatus::Running,
        creation_time: ctx.now,
        start_time: Some(ctx.now),
        auto_release_time,
        deletion_protection,
        subscription,
        locks: Vec::new(),
        tags: ctx.params.tags(),
        security_group_ids,
        vswitch_id: ctx.params.get("VSwitchId").unwrap_or_default().to_string(),
        dedicated_host_id: host_id.clone(),
        stopped_charging: false,
    };
    let account = ctx.account_id;
    let answer = ctx
        .write_async(move |tx| {
            if let Some(host) = &host_id {
                match tx.host(account, host)? {
                    Some(h) if h.region_id == region => {
                        if !zone_asked {
                            template.zone_id = h.zone_id;
                        } else if template.zone_id != h.zone_id {
                            return Err(invalid_parameter("ZoneId").into());
                        }
                    }
                    _ => return Err(HOST_NOT_FOUND.err().into()),
                }
            }
            if dry {
                return Err(DRY_RUN_OPERATION.err().into());
            }
            once_per_token(tx, account, ACTION, token.as_deref(), &fingerprint, |tx| {
                let mut ids = Vec::with_capacity(amount as usize);
                for _ in 0..amount {
                    let mut instance = template.clone();
                    instance.id = new_resource_id("i");
                    if instance.name.is_empty() {
                        instance.name = instance.id.clone();
                    }
                    tx.put_instance(&instance)?;
                    ids.push(instance.id);
                }
                Ok(object(json!({
                    "OrderId": order_id(),
                    "TradePrice": 0.0,
                    "InstanceIdSets": { "InstanceIdSet": ids },
                })))
            })
        })
        .await?;
    Ok(answer)
}

/// Orders are numeric ids in ECS.
fn order_id() -> String {
    use rand::Rng;
    rand::thread_rng()
        .gen_range(100_000_000_000_000u64..1_000_000_000_000_000)
        .to_string()
}
