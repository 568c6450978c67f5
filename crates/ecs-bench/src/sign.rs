//! Signed ECS RPC requests (V1, HMAC-SHA1), built with the project's own client-side signing
//! code, and EC2 Query requests for moto.
//!
//! Every ECS request gets a fresh `SignatureNonce` and the current real `Timestamp`, as an SDK
//! would send them: the server refuses a replayed nonce, so requests cannot be prepared ahead.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Utc;
use ecs_wire::{format_timestamp, percent_encode, signed_query_v1, API_VERSION};

use crate::http;

/// The credentials and address a signer needs.
#[derive(Debug, Clone)]
pub struct EcsClient {
    /// `host:port`, sent as the Host header.
    pub host: String,
    pub key_id: String,
    pub secret: String,
    /// Makes nonces unique across runs of the generator against one server.
    nonce_prefix: String,
    counter: std::sync::Arc<AtomicU64>,
}

impl EcsClient {
    pub fn new(host: impl Into<String>, key_id: &str, secret: &str) -> Self {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        EcsClient {
            host: host.into(),
            key_id: key_id.to_string(),
            secret: secret.to_string(),
            nonce_prefix: format!("bench-{}-{started:x}-", std::process::id()),
            counter: Default::default(),
        }
    }

    /// A nonce never used before by this process (and, through the prefix, by no other run).
    pub fn nonce(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{}{n}", self.nonce_prefix)
    }

    /// The signed query string for `action` with `params`, stamped now.
    pub fn signed_query(&self, action: &str, params: &[(&str, &str)]) -> String {
        let mut all: BTreeMap<String, String> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in [
            ("AccessKeyId", self.key_id.as_str()),
            ("Action", action),
            ("Version", API_VERSION),
            ("Format", "JSON"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
        ] {
            all.insert(k.to_string(), v.to_string());
        }
        all.insert("SignatureNonce".into(), self.nonce());
        all.insert("Timestamp".into(), format_timestamp(Utc::now()));
        signed_query_v1("GET", &all, &self.secret)
    }

    /// A complete signed `GET /?…` request.
    pub fn request(&self, action: &str, params: &[(&str, &str)]) -> Vec<u8> {
        let query = self.signed_query(action, params);
        http::get(&self.host, &format!("/?{query}"), &[])
    }
}

/// An `Authorization` header in SigV4's shape for service `ec2` in us-east-1. Moto's server reads
/// the service and region from the credential scope and, by default, does not verify the
/// signature, so a fixed header is enough; the signature part is a placeholder.
pub const EC2_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 \
     Credential=AKIDBENCHMARK/20240101/us-east-1/ec2/aws4_request, \
     SignedHeaders=content-type;host;x-amz-date, \
     Signature=0000000000000000000000000000000000000000000000000000000000000000";

/// An EC2 Query API call (`Version=2016-11-15`) as a form POST to `/`.
pub fn ec2_request(host: &str, action: &str, params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = format!("Action={action}&Version=2016-11-15");
    for (k, v) in params {
        body.push('&');
        body.push_str(&percent_encode(k));
        body.push('=');
        body.push_str(&percent_encode(v));
    }
    let date = Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    http::with_body(
        "POST",
        host,
        "/",
        &[
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("X-Amz-Date", &date),
            ("Authorization", EC2_AUTHORIZATION),
        ],
        body.as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecs_wire::{parse_request, verify_signature, HttpRequest};

    fn query_of(request: &[u8]) -> String {
        let text = std::str::from_utf8(request).unwrap();
        let line = text.lines().next().unwrap();
        let target = line.split(' ').nth(1).unwrap();
        target.strip_prefix("/?").unwrap().to_string()
    }

    #[test]
    fn requests_verify_with_the_servers_own_check_and_never_reuse_a_nonce() {
        let client = EcsClient::new("127.0.0.1:1", "benchid", "benchsecret");
        let headers = vec![("host".to_string(), "127.0.0.1:1".to_string())];
        let mut nonces = std::collections::HashSet::new();
        for _ in 0..3 {
            let query = query_of(&client.request(
                "DescribeInstances",
                &[("RegionId", "cn-hangzhou"), ("InstanceIds", "[\"i-1\"]")],
            ));
            let http = HttpRequest {
                method: "GET",
                path: "/",
                query: Some(&query),
                headers: &headers,
                body: b"",
            };
            let rpc = parse_request(&http).unwrap();
            let secrets = |id: &str| (id == "benchid").then(|| "benchsecret".to_string());
            let caller = verify_signature(&rpc, &http, Utc::now(), &secrets)
                .expect("the generator's signature is accepted by the server's verifier");
            assert!(nonces.insert(caller.nonce), "a nonce was reused");
            assert_eq!(rpc.params.get("InstanceIds"), Some("[\"i-1\"]"));
        }
    }

    #[test]
    fn ec2_requests_are_form_posts_with_a_sigv4_shaped_header() {
        let r = ec2_request("h:1", "DescribeInstances", &[("InstanceId.1", "i-a b")]);
        let text = String::from_utf8(r).unwrap();
        assert!(text.starts_with("POST / HTTP/1.1\r\nHost: h:1\r\n"));
        assert!(text.contains("Credential=AKIDBENCHMARK/20240101/us-east-1/ec2/aws4_request"));
        assert!(text.ends_with("Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-a%20b"));
    }
}
