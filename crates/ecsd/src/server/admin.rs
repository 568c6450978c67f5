//! The admin API under `/admin/`: the clock, events, balances and reset. Off unless
//! `ECSD_ADMIN_TOKEN` is set; every call needs `Authorization: Bearer <token>`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ecs_domain::{ApiError, Money};
use ecs_store::Event;
use serde_json::{json, Value};

use crate::app::App;
use crate::secrets::report;
use ecs_scheduler::JumpError;
use ecs_service::clock::{latest_time, AdvanceError};

pub fn router(app: Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .route("/clock", get(clock))
        .route("/clock/advance", post(advance))
        .route("/events", get(events))
        .route(
            "/accounts/{access_key_id}/balance",
            get(get_balance).put(set_balance),
        )
        .route(
            "/accounts/{access_key_id}/instances/{instance_id}/interrupt",
            post(interrupt_spot),
        )
        .route("/reset", post(reset))
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn_with_state(app, require_token))
}

async fn method_not_allowed() -> Response {
    problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "this method is not allowed on this admin path",
    )
}

/// The request body as a JSON object, whatever its Content-Type says; anything else is a 400
/// in the admin API's own error shape (the framework's rejections would be plain text).
fn json_object(
    body: &[u8],
    expected: &str,
) -> Result<serde_json::Map<String, Value>, Box<Response>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err(Box::new(problem(
            StatusCode::BAD_REQUEST,
            &format!("expected a JSON body {expected}"),
        ))),
    }
}

async fn require_token(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let Some(expected) = app.admin_token.as_deref() else {
        return problem(
            StatusCode::NOT_FOUND,
            "the admin API is off (ECSD_ADMIN_TOKEN is not set)",
        );
    };
    let sent = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !sent.is_some_and(|sent| same_token(sent.as_bytes(), expected.as_bytes())) {
        return problem(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    next.run(req).await
}

/// Compares a sent token with the real one in time that does not depend on where they first
/// differ: `==` stops at the first wrong byte, so timing many guesses would reveal the token a
/// byte at a time. Every byte position up to the longer length is visited and the differences
/// are OR-ed together; only the length can be learned, which says little about a random
/// token. `black_box` keeps the optimiser from turning the loop back into an early exit.
pub(crate) fn same_token(sent: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(sent.len() != expected.len());
    for i in 0..sent.len().max(expected.len()) {
        let a = sent.get(i).copied().unwrap_or(0);
        let b = expected.get(i).copied().unwrap_or(0);
        diff = std::hint::black_box(diff | (a ^ b));
    }
    diff == 0
}

fn problem(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// A 500 that says what failed, causes included, in the same words the command line uses.
fn failed(error: &dyn std::error::Error) -> Response {
    problem(StatusCode::INTERNAL_SERVER_ERROR, &report(error))
}

/// A service error keeps its status where it says the store is out of reach (503: retry
/// later); anything else is the server's failure (500).
fn service_failed(error: &ApiError) -> Response {
    match StatusCode::from_u16(error.status) {
        Ok(StatusCode::SERVICE_UNAVAILABLE) => {
            problem(StatusCode::SERVICE_UNAVAILABLE, &report(error))
        }
        _ => failed(error),
    }
}

async fn clock(State(app): State<Arc<App>>) -> Response {
    Json(json!({
        "now": app.service.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "mode": app.service.clock().mode().as_str(),
    }))
    .into_response()
}

async fn advance(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let body = match json_object(&body, "{\"seconds\": N}") {
        Ok(fields) => fields,
        Err(refused) => return *refused,
    };
    let Some(seconds) = body.get("seconds").and_then(Value::as_i64) else {
        return problem(StatusCode::BAD_REQUEST, "seconds must be a whole number");
    };
    match app.scheduler.jump(seconds).await {
        Ok((to, actions)) => Json(json!({
            "now": to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "actions": actions,
        }))
        .into_response(),
        Err(JumpError::Clock(AdvanceError::RealClock)) => problem(
            StatusCode::CONFLICT,
            "the clock is real; start with --clock virtual",
        ),
        Err(JumpError::Clock(AdvanceError::Backwards)) => {
            problem(StatusCode::BAD_REQUEST, "the clock cannot move backwards")
        }
        Err(JumpError::Clock(AdvanceError::TooFar)) => problem(
            StatusCode::BAD_REQUEST,
            &format!(
                "too far: the clock stops at {}, the latest time ECS answers can show with \
                 room for every time derived from it",
                latest_time().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        ),
        Err(JumpError::Failed(e)) => service_failed(&e),
    }
}

fn event_json(e: &Event) -> Value {
    let ev = &e.event;
    json!({
        "cursor": e.seq.to_string(),
        "account_id": ev.account_id,
        "resource_type": ev.resource.as_str(),
        "resource_id": ev.resource_id,
        "action": ev.action,
        "scheduled_at": ev.scheduled_at.map(rfc3339),
        "happened_at": rfc3339(ev.happened_at),
        "outcome": ev.outcome,
        "detail": ev.detail,
    })
}

/// Times in admin answers: RFC 3339 in UTC with a `Z`, fractions only when there are some.
fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// One value per name: a query naming one twice is refused rather than guessed at.
fn query_value<'q>(
    pairs: &'q [(String, String)],
    name: &str,
) -> Result<Option<&'q str>, Box<Response>> {
    let mut found = pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = found.next();
    if found.next().is_some() {
        return Err(Box::new(problem(
            StatusCode::BAD_REQUEST,
            &format!("{name} is given more than once"),
        )));
    }
    Ok(first)
}

async fn events(State(app): State<Arc<App>>, RawQuery(query): RawQuery) -> Response {
    let pairs = ecs_wire::encode::form_decode(query.as_deref().unwrap_or_default().as_bytes());
    let (since, limit) = match (query_value(&pairs, "since"), query_value(&pairs, "limit")) {
        (Ok(since), Ok(limit)) => (since, limit),
        (Err(refused), _) | (_, Err(refused)) => return *refused,
    };
    let limit = match limit {
        None => 1000,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=10_000).contains(&n) => n,
            _ => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "limit must be a whole number from 1 to 10000",
                )
            }
        },
    };
    let since = match since {
        None | Some("") => 0,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 0 => n,
            _ => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "since must be a cursor from a previous answer",
                )
            }
        },
    };
    let worker = app.clone();
    let result =
        tokio::task::spawn_blocking(move || worker.service.events_after(since, limit)).await;
    match result {
        Ok(Ok(list)) => {
            let next = list.last().map(|e| e.seq).unwrap_or(since);
            Json(json!({
                "events": list.iter().map(event_json).collect::<Vec<_>>(),
                "next": next.to_string(),
            }))
            .into_response()
        }
        Ok(Err(e)) => service_failed(&e),
        Err(e) => failed(&e),
    }
}

/// Interrupts a spot instance: locked `recycling` now, released after ECS's notice period.
async fn interrupt_spot(
    State(app): State<Arc<App>>,
    Path((key_id, instance_id)): Path<(String, String)>,
) -> Response {
    use ecs_service::admin::InterruptError;
    let worker = app.clone();
    let result = tokio::task::spawn_blocking(move || {
        worker
            .service
            .interrupt_spot_instance(&key_id, &instance_id)
            .map(|r| (r, instance_id))
    })
    .await;
    match result {
        Ok(Ok((Ok(release_at), id))) => Json(json!({
            "instance_id": id,
            "lock_reason": "recycling",
            "release_time": rfc3339(release_at),
        }))
        .into_response(),
        Ok(Ok((Err(InterruptError::NoSuchKey), _))) => {
            problem(StatusCode::NOT_FOUND, "no such access key")
        }
        Ok(Ok((Err(InterruptError::NoSuchInstance), _))) => problem(
            StatusCode::NOT_FOUND,
            "no such instance in the account of that key",
        ),
        Ok(Ok((Err(InterruptError::NotSpot), _))) => problem(
            StatusCode::CONFLICT,
            "only spot instances (SpotStrategy other than NoSpot) can be interrupted",
        ),
        Ok(Ok((Err(InterruptError::AlreadyInterrupted), _))) => problem(
            StatusCode::CONFLICT,
            "the instance was already interrupted and waits for its release",
        ),
        Ok(Err(e)) => service_failed(&e),
        Err(e) => failed(&e),
    }
}

async fn get_balance(State(app): State<Arc<App>>, Path(key_id): Path<String>) -> Response {
    balance(app, key_id, None).await
}

async fn set_balance(
    State(app): State<Arc<App>>,
    Path(key_id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match json_object(&body, "{\"balance\": \"123.45\"}") {
        Ok(fields) => fields,
        Err(refused) => return *refused,
    };
    let parsed = match body.get("balance") {
        Some(Value::String(s)) => s.parse::<Money>().ok(),
        Some(Value::Number(n)) => n.to_string().parse::<Money>().ok(),
        _ => None,
    };
    let Some(amount) = parsed else {
        return problem(
            StatusCode::BAD_REQUEST,
            "balance must be a decimal string such as \"123.45\"",
        );
    };
    balance(app, key_id, Some(amount)).await
}

async fn balance(app: Arc<App>, key_id: String, set: Option<Money>) -> Response {
    let worker = app.clone();
    let id = key_id.clone();
    let result =
        tokio::task::spawn_blocking(move || worker.service.key_account_balance(&id, set)).await;
    match result {
        Ok(Ok(Some(account))) => Json(json!({
            "access_key_id": key_id,
            "account": account.name,
            "balance": account.balance,
        }))
        .into_response(),
        Ok(Ok(None)) => problem(StatusCode::NOT_FOUND, "no such AccessKeyId"),
        Ok(Err(e)) => service_failed(&e),
        Err(e) => failed(&e),
    }
}

async fn reset(State(app): State<Arc<App>>) -> Response {
    let worker = app.clone();
    let result = app
        .scheduler
        .exclusive(|| tokio::task::spawn_blocking(move || worker.service.reset()))
        .await
        .await;
    match result {
        Ok(Ok(())) => Json(json!({ "reset": true })).into_response(),
        Ok(Err(e)) => service_failed(&e),
        Err(e) => failed(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::same_token;

    #[test]
    fn tokens_compare_by_content_and_length() {
        assert!(same_token(b"s3cret-token", b"s3cret-token"));
        assert!(same_token(b"", b""));
        assert!(!same_token(b"s3cret-tokeN", b"s3cret-token"));
        assert!(!same_token(b"x3cret-token", b"s3cret-token"));
        // A prefix, an extension, and a sent token that is empty.
        assert!(!same_token(b"s3cret", b"s3cret-token"));
        assert!(!same_token(b"s3cret-token-and-more", b"s3cret-token"));
        assert!(!same_token(b"", b"s3cret-token"));
        // Differences that cancel under addition or XOR of whole strings still differ here.
        assert!(!same_token(b"ab", b"ba"));
        assert!(!same_token(b"\x00\x01", b"\x01\x00"));
    }
}
