//! V3 round trip: fuzzer-chosen query, headers and body, signed by `authorization_v3` over all
//! headers, verify (unless parsing refuses them); a changed body or query parameter fails.
#![no_main]

#[path = "common.rs"]
mod common;

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let raw = common::Input::parse(data);
    // Also the plain parser on the raw shape, Authorization and all.
    common::parse_and_verify(&raw);

    let now = Utc.with_ymd_and_hms(2026, 11, 25, 14, 53, 38).unwrap();
    let query_pairs = ecs_wire::encode::form_decode(raw.query.as_deref().unwrap_or("").as_bytes());
    let query: BTreeMap<String, String> = query_pairs.iter().cloned().collect();
    let mut headers: Vec<(String, String)> = raw
        .headers
        .into_iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "authorization" | "x-acs-date" | "x-acs-content-sha256" | "x-acs-signature-nonce"
            )
        })
        .collect();
    headers.push(("x-acs-date".into(), ecs_wire::format_timestamp(now)));
    headers.push(("x-acs-signature-nonce".into(), "n".into()));
    headers.push(("x-acs-content-sha256".into(), ecs_wire::content_sha256(&raw.body)));
    if !headers.iter().any(|(k, _)| k == "host") {
        headers.push(("host".into(), "ecs.aliyuncs.com".into()));
    }
    let method = if raw.method.eq_ignore_ascii_case("GET") { "GET" } else { "POST" };
    let auth = ecs_wire::authorization_v3(
        common::KEY_ID, method, "/", &query, &headers, &raw.body, common::SECRET,
    );
    headers.push(("authorization".into(), auth));
    let signed = common::Input {
        method: method.to_string(),
        path: "/".to_string(),
        query: Some(ecs_wire::encode::encode_pairs(
            query_pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )),
        headers,
        body: raw.body,
    };
    let http = signed.http();
    let accepted = match ecs_wire::parse_request(&http) {
        Ok(rpc) => {
            // Several values of one header are joined by the signer and verifier alike, but
            // the parser reads the first for date/nonce; either way it must not panic.
            match ecs_wire::verify_signature(&rpc, &http, now, &common::secret_for) {
                Ok(_) => true,
                Err(e) => {
                    common::assert_client_error(&e);
                    false
                }
            }
        }
        Err(e) => {
            common::assert_client_error(&e);
            false
        }
    };
    if accepted {
        let mut body = signed.body.clone();
        body.push(b'x');
        let tampered = common::Input { body, ..signed };
        assert!(!common::parse_and_verify(&tampered), "changed body accepted");
    }
});
