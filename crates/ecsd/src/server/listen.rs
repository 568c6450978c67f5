//! Serving connections: HTTP/1.1 (what every SDK speaks) with hyper, keep-alive, and a time
//! limit on request headers.
//!
//! `axum::serve` gives hyper no timer, so a client that opens a connection and never finishes
//! its headers holds it forever. Here hyper gets one: a request's headers must arrive within
//! [`HEADER_TIMEOUT`], which also closes a keep-alive connection left idle that long (the SDKs'
//! connection pools notice a closed connection and open a new one). Bodies have their own limit
//! in the RPC handler.
//!
//! hyper's own answers to requests it cannot parse (empty 400/414/431) are turned into ECS
//! error envelopes on the way out; see [`super::head_refusal`] for why it is done there.

use std::pin::pin;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::head_refusal::EnvelopeRefusals;

/// How long a client may take to send a request's headers, or leave a connection idle.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long shutting down waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` completes, then lets connections finish the
/// request they are on (up to [`DRAIN_TIMEOUT`]) and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()>,
) {
    // Each connection holds a receiver; the sender learns when they are all gone.
    let (closing, closed) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(router.clone());
        let mut closed = closed.clone();
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let mut conn =
                pin!(http.serve_connection(TokioIo::new(EnvelopeRefusals::new(stream)), service));
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = closed.wait_for(|closing| *closing) => conn.as_mut().graceful_shutdown(),
            }
            // Shutting down: the request in flight is answered, then the connection closes.
            let _ = conn.await;
        });
    }
    drop(listener);
    drop(closed);
    let _ = closing.send(true);
    if tokio::time::timeout(DRAIN_TIMEOUT, closing.closed())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain time; stopping anyway");
    }
}
