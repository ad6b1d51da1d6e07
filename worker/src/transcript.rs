//! A conversation's transcript by email, as its visitor asked: the whole dialog (messages only;
//! operators' notes live elsewhere and never come here), in the visitor's language.

use handlebars::html_escape;
use lettre::message::Mailbox;
use tandem_core::ids::TranscriptId;
use tandem_core::message::Author;
use tandem_core::tenant::Language;
use tandem_core::transcript::{TranscriptClaim, TranscriptOutcome, TranscriptToSend};

use crate::deliver::{DeliverError, Delivered, Deliverer, MAX_ATTEMPTS, backoff, patiently};
use crate::mail::{Email, SendError};

impl Deliverer {
    /// Mails transcript request `id` when it is due. Safe from several workers at once; a mail
    /// the server took is recorded however long the store takes to come back.
    pub async fn send_transcript(&self, id: TranscriptId) -> Result<Delivered, DeliverError> {
        let claim = match self
            .tandem
            .transcripts
            .claim(id, self.settings.lease)
            .await?
        {
            TranscriptClaim::Send(claim) => claim,
            TranscriptClaim::NotDue(at) => return Ok(Delivered::NotDue(at)),
            TranscriptClaim::Busy | TranscriptClaim::Settled => return Ok(Delivered::Nothing),
        };
        let (outcome, delivered) = self.mail_transcript(&claim).await;
        let transcripts = &self.tandem.transcripts;
        if !patiently("a transcript", || {
            transcripts.complete(&claim, outcome.clone())
        })
        .await?
        {
            tracing::warn!(transcript = %id, "a transcript outlived its claim; another worker took it over");
        }
        Ok(delivered)
    }

    async fn mail_transcript(&self, claim: &TranscriptToSend) -> (TranscriptOutcome, Delivered) {
        let to = match claim.email.parse::<Mailbox>() {
            Ok(to) => to,
            Err(e) => {
                let reason = format!("the address is not usable: {e}");
                return (TranscriptOutcome::Failed { reason }, Delivered::Failed);
            }
        };
        let email = compose(claim, &self.settings.from, to);
        match self.mailer.send(&email).await {
            Ok(()) => (TranscriptOutcome::Sent, Delivered::Sent),
            Err(SendError::Transient(reason)) if claim.attempt < MAX_ATTEMPTS => {
                let at = self.tandem.now().saturating_add(backoff(claim.attempt));
                tracing::warn!(transcript = %claim.id, attempt = claim.attempt, reason, "transcript not sent; will retry");
                (
                    TranscriptOutcome::Retry { reason, at },
                    Delivered::Retry(at),
                )
            }
            Err(SendError::Transient(reason) | SendError::Permanent(reason)) => {
                tracing::warn!(transcript = %claim.id, reason, "transcript not sent, for good");
                (TranscriptOutcome::Failed { reason }, Delivered::Failed)
            }
        }
    }
}

/// The words of the mail, in one language.
struct Words {
    subject: &'static str,
    intro: &'static str,
    left_out: &'static str,
    you: &'static str,
    automatic: &'static str,
    edited: &'static str,
    outro: &'static str,
}

fn words(language: Language) -> Words {
    match language {
        Language::Ru => Words {
            subject: "Ваш разговор с {tenant}",
            intro: "Вот ваш разговор с {tenant}, как вы просили.",
            left_out: "Более ранние сообщения не вошли: {n}.",
            you: "Вы",
            automatic: "Автоматический ответ",
            edited: "изменено",
            outro: "Вы получили это письмо, потому что запросили его в чате {tenant}.",
        },
        Language::En => Words {
            subject: "Your conversation with {tenant}",
            intro: "Here is your conversation with {tenant}, as you asked.",
            left_out: "{n} earlier messages are not included.",
            you: "You",
            automatic: "Automatic reply",
            edited: "edited",
            outro: "You get this mail because you asked for it in {tenant}'s chat.",
        },
    }
}

/// One message as the mail shows it.
struct Line<'a> {
    who: String,
    when: String,
    body: &'a str,
    edited: bool,
    visitor: bool,
}

pub(crate) fn compose(claim: &TranscriptToSend, from: &Mailbox, to: Mailbox) -> Email {
    let w = words(claim.language);
    let tenant = claim.tenant_name.as_str();
    let fill = |text: &str| text.replace("{tenant}", tenant);
    let lines: Vec<Line> = claim
        .lines
        .iter()
        .map(|line| Line {
            who: match line.author {
                Author::Visitor => claim.visitor_name.clone().unwrap_or_else(|| w.you.into()),
                Author::Operator => line
                    .operator_name
                    .clone()
                    .unwrap_or_else(|| tenant.to_owned()),
                Author::System => w.automatic.into(),
            },
            when: line
                .at
                .to_datetime()
                .format("%Y-%m-%d %H:%M UTC")
                .to_string(),
            body: &line.body,
            edited: line.edited,
            visitor: line.author == Author::Visitor,
        })
        .collect();
    let left_out =
        (claim.left_out > 0).then(|| w.left_out.replace("{n}", &claim.left_out.to_string()));
    let domain = from.email.domain().to_owned();
    Email {
        from: Mailbox::new(Some(claim.sender_name.clone()), from.email.clone()),
        to,
        subject: fill(w.subject),
        text: text(&w, &fill, &lines, left_out.as_deref()),
        html: html(&w, &fill, &lines, left_out.as_deref()),
        message_id: format!("{}@{domain}", uuid::Uuid::now_v7()),
        thread_id: format!("transcript-{}@{domain}", claim.chat),
        unsubscribe_url: None,
        reply_to: None,
    }
}

fn text(
    w: &Words,
    fill: &dyn Fn(&str) -> String,
    lines: &[Line],
    left_out: Option<&str>,
) -> String {
    let mut out = fill(w.intro);
    out.push_str("\n\n");
    if let Some(note) = left_out {
        out.push_str(&format!("({note})\n\n"));
    }
    for line in lines {
        let edited = if line.edited {
            format!(" ({})", w.edited)
        } else {
            String::new()
        };
        out.push_str(&format!("{} · {}{edited}\n", line.who, line.when));
        for part in line.body.lines() {
            out.push_str(&format!("  {part}\n"));
        }
        out.push('\n');
    }
    out.push_str(&fill(w.outro));
    out.push('\n');
    out
}

fn html(
    w: &Words,
    fill: &dyn Fn(&str) -> String,
    lines: &[Line],
    left_out: Option<&str>,
) -> String {
    let mut out = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;color:#1f2937\"><p>{}</p>",
        html_escape(&fill(w.intro))
    );
    if let Some(note) = left_out {
        out.push_str(&format!(
            "<p style=\"color:#6b7280\">{}</p>",
            html_escape(note)
        ));
    }
    for line in lines {
        let edge = if line.visitor { "#9ca3af" } else { "#2563eb" };
        let edited = if line.edited {
            format!(" · {}", w.edited)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "<div style=\"border-left:3px solid {edge};padding:2px 12px;margin:10px 0\">\
             <p style=\"margin:0\"><strong>{}</strong> <small style=\"color:#6b7280\">{}{}</small></p>\
             <p style=\"margin:2px 0;white-space:pre-wrap\">{}</p></div>",
            html_escape(&line.who),
            html_escape(&line.when),
            html_escape(&edited),
            html_escape(line.body),
        ));
    }
    out.push_str(&format!(
        "<p style=\"color:#6b7280;font-size:12px\">{}</p></body></html>",
        html_escape(&fill(w.outro))
    ));
    out
}
