//! The auto-release rule and the time parsers never panic, for any clock and any input.
#![no_main]

use chrono::{DateTime, Utc};
use ecs_domain::time;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (secs, rest) = data.split_at(8);
    let secs = i64::from_le_bytes(secs.try_into().unwrap());
    let Some(now) = DateTime::<Utc>::from_timestamp(secs, 0) else {
        return;
    };
    let raw = String::from_utf8_lossy(rest);
    let _ = time::parse_utc_minute_or_second(&raw);
    if let Ok(Some(at)) = time::auto_release_time(Some(&raw), now) {
        assert!(at <= time::LATEST_TIME && at.timestamp() % 60 == 0);
        let _ = time::format_minute(at);
    }
});
