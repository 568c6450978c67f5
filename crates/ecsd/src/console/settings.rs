//! Release protection and renewal settings, for one instance or a selection, and the result page
//! every change ends on.
//!
//! Each change is one service command per instance (`ModifyInstanceAttribute`'s
//! `DeletionProtection`, `ModifyInstanceAutoRenewAttribute`), so the result shows each
//! instance's outcome on its own, with the ECS code of a refusal. The result is kept with the
//! session and shown after a redirect, so reloading it changes nothing.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ecs_domain::model::{ChargeType, Instance, PeriodUnit, RenewalStatus};
use ecs_domain::rules::renew_durations;
use ecs_domain::ApiError;
use ecs_service::instances::{ModifyInstance, SetAutoRenew};
use ecs_service::{Caller, InstanceFilter, Page};
use serde::{Deserialize, Serialize};

use super::form::{url, Fields};
use super::instances::unit_label;
use super::release::MAX_SELECTION;
use super::session::{self, Session};
use super::view::{self, charge_label, renewal_label, Choice, Chrome, TimeView};
use super::{message, page, see_other, unavailable};
use crate::app::App;

/// One resource's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultRow {
    pub id: String,
    pub name: String,
    pub ok: bool,
    pub text: String,
    pub when: Option<TimeView>,
    /// The ECS code and message of a refusal.
    pub code: String,
    pub message: String,
}

impl ResultRow {
    pub fn done(id: &str, name: &str, text: &str, when: Option<TimeView>) -> Self {
        ResultRow {
            id: id.into(),
            name: name.into(),
            ok: true,
            text: text.into(),
            when,
            code: String::new(),
            message: String::new(),
        }
    }

    pub fn refused(id: &str, name: &str, text: String, e: &ApiError) -> Self {
        ResultRow {
            id: id.into(),
            name: name.into(),
            ok: false,
            text,
            when: None,
            code: e.code.to_string(),
            message: e.message.to_string(),
        }
    }
}

/// What a change did, kept with the session until the next one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultRecord {
    pub title: String,
    pub nav: String,
    pub region: String,
    pub back: String,
    pub rows: Vec<ResultRow>,
}

pub async fn save_result(
    app: &App,
    session: &Session,
    record: &ResultRecord,
) -> Result<(), ApiError> {
    let json = serde_json::to_string(record).unwrap_or_default();
    app.service
        .put_console_record(&session.result_key(), Some(json))
        .await
}

#[derive(Template)]
#[template(path = "console/result.html")]
struct ResultPage {
    chrome: Chrome,
    record: ResultRecord,
    done: usize,
    refused: usize,
}

pub async fn result(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let session = match session::require(&app, &headers, "/console/instances", None) {
        Ok(s) => s,
        Err(answer) => return *answer,
    };
    let fields = Fields::query(raw.as_deref());
    let region = view::region(&app, &fields);
    let record = match app.service.console_record(&session.result_key()) {
        Ok(Some(json)) => serde_json::from_str::<ResultRecord>(&json).ok(),
        Ok(None) => None,
        Err(e) => {
            return unavailable(
                Chrome::new(&app, &session, "Result", "instances", &region),
                &e,
            )
        }
    };
    let Some(record) = record else {
        return see_other(&url("/console/instances", [("region", region.as_str())]));
    };
    let nav = match record.nav.as_str() {
        "hosts" => "hosts",
        _ => "instances",
    };
    let chrome = Chrome::new(&app, &session, "Result", nav, &record.region);
    let done = record.rows.iter().filter(|r| r.ok).count();
    page(
        StatusCode::OK,
        &ResultPage {
            chrome,
            refused: record.rows.len() - done,
            done,
            record,
        },
    )
}

/// The chosen instances in the order chosen; `None` for an id the account does not have here.
fn chosen_instances(
    app: &App,
    caller: &Caller,
    region: &str,
    ids: &[String],
) -> Result<Vec<(String, Option<Instance>)>, ApiError> {
    let mut found = app
        .service
        .list_instances(
            caller,
            InstanceFilter {
                region_id: Some(region.to_string()),
                ids: Some(ids.to_vec()),
                ..Default::default()
            },
            Page::Offset {
                offset: 0,
                limit: MAX_SELECTION as u32,
            },
        )?
        .items;
    Ok(ids
        .iter()
        .map(|id| {
            let at = found.iter().position(|i| &i.id == id);
            (id.clone(), at.map(|at| found.swap_remove(at)))
        })
        .collect())
}

/// A chosen instance as the settings forms list it.
pub struct SettingTarget {
    pub id: String,
    pub name: String,
    pub charge: &'static str,
    pub current: String,
    pub expiry: Option<TimeView>,
}

fn selection_or_refusal(
    app: &App,
    session: &Session,
    fields: &Fields,
    title: &str,
) -> Result<(String, Vec<String>, Chrome), Box<Response>> {
    let region = view::region(app, fields);
    let ids = fields.all("id");
    let chrome = Chrome::new(app, session, title, "instances", &region);
    if ids.is_empty() || ids.len() > MAX_SELECTION {
        let text = if ids.is_empty() {
            "Select at least one instance in the list first.".to_string()
        } else {
            format!("Select at most {MAX_SELECTION} instances at a time.")
        };
        return Err(Box::new(message(
            StatusCode::BAD_REQUEST,
            chrome,
            "Nothing to set",
            &text,
            Some((
                &url("/console/instances", [("region", region.as_str())]),
                "Back to the list",
            )),
        )));
    }
    Ok((region, ids, chrome))
}

// ---------------------------------------------------------------------------------------------
// Release protection.

#[derive(Template)]
#[template(path = "console/protection_form.html")]
struct ProtectionPage {
    chrome: Chrome,
    back: String,
    targets: Vec<SettingTarget>,
    ids: Vec<String>,
    turn_on: bool,
}

pub async fn protection_form(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let session = match session::require(
        &app,
        &headers,
        "/console/instances/protection",
        raw.as_deref(),
    ) {
        Ok(s) => s,
        Err(answer) => return *answer,
    };
    let fields = Fields::query(raw.as_deref());
    let (region, ids, chrome) =
        match selection_or_refusal(&app, &session, &fields, "Release protection") {
            Ok(x) => x,
            Err(answer) => return *answer,
        };
    let chosen = match chosen_instances(&app, &session.caller(), &region, &ids) {
        Ok(c) => c,
        Err(e) => return unavailable(chrome, &e),
    };
    let turn_on = chosen
        .iter()
        .any(|(_, i)| i.as_ref().is_some_and(|i| !i.deletion_protection));
    let targets = chosen
        .into_iter()
        .map(|(id, i)| match i {
            Some(i) => SettingTarget {
                current: if i.deletion_protection { "On" } else { "Off" }.into(),
                charge: charge_label(i.charge_type),
                expiry: None,
                name: i.name,
                id,
            },
            None => missing(id),
        })
        .collect();
    page(
        StatusCode::OK,
        &ProtectionPage {
            chrome,
            back: url("/console/instances", [("region", region.as_str())]),
            targets,
            ids,
            turn_on,
        },
    )
}

fn missing(id: String) -> SettingTarget {
    SettingTarget {
        id,
        name: String::new(),
        charge: "",
        current: "not found in this region".into(),
        expiry: None,
    }
}

pub async fn protection_apply(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let session = match session::require_post(&app, &headers, &fields) {
        Ok(s) => s,
        Err(refused) => return *refused,
    };
    let (region, ids, chrome) =
        match selection_or_refusal(&app, &session, &fields, "Release protection") {
            Ok(x) => x,
            Err(answer) => return *answer,
        };
    let on = match fields.get("protection") {
        Some("on") => true,
        Some("off") => false,
        _ => {
            return message(
                StatusCode::UNPROCESSABLE_ENTITY,
                chrome,
                "Nothing was changed",
                "Choose whether release protection is to be on or off.",
                Some((
                    &super::form::selection_url("/console/instances/protection", &region, &ids),
                    "Back to the form",
                )),
            )
        }
    };
    let caller = session.caller();
    let names = match chosen_instances(&app, &caller, &region, &ids) {
        Ok(c) => c,
        Err(e) => return unavailable(chrome, &e),
    };
    let mut rows = Vec::with_capacity(ids.len());
    for (id, instance) in &names {
        let name = instance
            .as_ref()
            .map(|i| i.name.as_str())
            .unwrap_or_default();
        let done = app
            .service
            .modify_instance(
                &caller,
                ModifyInstance {
                    id: id.clone(),
                    region: Some(region.clone()),
                    deletion_protection: Some(on),
                    ..Default::default()
                },
            )
            .await;
        rows.push(match done {
            Ok(()) if on => ResultRow::done(id, name, "Release protection is on.", None),
            Ok(()) => ResultRow::done(id, name, "Release protection is off.", None),
            Err(e) => ResultRow::refused(id, name, refusal(&e), &e),
        });
    }
    finish(
        &app,
        &session,
        chrome,
        &region,
        if on {
            "Release protection on"
        } else {
            "Release protection off"
        },
        rows,
    )
    .await
}

fn refusal(e: &ApiError) -> String {
    match e.code.as_ref() {
        "InvalidInstanceId.NotFound" | "InvalidParameter.InvalidInstanceId" => {
            "Not found: there is no such instance in this region.".into()
        }
        "ChargeTypeViolation" => {
            "A pay-as-you-go instance has no renewal: only subscription instances renew.".into()
        }
        _ => format!("Refused: {}", e.message),
    }
}

async fn finish(
    app: &App,
    session: &Session,
    chrome: Chrome,
    region: &str,
    title: &str,
    rows: Vec<ResultRow>,
) -> Response {
    let record = ResultRecord {
        title: title.to_string(),
        nav: "instances".into(),
        region: region.to_string(),
        back: url("/console/instances", [("region", region)]),
        rows,
    };
    if let Err(e) = save_result(app, session, &record).await {
        return unavailable(chrome, &e);
    }
    see_other(&url("/console/result", [("region", region)]))
}

// ---------------------------------------------------------------------------------------------
// Renewal settings (subscription instances).

#[derive(Template)]
#[template(path = "console/renewal_form.html")]
struct RenewalPage {
    chrome: Chrome,
    back: String,
    targets: Vec<SettingTarget>,
    ids: Vec<String>,
    statuses: Vec<Choice>,
    durations: Vec<Choice>,
}

/// The renewal durations the service takes, as `n-Unit` choices.
fn duration_choices(chosen: &str) -> Vec<Choice> {
    let mut options = Vec::new();
    for unit in [PeriodUnit::Month, PeriodUnit::Year] {
        for n in renew_durations(unit) {
            options.push((
                format!("{n}-{}", unit.as_str()),
                format!("{n} {}", unit_label(unit, *n)),
            ));
        }
    }
    Choice::list(
        options.iter().map(|(v, l)| (v.as_str(), l.as_str())),
        chosen,
    )
}

pub async fn renewal_form(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let session =
        match session::require(&app, &headers, "/console/instances/renewal", raw.as_deref()) {
            Ok(s) => s,
            Err(answer) => return *answer,
        };
    let fields = Fields::query(raw.as_deref());
    let (region, ids, chrome) =
        match selection_or_refusal(&app, &session, &fields, "Renewal settings") {
            Ok(x) => x,
            Err(answer) => return *answer,
        };
    let chosen = match chosen_instances(&app, &session.caller(), &region, &ids) {
        Ok(c) => c,
        Err(e) => return unavailable(chrome, &e),
    };
    // The form starts from the first subscription's setting.
    let first = chosen
        .iter()
        .filter_map(|(_, i)| i.as_ref()?.subscription)
        .next()
        .map(|s| s.renewal)
        .unwrap_or_default();
    let targets = chosen
        .into_iter()
        .map(|(id, i)| match i {
            Some(i) => SettingTarget {
                current: match (&i.subscription, i.charge_type) {
                    (Some(s), _) if s.renewal.status == RenewalStatus::AutoRenewal => format!(
                        "{}, {} {}",
                        renewal_label(s.renewal.status),
                        s.renewal.duration,
                        unit_label(s.renewal.unit, s.renewal.duration)
                    ),
                    (Some(s), _) => renewal_label(s.renewal.status).into(),
                    (None, ChargeType::PostPaid) => "pay-as-you-go: no renewal".into(),
                    (None, _) => "no subscription".into(),
                },
                charge: charge_label(i.charge_type),
                expiry: i.subscription.map(|s| view::time(s.expired_time)),
                name: i.name,
                id,
            },
            None => missing(id),
        })
        .collect();
    page(
        StatusCode::OK,
        &RenewalPage {
            chrome,
            back: url("/console/instances", [("region", region.as_str())]),
            targets,
            ids,
            statuses: Choice::list(
                [
                    ("AutoRenewal", "Auto-renew"),
                    ("Normal", "Manual renewal"),
                    ("NotRenewal", "Not renewing"),
                ],
                first.status.as_str(),
            ),
            durations: duration_choices(&format!("{}-{}", first.duration, first.unit.as_str())),
        },
    )
}

pub async fn renewal_apply(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let session = match session::require_post(&app, &headers, &fields) {
        Ok(s) => s,
        Err(refused) => return *refused,
    };
    let (region, ids, chrome) =
        match selection_or_refusal(&app, &session, &fields, "Renewal settings") {
            Ok(x) => x,
            Err(answer) => return *answer,
        };
    let back = super::form::selection_url("/console/instances/renewal", &region, &ids);
    let Some(status) = fields.get("renewal").and_then(RenewalStatus::parse) else {
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            chrome,
            "Nothing was changed",
            "Choose auto-renew, manual renewal or not renewing.",
            Some((&back, "Back to the form")),
        );
    };
    // The duration goes with auto-renew only; its values are the service's to check.
    let (duration, unit) = match (
        status,
        fields.get("duration").and_then(|d| d.split_once('-')),
    ) {
        (RenewalStatus::AutoRenewal, Some((n, unit))) => match n.parse::<i64>() {
            Ok(n) => (Some(n), Some(unit.to_string())),
            Err(_) => (Some(-1), Some(unit.to_string())),
        },
        (RenewalStatus::AutoRenewal, None) => {
            return message(
                StatusCode::UNPROCESSABLE_ENTITY,
                chrome,
                "Nothing was changed",
                "Choose how long each automatic renewal is for.",
                Some((&back, "Back to the form")),
            )
        }
        _ => (None, None),
    };
    let caller = session.caller();
    let names = match chosen_instances(&app, &caller, &region, &ids) {
        Ok(c) => c,
        Err(e) => return unavailable(chrome, &e),
    };
    let mut rows = Vec::with_capacity(ids.len());
    for (id, instance) in &names {
        let name = instance
            .as_ref()
            .map(|i| i.name.as_str())
            .unwrap_or_default();
        let done = app
            .service
            .set_auto_renew(
                &caller,
                SetAutoRenew {
                    ids: vec![id.clone()],
                    region: region.clone(),
                    duration,
                    unit: unit.clone(),
                    renewal_status: Some(status.as_str().to_string()),
                    auto_renew: None,
                },
            )
            .await;
        rows.push(match done {
            Ok(()) => {
                let text = match (status, duration, &unit) {
                    (RenewalStatus::AutoRenewal, Some(n), Some(u)) => {
                        format!(
                            "Auto-renew is on, {n} {} at a time.",
                            u.to_ascii_lowercase()
                        )
                    }
                    (RenewalStatus::NotRenewal, _, _) => {
                        "Not renewing: it ends when it expires.".into()
                    }
                    _ => "Manual renewal.".into(),
                };
                ResultRow::done(id, name, &text, None)
            }
            Err(e) => ResultRow::refused(id, name, refusal(&e), &e),
        });
    }
    finish(
        &app,
        &session,
        chrome,
        &region,
        &format!("Renewal: {}", renewal_label(status)),
        rows,
    )
    .await
}
