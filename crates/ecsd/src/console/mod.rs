//! The web console under `/console`: what a person who never writes code against ecsd looks
//! at. Server-rendered HTML (askama templates, checked when ecsd is compiled) that works with
//! JavaScript off — every change is a form post answered by a redirect — and a little bundled
//! script where it helps (select all, local times, a countdown to a release).
//!
//! A thin door, like the API's operations: each handler reads its form into the service's
//! typed commands, as the API operations do, and shows what the service answered. The "Next"
//! step of a release setting asks the service for a preview (the command's own checks, changing
//! nothing); no rule is decided here.
//!
//! ```text
//!   mod.rs        the router, page rendering, security headers, error pages
//!   session.rs    sign-in / sign-out, the session cookie, CSRF tokens
//!   form.rs       query strings and form bodies (repeated names: a selection of ids)
//!   view.rs       how times, statuses and billing methods are shown
//!   instances.rs  the instance list (filters, sort, paging)
//!   release.rs    release settings, for instances and dedicated hosts: form → Next → Confirm
//!   settings.rs   release protection and renewal settings
//!   hosts.rs      the dedicated host list
//!   emulator.rs   the emulator panel: clock, events, balances, reset (admin token)
//!   assets.rs     the stylesheet and script, compiled into the binary
//! ```

use std::sync::Arc;

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::app::App;

mod assets;
mod emulator;
mod form;
mod hosts;
mod instances;
mod release;
mod session;
mod settings;
mod view;

pub use session::{SESSION_COOKIE, SIGN_IN_COOKIE};

/// The console's routes, to be nested under `/console`.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(home))
        .route(
            "/sign-in",
            get(session::sign_in_form).post(session::sign_in),
        )
        .route("/sign-out", post(session::sign_out))
        .route("/assets/{name}", get(assets::serve))
        .route("/instances", get(instances::list))
        .route(
            "/instances/release",
            get(release::instance_form).post(release::instance_preview),
        )
        .route(
            "/instances/release/confirm",
            post(release::instance_confirm),
        )
        .route(
            "/instances/protection",
            get(settings::protection_form).post(settings::protection_apply),
        )
        .route(
            "/instances/renewal",
            get(settings::renewal_form).post(settings::renewal_apply),
        )
        .route("/hosts", get(hosts::list))
        .route(
            "/hosts/release",
            get(release::host_form).post(release::host_preview),
        )
        .route("/hosts/release/confirm", post(release::host_confirm))
        .route("/result", get(settings::result))
        .route("/emulator", get(emulator::panel))
        .route("/emulator/unlock", post(emulator::unlock))
        .route("/emulator/advance", post(emulator::advance))
        .route("/emulator/balance", post(emulator::balance))
        .route("/emulator/reset", post(emulator::reset))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// `/console` and `/console/`: the instance list (or the sign-in page on the way to it).
pub async fn home() -> Response {
    see_other("/console/instances")
}

/// Headers every console answer carries: no script, style or form target from elsewhere (the
/// assets are served from here), no framing, no caching of pages that show an account's
/// resources.
fn secure(mut response: Response, cache: bool) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !cache {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A rendered page with the console's headers.
fn page(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => secure(
            (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response(),
            false,
        ),
        Err(e) => {
            tracing::error!(error = %e, "console template failed to render");
            secure(
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    "The console could not show this page.",
                )
                    .into_response(),
                false,
            )
        }
    }
}

/// After a form post: see the outcome at `to` (303, so the browser follows with a GET and a
/// reload does not post again).
fn see_other(to: &str) -> Response {
    secure(Redirect::to(to).into_response(), false)
}

/// A page that says what went wrong, in a sentence, with a way back.
#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage {
    chrome: view::Chrome,
    heading: String,
    message: String,
    back: Option<(String, String)>,
}

fn message(
    status: StatusCode,
    chrome: view::Chrome,
    heading: &str,
    text: &str,
    back: Option<(&str, &str)>,
) -> Response {
    page(
        status,
        &MessagePage {
            chrome,
            heading: heading.to_string(),
            message: text.to_string(),
            back: back.map(|(href, label)| (href.to_string(), label.to_string())),
        },
    )
}

async fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        view::Chrome::bare("Not found"),
        "Not found",
        "The console has no page at this address.",
        Some(("/console/instances", "Go to the instance list")),
    )
}

async fn method_not_allowed() -> Response {
    message(
        StatusCode::METHOD_NOT_ALLOWED,
        view::Chrome::bare("Not allowed"),
        "Not allowed",
        "This page does not take that kind of request.",
        Some(("/console/instances", "Go to the instance list")),
    )
}

/// The service could not answer (the store is out of reach, say): a page that says so.
fn unavailable(chrome: view::Chrome, error: &ecs_domain::ApiError) -> Response {
    tracing::warn!(%error, "console request failed");
    let status = if error.status == 503 {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    message(
        status,
        chrome,
        "Try again",
        &format!(
            "The cloud could not answer just now ({}: {}).",
            error.code, error.message
        ),
        Some(("/console/instances", "Back to the instance list")),
    )
}
