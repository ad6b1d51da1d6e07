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
        lettre::Message::builder()
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
