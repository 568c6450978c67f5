//! The request timestamp format: UTC `yyyy-MM-ddTHH:mm:ssZ`, no fractions, no offsets
//! (V1 `Timestamp` parameter and V3 `x-acs-date` header alike).

use chrono::{DateTime, Utc};

const FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// Parses a request timestamp, accepting only the exact shape the SDKs send with every field in
/// range (no leap second `:60`, which chrono alone would accept). The rule is the one request
/// times in operations follow, so it lives in one place: [`ecs_domain::time::parse_utc_second`].
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    ecs_domain::time::parse_utc_second(s)
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
    fn accepts_only_the_sdk_shape() {
        let t = Utc.with_ymd_and_hms(2024, 1, 1, 12, 0, 0).unwrap();
        assert_eq!(parse_timestamp("2024-01-01T12:00:00Z"), Some(t));
        assert_eq!(format_timestamp(t), "2024-01-01T12:00:00Z");
        for bad in [
            "",
            "2024-01-01T12:00Z",
            "2024-01-01T12:00:00.000Z",
            "2024-01-01T12:00:00+00:00",
            "2024-01-01 12:00:00Z",
            "2024-13-01T12:00:00Z",
            "2024-02-30T12:00:00Z",
            "+024-01-01T12:00:00Z",
            "2024-01-01T12:00:00z",
            // Regression: a leap second was accepted as a request time.
            "2024-01-01T12:00:60Z",
            "2024-01-01T24:00:00Z",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
