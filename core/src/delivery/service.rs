//! Claiming due batches of unread replies, completing them, and the delivery log.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DbBackend, QueryOrder, QuerySelect, QueryTrait, Statement,
};

use crate::chat::chat_row_of_visitor;
use crate::clock::Timestamp;
use crate::entity::{chat, delivery, message, outbox, tenant, user, visitor};
use crate::error::{CoreError, CoreResult};
use crate::events::DomainEvent;
use crate::ids::{ChatId, MessageId, OutboxId, TenantId, VisitorId, WebhookCallId};
use crate::message::Message;
use crate::operator::OperatorActor;
use crate::outbox::{OutboxEntry, OutboxStatus};
use crate::services::{Deps, WriteTxn};
use crate::tenant::Tenant;
use crate::usage::Metric;
use crate::visitor::VisitorActor;
use crate::visitor::service::{Issued, insert_mail_tokens};

use super::rows;
use super::state::{Availability, OutboxState, Reach};
use super::webhook::store_webhooks;
use super::{
    CONTEXT_MESSAGES, Channel, Claim, Completion, DeliveryRecord, DeliveryStatus, MAX_LOG,
    MailLinks, MailTokens, Outcome, UnreadBatch,
};

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
        self.claim_with(id, lease, None).await
    }

    /// As [`Self::claim`], the batch's mail links made in the claim's transaction when the
    /// visitor has an address (the batch's `tokens`).
    pub async fn claim_for_mail(
        &self,
        id: OutboxId,
        lease: Duration,
        links: MailLinks,
    ) -> CoreResult<Claim> {
        self.claim_with(id, lease, Some(links)).await
    }

    async fn claim_with(
        &self,
        id: OutboxId,
        lease: Duration,
        links: Option<MailLinks>,
    ) -> CoreResult<Claim> {
        let now = self.deps.clock.now();
        let Some(row) = outbox::Entity::find_by_id(id).one(&self.deps.db).await? else {
            return Ok(Claim::Settled);
        };
        // Most early or repeated calls end here, without taking the (single, on SQLite) write
        // lock; the answer is asked again under the lock below.
        if let Some(answer) = unavailable(&row, now) {
            return Ok(answer);
        }
        let txn = self.deps.write().await?;
        // The chat row is the one lock every change to a chat's delivery state takes first, so
        // claimers of different rows of one chat queue instead of deadlocking.
        let chat_row = lock_chat(&txn, row.tenant_id, row.chat_id).await?;
        let Some(row) = outbox::Entity::find_by_id(id).one(&txn).await? else {
            return Ok(Claim::Settled);
        };
        if let Some(answer) = unavailable(&row, now) {
            return Ok(answer);
        }
        let tenant = row.tenant_id;
        let rows = outbox::Entity::find()
            .filter(outbox::Column::ChatId.eq(row.chat_id))
            .filter(outbox::Column::TenantId.eq(tenant))
            .filter(rows::stage_columns().joining_batch(now))
            .lock_exclusive()
            .all(&txn)
            .await?
            .into_iter()
            .filter(|r| rows::state_of(r).stage().joins_batch(now))
            .collect::<Vec<_>>();
        let messages = message::Entity::find()
            .filter(message::Column::Id.is_in(rows.iter().map(|r| r.message_id)))
            .filter(message::Column::TenantId.eq(tenant))
            .order_by_asc(message::Column::Seq)
            .all(&txn)
            .await?;
        let visitor_row = visitor::Entity::find_by_id(chat_row.visitor_id)
            .filter(visitor::Column::TenantId.eq(tenant))
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("visitor"))?;
        let reach = reach_of(&visitor_row);

        // Decide each row from the facts, then store what was decided.
        let unread: Vec<message::Model> = messages
            .into_iter()
            .filter(|m| {
                // A reply its operator deleted is not mailed: it settles as if read.
                m.read_by_visitor_at.is_none() && m.emailed_at.is_none() && m.deleted_at.is_none()
            })
            .collect();
        let decided: Vec<(OutboxId, OutboxState)> = rows
            .iter()
            .map(|r| {
                let is_unread = unread.iter().any(|m| m.id == r.message_id);
                (r.id, OutboxState::taken(is_unread, reach, now, lease))
            })
            .collect();
        let claimed: Vec<&outbox::Model> = rows
            .iter()
            .zip(&decided)
            .filter(|(_, (_, state))| matches!(state, OutboxState::Claimed { .. }))
            .map(|(row, _)| row)
            .collect();
        let claim_until = decided.iter().find_map(|(_, state)| match state {
            OutboxState::Claimed { until } => Some(*until),
            _ => None,
        });
        let skipped = decided.iter().find_map(|(_, state)| match state {
            OutboxState::Skipped { reason } => Some(reason.clone()),
            _ => None,
        });
        let attempt = claimed.iter().map(|r| r.attempts).max().unwrap_or(0) + 1;
        let outbox_ids: Vec<OutboxId> = claimed.iter().map(|r| r.id).collect();
        rows::store_each(&txn, tenant, decided, now).await?;
        if let Some(reason) = skipped {
            let unread_ids: Vec<MessageId> = unread.iter().map(|m| m.id).collect();
            let line = LogLine {
                channel: Channel::Email,
                recipient: visitor_row.email.as_deref(),
                status: DeliveryStatus::Skipped,
                reason: Some(&reason),
                messages: &unread_ids,
            };
            record(&txn, owner(&chat_row), line, now).await?;
            txn.commit().await?;
            return Ok(Claim::Skipped(reason));
        }
        let Some(claim_until) = claim_until else {
            // Every reply was read (or mailed) since its row was written.
            txn.commit().await?;
            return Ok(Claim::Settled);
        };
        let tokens = match (links, visitor_row.email.as_deref()) {
            (Some(links), Some(address)) => {
                let issued = Issued {
                    visitor: visitor_row.id,
                    chat: chat_row.id,
                    sent_to: Some(address),
                    now,
                };
                let (resume, reply) =
                    insert_mail_tokens(&txn, tenant, &issued, links.resume_for, links.reply)
                        .await?;
                Some(MailTokens { resume, reply })
            }
            _ => None,
        };
        txn.commit().await?;
        let batch = self
            .batch_context(chat_row, visitor_row, unread, outbox_ids, attempt)
            .await?;
        Ok(Claim::Batch(Box::new(UnreadBatch {
            claimed_until: claim_until,
            tokens,
            ..batch
        })))
    }

    /// Records how a claimed batch went (an [`Outcome`], or a [`Completion`] with the webhook
    /// posts its plugin chose, stored in the same transaction). Returns the stored posts to
    /// schedule, or `None` when the claim had expired and another worker took the batch over
    /// (nothing is recorded then).
    pub async fn complete(
        &self,
        batch: &UnreadBatch,
        completion: impl Into<Completion>,
    ) -> CoreResult<Option<Vec<WebhookCallId>>> {
        let Completion {
            outcome,
            webhooks,
            skipped,
        } = completion.into();
        let now = self.deps.clock.now();
        let tenant = batch.tenant.id;
        let ids: Vec<MessageId> = batch.messages.iter().map(|m| m.id).collect();
        let txn = self.deps.write().await?;
        let chat_row = lock_chat(&txn, tenant, batch.chat).await?;
        let rows = outbox::Entity::find()
            .filter(outbox::Column::Id.is_in(batch.outbox.clone()))
            .filter(outbox::Column::TenantId.eq(tenant))
            .all(&txn)
            .await?;
        let decided: Vec<(OutboxId, OutboxState)> = rows
            .iter()
            .filter_map(|r| {
                let next = rows::state_of(r).completed(batch.claimed_until, &outcome)?;
                Some((r.id, next))
            })
            .collect();
        if decided.is_empty() {
            return Ok(None);
        }
        // The outcome's writes in one round trip (see `WriteTxn::run_together`); the webhook
        // posts a plugin chose, seldom any, after them.
        let backend = txn.get_database_backend();
        let mut statements = rows::stored_each(backend, tenant, decided, now);
        let emailed = matches!(
            outcome,
            Outcome::Sent {
                channel: Channel::Email,
                ..
            }
        );
        if emailed {
            let update = message::Entity::update_many()
                .col_expr(message::Column::EmailedAt, Expr::value(now.millis()))
                .filter(message::Column::Id.is_in(ids.clone()))
                .filter(message::Column::TenantId.eq(tenant))
                .filter(message::Column::EmailedAt.is_null());
            statements.push(update.build(backend));
        }
        let (channel, recipient, status, reason) = log_entry(&outcome);
        let line = LogLine {
            channel,
            recipient: recipient.as_deref(),
            status,
            reason: reason.as_deref(),
            messages: &ids,
        };
        statements.push(logged(backend, owner(&chat_row), line, now));
        for (channel, reason) in &skipped {
            let line = LogLine {
                channel: *channel,
                recipient: None,
                status: DeliveryStatus::Skipped,
                reason: Some(reason),
                messages: &ids,
            };
            statements.push(logged(backend, owner(&chat_row), line, now));
        }
        txn.run_together(statements).await?;
        let webhooks = store_webhooks(&txn, owner(&chat_row), &ids, &webhooks, None, now).await?;
        txn.commit().await?;
        let counted = match outcome {
            Outcome::Sent {
                channel: Channel::Email,
                ..
            } => Some(Metric::MailsSent),
            Outcome::Failed {
                channel: Channel::Email,
                ..
            } => Some(Metric::MailsFailed),
            _ => None,
        };
        if let Some(metric) = counted {
            self.deps.count(tenant, metric, 1);
        }
        if emailed {
            self.announce_emailed(tenant, chat_row.visitor_id, &ids)
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
        Ok(UnreadBatch {
            outbox,
            attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
            ..batch_of(&self.deps.db, chat_row, visitor_row, unread).await?
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

/// The batch of `unread` replies of a chat as a channel is given it (not claimed: no outbox
/// rows, a first attempt), with the messages before them and the replying operator's name.
pub(crate) async fn batch_of(
    db: &impl ConnectionTrait,
    chat_row: chat::Model,
    visitor_row: visitor::Model,
    unread: Vec<message::Model>,
) -> CoreResult<UnreadBatch> {
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
        outbox: Vec::new(),
        attempt: 1,
        claimed_until: Timestamp::from_millis(0),
        tokens: None,
    })
}

/// The visitor has just left an address: replies skipped for want of one, and still unread, are
/// due again now. Returns the revived rows, for [`schedule_revived`] once the write commits.
pub(crate) async fn revive_for_new_address(
    txn: &WriteTxn,
    actor: &VisitorActor,
    now: Timestamp,
) -> CoreResult<Vec<OutboxEntry>> {
    let Some(chat) = chat_row_of_visitor(txn, actor.tenant, actor.visitor).await? else {
        return Ok(Vec::new());
    };
    lock_chat(txn, actor.tenant, chat.id).await?;
    let skipped = outbox::Entity::find()
        .filter(outbox::Column::ChatId.eq(chat.id))
        .filter(outbox::Column::TenantId.eq(actor.tenant))
        .filter(outbox::Column::Status.eq(OutboxStatus::Skipped))
        .all(txn)
        .await?;
    if skipped.is_empty() {
        return Ok(Vec::new());
    }
    let unread: Vec<MessageId> = message::Entity::find()
        .select_only()
        .column(message::Column::Id)
        .filter(message::Column::Id.is_in(skipped.iter().map(|r| r.message_id)))
        .filter(message::Column::TenantId.eq(actor.tenant))
        .filter(message::Column::ReadByVisitorAt.is_null())
        .filter(message::Column::EmailedAt.is_null())
        .into_tuple()
        .all(txn)
        .await?;
    let mut decided = Vec::new();
    let mut revived = Vec::new();
    for row in skipped {
        let unread = unread.contains(&row.message_id);
        if let Some(next @ OutboxState::Scheduled { due_at, .. }) =
            rows::state_of(&row).address_given(unread, now)
        {
            decided.push((row.id, next));
            revived.push(OutboxEntry {
                due_at,
                ..OutboxEntry::from(row)
            });
        }
    }
    rows::store_each(txn, actor.tenant, decided, now).await?;
    Ok(revived)
}

/// The visitor has seen the operator's replies up to `seq`: their waiting notifications
/// settle as read.
pub(crate) async fn settle_read(
    txn: &WriteTxn,
    tenant: TenantId,
    chat: ChatId,
    seq: i64,
    now: Timestamp,
) -> CoreResult<()> {
    let read = message::Entity::find()
        .select_only()
        .column(message::Column::Id)
        .filter(message::Column::ChatId.eq(chat))
        .filter(message::Column::TenantId.eq(tenant))
        .filter(message::Column::Author.eq(crate::message::Author::Operator))
        .filter(message::Column::Seq.lte(seq))
        .into_query();
    let waiting = outbox::Entity::find()
        .filter(outbox::Column::ChatId.eq(chat))
        .filter(outbox::Column::TenantId.eq(tenant))
        .filter(outbox::Column::Status.eq(OutboxStatus::Pending))
        .filter(outbox::Column::MessageId.in_subquery(read))
        .all(txn)
        .await?;
    let decided = waiting
        .iter()
        .filter_map(|r| Some((r.id, rows::state_of(r).read_by_visitor()?)))
        .collect();
    rows::store_each(txn, tenant, decided, now).await
}

/// Hands revived rows to the scheduler; one it cannot take is left to the sweep.
pub(crate) async fn schedule_revived(deps: &Deps, revived: &[OutboxEntry]) {
    for entry in revived {
        if let Err(e) = deps.scheduler.schedule(entry).await {
            tracing::warn!(error = %e, "revived notification left to the sweep");
        }
    }
}

/// The answer to a claim when the row is not to be taken now.
fn unavailable(row: &outbox::Model, now: Timestamp) -> Option<Claim> {
    match rows::state_of(row).stage().availability(now) {
        Availability::Take => None,
        Availability::NotDue(at) => Some(Claim::NotDue(at)),
        Availability::Busy => Some(Claim::Busy),
        Availability::Settled => Some(Claim::Settled),
    }
}

fn reach_of(visitor: &visitor::Model) -> Reach {
    if visitor.emails_stopped {
        Reach::Stopped
    } else if visitor.email.is_none() {
        Reach::NoAddress
    } else {
        Reach::Address
    }
}

/// The delivery log's line for an outcome: channel, recipient, status and reason.
fn log_entry(outcome: &Outcome) -> (Channel, Option<String>, DeliveryStatus, Option<String>) {
    match outcome {
        Outcome::Sent { channel, recipient } => (
            *channel,
            Some(recipient.clone()),
            DeliveryStatus::Sent,
            None,
        ),
        Outcome::Skipped { channel, reason } => (
            *channel,
            None,
            DeliveryStatus::Skipped,
            Some(reason.clone()),
        ),
        Outcome::Retry {
            channel,
            recipient,
            reason,
            at,
        } => (
            *channel,
            recipient.clone(),
            DeliveryStatus::Failed,
            Some(format!("{reason}; retrying at {at}")),
        ),
        Outcome::Failed {
            channel,
            recipient,
            reason,
        } => (
            *channel,
            recipient.clone(),
            DeliveryStatus::Failed,
            Some(format!("{reason}; given up")),
        ),
    }
}

/// Whose a chat's log lines are.
fn owner(chat: &chat::Model) -> (TenantId, ChatId, VisitorId) {
    (chat.tenant_id, chat.id, chat.visitor_id)
}

/// Takes the chat's row lock (see [`DeliveryService::claim`]).
pub(crate) async fn lock_chat(
    txn: &WriteTxn,
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

/// One line of the delivery log, before it is written.
pub(super) struct LogLine<'a> {
    pub channel: Channel,
    pub recipient: Option<&'a str>,
    pub status: DeliveryStatus,
    pub reason: Option<&'a str>,
    pub messages: &'a [MessageId],
}

pub(super) async fn record(
    txn: &WriteTxn,
    owner: (TenantId, ChatId, VisitorId),
    line: LogLine<'_>,
    now: Timestamp,
) -> CoreResult<()> {
    txn.execute_raw(logged(txn.get_database_backend(), owner, line, now))
        .await?;
    Ok(())
}

/// The statement that writes a line of the delivery log, to run with the rest of a write.
fn logged(
    backend: DbBackend,
    owner: (TenantId, ChatId, VisitorId),
    line: LogLine<'_>,
    now: Timestamp,
) -> Statement {
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
    .build(backend)
}
