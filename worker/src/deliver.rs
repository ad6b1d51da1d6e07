//! One delivery: claim the due batch, render the email, send it, record the outcome.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use tandem_core::clock::Timestamp;
use tandem_core::delivery::{
    Channel, ChosenRoutes, Claim, Completion, EmailSummary, MailLinks, NewWebhook, NoHooks,
    NotificationHooks, Outcome, Route, UnreadBatch, WebhookClaim, WebhookOutcome, bounded_routes,
    bounded_template,
};
use tandem_core::ids::{OutboxId, WebhookCallId};
use tandem_core::tenant::{EmailParts, Language};
use tandem_core::{CoreError, Tandem};

use crate::mail::{Email, Mailer, SendError};
use crate::push::{PushSender, Vapid};
use crate::templates::{EmailContext, Links, TemplateError, Templates, language_of};
use crate::webhook::{PostError, WebhookPolicy, WebhookPoster};

/// How long a worker holds a claimed batch before another may take it over, by default: long
/// enough for a slow SMTP server, short enough that a dead worker's mail is not long late.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(120);
/// Transient failures are retried this many times, with growing pauses, then given up.
pub const MAX_ATTEMPTS: u32 = 8;
/// How long the link in an email keeps working.
pub const RESUME_LINK_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// Emails one address may get from one tenant in a day: few while nobody has confirmed it
/// (it may be a stranger's, typed by someone else), more once its owner followed a link.
pub const UNCONFIRMED_MAILS_PER_DAY: u64 = 3;
pub const CONFIRMED_MAILS_PER_DAY: u64 = 50;

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

/// What [`Deliverer::deliver`] did with an outbox row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub delivered: Delivered,
    /// The webhook posts the batch was routed to, stored and due now: the caller schedules
    /// them (the sweep finds them otherwise).
    pub webhooks: Vec<WebhookCallId>,
}

impl From<Delivered> for Attempt {
    fn from(delivered: Delivered) -> Self {
        Self {
            delivered,
            webhooks: Vec::new(),
        }
    }
}

/// How long a delivery's outcome is retried when the store refuses it (see
/// [`Deliverer::deliver`]): a database restart, a failover.
pub const RECORD_PATIENCE: Duration = Duration::from_secs(600);
const RECORD_RETRY_FIRST: Duration = Duration::from_millis(100);
const RECORD_RETRY_MAX: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error(transparent)]
    Core(#[from] CoreError),
}

#[derive(Clone)]
pub struct Deliverer {
    pub(crate) tandem: Tandem,
    pub(crate) mailer: Arc<dyn Mailer>,
    templates: Arc<Templates>,
    pub(crate) hooks: Arc<dyn NotificationHooks>,
    webhooks: WebhookPoster,
    pub(crate) pusher: PushSender,
    /// The installation's VAPID key, read from the store on the first push.
    pub(crate) vapid: Arc<tokio::sync::OnceCell<Arc<Vapid>>>,
    pub(crate) settings: Arc<DeliverySettings>,
    /// The domain whose mail reaches Tandem (`TANDEM_INBOUND_DOMAIN`): each mail then carries
    /// a `Reply-To` of its dialog there.
    inbound_domain: Option<Arc<str>>,
}

impl Deliverer {
    pub fn new(tandem: Tandem, mailer: Arc<dyn Mailer>, settings: DeliverySettings) -> Self {
        Self {
            tandem,
            mailer,
            templates: Arc::new(Templates::new()),
            hooks: Arc::new(NoHooks),
            webhooks: WebhookPoster::new(WebhookPolicy::default()),
            pusher: PushSender::new(WebhookPolicy::default()),
            vapid: Arc::default(),
            settings: Arc::new(settings),
            inbound_domain: None,
        }
    }

    /// Replies to the mails go to `reply+<token>@domain`, which Tandem receives.
    pub fn with_inbound_domain(mut self, domain: Option<String>) -> Self {
        self.inbound_domain = domain
            .map(|d| d.trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .map(Arc::from);
        self
    }

    /// Lets tenant plugins choose the template and the routes (see the plugins crate).
    pub fn with_hooks(mut self, hooks: Arc<dyn NotificationHooks>) -> Self {
        self.hooks = hooks;
        self
    }

    /// Where webhooks and browser pushes may go.
    pub fn with_webhook_policy(mut self, policy: WebhookPolicy) -> Self {
        self.webhooks = WebhookPoster::new(policy);
        self.pusher = PushSender::new(policy);
        self
    }

    pub fn tandem(&self) -> &Tandem {
        &self.tandem
    }

    /// Delivers what outbox row `id` stands for (with every other unread reply of its chat).
    /// Safe to call for the same row from several workers at once, and again after a crash.
    pub async fn deliver(&self, id: OutboxId) -> Result<Attempt, DeliverError> {
        let links = MailLinks {
            resume_for: RESUME_LINK_LIFETIME,
            reply: self.inbound_domain.is_some(),
        };
        let batch = match self
            .tandem
            .deliveries
            .claim_for_mail(id, self.settings.lease, links)
            .await?
        {
            Claim::Batch(batch) => batch,
            Claim::NotDue(at) => return Ok(Delivered::NotDue(at).into()),
            Claim::Busy | Claim::Settled => return Ok(Delivered::Nothing.into()),
            Claim::Skipped(reason) => {
                tracing::info!(outbox = %id, reason, "unread replies not sent");
                return Ok(Delivered::Skipped.into());
            }
        };
        let (completion, delivered) = self.send(&batch).await;
        match self.record(&batch, completion).await? {
            Some(webhooks) => Ok(Attempt {
                delivered,
                webhooks,
            }),
            None => {
                tracing::warn!(chat = %batch.chat, "a delivery outlived its claim; another worker took it over");
                Ok(delivered.into())
            }
        }
    }

    /// Records how the batch went. What was sent must not be lost: were the completion dropped
    /// on a failed write, the claim would run out and the sweep would send the mail again. So
    /// a write the store refuses is tried again, backing off to every few seconds, for as long
    /// as [`RECORD_PATIENCE`]; it lands as long as no other worker has taken the batch over
    /// (which needs the store too).
    async fn record(
        &self,
        batch: &UnreadBatch,
        completion: Completion,
    ) -> Result<Option<Vec<WebhookCallId>>, DeliverError> {
        let tandem = &self.tandem;
        Ok(patiently("a delivery", || {
            tandem.deliveries.complete(batch, completion.clone())
        })
        .await?)
    }

    /// Makes one attempt at webhook post `id`. Safe from several workers at once.
    pub async fn post_webhook(&self, id: WebhookCallId) -> Result<Delivered, DeliverError> {
        let call = match self
            .tandem
            .deliveries
            .claim_webhook(id, self.settings.lease)
            .await?
        {
            WebhookClaim::Call(call) => call,
            WebhookClaim::NotDue(at) => return Ok(Delivered::NotDue(at)),
            WebhookClaim::Busy | WebhookClaim::Settled => return Ok(Delivered::Nothing),
            WebhookClaim::Refused(reason) => {
                tracing::info!(webhook = %id, reason, "webhook not posted");
                return Ok(Delivered::Failed);
            }
        };
        let (outcome, delivered) = match self.webhooks.post(&call).await {
            Ok(status) => (WebhookOutcome::Sent { status }, Delivered::Sent),
            Err(PostError::Transient(reason)) if call.attempt < MAX_ATTEMPTS => {
                let at = self.tandem.now().saturating_add(backoff(call.attempt));
                tracing::info!(webhook = %id, attempt = call.attempt, reason, "webhook failed; will retry");
                (WebhookOutcome::Retry { reason, at }, Delivered::Retry(at))
            }
            Err(PostError::Transient(reason) | PostError::Permanent(reason)) => {
                tracing::info!(webhook = %id, reason, "webhook failed for good");
                (WebhookOutcome::Failed { reason }, Delivered::Failed)
            }
        };
        if !self
            .tandem
            .deliveries
            .complete_webhook(&call, outcome)
            .await?
        {
            tracing::warn!(webhook = %id, "a webhook post outlived its claim; another worker took it over");
        }
        Ok(delivered)
    }

    /// Renders the email, asks the tenant's plugins where the batch goes, and sends the email
    /// if it is one of the routes; webhooks are stored with the outcome and posted afterwards.
    async fn send(&self, batch: &UnreadBatch) -> (Completion, Delivered) {
        let recipient = batch.visitor.email.clone().unwrap_or_default();
        if let Some(reason) = self.over_daily_cap(batch, &recipient).await {
            tracing::info!(chat = %batch.chat, reason, "unread replies not mailed");
            let outcome = Outcome::Skipped {
                channel: Channel::Email,
                reason,
            };
            return (outcome.into(), Delivered::Skipped);
        }
        let email = match self.compose(batch).await {
            Ok(email) => email,
            Err(reason) => {
                let outcome = Outcome::Failed {
                    channel: Channel::Email,
                    recipient: Some(recipient),
                    reason,
                };
                return (outcome.into(), Delivered::Failed);
            }
        };
        let summary = EmailSummary {
            to: recipient.clone(),
            subject: email.subject.clone(),
            text: email.text.clone(),
        };
        let plan =
            Plan::of(bounded_routes(self.hooks.as_ref(), batch, &summary, self.tandem.now()).await);
        let (outcome, delivered) = match plan.email_skipped {
            None => self.mail(batch, &email, recipient).await,
            Some(reason) => (
                Outcome::Skipped {
                    channel: Channel::Email,
                    reason,
                },
                Delivered::Skipped,
            ),
        };
        let completion = Completion {
            outcome,
            webhooks: plan.webhooks,
            skipped: plan.skipped,
        };
        (completion, delivered)
    }

    async fn mail(
        &self,
        batch: &UnreadBatch,
        email: &Email,
        recipient: String,
    ) -> (Outcome, Delivered) {
        match self.mailer.send(email).await {
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

    /// Why the address has had its share of mail today, if it has.
    async fn over_daily_cap(&self, batch: &UnreadBatch, address: &str) -> Option<String> {
        if address.is_empty() {
            return None;
        }
        let (cap, whose) = if batch.visitor.email_confirmed {
            (CONFIRMED_MAILS_PER_DAY, "")
        } else {
            (UNCONFIRMED_MAILS_PER_DAY, "unconfirmed ")
        };
        let since =
            Timestamp::from_millis(self.tandem.now().millis().saturating_sub(24 * 3600 * 1000));
        match self
            .tandem
            .deliveries
            .mails_sent_to(batch.tenant.id, address, since)
            .await
        {
            Ok(sent) if sent >= cap => Some(format!(
                "the {whose}address {address} had its {cap} emails of the last 24 hours"
            )),
            Ok(_) => None,
            Err(e) => {
                // Better one mail too many than a visitor's answer lost.
                tracing::warn!(error = %e, "cannot count the address's emails; sending");
                None
            }
        }
    }

    async fn compose(&self, batch: &UnreadBatch) -> Result<Email, String> {
        let address = batch
            .visitor
            .email
            .as_deref()
            .ok_or("the visitor has no email address")?;
        let confirmed = batch.visitor.email_confirmed;
        // A name the visitor typed goes in the header only to an address they confirmed.
        let to = match &batch.visitor.name {
            Some(name) if confirmed => format!("{name} <{address}>"),
            _ => address.to_owned(),
        }
        .parse::<Mailbox>()
        .or_else(|_| address.parse::<Mailbox>())
        .map_err(|e| format!("the address {address} is not usable: {e}"))?;
        // The claim made the mail's links, bound to this address.
        let tokens = batch
            .tokens
            .as_ref()
            .ok_or("the batch was claimed without its mail links")?;
        let token = tokens.resume.clone();
        let unsubscribe = self
            .tandem
            .visitors
            .unsubscribe_token(batch.tenant.id, batch.visitor.id)
            .await
            .map_err(|e| format!("cannot make the unsubscribe link: {e}"))?;
        let mut files = Vec::new();
        for file in batch.messages.iter().filter_map(|m| m.attachment.as_ref()) {
            let link = self
                .tandem
                .files
                .link(batch.tenant.id, file.id)
                .await
                .map_err(|e| format!("cannot make a file's link: {e}"))?;
            files.push((file.id, link));
        }
        let links = Links::of(
            &self.settings.public_url,
            batch,
            &token,
            &unsubscribe,
            &files,
        );
        let language = language_of(batch);
        let unsubscribe_url = links.unsubscribe.clone();
        let context = EmailContext::new(batch, links, language, confirmed);
        let rendered = self.render(batch, language, &context).await?;
        let domain = self.settings.from.email.domain().to_owned();
        // The company's name on the address the installation sends from.
        let from = Mailbox::new(Some(sender_name(batch)), self.settings.from.email.clone());
        // Without its reply address the mail still goes: the visitor can answer from the link.
        let reply_to = match &self.inbound_domain {
            Some(domain) => match reply_address(batch, domain) {
                Ok(mailbox) => Some(mailbox),
                Err(reason) => {
                    tracing::warn!(chat = %batch.chat, reason, "mail sent without its reply address");
                    None
                }
            },
            None => None,
        };
        Ok(Email {
            from,
            reply_to,
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

/// The dialog's own address for answers, its token bound by the claim to the address this mail
/// goes to.
fn reply_address(batch: &UnreadBatch, domain: &str) -> Result<Mailbox, String> {
    let token = batch
        .tokens
        .as_ref()
        .and_then(|tokens| tokens.reply.as_deref())
        .ok_or("the batch was claimed without its reply address")?;
    format!("reply+{token}@{domain}")
        .parse()
        .map(|email| Mailbox::new(Some(sender_name(batch)), email))
        .map_err(|e| format!("the reply address is not usable: {e}"))
}

impl Deliverer {
    /// A plugin's template, else the tenant's own, else the built-in one: the first that
    /// renders, so that a template gone wrong never costs the visitor their mail. Templates
    /// from plugins and admins are checked and rendered off the async threads under a budget
    /// (see [`crate::templates`]); a plugin's that fails counts as that plugin's failure.
    async fn render(
        &self,
        batch: &UnreadBatch,
        language: Language,
        context: &EmailContext,
    ) -> Result<EmailParts, String> {
        let chosen = bounded_template(self.hooks.as_ref(), batch, self.tandem.now()).await;
        if let Some(chosen) = chosen {
            let rendered = self
                .templates
                .render_off_thread(chosen.template, context.clone())
                .await;
            match rendered {
                Ok(rendered) => return Ok(rendered),
                // A queue for the renderer is nobody's failure.
                Err(TemplateError::Busy) => {
                    tracing::warn!(tenant = %batch.tenant.id, "renderer busy; the plugin's template was not used");
                }
                Err(e) => {
                    let reason = format!("its template was not used: {e}; the default was used");
                    self.hooks
                        .template_failed(batch, chosen.plugin, &reason)
                        .await;
                }
            }
        }
        render_own(&self.tandem, &self.templates, batch, language, context).await
    }
}

/// The tenant's own template, else the built-in one: the first that renders.
pub(crate) async fn render_own(
    tandem: &Tandem,
    templates: &Arc<Templates>,
    batch: &UnreadBatch,
    language: Language,
    context: &EmailContext,
) -> Result<EmailParts, String> {
    match tandem.tenants.email_template(batch.tenant.id).await {
        Ok(Some(custom)) => {
            let rendered = templates.render_off_thread(custom, context.clone()).await;
            match rendered {
                Ok(rendered) => return Ok(rendered),
                Err(e) => {
                    tracing::warn!(tenant = %batch.tenant.id, error = %e, "the tenant's template was not used; using the built-in one");
                }
            }
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the tenant's template; using the built-in one");
        }
    }
    // The built-in templates are ours and small: rendered here, they never wait in line.
    templates
        .render(&Templates::built_in(language), context)
        .map_err(|e| e.to_string())
}

/// Where a batch goes: by email unless a plugin routed it elsewhere, plus the webhooks to post
/// and the routes skipped on purpose.
struct Plan {
    /// `Some(why)` when the email is not among the routes.
    email_skipped: Option<String>,
    webhooks: Vec<NewWebhook>,
    skipped: Vec<(Channel, String)>,
}

impl Plan {
    fn of(chosen: Option<ChosenRoutes>) -> Self {
        let Some(chosen) = chosen else {
            return Self {
                email_skipped: None,
                webhooks: Vec::new(),
                skipped: Vec::new(),
            };
        };
        let mut email = false;
        let mut webhooks = Vec::new();
        let mut reasons = Vec::new();
        for route in chosen.routes {
            match route {
                Route::Email => email = true,
                Route::Webhook { url, body } => {
                    // Two posts of the same batch to one URL would be one post, twice.
                    if !webhooks.iter().any(|w: &NewWebhook| w.url == url) {
                        webhooks.push(NewWebhook {
                            url,
                            body,
                            plugin: Some(chosen.plugin),
                        });
                    }
                }
                Route::Skip { reason } => {
                    reasons.push(format!("a plugin skipped a route: {reason}"))
                }
            }
        }
        if email {
            // The email goes; what was skipped is some other channel.
            let skipped = reasons.into_iter().map(|r| (Channel::Webhook, r)).collect();
            Self {
                email_skipped: None,
                webhooks,
                skipped,
            }
        } else {
            let why = if reasons.is_empty() {
                "a plugin routed the replies to webhooks only".to_owned()
            } else {
                reasons.join("; ")
            };
            Self {
                email_skipped: Some(why),
                webhooks,
                skipped: Vec::new(),
            }
        }
    }
}

/// `write`, tried again while the store refuses it (a restart, a failover), backing off to every
/// few seconds, for as long as [`RECORD_PATIENCE`]: what was sent must be recorded, or it would
/// be sent again.
pub(crate) async fn patiently<T, F, Fut>(what: &str, mut write: F) -> Result<T, CoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CoreError>>,
{
    let started = std::time::Instant::now();
    let mut wait = RECORD_RETRY_FIRST;
    loop {
        match write().await {
            Err(CoreError::Storage(e)) if started.elapsed() < RECORD_PATIENCE => {
                tracing::warn!(error = %e, "cannot record {what}; trying again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RECORD_RETRY_MAX);
            }
            recorded => return recorded,
        }
    }
}

/// The name the company's mail comes from: the one its admin chose, else the company's.
fn sender_name(batch: &UnreadBatch) -> String {
    let settings = &batch.tenant.settings;
    settings
        .mail_from_name
        .clone()
        .unwrap_or_else(|| batch.tenant.name.clone())
}

/// 30 s, 1 min, 2 min, … at most an hour.
pub(crate) fn backoff(attempt: u32) -> Duration {
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
