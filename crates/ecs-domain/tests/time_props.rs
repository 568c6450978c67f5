//! Property tests of the auto-release time rule (time.rs): minute truncation, the 30-minute and
//! 3-year window boundaries, and no panic for any clock and any input string.

use chrono::{DateTime, Duration, Timelike, Utc};
use ecs_domain::time::{
    auto_release_time, checked_add, checked_add_months, format_minute, parse_utc_minute_or_second,
    parse_utc_second, truncate_to_minute, ReleaseTimeError, LATEST_TIME, MAX_RELEASE_MONTHS,
    MIN_RELEASE_LEAD,
};
use proptest::prelude::*;

fn wire(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Any clock from 1970 to LATEST_TIME, at nanosecond resolution.
fn clock() -> impl Strategy<Value = DateTime<Utc>> {
    (0..=LATEST_TIME.timestamp(), 0..1_000_000_000u32)
        .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap())
}

/// Clocks past LATEST_TIME, up to chrono's own maximum (the virtual clock can be pushed there).
fn far_clock() -> impl Strategy<Value = DateTime<Utc>> {
    (LATEST_TIME.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp())
        .prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
}

/// The first whole minute at or after `t`.
fn ceil_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = truncate_to_minute(t);
    if floor == t {
        floor
    } else {
        floor + Duration::minutes(1)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn truncation_keeps_the_minute(t in clock()) {
        let m = truncate_to_minute(t);
        prop_assert!(m <= t && t - m < Duration::minutes(1));
        prop_assert_eq!((m.second(), m.nanosecond()), (0, 0));
        prop_assert_eq!(truncate_to_minute(m), m);
    }

    /// Whatever is accepted is a whole minute inside [now + 30 min, min(now + 3 y, LATEST)].
    #[test]
    fn accepted_times_are_in_the_window(now in clock(), s in any::<String>()) {
        for raw in [s.as_str(), &wire(now + Duration::hours(1))] {
            if let Ok(Some(at)) = auto_release_time(Some(raw), now) {
                prop_assert_eq!(at, truncate_to_minute(at));
                prop_assert!(at >= now + MIN_RELEASE_LEAD);
                prop_assert!(at <= LATEST_TIME);
                if let Some(latest) = checked_add_months(now, MAX_RELEASE_MONTHS) {
                    prop_assert!(at <= latest);
                }
                let _ = format_minute(at);
            }
        }
    }

    /// The 30-minute boundary: the first whole minute at least 30 minutes ahead is accepted
    /// (any second within it), the minute before is too early.
    #[test]
    fn thirty_minute_boundary(now in clock(), sec in 0u32..60) {
        let earliest = ceil_minute(now + MIN_RELEASE_LEAD);
        prop_assume!(earliest <= LATEST_TIME);
        let ok = earliest.with_second(sec).unwrap();
        prop_assert_eq!(auto_release_time(Some(&wire(ok)), now), Ok(Some(earliest)));
        let before = (earliest - Duration::minutes(1)).with_second(sec).unwrap();
        prop_assert_eq!(
            auto_release_time(Some(&wire(before)), now),
            Err(ReleaseTimeError::TooEarly)
        );
    }

    /// The 3-year boundary: the last whole minute not after now + 36 months is accepted, the
    /// next is too late. Near the end of year 9999 the bound is LATEST_TIME instead.
    #[test]
    fn three_year_boundary(now in clock()) {
        let latest = checked_add_months(now, MAX_RELEASE_MONTHS).unwrap_or(LATEST_TIME);
        let last = truncate_to_minute(latest);
        prop_assume!(last >= now + MIN_RELEASE_LEAD);
        prop_assert_eq!(auto_release_time(Some(&wire(last)), now), Ok(Some(last)));
        if let Some(next) = checked_add(last, Duration::minutes(1)) {
            prop_assert_eq!(
                auto_release_time(Some(&wire(next)), now),
                Err(ReleaseTimeError::TooLate)
            );
        }
    }

    /// Past LATEST_TIME nothing panics and nothing is accepted.
    #[test]
    fn far_clocks_refuse(now in far_clock(), s in any::<String>()) {
        for raw in [s.as_str(), "9999-12-31T23:59:59Z", "2030-01-01T00:00:00Z"] {
            prop_assert!(auto_release_time(Some(raw), now).is_err() || raw.is_empty());
        }
        prop_assert_eq!(checked_add(now, Duration::seconds(1)), None);
    }

    /// Parsers: no panic on any string; what parses formats back to the same text.
    #[test]
    fn parsers_round_trip(s in any::<String>(), shaped in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?Z") {
        let _ = parse_utc_minute_or_second(&s);
        let _ = parse_utc_second(&s);
        if let Some(t) = parse_utc_second(&shaped) {
            prop_assert_eq!(wire(t), shaped.clone());
        }
        if let Some(t) = parse_utc_minute_or_second(&shaped) {
            prop_assert!(t <= LATEST_TIME);
            if shaped.len() == 17 {
                prop_assert_eq!(format_minute(t), shaped);
            }
        }
    }
}
