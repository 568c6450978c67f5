//! Turning an HTTP request into an RPC request: parameters, auth mode, common parameters
//! (spec §1.2–§1.4, §2.3 steps 1–3, §3.2 step 1). No secret is involved here.

use chrono::{DateTime, Utc};
use ecs_domain::ApiError;

use crate::codes::{self, invalid_parameter, missing_parameter};
use crate::encode::form_decode;
use crate::params::Params;
use crate::signature::v3::ACS3_HMAC_SHA256;
use crate::timestamp::parse_timestamp;

/// The only API version this server speaks.
pub const API_VERSION: &str = "2014-05-26";

/// An HTTP request as the server received it. Header names must be lower-case; a header may
/// appear several times.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The raw query string, without the `?`.
    pub query: Option<&'a str>,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl<'a> HttpRequest<'a> {
    /// The first value of a header. Names are compared ignoring case anyway, so a caller that
    /// forgot to lower-case does not silently lose headers.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in wire order.
    pub fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a str> + 's {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the body is a form whose pairs are request parameters (pop-core POST sends all
    /// parameters there, the classic SDK's `add_body_params` some of them).
    pub fn has_form_body(&self) -> bool {
        const FORM: &str = "application/x-www-form-urlencoded";
        self.header("content-type").is_some_and(|ct| {
            ct.trim_start()
                .get(..FORM.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(FORM))
        })
    }

    /// Query pairs, form-decoded, in wire order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_decode(self.query.unwrap_or("").as_bytes())
    }

    fn authorization_v3(&self) -> Option<&'a str> {
        self.header("authorization")
            .map(str::trim)
            .filter(|a| a.starts_with("ACS3-"))
    }
}

/// The response format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// The `Format` parameter, compared ignoring case (Tea with signature v2 sends `json`).
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("json") {
            Some(Self::Json)
        } else if s.eq_ignore_ascii_case("xml") {
            Some(Self::Xml)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "JSON",
            Self::Xml => "XML",
        }
    }
}

/// How the request is signed, with the values the signature check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// HMAC-SHA1 over the parameters (`SignatureMethod=HMAC-SHA1`, `SignatureVersion=1.0`).
    V1 {
        access_key_id: String,
        /// Base64, as sent (already form-decoded).
        signature: String,
    },
    /// `Authorization: ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`.
    V3 {
        access_key_id: String,
        /// Header names exactly as listed by the client, in its order.
        signed_headers: Vec<String>,
        /// Lower-case hex, as sent.
        signature: String,
    },
}

impl Auth {
    pub fn access_key_id(&self) -> &str {
        match self {
            Self::V1 { access_key_id, .. } | Self::V3 { access_key_id, .. } => access_key_id,
        }
    }
}

/// A parsed RPC request. Action and Version are left optional because the spec checks them
/// only after the signature (§2.3 step 7); see [`RpcRequest::action`] and
/// [`RpcRequest::check_version`].
#[derive(Debug, Clone)]
pub struct RpcRequest {
    /// Upper-case HTTP method (`GET` or `POST`).
    pub method: String,
    /// Query ∪ form body. For V1 this includes the common parameters (AccessKeyId, Signature…).
    pub params: Params,
    /// V1: the `Action` parameter (signed; the unsigned `x-acs-action` header is not read).
    /// V3: the `x-acs-action` header, which is signed, else the parameter.
    pub action: Option<String>,
    /// Same precedence as `action`, with `Version` / `x-acs-version`.
    pub version: Option<String>,
    pub format: Format,
    /// The `host` header as sent (empty if absent); use it as the error `HostId`.
    pub host: String,
    pub auth: Auth,
    /// `SignatureNonce` (V1) or `x-acs-signature-nonce` (V3).
    pub nonce: String,
    /// `Timestamp` (V1) or `x-acs-date` (V3).
    pub timestamp: DateTime<Utc>,
    /// STS token: `SecurityToken` (V1) or `x-acs-security-token` (V3).
    pub security_token: Option<String>,
}

impl RpcRequest {
    /// The action name, or MissingParameter.
    pub fn action(&self) -> Result<&str, ApiError> {
        self.action
            .as_deref()
            .ok_or_else(|| missing_parameter("Action"))
    }

    /// MissingParameter when no version was sent, InvalidVersion unless it is [`API_VERSION`].
    pub fn check_version(&self) -> Result<(), ApiError> {
        match self.version.as_deref() {
            None => Err(missing_parameter("Version")),
            Some(API_VERSION) => Ok(()),
            Some(_) => Err(codes::INVALID_VERSION.err()),
        }
    }
}

/// Parses an HTTP request into an RPC request without checking the signature.
///
/// Checks, in order: method (GET/POST), path (`/`), parameter map (no duplicates), auth mode and
/// its required common parameters, SignatureMethod/SignatureVersion (V1) or the Authorization
/// layout (V3), Timestamp format, Format.
pub fn parse_request(req: &HttpRequest) -> Result<RpcRequest, ApiError> {
    let method = req.method.to_ascii_uppercase();
    if method != "GET" && method != "POST" {
        return Err(codes::UNSUPPORTED_HTTP_METHOD.err());
    }
    // RPC lives at `/` only; anything else is an unknown API to the gateway.
    if !(req.path.is_empty() || req.path == "/") {
        return Err(codes::INVALID_ACTION_NOT_FOUND.err());
    }

    // V3: the Authorization layout and what it covers are checked before anything in the
    // request is read, so no unsigned header can influence what happens next.
    let v3 = match req.authorization_v3() {
        Some(authorization) => {
            let parsed = parse_authorization(authorization)?;
            check_signed_header_coverage(req, &parsed.1)?;
            Some(parsed)
        }
        None => None,
    };

    // A name sent twice is rejected rather than guessing which one was signed.
    let params = Params::from_pairs(parameter_pairs(req))?;
    let host = req.header("host").unwrap_or_default().to_string();

    let signed = if let Some(authorization) = v3 {
        parse_v3(req, &params, authorization)?
    } else if params.contains("Signature") {
        parse_v1(&params)?
    } else if params.non_empty("AccessKeyId").is_none() {
        return Err(missing_parameter("AccessKeyId"));
    } else {
        return Err(missing_parameter("Signature"));
    };

    let format = match params.non_empty("Format") {
        Some(f) => Format::parse(f).ok_or_else(|| invalid_parameter("Format"))?,
        None => signed.default_format,
    };

    Ok(RpcRequest {
        method,
        params,
        action: signed.action,
        version: signed.version,
        format,
        host,
        auth: signed.auth,
        nonce: signed.nonce,
        timestamp: signed.timestamp,
        security_token: signed.security_token,
    })
}

/// The format an error should be rendered in when [`parse_request`] failed: the request's
/// `Format` if valid, else the default its auth mode would get (V3 → JSON, V1 → XML), else JSON,
/// which every SDK can read as an error.
pub fn error_format(req: &HttpRequest) -> Format {
    let pairs = parameter_pairs(req);
    if let Some(f) = pairs
        .iter()
        .find(|(k, _)| k == "Format")
        .and_then(|(_, v)| Format::parse(v))
    {
        return f;
    }
    if req.authorization_v3().is_none() && pairs.iter().any(|(k, _)| k == "Signature") {
        Format::Xml
    } else {
        Format::Json
    }
}

/// Query pairs followed by form-body pairs, duplicates kept.
fn parameter_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    let mut pairs = req.query_pairs();
    if req.has_form_body() {
        pairs.extend(form_decode(req.body));
    }
    pairs
}

/// What the auth-mode-specific parsing yields.
struct Signed {
    auth: Auth,
    nonce: String,
    timestamp: DateTime<Utc>,
    action: Option<String>,
    version: Option<String>,
    security_token: Option<String>,
    default_format: Format,
}

fn parse_v1(params: &Params) -> Result<Signed, ApiError> {
    let required = |name: &str| {
        params
            .non_empty(name)
            .map(str::to_string)
            .ok_or_else(|| missing_parameter(name))
    };
    let access_key_id = required("AccessKeyId")?;
    let signature = required("Signature")?;
    let signature_method = required("SignatureMethod")?;
    let signature_version = required("SignatureVersion")?;
    let nonce = required("SignatureNonce")?;
    let timestamp = required("Timestamp")?;

    if signature_method != "HMAC-SHA1" {
        return Err(codes::INVALID_SIGNATURE_METHOD.err());
    }
    // No dedicated gateway code is known for a bad SignatureVersion; InvalidParameter names it.
    if signature_version != "1.0" {
        return Err(invalid_parameter("SignatureVersion"));
    }
    let timestamp =
        parse_timestamp(&timestamp).ok_or_else(|| codes::INVALID_TIMESTAMP_FORMAT.err())?;

    // Only the parameters are signed. The classic SDK also sends x-acs-action/x-acs-version
    // headers, but taking the operation from them when the parameter is missing would let an
    // unsigned header choose what a signed request does.
    let pick = |param: &str| params.non_empty(param).map(str::to_string);
    Ok(Signed {
        auth: Auth::V1 {
            access_key_id,
            signature,
        },
        nonce,
        timestamp,
        action: pick("Action"),
        version: pick("Version"),
        security_token: params.non_empty("SecurityToken").map(str::to_string),
        // The API docs: XML when Format is absent.
        default_format: Format::Xml,
    })
}

/// The parts of a V3 `Authorization` header: access key id, SignedHeaders (as listed), signature.
type V3Authorization = (String, Vec<String>, String);

fn parse_v3(
    req: &HttpRequest,
    params: &Params,
    (access_key_id, signed_headers, signature): V3Authorization,
) -> Result<Signed, ApiError> {
    let required = |name: &str| {
        req.header(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| missing_parameter(name))
    };
    let date = required("x-acs-date")?;
    let nonce = required("x-acs-signature-nonce")?;
    // Compared with the body's hash in the signature check.
    required("x-acs-content-sha256")?;
    let timestamp = parse_timestamp(&date).ok_or_else(|| codes::INVALID_TIMESTAMP_FORMAT.err())?;

    // Tea sends Action/Version only as headers (which it signs); a parameter is a fallback.
    let pick = |header: &str, param: &str| {
        req.header(header)
            .filter(|v| !v.is_empty())
            .or_else(|| params.non_empty(param))
            .map(str::to_string)
    };
    Ok(Signed {
        auth: Auth::V3 {
            access_key_id,
            signed_headers,
            signature,
        },
        nonce,
        timestamp,
        action: pick("x-acs-action", "Action"),
        version: pick("x-acs-version", "Version"),
        security_token: req
            .header("x-acs-security-token")
            .filter(|v| !v.is_empty())
            .map(str::to_string),
        // Tea sends no Format and JSON-parses every 2xx body.
        default_format: Format::Json,
    })
}

/// Refuses a V3 request that carries a header the server acts on without having it signed.
///
/// The verifier honours the client's SignedHeaders list, so anything left out of it could be
/// changed in transit: `x-acs-action` picks the operation (an attacker turned a signed
/// ModifyInstanceAutoReleaseTime into DeleteInstance), `x-acs-date` / `x-acs-signature-nonce`
/// are the replay protection, `x-acs-security-token` the STS identity, `host` the endpoint the
/// signature was meant for. So every `x-acs-*` header present, and `host` always, must be listed.
/// `content-type` must be listed too when it makes a form body part of the parameters: it
/// decides whether the (hashed) body bytes are read as parameters at all. Every captured SDK
/// request complies: Node signs host, content-type and x-acs-*, Python Tea every header it set.
fn check_signed_header_coverage(req: &HttpRequest, signed: &[String]) -> Result<(), ApiError> {
    let is_signed = |name: &str| signed.iter().any(|s| s.eq_ignore_ascii_case(name));
    let must_be_signed = |name: &str| {
        name.eq_ignore_ascii_case("host")
            || name
                .get(..X_ACS_PREFIX.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(X_ACS_PREFIX))
            || (name.eq_ignore_ascii_case("content-type") && req.has_form_body())
    };
    let uncovered = !is_signed("host")
        || req
            .headers
            .iter()
            .any(|(name, _)| must_be_signed(name) && !is_signed(name));
    if uncovered {
        return Err(codes::INCOMPLETE_SIGNATURE.err());
    }
    Ok(())
}

/// Headers of this family steer the request (action, version, date, nonce, token…).
const X_ACS_PREFIX: &str = "x-acs-";

/// Splits `ACS3-HMAC-SHA256 Credential=ID,SignedHeaders=a;b,Signature=HEX` into its parts.
fn parse_authorization(value: &str) -> Result<V3Authorization, ApiError> {
    let incomplete = || codes::INCOMPLETE_SIGNATURE.err();
    let (algorithm, rest) = value.trim().split_once(' ').ok_or_else(incomplete)?;
    // Other ACS3 algorithms (HMAC-SM3, RSA-SHA256) exist but no ECS SDK uses them by default.
    if algorithm != ACS3_HMAC_SHA256 {
        return Err(incomplete());
    }
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or_else(incomplete)?;
        let slot = match k.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => return Err(incomplete()),
        };
        if slot.replace(v.trim()).is_some() {
            return Err(incomplete());
        }
    }
    let [credential, signed, signature] =
        [credential, signed, signature].map(|v| v.filter(|s| !s.is_empty()).ok_or_else(incomplete));
    let (credential, signed, signature) = (credential?, signed?, signature?);
    let signed_headers: Vec<String> = signed.split(';').map(str::to_string).collect();
    if signed_headers.iter().any(String::is_empty) {
        return Err(incomplete());
    }
    Ok((
        credential.to_string(),
        signed_headers,
        signature.to_string(),
    ))
}
