//! The baseline: a bare server on the same HTTP stack as ecsd (axum on a multi-threaded tokio
//! runtime with default settings) answering every request with one constant JSON body of the
//! size and shape of an ECS write answer. Nothing is parsed, verified or stored, so it is the
//! ceiling of this machine for this stack and this load generator.

use std::net::SocketAddr;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::Router;

/// The constant answer (an ECS write answer is `{"RequestId":"<uuid>"}`).
pub const BODY: &str = r#"{"RequestId":"6F3B1B3C-6C52-4A5E-9C3F-0D2E4B8A1C7D"}"#;

async fn constant() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json;charset=utf-8")], BODY)
}

async fn health() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], r#"{"status":"ok"}"#)
}

pub fn router() -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/", any(constant))
        .fallback(any(constant))
}

/// Serves until killed; prints `baseline listening on http://ADDR` once bound.
pub fn serve(listen: SocketAddr) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        println!("baseline listening on http://{bound}");
        axum::serve(listener, router())
            .await
            .map_err(|e| format!("server failed: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::load::{self, LoadSpec, Workload};
    use crate::sign::EcsClient;

    #[tokio::test]
    async fn the_generator_drives_the_baseline_without_errors() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, super::router()).await });
        let workload = Workload::EcsModify {
            client: EcsClient::new(addr.to_string(), "k", "s"),
            ids: Arc::new(vec!["i-1".into()]),
            base: chrono::Utc::now() + chrono::TimeDelta::hours(2),
        };
        let spec = LoadSpec {
            concurrency: 4,
            warmup: Duration::ZERO,
            duration: Duration::from_secs(60),
            max_requests: Some(200),
            thorough_every: 10,
        };
        let r = load::run(addr, Arc::new(workload), spec, None).await;
        assert_eq!(r.errors, 0, "first error: {:?}", r.first_error);
        assert_eq!(r.requests, 200);
        assert_eq!(r.sent, 200);
        assert!(
            r.thorough_checks >= 4,
            "each connection checks its first answer fully"
        );
        assert_eq!(r.reconnects, 0, "the baseline keeps connections alive");
    }
}
