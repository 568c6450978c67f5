//! Signature V1: `base64(HMAC-SHA1(secret + "&", METHOD + "&%2F&" + pct(canonical query)))`.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ecs_domain::ApiError;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::codes;
use crate::encode::{encode_pairs, percent_encode};

type HmacSha1 = Hmac<Sha1>;

/// The parameter that carries the signature and is therefore left out of what is signed.
const SIGNATURE: &str = "Signature";

/// `k=v` pairs, percent-encoded, joined by `&`, in key order, without `Signature`. Empty values
/// stay (`SignatureType=` from the classic Python SDK is signed).
pub fn canonicalized_query_v1(params: &BTreeMap<String, String>) -> String {
    // BTreeMap iterates in byte order of the keys, which is the plain sort every SDK uses.
    encode_pairs(
        params
            .iter()
            .filter(|(k, _)| k.as_str() != SIGNATURE)
            .map(|(k, v)| (k.as_str(), v.as_str())),
    )
}

/// `METHOD&%2F&pct(canonicalized query)`. The method is the real HTTP method even when all
/// parameters travel in the URL of a POST (classic Python per-operation requests).
pub fn string_to_sign_v1(method: &str, params: &BTreeMap<String, String>) -> String {
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent_encode("/"),
        percent_encode(&canonicalized_query_v1(params))
    )
}

/// The base64 V1 signature of `params` (any `Signature` entry is ignored).
pub fn sign_v1(method: &str, params: &BTreeMap<String, String>, secret: &str) -> String {
    BASE64.encode(
        mac(secret, &string_to_sign_v1(method, params))
            .finalize()
            .into_bytes(),
    )
}

/// A complete signed query string (or form body): `params` plus `Signature`, percent-encoded.
/// `params` must already hold the common parameters (AccessKeyId, SignatureNonce, Timestamp…).
pub fn signed_query_v1(method: &str, params: &BTreeMap<String, String>, secret: &str) -> String {
    let signature = sign_v1(method, params, secret);
    let mut query = canonicalized_query_v1(params);
    if !query.is_empty() {
        query.push('&');
    }
    query.push_str(&encode_pairs([(SIGNATURE, signature.as_str())]));
    query
}

/// Server-side check of a received base64 `signature`, in constant time.
pub(crate) fn verify(
    method: &str,
    params: &BTreeMap<String, String>,
    signature: &str,
    secret: &str,
) -> Result<(), ApiError> {
    let string_to_sign = string_to_sign_v1(method, params);
    let matches = BASE64
        .decode(signature)
        .is_ok_and(|given| mac(secret, &string_to_sign).verify_slice(&given).is_ok());
    if matches {
        Ok(())
    } else {
        Err(codes::signature_does_not_match(&string_to_sign))
    }
}

fn mac(secret: &str, string_to_sign: &str) -> HmacSha1 {
    // The key is the secret followed by "&" (a reserved slot for a token secret, always empty).
    let mut mac = HmacSha1::new_from_slice(format!("{secret}&").as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    mac
}
