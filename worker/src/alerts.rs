//! Alerts for operators, in the worker: each alert routed once through the tenant's plugins,
//! and each operator's digest of them mailed.

use lettre::message::Mailbox;
use std::sync::Arc;

use tandem_core::alert::{AlertClaim, DigestClaim, DigestFound, DigestOutcome, RoutedAlert};
use tandem_core::delivery::bounded_alert_routes;
use tandem_core::ids::{AlertId, ChatId, PushSendId, UserId};
use tandem_core::push::{PushClaim, PushOutcome};

use crate::deliver::{DeliverError, Delivered, Deliverer, MAX_ATTEMPTS, backoff, patiently};
use crate::digest_mail;
use crate::mail::SendError;
use crate::push::{PushError, Vapid};

impl Deliverer {
    /// Routes alert `id`: asks the tenant's plugins, then tells the workspace, schedules the
    /// digests and stores the webhooks and browser pushes. Returns those, due now, for the
    /// caller to queue. Safe from several workers at once; an alert is routed once.
    pub async fn route_alert(&self, id: AlertId) -> Result<RoutedAlert, DeliverError> {
        let claim = match self
            .tandem
            .alerts
            .claim_routing(id, self.settings.lease)
            .await?
        {
            AlertClaim::Route(claim) => claim,
            AlertClaim::Busy | AlertClaim::Settled => return Ok(RoutedAlert::default()),
        };
        let link = workspace_link(&self.settings.public_url, claim.alert.chat_id);
        let chosen = bounded_alert_routes(self.hooks.as_ref(), &claim, &link).await;
        let alerts = &self.tandem.alerts;
        Ok(patiently("an alert's routing", || {
            alerts.complete_routing(&claim, chosen.clone())
        })
        .await?)
    }

    /// Mails `operator`'s digest of alerts when it is due.
    pub async fn send_digest(&self, operator: UserId) -> Result<Delivered, DeliverError> {
        let claim = match self
            .tandem
            .alerts
            .claim_digest(operator, self.settings.lease)
            .await?
        {
            DigestFound::Send(claim) => claim,
            DigestFound::NotDue(at) => return Ok(Delivered::NotDue(at)),
            DigestFound::Busy | DigestFound::Nothing => return Ok(Delivered::Nothing),
        };
        let (outcome, delivered) = self.mail_digest(&claim).await;
        let alerts = &self.tandem.alerts;
        patiently("a digest", || {
            alerts.complete_digest(&claim, outcome.clone())
        })
        .await?;
        Ok(delivered)
    }

    /// Makes one attempt at browser push `id`. Safe from several workers at once; a push the
    /// service took is recorded however long the store takes to come back, never sent twice.
    pub async fn send_push(&self, id: PushSendId) -> Result<Delivered, DeliverError> {
        let push = match self.tandem.push.claim(id, self.settings.lease).await? {
            PushClaim::Send(push) => push,
            PushClaim::NotDue(at) => return Ok(Delivered::NotDue(at)),
            PushClaim::Busy | PushClaim::Settled => return Ok(Delivered::Nothing),
        };
        let now = self.tandem.now();
        let sent = match self.vapid().await {
            Ok(vapid) => self.pusher.send(&push, &vapid, now).await,
            Err(e) => Err(PushError::Transient(format!(
                "the VAPID key cannot be read: {e}"
            ))),
        };
        let (outcome, delivered) = match sent {
            Ok(()) => (PushOutcome::Sent, Delivered::Sent),
            Err(PushError::Transient(reason)) if push.attempt < MAX_ATTEMPTS => {
                let at = now.saturating_add(backoff(push.attempt));
                tracing::info!(push = %id, attempt = push.attempt, reason, "push failed; will retry");
                (PushOutcome::Retry { reason, at }, Delivered::Retry(at))
            }
            Err(PushError::Gone(reason)) => {
                tracing::info!(push = %id, reason, "the browser is gone; forgotten");
                (PushOutcome::Gone { reason }, Delivered::Failed)
            }
            Err(PushError::Transient(reason) | PushError::Permanent(reason)) => {
                tracing::info!(push = %id, reason, "push failed for good");
                (PushOutcome::Failed { reason }, Delivered::Failed)
            }
        };
        let pushes = &self.tandem.push;
        if !patiently("a push", || pushes.complete(&push, outcome.clone())).await? {
            tracing::warn!(push = %id, "a push outlived its claim; another worker took it over");
        }
        Ok(delivered)
    }

    /// The installation's VAPID key pair (the public half is what browsers subscribe with).
    pub async fn vapid(&self) -> Result<Arc<Vapid>, DeliverError> {
        let vapid = self
            .vapid
            .get_or_try_init(|| async {
                let secret = self.tandem.push.vapid_secret().await?;
                let contact = format!("mailto:{}", self.settings.from.email);
                Ok::<_, DeliverError>(Arc::new(Vapid::from_secret(&secret, contact)))
            })
            .await?;
        Ok(vapid.clone())
    }

    async fn mail_digest(&self, claim: &DigestClaim) -> (DigestOutcome, Delivered) {
        let to = match claim.operator_email.parse::<Mailbox>() {
            Ok(address) => Mailbox::new(Some(claim.operator_name.clone()), address.email),
            Err(e) => {
                let reason = format!("the operator's address is not usable: {e}");
                return (DigestOutcome::Failed { reason }, Delivered::Failed);
            }
        };
        let email = digest_mail::compose(claim, &self.settings.public_url, &self.settings.from, to);
        match self.mailer.send(&email).await {
            Ok(()) => (DigestOutcome::Sent, Delivered::Sent),
            Err(SendError::Transient(reason)) if claim.attempt < MAX_ATTEMPTS => {
                let at = self.tandem.now().saturating_add(backoff(claim.attempt));
                tracing::warn!(operator = %claim.user, attempt = claim.attempt, reason, "alert digest not sent; will retry");
                (DigestOutcome::Retry { reason, at }, Delivered::Retry(at))
            }
            Err(SendError::Transient(reason) | SendError::Permanent(reason)) => {
                tracing::warn!(operator = %claim.user, reason, "alert digest not sent, for good");
                (DigestOutcome::Failed { reason }, Delivered::Failed)
            }
        }
    }
}

/// The dialog in the operators' workspace.
pub fn workspace_link(public_url: &str, chat: ChatId) -> String {
    format!("{}/app#chat={chat}", public_url.trim_end_matches('/'))
}
