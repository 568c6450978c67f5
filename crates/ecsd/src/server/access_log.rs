//! The request log: one `debug` line per RPC call under the target `ecsd::access` (shown with
//! `ECSD_LOG=debug`, or `ECSD_LOG=info,ecsd::access=debug`; at the default `info` level the
//! line costs nothing: formatting and writing it took a tenth of the one-instance read rate), with the
//! RequestId, Action, AccessKeyId, error Code (`OK` on success), HTTP status and duration.
//!
//! Only what identifies a call goes in: never the secret, the signature or the parameters,
//! which may carry passwords or user data. The Action and AccessKeyId are the ones the request
//! claims, so a refused call (a wrong signature, an unknown key) still shows who tried what.
//!
//! The RPC handler reports what it learns through [`note_request_id`], [`note_caller`] and
//! [`note_error`]; [`record`] wraps the handler, collects the notes and writes the line. The
//! notes live in a task-local slot so that the handler needs one line per fact and no change
//! to its signatures; outside [`record`] (unit tests calling the handler) they are no-ops.

use std::cell::RefCell;
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use ecs_domain::ApiError;

/// What the handler learned about the call it answered.
#[derive(Default)]
struct Notes {
    request_id: Option<String>,
    action: Option<String>,
    access_key_id: Option<String>,
    code: Option<String>,
}

tokio::task_local! {
    static NOTES: RefCell<Notes>;
}

fn note(f: impl FnOnce(&mut Notes)) {
    let _ = NOTES.try_with(|notes| f(&mut notes.borrow_mut()));
}

/// The RequestId the answer carries.
pub fn note_request_id(request_id: &str) {
    note(|n| n.request_id = Some(request_id.to_string()));
}

/// The Action and AccessKeyId the request names (before its signature is checked).
pub fn note_caller(action: Option<&str>, access_key_id: &str) {
    note(|n| {
        n.action = action.map(loggable);
        n.access_key_id = Some(loggable(access_key_id)).filter(|s| !s.is_empty());
    });
}

/// The longest claimed value logged; real Actions and AccessKeyIds are a few dozen characters.
const MAX_LOGGED: usize = 64;

/// A value the client chose, made safe for a one-line log: written bare, a newline or space in
/// it could forge or split a line, so anything but visible ASCII becomes `?`, and it is cut short.
fn loggable(claimed: &str) -> String {
    claimed
        .chars()
        .take(MAX_LOGGED)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

/// The error the call is answered with.
pub fn note_error(err: &ApiError) {
    note(|n| n.code = Some(err.code.to_string()));
}

/// Middleware around the RPC handler: runs it with an empty set of notes and logs the call.
pub async fn record(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let (response, notes) = NOTES
        .scope(RefCell::new(Notes::default()), async {
            let response = next.run(req).await;
            (response, NOTES.with(|n| n.take()))
        })
        .await;
    let status = response.status().as_u16();
    let code = match notes.code {
        Some(code) => code,
        None if status < 400 => "OK".to_string(),
        // An answer made outside the handler's notes (none is expected): the status says it.
        None => "-".to_string(),
    };
    tracing::debug!(
        target: "ecsd::access",
        request_id = %notes.request_id.as_deref().unwrap_or("-"),
        action = %notes.action.as_deref().unwrap_or("-"),
        access_key_id = %notes.access_key_id.as_deref().unwrap_or("-"),
        code = %code,
        status,
        duration_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
        "rpc call"
    );
    response
}

/// A request refused before it could be read as HTTP (see `head_refusal`): logged in the same
/// shape, with no Action or AccessKeyId to show.
pub fn refused(request_id: &str, err: &ApiError) {
    tracing::debug!(
        target: "ecsd::access",
        request_id = %request_id,
        action = %"-",
        access_key_id = %"-",
        code = %err.code,
        status = err.status,
        duration_ms = 0.0,
        "request refused before parsing"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claimed_values_stay_on_one_line() {
        assert_eq!(loggable("DescribeRegions"), "DescribeRegions");
        assert_eq!(loggable("a b\nc=d\u{7f}é"), "a?b?c=d??");
        assert_eq!(loggable(&"k".repeat(500)).len(), MAX_LOGGED);
    }

    #[test]
    fn notes_outside_a_call_are_ignored() {
        note_request_id("R");
        note_caller(Some("DescribeRegions"), "key");
        note_error(&ecs_wire::codes::INVALID_VERSION.err());
    }
}
