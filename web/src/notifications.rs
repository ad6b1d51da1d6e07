//! Wiring the worker crate into this process: the mailer the configuration asks for, and the
//! delivery of unread replies (embedded in `serve`, or alone in `tandem worker`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tandem_core::Tandem;
use tandem_worker::deliver::{Deliverer, DeliverySettings};
use tandem_worker::mail::{DevMailbox, Mailer, SmtpMailer};
use tandem_worker::sweep::Sweep;

use crate::config::Config;

/// How often due notifications are looked for: the most an email is late.
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The mail side of this process.
pub struct Mail {
    pub mailer: Arc<dyn Mailer>,
    /// Set when no SMTP server is configured: mail is kept for `/dev/mailbox`.
    pub dev_mailbox: Option<Arc<DevMailbox>>,
}

impl Mail {
    pub fn from_config(config: &Config, tandem: &Tandem) -> anyhow::Result<Self> {
        match &config.smtp_url {
            Some(url) => {
                let smtp = SmtpMailer::from_url(url).with_context(|| {
                    format!(
                        "TANDEM_SMTP_URL is not usable: {}",
                        crate::startup::redact(url)
                    )
                })?;
                Ok(Self {
                    mailer: Arc::new(smtp),
                    dev_mailbox: None,
                })
            }
            None => {
                let mailbox = Arc::new(DevMailbox::new(tandem.db().clone(), "mailbox"));
                Ok(Self {
                    mailer: mailbox.clone(),
                    dev_mailbox: Some(mailbox),
                })
            }
        }
    }
}

/// The sweep that delivers due notifications, ready to spawn.
pub fn sweep(
    config: &Config,
    tandem: &Tandem,
    mail: &Mail,
    public_url: &str,
) -> anyhow::Result<Sweep> {
    let from = config
        .mail_from
        .parse()
        .with_context(|| format!("TANDEM_MAIL_FROM is not an address: {}", config.mail_from))?;
    let deliverer = Deliverer::new(
        tandem.clone(),
        mail.mailer.clone(),
        DeliverySettings {
            public_url: public_url.to_owned(),
            from,
            lease: Duration::from_secs(config.delivery_lease_secs.max(1)),
        },
    );
    Ok(Sweep::new(deliverer, SWEEP_EVERY))
}
