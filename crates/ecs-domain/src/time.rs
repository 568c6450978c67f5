//! Time formats on the wire and the auto-release window.

use chrono::{DateTime, Duration, Months, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

/// Answers show times to the minute: `2017-12-10T04:04Z`.
///
/// Written out by hand: a page of instances formats several times each, and chrono's
/// format-string interpreter was a visible share of DescribeInstances (perf).
pub fn format_minute(t: DateTime<Utc>) -> String {
    use chrono::Datelike;
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return t.format("%Y-%m-%dT%H:%MZ").to_string();
    }
    fn push(out: &mut String, n: u32, width: u32) {
        for i in (0..width).rev() {
            out.push(char::from(b'0' + ((n / 10u32.pow(i)) % 10) as u8));
        }
    }
    let mut out = String::with_capacity(17);
    push(&mut out, year as u32, 4);
    out.push('-');
    push(&mut out, t.month(), 2);
    out.push('-');
    push(&mut out, t.day(), 2);
    out.push('T');
    push(&mut out, t.hour(), 2);
    out.push(':');
    push(&mut out, t.minute(), 2);
    out.push('Z');
    out
}

/// Optional times render as `""` when unset, as ECS does for AutoReleaseTime.
pub fn format_minute_opt(t: Option<DateTime<Utc>>) -> String {
    t.map(format_minute).unwrap_or_default()
}

/// The latest instant ecsd's clocks may show and the latest time it computes: ECS shows times
/// with four-digit years, so nothing can be scheduled (or rendered) past the end of year 9999.
/// Time rules refuse rather than go beyond it; see [`checked_add`] / [`checked_add_months`].
pub const LATEST_TIME: DateTime<Utc> = {
    // A const block: the unwraps happen at compile time (a failure is a build error).
    let Some(date) = NaiveDate::from_ymd_opt(9999, 12, 31) else {
        panic!("9999-12-31 is a date")
    };
    let Some(t) = date.and_hms_opt(23, 59, 59) else {
        panic!("23:59:59 is a time")
    };
    t.and_utc()
};

/// `t + d`, or `None` when the result would overflow or pass [`LATEST_TIME`] (or precede year
/// 0). Use this instead of `t + d`, which panics on overflow: the virtual clock can be advanced
/// far, and every time computed from it must stay renderable.
pub fn checked_add(t: DateTime<Utc>, d: Duration) -> Option<DateTime<Utc>> {
    t.checked_add_signed(d).filter(in_range)
}

/// `t` plus `months` calendar months, with the same limits as [`checked_add`].
pub fn checked_add_months(t: DateTime<Utc>, months: u32) -> Option<DateTime<Utc>> {
    t.checked_add_months(Months::new(months)).filter(in_range)
}

/// Whether `t` is a time ecsd can show: year 0000 to [`LATEST_TIME`].
pub fn in_range(t: &DateTime<Utc>) -> bool {
    use chrono::Datelike;
    t.year() >= 0 && *t <= LATEST_TIME
}

/// Checks that `raw` has exactly the digit/separator layout of `pattern`, where `d` stands for
/// an ASCII digit and every other byte must match itself. chrono alone accepts looser shapes
/// (signs, one-digit fields) and a leap second `:60`; the range of each field is then checked
/// by [`fields_in_range`].
fn layout_matches(raw: &str, pattern: &str) -> bool {
    raw.len() == pattern.len()
        && raw.bytes().zip(pattern.bytes()).all(|(c, p)| match p {
            b'd' => c.is_ascii_digit(),
            _ => c == p,
        })
}

/// Hour ≤ 23, minute ≤ 59 and (if present) second ≤ 59 — in particular no leap second `:60`,
/// which chrono's `%S` accepts but ECS does not. Month/day validity is left to chrono.
fn fields_in_range(raw: &str) -> bool {
    let field = |at: usize| raw.get(at..at + 2).and_then(|f| f.parse::<u32>().ok());
    let ok = |at: usize, max: u32| field(at).is_some_and(|v| v <= max);
    ok(11, 23) && ok(14, 59) && (raw.len() < 20 || ok(17, 59))
}

/// Parses a request time, `yyyy-MM-ddTHH:mm:ssZ`, UTC only. Anything else is malformed,
/// including out-of-range fields such as second `60` or hour `24`.
pub fn parse_utc_second(raw: &str) -> Option<DateTime<Utc>> {
    if !layout_matches(raw, "dddd-dd-ddTdd:dd:ddZ") || !fields_in_range(raw) {
        return None;
    }
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%SZ")
        .ok()
        .map(|n| Utc.from_utc_datetime(&n))
}

/// Parses a time given by the minute, `yyyy-MM-ddTHH:mmZ` (how ECS shows times and how
/// DescribeInstances' `Filter.N.Value` is documented), or by the second as in other requests.
pub fn parse_utc_minute_or_second(raw: &str) -> Option<DateTime<Utc>> {
    if raw.len() == 17 {
        if !layout_matches(raw, "dddd-dd-ddTdd:ddZ") || !fields_in_range(raw) {
            return None;
        }
        return NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%MZ")
            .ok()
            .map(|n| Utc.from_utc_datetime(&n));
    }
    parse_utc_second(raw)
}

/// `t` with seconds and fractions (leap-second nanoseconds included) set to zero.
pub fn truncate_to_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    // Setting the second to 0 and the nanosecond to 0 is always valid in UTC, so the fallback
    // is never taken; it only keeps this function free of a panic path.
    t.with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t)
}

/// Why an auto-release time was refused. ECS answers all three with the same code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseTimeError {
    Malformed,
    TooEarly,
    TooLate,
}

/// The earliest allowed auto-release time is half an hour from now.
pub const MIN_RELEASE_LEAD: Duration = Duration::minutes(30);
/// The latest allowed auto-release time is three years from now.
pub const MAX_RELEASE_MONTHS: u32 = 36;

/// Reads an `AutoReleaseTime` parameter. Absent or empty means "cancel" (`Ok(None)`). The time is
/// truncated to its minute first, and the window (30 minutes to 3 years from `now`) is checked on
/// the truncated time, since that is the time that will be kept.
pub fn auto_release_time(
    raw: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ReleaseTimeError> {
    let raw = match raw {
        None | Some("") => return Ok(None),
        Some(s) => s,
    };
    let at = parse_utc_second(raw).ok_or(ReleaseTimeError::Malformed)?;
    release_window(at, now).map(Some)
}

/// The auto-release rules for a parsed time: truncated to its minute, then at least 30 minutes
/// and at most 3 years from `now`. Returns the time that will be kept.
pub fn release_window(
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ReleaseTimeError> {
    let at = truncate_to_minute(at);
    // No arithmetic here may panic: `now` is the virtual clock, which can be anywhere up to
    // (and, if a caller forgot to check, past) LATEST_TIME. When now + 30 min is beyond what
    // ecsd can show, no time is late enough: every request is too early.
    let earliest = checked_add(now, MIN_RELEASE_LEAD).ok_or(ReleaseTimeError::TooEarly)?;
    if at < earliest {
        return Err(ReleaseTimeError::TooEarly);
    }
    // Three years ahead, but never past the last showable instant.
    let latest = checked_add_months(now, MAX_RELEASE_MONTHS).unwrap_or(LATEST_TIME);
    if at > latest {
        return Err(ReleaseTimeError::TooLate);
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn seconds_are_truncated_to_the_minute() {
        let now = t("2026-01-01T00:00:00Z");
        let got = auto_release_time(Some("2026-01-01T01:02:59Z"), now).unwrap();
        assert_eq!(got, Some(t("2026-01-01T01:02:00Z")));
    }

    #[test]
    fn absent_or_empty_cancels() {
        let now = t("2026-01-01T00:00:00Z");
        assert_eq!(auto_release_time(None, now), Ok(None));
        assert_eq!(auto_release_time(Some(""), now), Ok(None));
    }

    #[test]
    fn exactly_thirty_minutes_ahead_is_the_earliest_allowed() {
        let now = t("2026-01-01T00:00:00Z");
        assert!(auto_release_time(Some("2026-01-01T00:30:00Z"), now).is_ok());
        assert_eq!(
            auto_release_time(Some("2026-01-01T00:29:00Z"), now),
            Err(ReleaseTimeError::TooEarly)
        );
    }

    #[test]
    fn window_is_checked_after_truncation() {
        // 00:30:45 truncates to 00:30:00, which is less than 30 minutes after 00:00:30.
        let now = t("2026-01-01T00:00:30Z");
        assert_eq!(
            auto_release_time(Some("2026-01-01T00:30:45Z"), now),
            Err(ReleaseTimeError::TooEarly)
        );
    }

    #[test]
    fn three_years_is_the_latest_allowed() {
        let now = t("2026-01-01T00:00:00Z");
        assert!(auto_release_time(Some("2029-01-01T00:00:00Z"), now).is_ok());
        assert_eq!(
            auto_release_time(Some("2029-01-01T00:01:00Z"), now),
            Err(ReleaseTimeError::TooLate)
        );
    }

    #[test]
    fn other_shapes_are_malformed() {
        let now = t("2026-01-01T00:00:00Z");
        for bad in [
            "2026-01-02T00:00:00",
            "2026-01-02T00:00Z",
            "2026-01-02 00:00:00Z",
            "2026-01-02T00:00:00+08:00",
            "2026-01-02T00:00:00.000Z",
            "2026-01-02",
            "tomorrow",
            "2026-13-02T00:00:00Z",
        ] {
            assert_eq!(
                auto_release_time(Some(bad), now),
                Err(ReleaseTimeError::Malformed),
                "{bad}"
            );
        }
    }

    /// Regression: `:60` (a leap second to chrono) and other out-of-range fields were accepted.
    #[test]
    fn out_of_range_fields_are_malformed() {
        let now = t("2026-01-01T00:00:00Z");
        for bad in [
            "2026-06-01T00:00:60Z",
            "2026-06-01T00:60:00Z",
            "2026-06-01T24:00:00Z",
            "2026-06-31T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-06-00T00:00:00Z",
            "2026-06-01T00:00:99Z",
            "+026-06-01T00:00:00Z",
            "2026-6-01T00:00:00ZZ",
            "2026-06-01T00:0 :00Z",
            "２026-06-01T00:00:00Z",
        ] {
            assert_eq!(
                auto_release_time(Some(bad), now),
                Err(ReleaseTimeError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(parse_utc_minute_or_second("2026-06-01T00:60Z"), None);
        assert_eq!(parse_utc_minute_or_second("2026-06-01T24:00Z"), None);
        assert!(parse_utc_minute_or_second("2026-06-01T23:59Z").is_some());
        assert!(parse_utc_second("2026-06-01T23:59:59Z").is_some());
    }

    /// Regression: with the virtual clock advanced to year 262142, `now + 30 min` panicked
    /// ("DateTime + TimeDelta overflowed"). Near and past the last showable instant the rule
    /// refuses instead.
    #[test]
    fn clock_at_the_end_of_time_refuses_instead_of_panicking() {
        assert_eq!(LATEST_TIME, t("9999-12-31T23:59:59Z"));
        let far = DateTime::<Utc>::MAX_UTC;
        assert_eq!(
            auto_release_time(Some("9999-12-31T23:59:00Z"), far),
            Err(ReleaseTimeError::TooEarly)
        );
        let year_262142 = NaiveDate::from_ymd_opt(262142, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap()
            .and_utc();
        assert_eq!(
            auto_release_time(Some("2030-01-01T00:00:00Z"), year_262142),
            Err(ReleaseTimeError::TooEarly)
        );
        // Within the last half hour nothing is late enough.
        let now = t("9999-12-31T23:40:00Z");
        assert_eq!(
            auto_release_time(Some("9999-12-31T23:59:59Z"), now),
            Err(ReleaseTimeError::TooEarly)
        );
        // Less than three years before the end: the window ends at LATEST_TIME.
        let now = t("9998-01-01T00:00:00Z");
        assert_eq!(
            auto_release_time(Some("9999-12-31T23:59:30Z"), now),
            Ok(Some(t("9999-12-31T23:59:00Z")))
        );
        assert_eq!(checked_add(LATEST_TIME, Duration::seconds(1)), None);
        assert_eq!(checked_add(far, Duration::seconds(1)), None);
        assert_eq!(checked_add_months(now, 36), None);
        assert_eq!(
            checked_add(now, Duration::minutes(1)),
            Some(t("9998-01-01T00:01:00Z"))
        );
    }

    #[test]
    fn minute_format_drops_seconds() {
        assert_eq!(
            format_minute(t("2030-01-01T01:02:03Z")),
            "2030-01-01T01:02Z"
        );
        assert_eq!(format_minute_opt(None), "");
    }
}
