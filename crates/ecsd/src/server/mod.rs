//! The HTTP shell: the RPC endpoint at `/`, health, and the admin API.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use serde_json::json;

use crate::app::App;

pub mod admin;
pub mod listen;
pub mod rpc;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", any(rpc::handle))
        .route("/health", get(health))
        .nest("/admin", admin::router(app.clone()))
        .fallback(any(rpc::handle))
        .with_state(app)
}

async fn health(axum::extract::State(app): axum::extract::State<Arc<App>>) -> Response {
    (
        StatusCode::OK,
        Json(json!({
            "status": "ok",
            "store": app.service.engine(),
            "clock": app.service.clock().mode().as_str(),
        })),
    )
        .into_response()
}
