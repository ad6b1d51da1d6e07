//! `/dev/mailbox`: the mail a development server kept instead of sending (no SMTP configured),
//! shown the way a person reads mail: the list, then one mail with its headers, its links
//! (the resume link opens the dialog), the HTML part in a sandboxed frame and the text part.
//! The source stays at `/dev/mailbox/{id}/raw` and in `./mailbox/*.eml`.

use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Response};
use tandem_core::CoreError;
use tandem_worker::mail::{DevMail, DevMailbox};

use crate::error::ApiError;
use crate::html::escape;
use crate::state::AppState;

/// No script runs on these pages, and what a mail links to opens only when clicked.
const POLICY: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src * data:; \
     frame-src 'self'; base-uri 'none'; form-action 'none'";

pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let mailbox = mailbox(&state)?;
    let mails = mailbox.list(200).await.map_err(CoreError::from)?;
    let mut rows = String::new();
    if mails.is_empty() {
        rows.push_str("<tr><td colspan=4 class=muted>No mail yet.</td></tr>");
    }
    for mail in &mails {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><a href=\"/dev/mailbox/{}\">{}</a></td></tr>",
            escape(&mail.created_at.to_string()),
            escape(&mail.sender),
            escape(&mail.recipient),
            mail.id,
            escape(&mail.subject)
        ));
    }
    Ok(page(
        "Dev mailbox",
        &format!(
            "<h1>Dev mailbox</h1><p class=muted>No SMTP server is configured (<code>TANDEM_SMTP_URL</code>), so mail \
             is kept here and in <code>./mailbox/*.eml</code>. Newest first.</p>\
             <table class=mailbox><thead><tr><th>Kept at</th><th>From</th><th>To</th>\
             <th>Subject</th></tr></thead><tbody>{rows}</tbody></table>"
        ),
    ))
}

/// One mail, decoded.
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mail = find(&state, &id).await?;
    let links: String = links_in(&mail.text)
        .map(|url| {
            let url = escape(url);
            format!("<li><a href=\"{url}\" target=_blank rel=noopener>{url}</a></li>")
        })
        .collect();
    // The HTML part in a frame with no scripts, its links opening in a new tab.
    let framed = format!("<base target=\"_blank\">{}", mail.html);
    let body = format!(
        "<p><a href=\"/dev/mailbox\">← All mail</a> · <a href=\"/dev/mailbox/{id}/raw\">Source</a></p>\
         <h2>{subject}</h2>\
         <dl class=mail-headers><dt>From</dt><dd>{from}</dd><dt>To</dt><dd>{to}</dd>\
         <dt>Kept at</dt><dd>{at}</dd></dl>\
         <h3>Links in this mail</h3><ul class=mail-links>{links}</ul>\
         <h3>As HTML</h3>\
         <iframe class=mail-html title=\"The mail's HTML part\" sandbox=\"allow-popups allow-popups-to-escape-sandbox\" srcdoc=\"{framed}\"></iframe>\
         <h3>As text</h3><pre class=mail-text>{text}</pre>",
        id = mail.id,
        subject = escape(&mail.subject),
        from = escape(&mail.sender),
        to = escape(&mail.recipient),
        at = escape(&mail.created_at.to_string()),
        framed = escape(&framed),
        text = escape(&mail.text),
    );
    Ok(page(&mail.subject, &body))
}

/// One mail as it would have gone out (`message/rfc822`, shown as text).
pub async fn raw(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mail = find(&state, &id).await?;
    Ok(([(CONTENT_TYPE, "text/plain; charset=utf-8")], mail.eml).into_response())
}

fn mailbox(state: &AppState) -> Result<&DevMailbox, ApiError> {
    Ok(state
        .dev_mailbox
        .as_deref()
        .ok_or(CoreError::NotFound("path"))?)
}

async fn find(state: &AppState, id: &str) -> Result<DevMail, ApiError> {
    let id = uuid::Uuid::parse_str(id).map_err(|_| CoreError::NotFound("mail"))?;
    Ok(mailbox(state)?
        .get(id)
        .await
        .map_err(CoreError::from)?
        .ok_or(CoreError::NotFound("mail"))?)
}

/// The http(s) links in a text part, in order.
fn links_in(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace()
        .map(|word| word.trim_matches(|c: char| matches!(c, '<' | '>' | '(' | ')' | ',' | '.')))
        .filter(|word| word.starts_with("https://") || word.starts_with("http://"))
}

fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=en><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width, initial-scale=1\">\
         <title>{title} — Tandem dev mailbox</title>\
         <link rel=stylesheet href=\"/static/console.css\">\
         <body><header class=top><span class=top__brand>Tandem</span><span>Dev mailbox</span></header>\
         <main class=\"card dev-mailbox\">{body}</main></body></html>",
        title = escape(title),
    );
    let mut response = Html(html).into_response();
    response
        .headers_mut()
        .insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    response
}

#[cfg(test)]
mod tests {
    use super::links_in;

    #[test]
    fn links_are_found_in_the_text_part() {
        let text = "Continue the conversation: https://chat.example.com/c/wk?resume_token=rt_x\n\
                    Stop these emails: <http://localhost:8080/api/v1/widget/wk/unsubscribe?token=us_y>.";
        assert_eq!(
            links_in(text).collect::<Vec<_>>(),
            [
                "https://chat.example.com/c/wk?resume_token=rt_x",
                "http://localhost:8080/api/v1/widget/wk/unsubscribe?token=us_y"
            ]
        );
    }
}
