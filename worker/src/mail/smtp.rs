//! SMTP through lettre's pooled async transport: `smtp://host:port` (STARTTLS when offered,
//! `?tls=required` to insist), `smtps://` for TLS from the start, credentials in the URL.

use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{Email, Mailer, SendError};

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpMailer {
    pub fn from_url(url: &str) -> Result<Self, lettre::transport::smtp::Error> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build();
        Ok(Self { transport })
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> Result<(), SendError> {
        let message = email.to_message()?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(format!("SMTP: {e}"))),
            // Connection failures, timeouts and 4xx answers may pass later.
            Err(e) => Err(SendError::Transient(format!("SMTP: {e}"))),
        }
    }
}
