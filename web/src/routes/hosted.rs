//! The hosted full-page chat that unread-reply emails link to (`/c/{key}?resume_token=…`), and
//! its static files, embedded in the binary.

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::{IntoResponse, Response};

use crate::auth::WidgetTenant;
use crate::error::ApiError;

const CHAT_HTML: &str = include_str!("../../static/chat.html");
const CHAT_JS: &str = include_str!("../../static/chat.js");
const CHAT_CSS: &str = include_str!("../../static/chat.css");

/// Only our own script and styles run; the page's URL (which may hold a resume token) is never
/// sent to anyone as a referrer, not even to the tenant's logo host.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub async fn page(WidgetTenant(_tenant): WidgetTenant) -> Response {
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CONTENT_SECURITY_POLICY, POLICY),
            (REFERRER_POLICY, "no-referrer"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (CACHE_CONTROL, "no-store"),
        ],
        CHAT_HTML,
    )
        .into_response()
}

pub async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    let (body, kind) = match name.as_str() {
        "chat.js" => (CHAT_JS, "text/javascript; charset=utf-8"),
        "chat.css" => (CHAT_CSS, "text/css; charset=utf-8"),
        _ => return Err(tandem_core::CoreError::NotFound("file").into()),
    };
    Ok((
        [
            (CONTENT_TYPE, kind),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response())
}
