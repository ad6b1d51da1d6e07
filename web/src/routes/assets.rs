//! The UIs' static files (widget, workspace, admin console), embedded in the binary so that
//! `tandem serve` needs nothing beside it.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use tower_http::compression::CompressionLayer;

use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/static/{name}", get(file).layer(CompressionLayer::new()))
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Name, content type, source.
const SOURCES: &[(&str, &str, &str)] = &[
    ("widget.js", JS, include_str!("../../static/widget.js")),
    ("widget.css", CSS, include_str!("../../static/widget.css")),
    (
        "widget-more.js",
        JS,
        include_str!("../../static/widget-more.js"),
    ),
    ("console.css", CSS, include_str!("../../static/console.css")),
    ("console.js", JS, include_str!("../../static/console.js")),
    (
        "console-photo.js",
        JS,
        include_str!("../../static/console-photo.js"),
    ),
    ("shared.js", JS, include_str!("../../static/shared.js")),
    ("app.js", JS, include_str!("../../static/app.js")),
    (
        "app-state.js",
        JS,
        include_str!("../../static/app-state.js"),
    ),
    (
        "app-lists.js",
        JS,
        include_str!("../../static/app-lists.js"),
    ),
    (
        "app-dialog.js",
        JS,
        include_str!("../../static/app-dialog.js"),
    ),
    (
        "app-events.js",
        JS,
        include_str!("../../static/app-events.js"),
    ),
    (
        "app-notes.js",
        JS,
        include_str!("../../static/app-notes.js"),
    ),
    (
        "app-canned.js",
        JS,
        include_str!("../../static/app-canned.js"),
    ),
    (
        "app-context.js",
        JS,
        include_str!("../../static/app-context.js"),
    ),
    (
        "app-search.js",
        JS,
        include_str!("../../static/app-search.js"),
    ),
    ("app-keys.js", JS, include_str!("../../static/app-keys.js")),
    (
        "admin-canned.js",
        JS,
        include_str!("../../static/admin-canned.js"),
    ),
    (
        "app-alerts.js",
        JS,
        include_str!("../../static/app-alerts.js"),
    ),
    ("app-push.js", JS, include_str!("../../static/app-push.js")),
    (
        "admin-csat.js",
        JS,
        include_str!("../../static/admin-csat.js"),
    ),
    ("app-sw.js", JS, include_str!("../../static/app-sw.js")),
    (
        "app-outbox.js",
        JS,
        include_str!("../../static/app-outbox.js"),
    ),
    ("admin.js", JS, include_str!("../../static/admin.js")),
    (
        "admin-forms.js",
        JS,
        include_str!("../../static/admin-forms.js"),
    ),
    (
        "admin-settings.js",
        JS,
        include_str!("../../static/admin-settings.js"),
    ),
    (
        "admin-operators.js",
        JS,
        include_str!("../../static/admin-operators.js"),
    ),
    (
        "admin-template.js",
        JS,
        include_str!("../../static/admin-template.js"),
    ),
    (
        "admin-plugins.js",
        JS,
        include_str!("../../static/admin-plugins.js"),
    ),
    (
        "admin-plugin-settings.js",
        JS,
        include_str!("../../static/admin-plugin-settings.js"),
    ),
    (
        "admin-plugin-trial.js",
        JS,
        include_str!("../../static/admin-plugin-trial.js"),
    ),
    (
        "admin-deliveries.js",
        JS,
        include_str!("../../static/admin-deliveries.js"),
    ),
    (
        "admin-audit.js",
        JS,
        include_str!("../../static/admin-audit.js"),
    ),
    (
        "console-audit.js",
        JS,
        include_str!("../../static/console-audit.js"),
    ),
    (
        "admin-exports.js",
        JS,
        include_str!("../../static/admin-exports.js"),
    ),
    (
        "console-exports.js",
        JS,
        include_str!("../../static/console-exports.js"),
    ),
    ("platform.js", JS, include_str!("../../static/platform.js")),
    (
        "platform-tenants.js",
        JS,
        include_str!("../../static/platform-tenants.js"),
    ),
    (
        "platform-health.js",
        JS,
        include_str!("../../static/platform-health.js"),
    ),
    ("demo.css", CSS, include_str!("../../static/demo.css")),
];

/// `GET /static/{name}`. The widget's files load on tenants' sites, so any origin may fetch them
/// (they hold nothing secret). Browsers keep them 5 minutes, then revalidate by ETag (a 304
/// costs a few bytes), so an upgrade's new widget reaches visitors within minutes. The router
/// gzips them (the widget is about a third of its size).
pub async fn file(Path(name): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(file) = files().iter().find(|file| file.name == name) else {
        return Err(tandem_core::CoreError::NotFound("file").into());
    };
    let etag = file.etag.as_str();
    let cached = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    let common = [
        (ETAG, etag),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (CACHE_CONTROL, "public, max-age=300"),
        (ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
    ];
    if cached {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    Ok((common, [(CONTENT_TYPE, file.kind)], file.body.as_str()).into_response())
}

struct File {
    name: &'static str,
    kind: &'static str,
    body: String,
    /// From the content.
    etag: String,
}

/// The files as served, built once: each source as it is, but the widget with the shared
/// module inlined.
fn files() -> &'static [File] {
    static FILES: OnceLock<Vec<File>> = OnceLock::new();
    FILES.get_or_init(|| {
        SOURCES
            .iter()
            .map(|&(name, kind, source)| {
                let body = match name {
                    "widget.js" => with_shared_inlined(source),
                    _ => source.to_owned(),
                };
                let digest = Sha256::digest(body.as_bytes());
                let etag = format!("\"{}\"", tandem_core::secret::hex(&digest[..12]));
                File {
                    name,
                    kind,
                    body,
                    etag,
                }
            })
            .collect()
    })
}

/// The widget is a classic script on other companies' pages: it cannot import the module the
/// consoles share, and a second request would slow its first load. Its `/* shared.js */` line
/// becomes the module's declarations, `export` dropped, inside the widget's own scope.
fn with_shared_inlined(widget: &str) -> String {
    const SHARED: &str = include_str!("../../static/shared.js");
    let declarations: String = SHARED
        .lines()
        .map(|line| line.strip_prefix("export ").unwrap_or(line))
        .flat_map(|line| [if line.is_empty() { "" } else { "  " }, line, "\n"])
        .collect();
    widget.replacen("  /* shared.js */\n", &declarations, 1)
}

#[cfg(test)]
mod tests {
    /// A script or stylesheet added to web/static/ but not to SOURCES would be a 404 in a browser.
    #[test]
    fn every_script_and_stylesheet_is_served() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/static");
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(dir).expect("web/static") {
            let name = entry.expect("an entry").file_name();
            let name = name.to_string_lossy();
            let served = super::SOURCES.iter().any(|(file, _, _)| *file == name);
            if (name.ends_with(".js") || name.ends_with(".css")) && !served {
                missing.push(name.into_owned());
            }
        }
        assert!(missing.is_empty(), "not in SOURCES: {missing:?}");
    }

    #[test]
    fn the_widget_carries_the_shared_module_in_its_own_scope() {
        let widget = super::with_shared_inlined(include_str!("../../static/widget.js"));
        assert!(!widget.contains("/* shared.js */"), "the place was found");
        for declaration in [
            "function mergeMessage(",
            "function uuid(",
            "function request(",
            "class ApiError",
        ] {
            assert_eq!(widget.matches(declaration).count(), 1, "{declaration}");
        }
        assert!(
            !widget
                .lines()
                .any(|line| line.trim_start().starts_with("export ")
                    || line.trim_start().starts_with("import ")),
            "a classic script cannot export or import"
        );
    }
}
