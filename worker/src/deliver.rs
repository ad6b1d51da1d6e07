//! One delivery: claim the due batch, render the email, send it, record the outcome.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use tandem_core::clock::Timestamp;
use tandem_core::delivery::{Channel, Claim, NoTemplateHook, Outcome, TemplateHook, UnreadBatch};
use tandem_core::ids::OutboxId;
use tandem_core::{CoreError, Tandem};

use crate::mail::{Email, Mailer, SendError};
use crate::templates::{EmailContext, Links, Templates};

/// How long a worker holds a claimed batch before another may take it over, by default: long
/// enough for a slow SMTP server, short enough that a dead worker's mail is not long late.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(120);
/// Transient failures are retried this many times, with growing pauses, then given up.
pub const MAX_ATTEMPTS: u32 = 8;
/// How long the link in an email keeps working.
pub const RESUME_LINK_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Clone, Debug)]
pub struct DeliverySettings {
    /// Base of the links in emails (`TANDEM_PUBLIC_URL`).
    pub public_url: String,
    pub from: Mailbox,
    /// See [`DEFAULT_LEASE`].
    pub lease: Duration,
}

/// What one delivery attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivered {
    Sent,
    /// Nothing was due yet: try again then.
    NotDue(Timestamp),
    /// Another worker has it, or there was nothing (left) to send.
    Nothing,
    /// Skipped on purpose (e.g. no address); logged.
    Skipped,
    /// Failed for now; due again then.
    Retry(Timestamp),
    /// Failed for good; logged.
    Failed,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error(transparent)]
    Core(#[from] CoreError),
}

#[derive(Clone)]
pub struct Deliverer {
    tandem: Tandem,
    mailer: Arc<dyn Mailer>,
    templates: Arc<Templates>,
    template_hook: Arc<dyn TemplateHook>,
    settings: Arc<DeliverySettings>,
}

impl Deliverer {
    pub fn new(tandem: Tandem, mailer: Arc<dyn Mailer>, settings: DeliverySettings) -> Self {
        Self {
            tandem,
            mailer,
            templates: Arc::new(Templates::new()),
            template_hook: Arc::new(NoTemplateHook),
            settings: Arc::new(settings),
        }
    }

    /// Lets tenant plugins choose the template (see the plugins crate).
    pub fn with_template_hook(mut self, hook: Arc<dyn TemplateHook>) -> Self {
        self.template_hook = hook;
        self
    }

    pub fn tandem(&self) -> &Tandem {
        &self.tandem
    }

    /// Delivers what outbox row `id` stands for (with every other unread reply of its chat).
    /// Safe to call for the same row from several workers at once, and again after a crash.
    pub async fn deliver(&self, id: OutboxId) -> Result<Delivered, DeliverError> {
        let batch = match self
            .tandem
            .deliveries
            .claim(id, self.settings.lease)
            .await?
        {
            Claim::Batch(batch) => batch,
            Claim::NotDue(at) => return Ok(Delivered::NotDue(at)),
            Claim::Busy | Claim::Settled => return Ok(Delivered::Nothing),
            Claim::Skipped(reason) => {
                tracing::info!(outbox = %id, reason, "unread replies not sent");
                return Ok(Delivered::Skipped);
            }
        };
        let (outcome, delivered) = self.send(&batch).await;
        if !self.tandem.deliveries.complete(&batch, outcome).await? {
            tracing::warn!(chat = %batch.chat, "a delivery outlived its claim; another worker took it over");
        }
        Ok(delivered)
    }

    async fn send(&self, batch: &UnreadBatch) -> (Outcome, Delivered) {
        let recipient = batch.visitor.email.clone().unwrap_or_default();
        let email = match self.compose(batch).await {
            Ok(email) => email,
            Err(reason) => {
                return (
                    Outcome::Failed {
                        channel: Channel::Email,
                        recipient: Some(recipient),
                        reason,
                    },
                    Delivered::Failed,
                );
            }
        };
        match self.mailer.send(&email).await {
            Ok(()) => (
                Outcome::Sent {
                    channel: Channel::Email,
                    recipient,
                },
                Delivered::Sent,
            ),
            Err(SendError::Transient(reason)) if batch.attempt < MAX_ATTEMPTS => {
                let at = self.tandem.now().saturating_add(backoff(batch.attempt));
                tracing::warn!(chat = %batch.chat, attempt = batch.attempt, reason, "delivery failed; will retry");
                (
                    Outcome::Retry {
                        channel: Channel::Email,
                        recipient: Some(recipient),
                        reason,
                        at,
                    },
                    Delivered::Retry(at),
                )
            }
            Err(SendError::Transient(reason) | SendError::Permanent(reason)) => {
                tracing::warn!(chat = %batch.chat, reason, "delivery failed for good");
                (
                    Outcome::Failed {
                        channel: Channel::Email,
                        recipient: Some(recipient),
                        reason,
                    },
                    Delivered::Failed,
                )
            }
        }
    }

    async fn compose(&self, batch: &UnreadBatch) -> Result<Email, String> {
        let address = batch
            .visitor
            .email
            .as_deref()
            .ok_or("the visitor has no email address")?;
        let to = match &batch.visitor.name {
            Some(name) => format!("{name} <{address}>"),
            None => address.to_owned(),
        }
        .parse::<Mailbox>()
        .or_else(|_| address.parse::<Mailbox>())
        .map_err(|e| format!("the address {address} is not usable: {e}"))?;
        let token = self
            .tandem
            .visitors
            .issue_resume_token(batch.tenant.id, batch.chat, RESUME_LINK_LIFETIME)
            .await
            .map_err(|e| format!("cannot make the resume link: {e}"))?;
        let unsubscribe = self
            .tandem
            .visitors
            .unsubscribe_token(batch.tenant.id, batch.visitor.id)
            .await
            .map_err(|e| format!("cannot make the unsubscribe link: {e}"))?;
        let base = self.settings.public_url.trim_end_matches('/');
        let key = &batch.tenant.widget_key;
        let links = Links {
            resume: format!("{base}/c/{key}?resume_token={token}"),
            unsubscribe: format!("{base}/api/v1/widget/{key}/unsubscribe?token={unsubscribe}"),
        };
        let language = batch
            .visitor
            .locale
            .clone()
            .unwrap_or_else(|| language_code(&batch.tenant));
        let you = if language.starts_with("ru") {
            "Вы"
        } else {
            "You"
        };
        let unsubscribe_url = links.unsubscribe.clone();
        let context = EmailContext::new(batch, links, you);
        let rendered = self.render(batch, &language, &context).await?;
        let domain = self.settings.from.email.domain().to_owned();
        Ok(Email {
            from: self.settings.from.clone(),
            to,
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            message_id: format!("{}@{domain}", uuid::Uuid::now_v7()),
            thread_id: format!("chat-{}@{domain}", batch.chat),
            unsubscribe_url: Some(unsubscribe_url),
        })
    }
}

impl Deliverer {
    /// A plugin's template, else the tenant's own, else the built-in one: the first that
    /// renders, so that a template gone wrong never costs the visitor their mail.
    async fn render(
        &self,
        batch: &UnreadBatch,
        language: &str,
        context: &EmailContext,
    ) -> Result<crate::templates::RenderedEmail, String> {
        if let Some(chosen) = self
            .template_hook
            .email_template(batch, self.tandem.now())
            .await
        {
            match self.templates.render(&chosen.sources.into(), context) {
                Ok(rendered) => return Ok(rendered),
                Err(e) => {
                    let reason = format!("its template does not render: {e}; the default was used");
                    self.template_hook
                        .template_failed(batch, chosen.plugin, &reason)
                        .await;
                }
            }
        }
        match self.tandem.tenants.email_template(batch.tenant.id).await {
            Ok(Some(custom)) => match self.templates.render(&custom.into(), context) {
                Ok(rendered) => return Ok(rendered),
                Err(e) => {
                    tracing::warn!(tenant = %batch.tenant.id, error = %e, "the tenant's template failed; using the built-in one");
                }
            },
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the tenant's template; using the built-in one");
            }
        }
        self.templates
            .render(&Templates::default_for(language), context)
            .map_err(|e| e.to_string())
    }
}

fn language_code(tenant: &tandem_core::tenant::Tenant) -> String {
    serde_json::to_value(tenant.settings.branding.language)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "en".into())
}

/// 30 s, 1 min, 2 min, … at most an hour.
fn backoff(attempt: u32) -> Duration {
    let secs = 30u64.saturating_mul(1 << attempt.saturating_sub(1).min(7));
    Duration::from_secs(secs.min(3600))
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn retries_back_off_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::from_secs(30));
        assert_eq!(backoff(2), Duration::from_secs(60));
        assert_eq!(backoff(4), Duration::from_secs(240));
        assert_eq!(backoff(20), Duration::from_secs(3600));
    }
}
