//! Webhook posts that tenant plugins route batches of unread replies to. The batch's completion
//! stores them (in the same transaction that settles the batch), and each is then claimed,
//! posted and completed on its own, with its own retries: a slow team chat never holds up the
//! visitor's email, and every attempt lands in the delivery log.

use std::time::Duration;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};
use serde::Serialize;

use crate::audit::{self, Action, Change, Target, TargetKind};
use crate::clock::Timestamp;
use crate::entity::{tenant, webhook_call, webhook_secret};
use crate::error::{CoreError, CoreResult};
use crate::ids::{ChatId, MessageId, PluginId, TenantId, VisitorId, WebhookCallId};
use crate::operator::OperatorActor;
use crate::services::WriteTxn;
use crate::tenant::Tenant;
use crate::usage::Metric;

use super::service::{LogLine, record};
use super::state::{Availability, Stage, StageColumns};
use super::{Channel, DeliveryService, DeliveryStatus, Outcome};

/// What signing secrets start with, so an admin can tell one from other keys.
const SECRET_PREFIX: &str = "whsec";

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum WebhookStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "sending")]
    Sending,
    #[sea_orm(string_value = "sent")]
    Sent,
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// A webhook post to store with a batch's completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewWebhook {
    pub url: String,
    pub body: String,
    pub plugin: Option<PluginId>,
}

/// How a claimed batch went: the email's outcome (which settles the outbox rows), the webhook
/// posts to make, and routes skipped on purpose (each a line of the delivery log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub outcome: Outcome,
    pub webhooks: Vec<NewWebhook>,
    pub skipped: Vec<(Channel, String)>,
}

impl From<Outcome> for Completion {
    fn from(outcome: Outcome) -> Self {
        Self {
            outcome,
            webhooks: Vec::new(),
            skipped: Vec::new(),
        }
    }
}

/// A claimed webhook post: everything the worker needs to make it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookCall {
    pub id: WebhookCallId,
    pub tenant: TenantId,
    pub chat: ChatId,
    pub visitor: VisitorId,
    pub url: String,
    pub body: String,
    /// The tenant's signing secret.
    pub secret: String,
    pub messages: Vec<MessageId>,
    /// 1 on the first try.
    pub attempt: u32,
    /// The claim's end; it also identifies the claim when completing it.
    pub claimed_until: Timestamp,
}

/// What claiming a webhook post found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookClaim {
    /// Post it, then [`DeliveryService::complete_webhook`].
    Call(Box<WebhookCall>),
    /// Too early: try again at this time.
    NotDue(Timestamp),
    /// Another worker is posting it right now.
    Busy,
    /// Nothing to do: sent, given up, or never stored (a batch routed twice).
    Settled,
    /// The URL is no longer among the tenant's webhook URLs: given up, and logged.
    Refused(String),
}

/// How one post went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// The receiver answered with a 2xx status.
    Sent { status: u16 },
    /// A transient failure: posted again at `at`.
    Retry { reason: String, at: Timestamp },
    /// A permanent failure, or the last attempt: given up.
    Failed { reason: String },
}

impl DeliveryService {
    /// Claims webhook post `id` for `lease`; safe from any number of workers at once.
    pub async fn claim_webhook(
        &self,
        id: WebhookCallId,
        lease: Duration,
    ) -> CoreResult<WebhookClaim> {
        let deps = self.deps();
        let now = deps.clock.now();
        let Some(row) = webhook_call::Entity::find_by_id(id).one(&deps.db).await? else {
            return Ok(WebhookClaim::Settled);
        };
        if let Some(answer) = unavailable(&row, now) {
            return Ok(answer);
        }
        let txn = deps.write().await?;
        let Some(row) = webhook_call::Entity::find_by_id(id)
            .lock_exclusive()
            .one(&txn)
            .await?
        else {
            return Ok(WebhookClaim::Settled);
        };
        if let Some(answer) = unavailable(&row, now) {
            return Ok(answer);
        }
        let messages: Vec<MessageId> = serde_json::from_str(&row.message_ids).unwrap_or_default();
        let tenant_row = tenant::Entity::find_by_id(row.tenant_id)
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("tenant"))?;
        let tenant = Tenant::try_from(tenant_row)?;
        if !tenant.settings.webhook_urls.contains(&row.url) {
            let reason = "the URL is no longer among the tenant's webhook URLs; given up";
            finish(&txn, &row, WebhookStatus::Failed, Some(reason), now).await?;
            log_attempt(
                &txn,
                &row,
                &messages,
                DeliveryStatus::Failed,
                Some(reason),
                now,
            )
            .await?;
            txn.commit().await?;
            return Ok(WebhookClaim::Refused(reason.to_owned()));
        }
        let secret = secret_in(&txn, row.tenant_id, now).await?;
        let claimed_until = now.saturating_add(lease);
        webhook_call::Entity::update_many()
            .col_expr(
                webhook_call::Column::Status,
                Expr::value(WebhookStatus::Sending),
            )
            .col_expr(
                webhook_call::Column::ClaimedUntil,
                Expr::value(claimed_until.millis()),
            )
            .col_expr(
                webhook_call::Column::Attempts,
                Expr::col(webhook_call::Column::Attempts).add(1),
            )
            .filter(webhook_call::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(WebhookClaim::Call(Box::new(WebhookCall {
            id,
            tenant: row.tenant_id,
            chat: row.chat_id,
            visitor: row.visitor_id,
            url: row.url,
            body: row.body,
            secret,
            messages,
            attempt: u32::try_from(row.attempts + 1).unwrap_or(u32::MAX),
            claimed_until,
        })))
    }

    /// Records how a claimed post went. False when the claim had run out and another worker
    /// took the post over (nothing is recorded then).
    pub async fn complete_webhook(
        &self,
        call: &WebhookCall,
        outcome: WebhookOutcome,
    ) -> CoreResult<bool> {
        let deps = self.deps();
        let now = deps.clock.now();
        let txn = deps.write().await?;
        let Some(row) = webhook_call::Entity::find_by_id(call.id)
            .filter(webhook_call::Column::TenantId.eq(call.tenant))
            .lock_exclusive()
            .one(&txn)
            .await?
        else {
            return Ok(false);
        };
        // Recorded only while the post is still held under this claim: one that ran out was
        // taken over by another worker.
        if stage_of(&row)
            != (Stage::Claimed {
                until: call.claimed_until,
            })
        {
            return Ok(false);
        }
        // Each outcome settles the row its way; every attempt is one line of the delivery log.
        let (logged, reason) = match &outcome {
            WebhookOutcome::Sent { status } => {
                finish(&txn, &row, WebhookStatus::Sent, None, now).await?;
                (
                    DeliveryStatus::Sent,
                    format!("the receiver answered {status}"),
                )
            }
            WebhookOutcome::Retry { reason, at } => {
                webhook_call::Entity::update_many()
                    .col_expr(
                        webhook_call::Column::Status,
                        Expr::value(WebhookStatus::Pending),
                    )
                    .col_expr(webhook_call::Column::DueAt, Expr::value(at.millis()))
                    .col_expr(
                        webhook_call::Column::ClaimedUntil,
                        Expr::value(Option::<i64>::None),
                    )
                    .col_expr(webhook_call::Column::LastError, Expr::value(reason.clone()))
                    .filter(webhook_call::Column::Id.eq(row.id))
                    .exec(&txn)
                    .await?;
                (
                    DeliveryStatus::Failed,
                    format!("{reason}; retrying at {at}"),
                )
            }
            WebhookOutcome::Failed { reason } => {
                finish(&txn, &row, WebhookStatus::Failed, Some(reason), now).await?;
                (DeliveryStatus::Failed, format!("{reason}; given up"))
            }
        };
        log_attempt(&txn, &row, &call.messages, logged, Some(&reason), now).await?;
        txn.commit().await?;
        let metric = match outcome {
            WebhookOutcome::Sent { .. } => Metric::WebhooksSent,
            WebhookOutcome::Retry { .. } | WebhookOutcome::Failed { .. } => Metric::WebhooksFailed,
        };
        deps.count(call.tenant, metric, 1);
        Ok(true)
    }

    /// Webhook posts that are due, or whose worker's claim ran out: for the sweep.
    pub async fn due_webhooks(&self, limit: u64) -> CoreResult<Vec<WebhookCallId>> {
        let now = self.deps().clock.now();
        Ok(webhook_call::Entity::find()
            .select_only()
            .column(webhook_call::Column::Id)
            .filter(stage_columns().takeable(now))
            .order_by_asc(webhook_call::Column::DueAt)
            .limit(limit)
            .into_tuple()
            .all(&self.deps().db)
            .await?)
    }

    /// The tenant's signing secret (admins only); made on first use.
    pub async fn webhook_secret(&self, actor: &OperatorActor) -> CoreResult<String> {
        actor.require_admin()?;
        let deps = self.deps();
        let txn = deps.write().await?;
        let secret = secret_in(&txn, actor.tenant, deps.clock.now()).await?;
        txn.commit().await?;
        Ok(secret)
    }

    /// A new signing secret (admins only): posts from now on are signed with it.
    pub async fn rotate_webhook_secret(&self, actor: &OperatorActor) -> CoreResult<String> {
        actor.require_admin()?;
        let deps = self.deps();
        let secret = crate::secret::generate(SECRET_PREFIX);
        let txn = deps.write().await?;
        webhook_secret::Entity::insert(webhook_secret::ActiveModel {
            tenant_id: Set(actor.tenant),
            secret: Set(secret.clone()),
            created_at: Set(deps.clock.now().millis()),
        })
        .on_conflict(
            OnConflict::column(webhook_secret::Column::TenantId)
                .update_columns([
                    webhook_secret::Column::Secret,
                    webhook_secret::Column::CreatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        let target = Target::the(TargetKind::WebhookSecret, "webhook signing secret");
        let (now, action) = (deps.clock.now(), Action::WebhookSecretRotated);
        audit::record(
            &txn,
            now,
            actor.into(),
            Some(actor.tenant),
            action,
            target,
            Change::bare(),
        )
        .await?;
        txn.commit().await?;
        Ok(secret)
    }
}

/// Stores webhook posts, due at once: a completed batch's, or those of another `occasion` (a
/// close, with the dialog's last message). The same posts stored again (a batch routed again
/// when its email is retried) are found there already and not added. Returns the ids to
/// schedule.
pub(crate) async fn store_webhooks(
    txn: &WriteTxn,
    owner: (TenantId, ChatId, VisitorId),
    messages: &[MessageId],
    webhooks: &[NewWebhook],
    occasion: Option<&str>,
    now: Timestamp,
) -> CoreResult<Vec<WebhookCallId>> {
    let (tenant, chat, visitor) = owner;
    let ids = serde_json::to_string(messages).unwrap_or_else(|_| "[]".into());
    let mut stored = Vec::with_capacity(webhooks.len());
    for webhook in webhooks {
        let id = WebhookCallId::new();
        // An unread batch's posts are keyed as they always were (no occasion), so a batch
        // routed again after an upgrade still finds its own.
        let key = match occasion {
            None => crate::secret::digest(&format!("{chat}\n{ids}\n{}", webhook.url)),
            Some(occasion) => {
                crate::secret::digest(&format!("{occasion}\n{chat}\n{ids}\n{}", webhook.url))
            }
        };
        let inserted = webhook_call::Entity::insert(webhook_call::ActiveModel {
            id: Set(id),
            tenant_id: Set(tenant),
            chat_id: Set(chat),
            visitor_id: Set(visitor),
            plugin_id: Set(webhook.plugin),
            url: Set(webhook.url.clone()),
            body: Set(webhook.body.clone()),
            message_ids: Set(ids.clone()),
            dedupe_key: Set(key),
            status: Set(WebhookStatus::Pending),
            attempts: Set(0),
            due_at: Set(now.millis()),
            claimed_until: Set(None),
            last_error: Set(None),
            created_at: Set(now.millis()),
            processed_at: Set(None),
        })
        .on_conflict(
            OnConflict::columns([
                webhook_call::Column::TenantId,
                webhook_call::Column::DedupeKey,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
        if inserted > 0 {
            stored.push(id);
        }
    }
    Ok(stored)
}

/// A post's place in the delivery lifecycle (see `state.rs`).
fn stage_of(row: &webhook_call::Model) -> Stage {
    match row.status {
        WebhookStatus::Pending => Stage::Scheduled {
            due_at: Timestamp::from_millis(row.due_at),
        },
        WebhookStatus::Sending => Stage::Claimed {
            until: Timestamp::from_millis(row.claimed_until.unwrap_or(0)),
        },
        WebhookStatus::Sent | WebhookStatus::Failed => Stage::Settled,
    }
}

fn stage_columns() -> StageColumns<webhook_call::Column> {
    StageColumns {
        status: webhook_call::Column::Status,
        due_at: webhook_call::Column::DueAt,
        claimed_until: webhook_call::Column::ClaimedUntil,
        scheduled: WebhookStatus::Pending.into(),
        claimed: WebhookStatus::Sending.into(),
    }
}

/// The answer to a claim when the post is not to be taken now.
fn unavailable(row: &webhook_call::Model, now: Timestamp) -> Option<WebhookClaim> {
    match stage_of(row).availability(now) {
        Availability::Take => None,
        Availability::NotDue(at) => Some(WebhookClaim::NotDue(at)),
        Availability::Busy => Some(WebhookClaim::Busy),
        Availability::Settled => Some(WebhookClaim::Settled),
    }
}

async fn finish(
    txn: &WriteTxn,
    row: &webhook_call::Model,
    status: WebhookStatus,
    reason: Option<&str>,
    now: Timestamp,
) -> CoreResult<()> {
    webhook_call::Entity::update_many()
        .col_expr(webhook_call::Column::Status, Expr::value(status))
        .col_expr(webhook_call::Column::ProcessedAt, Expr::value(now.millis()))
        .col_expr(
            webhook_call::Column::ClaimedUntil,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(
            webhook_call::Column::LastError,
            Expr::value(reason.map(str::to_owned)),
        )
        .filter(webhook_call::Column::Id.eq(row.id))
        .exec(txn)
        .await?;
    Ok(())
}

async fn log_attempt(
    txn: &WriteTxn,
    row: &webhook_call::Model,
    messages: &[MessageId],
    status: DeliveryStatus,
    reason: Option<&str>,
    now: Timestamp,
) -> CoreResult<()> {
    record(
        txn,
        (row.tenant_id, row.chat_id, row.visitor_id),
        LogLine {
            channel: Channel::Webhook,
            recipient: Some(&row.url),
            status,
            reason,
            messages,
        },
        now,
    )
    .await
}

/// The tenant's secret, made (inside `txn`) if it has none yet.
async fn secret_in(txn: &WriteTxn, tenant: TenantId, now: Timestamp) -> CoreResult<String> {
    if let Some(row) = webhook_secret::Entity::find_by_id(tenant).one(txn).await? {
        return Ok(row.secret);
    }
    // Two first posts of a tenant may race here: one secret wins, and both use it.
    webhook_secret::Entity::insert(webhook_secret::ActiveModel {
        tenant_id: Set(tenant),
        secret: Set(crate::secret::generate(SECRET_PREFIX)),
        created_at: Set(now.millis()),
    })
    .on_conflict(
        OnConflict::column(webhook_secret::Column::TenantId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    webhook_secret::Entity::find_by_id(tenant)
        .one(txn)
        .await?
        .map(|row| row.secret)
        .ok_or(CoreError::NotFound("webhook secret"))
}
