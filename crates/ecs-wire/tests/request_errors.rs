//! Gateway error cases of parsing and verification, and Format / Action / Version handling.

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::{v1_form_post, v1_get, v1_params, OwnedRequest, KEY_ID, SECRET};
use ecs_domain::ApiError;
use ecs_wire::encode::encode_pairs;
use ecs_wire::{
    authorization_v3, codes, content_sha256, error_format, format_timestamp, parse_request,
    signed_query_v1, verify_signature, Format,
};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 14, 53, 38).unwrap()
}

fn parse_err(req: &OwnedRequest) -> ApiError {
    parse_request(&req.http()).expect_err("request should be rejected")
}

fn assert_error(err: &ApiError, status: u16, code: &str, message: &str) {
    assert_eq!(
        (err.status, err.code.as_ref(), err.message.as_ref()),
        (status, code, message)
    );
}

fn missing(name: &str) -> String {
    format!("The input parameter \"{name}\" that is mandatory for processing this request is not supplied.")
}

/// A V1 GET whose query is `params` as given (not re-signed), for malformed-request cases.
fn raw_get(params: &[(&str, &str)]) -> OwnedRequest {
    let mut req = OwnedRequest::new("GET");
    req.query = Some(encode_pairs(params.iter().copied()));
    req
}

/// A V3 POST signed over every header given, with `query` in the URL.
fn v3_post(ts: DateTime<Utc>, query: &[(&str, &str)], body: &[u8]) -> OwnedRequest {
    v3_post_dated(&format_timestamp(ts), query, body)
}

/// [`v3_post`] with `x-acs-date` spelled out as given.
fn v3_post_dated(date: &str, query: &[(&str, &str)], body: &[u8]) -> OwnedRequest {
    let query_map = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut headers: Vec<(String, String)> = [
        ("host", "127.0.0.1:8080"),
        ("x-acs-action", "DescribeInstances"),
        ("x-acs-version", "2014-05-26"),
        ("x-acs-signature-nonce", "feedfacefeedfacefeedfacefeedface"),
        ("accept", "application/json"),
        ("user-agent", "test"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    headers.push(("x-acs-date".to_string(), date.to_string()));
    headers.push(("x-acs-content-sha256".to_string(), content_sha256(body)));
    let authorization = authorization_v3(KEY_ID, "POST", "/", &query_map, &headers, body, SECRET);
    headers.push(("authorization".to_string(), authorization));
    OwnedRequest {
        method: "POST".to_string(),
        path: "/".to_string(),
        query: Some(encode_pairs(query.iter().copied())),
        headers,
        body: body.to_vec(),
    }
}

#[test]
fn signed_v1_requests_pass() {
    let params = v1_params(now(), &[("InstanceName", "a b+c*~é")]);
    for req in [v1_get(&params), v1_form_post(&params)] {
        let caller = req.check(now()).unwrap();
        assert_eq!(caller.access_key_id, KEY_ID);
        assert_eq!(caller.nonce, params["SignatureNonce"]);
        assert_eq!(caller.timestamp, now());
    }
    // Lower-case method, query-and-body split, and a charset on the form content type.
    let mut split = OwnedRequest::new("post").header(
        "content-type",
        "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
    );
    let signed = signed_query_v1("POST", &params, SECRET);
    let (first, rest) = signed.split_once('&').unwrap();
    split.query = Some(first.to_string());
    split.body = rest.as_bytes().to_vec();
    split.check(now()).unwrap();
}

#[test]
fn plus_in_the_query_is_a_space() {
    let params = v1_params(now(), &[("Tag.1.Value", "v w")]);
    let mut req = v1_get(&params);
    req.query = req.query.map(|q| q.replace("v%20w", "v+w"));
    assert!(req.query.as_deref().unwrap().contains("v+w"));
    req.check(now()).unwrap();
    let rpc = parse_request(&req.http()).unwrap();
    assert_eq!(rpc.params.get("Tag.1.Value"), Some("v w"));
}

#[test]
fn body_is_ignored_unless_it_is_a_form() {
    let params = v1_params(now(), &[]);
    let mut req = v1_get(&params);
    req.method = "POST".to_string();
    req.query = Some(signed_query_v1("POST", &params, SECRET));
    req.body = b"InstanceId=i-smuggled".to_vec();
    req = req.header("content-type", "application/json");
    let rpc = parse_request(&req.http()).unwrap();
    assert_eq!(rpc.params.get("InstanceId"), None);
    req.check(now()).unwrap();
}

#[test]
fn missing_auth_parameters() {
    let err = parse_err(&raw_get(&[("Action", "DescribeInstances")]));
    assert_error(&err, 400, "MissingParameter", &missing("AccessKeyId"));
    let err = parse_err(&raw_get(&[("AccessKeyId", KEY_ID)]));
    assert_error(&err, 400, "MissingParameter", &missing("Signature"));

    let full = v1_params(now(), &[("Signature", "c2ln")]);
    for name in [
        "AccessKeyId",
        "Signature",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
        "Timestamp",
    ] {
        let mut params = full.clone();
        // An empty value counts as missing.
        params.insert(name.to_string(), String::new());
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let err = parse_err(&raw_get(&pairs));
        assert_error(&err, 400, "MissingParameter", &missing(name));
        // Removed altogether: same error. (Without any Signature the request is not V1, but
        // AccessKeyId is there, so the missing one reported is still Signature.)
        let pairs: Vec<(&str, &str)> = pairs.into_iter().filter(|(k, _)| *k != name).collect();
        let err = parse_err(&raw_get(&pairs));
        assert_error(&err, 400, "MissingParameter", &missing(name));
    }
}

#[test]
fn signature_method_and_version() {
    let params = v1_params(now(), &[("SignatureMethod", "HMAC-SHA256")]);
    assert_error(
        &parse_err(&v1_get(&params)),
        400,
        "InvalidSignatureMethod",
        "Specified signature method is not supported.",
    );
    let params = v1_params(now(), &[("SignatureVersion", "2.0")]);
    let err = parse_err(&v1_get(&params));
    assert_eq!((err.status, err.code.as_ref()), (400, "InvalidParameter"));
    assert!(err.message.contains("SignatureVersion"));
}

/// Clients that format the time with fractions of a second (JavaScript's `toISOString()`, Go's
/// `RFC3339Nano`) are accepted in V1 `Timestamp` and V3 `x-acs-date`, and the fraction is kept.
#[test]
fn timestamps_with_fractional_seconds_pass() {
    for (raw, millis) in [
        ("2026-11-25T14:53:38.123Z", 123),
        ("2026-11-25T14:53:38.5Z", 500),
        ("2026-11-25T14:53:38.000000001Z", 0),
    ] {
        let mut params = v1_params(now(), &[]);
        params.insert("Timestamp".to_string(), raw.to_string());
        for req in [v1_get(&params), v1_form_post(&params)] {
            let caller = req.check(now()).unwrap();
            assert_eq!(
                caller.timestamp - now(),
                TimeDelta::milliseconds(millis)
                    + TimeDelta::nanoseconds(i64::from(raw.ends_with("01Z")))
            );
        }
        let caller = v3_post_dated(raw, &[("RegionId", "cn-hangzhou")], b"")
            .check(now())
            .unwrap();
        assert!(caller.timestamp > now(), "{raw}");
    }
    // The window counts from the instant with its fraction: 15 minutes and 0.5 s before the
    // server's time is outside it.
    let mut params = v1_params(now(), &[]);
    params.insert(
        "Timestamp".to_string(),
        "2026-11-25T14:38:37.500Z".to_string(),
    );
    let err = v1_get(&params).check(now()).unwrap_err();
    assert_eq!(err.code.as_ref(), "InvalidTimeStamp.Expired");
    let err = v3_post_dated("2026-11-25T14.53:38.1Z", &[], b"")
        .check(now())
        .unwrap_err();
    assert_eq!(err.code.as_ref(), "InvalidTimeStamp.Format");
}

#[test]
fn timestamp_format_and_window() {
    for bad in [
        "2026-11-25T14:53:38",
        "2026-11-25 14:53:38Z",
        "2026-11-25T14:53:38.Z",
        "2026-11-25T14:53:38.1234567890Z",
        "2026-11-25T14:53:38.123+08:00",
        "yesterday",
    ] {
        let mut params = v1_params(now(), &[]);
        params.insert("Timestamp".to_string(), bad.to_string());
        assert_error(
            &parse_err(&v1_get(&params)),
            400,
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.",
        );
    }
    let params = v1_params(now(), &[]);
    let req = v1_get(&params);
    for skew in [
        TimeDelta::minutes(16),
        TimeDelta::minutes(-16),
        TimeDelta::days(400),
    ] {
        let err = req.check(now() + skew).unwrap_err();
        assert_error(
            &err,
            400,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        );
    }
    req.check(now() + TimeDelta::minutes(15)).unwrap();
    req.check(now() - TimeDelta::minutes(15)).unwrap();
}

#[test]
fn unknown_key_and_bad_signature() {
    let params = v1_params(now(), &[("AccessKeyId", "nobody")]);
    let err = v1_get(&params).check(now()).unwrap_err();
    assert_error(
        &err,
        404,
        "InvalidAccessKeyId.NotFound",
        "Specified access key is not found.",
    );

    let params = v1_params(now(), &[]);
    let mut req = v1_get(&params);
    req.query = req
        .query
        .map(|q| q.replace("RegionId=cn-hangzhou", "RegionId=cn-beijing"));
    let err = req.check(now()).unwrap_err();
    assert_eq!(
        (err.status, err.code.as_ref()),
        (400, "SignatureDoesNotMatch")
    );
    let sts = err.message.split(':').nth(1).unwrap();
    assert!(sts.starts_with("GET&%2F&AccessKeyId%3Dtestid%26"), "{sts}");
    assert!(sts.contains("RegionId%3Dcn-beijing"));

    // Garbage that is not even base64 is a mismatch too, not a crash.
    let mut req = v1_get(&params);
    let q = req.query.take().unwrap();
    let (head, _) = q.rsplit_once("&Signature=").unwrap();
    req.query = Some(format!("{head}&Signature=%21%21%21"));
    assert!(req
        .check(now())
        .unwrap_err()
        .is(&codes::SIGNATURE_DOES_NOT_MATCH));
}

#[test]
fn duplicate_parameters_are_rejected() {
    let params = v1_params(now(), &[]);
    // Same name in the query and in the form body.
    let mut req = v1_form_post(&params);
    req.query = Some("RegionId=cn-beijing".to_string());
    let err = parse_err(&req);
    assert_eq!((err.status, err.code.as_ref()), (400, "InvalidParameter"));
    assert!(err.message.contains("\"RegionId\""));
    // Twice in the query.
    let mut req = v1_get(&params);
    req.query = req
        .query
        .map(|q| format!("{q}&InstanceId=i-a&InstanceId=i-b"));
    let err = parse_err(&req);
    assert!(err.message.contains("\"InstanceId\""), "{err}");
}

#[test]
fn method_and_path() {
    let params = v1_params(now(), &[]);
    for method in ["PUT", "DELETE", "HEAD", "OPTIONS"] {
        let mut req = v1_get(&params);
        req.method = method.to_string();
        assert_error(
            &parse_err(&req),
            400,
            "UnsupportedHTTPMethod",
            "This http method is not supported.",
        );
    }
    let mut req = v1_get(&params);
    req.path = "/api".to_string();
    let err = parse_err(&req);
    assert_eq!(
        (err.status, err.code.as_ref()),
        (404, "InvalidAction.NotFound")
    );
    assert_eq!(
        err.message,
        "Specified api is not found, please check your url and method."
    );
    req.path = String::new();
    req.check(now()).unwrap();
}

#[test]
fn format_selection() {
    let cases: [(Option<&str>, Format); 6] = [
        (Some(""), Format::Xml),
        (Some("JSON"), Format::Json),
        (Some("json"), Format::Json),
        (Some("Xml"), Format::Xml),
        (Some("XML"), Format::Xml),
        (None, Format::Xml),
    ];
    for (value, expected) in cases {
        let mut params = v1_params(now(), &[]);
        match value {
            Some(v) => params.insert("Format".to_string(), v.to_string()),
            None => params.remove("Format"),
        };
        let req = v1_get(&params);
        assert_eq!(
            parse_request(&req.http()).unwrap().format,
            expected,
            "{value:?}"
        );
        assert_eq!(error_format(&req.http()), expected, "{value:?}");
    }
    let params = v1_params(now(), &[("Format", "yaml")]);
    let req = v1_get(&params);
    let err = parse_err(&req);
    assert_eq!((err.status, err.code.as_ref()), (400, "InvalidParameter"));
    assert!(err.message.contains("\"Format\""));
    // The error itself falls back to what the auth mode would get: XML for V1.
    assert_eq!(error_format(&req.http()), Format::Xml);

    // V3 sends no Format: JSON. An explicit one is still honoured.
    let req = v3_post(now(), &[("RegionId", "cn-hangzhou")], b"");
    assert_eq!(parse_request(&req.http()).unwrap().format, Format::Json);
    assert_eq!(error_format(&req.http()), Format::Json);
    let req = v3_post(now(), &[("Format", "XML")], b"");
    assert_eq!(parse_request(&req.http()).unwrap().format, Format::Xml);
    req.check(now()).unwrap();

    // Nothing recognisable: JSON, which every SDK parses as an error.
    assert_eq!(error_format(&OwnedRequest::new("GET").http()), Format::Json);
}

#[test]
fn action_and_version() {
    // V1 signs only its parameters: the unsigned x-acs-* headers never stand in for them.
    let mut params = v1_params(now(), &[]);
    params.remove("Action");
    params.remove("Version");
    let req = v1_get(&params)
        .header("x-acs-action", "StopInstance")
        .header("x-acs-version", "2014-05-26");
    let rpc = parse_request(&req.http()).unwrap();
    let missing_action = rpc.action().unwrap_err();
    assert_error(&missing_action, 400, "MissingParameter", &missing("Action"));
    let missing_version = rpc.check_version().unwrap_err();
    assert_error(
        &missing_version,
        400,
        "MissingParameter",
        &missing("Version"),
    );

    // …and the signed parameter wins over an unsigned header.
    let params = v1_params(now(), &[]);
    let req = v1_get(&params).header("x-acs-action", "DeleteInstance");
    assert_eq!(
        parse_request(&req.http()).unwrap().action().unwrap(),
        "DescribeInstances"
    );

    let mut params = v1_params(now(), &[]);
    params.remove("Action");
    params.remove("Version");
    let rpc = parse_request(&v1_get(&params).http()).unwrap();
    assert_error(
        &rpc.action().unwrap_err(),
        400,
        "MissingParameter",
        &missing("Action"),
    );
    assert_error(
        &rpc.check_version().unwrap_err(),
        400,
        "MissingParameter",
        &missing("Version"),
    );

    let params = v1_params(now(), &[("Version", "2016-03-14")]);
    let rpc = parse_request(&v1_get(&params).http()).unwrap();
    assert_error(
        &rpc.check_version().unwrap_err(),
        400,
        "InvalidVersion",
        "Specified parameter Version is not valid.",
    );
}

#[test]
fn v3_checks() {
    let req = v3_post(now(), &[("InstanceId", "i-1")], b"");
    let caller = req.check(now()).unwrap();
    assert_eq!(caller.nonce, "feedfacefeedfacefeedfacefeedface");

    // Unsupported algorithm, malformed header.
    for auth in [
        "ACS3-HMAC-SM3 Credential=testid,SignedHeaders=host,Signature=00",
        "ACS3-HMAC-SHA256",
        "ACS3-HMAC-SHA256 Credential=testid,Signature=00",
        "ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=00",
        "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;;x,Signature=00",
        "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host,Signature=00,Extra=1",
    ] {
        let mut bad = req.clone();
        bad.set_header("authorization", auth);
        assert_error(
            &parse_err(&bad),
            400,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.",
        );
    }

    for header in [
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    ] {
        let mut bad = req.clone();
        bad.remove_header(header);
        assert_error(&parse_err(&bad), 400, "MissingParameter", &missing(header));
    }

    let mut bad = req.clone();
    bad.set_header("x-acs-date", "2026-11-25T14:53:38+08:00");
    assert!(parse_err(&bad).is(&codes::INVALID_TIMESTAMP_FORMAT));

    // Changing a signed header breaks the signature; an unsigned one does not matter.
    let mut bad = req.clone();
    bad.set_header("user-agent", "other");
    let err = bad.check(now()).unwrap_err();
    assert!(err.is(&codes::SIGNATURE_DOES_NOT_MATCH));
    assert!(err
        .message
        .contains("server string to sign is:ACS3-HMAC-SHA256\n"));
    let fine = req.clone().header("x-sdk-client", "whatever");
    fine.check(now()).unwrap();

    // A declared body hash that does not match the body.
    let mut bad = req.clone();
    bad.set_header("x-acs-content-sha256", &content_sha256(b"other"));
    assert!(bad
        .check(now())
        .unwrap_err()
        .is(&codes::SIGNATURE_DOES_NOT_MATCH));

    // Freshness uses x-acs-date.
    let err = req.check(now() + TimeDelta::minutes(20)).unwrap_err();
    assert!(err.is(&codes::INVALID_TIMESTAMP_EXPIRED));

    // Unknown key.
    let http = req.http();
    let rpc = parse_request(&http).unwrap();
    let err = verify_signature(&rpc, &http, now(), &|_| None).unwrap_err();
    assert!(err.is(&codes::INVALID_ACCESS_KEY_ID_NOT_FOUND));
}

/// A V3 POST signed over `signed` headers only; `unsigned` headers are sent but left out.
fn v3_partly_signed(signed: &[(&str, &str)], unsigned: &[(&str, &str)]) -> OwnedRequest {
    let owned = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let mut headers = owned(signed);
    let query = [("InstanceId".to_string(), "i-1".to_string())].into();
    let auth = authorization_v3(KEY_ID, "POST", "/", &query, &headers, b"", SECRET);
    headers.extend(owned(unsigned));
    headers.push(("authorization".to_string(), auth));
    OwnedRequest {
        method: "POST".to_string(),
        path: "/".to_string(),
        query: Some("InstanceId=i-1".to_string()),
        headers,
        body: Vec::new(),
    }
}

/// Regression: SignedHeaders must cover `host` and every `x-acs-*` header sent. Before, an
/// unsigned `x-acs-action` chose the operation of a validly signed request, and a request that
/// did not sign its date/nonce could be replayed with fresh ones.
#[test]
fn v3_unsigned_steering_headers_are_refused() {
    let ts = format_timestamp(now());
    let empty = content_sha256(b"");
    let full: Vec<(&str, &str)> = vec![
        ("host", "127.0.0.1:8080"),
        ("x-acs-action", "ModifyInstanceAutoReleaseTime"),
        ("x-acs-version", "2014-05-26"),
        ("x-acs-date", &ts),
        ("x-acs-signature-nonce", "feedfacefeedfacefeedfacefeedface"),
        ("x-acs-content-sha256", &empty),
    ];
    v3_partly_signed(&full, &[]).check(now()).unwrap();

    // Each steering header (and host) in turn sent but not signed.
    for i in 0..full.len() {
        let mut signed = full.clone();
        let unsigned = [signed.remove(i)];
        let req = v3_partly_signed(&signed, &unsigned);
        assert_error(
            &parse_err(&req),
            400,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.",
        );
    }

    // The attack: the signed action replaced by an unsigned DeleteInstance.
    let signed: Vec<_> = full
        .iter()
        .copied()
        .filter(|(k, _)| *k != "x-acs-action")
        .collect();
    let req = v3_partly_signed(&signed, &[("x-acs-action", "DeleteInstance")]);
    assert!(parse_err(&req).is(&codes::INCOMPLETE_SIGNATURE));

    // Extra x-acs-* headers (any case) must be signed too; other headers need not be.
    for extra in [
        "x-acs-security-token",
        "X-Acs-Security-Token",
        "x-acs-anything",
    ] {
        let req = v3_partly_signed(&full, &[(extra, "v")]);
        assert!(parse_err(&req).is(&codes::INCOMPLETE_SIGNATURE), "{extra}");
    }
    v3_partly_signed(&full, &[("user-agent", "x"), ("x-sdk-client", "y")])
        .check(now())
        .unwrap();

    // host must be listed even if the request has none (HTTP/1.0).
    let no_host: Vec<_> = full.iter().copied().filter(|(k, _)| *k != "host").collect();
    assert!(parse_err(&v3_partly_signed(&no_host, &[])).is(&codes::INCOMPLETE_SIGNATURE));

    // A form content type decides whether the body is parameters: it must be signed.
    let req = v3_partly_signed(
        &full,
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    assert!(parse_err(&req).is(&codes::INCOMPLETE_SIGNATURE));
    let req = v3_partly_signed(&full, &[("content-type", "application/json")]);
    req.check(now()).unwrap();
}

/// Regression: malformed list indices in a correctly signed request are refused once the
/// signature is verified, naming the parameter, instead of being skipped by the list readers.
/// A request that is not its signer's gets its signature error first.
#[test]
fn malformed_list_names_are_refused_after_the_signature() {
    let check_err = |req: &OwnedRequest| req.check(now()).expect_err("request should be rejected");
    for key in [
        "InstanceId.0",
        "InstanceId.01",
        "InstanceId.99999999999",
        "Tag.-1.Key",
    ] {
        let params = v1_params(now(), &[(key, "i-1")]);
        let mut forged = v1_get(&params);
        forged.query = forged.query.map(|q| q.replace("Signature=", "Signature=x"));
        assert!(
            !check_err(&forged).code.contains("InvalidParameter"),
            "{key}"
        );
        assert_error(
            &check_err(&v1_get(&params)),
            400,
            "InvalidParameter",
            &format!("The specified parameter \"{key}\" is not valid."),
        );
    }
    let mut extra: Vec<(String, String)> = (1..=21)
        .map(|n| (format!("Tag.{n}.Key"), format!("k{n}")))
        .collect();
    let refs = |e: &[(String, String)]| -> BTreeMap<String, String> {
        let pairs: Vec<(&str, &str)> = e.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        v1_params(now(), &pairs)
    };
    assert!(check_err(&v1_get(&refs(&extra))).is(&ecs_wire::params::INVALID_TAG_COUNT));
    extra.pop();
    v1_get(&refs(&extra)).check(now()).unwrap();
}

#[test]
fn v3_form_body_parameters_join_the_map() {
    let body = b"InstanceId=i-1&AutoReleaseTime=2030-01-01T01%3A02%3A03Z";
    let mut req = v3_post(now(), &[("RegionId", "cn-hangzhou")], b"");
    // Re-sign with the body and a form content type.
    let query = [("RegionId".to_string(), "cn-hangzhou".to_string())].into();
    req.headers.retain(|(k, _)| k != "authorization");
    req.set_header("content-type", "application/x-www-form-urlencoded");
    req.set_header("x-acs-content-sha256", &content_sha256(body));
    let auth = authorization_v3(KEY_ID, "POST", "/", &query, &req.headers, body, SECRET);
    req.set_header("authorization", &auth);
    req.body = body.to_vec();
    req.check(now()).unwrap();
    let rpc = parse_request(&req.http()).unwrap();
    assert_eq!(
        rpc.params.get("AutoReleaseTime"),
        Some("2030-01-01T01:02:03Z")
    );
    assert_eq!(rpc.params.get("RegionId"), Some("cn-hangzhou"));
}

#[test]
fn security_tokens_are_surfaced() {
    let params = v1_params(now(), &[("SecurityToken", "tok")]);
    let rpc = parse_request(&v1_get(&params).http()).unwrap();
    assert_eq!(rpc.security_token.as_deref(), Some("tok"));
    // The STS token header is signed, as the SDKs do (an unsigned one is IncompleteSignature).
    let mut req = v3_post(now(), &[], b"");
    req.remove_header("authorization");
    req.set_header("x-acs-security-token", "tok3");
    let auth = authorization_v3(
        KEY_ID,
        "POST",
        "/",
        &BTreeMap::new(),
        &req.headers,
        b"",
        SECRET,
    );
    req.set_header("authorization", &auth);
    req.check(now()).unwrap();
    assert_eq!(
        parse_request(&req.http())
            .unwrap()
            .security_token
            .as_deref(),
        Some("tok3")
    );
}

#[test]
fn nonce_reuse_code_exists_for_the_caller() {
    let err = codes::SIGNATURE_NONCE_USED.err();
    assert_error(
        &err,
        400,
        "SignatureNonceUsed",
        "Specified signature nonce was used already.",
    );
}
