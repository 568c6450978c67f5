//! The lifecycle: which actions a resource has scheduled, and what each does when it comes due.
//!
//! Every scheduled action is derived from the resource's own fields ([`instance_due`],
//! [`host_due`]); storage keeps a due-time index of them, and the scheduler hands each due one
//! back here. Nothing in this module reads a clock: the action's due time is passed in, so a
//! virtual clock that jumps days ahead replays every action at the time it was due.

use chrono::{DateTime, Days, Duration, Months, NaiveTime, Utc};

use crate::model::{
    DedicatedHost, Instance, InstanceStatus, LockReason, PeriodUnit, RenewalSettings,
    RenewalStatus, Subscription,
};
use crate::money::Money;

/// Renewal is charged this many days before expiry.
pub const RENEWAL_LEAD_DAYS: u64 = 9;
/// Renewal charges run at 08:00 Beijing time (UTC+8), which is 00:00 UTC.
const CHARGE_HOUR_UTC: u32 = 0;
/// Default time an expired, unpaid subscription is kept (stopped and locked) before release.
pub const DEFAULT_EXPIRY_GRACE: Duration = Duration::days(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionKind {
    /// Pay-as-you-go resource reached its AutoReleaseTime.
    AutoRelease,
    /// Subscription with AutoRenewal: try to charge the next period.
    RenewalAttempt,
    /// Subscription reached its ExpiredTime unpaid: stop and lock.
    Expire,
    /// Expired subscription still unpaid after the grace period: release.
    ExpiryRelease,
    /// An interrupted spot instance at the end of its notice period: release.
    SpotInterruption,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::AutoRelease => "AutoRelease",
            ActionKind::RenewalAttempt => "RenewalAttempt",
            ActionKind::Expire => "Expire",
            ActionKind::ExpiryRelease => "ExpiryRelease",
            ActionKind::SpotInterruption => "SpotInterruption",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ActionKind::AutoRelease,
            ActionKind::RenewalAttempt,
            ActionKind::Expire,
            ActionKind::ExpiryRelease,
            ActionKind::SpotInterruption,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One scheduled action of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub kind: ActionKind,
    pub at: DateTime<Utc>,
}

/// What happened when an action ran; recorded as the event's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Released,
    Renewed {
        charged: Money,
        new_expired_time: DateTime<Utc>,
    },
    RenewalFailed {
        price: Money,
        balance: Money,
        next_attempt: Option<DateTime<Utc>>,
    },
    Locked {
        release_time: DateTime<Utc>,
    },
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Released => "released",
            Outcome::Renewed { .. } => "renewed",
            Outcome::RenewalFailed { .. } => "insufficient_balance",
            Outcome::Locked { .. } => "locked",
        }
    }
}

/// The scheduled actions of an instance, given its current fields.
pub fn instance_due(instance: &Instance) -> Vec<Due> {
    let mut due = billed_due(instance.auto_release_time, instance.subscription.as_ref());
    if let Some(at) = instance.launch.interruption_release_time {
        due.push(Due {
            kind: ActionKind::SpotInterruption,
            at,
        });
    }
    due
}

/// The scheduled actions of a dedicated host.
pub fn host_due(host: &DedicatedHost) -> Vec<Due> {
    billed_due(host.auto_release_time, host.subscription.as_ref())
}

/// What instances and hosts alike have due: their auto-release time, and their subscription's
/// renewal, expiry or expiry release.
fn billed_due(auto_release_time: Option<DateTime<Utc>>, sub: Option<&Subscription>) -> Vec<Due> {
    let mut due = Vec::new();
    if let Some(at) = auto_release_time {
        due.push(Due {
            kind: ActionKind::AutoRelease,
            at,
        });
    }
    if let Some(sub) = sub {
        subscription_due(sub, &mut due);
    }
    due
}

fn subscription_due(sub: &Subscription, due: &mut Vec<Due>) {
    if let Some(at) = sub.expiry_release_time {
        due.push(Due {
            kind: ActionKind::ExpiryRelease,
            at,
        });
        return;
    }
    if let Some(at) = sub.next_renewal_attempt {
        due.push(Due {
            kind: ActionKind::RenewalAttempt,
            at,
        });
    }
    due.push(Due {
        kind: ActionKind::Expire,
        at: sub.expired_time,
    });
}

/// `t` moved forward by `n` units; `None` past the last time ecsd can show.
pub fn add_period(t: DateTime<Utc>, n: u32, unit: PeriodUnit) -> Option<DateTime<Utc>> {
    let moved = match unit {
        PeriodUnit::Week => t.checked_add_days(Days::new(7 * u64::from(n))),
        PeriodUnit::Month => t.checked_add_months(Months::new(n)),
        PeriodUnit::Year => t.checked_add_months(Months::new(n.checked_mul(12)?)),
    };
    moved.filter(crate::time::in_range)
}

/// The first renewal charge for a subscription ending at `expired_time`: 08:00 Beijing time on
/// the ninth day before the (Beijing) expiry date.
///
/// Every step is checked: at the ends of the calendar a step that cannot be taken is skipped,
/// which only moves the charge a few hours, never panics.
pub fn first_renewal_attempt(expired_time: DateTime<Utc>) -> DateTime<Utc> {
    let beijing_date = expired_time
        .checked_add_signed(Duration::hours(8))
        .unwrap_or(expired_time)
        .date_naive();
    let charge_date = beijing_date
        .checked_sub_days(Days::new(RENEWAL_LEAD_DAYS))
        .unwrap_or(beijing_date);
    charge_date.and_time(charge_hour()).and_utc()
}

/// The daily charge hour, 08:00 Beijing time, in UTC.
fn charge_hour() -> NaiveTime {
    NaiveTime::from_hms_opt(CHARGE_HOUR_UTC, 0, 0).unwrap_or(NaiveTime::MIN)
}

/// The first daily charge slot at or after `t`.
pub fn next_charge_slot(t: DateTime<Utc>) -> DateTime<Utc> {
    let day_start = t.date_naive().and_time(charge_hour()).and_utc();
    if day_start >= t {
        day_start
    } else {
        // Past the last showable day there is no next slot; the slot that passed is returned
        // and no renewal is planned from it (it is not after `t`).
        day_start
            .checked_add_signed(Duration::days(1))
            .unwrap_or(day_start)
    }
}

/// When the next renewal charge should be tried, looking no earlier than `not_before`.
/// None when auto-renew is off, or the subscription has expired, or no slot is left before expiry.
pub fn plan_renewal(sub: &Subscription, not_before: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if sub.renewal.status != RenewalStatus::AutoRenewal || sub.expiry_release_time.is_some() {
        return None;
    }
    let at = first_renewal_attempt(sub.expired_time).max(next_charge_slot(not_before));
    (at < sub.expired_time).then_some(at)
}

/// A new subscription starting at `now` for `period` × `unit`.
pub fn new_subscription(
    now: DateTime<Utc>,
    period: u32,
    unit: PeriodUnit,
    renewal: RenewalSettings,
) -> Option<Subscription> {
    let expired_time = crate::time::truncate_to_minute(add_period(now, period, unit)?);
    let mut sub = Subscription {
        expired_time,
        renewal,
        next_renewal_attempt: None,
        expiry_release_time: None,
    };
    sub.next_renewal_attempt = plan_renewal(&sub, now);
    Some(sub)
}

/// Applies new auto-renew settings at `now`, replanning the next charge.
pub fn set_renewal(sub: &mut Subscription, renewal: RenewalSettings, now: DateTime<Utc>) {
    sub.renewal = renewal;
    sub.next_renewal_attempt = plan_renewal(sub, now);
}

/// The charge for one renewal of `renewal.duration` × `renewal.unit` at `monthly_price`.
pub fn renewal_price(monthly_price: Money, renewal: &RenewalSettings) -> Option<Money> {
    match renewal.unit {
        PeriodUnit::Month => monthly_price.checked_mul(renewal.duration as i64),
        PeriodUnit::Year => monthly_price.checked_mul(12 * renewal.duration as i64),
        // A week is charged as a quarter month, rounded up to the smallest unit.
        PeriodUnit::Week => {
            let quarter = (monthly_price.units() + 3) / 4;
            Money::from_units(quarter).checked_mul(renewal.duration as i64)
        }
    }
}

/// A renewal attempt at `at` with the account's `balance`. Returns the outcome and, when the
/// charge went through, the balance left.
pub fn attempt_renewal(
    sub: &mut Subscription,
    monthly_price: Money,
    balance: Money,
    at: DateTime<Utc>,
) -> (Outcome, Option<Money>) {
    let price = renewal_price(monthly_price, &sub.renewal).unwrap_or(Money::from_units(i64::MAX));
    match balance
        .checked_sub(price)
        .filter(|left| *left >= Money::ZERO)
    {
        Some(left) => {
            let new_expiry = add_period(sub.expired_time, sub.renewal.duration, sub.renewal.unit)
                .unwrap_or(sub.expired_time);
            sub.expired_time = new_expiry;
            sub.next_renewal_attempt = plan_renewal(sub, just_after(at));
            (
                Outcome::Renewed {
                    charged: price,
                    new_expired_time: new_expiry,
                },
                Some(left),
            )
        }
        None => {
            sub.next_renewal_attempt = plan_renewal(sub, just_after(at));
            (
                Outcome::RenewalFailed {
                    price,
                    balance,
                    next_attempt: sub.next_renewal_attempt,
                },
                None,
            )
        }
    }
}

/// The second after `at` (at the last representable instant, `at` itself).
fn just_after(at: DateTime<Utc>) -> DateTime<Utc> {
    at.checked_add_signed(Duration::seconds(1)).unwrap_or(at)
}

/// The subscription ran out unpaid at `at`: stop, lock for the financial reason, and plan the
/// release after `grace`.
pub fn expire_instance(instance: &mut Instance, at: DateTime<Utc>, grace: Duration) -> Outcome {
    instance.status = InstanceStatus::Stopped;
    lock_unpaid(
        &mut instance.locks,
        instance.subscription.as_mut(),
        at,
        grace,
    )
}

/// The host counterpart of [`expire_instance`] (a host has no power state to stop).
pub fn expire_host(host: &mut DedicatedHost, at: DateTime<Utc>, grace: Duration) -> Outcome {
    lock_unpaid(&mut host.locks, host.subscription.as_mut(), at, grace)
}

/// What expiry does to instances and hosts alike: the financial lock, no more renewal, and the
/// release planned `grace` after `at`.
fn lock_unpaid(
    locks: &mut Vec<LockReason>,
    sub: Option<&mut Subscription>,
    at: DateTime<Utc>,
    grace: Duration,
) -> Outcome {
    let release_time = crate::time::checked_add(at, grace).unwrap_or(crate::time::LATEST_TIME);
    if !locks.contains(&LockReason::Financial) {
        locks.push(LockReason::Financial);
    }
    if let Some(sub) = sub {
        sub.next_renewal_attempt = None;
        sub.expiry_release_time = Some(release_time);
    }
    Outcome::Locked { release_time }
}

/// Whether a subscription has expired (reached its end unpaid).
pub fn is_expired(sub: &Subscription) -> bool {
    sub.expiry_release_time.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn auto(duration: u32, unit: PeriodUnit) -> RenewalSettings {
        RenewalSettings {
            status: RenewalStatus::AutoRenewal,
            duration,
            unit,
        }
    }

    #[test]
    fn first_charge_is_nine_days_before_expiry_at_eight_beijing() {
        // Expires 2026-03-10 12:00 UTC = 20:00 Beijing on the 10th: charge on the 1st, 08:00 +8.
        assert_eq!(
            first_renewal_attempt(t("2026-03-10T12:00:00Z")),
            t("2026-03-01T00:00:00Z")
        );
        // Expires 2026-03-10 17:00 UTC = 01:00 Beijing on the 11th: charge on the 2nd.
        assert_eq!(
            first_renewal_attempt(t("2026-03-10T17:00:00Z")),
            t("2026-03-02T00:00:00Z")
        );
    }

    #[test]
    fn renewal_is_planned_only_with_auto_renewal() {
        let now = t("2026-01-01T10:00:00Z");
        let sub = new_subscription(now, 1, PeriodUnit::Month, auto(1, PeriodUnit::Month)).unwrap();
        assert_eq!(sub.expired_time, t("2026-02-01T10:00:00Z"));
        assert_eq!(sub.next_renewal_attempt, Some(t("2026-01-23T00:00:00Z")));
        for status in [RenewalStatus::Normal, RenewalStatus::NotRenewal] {
            let settings = RenewalSettings {
                status,
                ..auto(1, PeriodUnit::Month)
            };
            let sub = new_subscription(now, 1, PeriodUnit::Month, settings).unwrap();
            assert_eq!(sub.next_renewal_attempt, None, "{status}");
        }
    }

    #[test]
    fn successful_renewal_extends_and_charges() {
        let now = t("2026-01-01T10:00:00Z");
        let mut sub =
            new_subscription(now, 1, PeriodUnit::Month, auto(2, PeriodUnit::Month)).unwrap();
        let at = sub.next_renewal_attempt.unwrap();
        let (outcome, left) =
            attempt_renewal(&mut sub, "100".parse().unwrap(), "250".parse().unwrap(), at);
        assert_eq!(left, Some("50".parse().unwrap()));
        assert_eq!(sub.expired_time, t("2026-04-01T10:00:00Z"));
        assert!(matches!(outcome, Outcome::Renewed { .. }));
        assert_eq!(sub.next_renewal_attempt, Some(t("2026-03-23T00:00:00Z")));
    }

    #[test]
    fn failed_renewal_retries_daily_until_expiry() {
        let now = t("2026-01-01T10:00:00Z");
        let mut sub =
            new_subscription(now, 1, PeriodUnit::Month, auto(1, PeriodUnit::Month)).unwrap();
        let mut attempts = Vec::new();
        while let Some(at) = sub.next_renewal_attempt {
            attempts.push(at);
            let (outcome, left) =
                attempt_renewal(&mut sub, "100".parse().unwrap(), "1".parse().unwrap(), at);
            assert!(left.is_none());
            assert!(matches!(outcome, Outcome::RenewalFailed { .. }));
        }
        // Jan 23 .. Feb 1 (expiry at 10:00 UTC on Feb 1, after that day's 00:00 slot): 10 tries.
        assert_eq!(attempts.len(), 10);
        assert_eq!(attempts[0], t("2026-01-23T00:00:00Z"));
        assert_eq!(attempts[9], t("2026-02-01T00:00:00Z"));
        assert_eq!(sub.expired_time, t("2026-02-01T10:00:00Z"));
    }

    #[test]
    fn renewal_prices_scale_with_duration() {
        let m: Money = "100".parse().unwrap();
        assert_eq!(
            renewal_price(m, &auto(3, PeriodUnit::Month)),
            Some("300".parse().unwrap())
        );
        assert_eq!(
            renewal_price(m, &auto(2, PeriodUnit::Year)),
            Some("2400".parse().unwrap())
        );
    }

    #[test]
    fn expired_subscription_plans_only_its_release() {
        let now = t("2026-01-01T10:00:00Z");
        let mut sub =
            new_subscription(now, 1, PeriodUnit::Month, auto(1, PeriodUnit::Month)).unwrap();
        sub.expiry_release_time = Some(t("2026-02-16T10:00:00Z"));
        let mut due = Vec::new();
        subscription_due(&sub, &mut due);
        assert_eq!(
            due,
            vec![Due {
                kind: ActionKind::ExpiryRelease,
                at: t("2026-02-16T10:00:00Z")
            }]
        );
    }
}
