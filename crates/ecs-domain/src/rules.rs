//! Checks of requested changes against a resource's state. Each returns a small reason enum;
//! the operation that asked maps it to the error row of its own table.

use crate::lifecycle::is_expired;
use crate::model::{
    ChargeType, Instance, InstanceStatus, LockReason, PeriodUnit, RenewalSettings, RenewalStatus,
};

/// Durations ModifyInstanceAutoRenewAttribute accepts, per the seed API doc (newer docs allow
/// more; the seed wins).
pub fn renew_durations(unit: PeriodUnit) -> &'static [u32] {
    match unit {
        PeriodUnit::Month => &[1, 2, 3, 6, 12],
        PeriodUnit::Year => &[1, 2, 3],
        PeriodUnit::Week => &[],
    }
}

/// Periods RunInstances accepts for a subscription.
pub fn subscription_periods(unit: PeriodUnit) -> &'static [u32] {
    match unit {
        PeriodUnit::Month => &[1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 24, 36, 48, 60],
        PeriodUnit::Week => &[1, 2, 3, 4],
        PeriodUnit::Year => &[1, 2, 3, 4, 5],
    }
}

/// Auto-renew periods (months) RunInstances and AllocateDedicatedHosts accept.
pub const AUTO_RENEW_PERIODS: &[u32] = &[1, 2, 3, 6, 12, 24, 36, 48, 60];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewSettingsError {
    PeriodUnit,
    Duration,
    RenewalStatus,
}

/// Resolves ModifyInstanceAutoRenewAttribute's parameters against the current settings.
/// `RenewalStatus` wins over `AutoRenew`; with neither, AutoRenew's default (false) applies.
/// An omitted Duration keeps the current one when it fits the unit, else becomes 1.
pub fn renewal_settings(
    current: RenewalSettings,
    duration: Option<i64>,
    period_unit: Option<&str>,
    renewal_status: Option<&str>,
    auto_renew: Option<bool>,
) -> Result<RenewalSettings, RenewSettingsError> {
    let unit = match period_unit {
        None | Some("") => PeriodUnit::Month,
        Some(raw) => match PeriodUnit::parse(raw) {
            Some(u @ (PeriodUnit::Month | PeriodUnit::Year)) => u,
            _ => return Err(RenewSettingsError::PeriodUnit),
        },
    };
    let allowed = renew_durations(unit);
    let duration = match duration {
        Some(d) => u32::try_from(d)
            .ok()
            .filter(|d| allowed.contains(d))
            .ok_or(RenewSettingsError::Duration)?,
        None if allowed.contains(&current.duration) && unit == current.unit => current.duration,
        None => 1,
    };
    let status = match renewal_status {
        Some(raw) if !raw.is_empty() => {
            RenewalStatus::parse(raw).ok_or(RenewSettingsError::RenewalStatus)?
        }
        _ if auto_renew == Some(true) => RenewalStatus::AutoRenewal,
        _ => RenewalStatus::Normal,
    };
    Ok(RenewalSettings {
        status,
        duration,
        unit,
    })
}

/// Why an instance may not be released by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseRefusal {
    /// DeletionProtection is on.
    Protected,
    /// A subscription that has not expired (or expired without TerminateSubscription).
    ChargeType,
    /// Running (or in transition) without Force.
    Status,
}

/// The checks of DeleteInstance/DeleteInstances, in the order ECS applies them.
pub fn check_manual_release(
    instance: &Instance,
    force: bool,
    terminate_subscription: bool,
) -> Result<(), ReleaseRefusal> {
    if instance.deletion_protection {
        return Err(ReleaseRefusal::Protected);
    }
    if instance.charge_type == ChargeType::PrePaid {
        let expired = instance.subscription.as_ref().is_some_and(is_expired);
        if !(expired && terminate_subscription) {
            return Err(ReleaseRefusal::ChargeType);
        }
    }
    match instance.status {
        InstanceStatus::Stopped => Ok(()),
        InstanceStatus::Running | InstanceStatus::Stopping if force => Ok(()),
        _ => Err(ReleaseRefusal::Status),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerRefusal {
    /// Not in a state the operation starts from.
    Status,
    /// A subscription that expired unpaid (financial lock).
    Expired,
}

fn financially_locked(instance: &Instance) -> bool {
    instance.locks.contains(&LockReason::Financial)
}

pub fn check_stop(instance: &Instance) -> Result<(), PowerRefusal> {
    if financially_locked(instance) {
        return Err(PowerRefusal::Expired);
    }
    match instance.status {
        InstanceStatus::Running => Ok(()),
        _ => Err(PowerRefusal::Status),
    }
}

/// ECS reboots a running instance only; an expired, locked one is refused first, as for stop.
pub fn check_reboot(instance: &Instance) -> Result<(), PowerRefusal> {
    check_stop(instance)
}

pub fn check_start(instance: &Instance) -> Result<(), PowerRefusal> {
    if financially_locked(instance) {
        return Err(PowerRefusal::Expired);
    }
    match instance.status {
        InstanceStatus::Stopped => Ok(()),
        _ => Err(PowerRefusal::Status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current() -> RenewalSettings {
        RenewalSettings::default()
    }

    #[test]
    fn renewal_status_wins_over_auto_renew() {
        let s = renewal_settings(current(), None, None, Some("NotRenewal"), Some(true)).unwrap();
        assert_eq!(s.status, RenewalStatus::NotRenewal);
        let s = renewal_settings(current(), None, None, None, Some(true)).unwrap();
        assert_eq!(s.status, RenewalStatus::AutoRenewal);
        let s = renewal_settings(current(), None, None, None, None).unwrap();
        assert_eq!(s.status, RenewalStatus::Normal);
    }

    #[test]
    fn durations_follow_the_seed_sets() {
        for d in [1, 2, 3, 6, 12] {
            assert!(renewal_settings(current(), Some(d), Some("Month"), None, None).is_ok());
        }
        for d in [0, 4, 5, 24, 36, -1] {
            assert_eq!(
                renewal_settings(current(), Some(d), Some("Month"), None, None),
                Err(RenewSettingsError::Duration),
                "Month {d}"
            );
        }
        for d in [1, 2, 3] {
            assert!(renewal_settings(current(), Some(d), Some("Year"), None, None).is_ok());
        }
        for d in [4, 5, 6, 12] {
            assert_eq!(
                renewal_settings(current(), Some(d), Some("Year"), None, None),
                Err(RenewSettingsError::Duration),
                "Year {d}"
            );
        }
    }

    #[test]
    fn only_month_and_year_units() {
        for bad in ["Week", "month", "Day", "x"] {
            assert_eq!(
                renewal_settings(current(), Some(1), Some(bad), None, None),
                Err(RenewSettingsError::PeriodUnit),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_renewal_status_is_refused() {
        assert_eq!(
            renewal_settings(current(), None, None, Some("Auto"), None),
            Err(RenewSettingsError::RenewalStatus)
        );
    }
}
