//! The wire format of the ECS RPC API (Version 2014-05-26), as the official Alibaba Cloud SDKs
//! speak it: parsing requests (query and form parameters, V1 and V3 signature headers),
//! verifying and producing signatures, and rendering JSON/XML responses and errors.
//!
//! Typical server flow:
//! 1. [`parse_request`] → [`RpcRequest`] (on error render with [`error_format`]);
//! 2. [`verify_signature`] → [`Caller`], then check the nonce is fresh
//!    ([`codes::SIGNATURE_NONCE_USED`]);
//! 3. [`RpcRequest::check_version`], [`RpcRequest::action`], run the operation;
//! 4. [`render_success`] or [`render_error`].
//!
//! ```
//! use std::collections::BTreeMap;
//! use chrono::{TimeZone, Utc};
//! use ecs_wire::*;
//!
//! // Client side: a signed V1 GET.
//! let now = Utc.with_ymd_and_hms(2024, 1, 1, 12, 0, 0).unwrap();
//! let params: BTreeMap<String, String> = [
//!     ("AccessKeyId", "testid"), ("Action", "DescribeInstances"), ("Version", API_VERSION),
//!     ("Format", "JSON"), ("SignatureMethod", "HMAC-SHA1"), ("SignatureVersion", "1.0"),
//!     ("SignatureNonce", "n-1"), ("Timestamp", &format_timestamp(now)),
//! ]
//! .into_iter()
//! .map(|(k, v)| (k.to_string(), v.to_string()))
//! .collect();
//! let query = signed_query_v1("GET", &params, "testsecret");
//!
//! // Server side.
//! let headers = vec![("host".to_string(), "ecs.aliyuncs.com".to_string())];
//! let http = HttpRequest { method: "GET", path: "/", query: Some(&query), headers: &headers, body: b"" };
//! let rpc = parse_request(&http).unwrap();
//! let secrets = |id: &str| (id == "testid").then(|| "testsecret".to_string());
//! let caller = verify_signature(&rpc, &http, now, &secrets).unwrap();
//! assert_eq!(caller.nonce, "n-1");
//! rpc.check_version().unwrap();
//! let body = serde_json::json!({ "RequestId": new_request_id(), "TotalCount": 0 });
//! let resp = render_success(rpc.action().unwrap(), rpc.format, &body);
//! assert_eq!(resp.content_type, CONTENT_TYPE_JSON);
//! ```

pub mod codes;
pub mod encode;
pub mod params;
pub mod render;
pub mod request;
pub mod signature;
pub mod timestamp;

pub use encode::percent_encode;
pub use params::Params;
pub use render::{
    new_request_id, render_error, render_success, render_success_json, HttpResponse,
    CONTENT_TYPE_JSON, CONTENT_TYPE_XML,
};
pub use request::{
    error_format, parse_request, Auth, Format, HttpRequest, RpcRequest, API_VERSION,
};
pub use signature::v1::{sign_v1, signed_query_v1, string_to_sign_v1};
pub use signature::v3::{authorization_v3, content_sha256, sign_v3, string_to_sign_v3};
pub use signature::{verify_signature, Caller, TIMESTAMP_WINDOW};
pub use timestamp::{format_timestamp, parse_timestamp};
