//! What an unread-reply template can use.

use serde::Serialize;
use tandem_core::delivery::UnreadBatch;
use tandem_core::file::FileLink;
use tandem_core::ids::FileId;
use tandem_core::message::{Author, Message};
use tandem_core::tenant::Language;

#[derive(Clone, Debug, Serialize)]
pub struct EmailContext {
    pub tenant_name: String,
    /// The widget's colour, `#rrggbb`.
    pub brand_color: String,
    pub visitor_name: Option<String>,
    pub operator_name: String,
    /// The unread replies, oldest first.
    pub replies: Vec<Line>,
    /// Messages just before them, for context.
    pub earlier: Vec<Line>,
    /// Opens the same dialog again.
    pub resume_url: String,
    /// Stops these emails for this visitor.
    pub unsubscribe_url: String,
    pub count: usize,
}

/// The links an email carries.
#[derive(Clone, Debug)]
pub struct Links {
    pub resume: String,
    pub unsubscribe: String,
    /// Each file of the replies, by id: a signed link that opens it without logging in.
    pub files: Vec<(FileId, String)>,
}

impl Links {
    /// The links of `batch`'s email on the installation at `public_url`, carrying these tokens.
    pub fn of(
        public_url: &str,
        batch: &UnreadBatch,
        resume_token: &str,
        unsubscribe_token: &str,
        files: &[(FileId, FileLink)],
    ) -> Self {
        let base = public_url.trim_end_matches('/');
        let key = &batch.tenant.widget_key;
        Self {
            resume: format!("{base}/c/{key}?resume_token={resume_token}"),
            unsubscribe: format!(
                "{base}/api/v1/widget/{key}/unsubscribe?token={unsubscribe_token}"
            ),
            files: files
                .iter()
                .map(|(id, link)| {
                    let url = format!("{base}/api/v1/widget/{key}/files/{id}?{}", link.query());
                    (*id, url)
                })
                .collect(),
        }
    }
}

/// The language `batch`'s email is written in: the visitor's, else the tenant's.
pub fn language_of(batch: &UnreadBatch) -> Language {
    Language::for_visitor(
        batch.visitor.locale.as_deref(),
        batch.tenant.settings.branding.language,
    )
}

#[derive(Clone, Debug, Serialize)]
pub struct Line {
    pub author: String,
    /// A file's name, when the message is a file.
    pub body: String,
    /// RFC 3339.
    pub at: String,
    /// The file the message carries.
    pub file: Option<FileLine>,
}

/// A file in a mail: its name, its size for people ("2.4 MB"), and a link that opens it.
#[derive(Clone, Debug, Serialize)]
pub struct FileLine {
    pub name: String,
    pub size: String,
    /// Empty where the mail has no link for it (the visitor's own files in the context).
    pub url: String,
}

/// A size as people read it, in the mail's language ("2.4 MB", "2,4 МБ").
pub fn human_size(bytes: u64, language: Language) -> String {
    const KB: f64 = 1000.0;
    let (b, kb, mb, point) = match language {
        Language::En => ("B", "KB", "MB", "."),
        Language::Ru => ("Б", "КБ", "МБ", ","),
    };
    let size = bytes as f64;
    if size < KB {
        format!("{bytes} {b}")
    } else if size < KB * KB {
        format!("{:.0} {kb}", size / KB)
    } else {
        format!("{:.1} {mb}", size / KB / KB).replace('.', point)
    }
}

impl EmailContext {
    /// `language`: the one the mail is written in (the visitor's lines are signed "You" in it).
    /// `confirmed`: the visitor's address is confirmed. Mail to an address nobody confirmed
    /// carries none of the visitor's own words — not their name, not their messages — so a
    /// visitor who types a stranger's address cannot make the company mail them the visitor's
    /// text; the company's replies and the link are all it holds.
    pub fn new(batch: &UnreadBatch, links: Links, language: Language, confirmed: bool) -> Self {
        let you = match language {
            Language::En => "You",
            Language::Ru => "Вы",
        };
        let operator_name = batch
            .operator_name
            .clone()
            .unwrap_or_else(|| batch.tenant.name.clone());
        let line = |m: &Message| Line {
            author: match m.author {
                Author::Visitor => you.to_owned(),
                Author::Operator | Author::System => operator_name.clone(),
            },
            body: m.body.clone(),
            at: m.created_at.to_string(),
            file: m.attachment.as_ref().map(|a| FileLine {
                name: a.name.clone(),
                size: human_size(a.size, language),
                url: links
                    .files
                    .iter()
                    .find(|(id, _)| *id == a.id)
                    .map(|(_, url)| url.clone())
                    .unwrap_or_default(),
            }),
        };
        Self {
            tenant_name: batch.tenant.name.clone(),
            brand_color: batch.tenant.settings.branding.color.clone(),
            visitor_name: batch.visitor.name.clone().filter(|_| confirmed),
            operator_name: operator_name.clone(),
            replies: batch.messages.iter().map(line).collect(),
            earlier: batch
                .earlier
                .iter()
                .filter(|m| m.deleted_at.is_none())
                .filter(|m| confirmed || m.author != Author::Visitor)
                .map(line)
                .collect(),
            resume_url: links.resume.clone(),
            unsubscribe_url: links.unsubscribe.clone(),
            count: batch.messages.len(),
        }
    }

    /// What templates are checked against before an admin may save them.
    pub fn sample() -> Self {
        let line = |author: &str, body: &str| Line {
            author: author.to_owned(),
            body: body.to_owned(),
            at: "2026-01-01T12:00:00.000Z".to_owned(),
            file: None,
        };
        Self {
            tenant_name: "Acme".into(),
            brand_color: "#2563eb".into(),
            visitor_name: Some("Vera".into()),
            operator_name: "Olga".into(),
            replies: vec![line("Olga", "Your order ships today.")],
            earlier: vec![line("You", "Where is my order?")],
            resume_url: "https://chat.example.com/c/wk_sample?resume_token=rt_sample".into(),
            unsubscribe_url:
                "https://chat.example.com/api/v1/widget/wk_sample/unsubscribe?token=us_sample"
                    .into(),
            count: 1,
        }
    }
}
