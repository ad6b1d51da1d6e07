//! `/dev/mailbox`: the mail a development server kept instead of sending (no SMTP configured).

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse, Response};
use tandem_core::CoreError;

use crate::error::ApiError;
use crate::html::escape;
use crate::state::AppState;

pub async fn list(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    let mailbox = state
        .dev_mailbox
        .as_ref()
        .ok_or(CoreError::NotFound("path"))?;
    let mails = mailbox.list(200).await.map_err(CoreError::from)?;
    let mut page = String::from(
        "<!doctype html><meta charset=utf-8><title>Dev mailbox</title>\
         <style>body{font-family:sans-serif;max-width:900px;margin:2em auto}td{padding:4px 8px}</style>\
         <h1>Dev mailbox</h1><p>No SMTP server is configured (<code>TANDEM_SMTP_URL</code>), so \
         mail is kept here and in <code>./mailbox/*.eml</code>.</p><table>",
    );
    if mails.is_empty() {
        page.push_str("<tr><td>No mail yet.</td></tr>");
    }
    for mail in mails {
        page.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td><a href=\"/dev/mailbox/{}\">{}</a></td></tr>",
            escape(&mail.created_at.to_string()),
            escape(&mail.recipient),
            mail.id,
            escape(&mail.subject)
        ));
    }
    page.push_str("</table>");
    Ok(Html(page))
}

/// One mail as it would have gone out (`message/rfc822`, shown as text).
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mailbox = state
        .dev_mailbox
        .as_ref()
        .ok_or(CoreError::NotFound("path"))?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| CoreError::NotFound("mail"))?;
    let mail = mailbox
        .get(id)
        .await
        .map_err(CoreError::from)?
        .ok_or(CoreError::NotFound("mail"))?;
    Ok(([(CONTENT_TYPE, "text/plain; charset=utf-8")], mail.eml).into_response())
}
