//! The emulator's own panel: the cloud's clock with controls to advance it, what the scheduler
//! did (the lifecycle events), account balances, and reset. The admin API's powers, so it needs
//! the admin token (`ECSD_ADMIN_TOKEN`), entered once per session; without the token set, the
//! panel is off as the admin API is.
//!
//! Advancing goes through the scheduler's jump, as `POST /admin/clock/advance` does: every
//! action that falls due on the way is carried out, in due order, before the page comes back.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ecs_domain::Money;
use ecs_scheduler::JumpError;
use ecs_service::clock::AdvanceError;
use serde::{Deserialize, Serialize};

use super::form::Fields;
use super::session::{self, Session};
use super::view::{self, Chrome, TimeView};
use super::{message, page, see_other, unavailable};
use crate::app::App;
use crate::server::admin::same_token;

/// How many of the latest events the panel lists.
const EVENTS_SHOWN: u32 = 100;

/// What the last advance did, kept with the session for the page after the redirect.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Advanced {
    from: TimeView,
    to: TimeView,
    actions: Vec<ActionRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ActionRow {
    resource_type: String,
    resource_id: String,
    action: String,
    due: TimeView,
    outcome: String,
}

struct EventRow {
    cursor: i64,
    account: String,
    resource_type: String,
    resource_id: String,
    action: String,
    scheduled: Option<TimeView>,
    happened: TimeView,
    outcome: String,
}

struct AccountRow {
    name: String,
    balance: String,
    keys: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/emulator.html")]
struct PanelPage {
    chrome: Chrome,
    mode: &'static str,
    virtual_clock: bool,
    now_value: String,
    now_iso: String,
    advanced: Option<Advanced>,
    events: Vec<EventRow>,
    accounts: Vec<AccountRow>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "console/emulator_unlock.html")]
struct UnlockPage {
    chrome: Chrome,
    enabled: bool,
    error: Option<String>,
}

fn advanced_key(session: &Session) -> String {
    format!("advanced:{}", session.key.trim_start_matches("session:"))
}

fn region(app: &App, fields: &Fields) -> String {
    view::region(app, fields)
}

pub async fn panel(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let session = match session::require(&app, &headers, "/console/emulator", None) {
        Ok(s) => s,
        Err(answer) => return *answer,
    };
    let fields = Fields::query(raw.as_deref());
    let region = region(&app, &fields);
    let chrome = Chrome::new(&app, &session, "Emulator", "emulator", &region);
    if app.admin_token.is_none() || !session.record.admin {
        return page(
            StatusCode::OK,
            &UnlockPage {
                chrome,
                enabled: app.admin_token.is_some(),
                error: None,
            },
        );
    }
    let now = match app.service.clock().try_now() {
        Ok(t) => t,
        Err(e) => return unavailable(chrome, &ecs_service::api_error(e)),
    };
    let worker = app.clone();
    let read = tokio::task::spawn_blocking(move || {
        let events = worker.service.latest_events(EVENTS_SHOWN)?;
        let accounts = worker.service.accounts_with_keys()?;
        Ok::<_, ecs_domain::ApiError>((events, accounts))
    })
    .await;
    let (events, accounts) = match read {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => return unavailable(chrome, &e),
        Err(_) => return unavailable(chrome, &ecs_domain::error::common::INTERNAL_ERROR.err()),
    };
    let names: std::collections::HashMap<i64, String> = accounts
        .iter()
        .map(|(a, _)| (a.id, a.name.clone()))
        .collect();
    let advanced = app
        .service
        .console_record(&advanced_key(&session))
        .ok()
        .flatten()
        .and_then(|json| serde_json::from_str(&json).ok());
    let notice = fields
        .checked("reset")
        .then(|| "Reset: every resource and event is gone and balances are zero.".to_string());
    let events = events
        .into_iter()
        .rev()
        .map(|e| EventRow {
            cursor: e.seq,
            account: names
                .get(&e.event.account_id)
                .cloned()
                .unwrap_or_else(|| e.event.account_id.to_string()),
            resource_type: e.event.resource.as_str().replace('_', " "),
            resource_id: e.event.resource_id,
            action: e.event.action,
            scheduled: e.event.scheduled_at.map(view::time),
            happened: view::time(e.event.happened_at),
            outcome: e.event.outcome,
        })
        .collect();
    let accounts = accounts
        .into_iter()
        .map(|(a, keys)| AccountRow {
            name: a.name,
            balance: a.balance.to_string(),
            keys,
        })
        .collect();
    page(
        StatusCode::OK,
        &PanelPage {
            chrome,
            mode: app.service.clock().mode().as_str(),
            virtual_clock: app.service.clock().mode() == ecs_service::ClockMode::Virtual,
            now_value: view::input_value(now),
            now_iso: view::time(now).iso,
            advanced,
            events,
            accounts,
            notice,
        },
    )
}

pub async fn unlock(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let mut session = match session::require_post(&app, &headers, &fields) {
        Ok(s) => s,
        Err(refused) => return *refused,
    };
    let region = region(&app, &fields);
    let chrome = Chrome::new(&app, &session, "Emulator", "emulator", &region);
    let Some(expected) = app.admin_token.as_deref() else {
        return page(
            StatusCode::NOT_FOUND,
            &UnlockPage {
                chrome,
                enabled: false,
                error: None,
            },
        );
    };
    let sent = fields.get("admin_token").unwrap_or_default();
    if !same_token(sent.as_bytes(), expected.as_bytes()) {
        return page(
            StatusCode::UNAUTHORIZED,
            &UnlockPage {
                chrome,
                enabled: true,
                error: Some("That is not the admin token this ecsd was started with.".into()),
            },
        );
    }
    session.record.admin = true;
    if let Err(e) = session.save(&app).await {
        return unavailable(chrome, &e);
    }
    see_other("/console/emulator")
}

/// A panel post's session: checked as every post is, and unlocked with the admin token.
fn admin_session(
    app: &App,
    headers: &HeaderMap,
    fields: &Fields,
) -> Result<Session, Box<Response>> {
    let session = session::require_post(app, headers, fields)?;
    if app.admin_token.is_none() || !session.record.admin {
        return Err(Box::new(message(
            StatusCode::FORBIDDEN,
            Chrome::new(app, &session, "Emulator", "emulator", &region(app, fields)),
            "The emulator panel is locked",
            "Enter the admin token on the emulator page first; nothing was changed.",
            Some(("/console/emulator", "Go to the emulator panel")),
        )));
    }
    Ok(session)
}

fn refuse(app: &App, session: &Session, status: StatusCode, text: &str) -> Response {
    message(
        status,
        Chrome::new(app, session, "Emulator", "emulator", ""),
        "The clock did not move",
        text,
        Some(("/console/emulator", "Back to the emulator panel")),
    )
}

pub async fn advance(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let session = match admin_session(&app, &headers, &fields) {
        Ok(s) => s,
        Err(refused) => return *refused,
    };
    let from = app.service.now();
    let seconds =
        match fields.get("how") {
            Some("to") => {
                let to = fields
                    .get("to")
                    .map(|raw| view::parse_local(raw, fields.get("tz_offset")));
                match to {
                    None => {
                        return refuse(
                            &app,
                            &session,
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "Choose the instant to move the clock to.",
                        )
                    }
                    Some(Err(_)) => {
                        return refuse(
                            &app,
                            &session,
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "That is not a date and time; use the picker, or type it as \
                         2030-01-31T09:30.",
                        )
                    }
                    Some(Ok(to)) if to < from => return refuse(
                        &app,
                        &session,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "That instant is before the cloud's current time; the clock only moves \
                         forward.",
                    ),
                    // To the instant, or just past it when the clock stands inside a second.
                    Some(Ok(to)) => {
                        let d = to - from;
                        d.num_seconds() + i64::from(d.subsec_nanos() > 0)
                    }
                }
            }
            _ => {
                let amount = fields.get("amount").and_then(|a| a.parse::<i64>().ok());
                let unit = match fields.get("unit") {
                    Some("minutes") => 60,
                    Some("hours") => 3_600,
                    Some("days") => 86_400,
                    _ => 0,
                };
                match amount {
                    Some(n) if n > 0 && unit > 0 => n.saturating_mul(unit),
                    _ => {
                        return refuse(
                            &app,
                            &session,
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "Give a whole number of minutes, hours or days, more than zero.",
                        )
                    }
                }
            }
        };
    match app.scheduler.jump(seconds).await {
        Ok((to, actions)) => {
            let record = Advanced {
                from: view::time(from),
                to: view::time(to),
                actions: actions
                    .into_iter()
                    .map(|a| ActionRow {
                        resource_type: a.resource_type.replace('_', " "),
                        resource_id: a.resource_id,
                        action: a.action.to_string(),
                        due: view::time(a.scheduled_at),
                        outcome: a.outcome.to_string(),
                    })
                    .collect(),
            };
            let json = serde_json::to_string(&record).unwrap_or_default();
            if let Err(e) = app
                .service
                .put_console_record(&advanced_key(&session), Some(json))
                .await
            {
                return unavailable(Chrome::new(&app, &session, "Emulator", "emulator", ""), &e);
            }
            see_other("/console/emulator")
        }
        Err(JumpError::Clock(AdvanceError::RealClock)) => refuse(
            &app,
            &session,
            StatusCode::CONFLICT,
            "This ecsd runs on the real clock; start it with --clock virtual to move time.",
        ),
        Err(JumpError::Clock(AdvanceError::Backwards)) => refuse(
            &app,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            "The clock only moves forward.",
        ),
        Err(JumpError::Clock(AdvanceError::TooFar)) => refuse(
            &app,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            "That is further than the clock can go (9979-12-31).",
        ),
        Err(JumpError::Failed(e)) => {
            unavailable(Chrome::new(&app, &session, "Emulator", "emulator", ""), &e)
        }
    }
}

pub async fn balance(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let session = match admin_session(&app, &headers, &fields) {
        Ok(s) => s,
        Err(refused) => return *refused,
    };
    let key = fields.get("key_id").unwrap_or_default().to_string();
    let Some(amount) = fields.get("balance").and_then(|b| b.parse::<Money>().ok()) else {
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            Chrome::new(&app, &session, "Emulator", "emulator", ""),
            "The balance did not change",
            "Give the balance as a decimal number, such as 123.45.",
            Some(("/console/emulator", "Back to the emulator panel")),
        );
    };
    let worker = app.clone();
    let done =
        tokio::task::spawn_blocking(move || worker.service.key_account_balance(&key, Some(amount)))
            .await;
    match done {
        Ok(Ok(Some(_))) => see_other("/console/emulator#balances"),
        Ok(Ok(None)) => message(
            StatusCode::NOT_FOUND,
            Chrome::new(&app, &session, "Emulator", "emulator", ""),
            "The balance did not change",
            "No account has that AccessKey ID.",
            Some(("/console/emulator", "Back to the emulator panel")),
        ),
        Ok(Err(e)) => unavailable(Chrome::new(&app, &session, "Emulator", "emulator", ""), &e),
        Err(_) => unavailable(
            Chrome::new(&app, &session, "Emulator", "emulator", ""),
            &ecs_domain::error::common::INTERNAL_ERROR.err(),
        ),
    }
}

pub async fn reset(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let session = match admin_session(&app, &headers, &fields) {
        Ok(s) => s,
        Err(refused) => return *refused,
    };
    if !fields.checked("confirm") {
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            Chrome::new(&app, &session, "Emulator", "emulator", ""),
            "Nothing was reset",
            "Tick the box that says you mean it, then press Reset.",
            Some(("/console/emulator", "Back to the emulator panel")),
        );
    }
    let worker = app.clone();
    let done = app
        .scheduler
        .exclusive(|| tokio::task::spawn_blocking(move || worker.service.reset()))
        .await
        .await;
    let _ = app
        .service
        .put_console_record(&advanced_key(&session), None)
        .await;
    match done {
        Ok(Ok(())) => see_other("/console/emulator?reset=1"),
        Ok(Err(e)) => unavailable(Chrome::new(&app, &session, "Emulator", "emulator", ""), &e),
        Err(_) => unavailable(
            Chrome::new(&app, &session, "Emulator", "emulator", ""),
            &ecs_domain::error::common::INTERNAL_ERROR.err(),
        ),
    }
}
