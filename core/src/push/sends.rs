//! Pushing an alert to each subscribed browser: stored with the alert's routing, then claimed,
//! sent and completed one by one, with retries, by whichever worker comes first.

use std::time::Duration;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ActiveValue::Set, Condition, QueryOrder, QuerySelect};

use crate::alert::OperatorAlert;
use crate::claim::ClaimColumns;
use crate::clock::Timestamp;
use crate::entity::{push_send, push_subscription, user};
use crate::error::CoreResult;
use crate::ids::{PushSendId, PushSubscriptionId, TenantId};
use crate::services::WriteTxn;

use super::subscriptions::forget;
use super::{PushPayload, PushService, PushStatus};

/// A claimed push: everything the worker needs to encrypt and send it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushToSend {
    pub id: PushSendId,
    pub tenant: TenantId,
    pub subscription: PushSubscriptionId,
    pub endpoint: String,
    /// The browser's keys, base64url.
    pub p256dh: String,
    pub auth: String,
    /// The notification as JSON, in the clear.
    pub payload: String,
    /// 1 on the first try.
    pub attempt: u32,
    /// The claim's end; it also identifies the claim when completing it.
    pub claimed_until: Timestamp,
}

/// What claiming a push found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushClaim {
    /// Send it, then [`PushService::complete`].
    Send(Box<PushToSend>),
    /// Too early: try again at this time.
    NotDue(Timestamp),
    /// Another worker is sending it right now.
    Busy,
    /// Nothing to do: sent, given up, its browser gone, or never stored.
    Settled,
}

/// How one push went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// The push service took it.
    Sent,
    /// A transient failure: sent again at `at`.
    Retry { reason: String, at: Timestamp },
    /// A permanent failure, or the last attempt: given up.
    Failed { reason: String },
    /// The push service no longer knows the browser (404, 410): it is forgotten.
    Gone { reason: String },
}

/// Stores the alert's push to each browser of the tenant's active operators, due now; their
/// ids, for the caller to queue once committed.
pub(crate) async fn queue_for_alert(
    txn: &WriteTxn,
    tenant: TenantId,
    alert: &OperatorAlert,
    now: Timestamp,
) -> CoreResult<Vec<PushSendId>> {
    let active = Query::select()
        .column(user::Column::Id)
        .from(user::Entity)
        .and_where(user::Column::TenantId.eq(tenant))
        .and_where(user::Column::Active.eq(true))
        .to_owned();
    let browsers: Vec<PushSubscriptionId> = push_subscription::Entity::find()
        .select_only()
        .column(push_subscription::Column::Id)
        .filter(push_subscription::Column::TenantId.eq(tenant))
        .filter(push_subscription::Column::UserId.in_subquery(active))
        .into_tuple()
        .all(txn)
        .await?;
    if browsers.is_empty() {
        return Ok(Vec::new());
    }
    let payload = serde_json::to_string(&PushPayload::of(alert))
        .map_err(|e| sea_orm::DbErr::Custom(format!("a push payload: {e}")))?;
    let rows: Vec<push_send::ActiveModel> = browsers
        .iter()
        .map(|browser| push_send::ActiveModel {
            id: Set(PushSendId::new()),
            tenant_id: Set(tenant),
            subscription_id: Set(*browser),
            alert_id: Set(alert.id),
            payload: Set(payload.clone()),
            status: Set(PushStatus::Pending),
            attempts: Set(0),
            due_at: Set(now.millis()),
            claimed_until: Set(None),
            last_error: Set(None),
            created_at: Set(now.millis()),
            processed_at: Set(None),
        })
        .collect();
    let ids = rows
        .iter()
        .filter_map(|row| row.id.clone().take())
        .collect();
    push_send::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([
                push_send::Column::SubscriptionId,
                push_send::Column::AlertId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(ids)
}

/// Where a push's claim is kept.
const CLAIM: ClaimColumns<push_send::Column> = ClaimColumns {
    status: push_send::Column::Status,
    due_at: push_send::Column::DueAt,
    claimed_until: push_send::Column::ClaimedUntil,
};

/// Waiting and due, or in flight with a claim that ran out.
fn claimable(now: Timestamp) -> Condition {
    CLAIM.claimable(PushStatus::Pending, PushStatus::Sending, now)
}

impl PushService {
    /// Pushes due now (or whose worker died mid-send), oldest first: for the sweep.
    pub async fn due(&self, limit: u64) -> CoreResult<Vec<PushSendId>> {
        let now = self.deps.clock.now();
        Ok(push_send::Entity::find()
            .select_only()
            .column(push_send::Column::Id)
            .filter(claimable(now))
            .order_by_asc(push_send::Column::DueAt)
            .limit(limit)
            .into_tuple()
            .all(&self.deps.db)
            .await?)
    }

    /// Claims push `id` for `lease`; safe from any number of workers at once.
    pub async fn claim(&self, id: PushSendId, lease: Duration) -> CoreResult<PushClaim> {
        let now = self.deps.clock.now();
        let Some(row) = push_send::Entity::find_by_id(id).one(&self.deps.db).await? else {
            return Ok(PushClaim::Settled);
        };
        match row.status {
            PushStatus::Sent | PushStatus::Failed | PushStatus::Gone => {
                return Ok(PushClaim::Settled);
            }
            PushStatus::Pending if row.due_at > now.millis() => {
                return Ok(PushClaim::NotDue(Timestamp::from_millis(row.due_at)));
            }
            PushStatus::Sending if row.claimed_until.is_some_and(|t| t >= now.millis()) => {
                return Ok(PushClaim::Busy);
            }
            PushStatus::Pending | PushStatus::Sending => {}
        }
        let claimed_until = now.saturating_add(lease);
        let txn = self.deps.write().await?;
        let taken = push_send::Entity::update_many()
            .col_expr(push_send::Column::Status, Expr::value(PushStatus::Sending))
            .col_expr(
                push_send::Column::ClaimedUntil,
                Expr::value(claimed_until.millis()),
            )
            .col_expr(
                push_send::Column::Attempts,
                Expr::col(push_send::Column::Attempts).add(1),
            )
            .filter(push_send::Column::Id.eq(id))
            .filter(claimable(now))
            .exec(&txn)
            .await?;
        if taken.rows_affected == 0 {
            return Ok(PushClaim::Busy);
        }
        let browser = push_subscription::Entity::find_by_id(row.subscription_id)
            .filter(push_subscription::Column::TenantId.eq(row.tenant_id))
            .one(&txn)
            .await?;
        let Some(browser) = browser else {
            settle(
                &txn,
                id,
                PushStatus::Gone,
                Some("the browser opted out"),
                now,
            )
            .await?;
            txn.commit().await?;
            return Ok(PushClaim::Settled);
        };
        txn.commit().await?;
        Ok(PushClaim::Send(Box::new(PushToSend {
            id,
            tenant: row.tenant_id,
            subscription: browser.id,
            endpoint: browser.endpoint,
            p256dh: browser.p256dh,
            auth: browser.auth,
            payload: row.payload,
            attempt: u32::try_from(row.attempts + 1).unwrap_or(u32::MAX),
            claimed_until,
        })))
    }

    /// Records how a claimed push went. False when the claim had run out and another worker
    /// took the push over (nothing is recorded then).
    pub async fn complete(&self, push: &PushToSend, outcome: PushOutcome) -> CoreResult<bool> {
        let now = self.deps.clock.now();
        let txn = self.deps.write().await?;
        // Locked, so that a worker taking the push over after the lease waits for this record
        // (and then finds it settled) instead of sending it again.
        let ours = push_send::Entity::find_by_id(push.id)
            .filter(push_send::Column::TenantId.eq(push.tenant))
            .filter(CLAIM.held(PushStatus::Sending, push.claimed_until))
            .lock_exclusive()
            .one(&txn)
            .await?
            .is_some();
        if !ours {
            return Ok(false);
        }
        let browser = push_subscription::Entity::update_many()
            .filter(push_subscription::Column::Id.eq(push.subscription))
            .filter(push_subscription::Column::TenantId.eq(push.tenant));
        match outcome {
            PushOutcome::Sent => {
                settle(&txn, push.id, PushStatus::Sent, None, now).await?;
                browser
                    .col_expr(
                        push_subscription::Column::LastSentAt,
                        Expr::value(now.millis()),
                    )
                    .col_expr(
                        push_subscription::Column::LastError,
                        Expr::value(None::<String>),
                    )
                    .exec(&txn)
                    .await?;
            }
            PushOutcome::Retry { reason, at } => {
                push_send::Entity::update_many()
                    .col_expr(push_send::Column::Status, Expr::value(PushStatus::Pending))
                    .col_expr(push_send::Column::DueAt, Expr::value(at.millis()))
                    .col_expr(push_send::Column::ClaimedUntil, Expr::value(None::<i64>))
                    .col_expr(push_send::Column::LastError, Expr::value(reason))
                    .filter(push_send::Column::Id.eq(push.id))
                    .exec(&txn)
                    .await?;
            }
            PushOutcome::Failed { reason } => {
                settle(&txn, push.id, PushStatus::Failed, Some(&reason), now).await?;
                browser
                    .col_expr(push_subscription::Column::LastError, Expr::value(reason))
                    .exec(&txn)
                    .await?;
            }
            PushOutcome::Gone { reason } => {
                settle(&txn, push.id, PushStatus::Gone, Some(&reason), now).await?;
                if let Some(row) = push_subscription::Entity::find_by_id(push.subscription)
                    .filter(push_subscription::Column::TenantId.eq(push.tenant))
                    .one(&txn)
                    .await?
                {
                    forget(&txn, &row, &reason, now).await?;
                }
            }
        }
        txn.commit().await?;
        Ok(true)
    }
}

/// Ends a push's life as `status`; the visitor's words in its payload are not kept.
pub(super) async fn settle(
    txn: &WriteTxn,
    id: PushSendId,
    status: PushStatus,
    reason: Option<&str>,
    now: Timestamp,
) -> CoreResult<()> {
    push_send::Entity::update_many()
        .col_expr(push_send::Column::Status, Expr::value(status))
        .col_expr(push_send::Column::ClaimedUntil, Expr::value(None::<i64>))
        .col_expr(push_send::Column::LastError, Expr::value(reason))
        .col_expr(push_send::Column::ProcessedAt, Expr::value(now.millis()))
        .col_expr(push_send::Column::Payload, Expr::value(""))
        .filter(push_send::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}
