//! Browsers opting in and out, and the installation's VAPID key.

use sea_orm::QueryOrder;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;

use crate::clock::Timestamp;
use crate::entity::{push_send, push_subscription};
use crate::error::{CoreError, CoreResult, is_unique_violation};
use crate::ids::PushSubscriptionId;
use crate::operator::OperatorActor;
use crate::server_key::server_key;
use crate::services::WriteTxn;

use super::{
    CheckedSubscription, NewSubscription, PushService, PushStatus, PushSubscription, not_found,
};

/// The name of the installation's VAPID key among the server's secrets.
const VAPID_KEY: &str = "vapid-private-key";
/// At most this many browsers per operator; the oldest is let go for a new one.
pub const MAX_PER_OPERATOR: usize = 10;

impl PushService {
    /// 32 random bytes, the same on every node: the VAPID key pair is derived from them.
    pub async fn vapid_secret(&self) -> CoreResult<Vec<u8>> {
        server_key(&self.deps, VAPID_KEY).await
    }

    /// Opts the operator's browser in. An endpoint already known (the same browser, maybe
    /// another operator who worked there before) now belongs to this operator, with these keys.
    pub async fn subscribe(
        &self,
        actor: &OperatorActor,
        new: &NewSubscription,
        user_agent: Option<&str>,
    ) -> CoreResult<PushSubscription> {
        let checked = CheckedSubscription::parse(new)?;
        let label = user_agent
            .and_then(crate::visitor::context::parse_agent)
            .map(|agent| format!("{} on {}", agent.browser, agent.os))
            .map(|label| crate::text::cut(&label, 90))
            .unwrap_or_else(|| "A browser".to_owned());
        let endpoint_key = crate::secret::digest(&checked.endpoint);
        let now = self.deps.clock.now();
        let row = push_subscription::Model {
            id: PushSubscriptionId::new(),
            tenant_id: actor.tenant,
            user_id: actor.user,
            endpoint: checked.endpoint,
            endpoint_key,
            p256dh: checked.p256dh,
            auth: checked.auth,
            label,
            created_at: now.millis(),
            last_sent_at: None,
            last_error: None,
        };
        // Two opt-ins of one browser at once: the second finds the first's row when it tries again.
        match self.store(actor, &row, now).await {
            Err(CoreError::Storage(e)) if is_unique_violation(&e) => {
                self.store(actor, &row, now).await?
            }
            stored => stored?,
        }
        Ok(PushSubscription::from(row))
    }

    /// Stores `row`, taking its endpoint from whoever had it and keeping the operator's newest
    /// browsers only.
    async fn store(
        &self,
        actor: &OperatorActor,
        row: &push_subscription::Model,
        now: Timestamp,
    ) -> CoreResult<()> {
        let txn = self.deps.write().await?;
        // Whoever had this browser before keeps nothing of it, pending pushes included. The
        // endpoint is the browser's own secret URL: only someone at that browser can send it.
        if let Some(before) = push_subscription::Entity::find()
            .filter(push_subscription::Column::EndpointKey.eq(&row.endpoint_key))
            .one(&txn)
            .await?
        {
            forget(&txn, &before, "the browser was opted in again", now).await?;
        }
        let mine = push_subscription::Entity::find()
            .filter(push_subscription::Column::TenantId.eq(actor.tenant))
            .filter(push_subscription::Column::UserId.eq(actor.user))
            .order_by_desc(push_subscription::Column::CreatedAt)
            .all(&txn)
            .await?;
        for old in mine.iter().skip(MAX_PER_OPERATOR - 1) {
            forget(&txn, old, "the operator opted in more browsers", now).await?;
        }
        push_subscription::Entity::insert(push_subscription::ActiveModel::from(row.clone()))
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The operator's own browsers, newest first.
    pub async fn subscriptions(&self, actor: &OperatorActor) -> CoreResult<Vec<PushSubscription>> {
        Ok(push_subscription::Entity::find()
            .filter(push_subscription::Column::TenantId.eq(actor.tenant))
            .filter(push_subscription::Column::UserId.eq(actor.user))
            .order_by_desc(push_subscription::Column::CreatedAt)
            .all(&self.deps.db)
            .await?
            .into_iter()
            .map(PushSubscription::from)
            .collect())
    }

    /// Opts one of the operator's own browsers out; its pending pushes are dropped.
    pub async fn unsubscribe(
        &self,
        actor: &OperatorActor,
        id: PushSubscriptionId,
    ) -> CoreResult<()> {
        let now = self.deps.clock.now();
        let txn = self.deps.write().await?;
        let row = push_subscription::Entity::find_by_id(id)
            .filter(push_subscription::Column::TenantId.eq(actor.tenant))
            .filter(push_subscription::Column::UserId.eq(actor.user))
            .one(&txn)
            .await?
            .ok_or_else(not_found)?;
        forget(&txn, &row, "the operator opted the browser out", now).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// Deletes a subscription, and settles its pushes not sent yet as gone.
pub(super) async fn forget(
    txn: &WriteTxn,
    row: &push_subscription::Model,
    reason: &str,
    now: Timestamp,
) -> CoreResult<()> {
    push_send::Entity::update_many()
        .col_expr(push_send::Column::Status, Expr::value(PushStatus::Gone))
        .col_expr(push_send::Column::ClaimedUntil, Expr::value(None::<i64>))
        .col_expr(push_send::Column::LastError, Expr::value(reason))
        .col_expr(push_send::Column::ProcessedAt, Expr::value(now.millis()))
        .col_expr(push_send::Column::Payload, Expr::value(""))
        .filter(push_send::Column::SubscriptionId.eq(row.id))
        .filter(push_send::Column::TenantId.eq(row.tenant_id))
        .filter(push_send::Column::Status.is_in([PushStatus::Pending, PushStatus::Sending]))
        .exec(txn)
        .await?;
    push_subscription::Entity::delete_many()
        .filter(push_subscription::Column::Id.eq(row.id))
        .filter(push_subscription::Column::TenantId.eq(row.tenant_id))
        .exec(txn)
        .await?;
    Ok(())
}

impl From<push_subscription::Model> for PushSubscription {
    fn from(row: push_subscription::Model) -> Self {
        Self {
            id: row.id,
            endpoint: row.endpoint,
            label: row.label,
            created_at: Timestamp::from_millis(row.created_at),
            last_sent_at: row.last_sent_at.map(Timestamp::from_millis),
            last_error: row.last_error,
        }
    }
}
