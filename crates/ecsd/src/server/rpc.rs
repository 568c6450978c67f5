//! The RPC endpoint: parse, authenticate, dispatch, render. Every answer carries a fresh
//! RequestId; every failure is an ECS error envelope, never a bare 500.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use ecs_domain::error::common::{INTERNAL_ERROR, INVALID_REGION_ID};
use ecs_domain::{ApiError, ErrorCode};
use ecs_wire::codes::{INVALID_ACTION_NOT_FOUND, SIGNATURE_NONCE_USED};
use ecs_wire::{
    error_format, new_request_id, parse_request, render_error, render_success, render_success_json,
    verify_signature, Caller, Format, HttpRequest, HttpResponse, RpcRequest,
};
use serde_json::{Map, Value};

use crate::app::App;
use crate::ops::{self, Answer, OpCtx, Operation};
use crate::server::access_log;
use ecs_service::RequestNonce;

/// The HostId errors show when the client sent no Host header.
pub(crate) const DEFAULT_HOST_ID: &str = "ecs.aliyuncs.com";

pub async fn handle(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let request_id = new_request_id();
    access_log::note_request_id(&request_id);
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(e) => {
            access_log::note_error(&e);
            // The format can still come from the query and the headers.
            let http = HttpRequest {
                method: method.as_str(),
                path: uri.path(),
                query: uri.query(),
                headers: &headers,
                body: &[],
            };
            let host = http.header("host").unwrap_or(DEFAULT_HOST_ID).to_string();
            return to_response(render_error(error_format(&http), &request_id, &host, &e));
        }
    };
    let http = HttpRequest {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query(),
        headers: &headers,
        body: &body,
    };
    let call = match accept(&app, &http).await {
        Ok(call) => call,
        Err((format, host, e)) => {
            access_log::note_error(&e);
            return to_response(render_error(format, &request_id, &host, &e));
        }
    };
    to_response(answer(&app, &call, &request_id).await)
}

/// The largest request body read. ECS calls are a few KB at most; a bigger body is refused in
/// an error envelope the SDKs can read, rather than by the HTTP layer in plain text.
const MAX_BODY: usize = 2 * 1024 * 1024;
/// How long a client may take to send its body once its headers are in. A client that stops
/// half way gets an answer and the connection back, instead of holding it forever.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of a refused, over-long body is still read (and dropped) so its sender sees the
/// answer; past this the connection is closed under it.
const MAX_DRAINED: usize = 64 * 1024 * 1024;

const BODY_TOO_LARGE: ErrorCode = ErrorCode::new(
    413,
    "InvalidParameter",
    "The request body is larger than the 2 MiB this endpoint accepts.",
);
const BODY_TIMED_OUT: ErrorCode = ErrorCode::new(
    408,
    "RequestTimeout",
    "The request body was not received in time.",
);
const BODY_UNREADABLE: ErrorCode = ErrorCode::new(
    400,
    "InvalidParameter",
    "The request body could not be read.",
);

async fn read_body(mut body: Body) -> Result<Vec<u8>, ApiError> {
    // A Content-Length over the limit is refused before reading anything (hyper takes the
    // size hint from it), rather than after 2 MiB or a 30 s wait for a body never sent.
    if body.size_hint().lower() > MAX_BODY as u64 {
        // The client may still be sending: a client that writes the whole body before reading
        // (urllib does) would meet a closed socket and never see the answer. So the body is
        // read and dropped in the background, a bounded amount for a bounded time, while the
        // answer goes out.
        tokio::spawn(async move {
            let drain = async {
                let mut seen = 0usize;
                while let Some(Ok(frame)) =
                    std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
                {
                    seen += frame.data_ref().map_or(0, |d| d.len());
                    if seen > MAX_DRAINED {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(BODY_TIMEOUT, drain).await;
        });
        return Err(BODY_TOO_LARGE.err());
    }
    let read = async {
        let mut buf = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame = frame.map_err(|_| BODY_UNREADABLE.err())?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > MAX_BODY {
                    return Err(BODY_TOO_LARGE.err());
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(buf)
    };
    tokio::time::timeout(BODY_TIMEOUT, read)
        .await
        .unwrap_or_else(|_| Err(BODY_TIMED_OUT.err()))
}

/// An authenticated call to a known operation.
struct Call {
    req: RpcRequest,
    auth: Authorized,
}

/// Parses and authenticates a request and finds its operation. A refusal comes with the format
/// and HostId to render it in.
async fn accept(app: &App, http: &HttpRequest<'_>) -> Result<Call, (Format, String, ApiError)> {
    let req = parse_request(http).map_err(|e| {
        let (action, key) = claimed_caller(http);
        access_log::note_caller(action.as_deref(), key.as_deref().unwrap_or("-"));
        let host = http.header("host").unwrap_or(DEFAULT_HOST_ID).to_string();
        (error_format(http), host, e)
    })?;
    access_log::note_caller(req.action.as_deref(), req.auth.access_key_id());
    match authorize(app, &req, http).await {
        Ok(auth) => Ok(Call { req, auth }),
        Err(e) => Err((req.format, host_id(&req).to_string(), e)),
    }
}

/// Who a request that could not be parsed says it is, and what it asks for, for the request
/// log only: the `Action` and `AccessKeyId` parameters of the query (V1), or the
/// `x-acs-action` header and the Authorization's credential (V3). Nothing here is trusted.
fn claimed_caller(http: &HttpRequest) -> (Option<String>, Option<String>) {
    let query = ecs_wire::encode::form_decode(http.query.unwrap_or_default().as_bytes());
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let action = http
        .header("x-acs-action")
        .map(str::to_string)
        .or_else(|| param("Action"));
    let key = http
        .header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|rest| rest.split([',', ' ']).next())
        .map(str::to_string)
        .or_else(|| param("AccessKeyId"));
    (action, key)
}

/// The HostId errors show: the Host the client addressed.
fn host_id(req: &RpcRequest) -> &str {
    if req.host.is_empty() {
        DEFAULT_HOST_ID
    } else {
        &req.host
    }
}

struct Authorized {
    op: &'static Operation,
    account_id: i64,
    /// Who signed, with which nonce.
    caller: Caller,
    /// When (by the real clock) the request arrived.
    arrived: DateTime<Utc>,
}

async fn authorize(
    app: &App,
    req: &RpcRequest,
    http: &HttpRequest<'_>,
) -> Result<Authorized, ApiError> {
    let real_now = Utc::now();
    let service = &app.service;
    // A store that cannot be asked for the key is an outage, not an unknown key: the
    // verifier only sees "no secret", so the lookup's failure is kept and answered instead.
    let outage = std::cell::RefCell::new(None);
    let verified = verify_signature(
        req,
        http,
        real_now,
        &|id| match service.find_access_key(id) {
            Ok(key) => key.map(|k| k.secret),
            Err(e) => {
                *outage.borrow_mut() = Some(e);
                None
            }
        },
    );
    if let Some(e) = outage.into_inner() {
        return Err(e);
    }
    let caller = verified?;
    if !service
        .accept_nonce(&caller.access_key_id, &caller.nonce, real_now)
        .await?
    {
        return Err(SIGNATURE_NONCE_USED.err());
    }
    req.check_version()?;
    let action = req.action()?;
    let op = ops::find(action).ok_or_else(|| INVALID_ACTION_NOT_FOUND.err())?;
    // Every operation is regional: a RegionId, where sent (the classic SDKs always send the
    // client's), must be one this server offers.
    if let Some(region) = req.params.non_empty("RegionId") {
        if service.catalog().region(region).is_none() {
            return Err(INVALID_REGION_ID.err());
        }
    }
    let key = service
        .access_key(&caller.access_key_id)
        .ok_or_else(|| INTERNAL_ERROR.err())?;
    Ok(Authorized {
        op,
        account_id: key.account_id,
        caller,
        arrived: real_now,
    })
}

/// Runs the operation and renders its answer or its error.
///
/// Operations run on the request's task: reads are short snapshot lookups, and writes hand their
/// transaction to the store's writer and wait for its commit without holding a thread.
async fn answer(app: &Arc<App>, call: &Call, request_id: &str) -> HttpResponse {
    let ctx = OpCtx {
        service: &app.service,
        caller: ecs_service::Caller {
            account_id: call.auth.account_id,
            request: Some(RequestNonce::new(
                call.auth.caller.access_key_id.clone(),
                call.auth.caller.nonce.clone(),
                call.auth.arrived,
            )),
        },
        params: &call.req.params,
    };
    let outcome = (call.auth.op.run)(&ctx).await;
    if outcome.is_err() {
        // A refused request's nonce is kept durably, wherever it was refused (a parameter
        // read here, a rule in the service), so its replay is refused after a restart too.
        app.service.record_refusal(&ctx.caller).await;
    }
    let rendered = match outcome {
        Ok(Answer::Fields(fields)) => Ok(success(call, request_id, fields)),
        Ok(Answer::Typed(body)) => match call.req.format {
            Format::Json => body.to_json(request_id).map(render_success_json),
            Format::Xml => body
                .to_fields()
                .map(|fields| success(call, request_id, fields)),
        }
        .map_err(|e| {
            tracing::error!(error = %e, action = call.auth.op.name, "cannot serialize an answer");
            INTERNAL_ERROR.err()
        }),
        Err(e) => Err(e),
    };
    match rendered {
        Ok(response) => response,
        Err(e) => {
            access_log::note_error(&e);
            if e.status >= 500 {
                tracing::warn!(code = %e.code, action = call.auth.op.name, "server error answered");
            }
            render_error(call.req.format, request_id, host_id(&call.req), &e)
        }
    }
}

/// A success document from an answer's fields.
fn success(call: &Call, request_id: &str, mut fields: Map<String, Value>) -> HttpResponse {
    fields.insert("RequestId".into(), Value::String(request_id.to_string()));
    render_success(call.auth.op.name, call.req.format, &Value::Object(fields))
}

fn to_response(r: HttpResponse) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, r.body).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static(r.content_type),
    );
    resp
}
