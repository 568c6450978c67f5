//! What the creating commands share: ClientToken idempotency, billing (a subscription or an
//! auto-release time), new ids.

use chrono::{DateTime, Utc};
use ecs_domain::error::common::{missing_parameter, IDEMPOTENT_PARAMETER_MISMATCH};
use ecs_domain::lifecycle::new_subscription;
use ecs_domain::model::{ChargeType, PeriodUnit, RenewalSettings, RenewalStatus, Subscription};
use ecs_domain::rules::subscription_periods;
use ecs_domain::{ApiError, ErrorCode};
use ecs_store::{IdempotentAnswer, StoreTx, TxResult};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Caller, Service};

/// A creating call's ClientToken, with what makes two calls "the same request" (the door
/// decides: the RPC operations use the parameters as the operation reads them).
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub token: String,
    pub fingerprint: String,
}

/// How a new resource is to be billed, as asked.
#[derive(Debug, Clone, Copy)]
pub struct CreateBilling {
    pub charge_type: ChargeType,
    /// `Period` (required for a subscription) and `PeriodUnit`.
    pub period: Option<i64>,
    pub unit: PeriodUnit,
    pub auto_renew: bool,
    /// In the subscription's unit; default 1.
    pub auto_renew_period: Option<i64>,
    /// Already truncated to the minute by [`crate::instances::release_minute`].
    pub auto_release_time: Option<DateTime<Utc>>,
}

/// The rows a creating command answers for billing; the two creating commands document
/// different sets and wordings.
pub(crate) struct BillingRows {
    pub malformed_release_time: ErrorCode,
    pub release_time_for_subscription: ErrorCode,
    pub invalid_auto_renew_period: ErrorCode,
    pub auto_renew_months: &'static [u32],
}

pub const INVALID_PERIOD: ErrorCode =
    ErrorCode::new(400, "InvalidPeriod", "The specified period is not valid.");

/// The billing of a new resource: its subscription, or its auto-release time.
pub(crate) struct Billing {
    pub subscription: Option<Subscription>,
    pub auto_release_time: Option<DateTime<Utc>>,
}

pub(crate) fn billing(
    asked: &CreateBilling,
    now: DateTime<Utc>,
    rows: &BillingRows,
) -> Result<Billing, ApiError> {
    let subscription = match asked.charge_type {
        ChargeType::PrePaid => {
            let unit = asked.unit;
            let period = asked.period.ok_or_else(|| missing_parameter("Period"))?;
            let period = u32::try_from(period)
                .ok()
                .filter(|p| subscription_periods(unit).contains(p))
                .ok_or_else(|| INVALID_PERIOD.err())?;
            // Auto-renew periods count in the subscription's own unit.
            let allowed: &[u32] = match unit {
                PeriodUnit::Month => rows.auto_renew_months,
                PeriodUnit::Week => &[1, 2, 3],
                PeriodUnit::Year => &[1, 2, 3, 4, 5],
            };
            let renew_period = match asked.auto_renew_period {
                None => 1,
                Some(n) => u32::try_from(n)
                    .ok()
                    .filter(|n| allowed.contains(n))
                    .ok_or_else(|| rows.invalid_auto_renew_period.err())?,
            };
            let renewal = RenewalSettings {
                status: if asked.auto_renew {
                    RenewalStatus::AutoRenewal
                } else {
                    RenewalStatus::Normal
                },
                duration: renew_period,
                unit,
            };
            Some(new_subscription(now, period, unit, renewal).ok_or_else(|| INVALID_PERIOD.err())?)
        }
        ChargeType::PostPaid => None,
    };
    let auto_release_time = crate::instances::release_window(
        asked.auto_release_time,
        now,
        rows.malformed_release_time,
    )?;
    if auto_release_time.is_some() && asked.charge_type == ChargeType::PrePaid {
        return Err(rows.release_time_for_subscription.err());
    }
    Ok(Billing {
        subscription,
        auto_release_time,
    })
}

impl Service {
    /// The first answer to a ClientToken call this one repeats, looked up before anything is
    /// checked again: the first call passed its checks then, and some depend on the time (an
    /// AutoReleaseTime must be 30 minutes ahead), so a late retry of the very same request
    /// would fail them. Other parameters under a used token are refused. `None`: nothing to
    /// repeat.
    pub(crate) fn earlier_answer<T: DeserializeOwned + Send + 'static>(
        &self,
        caller: &Caller,
        action: &'static str,
        idempotency: Option<&Idempotency>,
    ) -> Result<Option<T>, ApiError> {
        let Some(idem) = idempotency.cloned() else {
            return Ok(None);
        };
        let account = caller.account_id;
        self.read(move |tx| earlier(tx, account, action, &idem))
    }
}

fn earlier<T: DeserializeOwned>(
    tx: &mut dyn StoreTx,
    account_id: i64,
    action: &str,
    idem: &Idempotency,
) -> TxResult<Option<T>> {
    match tx.idempotent_answer(account_id, action, &idem.token)? {
        Some(prev) if prev.fingerprint == idem.fingerprint => serde_json::from_value(prev.response)
            .map(Some)
            .map_err(|e| {
                ecs_store::StoreError::Corrupt(format!("a remembered answer: {e}")).into()
            }),
        Some(_) => Err(IDEMPOTENT_PARAMETER_MISMATCH.err().into()),
        None => Ok(None),
    }
}

/// Runs a creating call once per ClientToken, inside its transaction: a repeat with the same
/// parameters gets the first answer again, one with other parameters is refused.
pub(crate) fn once_per_token<T: Serialize + DeserializeOwned>(
    tx: &mut dyn StoreTx,
    account_id: i64,
    action: &str,
    idempotency: Option<&Idempotency>,
    create: impl FnOnce(&mut dyn StoreTx) -> TxResult<T>,
) -> TxResult<T> {
    let Some(idem) = idempotency else {
        return create(tx);
    };
    if let Some(answer) = earlier(tx, account_id, action, idem)? {
        return Ok(answer);
    }
    let answer = create(tx)?;
    let response = serde_json::to_value(&answer)
        .map_err(|e| ecs_store::StoreError::Backend(format!("cannot keep an answer: {e}")))?;
    tx.put_idempotent_answer(
        account_id,
        action,
        &idem.token,
        &IdempotentAnswer {
            fingerprint: idem.fingerprint.clone(),
            response,
        },
    )?;
    Ok(answer)
}

/// A random resource id in ECS's shape: a prefix, then 20 lower-case letters and digits.
pub(crate) fn new_resource_id(prefix: &str) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}-{tail}")
}

/// Orders are numeric ids in ECS.
pub(crate) fn order_id() -> String {
    use rand::Rng;
    rand::thread_rng()
        .gen_range(100_000_000_000_000u64..1_000_000_000_000_000)
        .to_string()
}
