//! Time formats on the wire and the auto-release window.

use chrono::{DateTime, Duration, Months, NaiveDateTime, TimeZone, Timelike, Utc};

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

/// Parses a request time, `yyyy-MM-ddTHH:mm:ssZ`, UTC only. Anything else is malformed.
pub fn parse_utc_second(raw: &str) -> Option<DateTime<Utc>> {
    // chrono accepts some looser shapes with %S; insist on the exact length first.
    if raw.len() != 20 || !raw.ends_with('Z') {
        return None;
    }
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%SZ")
        .ok()
        .map(|n| Utc.from_utc_datetime(&n))
}

/// Parses a time given by the minute, `yyyy-MM-ddTHH:mmZ` (how ECS shows times and how
/// DescribeInstances' `Filter.N.Value` is documented), or by the second as in other requests.
pub fn parse_utc_minute_or_second(raw: &str) -> Option<DateTime<Utc>> {
    if raw.len() == 17 && raw.ends_with('Z') {
        return NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%MZ")
            .ok()
            .map(|n| Utc.from_utc_datetime(&n));
    }
    parse_utc_second(raw)
}

pub fn truncate_to_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .expect("second 0 is always valid")
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
    let earliest = now
        .checked_add_signed(MIN_RELEASE_LEAD)
        .ok_or(ReleaseTimeError::TooLate)?;
    if at < earliest {
        return Err(ReleaseTimeError::TooEarly);
    }
    let latest = now
        .checked_add_months(Months::new(MAX_RELEASE_MONTHS))
        .ok_or(ReleaseTimeError::TooLate)?;
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

    #[test]
    fn minute_format_drops_seconds() {
        assert_eq!(
            format_minute(t("2030-01-01T01:02:03Z")),
            "2030-01-01T01:02Z"
        );
        assert_eq!(format_minute_opt(None), "");
    }
}
