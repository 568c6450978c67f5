//! The RPC endpoint: parse, authenticate, dispatch, render. Every answer carries a fresh
//! RequestId; every failure is an ECS error envelope, never a bare 500.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use ecs_domain::error::common::{INTERNAL_ERROR, INVALID_REGION_ID};
use ecs_domain::ApiError;
use ecs_wire::codes::{INVALID_ACTION_NOT_FOUND, SIGNATURE_NONCE_USED};
use ecs_wire::{
    error_format, new_request_id, parse_request, render_error, render_success, render_success_json,
    verify_signature, Format, HttpRequest, HttpResponse, RpcRequest,
};
use serde_json::{Map, Value};

use crate::app::App;
use crate::ops::{self, Answer, OpCtx, Operation};

/// The HostId errors show when the client sent no Host header.
const DEFAULT_HOST_ID: &str = "ecs.aliyuncs.com";

pub async fn handle(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
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
    let http = HttpRequest {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query(),
        headers: &headers,
        body: &body,
    };
    let request_id = new_request_id();
    let call = match accept(&app, &http) {
        Ok(call) => call,
        Err((format, host, e)) => return to_response(render_error(format, &request_id, &host, &e)),
    };
    to_response(answer(&app, &call, &request_id).await)
}

/// An authenticated call to a known operation.
struct Call {
    req: RpcRequest,
    op: &'static Operation,
    account_id: i64,
}

/// Parses and authenticates a request and finds its operation. A refusal comes with the format
/// and HostId to render it in.
fn accept(app: &App, http: &HttpRequest) -> Result<Call, (Format, String, ApiError)> {
    let req = parse_request(http).map_err(|e| {
        let host = http.header("host").unwrap_or(DEFAULT_HOST_ID).to_string();
        (error_format(http), host, e)
    })?;
    match authorize(app, &req, http) {
        Ok((op, account_id)) => Ok(Call {
            req,
            op,
            account_id,
        }),
        Err(e) => Err((req.format, host_id(&req).to_string(), e)),
    }
}

/// The HostId errors show: the Host the client addressed.
fn host_id(req: &RpcRequest) -> &str {
    if req.host.is_empty() {
        DEFAULT_HOST_ID
    } else {
        &req.host
    }
}

fn authorize(
    app: &App,
    req: &RpcRequest,
    http: &HttpRequest,
) -> Result<(&'static Operation, i64), ApiError> {
    let real_now = Utc::now();
    let caller = verify_signature(req, http, real_now, &|id| {
        app.access_key(id).map(|k| k.secret)
    })?;
    if !app.remember_nonce(&caller.access_key_id, &caller.nonce, real_now) {
        return Err(SIGNATURE_NONCE_USED.err());
    }
    req.check_version()?;
    let action = req.action()?;
    let op = ops::find(action).ok_or_else(|| INVALID_ACTION_NOT_FOUND.err())?;
    // Every operation is regional: a RegionId, where sent (the classic SDKs always send the
    // client's), must be one this server offers.
    if let Some(region) = req.params.non_empty("RegionId") {
        if app.catalog.region(region).is_none() {
            return Err(INVALID_REGION_ID.err());
        }
    }
    let key = app
        .access_key(&caller.access_key_id)
        .ok_or_else(|| INTERNAL_ERROR.err())?;
    Ok((op, key.account_id))
}

/// Runs the operation and renders its answer or its error.
///
/// Operations run on the request's task: reads are short snapshot lookups, and writes hand their
/// transaction to the store's writer and wait for its commit without holding a thread.
async fn answer(app: &Arc<App>, call: &Call, request_id: &str) -> HttpResponse {
    let ctx = OpCtx {
        app,
        account_id: call.account_id,
        now: app.clock.now(),
        params: &call.req.params,
    };
    let rendered = match (call.op.run)(&ctx).await {
        Ok(Answer::Fields(fields)) => Ok(success(call, request_id, fields)),
        Ok(Answer::Typed(body)) => match call.req.format {
            Format::Json => body.to_json(request_id).map(render_success_json),
            Format::Xml => body
                .to_fields()
                .map(|fields| success(call, request_id, fields)),
        }
        .map_err(|e| {
            tracing::error!(error = %e, action = call.op.name, "cannot serialize an answer");
            INTERNAL_ERROR.err()
        }),
        Err(e) => Err(e),
    };
    match rendered {
        Ok(response) => response,
        Err(e) => {
            if e.status >= 500 {
                tracing::warn!(code = %e.code, action = call.op.name, "server error answered");
            }
            render_error(call.req.format, request_id, host_id(&call.req), &e)
        }
    }
}

/// A success document from an answer's fields.
fn success(call: &Call, request_id: &str, mut fields: Map<String, Value>) -> HttpResponse {
    fields.insert("RequestId".into(), Value::String(request_id.to_string()));
    render_success(call.op.name, call.req.format, &Value::Object(fields))
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
