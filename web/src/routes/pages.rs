//! The HTML pages: the operator workspace (`/app`), the admin console (`/admin`), the platform
//! console (`/platform`), the demo site with the widget on it (`/demo`) and the hosted
//! full-page chat (`/c/{key}`) that emails link to.

use axum::Router;
use axum::extract::State;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::auth::WidgetTenant;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::html::escape;
use crate::state::AppState;

/// The HTML pages; not part of the API document.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(root))
        .route("/app", get(workspace))
        .route("/app-sw.js", get(service_worker))
        .route("/admin", get(console))
        .route("/platform", get(platform_console))
        .route("/demo", get(demo))
        .route("/c/{key}", get(hosted_chat))
}

const APP_HTML: &str = include_str!("../../static/app.html");
const ADMIN_HTML: &str = include_str!("../../static/admin.html");
const PLATFORM_HTML: &str = include_str!("../../static/platform.html");
const DEMO_HTML: &str = include_str!("../../static/demo.html");
const CHAT_HTML: &str = include_str!("../../static/chat.html");

/// Only our own scripts run, and the pages cannot be framed. The admin console allows inline
/// styles, for the email preview it shows in a sandboxed frame (no scripts run there).
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data: blob:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const ADMIN_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; connect-src 'self' ws: wss:; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn page(body: impl Into<String>, policy: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CONTENT_SECURITY_POLICY, policy),
            // The hosted chat's URL may hold a resume token: never send it as a referrer.
            (REFERRER_POLICY, "no-referrer"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (CACHE_CONTROL, "no-store"),
        ],
        body.into(),
    )
        .into_response()
}

pub async fn workspace() -> Response {
    page(APP_HTML, POLICY)
}

/// The workspace's service worker, for Web Push. Served from the root (not `/static/`) so that
/// it may control `/app`; revalidated on every check, so an upgrade's new one takes over.
pub async fn service_worker() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../../static/app-sw.js"),
    )
        .into_response()
}

pub async fn console() -> Response {
    page(ADMIN_HTML, ADMIN_POLICY)
}

/// The platform console; it works only when a platform token is configured.
pub async fn platform_console() -> Response {
    page(PLATFORM_HTML, POLICY)
}

pub async fn hosted_chat(WidgetTenant(_tenant): WidgetTenant) -> Response {
    page(CHAT_HTML, POLICY)
}

/// The server's address leads people who work here to their workspace (visitors never come
/// here: they meet the widget on the company's site).
pub async fn root() -> Redirect {
    Redirect::to("/app")
}

#[derive(Deserialize)]
pub struct DemoQuery {
    key: Option<String>,
}

/// `/demo` shows the demo tenant's widget (the one the first run creates); `/demo?key=…` any
/// tenant's, which is how the admin console previews a tenant's own widget.
pub async fn demo(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<DemoQuery>,
) -> Result<Response, ApiError> {
    let tenant = match query.key {
        Some(key) => state.tenants.by_widget_key(&state.tandem, &key).await?,
        None => state.tandem.tenants.by_slug(crate::demo::DEMO_SLUG).await?,
    };
    let html = DEMO_HTML
        .replace("{{company}}", &escape(&tenant.name))
        .replace("{{key}}", &escape(&tenant.widget_key))
        .replace("{{origin}}", &escape(&state.public_url));
    Ok(page(html, POLICY))
}
