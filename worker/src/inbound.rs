//! Mail coming back in, read: who sent it to which addresses, whether it is automatic, and
//! the text the visitor wrote — the text part (or the HTML part as text), without the quoted
//! history mail clients add ("On … wrote:", "> …", Outlook's header block, "-----Original
//! Message-----", their Russian forms) or the signature after `-- `.

use mail_parser::{Addr, HeaderValue, MessageParser};
use tandem_core::inbound::InboundMail;

/// The largest mail taken in; replies are short, attachments are not kept.
pub const MAX_INBOUND_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("the mail is {0} bytes; at most {MAX_INBOUND_BYTES} are taken")]
    TooLarge(usize),
    #[error("this is not an email message")]
    NotMail,
}

/// Reads a raw RFC 5322 message.
pub fn parse(raw: &[u8]) -> Result<InboundMail, ParseError> {
    if raw.len() > MAX_INBOUND_BYTES {
        return Err(ParseError::TooLarge(raw.len()));
    }
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(ParseError::NotMail)?;
    let mut recipients: Vec<String> = [message.to(), message.cc()]
        .into_iter()
        .flatten()
        .flat_map(|list| list.iter())
        .filter_map(Addr::address)
        .map(str::to_owned)
        .collect();
    for header in ["Delivered-To", "X-Original-To", "Envelope-To"] {
        if let Some(value) = message.header_raw(header) {
            recipients.push(value.trim().to_owned());
        }
    }
    let from = message
        .from()
        .and_then(|list| list.first())
        .and_then(Addr::address)
        .unwrap_or_default()
        .to_owned();
    let automatic = is_automatic(&message, &from);
    let body = message
        .body_text(0)
        .map(|b| b.into_owned())
        .unwrap_or_default();
    let (mut text, quoted) = split_reply(&body);
    let attachments = message.attachment_count();
    if attachments > 0 && !text.is_empty() {
        let s = if attachments == 1 { "" } else { "s" };
        text.push_str(&format!("\n\n({attachments} attachment{s} not shown)"));
    }
    if recipients.is_empty() && from.is_empty() {
        return Err(ParseError::NotMail);
    }
    Ok(InboundMail {
        recipients,
        from,
        automatic,
        message_id: message.message_id().map(str::to_owned),
        text,
        quoted,
    })
}

/// The address a kept mail asks answers to go to (its `Reply-To`), if it has one.
pub fn reply_address(raw: &[u8]) -> Option<String> {
    let message = MessageParser::default().parse(raw)?;
    message
        .reply_to()
        .and_then(|list| list.first())
        .and_then(Addr::address)
        .map(str::to_owned)
}

/// Auto-replies, bounces and list mail say so (RFC 3834, RFC 3464, `Precedence`), or come from
/// the mail system itself.
fn is_automatic(message: &mail_parser::Message<'_>, from: &str) -> bool {
    let text = |name: &str| {
        message
            .header(name)
            .and_then(HeaderValue::as_text)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    let raw = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    let auto_submitted = text("Auto-Submitted").is_some_and(|v| v != "no");
    let bulk = text("Precedence").is_some_and(|v| matches!(v.as_str(), "bulk" | "junk" | "list"));
    let responder = ["X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"]
        .iter()
        .any(|h| message.header(*h).is_some());
    let null_sender = raw("Return-Path").is_some_and(|v| v == "<>");
    let report = raw("Content-Type").is_some_and(|v| v.contains("multipart/report"));
    let local = from
        .split('@')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let system = matches!(local.as_str(), "mailer-daemon" | "postmaster");
    auto_submitted || bulk || responder || null_sender || report || system
}

/// The part of a reply its sender wrote (everything above the first line that begins the
/// quoted history or the signature), and the rest, kept for operators to expand.
pub fn split_reply(body: &str) -> (String, String) {
    let lines: Vec<&str> = body.lines().collect();
    let end = (0..lines.len())
        .find(|&i| starts_history(lines[i], lines.get(i + 1).copied()))
        .unwrap_or(lines.len());
    (
        lines[..end].join("\n").trim().to_owned(),
        lines[end..].join("\n").trim().to_owned(),
    )
}

fn starts_history(line: &str, next: Option<&str>) -> bool {
    let trimmed = line.trim();
    let lower = trimmed.to_lowercase();
    let next = next.map(|n| n.trim().to_lowercase()).unwrap_or_default();
    let says = |l: &str| {
        ["wrote:", "пишет:", "написал:", "написала:", "написал(а):"]
            .iter()
            .any(|w| l.ends_with(w))
    };
    // "On Tue, 24 Nov 2026 at 10:00, Olga <…> wrote:", sometimes wrapped onto two lines.
    let english = lower.starts_with("on ") && (says(&lower) || says(&next));
    // "24.11.2026 10:02, Acme пишет:" and Gmail's "Вт, 24 нояб. 2026 г. в 10:02, Acme <…>:".
    let russian = says(&lower) || (lower.contains(" г. в ") && lower.ends_with(':'));
    // Outlook's header block: "From: …" then "Sent: …" (or their Russian forms).
    let outlook = (lower.starts_with("from:") || lower.starts_with("от:"))
        && ["sent:", "date:", "отправлено:", "дата:"]
            .iter()
            .any(|h| next.starts_with(h));
    trimmed.starts_with('>')
        || line == "-- "
        || trimmed == "--"
        || lower.starts_with("-----original message-----")
        || lower.starts_with("-----исходное сообщение-----")
        || trimmed.starts_with("________________________________")
        || english
        || russian
        || outlook
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replies as common clients lay them out (written for these tests).
    const GMAIL: &str = "Yes, the blue one please.\n\nOn Tue, Nov 24, 2026 at 10:02 AM Acme <reply+rp_x@in.acme.example> wrote:\n> Olga from Acme replied while you were away:\n> It ships today.\n";
    const GMAIL_WRAPPED: &str = "Thanks!\n\nOn Tue, Nov 24, 2026 at 10:02 AM Demo Company\n<reply+rp_x@in.example> wrote:\n\n> Earlier text\n";
    const OUTLOOK: &str = "Great, thank you.\r\n\r\n________________________________\r\nFrom: Acme <reply+rp_x@in.acme.example>\r\nSent: Tuesday, November 24, 2026 10:02\r\nTo: vera@example.org\r\nSubject: Olga from Acme replied to you\r\n\r\nOlga from Acme replied\r\n";
    const OUTLOOK_OLD: &str =
        "Fine by me.\n\n-----Original Message-----\nFrom: Acme\nOlga replied\n";
    const APPLE: &str = "Perfect.\n\nSent from my iPhone\n\n> On 24 Nov 2026, at 10:02, Acme <reply+rp_x@in.acme.example> wrote:\n> \n> It ships today.\n";
    const THUNDERBIRD: &str = "Can I pick it up instead?\n\n-- \nVera Petrova\n+7 900 000 00 00\n\nOn 24/11/2026 10:02, Acme wrote:\n> It ships today.\n";
    const RUSSIAN: &str = "Спасибо, жду.\n\nВт, 24 нояб. 2026 г. в 10:02, Acme <reply+rp_x@in.acme.example>:\n> Ольга ответила\n";
    const RUSSIAN_WROTE: &str = "Хорошо!\n\n24.11.2026 10:02, Acme пишет:\n> Ольга ответила\n";

    #[test]
    fn only_the_new_text_of_a_reply_is_kept() {
        for (client, body, expected) in [
            ("gmail", GMAIL, "Yes, the blue one please."),
            ("gmail, wrapped", GMAIL_WRAPPED, "Thanks!"),
            ("outlook", OUTLOOK, "Great, thank you."),
            ("outlook, older", OUTLOOK_OLD, "Fine by me."),
            ("apple mail", APPLE, "Perfect.\n\nSent from my iPhone"),
            ("thunderbird", THUNDERBIRD, "Can I pick it up instead?"),
            ("russian", RUSSIAN, "Спасибо, жду."),
            ("russian, wrote", RUSSIAN_WROTE, "Хорошо!"),
        ] {
            let (text, quoted) = split_reply(body);
            assert_eq!(text, expected, "{client}");
            // Nothing is lost: what was cut is the rest of the mail, kept for operators.
            let whole: String = body.split_whitespace().collect();
            let both: String = format!("{text}{quoted}").split_whitespace().collect();
            assert_eq!(both, whole, "{client}");
            assert!(!quoted.is_empty(), "{client}");
        }
    }

    fn mail(headers: &str, body: &str) -> Vec<u8> {
        format!(
            "From: Vera <vera@example.org>\r\nTo: Acme <reply+rp_abc@in.acme.example>\r\n\
             Subject: Re: Olga from Acme replied to you\r\nMessage-ID: <m1@example.org>\r\n\
             {headers}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}"
        )
        .into_bytes()
    }

    #[test]
    fn a_reply_is_read_with_its_addresses() {
        let read = parse(&mail("", GMAIL)).unwrap();
        assert_eq!(read.from, "vera@example.org");
        assert!(
            read.recipients
                .contains(&"reply+rp_abc@in.acme.example".to_owned())
        );
        assert_eq!(read.text, "Yes, the blue one please.");
        assert!(
            read.quoted.ends_with("> It ships today."),
            "{}",
            read.quoted
        );
        assert_eq!(read.message_id.as_deref(), Some("m1@example.org"));
        assert!(!read.automatic);
    }

    #[test]
    fn automatic_mail_is_recognised() {
        for headers in [
            "Auto-Submitted: auto-replied\r\n",
            "Precedence: bulk\r\n",
            "X-Autoreply: yes\r\n",
            "Return-Path: <>\r\n",
        ] {
            assert!(
                parse(&mail(headers, "Out of office")).unwrap().automatic,
                "{headers}"
            );
        }
        assert!(
            !parse(&mail("Auto-Submitted: no\r\n", "Hi"))
                .unwrap()
                .automatic
        );
    }

    #[test]
    fn oversize_and_garbage_are_refused() {
        let huge = vec![b'a'; MAX_INBOUND_BYTES + 1];
        assert_eq!(
            parse(&huge),
            Err(ParseError::TooLarge(MAX_INBOUND_BYTES + 1))
        );
        assert_eq!(parse(b""), Err(ParseError::NotMail));
    }
}
