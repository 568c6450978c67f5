//! V1 round trip: whatever parameters the fuzzer chooses, once signed by `signed_query_v1` the
//! request verifies (unless parsing refuses the parameters themselves), and a one-byte change
//! to the signed query makes it fail with a 4xx error — never a panic.
#![no_main]

#[path = "common.rs"]
mod common;

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (method, rest) = match data.split_first() {
        Some((b, rest)) if b % 2 == 0 => ("GET", rest),
        Some((_, rest)) => ("POST", rest),
        None => ("GET", data),
    };
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 14, 53, 38).unwrap();
    let mut params: BTreeMap<String, String> = ecs_wire::encode::form_decode(rest)
        .into_iter()
        .filter(|(k, _)| k != "Signature")
        .collect();
    for (k, v) in [
        ("AccessKeyId", common::KEY_ID),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", "n"),
    ] {
        params.insert(k.to_string(), v.to_string());
    }
    params.insert("Timestamp".to_string(), ecs_wire::format_timestamp(now));
    params.remove("Format");
    let query = ecs_wire::signed_query_v1(method, &params, common::SECRET);
    let input = common::Input {
        method: method.to_string(),
        path: "/".to_string(),
        query: Some(query.clone()),
        headers: vec![("host".to_string(), "ecs.aliyuncs.com".to_string())],
        body: Vec::new(),
    };
    let http = input.http();
    match ecs_wire::parse_request(&http) {
        Ok(rpc) => {
            ecs_wire::verify_signature(&rpc, &http, now, &common::secret_for)
                .expect("a request signed by signed_query_v1 verifies");
        }
        Err(e) => common::assert_client_error(&e),
    }
    // Tampering: append a parameter the client did not sign.
    let tampered = common::Input {
        query: Some(format!("{query}&Zz=1")),
        ..input
    };
    assert!(!common::parse_and_verify(&tampered) || params.contains_key("Zz"));
});
