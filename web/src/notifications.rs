//! Wiring the worker crate into this process: the mailer the configuration asks for, and the
//! delivery of unread replies (embedded in `serve`, or alone in `tandem worker`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tandem_core::Tandem;
use tandem_plugins::PluginRuntime;
use tandem_worker::deliver::{Deliverer, DeliverySettings};
use tandem_worker::mail::{DevMailbox, Mailer, SmtpMailer};
use tandem_worker::queue::JobQueue;
use tandem_worker::sweep::Sweep;
use tandem_worker::webhook::WebhookPolicy;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;

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
                let mailbox = Arc::new(DevMailbox::new(tandem.clone(), config.mailbox_dir.clone()));
                Ok(Self {
                    mailer: mailbox.clone(),
                    dev_mailbox: Some(mailbox),
                })
            }
        }
    }
}

/// Delivery of unread replies in this process: a queue worker for the delayed jobs, and the
/// sweep that catches whatever a job did not (a lost enqueue, a worker that died).
pub struct Delivery {
    sweep: Sweep,
    queue: JobQueue,
    deliverer: Deliverer,
    worker_name: String,
}

impl Delivery {
    pub fn spawn(self, stop: watch::Receiver<bool>) -> JoinHandle<()> {
        let sweep = self.sweep.spawn(stop.clone());
        let worker = tokio::spawn(self.queue.work(self.worker_name, self.deliverer, stop));
        tokio::spawn(async move {
            let _ = worker.await;
            let _ = sweep.await;
        })
    }
}

pub fn delivery(
    config: &Config,
    tandem: &Tandem,
    plugins: &PluginRuntime,
    mail: &Mail,
    queue: JobQueue,
    public_url: &str,
    worker_name: &str,
) -> anyhow::Result<Delivery> {
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
    )
    .with_hooks(Arc::new(plugins.clone()))
    .with_webhook_policy(WebhookPolicy {
        timeout: Duration::from_secs(config.webhook_timeout_secs.clamp(1, 60)),
        private_addresses: config.webhook_private_addresses,
    })
    .with_inbound_domain(config.reply_domain());
    Ok(Delivery {
        sweep: Sweep::new(
            deliverer.clone(),
            Duration::from_secs(config.sweep_every_secs.max(1)),
        ),
        queue,
        deliverer,
        worker_name: worker_name.to_owned(),
    })
}
