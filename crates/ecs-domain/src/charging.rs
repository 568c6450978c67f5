//! Paying for an instance by hand: renewing a subscription (RenewInstance) and changing how it
//! is billed (ModifyInstanceChargeType). Pure functions of the instance, the price, the
//! balance and the time passed in.

use chrono::{DateTime, Utc};

use crate::lifecycle::{add_period, is_expired, new_subscription, plan_renewal, renewal_price};
use crate::model::{
    ChargeType, Instance, InstanceStatus, LockReason, PeriodUnit, RenewalSettings, RenewalStatus,
};
use crate::money::Money;
use crate::time::truncate_to_minute;

/// Why a payment by hand was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeRefusal {
    /// The instance is not billed the way the call needs (renewing pay-as-you-go, converting
    /// to the charge type it already has).
    ChargeType,
    /// Converting needs a Running or Stopped instance that is not locked.
    Status,
    /// Expired and locked for non-payment: only renewal helps.
    Expired,
    /// The balance does not cover the price.
    Balance,
    /// The period cannot be added (past the last time ecsd can show).
    Period,
}

/// What a payment by hand did to the balance: the amount charged (or, negative, refunded) and
/// what is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payment {
    pub amount: Money,
    pub balance_left: Money,
}

/// The price of `period` × `unit` at `monthly_price`.
pub fn period_price(monthly_price: Money, period: u32, unit: PeriodUnit) -> Option<Money> {
    renewal_price(
        monthly_price,
        &RenewalSettings {
            status: RenewalStatus::Normal,
            duration: period,
            unit,
        },
    )
}

fn pay(price: Money, balance: Money) -> Result<Payment, ChargeRefusal> {
    balance
        .checked_sub(price)
        .filter(|left| *left >= Money::ZERO)
        .map(|balance_left| Payment {
            amount: price,
            balance_left,
        })
        .ok_or(ChargeRefusal::Balance)
}

/// Renews a subscription by `period` × `unit`, charged from `balance` at `now`.
///
/// A subscription still running is extended from its ExpiredTime. One that has expired (locked,
/// waiting for its release) starts a new period at `now`, is unlocked and started again: the
/// renewal paid for the time from now on, and the instance was stopped only for non-payment.
pub fn renew(
    instance: &mut Instance,
    period: u32,
    unit: PeriodUnit,
    monthly_price: Money,
    balance: Money,
    now: DateTime<Utc>,
) -> Result<Payment, ChargeRefusal> {
    if instance.charge_type != ChargeType::PrePaid {
        return Err(ChargeRefusal::ChargeType);
    }
    let Some(sub) = instance.subscription.as_mut() else {
        return Err(ChargeRefusal::ChargeType);
    };
    let price = period_price(monthly_price, period, unit).ok_or(ChargeRefusal::Period)?;
    let payment = pay(price, balance)?;
    if is_expired(sub) {
        sub.expired_time =
            truncate_to_minute(add_period(now, period, unit).ok_or(ChargeRefusal::Period)?);
        sub.expiry_release_time = None;
        instance.locks.retain(|l| *l != LockReason::Financial);
        instance.status = InstanceStatus::Running;
        instance.start_time = Some(now);
    } else {
        sub.expired_time =
            add_period(sub.expired_time, period, unit).ok_or(ChargeRefusal::Period)?;
    }
    sub.next_renewal_attempt = plan_renewal(sub, now);
    Ok(payment)
}

/// Who may change charge type: a Running or Stopped instance, not locked for non-payment.
fn check_convertible(instance: &Instance) -> Result<(), ChargeRefusal> {
    if instance.locks.contains(&LockReason::Financial)
        || instance.subscription.as_ref().is_some_and(is_expired)
    {
        return Err(ChargeRefusal::Expired);
    }
    match instance.status {
        InstanceStatus::Running | InstanceStatus::Stopped => Ok(()),
        _ => Err(ChargeRefusal::Status),
    }
}

/// Subscription → pay-as-you-go at `now`. The unused part of the paid period is refunded,
/// prorated by the second over a 30-day month (rounded down to the smallest unit).
/// Afterwards the instance is released like any pay-as-you-go instance.
pub fn to_pay_as_you_go(
    instance: &mut Instance,
    monthly_price: Money,
    balance: Money,
    now: DateTime<Utc>,
) -> Result<Payment, ChargeRefusal> {
    if instance.charge_type != ChargeType::PrePaid {
        return Err(ChargeRefusal::ChargeType);
    }
    check_convertible(instance)?;
    let remaining = instance
        .subscription
        .as_ref()
        .map(|s| (s.expired_time - now).num_seconds().max(0))
        .unwrap_or(0);
    const MONTH_SECONDS: i128 = 30 * 24 * 3600;
    let refund = i128::from(monthly_price.units()) * i128::from(remaining) / MONTH_SECONDS;
    let refund = Money::from_units(i64::try_from(refund).unwrap_or(i64::MAX));
    let balance_left = balance.checked_add(refund).ok_or(ChargeRefusal::Period)?;
    instance.charge_type = ChargeType::PostPaid;
    instance.subscription = None;
    instance.auto_release_time = None;
    Ok(Payment {
        amount: Money::from_units(-refund.units()),
        balance_left,
    })
}

/// Pay-as-you-go → subscription of `period` × `unit` from `now`, paid from `balance`. An
/// auto-release time is dropped: a subscription ends at its ExpiredTime instead.
pub fn to_subscription(
    instance: &mut Instance,
    period: u32,
    unit: PeriodUnit,
    renewal: RenewalSettings,
    monthly_price: Money,
    balance: Money,
    now: DateTime<Utc>,
) -> Result<Payment, ChargeRefusal> {
    // A spot instance is pay-as-you-go by nature: it has no subscription form.
    if instance.charge_type != ChargeType::PostPaid || instance.launch.is_spot() {
        return Err(ChargeRefusal::ChargeType);
    }
    check_convertible(instance)?;
    let price = period_price(monthly_price, period, unit).ok_or(ChargeRefusal::Period)?;
    let payment = pay(price, balance)?;
    let sub = new_subscription(now, period, unit, renewal).ok_or(ChargeRefusal::Period)?;
    instance.charge_type = ChargeType::PrePaid;
    instance.subscription = Some(sub);
    instance.auto_release_time = None;
    instance.stopped_charging = false;
    Ok(payment)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::expire_instance;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
    }

    fn instance(charge_type: ChargeType) -> Instance {
        let json = serde_json::json!({
            "id": "i-a", "account_id": 1, "region_id": "cn-hangzhou", "zone_id": "cn-hangzhou-h",
            "name": "", "description": "", "instance_type": "ecs.g7.large", "cpu": 2,
            "memory_mib": 8192, "image_id": "img", "charge_type": charge_type,
            "status": "Running", "creation_time": now(), "start_time": now(),
            "auto_release_time": null, "deletion_protection": false, "subscription": null,
            "locks": [], "tags": [], "security_group_ids": [], "vswitch_id": "",
            "dedicated_host_id": null, "stopped_charging": false,
        });
        let mut i: Instance = serde_json::from_value(json).unwrap();
        if charge_type == ChargeType::PrePaid {
            i.subscription =
                new_subscription(now(), 1, PeriodUnit::Month, RenewalSettings::default());
        }
        i
    }

    fn money(s: &str) -> Money {
        s.parse().unwrap()
    }

    #[test]
    fn renewing_extends_from_the_expired_time_and_charges_the_period() {
        let mut i = instance(ChargeType::PrePaid);
        let before = i.subscription.as_ref().unwrap().expired_time;
        let paid = renew(
            &mut i,
            2,
            PeriodUnit::Month,
            money("24"),
            money("100"),
            now(),
        )
        .unwrap();
        assert_eq!(
            paid,
            Payment {
                amount: money("48"),
                balance_left: money("52")
            }
        );
        assert_eq!(
            i.subscription.as_ref().unwrap().expired_time,
            add_period(before, 2, PeriodUnit::Month).unwrap()
        );
        let untouched = i.clone();
        assert_eq!(
            renew(
                &mut i,
                3,
                PeriodUnit::Month,
                money("24"),
                money("52"),
                now()
            ),
            Err(ChargeRefusal::Balance)
        );
        assert_eq!(i, untouched, "a refused renewal changes nothing");
        let mut post = instance(ChargeType::PostPaid);
        assert_eq!(
            renew(
                &mut post,
                1,
                PeriodUnit::Month,
                money("1"),
                money("9"),
                now()
            ),
            Err(ChargeRefusal::ChargeType)
        );
    }

    #[test]
    fn renewing_an_expired_instance_unlocks_and_starts_it_for_a_period_from_now() {
        let mut i = instance(ChargeType::PrePaid);
        let expired_at = i.subscription.as_ref().unwrap().expired_time;
        expire_instance(&mut i, expired_at, Duration::days(15));
        assert_eq!(i.status, InstanceStatus::Stopped);
        let later = expired_at + Duration::days(3);
        renew(
            &mut i,
            1,
            PeriodUnit::Month,
            money("24"),
            money("24"),
            later,
        )
        .unwrap();
        let sub = i.subscription.as_ref().unwrap();
        assert_eq!(
            (
                i.status,
                i.locks.is_empty(),
                sub.expiry_release_time,
                i.start_time
            ),
            (InstanceStatus::Running, true, None, Some(later))
        );
        assert_eq!(
            sub.expired_time,
            add_period(later, 1, PeriodUnit::Month).unwrap()
        );
    }

    #[test]
    fn converting_either_way() {
        let mut i = instance(ChargeType::PrePaid);
        // Fifteen days of a 30-day month left: half the monthly price back.
        let halfway = i.subscription.as_ref().unwrap().expired_time - Duration::days(15);
        let back = to_pay_as_you_go(&mut i, money("30"), money("1"), halfway).unwrap();
        assert_eq!(
            back,
            Payment {
                amount: money("-15"),
                balance_left: money("16")
            }
        );
        assert_eq!(
            (i.charge_type, i.subscription.is_none()),
            (ChargeType::PostPaid, true)
        );
        assert_eq!(
            to_pay_as_you_go(&mut i, money("30"), money("1"), now()),
            Err(ChargeRefusal::ChargeType)
        );
        i.auto_release_time = Some(now() + Duration::days(1));
        let paid = to_subscription(
            &mut i,
            3,
            PeriodUnit::Month,
            RenewalSettings::default(),
            money("10"),
            money("30"),
            now(),
        )
        .unwrap();
        assert_eq!(
            paid,
            Payment {
                amount: money("30"),
                balance_left: money("0")
            }
        );
        assert_eq!(
            (i.charge_type, i.auto_release_time, i.subscription.is_some()),
            (ChargeType::PrePaid, None, true)
        );
        let mut spot = instance(ChargeType::PostPaid);
        spot.launch.spot_strategy = crate::model::SpotStrategy::SpotAsPriceGo;
        assert_eq!(
            to_subscription(
                &mut spot,
                1,
                PeriodUnit::Month,
                RenewalSettings::default(),
                money("1"),
                money("100"),
                now(),
            ),
            Err(ChargeRefusal::ChargeType)
        );
        let mut locked = instance(ChargeType::PrePaid);
        let at = locked.subscription.as_ref().unwrap().expired_time;
        expire_instance(&mut locked, at, Duration::days(15));
        assert_eq!(
            to_pay_as_you_go(&mut locked, money("30"), money("0"), at),
            Err(ChargeRefusal::Expired)
        );
    }
}
