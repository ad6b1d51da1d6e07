//! Raising alerts: with the offline request's own write, or from the sweep when a visitor's
//! wait reaches the tenant's limit. Either way one alert per occasion, however many nodes try.

use std::time::Duration;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ConnectionTrait, QueryOrder, QuerySelect};

use crate::chat::ChatState;
use crate::clock::Timestamp;
use crate::entity::{chat, message, operator_alert};
use crate::error::CoreResult;
use crate::ids::{AlertId, TenantId};
use crate::message::Author;
use crate::services::WriteTxn;

use super::{AlertReason, AlertService, preview_of, settings_of};

/// The tenant's long-wait alert: how long a wait that starts now may run unanswered.
pub(crate) async fn long_wait_of(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> CoreResult<Option<Duration>> {
    Ok(settings_of(db, tenant)
        .await?
        .and_then(|s| s.long_wait_alert()))
}

/// The alert of an offline request, in the request's transaction; the wait it starts (or
/// joins) needs no long-wait alert of its own.
pub(crate) async fn raise_offline_request(
    txn: &WriteTxn,
    chat: &chat::Model,
    request: &message::Model,
    now: Timestamp,
) -> CoreResult<Option<AlertId>> {
    let raised = insert(
        txn,
        chat,
        AlertReason::OfflineRequest,
        None,
        &request.body,
        &format!("offline request\n{}", request.id),
        now,
    )
    .await?;
    settle_wait(txn, chat, None).await?;
    Ok(raised)
}

impl AlertService {
    /// Raises the long-wait alerts that are due, at most `limit`, and queues their routing;
    /// returns them. A wait that ended (answered, closed) by then is only cleared.
    pub async fn raise_long_waits(&self, limit: u64) -> CoreResult<Vec<AlertId>> {
        let now = self.deps.clock.now();
        let due = chat::Entity::find()
            .filter(chat::Column::WaitAlertAt.lte(now.millis()))
            .order_by_asc(chat::Column::WaitAlertAt)
            .limit(limit)
            .all(&self.deps.db)
            .await?;
        let mut raised = Vec::new();
        for due in due {
            let txn = self.deps.write().await?;
            // Whoever clears the wait raises its alert; another node's sweep finds it gone.
            if !settle_wait(&txn, &due, due.wait_alert_at).await? {
                continue;
            }
            // The chat as it is now (closed or answered since it was read, it needs nothing),
            // and whether the tenant still wants these alerts.
            let Some(row) = chat::Entity::find_by_id(due.id).one(&txn).await? else {
                continue;
            };
            let wanted = long_wait_of(&txn, row.tenant_id).await?.is_some();
            let waiting = wanted && row.state == ChatState::Open && row.unanswered;
            if let (true, Some(since)) = (waiting, row.waiting_since) {
                let minutes = now.since(Timestamp::from_millis(since)).as_secs() / 60;
                let preview = last_visitor_text(&txn, &row).await?;
                let occasion = format!("long wait\n{}\n{since}", row.id);
                let minutes = i32::try_from(minutes).unwrap_or(i32::MAX);
                let alert = insert(
                    &txn,
                    &row,
                    AlertReason::LongWait,
                    Some(minutes),
                    &preview,
                    &occasion,
                    now,
                )
                .await?;
                raised.extend(alert);
            }
            txn.commit().await?;
        }
        for alert in &raised {
            if let Err(e) = self.deps.scheduler.schedule_alert(*alert).await {
                tracing::warn!(%alert, error = %e, "an alert is left to the sweep");
            }
        }
        Ok(raised)
    }
}

/// Clears the chat's pending long-wait alert (only if it is still `expected`, when given);
/// true when this call cleared it.
async fn settle_wait(
    txn: &WriteTxn,
    chat: &chat::Model,
    expected: Option<i64>,
) -> CoreResult<bool> {
    let mut update = chat::Entity::update_many()
        .col_expr(chat::Column::WaitAlertAt, Expr::value(None::<i64>))
        .filter(chat::Column::Id.eq(chat.id))
        .filter(chat::Column::TenantId.eq(chat.tenant_id));
    if let Some(expected) = expected {
        update = update.filter(chat::Column::WaitAlertAt.eq(expected));
    }
    Ok(update.exec(txn).await?.rows_affected > 0)
}

/// The visitor's newest message in the chat, cut for a preview.
async fn last_visitor_text(txn: &WriteTxn, chat: &chat::Model) -> CoreResult<String> {
    let body = message::Entity::find()
        .select_only()
        .column(message::Column::Body)
        .filter(message::Column::ChatId.eq(chat.id))
        .filter(message::Column::Author.eq(Author::Visitor))
        .order_by_desc(message::Column::Seq)
        .into_tuple::<String>()
        .one(txn)
        .await?;
    Ok(body.unwrap_or_default())
}

/// Stores an alert unless this occasion already has one; its id when stored.
async fn insert(
    txn: &WriteTxn,
    chat: &chat::Model,
    kind: AlertReason,
    wait_minutes: Option<i32>,
    text: &str,
    occasion: &str,
    now: Timestamp,
) -> CoreResult<Option<AlertId>> {
    let id = AlertId::new();
    let inserted = operator_alert::Entity::insert(operator_alert::ActiveModel {
        id: Set(id),
        tenant_id: Set(chat.tenant_id),
        chat_id: Set(chat.id),
        visitor_id: Set(chat.visitor_id),
        kind: Set(kind),
        wait_minutes: Set(wait_minutes),
        preview: Set(preview_of(text)),
        dedupe_key: Set(crate::secret::digest(occasion)),
        to_operators: Set(false),
        note: Set(None),
        claimed_until: Set(None),
        routed_at: Set(None),
        created_at: Set(now.millis()),
    })
    .on_conflict(
        OnConflict::columns([
            operator_alert::Column::TenantId,
            operator_alert::Column::DedupeKey,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok((inserted > 0).then_some(id))
}
