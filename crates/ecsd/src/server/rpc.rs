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
    error_format, new_request_id, parse_request, render_error, render_success, verify_signature,
    Format, HttpRequest, HttpResponse,
};
use serde_json::Value;

use crate::app::App;
use crate::ops::{self, OpCtx};

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
    let method = method.as_str().to_string();
    let path = uri.path().to_string();
    let query = uri.query().map(str::to_string);
    // Store calls block; the whole call runs on a blocking thread.
    let result = tokio::task::spawn_blocking(move || {
        let http = HttpRequest {
            method: &method,
            path: &path,
            query: query.as_deref(),
            headers: &headers,
            body: &body,
        };
        serve(&app, &http)
    })
    .await;
    let rendered = match result {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "request handler failed");
            render_error(
                Format::Json,
                &new_request_id(),
                DEFAULT_HOST_ID,
                &INTERNAL_ERROR.err(),
            )
        }
    };
    to_response(rendered)
}

fn serve(app: &Arc<App>, http: &HttpRequest) -> HttpResponse {
    let request_id = new_request_id();
    let req = match parse_request(http) {
        Ok(r) => r,
        Err(e) => {
            let host = http.header("host").unwrap_or(DEFAULT_HOST_ID);
            return render_error(error_format(http), &request_id, host, &e);
        }
    };
    let host = if req.host.is_empty() {
        DEFAULT_HOST_ID
    } else {
        &req.host
    };
    match dispatch(app, &req, http, &request_id) {
        Ok((action, body)) => render_success(&action, req.format, &body),
        Err(e) => {
            if e.status >= 500 {
                tracing::warn!(code = %e.code, "server error answered");
            }
            render_error(req.format, &request_id, host, &e)
        }
    }
}

fn dispatch(
    app: &Arc<App>,
    req: &ecs_wire::RpcRequest,
    http: &HttpRequest,
    request_id: &str,
) -> Result<(String, Value), ApiError> {
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
    let ctx = OpCtx {
        app,
        account_id: key.account_id,
        now: app.clock.now(),
        params: &req.params,
    };
    let mut fields = (op.run)(&ctx)?;
    fields.insert("RequestId".into(), Value::String(request_id.to_string()));
    tracing::debug!(action, request_id, "answered");
    Ok((op.name.to_string(), Value::Object(fields)))
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
