//! Signature V3 (`ACS3-HMAC-SHA256`), the default of the Tea SDKs:
//! `hex(HMAC-SHA256(secret, "ACS3-HMAC-SHA256\n" + hex(sha256(canonical request))))`.

use std::collections::BTreeMap;

use ecs_domain::ApiError;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::codes;
use crate::encode::{encode_pairs, form_decode, percent_encode};
use crate::request::HttpRequest;

type HmacSha256 = Hmac<Sha256>;

/// The only V3 algorithm accepted.
pub const ACS3_HMAC_SHA256: &str = "ACS3-HMAC-SHA256";

/// Lower-case hex SHA-256 of the body: the `x-acs-content-sha256` header value.
pub fn content_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The path with each segment percent-encoded; `/` (or empty) stays `/`.
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    path.split('/')
        .map(percent_encode)
        .collect::<Vec<_>>()
        .join("/")
}

/// `name:values\n` for each signed header, in the listed order. Several values of one header are
/// trimmed, sorted and joined with `,`; a signed header that is absent contributes `name:`.
pub fn canonical_headers_v3<S: AsRef<str>>(
    headers: &[(String, String)],
    signed_headers: &[S],
) -> String {
    let mut out = String::new();
    for name in signed_headers {
        let name = name.as_ref();
        let mut values: Vec<&str> = headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect();
        values.sort_unstable();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out
}

/// The canonical request. The query is the decoded URL query only (a form body is covered by
/// the payload hash instead), sorted by key, keys and values percent-encoded.
pub fn canonical_request_v3<S: AsRef<str>>(
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    headers: &[(String, String)],
    signed_headers: &[S],
    hashed_payload: &str,
) -> String {
    let signed_list = signed_headers
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(";");
    // The header block ends in "\n" itself, so a blank line precedes the signed header list.
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        canonical_uri(path),
        encode_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        canonical_headers_v3(headers, signed_headers),
        signed_list,
        hashed_payload
    )
}

/// `ACS3-HMAC-SHA256\n` + hex(sha256(canonical request)).
pub fn string_to_sign_v3(canonical_request: &str) -> String {
    format!(
        "{ACS3_HMAC_SHA256}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// Hex signature of a string to sign. Unlike V1, the key is the bare secret.
pub fn signature_v3(string_to_sign: &str, secret: &str) -> String {
    hex::encode(mac(secret, string_to_sign).finalize().into_bytes())
}

/// Client-side: signs a request over *every* header in `headers` (lower-cased, sorted), the way
/// Python Tea does. `headers` must already contain `x-acs-content-sha256`
/// ([`content_sha256`]), `x-acs-date`, `x-acs-signature-nonce` and whatever else should be signed.
pub fn sign_v3(
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    headers: &[(String, String)],
    body: &[u8],
    secret: &str,
) -> String {
    let signed = signed_header_names(headers);
    let canonical =
        canonical_request_v3(method, path, query, headers, &signed, &content_sha256(body));
    signature_v3(&string_to_sign_v3(&canonical), secret)
}

/// Client-side: the `Authorization` header value for the same inputs as [`sign_v3`].
pub fn authorization_v3(
    access_key_id: &str,
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    headers: &[(String, String)],
    body: &[u8],
    secret: &str,
) -> String {
    let signature = sign_v3(method, path, query, headers, body, secret);
    format!(
        "{ACS3_HMAC_SHA256} Credential={access_key_id},SignedHeaders={},Signature={signature}",
        signed_header_names(headers).join(";")
    )
}

fn signed_header_names(headers: &[(String, String)]) -> Vec<String> {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Server-side check of a V3 request, honouring the client's `SignedHeaders` list exactly.
pub(crate) fn verify(
    method: &str,
    http: &HttpRequest,
    signed_headers: &[String],
    signature: &str,
    secret: &str,
) -> Result<(), ApiError> {
    // Rebuilt from the raw query rather than the merged parameters: a V3 form body is not part
    // of the canonical query. Duplicate keys were already rejected when parsing.
    let query: BTreeMap<String, String> = form_decode(http.query.unwrap_or("").as_bytes())
        .into_iter()
        .collect();
    let body_hash = content_sha256(http.body);
    let canonical = canonical_request_v3(
        method,
        http.path,
        &query,
        http.headers,
        signed_headers,
        &body_hash,
    );
    let string_to_sign = string_to_sign_v3(&canonical);
    // A body that does not match its declared hash is a signature failure: the hash is what
    // the client signed.
    let body_ok = http.header("x-acs-content-sha256").map(str::trim) == Some(body_hash.as_str());
    let matches = body_ok
        && hex::decode(signature)
            .is_ok_and(|given| mac(secret, &string_to_sign).verify_slice(&given).is_ok());
    if matches {
        Ok(())
    } else {
        Err(codes::signature_does_not_match(&string_to_sign))
    }
}

fn mac(secret: &str, string_to_sign: &str) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    mac
}
