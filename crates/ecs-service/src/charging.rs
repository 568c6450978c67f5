//! Paying by hand: RenewInstance and ModifyInstanceChargeType. Each is one transaction that
//! changes the instance and the account balance together and records an event; the rules are
//! ecs-domain's ([`ecs_domain::charging`]).

use ecs_domain::charging::{self, ChargeRefusal, Payment};
use ecs_domain::error::common::{invalid_parameter, DRY_RUN_OPERATION};
use ecs_domain::model::{ChargeType, Instance, PeriodUnit, RenewalSettings, RenewalStatus};
use ecs_domain::rules::subscription_periods;
use ecs_domain::time::format_minute;
use ecs_domain::{ApiError, ErrorCode, Money};
use ecs_store::{NewEvent, ResourceKind, StoreTx, TxResult};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::creating::{once_per_token, order_id, Idempotency, INVALID_PERIOD};
use crate::instances::{EXPIRED_OR_IN_ARREARS, INCORRECT_STATUS, NOT_FOUND};
use crate::resource::{find, Billed};
use crate::{Caller, Service};

/// Periods RenewInstance takes, in months (its PeriodUnit is Month only).
pub const RENEW_MONTHS: &[u32] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 12];
/// The most instances one ModifyInstanceChargeType call may name.
pub const MAX_CONVERT_IDS: usize = 20;

pub const NOT_ENOUGH_BALANCE: ErrorCode = ErrorCode::new(
    403,
    "InvalidAccountStatus.NotEnoughBalance",
    "Your account does not have enough balance.",
);
/// Renewing pay-as-you-go, or converting an instance to the charge type it already has.
pub const CHARGE_TYPE_VIOLATION: ErrorCode = ErrorCode::new(
    403,
    "ChargeTypeViolation",
    "The operation is not permitted due to charge type of the instance.",
);
pub const RENEW_PERIOD_UNIT: ErrorCode = ErrorCode::new(
    400,
    "InvalidPeriodUnit.ValueNotSupported",
    "The specified parameter PeriodUnit is not valid.",
);

/// Renew one subscription instance by hand (RenewInstance).
#[derive(Debug, Clone)]
pub struct RenewInstance {
    pub id: String,
    pub region: Option<String>,
    pub period: u32,
    pub unit: PeriodUnit,
    pub idempotency: Option<Idempotency>,
}

/// Change how instances are billed (ModifyInstanceChargeType); all or none.
#[derive(Debug, Clone)]
pub struct ModifyChargeType {
    pub ids: Vec<String>,
    pub region: String,
    pub to: ChargeType,
    /// For a change to subscription: the period, its unit and auto-renewal.
    pub period: Option<i64>,
    pub unit: PeriodUnit,
    pub auto_renew: bool,
    pub dry_run: bool,
    pub idempotency: Option<Idempotency>,
}

/// What RenewInstance answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Renewed {
    pub order_id: String,
}

/// What ModifyInstanceChargeType answers: the order and each instance's fee (negative: a
/// refund).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Converted {
    pub order_id: String,
    pub fee_of_instances: FeeList,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FeeList {
    pub fee_of_instance: Vec<Fee>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Fee {
    pub instance_id: String,
    pub fee: String,
    pub currency: String,
}

fn refusal(why: ChargeRefusal) -> ApiError {
    match why {
        ChargeRefusal::ChargeType => CHARGE_TYPE_VIOLATION.err(),
        ChargeRefusal::Status => INCORRECT_STATUS.err(),
        ChargeRefusal::Expired => EXPIRED_OR_IN_ARREARS.err(),
        ChargeRefusal::Balance => NOT_ENOUGH_BALANCE.err(),
        ChargeRefusal::Period => INVALID_PERIOD.err(),
    }
}

fn balance_of(tx: &mut dyn StoreTx, account: i64) -> TxResult<Money> {
    Ok(tx
        .account(account)?
        .map(|a| a.balance)
        .unwrap_or(Money::ZERO))
}

fn paid_event(
    instance: &Instance,
    action: &str,
    outcome: &str,
    payment: Payment,
    now: chrono::DateTime<chrono::Utc>,
) -> NewEvent {
    NewEvent {
        account_id: instance.account_id,
        resource: ResourceKind::Instance,
        resource_id: instance.id.clone(),
        action: action.to_string(),
        scheduled_at: None,
        happened_at: now,
        outcome: outcome.to_string(),
        detail: json!({
            "InstanceChargeType": instance.charge_type.as_str(),
            "charged": payment.amount,
            "expired_time": instance.subscription.as_ref().map(|s| format_minute(s.expired_time)),
        }),
    }
}

impl Service {
    /// Rows: `InvalidPeriod`, [`RENEW_PERIOD_UNIT`], [`NOT_FOUND`], [`CHARGE_TYPE_VIOLATION`]
    /// (pay-as-you-go), [`NOT_ENOUGH_BALANCE`], `IdempotentParameterMismatch`.
    pub async fn renew_instance(
        &self,
        caller: &Caller,
        cmd: RenewInstance,
    ) -> Result<Renewed, ApiError> {
        self.settled(caller, self.renew_instance_unsettled(caller, cmd))
            .await
    }

    async fn renew_instance_unsettled(
        &self,
        caller: &Caller,
        cmd: RenewInstance,
    ) -> Result<Renewed, ApiError> {
        const ACTION: &str = "RenewInstance";
        if cmd.unit != PeriodUnit::Month {
            return Err(RENEW_PERIOD_UNIT.err());
        }
        if !RENEW_MONTHS.contains(&cmd.period) {
            return Err(INVALID_PERIOD.err());
        }
        let (account, now, catalog) = (caller.account_id, self.now(), self.catalog.clone());
        self.write(caller, move |tx| {
            once_per_token(tx, account, ACTION, cmd.idempotency.as_ref(), |tx| {
                let mut instance: Instance =
                    find(tx, account, cmd.region.as_deref(), &cmd.id, NOT_FOUND)?;
                let price = instance.monthly_price(&catalog);
                let balance = balance_of(tx, account)?;
                let payment =
                    charging::renew(&mut instance, cmd.period, cmd.unit, price, balance, now)
                        .map_err(refusal)?;
                tx.set_balance(account, payment.balance_left)?;
                tx.put_instance(&instance)?;
                tx.append_event(&paid_event(&instance, ACTION, "renewed", payment, now))?;
                Ok(Renewed {
                    order_id: order_id(),
                })
            })
        })
        .await
    }

    /// Rows: `MissingParameter` (Period, for a subscription), `InvalidPeriod`,
    /// [`NOT_FOUND`], [`CHARGE_TYPE_VIOLATION`] (already billed so),
    /// [`EXPIRED_OR_IN_ARREARS`], [`INCORRECT_STATUS`], [`NOT_ENOUGH_BALANCE`] (for all the
    /// instances together), `DryRunOperation`, `IdempotentParameterMismatch`.
    pub async fn modify_charge_type(
        &self,
        caller: &Caller,
        cmd: ModifyChargeType,
    ) -> Result<Converted, ApiError> {
        self.settled(caller, self.modify_charge_type_unsettled(caller, cmd))
            .await
    }

    async fn modify_charge_type_unsettled(
        &self,
        caller: &Caller,
        cmd: ModifyChargeType,
    ) -> Result<Converted, ApiError> {
        const ACTION: &str = "ModifyInstanceChargeType";
        if cmd.ids.len() > MAX_CONVERT_IDS {
            return Err(invalid_parameter("InstanceIds"));
        }
        let period = match cmd.to {
            ChargeType::PostPaid => 0,
            ChargeType::PrePaid => {
                let p = cmd
                    .period
                    .ok_or_else(|| ecs_domain::error::common::missing_parameter("Period"))?;
                u32::try_from(p)
                    .ok()
                    .filter(|p| subscription_periods(cmd.unit).contains(p))
                    .ok_or_else(|| INVALID_PERIOD.err())?
            }
        };
        let renewal = RenewalSettings {
            status: if cmd.auto_renew {
                RenewalStatus::AutoRenewal
            } else {
                RenewalStatus::Normal
            },
            duration: 1,
            unit: cmd.unit,
        };
        let (account, now, catalog) = (caller.account_id, self.now(), self.catalog.clone());
        self.write(caller, move |tx| {
            once_per_token(tx, account, ACTION, cmd.idempotency.as_ref(), |tx| {
                let mut balance = balance_of(tx, account)?;
                let mut changed = Vec::with_capacity(cmd.ids.len());
                let mut fees = Vec::with_capacity(cmd.ids.len());
                for id in &cmd.ids {
                    let mut instance: Instance =
                        find(tx, account, Some(&cmd.region), id, NOT_FOUND)?;
                    let price = instance.monthly_price(&catalog);
                    let payment = match cmd.to {
                        ChargeType::PostPaid => {
                            charging::to_pay_as_you_go(&mut instance, price, balance, now)
                        }
                        ChargeType::PrePaid => charging::to_subscription(
                            &mut instance,
                            period,
                            cmd.unit,
                            renewal,
                            price,
                            balance,
                            now,
                        ),
                    }
                    .map_err(refusal)?;
                    balance = payment.balance_left;
                    fees.push(Fee {
                        instance_id: instance.id.clone(),
                        fee: payment.amount.to_string(),
                        currency: "CNY".into(),
                    });
                    changed.push((instance, payment));
                }
                if cmd.dry_run {
                    return Err(DRY_RUN_OPERATION.err().into());
                }
                tx.set_balance(account, balance)?;
                for (instance, payment) in &changed {
                    tx.put_instance(instance)?;
                    tx.append_event(&paid_event(instance, ACTION, "converted", *payment, now))?;
                }
                Ok(Converted {
                    order_id: order_id(),
                    fee_of_instances: FeeList {
                        fee_of_instance: fees,
                    },
                })
            })
        })
        .await
    }
}
