//! ModifyInstanceAutoRenewAttribute: the auto-renew settings of up to 100 subscription
//! instances at once. All ids are checked before any is changed.

use ecs_domain::lifecycle::set_renewal;
use ecs_domain::model::ChargeType;
use ecs_domain::rules::{renewal_settings, RenewSettingsError};
use ecs_domain::ErrorCode;

use super::common::{empty, region};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "ModifyInstanceAutoRenewAttribute",
    run: |ctx| super::fields(run(ctx)),
};

/// The most instances one call may name.
pub const MAX_IDS: usize = 100;

pub const MISSING_INSTANCE_ID: ErrorCode = ErrorCode::new(
    403,
    "MissingParameter.InstanceId",
    "InstanceId should not be null.",
);
pub const TOO_MANY_IDS: ErrorCode = ErrorCode::new(
    403,
    "InvalidParameter.ToManyInstanceIds",
    "InstanceId should be less than 100.",
);
pub const INVALID_INSTANCE_ID: ErrorCode =
    ErrorCode::new(403, "InvalidParameter.InvalidInstanceId", "%s");
pub const INCORRECT_STATUS: ErrorCode = ErrorCode::new(
    403,
    "IncorrectInstanceStatus",
    "The current status of the resource does not support this operation.",
);
pub const CHARGE_TYPE_VIOLATION: ErrorCode = ErrorCode::new(
    403,
    "ChargeTypeViolation",
    "Pay-As-You-Go instances do not support this operation.",
);
const INVALID_DURATION: ErrorCode = ErrorCode::new(403, "InvalidParameter.Duration", "%s");
pub const INVALID_RENEWAL_STATUS: ErrorCode =
    ErrorCode::new(403, "InvalidParameter.RenewalStatus", "%s");
const INVALID_PERIOD_UNIT: ErrorCode = ErrorCode::new(
    403,
    "InvalidPeriodUnit.ValueNotSupported",
    "The specified parameter PeriodUnit is not valid.",
);

/// The comma-separated `InstanceId` list: present, at most [`MAX_IDS`], duplicates folded.
pub fn instance_ids(ctx: &OpCtx, missing: ErrorCode) -> Result<Vec<String>, ecs_domain::ApiError> {
    let mut ids = ctx.params.comma_list("InstanceId").unwrap_or_default();
    if ids.is_empty() {
        return Err(missing.err());
    }
    if ids.len() > MAX_IDS {
        return Err(TOO_MANY_IDS.err());
    }
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    Ok(ids)
}

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let ids = instance_ids(ctx, MISSING_INSTANCE_ID)?;
    let region = region(ctx)?;
    let duration = ctx.params.int("Duration")?;
    let auto_renew = ctx.params.bool("AutoRenew")?;
    let unit = ctx.params.get("PeriodUnit");
    let status = ctx.params.get("RenewalStatus");
    // Validate the settings once against defaults, so a bad value is refused before any
    // instance is looked at.
    let check = |current| {
        renewal_settings(current, duration, unit, status, auto_renew).map_err(|e| match e {
            RenewSettingsError::PeriodUnit => INVALID_PERIOD_UNIT.err(),
            RenewSettingsError::Duration => INVALID_DURATION.with_message(format!(
                "The specified parameter Duration {} is not valid for PeriodUnit {}.",
                duration.unwrap_or_default(),
                unit.unwrap_or("Month")
            )),
            RenewSettingsError::RenewalStatus => INVALID_RENEWAL_STATUS.with_message(format!(
                "The specified parameter RenewalStatus {} is not valid.",
                status.unwrap_or_default()
            )),
        })
    };
    check(Default::default())?;
    let (duration_p, unit_p, status_p) = (
        duration,
        unit.map(str::to_string),
        status.map(str::to_string),
    );
    let account = ctx.account_id;
    let now = ctx.now;
    ctx.write_async(move |tx| {
        let mut changed = Vec::with_capacity(ids.len());
        for id in &ids {
            let mut instance = match tx.instance(account, id)? {
                Some(i) if i.region_id == region => i,
                _ => {
                    return Err(INVALID_INSTANCE_ID
                        .with_message(format!("The specified InstanceId {id} is invalid."))
                        .into())
                }
            };
            if instance.charge_type != ChargeType::PrePaid {
                return Err(CHARGE_TYPE_VIOLATION.err().into());
            }
            let sub = instance
                .subscription
                .as_mut()
                .ok_or_else(|| INCORRECT_STATUS.err())?;
            let settings = renewal_settings(
                sub.renewal,
                duration_p,
                unit_p.as_deref(),
                status_p.as_deref(),
                auto_renew,
            )
            .map_err(|_| {
                INVALID_DURATION.with_message("The specified parameter Duration is not valid.")
            })?;
            set_renewal(sub, settings, now);
            changed.push(instance);
        }
        for instance in &changed {
            tx.put_instance(instance)?;
        }
        Ok(())
    })
    .await?;
    Ok(empty())
}
