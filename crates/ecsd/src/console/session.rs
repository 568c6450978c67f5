//! Signing in and out, the session cookie and CSRF tokens.
//!
//! A person signs in with an AccessKey pair of an account, checked against the stored (sealed)
//! secret through the same key lookup the API's signature check uses. The session is a record
//! in the store (through the service), so every replica serving the store knows it; the browser
//! holds only a random id (32 bytes from the operating system's CSPRNG) in an `HttpOnly`,
//! `SameSite=Strict` cookie scoped to `/console`. The store keeps the id's SHA-256, not the id:
//! a copy of the database signs nobody in.
//!
//! Every form that changes something carries the session's CSRF token, compared in constant
//! time; the sign-in form, which has no session yet, carries a token that must match a cookie
//! of its own (a forged sign-in cannot read it).

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use ecs_domain::ApiError;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::form::Fields;
use super::view::Chrome;
use super::{message, page, see_other, unavailable};
use crate::app::App;
use crate::server::admin::same_token;

/// The session cookie.
pub const SESSION_COOKIE: &str = "ecsd_console";
/// The sign-in form's own token cookie.
pub const SIGN_IN_COOKIE: &str = "ecsd_console_signin";
/// How long a session lasts from sign-in (real time).
const SESSION_LIFETIME: Duration = Duration::hours(12);

/// What the store keeps for a session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub account_id: i64,
    /// The account's name, for the page header.
    pub account: String,
    /// The AccessKeyId signed in with.
    pub key_id: String,
    /// The token every form of this session posts back.
    pub csrf: String,
    /// Whether the admin token was entered in this session (the emulator panel).
    pub admin: bool,
    /// Real time: a session ends then, whatever the lifecycle clock says.
    pub expires_at: DateTime<Utc>,
}

/// A live session: its record and where the store keeps it.
#[derive(Debug, Clone)]
pub struct Session {
    /// The store's name for it (derived from the cookie's id).
    pub key: String,
    pub record: SessionRecord,
}

impl Session {
    /// The caller the service sees: this session's account, with no signed request.
    pub fn caller(&self) -> ecs_service::Caller {
        ecs_service::Caller::account(self.record.account_id)
    }

    /// Where the last result of this session is kept.
    pub fn result_key(&self) -> String {
        format!("result:{}", self.key.trim_start_matches("session:"))
    }

    pub async fn save(&self, app: &App) -> Result<(), ApiError> {
        let json = serde_json::to_string(&self.record).unwrap_or_default();
        app.service.put_console_record(&self.key, Some(json)).await
    }
}

/// 32 random bytes from the operating system, URL-safe base64.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn store_key(session_id: &str) -> String {
    format!(
        "session:{}",
        hex::encode(Sha256::digest(session_id.as_bytes()))
    )
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

fn set_cookie(response: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn session_cookie(id: &str) -> String {
    format!(
        "{SESSION_COOKIE}={id}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}",
        SESSION_LIFETIME.num_seconds()
    )
}

fn expired_cookie(name: &str, path: &str) -> String {
    format!("{name}=; Path={path}; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The session the request's cookie names, if it is live.
pub fn current(app: &App, headers: &HeaderMap) -> Result<Option<Session>, ApiError> {
    let Some(id) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let key = store_key(&id);
    let Some(json) = app.service.console_record(&key)? else {
        return Ok(None);
    };
    let Ok(record) = serde_json::from_str::<SessionRecord>(&json) else {
        return Ok(None);
    };
    if record.expires_at <= Utc::now() {
        return Ok(None);
    }
    Ok(Some(Session { key, record }))
}

/// A page's session, or the answer to give instead: the sign-in page (which comes back to
/// `path?query` after signing in), or a refusal if the store could not be asked.
pub fn require(
    app: &App,
    headers: &HeaderMap,
    path: &str,
    query: Option<&str>,
) -> Result<Session, Box<Response>> {
    let back_to = match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_string(),
    };
    let back_to = back_to.as_str();
    match current(app, headers) {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(Box::new(see_other(&super::form::url(
            "/console/sign-in",
            [("next", back_to)],
        )))),
        Err(e) => Err(Box::new(unavailable(Chrome::bare("Try again"), &e))),
    }
}

/// A form post's session, checked: a live session, and the form's CSRF token equal to the
/// session's (compared in constant time). Anything else is refused (403) and changes nothing.
pub fn require_post(
    app: &App,
    headers: &HeaderMap,
    fields: &Fields,
) -> Result<Session, Box<Response>> {
    let session =
        match current(app, headers) {
            Ok(Some(s)) => s,
            Ok(None) => return Err(Box::new(message(
                StatusCode::FORBIDDEN,
                Chrome::bare("Signed out"),
                "You are not signed in",
                "Your session has ended or you signed out, so nothing was changed. Sign in again \
                 and repeat the step.",
                Some(("/console/sign-in", "Sign in")),
            ))),
            Err(e) => return Err(Box::new(unavailable(Chrome::bare("Try again"), &e))),
        };
    let sent = fields.get("csrf").unwrap_or_default();
    if !same_token(sent.as_bytes(), session.record.csrf.as_bytes()) {
        return Err(Box::new(forged()));
    }
    Ok(session)
}

fn forged() -> Response {
    message(
        StatusCode::FORBIDDEN,
        Chrome::bare("Refused"),
        "Refused: the form's security token is missing or wrong",
        "This request did not come from a console page of your session, so nothing was changed. \
         Open the page again and repeat the step.",
        Some(("/console/instances", "Back to the instance list")),
    )
}

/// Where to go after signing in: a console page, never another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/console/")
                && !n.starts_with("/console/sign-")
                && !n.contains("//")
                && !n.contains('\\') =>
        {
            n.to_string()
        }
        _ => "/console/instances".to_string(),
    }
}

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    token: String,
    next: String,
    key_id: String,
    error: Option<String>,
    notice: Option<String>,
}

fn sign_in_page(
    status: StatusCode,
    next: String,
    key_id: String,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let token = random_token();
    let mut response = page(
        status,
        &SignInPage {
            chrome: Chrome::bare("Sign in"),
            token: token.clone(),
            next,
            key_id,
            error,
            notice,
        },
    );
    set_cookie(
        &mut response,
        format!("{SIGN_IN_COOKIE}={token}; Path=/console/sign-in; HttpOnly; SameSite=Strict; Max-Age=3600"),
    );
    response
}

pub async fn sign_in_form(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let q = Fields::query(query.as_deref());
    if let Ok(Some(_)) = current(&app, &headers) {
        return see_other(&safe_next(q.get("next")));
    }
    let notice = q
        .checked("signed_out")
        .then(|| "You are signed out.".to_string());
    sign_in_page(
        StatusCode::OK,
        safe_next(q.get("next")),
        String::new(),
        None,
        notice,
    )
}

pub async fn sign_in(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let f = Fields::parse(&body);
    let next = safe_next(f.get("next"));
    let key_id = f.get("access_key_id").unwrap_or_default().to_string();
    let cookie_token = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    let form_token = f.get("token").unwrap_or_default();
    if cookie_token.is_empty() || !same_token(form_token.as_bytes(), cookie_token.as_bytes()) {
        return forged();
    }
    let secret = f.get("access_key_secret").unwrap_or_default().to_string();
    let refused = |why: &str| {
        sign_in_page(
            StatusCode::UNAUTHORIZED,
            next.clone(),
            key_id.clone(),
            Some(why.to_string()),
            None,
        )
    };
    if key_id.is_empty() || secret.is_empty() {
        return refused("Enter both the AccessKey ID and the AccessKey secret.");
    }
    let key = match app.service.find_access_key(&key_id) {
        Ok(k) => k,
        Err(e) => return unavailable(Chrome::bare("Try again"), &e),
    };
    let Some(key) = key.filter(|k| same_token(secret.as_bytes(), k.secret.as_bytes())) else {
        return refused("That AccessKey ID and secret do not match a key of any account.");
    };
    let account = match app.service.account(key.account_id) {
        Ok(Some(a)) => a.name,
        Ok(None) => return refused("The account of that key no longer exists."),
        Err(e) => return unavailable(Chrome::bare("Try again"), &e),
    };
    let id = random_token();
    let session = Session {
        key: store_key(&id),
        record: SessionRecord {
            account_id: key.account_id,
            account,
            key_id: key.id,
            csrf: random_token(),
            admin: false,
            expires_at: Utc::now() + SESSION_LIFETIME,
        },
    };
    if let Err(e) = session.save(&app).await {
        return unavailable(Chrome::bare("Try again"), &e);
    }
    let mut response = see_other(&next);
    set_cookie(&mut response, session_cookie(&id));
    set_cookie(
        &mut response,
        expired_cookie(SIGN_IN_COOKIE, "/console/sign-in"),
    );
    response
}

pub async fn sign_out(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let f = Fields::parse(&body);
    let session = match require_post(&app, &headers, &f) {
        Ok(s) => s,
        Err(refused) => return *refused,
    };
    let ended = app.service.put_console_record(&session.key, None).await;
    let cleared = app
        .service
        .put_console_record(&session.result_key(), None)
        .await;
    if let Err(e) = ended.and(cleared) {
        return unavailable(Chrome::bare("Try again"), &e);
    }
    let mut response = see_other("/console/sign-in?signed_out=1");
    set_cookie(&mut response, expired_cookie(SESSION_COOKIE, "/console"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_inside_the_console() {
        assert_eq!(
            safe_next(Some("/console/hosts?region=x")),
            "/console/hosts?region=x"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/console/",
            "/console//evil",
            "/admin/reset",
            "/console/sign-out",
            "/console\\x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/console/instances", "{bad}");
        }
        assert_eq!(safe_next(None), "/console/instances");
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; ecsd_console=abc; ecsd_console_signin=zz"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, SIGN_IN_COOKIE).as_deref(), Some("zz"));
        assert_eq!(cookie(&h, "b"), None);
    }

    #[test]
    fn tokens_are_random_and_long() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
    }
}
