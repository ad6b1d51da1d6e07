//! `/dev/mailbox`: the mail a development server kept instead of sending (no SMTP configured),
//! shown the way a person reads mail: the list, then one mail with its headers, its links
//! (the resume link opens the dialog), the HTML part in a sandboxed frame and the text part.
//! The source stays at `/dev/mailbox/{id}/raw` and in `./mailbox/*.eml`.

use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tandem_core::CoreError;
use tandem_worker::inbound;
use tandem_worker::mail::{DevMail, DevMailbox};

use crate::error::ApiError;
use crate::html::escape;
use crate::state::AppState;

/// The dev mailbox's pages (they answer only while the server runs with it).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dev/mailbox", get(list))
        .route("/dev/mailbox/{id}", get(show))
        .route("/dev/mailbox/{id}/raw", get(raw))
        .route("/dev/mailbox/{id}/reply", post(reply))
}

/// No script runs on these pages, and what a mail links to opens only when clicked.
const POLICY: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src * data:; \
     frame-src 'self'; base-uri 'none'; form-action 'self'";

pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let mailbox = mailbox(&state)?;
    let mails = mailbox.list(200).await?;
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
    Query(query): Query<Shown>,
) -> Result<Response, ApiError> {
    let mail = find(&state, &id).await?;
    let answer = match (&query.sent, &query.refused) {
        (Some(_), _) => {
            "<p class=ok role=status>Your answer went into the conversation.</p>".to_owned()
        }
        (None, Some(why)) => format!("<p class=error role=alert>Not taken: {}</p>", escape(why)),
        (None, None) => String::new(),
    };
    // Answering from here goes through the same way in as a real reply by email.
    let reply_form = if inbound::reply_address(mail.eml.as_bytes()).is_some() {
        format!(
            "<h3>Answer as {to}</h3><form method=post action=\"/dev/mailbox/{id}/reply\" class=mail-reply>\
             <label for=reply-body class=visually-hidden>Your answer</label>\
             <textarea id=reply-body name=body rows=3 required></textarea>\
             <button class=button type=submit>Send the answer</button></form>",
            to = escape(&mail.recipient),
            id = mail.id,
        )
    } else {
        String::new()
    };
    let links: String = links_in(&mail.text)
        .map(|url| {
            let url = escape(url);
            format!("<li><a href=\"{url}\" target=_blank rel=noopener>{url}</a></li>")
        })
        .collect();
    // The HTML part in a frame with no scripts, its links opening in a new tab.
    let framed = format!("<base target=\"_blank\">{}", mail.html);
    let body = format!(
        "<p><a href=\"/dev/mailbox\">← All mail</a> · <a href=\"/dev/mailbox/{id}/raw\">Source</a></p>{answer}\
         <h2>{subject}</h2>\
         <dl class=mail-headers><dt>From</dt><dd>{from}</dd><dt>To</dt><dd>{to}</dd>\
         <dt>Kept at</dt><dd>{at}</dd></dl>\
         <h3>Links in this mail</h3><ul class=mail-links>{links}</ul>\
         <h3>As HTML</h3>\
         <iframe class=mail-html title=\"The mail's HTML part\" sandbox=\"allow-popups allow-popups-to-escape-sandbox\" srcdoc=\"{framed}\"></iframe>\
         <h3>As text</h3><pre class=mail-text>{text}</pre>{reply_form}",
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

#[derive(Deserialize)]
pub struct Shown {
    sent: Option<String>,
    refused: Option<String>,
}

#[derive(Deserialize)]
pub struct Answer {
    body: String,
}

/// The recipient of a kept mail answers it: a reply, as their mail client would write it, to
/// the mail's `Reply-To`, taken in like any reply by email.
pub async fn reply(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(answer): Form<Answer>,
) -> Result<Response, ApiError> {
    let mail = find(&state, &id).await?;
    let to =
        inbound::reply_address(mail.eml.as_bytes()).ok_or(CoreError::NotFound("reply address"))?;
    // "Vera <vera@example.org>" or "vera@example.org": the address either way.
    let from = mail
        .recipient
        .rsplit_once('<')
        .map_or(mail.recipient.as_str(), |(_, rest)| {
            rest.trim_end_matches('>')
        })
        .trim()
        .to_owned();
    let raw = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Re: {subject}\r\nMessage-ID: <{message}@dev.localhost>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        subject = mail.subject.replace(['\r', '\n'], " "),
        message = uuid::Uuid::now_v7(),
        body = with_quote(&answer.body, &mail),
    );
    let outcome = match inbound::parse(raw.as_bytes()) {
        Ok(parsed) => state
            .tandem
            .inbound
            .receive(parsed)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let query = match outcome {
        Ok(()) => "sent=1".to_owned(),
        Err(why) => format!("refused={}", urlencode(&why)),
    };
    Ok(Redirect::to(&format!("/dev/mailbox/{}?{query}", mail.id)).into_response())
}

/// The answer above the mail it answers, quoted the way mail clients do.
fn with_quote(answer: &str, mail: &DevMail) -> String {
    let sender = if mail.sender.is_empty() {
        "the company"
    } else {
        mail.sender.as_str()
    };
    let sent = mail
        .created_at
        .to_datetime()
        .format("%a, %-d %b %Y at %H:%M UTC");
    let mut text = format!("{}\n\nOn {sent}, {sender} wrote:\n", answer.trim_end());
    for line in mail.text.lines() {
        text.push_str(if line.is_empty() { ">" } else { "> " });
        text.push_str(line);
        text.push('\n');
    }
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
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
        .await?
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
