//! The unread-reply outbox and the ports that schedule and time it.
//!
//! Storing an operator reply writes an outbox row in the same transaction: "notify the visitor
//! about this message at `due_at` unless they have read it". The [`NotificationScheduler`] port
//! (the worker crate's delayed jobs) queues its job in that transaction too when its queue lives
//! in the same database, so a reply commits once; otherwise core hands it the row after the
//! commit. If that enqueue is lost, the row is still there for a sweep to find with
//! [`OutboxService::due`].

use std::sync::Arc;
use std::time::Duration;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{OnConflict, Query, SelectStatement, TableRef};
use sea_orm::{Condition, DbBackend, PaginatorTrait, QueryOrder, QuerySelect, Statement};
use serde::Serialize;

pub use crate::automation::DialogContext;
use crate::clock::Timestamp;
use crate::entity::outbox;
use crate::error::CoreResult;
use crate::ids::{
    AlertId, ChatId, ExportId, MessageId, OutboxId, TenantId, TranscriptId, WebhookCallId,
};
use crate::services::Deps;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Waiting for its time.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// The visitor read the message first; nothing will be sent.
    #[sea_orm(string_value = "read")]
    Read,
    #[sea_orm(string_value = "sent")]
    Sent,
    /// Nothing could be sent (e.g. no address); the delivery log says why.
    #[sea_orm(string_value = "skipped")]
    Skipped,
    /// A worker has claimed it and is delivering it (until `claimed_until`).
    #[sea_orm(string_value = "sending")]
    Sending,
    /// Delivery failed for good (e.g. the address was refused); the delivery log says why.
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// What the scheduler needs to enqueue one notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: OutboxId,
    pub tenant: TenantId,
    pub chat: ChatId,
    pub message: MessageId,
    pub due_at: Timestamp,
}

impl From<outbox::Model> for OutboxEntry {
    fn from(row: outbox::Model) -> Self {
        Self {
            id: row.id,
            tenant: row.tenant_id,
            chat: row.chat_id,
            message: row.message_id,
            due_at: Timestamp::from_millis(row.due_at),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("could not schedule the unread-reply notification: {0}")]
pub struct ScheduleError(pub String);

/// A queue's row for a job, which core inserts in the write of a reply (see
/// [`NotificationScheduler::enqueue_with_row`]): its values are selected from the reply's chat
/// as the write leaves it, so that a reply not written (refused, or written the long way after
/// all) queues nothing.
#[derive(Clone, Debug)]
pub struct JobRow {
    pub table: TableRef,
    pub columns: Vec<&'static str>,
    /// Each column's value, in order.
    pub values: Vec<Expr>,
    /// What a row the queue holds already makes of this one.
    pub on_conflict: Option<OnConflict>,
}

impl JobRow {
    /// The row's insert, its values selected from `with`: one row, or none.
    pub(crate) fn inserted_from(
        &self,
        backend: DbBackend,
        mut with: SelectStatement,
    ) -> CoreResult<Statement> {
        let mut insert = Query::insert()
            .into_table(self.table.clone())
            .columns(self.columns.iter().copied())
            .select_from(with.exprs(self.values.iter().cloned()).to_owned())
            .map_err(|e| DbErr::Custom(e.to_string()))?
            .to_owned();
        if let Some(on_conflict) = &self.on_conflict {
            insert.on_conflict(on_conflict.clone());
        }
        Ok(backend.build(&insert))
    }
}

/// Enqueues the delayed notification for an outbox row: in the transaction that writes the row
/// when the queue can ([`Self::enqueue_with_row`]), after the commit otherwise.
#[async_trait::async_trait]
pub trait NotificationScheduler: Send + Sync + 'static {
    async fn schedule(&self, entry: &OutboxEntry) -> Result<(), ScheduleError>;

    /// The queue's row that makes sure a job covering `entry` is queued (one may stand for many
    /// rows), inserted in the write of its outbox row, for a queue kept in the data's own
    /// database on `backend`: the row and its job then commit together, one durable commit per
    /// reply, with no second write that could be lost in between. `None` (a queue elsewhere, or
    /// none) has core call [`Self::schedule`] after the commit.
    fn enqueue_with_row(&self, _backend: DbBackend, _entry: &OutboxEntry) -> Option<JobRow> {
        None
    }

    /// Enqueues a stored webhook post, due now. Without a queue the sweep posts it.
    async fn schedule_webhook(&self, _id: WebhookCallId) -> Result<(), ScheduleError> {
        Ok(())
    }

    /// Enqueues the routing of an alert just raised, due now. Without a queue the sweep routes
    /// it.
    async fn schedule_alert(&self, _id: AlertId) -> Result<(), ScheduleError> {
        Ok(())
    }

    /// Enqueues a transcript a visitor asked for, due now. Without a queue the sweep mails it.
    async fn schedule_transcript(&self, _id: TranscriptId) -> Result<(), ScheduleError> {
        Ok(())
    }

    /// Enqueues the build of an export just asked for, due now. Without a queue the sweep
    /// builds it.
    async fn schedule_export(&self, _id: ExportId) -> Result<(), ScheduleError> {
        Ok(())
    }
}

/// For a process that runs no scheduler of its own: the outbox row is the whole record and a
/// sweep over [`OutboxService::due`] delivers it.
#[derive(Clone, Copy, Debug, Default)]
pub struct LeaveToSweep;

#[async_trait::async_trait]
impl NotificationScheduler for LeaveToSweep {
    async fn schedule(&self, _entry: &OutboxEntry) -> Result<(), ScheduleError> {
        Ok(())
    }
}

/// How long an operator reply may stay unread before it goes to the visitor's email.
#[async_trait::async_trait]
pub trait OfflineTimeoutPolicy: Send + Sync + 'static {
    async fn offline_timeout(&self, ctx: &DialogContext) -> Duration;
}

/// The default: the tenant's setting.
#[derive(Clone, Copy, Debug, Default)]
pub struct TenantTimeoutSetting;

#[async_trait::async_trait]
impl OfflineTimeoutPolicy for TenantTimeoutSetting {
    async fn offline_timeout(&self, ctx: &DialogContext) -> Duration {
        ctx.tenant_timeout
    }
}

/// The policy's answer, or the tenant's setting when it takes longer than
/// [`crate::automation::HOOK_WAIT`], as for the other questions put to a tenant's plugins while
/// someone waits: an operator's reply is never held up by a plugin.
pub async fn bounded_timeout(policy: &dyn OfflineTimeoutPolicy, ctx: &DialogContext) -> Duration {
    let asked = async { Some(policy.offline_timeout(ctx).await) };
    crate::automation::within_wait("offline_timeout", ctx.tenant, asked)
        .await
        .unwrap_or(ctx.tenant_timeout)
}

/// Whatever a policy answers, the delay stays within the range tenants may configure.
pub const MIN_OFFLINE_TIMEOUT: Duration = Duration::from_secs(1);
pub const MAX_OFFLINE_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

pub(crate) fn clamp_timeout(timeout: Duration) -> Duration {
    timeout.clamp(MIN_OFFLINE_TIMEOUT, MAX_OFFLINE_TIMEOUT)
}

#[derive(Clone)]
pub struct OutboxService {
    deps: Arc<Deps>,
}

impl OutboxService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    /// Rows whose time has come, oldest first: pending ones, and ones whose worker's claim ran
    /// out (it died mid-delivery). What a sweep must (re-)enqueue.
    pub async fn due(&self, limit: u64) -> CoreResult<Vec<OutboxEntry>> {
        let now = self.deps.clock.now();
        let rows = outbox::Entity::find()
            .filter(crate::delivery::outbox_stage_columns().takeable(now))
            .order_by_asc(outbox::Column::DueAt)
            .limit(limit)
            .all(&self.deps.db)
            .await?;
        Ok(rows.into_iter().map(OutboxEntry::from).collect())
    }

    /// Rows still waiting for their time that falls in `[from, until)`, in the order of their
    /// times, `limit` at a time: the page after `after` (the last row of the page before).
    /// Across all tenants, for a queue job that stands for every reply due in that window.
    pub async fn scheduled_within(
        &self,
        (from, until): (Timestamp, Timestamp),
        after: Option<&OutboxEntry>,
        limit: u64,
    ) -> CoreResult<Vec<OutboxEntry>> {
        let mut query = outbox::Entity::find()
            .filter(outbox::Column::Status.eq(OutboxStatus::Pending))
            .filter(outbox::Column::DueAt.gte(from.millis()))
            .filter(outbox::Column::DueAt.lt(until.millis()));
        if let Some(last) = after {
            let due = last.due_at.millis();
            query = query.filter(
                Condition::any().add(outbox::Column::DueAt.gt(due)).add(
                    Condition::all()
                        .add(outbox::Column::DueAt.eq(due))
                        .add(outbox::Column::Id.gt(last.id)),
                ),
            );
        }
        let rows = query
            .order_by_asc(outbox::Column::DueAt)
            .order_by_asc(outbox::Column::Id)
            .limit(limit)
            .all(&self.deps.db)
            .await?;
        Ok(rows.into_iter().map(OutboxEntry::from).collect())
    }

    /// Notifications waiting to go out: (due now or overdue, scheduled for later). Across all
    /// tenants, for the operator of the platform's metrics.
    pub async fn backlog(&self) -> CoreResult<(u64, u64)> {
        let now = self.deps.clock.now();
        let waiting = || {
            outbox::Entity::find().filter(
                Condition::any()
                    .add(outbox::Column::Status.eq(OutboxStatus::Pending))
                    .add(outbox::Column::Status.eq(OutboxStatus::Sending)),
            )
        };
        let due = waiting()
            .filter(outbox::Column::DueAt.lte(now.millis()))
            .count(&self.deps.db)
            .await?;
        let later = waiting()
            .filter(outbox::Column::DueAt.gt(now.millis()))
            .count(&self.deps.db)
            .await?;
        Ok((due, later))
    }

    /// Every row of one chat, for inspection and tests.
    pub async fn rows_of_chat(
        &self,
        tenant: TenantId,
        chat: ChatId,
    ) -> CoreResult<Vec<outbox::Model>> {
        Ok(outbox::Entity::find()
            .filter(outbox::Column::TenantId.eq(tenant))
            .filter(outbox::Column::ChatId.eq(chat))
            .order_by_asc(outbox::Column::CreatedAt)
            .all(&self.deps.db)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::VisitorId;

    #[test]
    fn policy_answers_are_clamped_to_the_allowed_range() {
        assert_eq!(clamp_timeout(Duration::ZERO), MIN_OFFLINE_TIMEOUT);
        assert_eq!(
            clamp_timeout(Duration::from_secs(300)),
            Duration::from_secs(300)
        );
        assert_eq!(
            clamp_timeout(Duration::from_secs(u64::MAX)),
            MAX_OFFLINE_TIMEOUT
        );
    }

    /// A policy that never answers in time (a tenant's plugins stuck, say).
    struct Stuck;

    #[async_trait::async_trait]
    impl OfflineTimeoutPolicy for Stuck {
        async fn offline_timeout(&self, _ctx: &DialogContext) -> Duration {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Duration::from_secs(1)
        }
    }

    #[tokio::test]
    async fn a_reply_never_waits_on_a_stuck_policy() {
        let ctx = DialogContext {
            tenant: TenantId::new(),
            tenant_slug: "acme".into(),
            chat: ChatId::new(),
            visitor: VisitorId::new(),
            visitor_name: None,
            visitor_locale: None,
            visitor_has_email: true,
            now: Timestamp::from_millis(0),
            tenant_timeout: Duration::from_secs(300),
            webhook_urls: Vec::new(),
        };
        // The tenant's own setting, after the hooks' wait rather than an hour.
        assert_eq!(
            bounded_timeout(&Stuck, &ctx).await,
            Duration::from_secs(300)
        );
    }
}
