//! Sending email: the [`Mailer`] port, with SMTP (lettre's pooled async transport) and the
//! development mailbox behind it.

mod dev_mailbox;
mod smtp;

use lettre::message::header::{self, ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

pub use dev_mailbox::{DevMail, DevMailbox};
pub use smtp::SmtpMailer;

/// One email, ready to go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    pub from: Mailbox,
    pub to: Mailbox,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// This mail's `Message-ID`, without angle brackets.
    pub message_id: String,
    /// The dialog's thread: every mail of one chat answers it (`In-Reply-To`, `References`),
    /// so mail clients show them as one conversation.
    pub thread_id: String,
    /// One-click "stop these emails" (RFC 8058), as `List-Unsubscribe`.
    pub unsubscribe_url: Option<String>,
    /// Where an answer goes: the dialog's own address, when Tandem receives mail.
    pub reply_to: Option<Mailbox>,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later (connection refused, 4xx).
    #[error("{0}")]
    Transient(String),
    /// Will not work however often it is tried (5xx, a malformed address).
    #[error("{0}")]
    Permanent(String),
}

#[async_trait::async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, email: &Email) -> Result<(), SendError>;
}

impl Email {
    /// The MIME message: `multipart/alternative` with the text and HTML bodies, and the
    /// threading headers.
    pub fn to_message(&self) -> Result<lettre::Message, SendError> {
        let thread = format!("<{}>", self.thread_id);
        let mut builder = lettre::Message::builder();
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        if let Some(url) = &self.unsubscribe_url {
            builder = builder
                .header(ListUnsubscribe(format!("<{url}>")))
                .header(ListUnsubscribePost);
        }
        builder
            .from(self.from.clone())
            .to(self.to.clone())
            .subject(self.subject.clone())
            .message_id(Some(format!("<{}>", self.message_id)))
            .in_reply_to(thread.clone())
            .references(thread)
            .header(AutoSubmitted)
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(self.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(self.html.clone()),
                    ),
            )
            .map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834): keeps vacation responders from answering.
#[derive(Clone)]
struct AutoSubmitted;

impl header::Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

#[derive(Clone)]
struct ListUnsubscribe(String);

impl header::Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(value: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(value.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click`: mail clients may stop the mails with
/// one POST, without opening a page.
#[derive(Clone)]
struct ListUnsubscribePost;

impl header::Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}
