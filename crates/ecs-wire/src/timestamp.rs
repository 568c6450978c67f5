//! The request timestamp format: UTC `yyyy-MM-ddTHH:mm:ssZ`, optionally with a fraction of a
//! second (`2026-12-01T03:57:51.123Z`), no offsets (V1 `Timestamp` parameter and V3
//! `x-acs-date` header alike).

use chrono::{DateTime, Duration, Utc};

const FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// The most fraction digits accepted: nanoseconds, the finest any client library formats.
const MAX_FRACTION_DIGITS: usize = 9;

/// Parses a request timestamp. The whole seconds must have exactly the shape the SDKs send with
/// every field in range (no leap second `:60`, which chrono alone would accept); that rule is the
/// one request times in operations follow, so it lives in one place:
/// [`ecs_domain::time::parse_utc_second`]. On top of it the wire accepts a fraction of 1 to 9
/// digits before the `Z`, because JavaScript clients send `Date.toISOString()` (milliseconds)
/// and the real gateway takes it. The fraction is kept, so the 15-minute window is measured
/// from the instant the client meant.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let Some((seconds, fraction)) = s.split_once('.') else {
        return ecs_domain::time::parse_utc_second(s);
    };
    let digits = fraction.strip_suffix('Z')?;
    if digits.is_empty()
        || digits.len() > MAX_FRACTION_DIGITS
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // `seconds` has no `Z` of its own: the one ending the string belongs to the whole.
    if seconds.ends_with('Z') {
        return None;
    }
    let whole = ecs_domain::time::parse_utc_second(&format!("{seconds}Z"))?;
    // Scaled to nanoseconds: "5" is 500 ms, "123" 123 ms. At most 9 digits, so it fits in u32.
    let scale = 10u32.pow((MAX_FRACTION_DIGITS - digits.len()) as u32);
    let nanos = digits.parse::<u32>().ok()? * scale;
    whole.checked_add_signed(Duration::nanoseconds(i64::from(nanos)))
}

/// Formats a time the way the SDKs put it on the wire.
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    t.format(FORMAT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn accepts_the_sdk_shape() {
        let t = Utc.with_ymd_and_hms(2024, 1, 1, 12, 0, 0).unwrap();
        assert_eq!(parse_timestamp("2024-01-01T12:00:00Z"), Some(t));
        assert_eq!(format_timestamp(t), "2024-01-01T12:00:00Z");
    }

    /// Every fraction a real client sends: JavaScript's `toISOString()` (milliseconds), Java and
    /// .NET formatters (up to 7 digits), Go's `RFC3339Nano` (up to 9, trailing zeros dropped).
    #[test]
    fn accepts_fractional_seconds() {
        let base = Utc.with_ymd_and_hms(2026, 12, 1, 3, 57, 51).unwrap();
        for (raw, nanos) in [
            ("2026-12-01T03:57:51.123Z", 123_000_000),
            ("2026-12-01T03:57:51.000Z", 0),
            ("2026-12-01T03:57:51.5Z", 500_000_000),
            ("2026-12-01T03:57:51.12Z", 120_000_000),
            ("2026-12-01T03:57:51.123456Z", 123_456_000),
            ("2026-12-01T03:57:51.1234567Z", 123_456_700),
            ("2026-12-01T03:57:51.999999999Z", 999_999_999),
        ] {
            assert_eq!(
                parse_timestamp(raw),
                Some(base + Duration::nanoseconds(nanos)),
                "{raw}"
            );
        }
        // The last second of the day with a fraction stays on that day.
        assert_eq!(
            parse_timestamp("2024-12-31T23:59:59.999Z"),
            Some(
                Utc.with_ymd_and_hms(2024, 12, 31, 23, 59, 59).unwrap()
                    + Duration::milliseconds(999)
            )
        );
    }

    #[test]
    fn refuses_malformed_timestamps() {
        for bad in [
            "",
            "2024-01-01T12:00Z",
            "2024-01-01T12:00:00+00:00",
            "2024-01-01T12:00:00.123+00:00",
            "2024-01-01 12:00:00Z",
            "2024-13-01T12:00:00Z",
            "2024-02-30T12:00:00Z",
            "+024-01-01T12:00:00Z",
            "2024-01-01T12:00:00z",
            "2024-01-01T12:00:00.123z",
            "2024-01-01T12:00:00.123",
            // Regression: a leap second was accepted as a request time.
            "2024-01-01T12:00:60Z",
            "2024-01-01T12:00:60.5Z",
            "2024-01-01T24:00:00Z",
            // Fractions: empty, too long, not digits, signed, repeated, on the minute only.
            "2024-01-01T12:00:00.Z",
            "2024-01-01T12:00:00.1234567890Z",
            "2024-01-01T12:00:00.12aZ",
            "2024-01-01T12:00:00.-1Z",
            "2024-01-01T12:00:00.+1Z",
            "2024-01-01T12:00:00.1.2Z",
            "2024-01-01T12:00:00Z.123Z",
            "2024-01-01T12:00.123Z",
            "2024-01-01T12:00:00. 1Z",
            "2024-01-01T12:00:00.١٢٣Z",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
