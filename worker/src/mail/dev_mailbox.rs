//! With no SMTP server configured, mail stays on this machine: in the database (for
//! `/dev/mailbox`, through core's dev mail record) and as `.eml` files that any mail client
//! opens.

use std::path::PathBuf;

use tandem_core::Tandem;
use tandem_core::dev_mail::NewDevMail;

use super::{Email, Mailer, SendError};

pub use tandem_core::dev_mail::DevMail;

pub struct DevMailbox {
    tandem: Tandem,
    dir: PathBuf,
}

impl DevMailbox {
    pub fn new(tandem: Tandem, dir: impl Into<PathBuf>) -> Self {
        Self {
            tandem,
            dir: dir.into(),
        }
    }

    /// The newest mails first.
    pub async fn list(&self, limit: u64) -> tandem_core::CoreResult<Vec<DevMail>> {
        self.tandem.dev_mails.list(limit).await
    }

    pub async fn get(&self, id: uuid::Uuid) -> tandem_core::CoreResult<Option<DevMail>> {
        self.tandem.dev_mails.get(id).await
    }
}

#[async_trait::async_trait]
impl Mailer for DevMailbox {
    async fn send(&self, email: &Email) -> Result<(), SendError> {
        let eml = String::from_utf8_lossy(&email.to_message()?.formatted()).into_owned();
        let id = self
            .tandem
            .dev_mails
            .keep(NewDevMail {
                recipient: email.to.to_string(),
                sender: email.from.to_string(),
                subject: email.subject.clone(),
                text: email.text.clone(),
                html: email.html.clone(),
                eml: eml.clone(),
            })
            .await
            .map_err(|e| SendError::Transient(format!("dev mailbox: {e}")))?;
        // The file is a convenience; the database row is the record.
        if let Err(e) = tokio::fs::create_dir_all(&self.dir).await {
            tracing::warn!(error = %e, dir = %self.dir.display(), "cannot create the mailbox folder");
        } else if let Err(e) = tokio::fs::write(self.dir.join(format!("{id}.eml")), eml).await {
            tracing::warn!(error = %e, "cannot write the .eml file");
        }
        tracing::info!(to = %email.to, subject = %email.subject, "mail kept in the dev mailbox");
        Ok(())
    }
}
