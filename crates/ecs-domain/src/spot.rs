//! Interrupting a spot instance: ECS gives notice (the instance is locked `recycling`), then
//! releases it when the notice period ends.

use chrono::{DateTime, Duration, Utc};

use crate::model::{Instance, LockReason};

/// ECS releases an interrupted spot instance five minutes after the interruption notice.
pub const SPOT_NOTICE: Duration = Duration::minutes(5);

/// Why an interruption was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterruptRefusal {
    /// Only spot instances are interrupted.
    NotSpot,
    /// Already interrupted, waiting for its release.
    AlreadyInterrupted,
}

/// Interrupts a spot instance at `now`: locked `recycling`, released at the returned time.
pub fn interrupt(
    instance: &mut Instance,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, InterruptRefusal> {
    if !instance.launch.is_spot() {
        return Err(InterruptRefusal::NotSpot);
    }
    if instance.launch.interruption_release_time.is_some() {
        return Err(InterruptRefusal::AlreadyInterrupted);
    }
    let release_at = crate::time::checked_add(now, SPOT_NOTICE).unwrap_or(crate::time::LATEST_TIME);
    instance.launch.interruption_release_time = Some(release_at);
    if !instance.locks.contains(&LockReason::Recycling) {
        instance.locks.push(LockReason::Recycling);
    }
    Ok(release_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{instance_due, ActionKind};
    use crate::model::SpotStrategy;
    use chrono::TimeZone;

    fn instance(spot: SpotStrategy) -> Instance {
        let json = serde_json::json!({
            "id": "i-spot", "account_id": 1, "region_id": "cn-hangzhou", "zone_id": "cn-hangzhou-h",
            "name": "", "description": "", "instance_type": "ecs.g7.large", "cpu": 2,
            "memory_mib": 8192, "image_id": "img", "charge_type": "PostPaid",
            "status": "Running", "creation_time": "2026-03-10T12:00:00Z", "start_time": null,
            "auto_release_time": null, "deletion_protection": false, "subscription": null,
            "locks": [], "tags": [], "security_group_ids": [], "vswitch_id": "",
            "dedicated_host_id": null,
        });
        let mut i: Instance = serde_json::from_value(json).unwrap();
        i.launch.spot_strategy = spot;
        i
    }

    #[test]
    fn an_interrupted_spot_instance_is_locked_and_due_for_release_after_the_notice() {
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
        let mut i = instance(SpotStrategy::SpotAsPriceGo);
        assert!(instance_due(&i).is_empty());
        let at = interrupt(&mut i, now).unwrap();
        assert_eq!(at, now + SPOT_NOTICE);
        assert_eq!(i.locks, vec![LockReason::Recycling]);
        let due = instance_due(&i);
        assert_eq!(
            due.iter().map(|d| (d.kind, d.at)).collect::<Vec<_>>(),
            vec![(ActionKind::SpotInterruption, at)]
        );
        assert_eq!(
            interrupt(&mut i, now),
            Err(InterruptRefusal::AlreadyInterrupted)
        );
        assert_eq!(
            interrupt(&mut instance(SpotStrategy::NoSpot), now),
            Err(InterruptRefusal::NotSpot)
        );
        assert_eq!(
            ActionKind::parse("SpotInterruption"),
            Some(ActionKind::SpotInterruption)
        );
    }
}
