//! DescribeInstanceAutoRenewAttribute: the auto-renew settings of subscription instances, by
//! id or by renewal status.

use ecs_domain::model::{ChargeType, Instance, RenewalStatus};
use ecs_domain::ErrorCode;
use ecs_store::{InstanceFilter, Page};
use serde_json::{json, Value};

use super::common::{object, region};
use super::modify_instance_auto_renew_attribute::{
    instance_ids, CHARGE_TYPE_VIOLATION, INVALID_INSTANCE_ID, INVALID_RENEWAL_STATUS,
};
use super::{OpCtx, OpResult, Operation};
use crate::ops::common::page_number_and_size;

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
    let status = match ctx.params.non_empty("RenewalStatus") {
        None => None,
        Some(raw) => Some(RenewalStatus::parse(raw).ok_or_else(|| {
            INVALID_RENEWAL_STATUS
                .with_message("The specified parameter RenewalStatus is not valid.")
        })?),
    };
    let ids = if ctx.params.non_empty("InstanceId").is_some() {
        Some(instance_ids(ctx, NEITHER_GIVEN)?)
    } else if status.is_none() {
        return Err(NEITHER_GIVEN.err());
    } else {
        None
    };
    let (page_number, page_size) = page_number_and_size(ctx)?;
    let account = ctx.account_id;
    let matches = ctx.app.read(move |tx| {
        let instances = match ids {
            Some(ids) => {
                let mut found = Vec::with_capacity(ids.len());
                for id in &ids {
                    match tx.instance(account, id)? {
                        Some(i) if i.region_id == region => {
                            if i.charge_type != ChargeType::PrePaid {
                                return Err(CHARGE_TYPE_VIOLATION.err().into());
                            }
                            found.push(i)
                        }
                        _ => {
                            return Err(INVALID_INSTANCE_ID
                                .with_message(format!("The specified InstanceId {id} is invalid."))
                                .into())
                        }
                    }
                }
                found
            }
            None => {
                let filter = InstanceFilter {
                    account_id: account,
                    region_id: Some(region),
                    charge_type: Some(ChargeType::PrePaid),
                    ..Default::default()
                };
                tx.list_instances(
                    &filter,
                    Page::Offset {
                        offset: 0,
                        limit: u32::MAX,
                    },
                )?
                .items
            }
        };
        Ok(instances
            .into_iter()
            .filter(|i| {
                status.is_none_or(|s| {
                    i.subscription
                        .as_ref()
                        .is_some_and(|sub| sub.renewal.status == s)
                })
            })
            .collect::<Vec<_>>())
    })?;
    let total = matches.len();
    let page: Vec<Value> = matches
        .iter()
        .skip((page_number as usize - 1) * page_size as usize)
        .take(page_size as usize)
        .filter_map(view)
        .collect();
    Ok(object(json!({
        "TotalCount": total,
        "PageNumber": page_number,
        "PageSize": page_size,
        "InstanceRenewAttributes": { "InstanceRenewAttribute": page },
    })))
}
