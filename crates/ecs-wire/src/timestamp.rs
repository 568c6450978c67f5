//! The request timestamp format: UTC `yyyy-MM-ddTHH:mm:ssZ`, no fractions, no offsets
//! (V1 `Timestamp` parameter and V3 `x-acs-date` header alike).

use chrono::{DateTime, NaiveDateTime, Utc};

const FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// Parses a request timestamp, accepting only the exact shape the SDKs send. chrono alone is
/// more lenient (signs, short fields), so the layout is checked byte by byte first.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() != 20 {
        return None;
    }
    let layout_ok = b.iter().enumerate().all(|(i, &c)| match i {
        4 | 7 => c == b'-',
        10 => c == b'T',
        13 | 16 => c == b':',
        19 => c == b'Z',
        _ => c.is_ascii_digit(),
    });
    if !layout_ok {
        return None;
    }
    NaiveDateTime::parse_from_str(s, FORMAT)
        .ok()
        .map(|t| t.and_utc())
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
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
