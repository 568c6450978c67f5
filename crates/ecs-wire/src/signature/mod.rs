//! Request signatures: verification (server side) and signing (clients, tests, load generator).
//!
//! V1 is HMAC-SHA1 over the sorted parameters (spec §2); V3 is ACS3-HMAC-SHA256 over a canonical
//! request built from method, path, query, the client-chosen signed headers and the body hash
//! (spec §3).

pub mod v1;
pub mod v3;

use chrono::{DateTime, TimeDelta, Utc};
use ecs_domain::ApiError;

use crate::codes;
use crate::request::{Auth, HttpRequest, RpcRequest};

/// How far a request timestamp may be from the real clock, either way.
pub const TIMESTAMP_WINDOW: TimeDelta = TimeDelta::minutes(15);

/// Who sent an authenticated request. The nonce and timestamp are returned so the caller can
/// reject a nonce already seen within [`TIMESTAMP_WINDOW`] ([`codes::SIGNATURE_NONCE_USED`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub access_key_id: String,
    pub nonce: String,
    pub timestamp: DateTime<Utc>,
}

/// Verifies a parsed request's signature (spec §2.3 steps 3–5).
///
/// `real_now` must be the wall clock, not the server's virtual clock: SDKs stamp requests with
/// real time. `secret_for` returns the AccessKeySecret of a key id, or `None` if unknown.
///
/// Errors: InvalidTimeStamp.Expired, InvalidAccessKeyId.NotFound, SignatureDoesNotMatch (its
/// message echoes the server's string to sign after a `:`).
pub fn verify_signature(
    req: &RpcRequest,
    http: &HttpRequest,
    real_now: DateTime<Utc>,
    secret_for: &dyn Fn(&str) -> Option<String>,
) -> Result<Caller, ApiError> {
    if (real_now - req.timestamp).abs() > TIMESTAMP_WINDOW {
        return Err(codes::INVALID_TIMESTAMP_EXPIRED.err());
    }
    let access_key_id = req.auth.access_key_id();
    let secret =
        secret_for(access_key_id).ok_or_else(|| codes::INVALID_ACCESS_KEY_ID_NOT_FOUND.err())?;
    match &req.auth {
        Auth::V1 { signature, .. } => {
            v1::verify(&req.method, req.params.as_map(), signature, &secret)?
        }
        Auth::V3 {
            signed_headers,
            signature,
            ..
        } => v3::verify(&req.method, http, signed_headers, signature, &secret)?,
    }
    // Once the request is known to be its signer's (so a forged or unsigned one gets its
    // signature error first), and before any operation reads a list: malformed list names are
    // refused, never silently skipped.
    req.params.check_lists()?;
    Ok(Caller {
        access_key_id: access_key_id.to_string(),
        nonce: req.nonce.clone(),
        timestamp: req.timestamp,
    })
}
