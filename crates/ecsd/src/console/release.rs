//! Release settings, as seed 004 walks through them: choose instances (one from its row's
//! More → Instance status → Release settings, or a selection with the button under the list),
//! choose release now or scheduled release (a switch: on with a date and time to the minute, or
//! off), then Next, which shows per instance what will happen or why it cannot, then Confirm,
//! which applies it and shows the result per instance with the ECS code of any refusal.
//! Dedicated hosts take the same steps.
//!
//! Next asks the service for a preview of each command (its own checks, changing nothing);
//! Confirm runs the command, one per instance, as the API's `DeleteInstance` /
//! `ModifyInstanceAutoReleaseTime` (and the host operations) do. Release now is sent as the
//! console sends it: with `Force` (a running instance is stopped and released, a stopped one
//! needs nothing more) and `TerminateSubscription` (an expired subscription may go). What the
//! console decides itself is only how each answer is put in words.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use ecs_domain::model::InstanceStatus;
use ecs_domain::time::{release_window, ReleaseTimeError, MIN_RELEASE_LEAD};
use ecs_domain::ApiError;
use ecs_service::hosts::{ReleaseHost, INSTANCE_EXIST};
use ecs_service::instances::{
    ReleaseInstance, SetReleaseTime, DELETION_PROTECTION, INCORRECT_STATUS,
};
use ecs_service::{Caller, HostFilter, InstanceFilter, Page};

use super::form::{selection_url, url, Fields};
use super::session::{self, Session};
use super::settings::{save_result, ResultRecord, ResultRow};
use super::view::{self, charge_label, status_label, Chrome, TimeView};
use super::{message, page, see_other, unavailable};
use crate::app::App;

/// The most resources one release setting may name (a page of the list at most).
pub const MAX_SELECTION: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Instance,
    Host,
}

impl Kind {
    fn list(self) -> &'static str {
        match self {
            Kind::Instance => "/console/instances",
            Kind::Host => "/console/hosts",
        }
    }
    fn form(self) -> &'static str {
        match self {
            Kind::Instance => "/console/instances/release",
            Kind::Host => "/console/hosts/release",
        }
    }
    fn nav(self) -> &'static str {
        match self {
            Kind::Instance => "instances",
            Kind::Host => "hosts",
        }
    }
    fn noun(self, n: usize) -> &'static str {
        match (self, n == 1) {
            (Kind::Instance, true) => "instance",
            (Kind::Instance, false) => "instances",
            (Kind::Host, true) => "dedicated host",
            (Kind::Host, false) => "dedicated hosts",
        }
    }
}

/// A resource named in the setting, as the pages show it.
pub struct Target {
    pub id: String,
    pub name: String,
    pub charge: &'static str,
    pub state: String,
    pub current: Option<TimeView>,
    running: bool,
    current_at: Option<DateTime<Utc>>,
}

fn load_targets(
    app: &App,
    caller: &Caller,
    kind: Kind,
    region: &str,
    ids: &[String],
) -> Result<Vec<Target>, ApiError> {
    let page = Page::Offset {
        offset: 0,
        limit: MAX_SELECTION as u32,
    };
    let mut found: Vec<Target> = match kind {
        Kind::Instance => app
            .service
            .list_instances(
                caller,
                InstanceFilter {
                    region_id: Some(region.to_string()),
                    ids: Some(ids.to_vec()),
                    ..Default::default()
                },
                page,
            )?
            .items
            .into_iter()
            .map(|i| Target {
                current: i.auto_release_time.map(view::time),
                current_at: i.auto_release_time,
                running: matches!(i.status, InstanceStatus::Running | InstanceStatus::Stopping),
                state: status_label(i.status).to_string(),
                charge: charge_label(i.charge_type),
                name: i.name,
                id: i.id,
            })
            .collect(),
        Kind::Host => app
            .service
            .list_hosts(
                caller,
                HostFilter {
                    region_id: Some(region.to_string()),
                    ids: Some(ids.to_vec()),
                    ..Default::default()
                },
                page,
            )?
            .items
            .into_iter()
            .map(|(h, on_host)| Target {
                current: h.auto_release_time.map(view::time),
                current_at: h.auto_release_time,
                running: false,
                state: match on_host.len() {
                    0 => format!("{}, no instances", h.status.as_str()),
                    1 => format!("{}, 1 instance", h.status.as_str()),
                    n => format!("{}, {n} instances", h.status.as_str()),
                },
                charge: charge_label(h.charge_type),
                name: h.name,
                id: h.id,
            })
            .collect(),
    };
    // In the order chosen; an id this account does not have in the region is shown as such
    // (the service answers for it when asked).
    let mut ordered = Vec::with_capacity(ids.len());
    for id in ids {
        match found.iter().position(|t| &t.id == id) {
            Some(at) => ordered.push(found.swap_remove(at)),
            None => ordered.push(Target {
                id: id.clone(),
                name: String::new(),
                charge: "",
                state: "not found in this region".into(),
                current: None,
                running: false,
                current_at: None,
            }),
        }
    }
    Ok(ordered)
}

/// What was chosen in the form.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Choice {
    Now,
    /// Scheduled release: `Some` time (switch on), `None` (switch off: cancel).
    Scheduled(Option<DateTime<Utc>>),
}

#[derive(Template)]
#[template(path = "console/release_form.html")]
struct FormPage {
    chrome: Chrome,
    action: String,
    back: String,
    noun: &'static str,
    is_host: bool,
    targets: Vec<Target>,
    ids: Vec<String>,
    now_chosen: bool,
    auto_on: bool,
    at_value: String,
    at_iso: String,
    earliest: TimeView,
    latest: TimeView,
    error: Option<FormError>,
}

/// Why the form cannot be used as filled in: a sentence, and the time it names (shown in the
/// browser's zone like every other time).
pub struct FormError {
    pub text: String,
    pub time: Option<TimeView>,
}

impl FormError {
    fn says(text: impl Into<String>) -> Self {
        FormError {
            text: text.into(),
            time: None,
        }
    }
}

/// One row of the Next step: what will happen, or why it cannot.
pub struct PreviewRow {
    pub id: String,
    pub name: String,
    pub ok: bool,
    pub text: String,
    pub when: Option<TimeView>,
    pub was: Option<TimeView>,
    pub was_label: &'static str,
    pub code: String,
    pub message: String,
    /// For an instance released now: which disks go with it and which are kept.
    pub disks: String,
}

#[derive(Template)]
#[template(path = "console/release_preview.html")]
struct PreviewPage {
    chrome: Chrome,
    confirm: String,
    back: String,
    noun: &'static str,
    heading: String,
    rows: Vec<PreviewRow>,
    ids: Vec<String>,
    mode: &'static str,
    auto_on: bool,
    at_iso: String,
    can: usize,
    cannot: usize,
}

fn selection(fields: &Fields) -> Vec<String> {
    fields.all("id")
}

fn refuse_selection(chrome: Chrome, kind: Kind, region: &str, n: usize) -> Response {
    let text = if n == 0 {
        format!("Select at least one {} in the list first.", kind.noun(1))
    } else {
        format!(
            "Select at most {MAX_SELECTION} {} at a time ({n} were selected).",
            kind.noun(2)
        )
    };
    message(
        StatusCode::BAD_REQUEST,
        chrome,
        "Nothing to set",
        &text,
        Some((&url(kind.list(), [("region", region)]), "Back to the list")),
    )
}

#[allow(clippy::too_many_arguments)]
fn form_page(
    app: &App,
    session: &Session,
    kind: Kind,
    region: &str,
    ids: Vec<String>,
    targets: Vec<Target>,
    chosen: Option<&Choice>,
    typed: Option<DateTime<Utc>>,
    error: Option<FormError>,
) -> Response {
    let now = app.service.now();
    let chrome = Chrome::new(app, session, "Release settings", kind.nav(), region);
    // The time shown: what was typed, else the one setting all chosen resources share.
    let shared = match targets.first().and_then(|t| t.current_at) {
        Some(t) if targets.iter().all(|x| x.current_at == Some(t)) => Some(t),
        _ => None,
    };
    let at = typed.or(shared);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let latest = ecs_domain::time::checked_add_months(now, ecs_domain::time::MAX_RELEASE_MONTHS)
        .unwrap_or(now);
    page(
        status,
        &FormPage {
            chrome,
            action: kind.form().to_string(),
            back: url(kind.list(), [("region", region)]),
            noun: kind.noun(targets.len()),
            is_host: kind == Kind::Host,
            now_chosen: chosen == Some(&Choice::Now),
            auto_on: !matches!(chosen, Some(Choice::Scheduled(None))),
            at_value: at.map(view::input_value).unwrap_or_default(),
            at_iso: at.map(|t| view::time(t).iso).unwrap_or_default(),
            earliest: view::time(now + MIN_RELEASE_LEAD),
            latest: view::time(latest),
            targets,
            ids,
            error,
        },
    )
}

async fn show_form(app: Arc<App>, headers: HeaderMap, raw: Option<String>, kind: Kind) -> Response {
    let fields = Fields::query(raw.as_deref());
    let session = match session::require(&app, &headers, kind.form(), raw.as_deref()) {
        Ok(s) => s,
        Err(answer) => return *answer,
    };
    let region = view::region(&app, &fields);
    let ids = selection(&fields);
    let chrome = Chrome::new(&app, &session, "Release settings", kind.nav(), &region);
    if ids.is_empty() || ids.len() > MAX_SELECTION {
        return refuse_selection(chrome, kind, &region, ids.len());
    }
    let targets = match load_targets(&app, &session.caller(), kind, &region, &ids) {
        Ok(t) => t,
        Err(e) => return unavailable(chrome, &e),
    };
    form_page(
        &app, &session, kind, &region, ids, targets, None, None, None,
    )
}

pub async fn instance_form(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    show_form(app, headers, raw, Kind::Instance).await
}

pub async fn host_form(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    show_form(app, headers, raw, Kind::Host).await
}

/// Reads the form's choice; what to say in the form when it cannot be used.
fn read_choice(
    fields: &Fields,
    now: DateTime<Utc>,
) -> (Option<Choice>, Option<DateTime<Utc>>, Result<(), FormError>) {
    match fields.get("mode") {
        Some("now") => (Some(Choice::Now), None, Ok(())),
        Some("scheduled") if !fields.checked("auto") => {
            (Some(Choice::Scheduled(None)), None, Ok(()))
        }
        Some("scheduled") => {
            let Some(raw) = fields.get("at") else {
                return (
                    Some(Choice::Scheduled(None)),
                    None,
                    Err(FormError::says(
                        "Choose the date and time of the release, or switch automatic release \
                         off.",
                    )),
                );
            };
            let Ok(at) = view::parse_local(raw, fields.get("tz_offset")) else {
                return (
                    None,
                    None,
                    Err(FormError::says(format!(
                        "\u{201c}{raw}\u{201d} is not a date and time; use the picker, or type \
                         it as 2030-01-31T09:30."
                    ))),
                );
            };
            let at = ecs_domain::time::truncate_to_minute(at);
            let problem = match release_window(at, now) {
                Ok(_) => return (Some(Choice::Scheduled(Some(at))), Some(at), Ok(())),
                Err(ReleaseTimeError::TooEarly) => FormError {
                    text: "The release time must be at least 30 minutes after the cloud's \
                           current time; the earliest is"
                        .into(),
                    time: Some(view::time(now + MIN_RELEASE_LEAD)),
                },
                Err(ReleaseTimeError::TooLate) => FormError {
                    text: "The release time must be at most 3 years after the cloud's current \
                           time; the latest is"
                        .into(),
                    time: ecs_domain::time::checked_add_months(
                        now,
                        ecs_domain::time::MAX_RELEASE_MONTHS,
                    )
                    .map(view::time),
                },
                Err(ReleaseTimeError::Malformed) => {
                    FormError::says("That date and time cannot be used.")
                }
            };
            (Some(Choice::Scheduled(Some(at))), Some(at), Err(problem))
        }
        _ => (
            None,
            None,
            Err(FormError::says("Choose release now or scheduled release.")),
        ),
    }
}

/// A refusal in words a person can act on (the ECS code and message are shown beside it).
fn explain(kind: Kind, choice: &Choice, e: &ApiError) -> String {
    let now = *choice == Choice::Now;
    match (kind, e.code.as_ref()) {
        (
            _,
            "NoSuchResource" | "InvalidInstanceId.NotFound" | "InvalidDedicatedHostId.NotFound",
        ) => {
            format!(
                "Not found: there is no such {} in this region.",
                kind.noun(1)
            )
        }
        (Kind::Instance, _) if e.is(&DELETION_PROTECTION) => {
            "Release protection is on: a protected instance cannot be released by hand. Turn \
             release protection off first."
                .into()
        }
        (Kind::Instance, "ChargeTypeViolation") if now => {
            "A subscription instance cannot be released now before it expires.".into()
        }
        (Kind::Instance, "ChargeTypeViolation") => {
            "Only pay-as-you-go instances take a scheduled release; a subscription instance ends \
             when it expires unrenewed."
                .into()
        }
        (Kind::Host, "ChargeTypeViolation") if now => {
            "A subscription dedicated host cannot be released by hand.".into()
        }
        (Kind::Host, "ChargeTypeViolation") => {
            "Only pay-as-you-go dedicated hosts take a scheduled release.".into()
        }
        (Kind::Instance, _) if e.is(&INCORRECT_STATUS) => {
            "It is in a state that cannot be released now.".into()
        }
        (Kind::Host, _) if e.is(&INSTANCE_EXIST) => {
            "Instances are placed on this host: release them (or move them) first.".into()
        }
        (_, "InvalidAutoReleaseTime.Malformed") => {
            "The time is no longer between 30 minutes and 3 years after the cloud's current \
             time. Choose another."
                .into()
        }
        _ => format!("Refused: {}", e.message),
    }
}

fn region_of(fields: &Fields, app: &App) -> String {
    view::region(app, fields)
}

async fn preview(app: Arc<App>, headers: HeaderMap, body: Bytes, kind: Kind) -> Response {
    let fields = Fields::parse(&body);
    let session = match session::require_post(&app, &headers, &fields) {
        Ok(s) => s,
        Err(refused) => return *refused,
    };
    let region = region_of(&fields, &app);
    let ids = selection(&fields);
    let chrome = Chrome::new(
        &app,
        &session,
        "Release settings: check",
        kind.nav(),
        &region,
    );
    if ids.is_empty() || ids.len() > MAX_SELECTION {
        return refuse_selection(chrome, kind, &region, ids.len());
    }
    let caller = session.caller();
    let targets = match load_targets(&app, &caller, kind, &region, &ids) {
        Ok(t) => t,
        Err(e) => return unavailable(chrome, &e),
    };
    let (choice, typed, checked) = read_choice(&fields, app.service.now());
    let choice = match (choice, checked) {
        (Some(c), Ok(())) => c,
        (chosen, Err(problem)) => {
            return form_page(
                &app,
                &session,
                kind,
                &region,
                ids,
                targets,
                chosen.as_ref(),
                typed,
                Some(problem),
            )
        }
        (None, Ok(())) => unreachable!("a choice is read or refused"),
    };
    let mut rows = Vec::with_capacity(targets.len());
    for t in &targets {
        let mut disks_of_row = String::new();
        let outcome = match (kind, &choice) {
            (Kind::Instance, Choice::Now) => app
                .service
                .preview_release_instance(&caller, &release_now(&t.id, &region))
                .map(|disks| {
                    disks_of_row = disks_text(&disks);
                    None
                }),
            (Kind::Host, Choice::Now) => app
                .service
                .preview_release_host(
                    &caller,
                    &ReleaseHost {
                        id: t.id.clone(),
                        region: region.clone(),
                    },
                )
                .map(|()| None),
            (Kind::Instance, Choice::Scheduled(at)) => app
                .service
                .preview_instance_release_time(&caller, &release_time(&t.id, &region, *at)),
            (Kind::Host, Choice::Scheduled(at)) => app
                .service
                .preview_host_release_time(&caller, &release_time(&t.id, &region, *at)),
        };
        let mut row = preview_row(kind, &choice, t, outcome);
        row.disks = disks_of_row;
        rows.push(row);
    }
    if let Some(unreachable) = rows
        .iter()
        .find(|r| r.code == "ServiceUnavailable" || r.code == "InternalError")
    {
        let e = ApiError {
            code: unreachable.code.clone().into(),
            status: 503,
            message: unreachable.message.clone().into(),
        };
        return unavailable(chrome, &e);
    }
    let can = rows.iter().filter(|r| r.ok).count();
    let (mode, auto_on, at_iso) = match &choice {
        Choice::Now => ("now", false, String::new()),
        Choice::Scheduled(None) => ("scheduled", false, String::new()),
        Choice::Scheduled(Some(at)) => ("scheduled", true, view::time(*at).iso),
    };
    let heading = match &choice {
        Choice::Now => "Release now".to_string(),
        Choice::Scheduled(Some(_)) => "Scheduled release: on".to_string(),
        Choice::Scheduled(None) => "Scheduled release: off".to_string(),
    };
    page(
        StatusCode::OK,
        &PreviewPage {
            chrome,
            confirm: format!("{}/confirm", kind.form()),
            back: selection_url(kind.form(), &region, &ids),
            noun: kind.noun(rows.len()),
            heading,
            cannot: rows.len() - can,
            can,
            rows,
            ids,
            mode,
            auto_on,
            at_iso,
        },
    )
}

fn release_now(id: &str, region: &str) -> ReleaseInstance {
    ReleaseInstance {
        id: id.to_string(),
        region: Some(region.to_string()),
        force: true,
        terminate_subscription: true,
        dry_run: false,
    }
}

fn release_time(id: &str, region: &str, at: Option<DateTime<Utc>>) -> SetReleaseTime {
    SetReleaseTime {
        id: id.to_string(),
        region: Some(region.to_string()),
        at,
    }
}

/// One line on the disks a release takes along and the ones it leaves, as the service sorted
/// them (seed 004's confirm step names the attached resources that go with the instance).
fn disks_text(p: &ecs_service::console::DiskPreview) -> String {
    let list = |disks: &[ecs_domain::disk::Disk]| {
        disks
            .iter()
            .map(|d| {
                let name = if d.name.is_empty() {
                    String::new()
                } else {
                    format!(" \"{}\"", d.name)
                };
                format!(
                    "{}{name} ({}, {}, {} GiB)",
                    d.id, d.disk_type, d.category, d.size_gib
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut parts = Vec::new();
    if !p.released.is_empty() {
        parts.push(format!("Disks released with it: {}.", list(&p.released)));
    }
    if !p.detached.is_empty() {
        parts.push(format!("Disks kept (detached): {}.", list(&p.detached)));
    }
    parts.join(" ")
}

fn preview_row(
    kind: Kind,
    choice: &Choice,
    t: &Target,
    outcome: Result<Option<DateTime<Utc>>, ApiError>,
) -> PreviewRow {
    let mut row = PreviewRow {
        id: t.id.clone(),
        name: t.name.clone(),
        ok: outcome.is_ok(),
        text: String::new(),
        when: None,
        was: None,
        was_label: "",
        code: String::new(),
        message: String::new(),
        disks: String::new(),
    };
    match (choice, outcome) {
        (_, Err(e)) => {
            row.text = explain(kind, choice, &e);
            row.code = e.code.to_string();
            row.message = e.message.to_string();
        }
        (Choice::Now, Ok(_)) if t.running => {
            row.text = "Will be stopped and released now.".into();
        }
        (Choice::Now, Ok(_)) => row.text = "Will be released now.".into(),
        (Choice::Scheduled(_), Ok(Some(at))) => {
            row.text = "Will be released automatically at".into();
            row.when = Some(view::time(at));
            if t.current_at.is_some_and(|c| c != at) {
                row.was = t.current.clone();
                row.was_label = "replaces";
            }
        }
        (Choice::Scheduled(_), Ok(None)) if t.current.is_some() => {
            row.text = "Scheduled release will be turned off.".into();
            row.was = t.current.clone();
            row.was_label = "was";
        }
        (Choice::Scheduled(_), Ok(None)) => {
            row.text = "No scheduled release is set; it stays off.".into();
        }
    }
    row
}

pub async fn instance_preview(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    preview(app, headers, body, Kind::Instance).await
}

pub async fn host_preview(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    preview(app, headers, body, Kind::Host).await
}

async fn confirm(app: Arc<App>, headers: HeaderMap, body: Bytes, kind: Kind) -> Response {
    let fields = Fields::parse(&body);
    let session = match session::require_post(&app, &headers, &fields) {
        Ok(s) => s,
        Err(refused) => return *refused,
    };
    let region = region_of(&fields, &app);
    let ids = selection(&fields);
    let chrome = Chrome::new(&app, &session, "Release settings", kind.nav(), &region);
    if ids.is_empty() || ids.len() > MAX_SELECTION {
        return refuse_selection(chrome, kind, &region, ids.len());
    }
    let choice = match (fields.get("mode"), fields.checked("auto")) {
        (Some("now"), _) => Choice::Now,
        (Some("scheduled"), false) => Choice::Scheduled(None),
        (Some("scheduled"), true) => match fields.get("at").and_then(view::parse_carried) {
            Some(at) => Choice::Scheduled(Some(at)),
            None => {
                return message(
                    StatusCode::BAD_REQUEST,
                    chrome,
                    "Nothing was changed",
                    "The confirmation did not say when to release. Start again from the list.",
                    Some((
                        &url(kind.list(), [("region", region.as_str())]),
                        "Back to the list",
                    )),
                )
            }
        },
        _ => {
            return message(
                StatusCode::BAD_REQUEST,
                chrome,
                "Nothing was changed",
                "The confirmation did not say what to do. Start again from the list.",
                Some((
                    &url(kind.list(), [("region", region.as_str())]),
                    "Back to the list",
                )),
            )
        }
    };
    let caller = session.caller();
    let targets = match load_targets(&app, &caller, kind, &region, &ids) {
        Ok(t) => t,
        Err(e) => return unavailable(chrome, &e),
    };
    let mut rows = Vec::with_capacity(targets.len());
    for t in &targets {
        let done = match (kind, &choice) {
            (Kind::Instance, Choice::Now) => app
                .service
                .release_instance(&caller, release_now(&t.id, &region))
                .await
                .map(|()| None),
            (Kind::Host, Choice::Now) => app
                .service
                .release_host(
                    &caller,
                    ReleaseHost {
                        id: t.id.clone(),
                        region: region.clone(),
                    },
                )
                .await
                .map(|()| None),
            (Kind::Instance, Choice::Scheduled(at)) => app
                .service
                .set_instance_release_time(&caller, release_time(&t.id, &region, *at))
                .await
                .map(|()| at.map(ecs_domain::time::truncate_to_minute)),
            (Kind::Host, Choice::Scheduled(at)) => app
                .service
                .set_host_release_time(&caller, release_time(&t.id, &region, *at))
                .await
                .map(|()| at.map(ecs_domain::time::truncate_to_minute)),
        };
        let row = match done {
            Err(e) => ResultRow::refused(&t.id, &t.name, explain(kind, &choice, &e), &e),
            Ok(_) if choice == Choice::Now => ResultRow::done(&t.id, &t.name, "Released.", None),
            Ok(Some(at)) => ResultRow::done(
                &t.id,
                &t.name,
                "Scheduled release set: it will be released at",
                Some(view::time(at)),
            ),
            Ok(None) => ResultRow::done(&t.id, &t.name, "Scheduled release is off.", None),
        };
        rows.push(row);
    }
    let title = match &choice {
        Choice::Now => format!("Release now: {}", kind.noun(2)),
        Choice::Scheduled(Some(_)) => format!("Scheduled release on: {}", kind.noun(2)),
        Choice::Scheduled(None) => format!("Scheduled release off: {}", kind.noun(2)),
    };
    let record = ResultRecord {
        title,
        nav: kind.nav().to_string(),
        region: region.clone(),
        back: url(kind.list(), [("region", region.as_str())]),
        rows,
    };
    if let Err(e) = save_result(&app, &session, &record).await {
        return unavailable(chrome, &e);
    }
    see_other(&url("/console/result", [("region", region.as_str())]))
}

pub async fn instance_confirm(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    confirm(app, headers, body, Kind::Instance).await
}

pub async fn host_confirm(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    confirm(app, headers, body, Kind::Host).await
}
