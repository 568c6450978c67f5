//! DescribeInstanceAutoRenewAttribute: the auto-renew settings of subscription instances, by
//! id or by renewal status.

use ecs_domain::model::{Instance, RenewalStatus};
use ecs_domain::ErrorCode;
use ecs_service::instances::{AutoRenewQuery, INVALID_RENEWAL_STATUS};
use serde_json::{json, Value};

use super::common::{object, page_number_and_size, region};
use super::modify_instance_auto_renew_attribute::instance_ids;
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "DescribeInstanceAutoRenewAttribute",
    run: |ctx| super::fields(run(ctx)),
};

const NEITHER_GIVEN: ErrorCode = ErrorCode::new(
    403,
    "InvalidParameter.RenewalStatusInstanceId",
    "The parameter RenewalStatus and InstanceId can not be both empty.",
);

fn view(i: &Instance) -> Option<Value> {
    let sub = i.subscription.as_ref()?;
    Some(json!({
        "InstanceId": i.id,
        "AutoRenewEnabled": sub.renewal.status == RenewalStatus::AutoRenewal,
        "Duration": sub.renewal.duration,
        "PeriodUnit": sub.renewal.unit.as_str(),
        "RenewalStatus": sub.renewal.status.as_str(),
    }))
}

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let region = region(ctx)?;
    let renewal_status = match ctx.params.non_empty("RenewalStatus") {
        None => None,
        Some(raw) => Some(RenewalStatus::parse(raw).ok_or_else(|| {
            INVALID_RENEWAL_STATUS
                .with_message("The specified parameter RenewalStatus is not valid.")
        })?),
    };
    let ids = if ctx.params.non_empty("InstanceId").is_some() {
        Some(instance_ids(ctx, NEITHER_GIVEN)?)
    } else if renewal_status.is_none() {
        return Err(NEITHER_GIVEN.err());
    } else {
        None
    };
    let (page_number, page_size) = page_number_and_size(ctx)?;
    let query = AutoRenewQuery {
        region,
        ids,
        renewal_status,
        page_number,
        page_size,
    };
    let (total, page) = ctx.service.auto_renew_settings(&ctx.caller, query)?;
    let page: Vec<Value> = page.iter().filter_map(view).collect();
    Ok(object(json!({
        "TotalCount": total,
        "PageNumber": page_number,
        "PageSize": page_size,
        "InstanceRenewAttributes": { "InstanceRenewAttribute": page },
    })))
}
