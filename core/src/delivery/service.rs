//! Claiming due batches of unread replies, completing them, and the delivery log.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, Condition, DatabaseTransaction, QueryOrder, QuerySelect, QueryTrait,
};

use crate::clock::Timestamp;
use crate::entity::{chat, delivery, message, outbox, tenant, user, visitor};
use crate::error::{CoreError, CoreResult};
use crate::events::DomainEvent;
use crate::ids::{ChatId, MessageId, OutboxId, TenantId, VisitorId, WebhookCallId};
use crate::message::Message;
use crate::operator::OperatorActor;
use crate::outbox::{OutboxEntry, OutboxStatus};
use crate::services::Deps;
use crate::tenant::Tenant;

use super::webhook::store_webhooks;
use super::{
    CONTEXT_MESSAGES, Channel, Claim, Completion, DeliveryRecord, DeliveryStatus, Outcome,
    UnreadBatch,
};

/// Why a visitor without an address got nothing; also marks the rows to revive when they leave
/// one.
pub(crate) const NO_EMAIL: &str = "the visitor left no email address";

/// Why a visitor who stopped the emails got none.
pub(crate) const UNSUBSCRIBED: &str = "the visitor stopped these emails";

const MAX_LOG: u64 = 500;

#[derive(Clone)]
pub struct DeliveryService {
    deps: Arc<Deps>,
}

impl DeliveryService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    pub(super) fn deps(&self) -> &Deps {
        &self.deps
    }

    /// Claims the chat of outbox row `id` for delivery: every unread, unsent operator reply of
    /// that chat, as one batch, held for `lease`. Safe to call from any number of workers at
    /// once: exactly one of them gets the batch.
    pub async fn claim(&self, id: OutboxId, lease: Duration) -> CoreResult<Claim> {
        let now = self.deps.clock.now();
        let Some(row) = outbox::Entity::find_by_id(id).one(&self.deps.db).await? else {
            return Ok(Claim::Settled);
        };
        // Most early or repeated calls end here, without taking the (single, on SQLite) write
        // lock; the answer is checked again under the lock below.
        match row.status {
            OutboxStatus::Read
            | OutboxStatus::Sent
            | OutboxStatus::Skipped
            | OutboxStatus::Failed => {
                return Ok(Claim::Settled);
            }
            OutboxStatus::Pending if row.due_at > now.millis() => {
                return Ok(Claim::NotDue(Timestamp::from_millis(row.due_at)));
            }
            _ => {}
        }
        let (txn, turn) = self.deps.write().await?;
        // The chat row is the one lock every change to a chat's delivery state takes first, so
        // claimers of different rows of one chat queue instead of deadlocking.
        lock_chat(&txn, row.tenant_id, row.chat_id).await?;
        let Some(row) = outbox::Entity::find_by_id(id).one(&txn).await? else {
            return Ok(Claim::Settled);
        };
        match row.status {
            OutboxStatus::Read
            | OutboxStatus::Sent
            | OutboxStatus::Skipped
            | OutboxStatus::Failed => return Ok(Claim::Settled),
            OutboxStatus::Sending if row.claimed_until.is_some_and(|t| t > now.millis()) => {
                return Ok(Claim::Busy);
            }
            OutboxStatus::Pending if row.due_at > now.millis() => {
                return Ok(Claim::NotDue(Timestamp::from_millis(row.due_at)));
            }
            OutboxStatus::Pending | OutboxStatus::Sending => {}
        }
        let rows = claimable_rows(&txn, row.tenant_id, row.chat_id, now).await?;
        let ids: Vec<MessageId> = rows.iter().map(|r| r.message_id).collect();
        let messages = message::Entity::find()
            .filter(message::Column::Id.is_in(ids))
            .filter(message::Column::TenantId.eq(row.tenant_id))
            .order_by_asc(message::Column::Seq)
            .all(&txn)
            .await?;
        let (unread, settled): (Vec<_>, Vec<_>) = messages
            .into_iter()
            .partition(|m| m.read_by_visitor_at.is_none() && m.emailed_at.is_none());
        // Read (or already mailed) since the row was written: nothing to send for those.
        let settled_ids: Vec<MessageId> = settled.iter().map(|m| m.id).collect();
        settle_rows(&txn, &rows, &settled_ids, OutboxStatus::Read, None, now).await?;
        if unread.is_empty() {
            txn.commit().await?;
            return Ok(Claim::Settled);
        }
        let chat_row = lock_chat(&txn, row.tenant_id, row.chat_id).await?;
        let visitor_row = visitor::Entity::find_by_id(chat_row.visitor_id)
            .filter(visitor::Column::TenantId.eq(row.tenant_id))
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("visitor"))?;
        let unread_ids: Vec<MessageId> = unread.iter().map(|m| m.id).collect();
        let claimed: Vec<&outbox::Model> = rows
            .iter()
            .filter(|r| unread_ids.contains(&r.message_id))
            .collect();
        let nothing_to_send = if visitor_row.emails_stopped {
            Some(UNSUBSCRIBED)
        } else if visitor_row.email.is_none() {
            Some(NO_EMAIL)
        } else {
            None
        };
        if let Some(reason) = nothing_to_send {
            settle_rows(
                &txn,
                &rows,
                &unread_ids,
                OutboxStatus::Skipped,
                Some(reason),
                now,
            )
            .await?;
            record(
                &txn,
                owner(&chat_row),
                LogLine {
                    channel: Channel::Email,
                    recipient: visitor_row.email.as_deref(),
                    status: DeliveryStatus::Skipped,
                    reason: Some(reason),
                    messages: &unread_ids,
                },
                now,
            )
            .await?;
            txn.commit().await?;
            return Ok(Claim::Skipped(reason.to_owned()));
        }
        let claim_until = now.saturating_add(lease);
        let outbox_ids: Vec<OutboxId> = claimed.iter().map(|r| r.id).collect();
        outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Sending))
            .col_expr(
                outbox::Column::ClaimedUntil,
                Expr::value(claim_until.millis()),
            )
            .col_expr(
                outbox::Column::Attempts,
                Expr::col(outbox::Column::Attempts).add(1),
            )
            .filter(outbox::Column::Id.is_in(outbox_ids.clone()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        drop(turn);

        let attempt = claimed.iter().map(|r| r.attempts).max().unwrap_or(0) + 1;
        let batch = self
            .batch_context(chat_row, visitor_row, unread, outbox_ids, attempt)
            .await?;
        Ok(Claim::Batch(Box::new(UnreadBatch {
            claimed_until: claim_until,
            ..batch
        })))
    }

    /// Records how the email of a claimed batch went. Returns false when the claim had
    /// expired and another worker took the batch over (the outcome is then not recorded).
    pub async fn complete(&self, batch: &UnreadBatch, outcome: Outcome) -> CoreResult<bool> {
        Ok(self.complete_routed(batch, outcome.into()).await?.is_some())
    }

    /// Records how a claimed batch went, and stores the webhook posts its plugin chose, in one
    /// transaction. Returns the stored posts to schedule, or `None` when the claim had expired
    /// and another worker took the batch over (nothing is recorded then).
    pub async fn complete_routed(
        &self,
        batch: &UnreadBatch,
        completion: Completion,
    ) -> CoreResult<Option<Vec<WebhookCallId>>> {
        let Completion {
            outcome,
            webhooks,
            skipped,
        } = completion;
        let now = self.deps.clock.now();
        let ids: Vec<MessageId> = batch.messages.iter().map(|m| m.id).collect();
        let (txn, turn) = self.deps.write().await?;
        lock_chat(&txn, batch.tenant.id, batch.chat).await?;
        let mut rows = outbox::Entity::update_many()
            .col_expr(
                outbox::Column::ClaimedUntil,
                Expr::value(Option::<i64>::None),
            )
            .filter(outbox::Column::Id.is_in(batch.outbox.clone()))
            .filter(outbox::Column::TenantId.eq(batch.tenant.id))
            .filter(outbox::Column::Status.eq(OutboxStatus::Sending))
            .filter(outbox::Column::ClaimedUntil.eq(batch.claimed_until.millis()));
        let (channel, recipient, status, reason) = match &outcome {
            Outcome::Sent { channel, recipient } => {
                rows = rows
                    .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Sent))
                    .col_expr(outbox::Column::ProcessedAt, Expr::value(now.millis()));
                (
                    *channel,
                    Some(recipient.clone()),
                    DeliveryStatus::Sent,
                    None,
                )
            }
            Outcome::Skipped { channel, reason } => {
                rows = rows
                    .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Skipped))
                    .col_expr(outbox::Column::ProcessedAt, Expr::value(now.millis()))
                    .col_expr(outbox::Column::LastError, Expr::value(reason.clone()));
                (
                    *channel,
                    None,
                    DeliveryStatus::Skipped,
                    Some(reason.clone()),
                )
            }
            Outcome::Retry {
                channel,
                recipient,
                reason,
                at,
            } => {
                rows = rows
                    .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Pending))
                    .col_expr(outbox::Column::DueAt, Expr::value(at.millis()))
                    .col_expr(outbox::Column::LastError, Expr::value(reason.clone()));
                let reason = format!("{reason}; retrying at {at}");
                (
                    *channel,
                    recipient.clone(),
                    DeliveryStatus::Failed,
                    Some(reason),
                )
            }
            Outcome::Failed {
                channel,
                recipient,
                reason,
            } => {
                rows = rows
                    .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Failed))
                    .col_expr(outbox::Column::ProcessedAt, Expr::value(now.millis()))
                    .col_expr(outbox::Column::LastError, Expr::value(reason.clone()));
                let reason = format!("{reason}; given up");
                (
                    *channel,
                    recipient.clone(),
                    DeliveryStatus::Failed,
                    Some(reason),
                )
            }
        };
        let updated = rows.exec(&txn).await?.rows_affected;
        if updated == 0 {
            return Ok(None);
        }
        let emailed = matches!(
            outcome,
            Outcome::Sent {
                channel: Channel::Email,
                ..
            }
        );
        if emailed {
            message::Entity::update_many()
                .col_expr(message::Column::EmailedAt, Expr::value(now.millis()))
                .filter(message::Column::Id.is_in(ids.clone()))
                .filter(message::Column::TenantId.eq(batch.tenant.id))
                .filter(message::Column::EmailedAt.is_null())
                .exec(&txn)
                .await?;
        }
        let chat_row = lock_chat(&txn, batch.tenant.id, batch.chat).await?;
        record(
            &txn,
            owner(&chat_row),
            LogLine {
                channel,
                recipient: recipient.as_deref(),
                status,
                reason: reason.as_deref(),
                messages: &ids,
            },
            now,
        )
        .await?;
        for (channel, reason) in &skipped {
            let line = LogLine {
                channel: *channel,
                recipient: None,
                status: DeliveryStatus::Skipped,
                reason: Some(reason),
                messages: &ids,
            };
            record(&txn, owner(&chat_row), line, now).await?;
        }
        let webhooks = store_webhooks(&txn, owner(&chat_row), &ids, &webhooks, now).await?;
        txn.commit().await?;
        drop(turn);
        if emailed {
            self.announce_emailed(batch.tenant.id, chat_row.visitor_id, &ids)
                .await?;
        }
        Ok(Some(webhooks))
    }

    /// Emails the tenant sent to `address` since `since` (any visitor's), for the per-address
    /// cap: a visitor who types a stranger's address cannot have them mailed without end.
    pub async fn mails_sent_to(
        &self,
        tenant: TenantId,
        address: &str,
        since: Timestamp,
    ) -> CoreResult<u64> {
        let count = delivery::Entity::find()
            .filter(delivery::Column::TenantId.eq(tenant))
            .filter(delivery::Column::Channel.eq(Channel::Email))
            .filter(delivery::Column::Status.eq(DeliveryStatus::Sent))
            .filter(delivery::Column::Recipient.eq(address))
            .filter(delivery::Column::CreatedAt.gte(since.millis()))
            .count(&self.deps.db)
            .await?;
        Ok(count)
    }

    /// The tenant's delivery log, newest first (admins only).
    pub async fn log(&self, actor: &OperatorActor, limit: u64) -> CoreResult<Vec<DeliveryRecord>> {
        actor.require_admin()?;
        let rows = delivery::Entity::find()
            .filter(delivery::Column::TenantId.eq(actor.tenant))
            .order_by_desc(delivery::Column::CreatedAt)
            .limit(limit.clamp(1, MAX_LOG))
            .all(&self.deps.db)
            .await?;
        Ok(rows.into_iter().map(DeliveryRecord::from).collect())
    }

    async fn batch_context(
        &self,
        chat_row: chat::Model,
        visitor_row: visitor::Model,
        unread: Vec<message::Model>,
        outbox: Vec<OutboxId>,
        attempt: i32,
    ) -> CoreResult<UnreadBatch> {
        let db = &self.deps.db;
        let tenant_row = tenant::Entity::find_by_id(chat_row.tenant_id)
            .one(db)
            .await?
            .ok_or(CoreError::NotFound("tenant"))?;
        let first_seq = unread.first().map_or(0, |m| m.seq);
        let mut earlier: Vec<Message> = message::Entity::find()
            .filter(message::Column::ChatId.eq(chat_row.id))
            .filter(message::Column::TenantId.eq(chat_row.tenant_id))
            .filter(message::Column::Seq.lt(first_seq))
            .order_by_desc(message::Column::Seq)
            .limit(CONTEXT_MESSAGES)
            .all(db)
            .await?
            .into_iter()
            .map(Message::from)
            .collect();
        earlier.reverse();
        let last_operator = unread.iter().rev().find_map(|m| m.operator_id);
        let operator_name = match last_operator {
            Some(id) => user::Entity::find_by_id(id)
                .filter(user::Column::TenantId.eq(chat_row.tenant_id))
                .one(db)
                .await?
                .map(|u| u.name),
            None => None,
        };
        Ok(UnreadBatch {
            tenant: Tenant::try_from(tenant_row)?,
            chat: chat_row.id,
            visitor: visitor_row.into(),
            messages: unread.into_iter().map(Message::from).collect(),
            earlier,
            operator_name,
            outbox,
            attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
            claimed_until: Timestamp::from_millis(0),
        })
    }

    /// Operators see "emailed" appear on the replies.
    async fn announce_emailed(
        &self,
        tenant: TenantId,
        visitor: crate::ids::VisitorId,
        ids: &[MessageId],
    ) -> CoreResult<()> {
        let rows = message::Entity::find()
            .filter(message::Column::Id.is_in(ids.to_vec()))
            .filter(message::Column::TenantId.eq(tenant))
            .order_by_asc(message::Column::Seq)
            .all(&self.deps.db)
            .await?;
        for row in rows {
            self.deps.publish(DomainEvent::MessageUpdated {
                tenant,
                visitor,
                message: row.into(),
            });
        }
        Ok(())
    }
}

/// The visitor has just left an address: replies skipped for want of one, and still unread, are
/// due again now. Returns the revived rows for the scheduler.
pub(crate) async fn revive_for_new_address(
    deps: &Deps,
    tenant: TenantId,
    chat: ChatId,
) -> CoreResult<Vec<OutboxEntry>> {
    let now = deps.clock.now();
    let unread = message::Entity::find()
        .select_only()
        .column(message::Column::Id)
        .filter(message::Column::ChatId.eq(chat))
        .filter(message::Column::TenantId.eq(tenant))
        .filter(message::Column::ReadByVisitorAt.is_null())
        .filter(message::Column::EmailedAt.is_null())
        .into_query();
    let (txn, turn) = deps.write().await?;
    lock_chat(&txn, tenant, chat).await?;
    let rows = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Pending))
        .col_expr(outbox::Column::DueAt, Expr::value(now.millis()))
        .col_expr(
            outbox::Column::ProcessedAt,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(
            outbox::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .filter(outbox::Column::ChatId.eq(chat))
        .filter(outbox::Column::TenantId.eq(tenant))
        .filter(outbox::Column::Status.eq(OutboxStatus::Skipped))
        .filter(outbox::Column::LastError.eq(NO_EMAIL))
        .filter(outbox::Column::MessageId.in_subquery(unread))
        .exec_with_returning(&txn)
        .await?;
    txn.commit().await?;
    drop(turn);
    Ok(rows.into_iter().map(OutboxEntry::from).collect())
}

/// Whose a chat's log lines are.
fn owner(chat: &chat::Model) -> (TenantId, ChatId, VisitorId) {
    (chat.tenant_id, chat.id, chat.visitor_id)
}

/// Takes the chat's row lock (see [`DeliveryService::claim`]).
pub(crate) async fn lock_chat(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    chat: ChatId,
) -> CoreResult<chat::Model> {
    chat::Entity::find_by_id(chat)
        .filter(chat::Column::TenantId.eq(tenant))
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or(CoreError::NotFound("chat"))
}

/// The chat's rows that may be delivered now: pending ones (due or not: a batch takes every
/// unread reply), and ones whose worker's claim has run out. Locked until the commit.
async fn claimable_rows(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    chat: ChatId,
    now: Timestamp,
) -> CoreResult<Vec<outbox::Model>> {
    let claimable = Condition::any()
        .add(outbox::Column::Status.eq(OutboxStatus::Pending))
        .add(
            Condition::all()
                .add(outbox::Column::Status.eq(OutboxStatus::Sending))
                .add(outbox::Column::ClaimedUntil.lte(now.millis())),
        );
    Ok(outbox::Entity::find()
        .filter(outbox::Column::ChatId.eq(chat))
        .filter(outbox::Column::TenantId.eq(tenant))
        .filter(claimable)
        .lock_exclusive()
        .all(txn)
        .await?)
}

/// Closes the rows of these messages with a final status.
async fn settle_rows(
    txn: &DatabaseTransaction,
    rows: &[outbox::Model],
    messages: &[MessageId],
    status: OutboxStatus,
    reason: Option<&str>,
    now: Timestamp,
) -> CoreResult<()> {
    let ids: Vec<OutboxId> = rows
        .iter()
        .filter(|r| messages.contains(&r.message_id))
        .map(|r| r.id)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(status))
        .col_expr(outbox::Column::ProcessedAt, Expr::value(now.millis()))
        .col_expr(
            outbox::Column::ClaimedUntil,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(
            outbox::Column::LastError,
            Expr::value(reason.map(str::to_owned)),
        )
        .filter(outbox::Column::Id.is_in(ids))
        .exec(txn)
        .await?;
    Ok(())
}

/// One line of the delivery log, before it is written.
pub(super) struct LogLine<'a> {
    pub channel: Channel,
    pub recipient: Option<&'a str>,
    pub status: DeliveryStatus,
    pub reason: Option<&'a str>,
    pub messages: &'a [MessageId],
}

pub(super) async fn record(
    txn: &DatabaseTransaction,
    owner: (TenantId, ChatId, VisitorId),
    line: LogLine<'_>,
    now: Timestamp,
) -> CoreResult<()> {
    let (tenant, chat, visitor) = owner;
    let ids = serde_json::to_string(line.messages).unwrap_or_else(|_| "[]".into());
    delivery::Entity::insert(delivery::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant),
        chat_id: Set(chat),
        visitor_id: Set(visitor),
        channel: Set(line.channel),
        recipient: Set(line.recipient.map(str::to_owned)),
        status: Set(line.status),
        reason: Set(line.reason.map(str::to_owned)),
        message_ids: Set(ids),
        created_at: Set(now.millis()),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}
