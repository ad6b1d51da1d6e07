//! Alerts for operators, in the worker: each alert routed once through the tenant's plugins,
//! and each operator's digest of them mailed.

use lettre::message::Mailbox;
use tandem_core::alert::{AlertClaim, DigestClaim, DigestFound, DigestOutcome};
use tandem_core::delivery::bounded_alert_routes;
use tandem_core::ids::{AlertId, ChatId, UserId, WebhookCallId};

use crate::deliver::{DeliverError, Delivered, Deliverer, MAX_ATTEMPTS, backoff, patiently};
use crate::digest_mail;
use crate::mail::SendError;

impl Deliverer {
    /// Routes alert `id`: asks the tenant's plugins, then tells the workspace, schedules the
    /// digests and stores the webhooks. Returns the webhooks, due now, for the caller to queue.
    /// Safe from several workers at once; an alert is routed once.
    pub async fn route_alert(&self, id: AlertId) -> Result<Vec<WebhookCallId>, DeliverError> {
        let claim = match self
            .tandem
            .alerts
            .claim_routing(id, self.settings.lease)
            .await?
        {
            AlertClaim::Route(claim) => claim,
            AlertClaim::Busy | AlertClaim::Settled => return Ok(Vec::new()),
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
