//! The admin API under `/admin/`: the clock, events, balances and reset. Off unless
//! `ECSD_ADMIN_TOKEN` is set; every call needs `Authorization: Bearer <token>`.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ecs_domain::Money;
use ecs_store::Event;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::App;
use crate::clock::{AdvanceError, VIRTUAL_NOW_SETTING};
use crate::scheduler;

pub fn router(app: Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .route("/clock", get(clock))
        .route("/clock/advance", post(advance))
        .route("/events", get(events))
        .route(
            "/accounts/{access_key_id}/balance",
            get(get_balance).put(set_balance),
        )
        .route("/reset", post(reset))
        .route_layer(middleware::from_fn_with_state(app, require_token))
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
    if sent != Some(expected) {
        return problem(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    next.run(req).await
}

fn problem(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn clock(State(app): State<Arc<App>>) -> Response {
    Json(json!({
        "now": app.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "mode": app.clock.mode().as_str(),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct AdvanceBody {
    seconds: Value,
}

async fn advance(State(app): State<Arc<App>>, body: Option<Json<AdvanceBody>>) -> Response {
    let Some(Json(body)) = body else {
        return problem(
            StatusCode::BAD_REQUEST,
            "expected a JSON body {\"seconds\": N}",
        );
    };
    let Some(seconds) = body.seconds.as_i64() else {
        return problem(StatusCode::BAD_REQUEST, "seconds must be a whole number");
    };
    let _guard = app.lifecycle_lock.lock().await;
    let to = match app.clock.advanced_by(seconds) {
        Ok(t) => t,
        Err(AdvanceError::RealClock) => {
            return problem(
                StatusCode::CONFLICT,
                "the clock is real; start with --clock virtual",
            )
        }
        Err(AdvanceError::Backwards) => {
            return problem(StatusCode::BAD_REQUEST, "the clock cannot move backwards")
        }
        Err(AdvanceError::Overflow) => return problem(StatusCode::BAD_REQUEST, "too far"),
    };
    let from = app.clock.now();
    let worker = app.clone();
    let result = tokio::task::spawn_blocking(move || {
        // The new time is stored before anything runs at it, so a crash mid-way resumes there
        // and catches up.
        let stamp = to.to_rfc3339();
        worker.write(move |tx| Ok(tx.put_setting(VIRTUAL_NOW_SETTING, &stamp)?))?;
        worker
            .clock
            .set(to)
            .map_err(|_| ecs_domain::error::common::INTERNAL_ERROR.err())?;
        scheduler::run_due(&worker, to, Some(from))
    })
    .await;
    match result {
        Ok(Ok(actions)) => Json(json!({
            "now": to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "actions": actions,
        }))
        .into_response(),
        Ok(Err(e)) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

#[derive(Deserialize)]
struct EventsQuery {
    since: Option<String>,
    limit: Option<u32>,
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

async fn events(State(app): State<Arc<App>>, Query(q): Query<EventsQuery>) -> Response {
    let since = match q.since.as_deref() {
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
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let worker = app.clone();
    let result = tokio::task::spawn_blocking(move || {
        worker.read(move |tx| Ok(tx.events_after(since, limit)?))
    })
    .await;
    match result {
        Ok(Ok(list)) => {
            let next = list.last().map(|e| e.seq).unwrap_or(since);
            Json(json!({
                "events": list.iter().map(event_json).collect::<Vec<_>>(),
                "next": next.to_string(),
            }))
            .into_response()
        }
        Ok(Err(e)) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn get_balance(State(app): State<Arc<App>>, Path(key_id): Path<String>) -> Response {
    balance(app, key_id, None).await
}

#[derive(Deserialize)]
struct BalanceBody {
    balance: Value,
}

async fn set_balance(
    State(app): State<Arc<App>>,
    Path(key_id): Path<String>,
    body: Option<Json<BalanceBody>>,
) -> Response {
    let Some(Json(body)) = body else {
        return problem(
            StatusCode::BAD_REQUEST,
            "expected a JSON body {\"balance\": \"123.45\"}",
        );
    };
    let parsed = match &body.balance {
        Value::String(s) => s.parse::<Money>().ok(),
        Value::Number(n) => n.to_string().parse::<Money>().ok(),
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
    let Some(key) = app.access_key(&key_id) else {
        return problem(StatusCode::NOT_FOUND, "no such AccessKeyId");
    };
    let worker = app.clone();
    let account_id = key.account_id;
    let result = tokio::task::spawn_blocking(move || {
        if let Some(amount) = set {
            worker.write(move |tx| Ok(tx.set_balance(account_id, amount)?))?;
        }
        worker.read(move |tx| Ok(tx.account(account_id)?))
    })
    .await;
    match result {
        Ok(Ok(Some(account))) => Json(json!({
            "access_key_id": key_id,
            "account": account.name,
            "balance": account.balance,
        }))
        .into_response(),
        Ok(Ok(None)) => problem(StatusCode::NOT_FOUND, "the key's account is gone"),
        Ok(Err(e)) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn reset(State(app): State<Arc<App>>) -> Response {
    let _guard = app.lifecycle_lock.lock().await;
    let worker = app.clone();
    let result = tokio::task::spawn_blocking(move || worker.write(|tx| Ok(tx.reset()?))).await;
    match result {
        Ok(Ok(())) => Json(json!({ "reset": true })).into_response(),
        Ok(Err(e)) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
