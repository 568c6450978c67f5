//! The console's stylesheet, script and icon, compiled into the binary: no CDN, no separate
//! server, nothing to install next to ecsd.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::secure;

const CSS: &str = include_str!("../../assets/console/console.css");
const JS: &str = include_str!("../../assets/console/console.js");
const ICON: &str = include_str!("../../assets/console/icon.svg");

pub async fn serve(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        "icon.svg" => (ICON, "image/svg+xml"),
        _ => return super::not_found().await,
    };
    let mut response = (StatusCode::OK, [(header::CONTENT_TYPE, kind)], body).into_response();
    // The assets change only with the binary; an hour keeps page loads cheap without making a
    // new ecsd wait long to be seen.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, max-age=3600"),
    );
    secure(response, true)
}
