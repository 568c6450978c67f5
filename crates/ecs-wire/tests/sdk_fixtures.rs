//! Every request captured from the real SDKs (tests/fixtures/sdk-requests.jsonl) must parse and
//! verify; tampering with any of them must fail with a usable SignatureDoesNotMatch.

mod common;

use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use common::{secret_for, OwnedRequest};
use ecs_wire::codes;
use ecs_wire::{parse_request, parse_timestamp, verify_signature, Auth, Format};
use hmac::{Hmac, Mac};
use serde_json::Value;

struct Record {
    label: String,
    raw: Value,
    req: OwnedRequest,
}

impl Record {
    fn str(&self, key: &str) -> &str {
        self.raw[key].as_str().unwrap_or_default()
    }

    fn is_v3(&self) -> bool {
        self.req.headers.iter().any(|(k, _)| k == "authorization")
    }

    /// The record's own timestamp: the `Timestamp` parameter (V1, query or form body) or the
    /// `x-acs-date` header (V3), read straight from the wire data.
    fn own_timestamp(&self) -> DateTime<Utc> {
        let raw = if self.is_v3() {
            self.req
                .headers
                .iter()
                .find(|(k, _)| k == "x-acs-date")
                .map(|(_, v)| v.clone())
        } else {
            let query = self.req.query.clone().unwrap_or_default();
            form_urlencoded::parse(query.as_bytes())
                .chain(form_urlencoded::parse(&self.req.body))
                .find(|(k, _)| k == "Timestamp")
                .map(|(_, v)| v.into_owned())
        };
        let raw = raw.unwrap_or_else(|| panic!("{}: no timestamp", self.label));
        parse_timestamp(&raw).unwrap_or_else(|| panic!("{}: bad timestamp {raw}", self.label))
    }
}

fn records() -> Vec<Record> {
    let text = common::fixture_file("sdk-requests.jsonl");
    let records: Vec<Record> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let raw: Value = serde_json::from_str(line).expect("fixture line is JSON");
            let headers = raw["headers"]
                .as_array()
                .expect("headers")
                .iter()
                .map(|h| {
                    (
                        h[0].as_str().unwrap().to_ascii_lowercase(),
                        h[1].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            let body = match raw["body_b64"].as_str() {
                Some(b64) => base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .expect("body_b64"),
                None => raw["body"].as_str().unwrap_or_default().as_bytes().to_vec(),
            };
            let query = raw["query_string"]
                .as_str()
                .filter(|q| !q.is_empty())
                .map(str::to_string);
            let req = OwnedRequest {
                method: raw["method"].as_str().unwrap().to_string(),
                path: raw["path"].as_str().unwrap().to_string(),
                query,
                headers,
                body,
            };
            let label = format!(
                "line {} {} {}",
                i + 1,
                raw["sdk"].as_str().unwrap_or("?"),
                raw["scenario"].as_str().unwrap_or("?")
            );
            Record { label, raw, req }
        })
        .collect();
    assert!(
        records.len() >= 100,
        "expected the full capture, got {}",
        records.len()
    );
    records
}

#[test]
fn every_captured_request_parses_and_verifies() {
    for rec in records() {
        let http = rec.req.http();
        let rpc = parse_request(&http).unwrap_or_else(|e| panic!("{}: parse: {e}", rec.label));
        let now = rec.own_timestamp();
        let caller = verify_signature(&rpc, &http, now, &secret_for)
            .unwrap_or_else(|e| panic!("{}: verify: {e}", rec.label));

        assert_eq!(
            caller.access_key_id,
            rec.str("access_key_id"),
            "{}",
            rec.label
        );
        assert_eq!(caller.timestamp, now, "{}", rec.label);
        assert!(!caller.nonce.is_empty(), "{}", rec.label);
        assert_eq!(
            matches!(rpc.auth, Auth::V3 { .. }),
            rec.str("signature").starts_with("V3"),
            "{}",
            rec.label
        );

        // Every SDK sends x-acs-action / x-acs-version; V1 also has the parameters.
        let header_action = http.header("x-acs-action").expect("x-acs-action");
        assert_eq!(rpc.action().unwrap(), header_action, "{}", rec.label);
        rpc.check_version()
            .unwrap_or_else(|e| panic!("{}: version: {e}", rec.label));

        let expected_format = match rpc.params.get("Format") {
            Some(f) if f.eq_ignore_ascii_case("xml") => Format::Xml,
            _ => Format::Json,
        };
        assert_eq!(rpc.format, expected_format, "{}", rec.label);
        assert_eq!(rpc.host, http.header("host").unwrap(), "{}", rec.label);
    }
}

#[test]
fn an_added_parameter_breaks_every_signature() {
    for rec in records() {
        let mut req = rec.req.clone();
        req.query = Some(match req.query.take() {
            Some(q) => format!("{q}&Tampered=1"),
            None => "Tampered=1".to_string(),
        });
        let http = req.http();
        let rpc = parse_request(&http).unwrap_or_else(|e| panic!("{}: parse: {e}", rec.label));
        let err =
            verify_signature(&rpc, &http, rec.own_timestamp(), &secret_for).expect_err(&rec.label);
        assert!(
            err.is(&codes::SIGNATURE_DOES_NOT_MATCH),
            "{}: {err}",
            rec.label
        );
        assert_eq!(err.status, 400);
        let (prefix, sts) = err.message.split_once(':').expect("message has a ':'");
        assert_eq!(
            prefix,
            "Specified signature is not matched with our calculation. server string to sign is"
        );
        if rec.is_v3() {
            let (algo, digest) = sts.split_once('\n').expect("V3 string to sign");
            assert_eq!(algo, "ACS3-HMAC-SHA256");
            assert!(digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()));
        } else {
            assert!(
                sts.starts_with(&format!("{}&%2F&", rec.str("method"))),
                "{sts}"
            );
            // The new parameter is inside the (doubly encoded) canonical query.
            assert!(sts.contains("%26Tampered%3D1"), "{sts}");
            // Classic Python takes split(':')[1]: it must be the whole string to sign.
            assert_eq!(err.message.split(':').nth(1), Some(sts));
        }
    }
}

/// With a wrong secret the echoed string to sign must be exactly what the client signed: HMAC
/// of it under the real secret reproduces the client's signature. This is what lets the classic
/// Python SDK tell the user their secret is wrong.
#[test]
fn wrong_secret_echoes_the_clients_string_to_sign() {
    for rec in records() {
        let http = rec.req.http();
        let rpc = parse_request(&http).unwrap();
        let wrong = |_: &str| Some("not-the-secret".to_string());
        let err = verify_signature(&rpc, &http, rec.own_timestamp(), &wrong).expect_err(&rec.label);
        assert!(err.is(&codes::SIGNATURE_DOES_NOT_MATCH), "{}", rec.label);
        let (_, sts) = err.message.split_once(':').unwrap();
        match &rpc.auth {
            Auth::V1 { signature, .. } => {
                let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"testsecret&").unwrap();
                mac.update(sts.as_bytes());
                let ours =
                    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
                assert_eq!(&ours, signature, "{}", rec.label);
            }
            Auth::V3 { signature, .. } => {
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"testsecret").unwrap();
                mac.update(sts.as_bytes());
                assert_eq!(
                    &hex::encode(mac.finalize().into_bytes()),
                    signature,
                    "{}",
                    rec.label
                );
            }
        }
    }
}

#[test]
fn a_changed_nonce_breaks_every_signature() {
    for rec in records() {
        let mut req = rec.req.clone();
        if rec.is_v3() {
            let nonce = req
                .http()
                .header("x-acs-signature-nonce")
                .unwrap()
                .to_string();
            req.set_header("x-acs-signature-nonce", &format!("{nonce}0"));
        } else if req
            .query
            .as_deref()
            .is_some_and(|q| q.contains("SignatureNonce="))
        {
            req.query = req
                .query
                .map(|q| q.replace("SignatureNonce=", "SignatureNonce=0"));
        } else {
            let body = String::from_utf8(req.body).unwrap();
            req.body = body
                .replace("SignatureNonce=", "SignatureNonce=0")
                .into_bytes();
        }
        let err = req.check(rec.own_timestamp()).expect_err(&rec.label);
        assert!(
            err.is(&codes::SIGNATURE_DOES_NOT_MATCH),
            "{}: {err}",
            rec.label
        );
    }
}

#[test]
fn v3_body_must_match_its_declared_hash() {
    for rec in records().into_iter().filter(Record::is_v3) {
        let mut req = rec.req.clone();
        req.body = b"InstanceId=i-other".to_vec();
        let err = req.check(rec.own_timestamp()).expect_err(&rec.label);
        assert!(
            err.is(&codes::SIGNATURE_DOES_NOT_MATCH),
            "{}: {err}",
            rec.label
        );
    }
}

#[test]
fn freshness_window_and_unknown_key() {
    let window = TimeDelta::minutes(15);
    for rec in records() {
        let ts = rec.own_timestamp();
        for ok in [ts - window, ts + window] {
            rec.req
                .check(ok)
                .unwrap_or_else(|e| panic!("{}: {e}", rec.label));
        }
        for late in [
            ts - window - TimeDelta::seconds(1),
            ts + window + TimeDelta::seconds(1),
        ] {
            let err = rec.req.check(late).expect_err(&rec.label);
            assert!(
                err.is(&codes::INVALID_TIMESTAMP_EXPIRED),
                "{}: {err}",
                rec.label
            );
        }
        let http = rec.req.http();
        let rpc = parse_request(&http).unwrap();
        let err = verify_signature(&rpc, &http, ts, &|_| None).expect_err(&rec.label);
        assert!(
            err.is(&codes::INVALID_ACCESS_KEY_ID_NOT_FOUND),
            "{}",
            rec.label
        );
        assert_eq!(
            (err.status, err.message.as_ref()),
            (404, "Specified access key is not found.")
        );
    }
}

/// Every captured V3 request signs `host` and every `x-acs-*` header it carries (so the strict
/// coverage rule costs the SDKs nothing), and dropping any of them from SignedHeaders — which is
/// what a client that left the header unsigned would send — is refused with IncompleteSignature
/// before the signature is even computed.
#[test]
fn v3_captures_sign_host_and_every_x_acs_header() {
    let v3: Vec<Record> = records().into_iter().filter(Record::is_v3).collect();
    assert!(!v3.is_empty());
    for rec in v3 {
        let authorization = rec.req.http().header("authorization").unwrap().to_string();
        let (head, rest) = authorization.split_once("SignedHeaders=").unwrap();
        let (list, tail) = rest.split_once(',').unwrap();
        let names: Vec<&str> = list.split(';').collect();
        let must: Vec<&str> = rec
            .req
            .headers
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| *k == "host" || k.starts_with("x-acs-"))
            .collect();
        for name in &must {
            assert!(names.contains(name), "{}: {name} unsigned", rec.label);
            let fewer: Vec<&str> = names.iter().copied().filter(|n| n != name).collect();
            let mut req = rec.req.clone();
            req.set_header(
                "authorization",
                &format!("{head}SignedHeaders={},{tail}", fewer.join(";")),
            );
            let err = parse_request(&req.http()).expect_err(&rec.label);
            assert!(
                err.is(&codes::INCOMPLETE_SIGNATURE),
                "{}: dropping {name}: {err}",
                rec.label
            );
        }
    }
}

/// The attack seen in the wild: an unsigned `x-acs-action` added to (or swapped into) a signed
/// request. Every captured V3 request with one more, unsigned, x-acs-* header is refused.
#[test]
fn v3_captures_with_an_extra_unsigned_x_acs_header_are_refused() {
    for rec in records().into_iter().filter(Record::is_v3) {
        for extra in ["x-acs-security-token", "x-acs-retry-attempts", "X-Acs-Foo"] {
            let req = rec.req.clone().header(extra, "1");
            let err = parse_request(&req.http()).expect_err(&rec.label);
            assert!(err.is(&codes::INCOMPLETE_SIGNATURE), "{}: {err}", rec.label);
        }
    }
}
