//! Property tests of the wire layer: the parameter parser, both signature canonicalizations
//! against an independent signer written here from the spec (§2.1, §3.2), and parsing +
//! verification of mutated SDK captures. The invariant throughout: never a panic, every
//! refusal an ECS error with a 4xx status.

mod common;

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use common::{secret_for, OwnedRequest, KEY_ID, SECRET};
use ecs_domain::ApiError;
use ecs_wire::encode::{encode_pairs, form_decode};
use ecs_wire::{codes, parse_request, parse_timestamp, verify_signature, Params};
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------------
// An independent signer: deliberately plain code, sharing nothing with the crate under test.

fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn sorted_query(pairs: &BTreeMap<String, String>) -> String {
    let mut items: Vec<(&String, &String)> = pairs.iter().collect();
    items.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    items
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn reference_v1_signature(method: &str, params: &BTreeMap<String, String>) -> String {
    let string_to_sign = format!("{method}&%2F&{}", pct(&sorted_query(params)));
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(format!("{SECRET}&").as_bytes()).unwrap();
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn reference_v3_authorization(
    method: &str,
    query: &BTreeMap<String, String>,
    headers: &BTreeMap<String, String>,
    body: &[u8],
) -> String {
    let names: Vec<&str> = headers.keys().map(String::as_str).collect();
    let mut canonical_headers = String::new();
    for (k, v) in headers {
        canonical_headers.push_str(&format!("{k}:{}\n", v.trim()));
    }
    let canonical = format!(
        "{method}\n/\n{}\n{canonical_headers}\n{}\n{}",
        sorted_query(query),
        names.join(";"),
        hex::encode(Sha256::digest(body))
    );
    let string_to_sign = format!(
        "ACS3-HMAC-SHA256\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(string_to_sign.as_bytes());
    format!(
        "ACS3-HMAC-SHA256 Credential={KEY_ID},SignedHeaders={},Signature={}",
        names.join(";"),
        hex::encode(mac.finalize().into_bytes())
    )
}

// ---------------------------------------------------------------------------------------------

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 14, 53, 38).unwrap()
}

fn assert_client_error(err: &ApiError) {
    assert!(
        (400..500).contains(&err.status) && !err.code.is_empty() && !err.message.is_empty(),
        "{err:?}"
    );
}

/// Parses and verifies; any refusal must be a 4xx ECS error.
fn outcome(req: &OwnedRequest, at: DateTime<Utc>) -> Result<(), ApiError> {
    let http = req.http();
    let _ = ecs_wire::error_format(&http);
    let result = parse_request(&http).and_then(|rpc| {
        let _ = rpc.check_version();
        verify_signature(&rpc, &http, at, &secret_for).map(|_| ())
    });
    if let Err(e) = &result {
        assert_client_error(e);
    }
    result
}

/// Names the common parameters use, which the generated business parameters must avoid.
const RESERVED: &[&str] = &[
    "AccessKeyId",
    "Action",
    "Version",
    "Format",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
];

/// Business parameters: names without dots (list names have their own strict rules, tested
/// in params.rs) and any value at all.
fn business_params() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map("[A-Za-z][A-Za-z0-9_~-]{0,12}", any::<String>(), 1..8).prop_map(
        |mut m| {
            m.retain(|k, _| !RESERVED.contains(&k.as_str()));
            m
        },
    )
}

fn v1_common(extra: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut p = common::v1_params(now(), &[]);
    p.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    p
}

fn v1_request(method: &str, params: &BTreeMap<String, String>) -> OwnedRequest {
    let mut query = sorted_query(params);
    query.push_str("&Signature=");
    query.push_str(&pct(&reference_v1_signature(method, params)));
    let mut req = OwnedRequest::new(method);
    req.query = Some(query);
    req
}

fn v3_headers(extra: &BTreeMap<String, String>, body: &[u8]) -> BTreeMap<String, String> {
    let mut h: BTreeMap<String, String> = extra.clone();
    for (k, v) in [
        ("host", "127.0.0.1:8080"),
        ("x-acs-action", "DescribeInstances"),
        ("x-acs-version", "2014-05-26"),
        ("x-acs-signature-nonce", "0123456789abcdef"),
    ] {
        h.insert(k.to_string(), v.to_string());
    }
    h.insert("x-acs-date".into(), ecs_wire::format_timestamp(now()));
    h.insert(
        "x-acs-content-sha256".into(),
        hex::encode(Sha256::digest(body)),
    );
    h
}

fn v3_request(
    query: &BTreeMap<String, String>,
    headers: &BTreeMap<String, String>,
    body: &[u8],
) -> OwnedRequest {
    let mut req = OwnedRequest::new("POST");
    req.headers = headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    req.headers.push((
        "authorization".into(),
        reference_v3_authorization("POST", query, headers, body),
    ));
    req.query = Some(sorted_query(query));
    req.body = body.to_vec();
    req
}

/// Extra headers a client might sign: lower-case names, printable values.
fn extra_headers() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map("x-[a-z]{1,8}|accept|user-agent", "[ -~]{0,24}", 0..4)
}

// ---------------------------------------------------------------------------------------------
// SDK captures, mutated.

struct Capture {
    req: OwnedRequest,
    at: DateTime<Utc>,
}

fn captures() -> Vec<Capture> {
    common::fixture_file("sdk-requests.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let raw: serde_json::Value = serde_json::from_str(line).unwrap();
            let headers: Vec<(String, String)> = raw["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    (
                        h[0].as_str().unwrap().to_ascii_lowercase(),
                        h[1].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            let body = match raw["body_b64"].as_str() {
                Some(b) => base64::engine::general_purpose::STANDARD.decode(b).unwrap(),
                None => raw["body"].as_str().unwrap_or("").as_bytes().to_vec(),
            };
            let req = OwnedRequest {
                method: raw["method"].as_str().unwrap().to_string(),
                path: raw["path"].as_str().unwrap().to_string(),
                query: raw["query_string"]
                    .as_str()
                    .filter(|q| !q.is_empty())
                    .map(str::to_string),
                headers,
                body,
            };
            let http = req.http();
            let at = parse_request(&http).expect("capture parses").timestamp;
            Capture { req, at }
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    QueryByte(usize, u8),
    BodyByte(usize, u8),
    QueryCut(usize),
    QueryAppend(String),
    HeaderValue(usize, String),
    HeaderDrop(usize),
    HeaderAdd(String, String),
    Method(String),
    Path(String),
    Clock(i64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::QueryByte(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::BodyByte(i, b)),
        any::<usize>().prop_map(Mutation::QueryCut),
        "[&=.%+A-Za-z0-9]{0,30}".prop_map(Mutation::QueryAppend),
        (any::<usize>(), any::<String>()).prop_map(|(i, v)| Mutation::HeaderValue(i, v)),
        any::<usize>().prop_map(Mutation::HeaderDrop),
        ("[a-zA-Z-]{1,24}", any::<String>()).prop_map(|(k, v)| Mutation::HeaderAdd(k, v)),
        "GET|POST|get|PUT|".prop_map(Mutation::Method),
        "/|//|/x|".prop_map(Mutation::Path),
        any::<i64>().prop_map(Mutation::Clock),
    ]
}

/// Applies a mutation; returns the clock to verify at.
fn apply(req: &mut OwnedRequest, m: &Mutation, at: DateTime<Utc>) -> DateTime<Utc> {
    let byte = |bytes: &mut Vec<u8>, i: usize, b: u8| {
        if !bytes.is_empty() {
            let n = bytes.len();
            bytes[i % n] = b;
        }
    };
    match m {
        Mutation::QueryByte(i, b) => {
            let mut q = req.query.take().unwrap_or_default().into_bytes();
            byte(&mut q, *i, *b);
            req.query = Some(String::from_utf8_lossy(&q).into_owned());
        }
        Mutation::BodyByte(i, b) => byte(&mut req.body, *i, *b),
        Mutation::QueryCut(i) => {
            if let Some(q) = req.query.as_mut() {
                let mut cut = i % (q.len() + 1);
                while !q.is_char_boundary(cut) {
                    cut -= 1;
                }
                q.truncate(cut);
            }
        }
        Mutation::QueryAppend(s) => {
            req.query = Some(format!("{}{s}", req.query.as_deref().unwrap_or("")));
        }
        Mutation::HeaderValue(i, v) => {
            let n = req.headers.len();
            if n > 0 {
                req.headers[i % n].1 = v.clone();
            }
        }
        Mutation::HeaderDrop(i) => {
            let n = req.headers.len();
            if n > 0 {
                req.headers.remove(i % n);
            }
        }
        Mutation::HeaderAdd(k, v) => req.headers.push((k.to_ascii_lowercase(), v.clone())),
        Mutation::Method(m) => req.method = m.clone(),
        Mutation::Path(p) => req.path = p.clone(),
        Mutation::Clock(s) => {
            return DateTime::<Utc>::from_timestamp(s % 400_000_000_000, 0).unwrap_or(at)
        }
    }
    at
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any query string and form body: no panic, refusals are 4xx.
    #[test]
    fn parser_never_panics(
        method in "GET|POST|HEAD|[A-Z]{0,6}",
        query in proptest::option::of(any::<String>()),
        body in prop::collection::vec(any::<u8>(), 0..200),
        form in any::<bool>(),
        auth in proptest::option::of("ACS3-HMAC-SHA256 [ -~]{0,80}"),
    ) {
        let mut req = OwnedRequest::new(&method);
        req.query = query;
        req.body = body;
        if form {
            req.set_header("content-type", "application/x-www-form-urlencoded");
        }
        if let Some(a) = auth {
            req.set_header("authorization", &a);
        }
        let _ = outcome(&req, now());
    }

    /// Query-shaped input built from arbitrary pairs (including list names and common params).
    #[test]
    fn parser_never_panics_on_pair_soup(
        pairs in prop::collection::vec(
            ("Signature|AccessKeyId|Timestamp|SignatureNonce|SignatureMethod|SignatureVersion|Format|Action|Version|InstanceId(\\.[-+0-9]{0,12})?|Tag\\.[-0-9a-z]{0,4}\\.(Key|Value)|[A-Za-z.]{0,10}",
             any::<String>()),
            0..12),
    ) {
        let req = {
            let mut r = OwnedRequest::new("GET");
            r.query = Some(encode_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
            r
        };
        let _ = outcome(&req, now());
    }

    /// encode then decode gives the pairs back; a map of unique names survives `Params`.
    #[test]
    fn encoding_round_trips(map in prop::collection::btree_map(any::<String>(), any::<String>(), 0..10)) {
        let encoded = encode_pairs(map.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let decoded = form_decode(encoded.as_bytes());
        let expected: Vec<(String, String)> = map.clone().into_iter().collect();
        prop_assert_eq!(&decoded, &expected);
        let params = Params::from_pairs(decoded).unwrap();
        prop_assert_eq!(params.into_map(), map);
    }

    /// The crate's V1 canonicalization agrees with the independent signer: what it signs
    /// verifies, and changing any signed parameter (value, name) or the method fails.
    #[test]
    fn v1_independent_signer_verifies_and_mutations_fail(
        extra in business_params(),
        post in any::<bool>(),
        pick in any::<prop::sample::Index>(),
        rename in any::<bool>(),
    ) {
        let method = if post { "POST" } else { "GET" };
        let params = v1_common(&extra);
        prop_assert_eq!(
            ecs_wire::sign_v1(method, &params, SECRET),
            reference_v1_signature(method, &params)
        );
        let req = v1_request(method, &params);
        outcome(&req, now()).unwrap();

        // Mutate one signed parameter (the common ones included) but keep the old signature.
        let names: Vec<&String> = params.keys().collect();
        let name = names[pick.index(names.len())].clone();
        let mut changed = params.clone();
        let value = changed.remove(&name).unwrap();
        if rename {
            changed.insert(format!("{name}2"), value);
        } else {
            changed.insert(name.clone(), format!("{value}x"));
        }
        let mut bad = OwnedRequest::new(method);
        bad.query = Some(format!(
            "{}&Signature={}",
            sorted_query(&changed),
            pct(&reference_v1_signature(method, &params))
        ));
        prop_assert!(outcome(&bad, now()).is_err(), "{} changed", name);

        let mut other = req.clone();
        other.method = if post { "GET".into() } else { "POST".into() };
        let err = outcome(&other, now()).unwrap_err();
        prop_assert!(err.is(&codes::SIGNATURE_DOES_NOT_MATCH));
    }

    /// Same for V3: the independent canonical request verifies; any change to a signed header
    /// value, a query parameter or the body fails.
    #[test]
    fn v3_independent_signer_verifies_and_mutations_fail(
        query in business_params(),
        headers in extra_headers(),
        body in prop::collection::vec(any::<u8>(), 0..64),
        pick in any::<prop::sample::Index>(),
        pick_query in any::<prop::sample::Index>(),
    ) {
        let signed = v3_headers(&headers, &body);
        let req = v3_request(&query, &signed, &body);
        outcome(&req, now()).unwrap();

        // A signed header changed after signing.
        let names: Vec<&String> = signed.keys().collect();
        let name = names[pick.index(names.len())].clone();
        let mut bad = req.clone();
        for (k, v) in bad.headers.iter_mut() {
            if *k == name {
                v.push('x');
            }
        }
        prop_assert!(outcome(&bad, now()).is_err(), "{} changed", name);

        // A query parameter changed.
        let keys: Vec<&String> = query.keys().collect();
        if !keys.is_empty() {
            let key = keys[pick_query.index(keys.len())].clone();
            let mut changed = query.clone();
            changed.get_mut(&key).unwrap().push('x');
            let mut bad = req.clone();
            bad.query = Some(sorted_query(&changed));
            let err = outcome(&bad, now()).unwrap_err();
            prop_assert!(err.is(&codes::SIGNATURE_DOES_NOT_MATCH));
        }

        // The body changed (its declared hash no longer matches).
        let mut bad = req.clone();
        bad.body.push(0);
        let err = outcome(&bad, now()).unwrap_err();
        prop_assert!(err.is(&codes::SIGNATURE_DOES_NOT_MATCH));

        // An extra unsigned x-acs-* header is refused before verification (a second value of a
        // signed one is covered by the list, and then breaks the signature instead).
        let bad = req.clone().header("x-acs-security-token", "stolen");
        prop_assert!(outcome(&bad, now()).unwrap_err().is(&codes::INCOMPLETE_SIGNATURE));
        let bad = req.clone().header("x-acs-action", "DeleteInstance");
        prop_assert!(outcome(&bad, now()).unwrap_err().is(&codes::SIGNATURE_DOES_NOT_MATCH));
        }

    /// Every SDK capture, mutated up to three times: never a panic, refusals are 4xx.
    #[test]
    fn mutated_captures_never_panic(
        pick in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let all = captures();
        let capture = &all[pick.index(all.len())];
        let mut req = capture.req.clone();
        let mut at = capture.at;
        for m in &mutations {
            at = apply(&mut req, m, at);
        }
        let _ = outcome(&req, at);
    }

    /// Request timestamps: whatever parses is exactly what formats back.
    #[test]
    fn timestamps_round_trip(s in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z") {
        if let Some(t) = parse_timestamp(&s) {
            prop_assert_eq!(ecs_wire::format_timestamp(t), s);
        }
    }

    /// A fraction of 1 to 9 digits adds exactly its value to the whole second it follows, and
    /// the whole second alone parses exactly when the fractional form does.
    #[test]
    fn fractional_timestamps_add_their_fraction(
        s in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}",
        digits in "[0-9]{1,9}",
    ) {
        let whole = parse_timestamp(&format!("{s}Z"));
        let fractional = parse_timestamp(&format!("{s}.{digits}Z"));
        prop_assert_eq!(whole.is_some(), fractional.is_some());
        if let (Some(w), Some(f)) = (whole, fractional) {
            let padded = format!("{digits:0<9}");
            let nanos: i64 = padded.parse().unwrap();
            prop_assert_eq!(f - w, chrono::TimeDelta::nanoseconds(nanos));
            prop_assert_eq!(ecs_wire::format_timestamp(f), format!("{s}Z"));
        }
    }

    /// Anything after the seconds other than `Z` or `.digits Z` is refused.
    #[test]
    fn timestamps_with_other_tails_are_refused(tail in "[^Z]{1,12}") {
        prop_assume!(!(tail.starts_with('.')
            && tail.len() <= 10
            && tail.len() >= 2
            && tail[1..].bytes().all(|b| b.is_ascii_digit())));
        let raw = format!("2026-11-25T14:53:38{tail}");
        prop_assert_eq!(parse_timestamp(&raw), None);
        let raw_z = format!("2026-11-25T14:53:38{tail}Z");
        let fraction_ok = tail.len() >= 2 && tail.len() <= 10 && tail.starts_with('.')
            && tail[1..].bytes().all(|b| b.is_ascii_digit());
        prop_assert_eq!(parse_timestamp(&raw_z).is_some(), fraction_ok);
    }
}
