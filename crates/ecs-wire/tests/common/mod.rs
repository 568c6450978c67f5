//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use ecs_domain::ApiError;
use ecs_wire::{
    format_timestamp, parse_request, signed_query_v1, verify_signature, Caller, HttpRequest,
};

pub const KEY_ID: &str = "testid";
pub const SECRET: &str = "testsecret";

/// A test fixture kept in `tests/fixtures/` of this crate, so a clone of the repository alone
/// can run the tests. Fails loudly if it is missing rather than skipping the test.
///
/// `sdk-requests.jsonl` holds requests captured from the official SDKs and
/// `signature-vectors.json` the V1/V3 vectors cross-checked against their signers; both are
/// copies of the project's reference material, which is not part of the repository.
pub fn fixture_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {} ({e})", path.display()))
}

pub fn secret_for(id: &str) -> Option<String> {
    (id == KEY_ID).then(|| SECRET.to_string())
}

/// An owned HTTP request, so tests can build and then mutate requests.
#[derive(Debug, Clone)]
pub struct OwnedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl OwnedRequest {
    pub fn new(method: &str) -> Self {
        Self {
            method: method.to_string(),
            path: "/".to_string(),
            query: None,
            headers: vec![("host".to_string(), "ecs.aliyuncs.com".to_string())],
            body: Vec::new(),
        }
    }

    pub fn http(&self) -> HttpRequest<'_> {
        HttpRequest {
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
            body: &self.body,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(k, _)| k != name);
        self.headers.push((name.to_string(), value.to_string()));
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(k, _)| k != name);
    }

    /// Parses and verifies with the test key at `now`.
    pub fn check(&self, now: DateTime<Utc>) -> Result<Caller, ApiError> {
        let http = self.http();
        let rpc = parse_request(&http)?;
        verify_signature(&rpc, &http, now, &secret_for)
    }
}

/// The common V1 parameters plus `extra`, stamped at `ts`.
pub fn v1_params(ts: DateTime<Utc>, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut p: BTreeMap<String, String> = [
        ("AccessKeyId", KEY_ID),
        ("Action", "DescribeInstances"),
        ("Version", "2014-05-26"),
        ("Format", "JSON"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", "0123456789abcdef0123456789abcdef"),
        ("RegionId", "cn-hangzhou"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    p.insert("Timestamp".to_string(), format_timestamp(ts));
    for (k, v) in extra {
        p.insert(k.to_string(), v.to_string());
    }
    p
}

/// A V1 GET with everything (signature included) in the query.
pub fn v1_get(params: &BTreeMap<String, String>) -> OwnedRequest {
    let mut req = OwnedRequest::new("GET");
    req.query = Some(signed_query_v1("GET", params, SECRET));
    req
}

/// A V1 POST with everything in a form body, as pop-core sends it.
pub fn v1_form_post(params: &BTreeMap<String, String>) -> OwnedRequest {
    let mut req =
        OwnedRequest::new("POST").header("content-type", "application/x-www-form-urlencoded");
    req.body = signed_query_v1("POST", params, SECRET).into_bytes();
    req
}
