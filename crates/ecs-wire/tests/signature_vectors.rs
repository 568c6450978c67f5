//! The vectors of tests/fixtures/signature-vectors.json (cross-checked against the official Python
//! and Node signers) reproduce with the client-side functions and verify on the server side.

mod common;

use std::collections::BTreeMap;

use common::{secret_for, OwnedRequest, KEY_ID};
use ecs_wire::encode::encode_pairs;
use ecs_wire::signature::v1::canonicalized_query_v1;
use ecs_wire::signature::v3::{canonical_headers_v3, canonical_request_v3, signature_v3};
use ecs_wire::{
    authorization_v3, content_sha256, parse_request, parse_timestamp, percent_encode, sign_v1,
    sign_v3, signed_query_v1, string_to_sign_v1, string_to_sign_v3, verify_signature, Auth,
};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(&common::fixture_file("signature-vectors.json"))
        .expect("signature-vectors.json is JSON")
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .expect("object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string value").to_string()))
        .collect()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("vector field {key}"))
}

#[test]
fn percent_encoding_vectors() {
    let all = vectors();
    let cases = all["percent_encoding"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        assert_eq!(percent_encode(s(case, "in")), s(case, "out"), "{case}");
    }
}

#[test]
fn v1_vectors_sign_and_verify() {
    let all = vectors();
    let cases = all["v1"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let name = s(case, "name");
        let method = s(case, "method");
        let secret = s(case, "access_key_secret");
        let params = string_map(&case["params"]);

        assert_eq!(
            canonicalized_query_v1(&params),
            s(case, "canonicalized_query"),
            "{name}"
        );
        assert_eq!(
            string_to_sign_v1(method, &params),
            s(case, "string_to_sign"),
            "{name}"
        );
        assert_eq!(
            sign_v1(method, &params, secret),
            s(case, "signature"),
            "{name}"
        );

        // Server side, with the parameters in the query and (for POST) in a form body.
        let now = parse_timestamp(&params["Timestamp"]).unwrap();
        let mut in_query = OwnedRequest::new(method);
        in_query.query = Some(signed_query_v1(method, &params, secret));
        let mut requests = vec![in_query];
        if method == "POST" {
            let mut in_body = OwnedRequest::new("POST")
                .header("content-type", "application/x-www-form-urlencoded");
            in_body.body = signed_query_v1(method, &params, secret).into_bytes();
            requests.push(in_body);
        }
        for req in requests {
            let http = req.http();
            let rpc = parse_request(&http).unwrap_or_else(|e| panic!("{name}: {e}"));
            match &rpc.auth {
                Auth::V1 { signature, .. } => assert_eq!(signature, s(case, "signature")),
                other => panic!("{name}: expected V1, got {other:?}"),
            }
            let caller = verify_signature(&rpc, &http, now, &secret_for)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(caller.access_key_id, KEY_ID);
            assert_eq!(caller.nonce, params["SignatureNonce"]);
            assert_eq!(
                rpc.security_token.as_deref(),
                params.get("SecurityToken").map(String::as_str),
                "{name}"
            );
        }
    }
}

#[test]
fn v3_vectors_sign_and_verify() {
    let all = vectors();
    let secret = s(&all["meta"], "access_key_secret");
    let cases = all["v3"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let name = s(case, "name");
        let method = s(case, "method");
        let path = s(case, "path");
        let body = s(case, "body").as_bytes();
        let query = string_map(&case["query"]);
        let mut headers: Vec<(String, String)> = string_map(&case["headers_before_signing"])
            .into_iter()
            .collect();
        assert_eq!(
            content_sha256(body),
            s(case, "x-acs-content-sha256"),
            "{name}"
        );
        headers.push(("x-acs-content-sha256".to_string(), content_sha256(body)));

        let signed: Vec<String> = s(case, "signed_headers")
            .split(';')
            .map(str::to_string)
            .collect();
        assert_eq!(
            canonical_headers_v3(&headers, &signed),
            s(case, "canonical_headers")
        );
        let canonical = canonical_request_v3(
            method,
            path,
            &query,
            &headers,
            &signed,
            &content_sha256(body),
        );
        assert_eq!(canonical, s(case, "canonical_request"), "{name}");
        let sts = string_to_sign_v3(&canonical);
        assert_eq!(sts, s(case, "string_to_sign"), "{name}");
        assert_eq!(signature_v3(&sts, secret), s(case, "signature"), "{name}");

        // The vectors sign every header they set, which is what sign_v3 does.
        assert_eq!(
            sign_v3(method, path, &query, &headers, body, secret),
            s(case, "signature")
        );
        let authorization = authorization_v3(KEY_ID, method, path, &query, &headers, body, secret);
        assert_eq!(authorization, s(case, "authorization"), "{name}");

        // Server side, once with %20 for spaces and once with '+' as Python Tea writes them.
        let encoded = encode_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        for wire_query in [encoded.clone(), encoded.replace("%20", "+")] {
            let mut req = OwnedRequest::new(method);
            req.path = path.to_string();
            req.query = (!wire_query.is_empty()).then_some(wire_query);
            req.headers = headers.clone();
            req.headers
                .push(("authorization".to_string(), authorization.clone()));
            req.body = body.to_vec();

            let now = parse_timestamp(s(&case["headers_before_signing"], "x-acs-date")).unwrap();
            let http = req.http();
            let rpc = parse_request(&http).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                rpc.action.as_deref(),
                Some(s(&case["headers_before_signing"], "x-acs-action"))
            );
            let caller = verify_signature(&rpc, &http, now, &secret_for)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(caller.access_key_id, KEY_ID);
            // A form body's fields join the parameters even though they are not in the query.
            for pair in form_urlencoded::parse(body) {
                assert_eq!(rpc.params.get(&pair.0), Some(pair.1.as_ref()), "{name}");
            }
        }
    }
}
