//! Delivering unread replies. When an outbox row's time comes, a worker *claims* the chat's
//! unread, unsent operator replies as one batch, delivers it (by email, or whatever channels a
//! plugin chooses), and *completes* the claim with the outcome. The claim is what makes delivery
//! happen once: a second worker, a retried job or the sweep finds the rows taken or settled.
//!
//! Core decides what is due and records what happened; how a batch travels (SMTP, webhooks,
//! templates) is the worker crate's business.

mod rows;
mod service;
mod state;
mod webhook;

use std::time::Duration;

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::alert::{AlertToRoute, ChosenAlertRoutes};
use crate::clock::Timestamp;
use crate::entity::delivery;
use crate::ids::{ChatId, MessageId, OutboxId, PluginId, VisitorId};
use crate::message::Message;
use crate::tenant::Tenant;
use crate::visitor::Visitor;

pub(crate) use rows::stage_columns as outbox_stage_columns;
pub use service::DeliveryService;
pub(crate) use service::{
    batch_of, lock_chat, revive_for_new_address, schedule_revived, settle_read,
};
pub(crate) use webhook::store_webhooks;
pub use webhook::{
    Completion, NewWebhook, WebhookCall, WebhookClaim, WebhookOutcome, WebhookStatus,
};

/// How many messages before the batch an email shows as context.
pub const CONTEXT_MESSAGES: u64 = 5;

/// Lines of the delivery log in one read, at most.
pub const MAX_LOG: u64 = 500;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    #[sea_orm(string_value = "email")]
    Email,
    #[sea_orm(string_value = "webhook")]
    Webhook,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    #[sea_orm(string_value = "sent")]
    Sent,
    #[sea_orm(string_value = "skipped")]
    Skipped,
    /// This attempt failed; `reason` says whether it will be retried.
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// Everything a channel needs to tell the visitor about their unread replies.
#[derive(Clone, Debug, PartialEq)]
pub struct UnreadBatch {
    pub tenant: Tenant,
    pub chat: ChatId,
    pub visitor: Visitor,
    /// The unread replies, oldest first.
    pub messages: Vec<Message>,
    /// Up to [`CONTEXT_MESSAGES`] messages just before the first of them.
    pub earlier: Vec<Message>,
    /// The name of the operator who wrote the last reply.
    pub operator_name: Option<String>,
    /// The claimed outbox rows.
    pub outbox: Vec<OutboxId>,
    /// 1 on the first try.
    pub attempt: u32,
    /// The claim's end; it also identifies the claim when completing it.
    pub claimed_until: Timestamp,
    /// The mail's links, made with the claim when [`MailLinks`] asked for them.
    pub tokens: Option<MailTokens>,
}

/// The links a claimed batch's mail will carry, asked of [`DeliveryService::claim_for_mail`]:
/// made in the claim's own transaction, so a mail costs no write of its own before it goes.
#[derive(Clone, Copy, Debug)]
pub struct MailLinks {
    /// How long the resume link (back to the dialog) works.
    pub resume_for: std::time::Duration,
    /// Whether a `Reply-To` token is wanted (the installation receives mail).
    pub reply: bool,
}

/// The secrets of a batch's mail, bound to the visitor's address at the claim.
#[derive(Clone, PartialEq, Eq)]
pub struct MailTokens {
    /// The resume link's token.
    pub resume: String,
    /// The `Reply-To` address's token, when [`MailLinks::reply`] asked for it.
    pub reply: Option<String>,
}

impl std::fmt::Debug for MailTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MailTokens(..)")
    }
}

/// What claiming an outbox row found.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// Deliver this batch, then [`DeliveryService::complete`] it.
    Batch(Box<UnreadBatch>),
    /// Too early (a job may fire before its time): try again at this time.
    NotDue(Timestamp),
    /// Another worker holds the row right now.
    Busy,
    /// Nothing to do: read, sent, skipped or failed already.
    Settled,
    /// Nothing can be sent (the visitor left no address); recorded in the delivery log.
    Skipped(String),
}

/// How a delivery went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        channel: Channel,
        recipient: String,
    },
    /// Nothing was sent, on purpose (a plugin's routing, an unsubscribed visitor).
    Skipped {
        channel: Channel,
        reason: String,
    },
    /// A transient failure: the rows go back to pending and are tried again at `at`.
    Retry {
        channel: Channel,
        recipient: Option<String>,
        reason: String,
        at: Timestamp,
    },
    /// A permanent failure: the rows are given up on.
    Failed {
        channel: Channel,
        recipient: Option<String>,
        reason: String,
    },
}

/// A line of the delivery log as tenant admins see it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeliveryRecord {
    pub id: uuid::Uuid,
    pub chat_id: ChatId,
    pub visitor_id: VisitorId,
    pub channel: Channel,
    pub recipient: Option<String>,
    pub status: DeliveryStatus,
    pub reason: Option<String>,
    pub message_ids: Vec<MessageId>,
    pub created_at: Timestamp,
}

impl From<delivery::Model> for DeliveryRecord {
    fn from(row: delivery::Model) -> Self {
        Self {
            id: row.id,
            chat_id: row.chat_id,
            visitor_id: row.visitor_id,
            channel: row.channel,
            recipient: row.recipient,
            status: row.status,
            reason: row.reason,
            message_ids: serde_json::from_str(&row.message_ids).unwrap_or_default(),
            created_at: Timestamp::from_millis(row.created_at),
        }
    }
}

/// A template a tenant's plugin chose, and which plugin: a template that then fails to render
/// is that plugin's failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChosenTemplate {
    pub template: crate::tenant::EmailParts,
    pub plugin: PluginId,
}

/// The email a batch would go out as, for a plugin deciding where the batch goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailSummary {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// One way a batch travels, as a plugin chose it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// The unread-reply email, to the visitor's own address.
    Email,
    /// A JSON document posted to one of the tenant's allowed webhook URLs.
    Webhook { url: String, body: String },
    /// Nothing through this route; the reason goes to the delivery log.
    Skip { reason: String },
}

/// The routes a tenant's plugin chose, and which plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChosenRoutes {
    pub routes: Vec<Route>,
    pub plugin: PluginId,
}

/// Where tenant plugins change how a batch of unread replies goes out (the plugins crate
/// implements it). `None` everywhere means no opinion: the defaults apply.
#[async_trait::async_trait]
pub trait NotificationHooks: Send + Sync + 'static {
    /// The email's template: `None` for the tenant's own template or the built-in one.
    async fn email_template(&self, batch: &UnreadBatch, now: Timestamp) -> Option<ChosenTemplate>;

    /// The chosen template did not render: counted and logged against its plugin.
    async fn template_failed(&self, batch: &UnreadBatch, plugin: PluginId, reason: &str);

    /// Where the batch goes: `None` for the email alone. Routes come back checked: an email
    /// goes only to the visitor's address, a webhook only to a URL the tenant allowed.
    async fn routes(
        &self,
        batch: &UnreadBatch,
        email: &EmailSummary,
        now: Timestamp,
    ) -> Option<ChosenRoutes>;

    /// Where an alert for the operators goes: `None` for the operators themselves. Webhook
    /// routes come back checked against the tenant's allowed URLs.
    async fn operator_alert(
        &self,
        _alert: &AlertToRoute,
        _workspace_url: &str,
    ) -> Option<ChosenAlertRoutes> {
        None
    }
}

/// No plugins: every batch goes by email, with the tenant's template or the built-in one.
/// How long a delivery waits for the tenant's hooks before going on with the default.
pub const HOOKS_WAIT: Duration = Duration::from_secs(3);

/// The hooks' template, or none when they take longer than [`HOOKS_WAIT`].
pub async fn bounded_template(
    hooks: &dyn NotificationHooks,
    batch: &UnreadBatch,
    now: Timestamp,
) -> Option<ChosenTemplate> {
    let answer = tokio::time::timeout(HOOKS_WAIT, hooks.email_template(batch, now)).await;
    answer.unwrap_or_else(|_| {
        tracing::warn!(tenant = %batch.tenant.id, "the email-template hooks took too long; the default was used");
        None
    })
}

/// The hooks' routes, or none (the email) when they take longer than [`HOOKS_WAIT`].
pub async fn bounded_routes(
    hooks: &dyn NotificationHooks,
    batch: &UnreadBatch,
    email: &EmailSummary,
    now: Timestamp,
) -> Option<ChosenRoutes> {
    let answer = tokio::time::timeout(HOOKS_WAIT, hooks.routes(batch, email, now)).await;
    answer.unwrap_or_else(|_| {
        tracing::warn!(tenant = %batch.tenant.id, "the routing hooks took too long; the email was sent");
        None
    })
}

/// The hooks' routes for an alert, or none (the operators) when they take longer than
/// [`HOOKS_WAIT`].
pub async fn bounded_alert_routes(
    hooks: &dyn NotificationHooks,
    alert: &AlertToRoute,
    workspace_url: &str,
) -> Option<ChosenAlertRoutes> {
    let answer = tokio::time::timeout(HOOKS_WAIT, hooks.operator_alert(alert, workspace_url)).await;
    answer.unwrap_or_else(|_| {
        tracing::warn!(tenant = %alert.ctx.tenant, "the alert hooks took too long; the operators were alerted");
        None
    })
}

#[derive(Clone, Copy, Debug, Default)]
pub struct NoHooks;

#[async_trait::async_trait]
impl NotificationHooks for NoHooks {
    async fn email_template(
        &self,
        _batch: &UnreadBatch,
        _now: Timestamp,
    ) -> Option<ChosenTemplate> {
        None
    }

    async fn template_failed(&self, _batch: &UnreadBatch, _plugin: PluginId, _reason: &str) {}

    async fn routes(
        &self,
        _batch: &UnreadBatch,
        _email: &EmailSummary,
        _now: Timestamp,
    ) -> Option<ChosenRoutes> {
        None
    }
}
