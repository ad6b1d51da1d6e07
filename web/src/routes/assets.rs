//! The UIs' static files (widget, workspace, admin console), embedded in the binary so that
//! `tandem serve` needs nothing beside it.

use axum::extract::Path;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Name, content type, body.
const FILES: &[(&str, &str, &str)] = &[
    ("widget.js", JS, include_str!("../../static/widget.js")),
    ("widget.css", CSS, include_str!("../../static/widget.css")),
    ("console.css", CSS, include_str!("../../static/console.css")),
    ("console.js", JS, include_str!("../../static/console.js")),
    ("app.js", JS, include_str!("../../static/app.js")),
    ("admin.js", JS, include_str!("../../static/admin.js")),
    ("demo.css", CSS, include_str!("../../static/demo.css")),
];

/// `GET /static/{name}`. The widget's files load on tenants' sites, so any origin may fetch them
/// (they hold nothing secret); the short cache keeps an upgrade's new widget reaching visitors.
pub async fn file(Path(name): Path<String>) -> Result<Response, ApiError> {
    let Some((_, kind, body)) = FILES.iter().find(|(file, _, _)| *file == name) else {
        return Err(tandem_core::CoreError::NotFound("file").into());
    };
    Ok((
        [
            (CONTENT_TYPE, *kind),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (CACHE_CONTROL, "public, max-age=300"),
            (ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        *body,
    )
        .into_response())
}
