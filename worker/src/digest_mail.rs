//! The alert digest as an email: one line per waiting visitor, each linking into the workspace.

use handlebars::html_escape;
use lettre::message::Mailbox;
use tandem_core::alert::{AlertReason, DigestAlert, DigestClaim};

use crate::alerts::workspace_link;
use crate::mail::Email;

pub(crate) fn compose(claim: &DigestClaim, public_url: &str, from: &Mailbox, to: Mailbox) -> Email {
    let count = claim.alerts.len();
    let subject = match count {
        1 => format!(
            "{}: {}",
            claim.tenant_name,
            claim.alerts[0].alert.headline()
        ),
        n => format!(
            "{}: {n} visitors are waiting for an answer",
            claim.tenant_name
        ),
    };
    let lines: Vec<Line> = claim
        .alerts
        .iter()
        .map(|a| Line::of(a, public_url))
        .collect();
    let domain = from.email.domain().to_owned();
    Email {
        from: Mailbox::new(
            Some(format!("Tandem for {}", claim.tenant_name)),
            from.email.clone(),
        ),
        to,
        subject,
        text: text(claim, &lines),
        html: html(claim, &lines),
        message_id: format!("{}@{domain}", uuid::Uuid::now_v7()),
        thread_id: format!("alerts-{}@{domain}", claim.user),
        unsubscribe_url: None,
        reply_to: None,
    }
}

/// One alert as the mail shows it.
struct Line {
    headline: String,
    when: String,
    contact: Option<String>,
    preview: String,
    link: String,
    kind: AlertReason,
}

impl Line {
    fn of(a: &DigestAlert, public_url: &str) -> Self {
        Self {
            headline: a.alert.headline(),
            when: a
                .alert
                .created_at
                .to_datetime()
                .format("%Y-%m-%d %H:%M UTC")
                .to_string(),
            contact: a.visitor_email.clone(),
            preview: a.alert.preview.clone(),
            link: workspace_link(public_url, a.alert.chat_id),
            kind: a.alert.kind,
        }
    }
}

fn intro(claim: &DigestClaim) -> String {
    format!(
        "Hello {}, while you were not online in the workspace, {} of {}'s visitors {} still waiting for an answer:",
        claim.operator_name,
        claim.alerts.len(),
        claim.tenant_name,
        if claim.alerts.len() == 1 { "is" } else { "are" }
    )
}

const OUTRO: &str = "You get this because your status is not online. Set it to online in the workspace to be alerted there instead.";

fn text(claim: &DigestClaim, lines: &[Line]) -> String {
    let mut out = intro(claim);
    out.push_str("\n\n");
    for line in lines {
        out.push_str(&format!("* {} ({})\n", line.headline, line.when));
        if let Some(email) = &line.contact {
            out.push_str(&format!("  {email}\n"));
        }
        for quoted in line.preview.lines() {
            out.push_str(&format!("  > {quoted}\n"));
        }
        out.push_str(&format!("  Answer: {}\n\n", line.link));
    }
    out.push_str(OUTRO);
    out.push('\n');
    out
}

fn html(claim: &DigestClaim, lines: &[Line]) -> String {
    let mut out = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;color:#1f2937\"><p>{}</p>",
        html_escape(&intro(claim))
    );
    for line in lines {
        let badge = match line.kind {
            AlertReason::OfflineRequest => "Offline request",
            AlertReason::LongWait => "Waiting",
        };
        out.push_str(&format!(
            "<div style=\"border-left:3px solid #2563eb;padding:4px 12px;margin:12px 0\">\
             <p style=\"margin:0\"><strong>{}</strong> <small>{} · {}</small></p>",
            html_escape(&line.headline),
            badge,
            html_escape(&line.when),
        ));
        if let Some(email) = &line.contact {
            out.push_str(&format!(
                "<p style=\"margin:2px 0;color:#4b5563\">{}</p>",
                html_escape(email)
            ));
        }
        out.push_str(&format!(
            "<blockquote style=\"margin:6px 0;color:#374151;white-space:pre-wrap\">{}</blockquote>\
             <p style=\"margin:0\"><a href=\"{}\">Answer in the workspace</a></p></div>",
            html_escape(&line.preview),
            html_escape(&line.link),
        ));
    }
    out.push_str(&format!(
        "<p style=\"color:#6b7280;font-size:12px\">{}</p></body></html>",
        html_escape(OUTRO)
    ));
    out
}
