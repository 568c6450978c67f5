//! The HTTP shell: the RPC endpoint at `/`, health, the admin API, and the web console under
//! `/console` (see [`crate::console`]; its pages, errors included, are HTML of its own).
//!
//! Every answer outside the admin API is an ECS error envelope when it is an error: unknown
//! paths and methods go to the RPC handler, which refuses them as the gateway does
//! (`InvalidAction.NotFound` 404, `UnsupportedHTTPMethod` 400), and requests hyper cannot parse
//! are answered by `head_refusal`.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, MethodRouter};
use axum::{Json, Router};
use serde_json::json;

use crate::app::App;

pub mod access_log;
pub mod admin;
pub mod head_refusal;
pub mod listen;
pub mod rpc;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", rpc_endpoint())
        // Other methods on /health would get axum's bare 405; the RPC handler answers them
        // with the envelope the gateway gives for a path it does not serve.
        .route("/health", get(health).fallback(rpc_endpoint()))
        .nest("/admin", admin::router(app.clone()))
        .nest("/console", crate::console::router())
        .route("/console/", get(crate::console::home))
        .fallback(rpc_endpoint())
        .with_state(app)
}

/// The RPC handler with its request log.
fn rpc_endpoint() -> MethodRouter<Arc<App>> {
    any(rpc::handle).layer(middleware::from_fn(access_log::record))
}

async fn health(axum::extract::State(app): axum::extract::State<Arc<App>>) -> Response {
    (
        StatusCode::OK,
        Json(json!({
            "status": "ok",
            "store": app.service.engine(),
            "clock": app.service.clock().mode().as_str(),
            // Whether this process leads the upkeep of a store it may share with others.
            "upkeep_leader": app.scheduler.is_leading(),
        })),
    )
        .into_response()
}
