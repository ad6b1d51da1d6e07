//! Routing an alert, once: a worker claims it, asks the tenant's plugins where it goes, and
//! completes it — the workspace is told, the digests of operators not online are scheduled and
//! the webhooks stored, in one transaction.

use std::time::Duration;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Order, Query, SimpleExpr};
use sea_orm::{Condition, ConnectionTrait, QueryOrder, QuerySelect};

use crate::automation::DialogContext;
use crate::clock::Timestamp;
use crate::delivery::{NewWebhook, store_webhooks};
use crate::entity::{alert_digest, alert_digest_item, operator_alert, user, visitor};
use crate::error::{CoreError, CoreResult};
use crate::events::DomainEvent;
use crate::ids::{AlertId, PluginId, PushSendId, UserId, WebhookCallId};
use crate::operator::OperatorStatus;
use crate::services::WriteTxn;

use super::{AlertService, OperatorAlert, digest_interval};

/// Where an alert goes, as a tenant's plugin chose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlertRoute {
    /// Tandem's own alert: the workspace, and the email digest for operators not online.
    Operators,
    /// A JSON document posted, signed, to one of the tenant's webhook URLs.
    Webhook { url: String, body: String },
    /// Not through this route; the reason is kept with the alert.
    Skip { reason: String },
}

/// The routes a tenant's plugin chose, and which plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChosenAlertRoutes {
    pub routes: Vec<AlertRoute>,
    pub plugin: PluginId,
}

/// A claimed alert: what the plugins are told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertToRoute {
    pub alert: OperatorAlert,
    pub ctx: DialogContext,
    /// The claim's end; it also identifies the claim when completing it.
    pub claimed_until: Timestamp,
}

/// What routing an alert stored, due now: for the caller to queue (the sweep finds them
/// otherwise).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoutedAlert {
    pub webhooks: Vec<WebhookCallId>,
    /// One per subscribed browser of the tenant's operators.
    pub pushes: Vec<PushSendId>,
}

/// What claiming an alert found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlertClaim {
    /// Route it, then [`AlertService::complete_routing`].
    Route(Box<AlertToRoute>),
    /// Another worker is routing it right now.
    Busy,
    /// Routed already, or never stored.
    Settled,
}

impl AlertService {
    /// Alerts not routed yet, whose claim (if any) ran out, raised at least `older_than` ago
    /// (a fresh one is its job's): for the sweep.
    pub async fn unrouted(&self, older_than: Duration, limit: u64) -> CoreResult<Vec<AlertId>> {
        let now = self.deps.clock.now();
        let raised_before = now.saturating_sub(older_than).millis();
        let now = now.millis();
        Ok(operator_alert::Entity::find()
            .select_only()
            .column(operator_alert::Column::Id)
            .filter(operator_alert::Column::RoutedAt.is_null())
            .filter(operator_alert::Column::CreatedAt.lte(raised_before))
            .filter(
                Condition::any()
                    .add(operator_alert::Column::ClaimedUntil.is_null())
                    .add(operator_alert::Column::ClaimedUntil.lt(now)),
            )
            .order_by_asc(operator_alert::Column::CreatedAt)
            .limit(limit)
            .into_tuple()
            .all(&self.deps.db)
            .await?)
    }

    /// Claims alert `id` for `lease`; safe from any number of workers at once.
    pub async fn claim_routing(&self, id: AlertId, lease: Duration) -> CoreResult<AlertClaim> {
        let now = self.deps.clock.now();
        let claimed_until = now.saturating_add(lease);
        let taken = operator_alert::Entity::update_many()
            .col_expr(
                operator_alert::Column::ClaimedUntil,
                Expr::value(claimed_until.millis()),
            )
            .filter(operator_alert::Column::Id.eq(id))
            .filter(operator_alert::Column::RoutedAt.is_null())
            .filter(
                Condition::any()
                    .add(operator_alert::Column::ClaimedUntil.is_null())
                    .add(operator_alert::Column::ClaimedUntil.lt(now.millis())),
            )
            .exec(&self.deps.db)
            .await?;
        let Some(row) = operator_alert::Entity::find_by_id(id)
            .one(&self.deps.db)
            .await?
        else {
            return Ok(AlertClaim::Settled);
        };
        if taken.rows_affected == 0 {
            return Ok(if row.routed_at.is_some() {
                AlertClaim::Settled
            } else {
                AlertClaim::Busy
            });
        }
        let visitor = visitor::Entity::find_by_id(row.visitor_id)
            .filter(visitor::Column::TenantId.eq(row.tenant_id))
            .one(&self.deps.db)
            .await?
            .ok_or(CoreError::NotFound("visitor"))?;
        let ctx =
            DialogContext::load(&self.deps.db, row.tenant_id, row.chat_id, &visitor, now).await?;
        Ok(AlertClaim::Route(Box::new(AlertToRoute {
            alert: OperatorAlert::from_row(&row, visitor.name.clone()),
            ctx,
            claimed_until,
        })))
    }

    /// Routes a claimed alert as `chosen` says (`None`: to the operators). Returns the webhook
    /// posts and browser pushes stored, due now, for the caller to queue; nothing when the
    /// claim was lost.
    pub async fn complete_routing(
        &self,
        claim: &AlertToRoute,
        chosen: Option<ChosenAlertRoutes>,
    ) -> CoreResult<RoutedAlert> {
        let now = self.deps.clock.now();
        let alert = &claim.alert;
        let tenant = claim.ctx.tenant;
        let (routes, plugin) = match chosen {
            Some(chosen) => (chosen.routes, Some(chosen.plugin)),
            None => (vec![super::AlertRoute::Operators], None),
        };
        let mut to_operators = false;
        let mut posts = Vec::new();
        let mut notes = Vec::new();
        for route in routes {
            match route {
                AlertRoute::Operators => to_operators = true,
                AlertRoute::Webhook { url, body } => posts.push(NewWebhook { url, body, plugin }),
                AlertRoute::Skip { reason } => notes.push(format!("skipped: {reason}")),
            }
        }
        let txn = self.deps.write().await?;
        let settled = operator_alert::Entity::update_many()
            .col_expr(operator_alert::Column::RoutedAt, Expr::value(now.millis()))
            .col_expr(
                operator_alert::Column::ClaimedUntil,
                Expr::value(None::<i64>),
            )
            .col_expr(
                operator_alert::Column::ToOperators,
                Expr::value(to_operators),
            )
            .col_expr(
                operator_alert::Column::Note,
                Expr::value((!notes.is_empty()).then(|| notes.join("; "))),
            )
            .filter(operator_alert::Column::Id.eq(alert.id))
            .filter(operator_alert::Column::TenantId.eq(tenant))
            .filter(operator_alert::Column::RoutedAt.is_null())
            .filter(operator_alert::Column::ClaimedUntil.eq(claim.claimed_until.millis()))
            .exec(&txn)
            .await?;
        if settled.rows_affected == 0 {
            return Ok(RoutedAlert::default());
        }
        let owner = (tenant, alert.chat_id, claim.ctx.visitor);
        let occasion = format!("alert {}", alert.id);
        let webhooks = store_webhooks(&txn, owner, &[], &posts, Some(&occasion), now).await?;
        let mut pushes = Vec::new();
        if to_operators {
            schedule_digests(&txn, tenant, alert.id, now).await?;
            pushes = crate::push::queue_for_alert(&txn, tenant, alert, now).await?;
        }
        txn.commit().await?;
        if to_operators {
            self.deps.publish(DomainEvent::OperatorAlert {
                tenant,
                alert: alert.clone(),
            });
        }
        Ok(RoutedAlert { webhooks, pushes })
    }
}

/// Puts the alert into the next digest of each of the tenant's operators who is not online
/// (those online have the workspace's alert). A digest already pending carries it; otherwise
/// one is due now, or an interval after the last. A few statements whatever the number of
/// operators, each taking rows in the same order (two alerts routed at once wait, not deadlock).
async fn schedule_digests(
    txn: &WriteTxn,
    tenant: crate::ids::TenantId,
    alert: AlertId,
    now: Timestamp,
) -> CoreResult<()> {
    let Some(interval) = digest_interval(txn, tenant).await? else {
        return Ok(());
    };
    let interval = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
    let away = |extra: Vec<SimpleExpr>| {
        let mut select = Query::select();
        select.column(user::Column::Id);
        for value in extra {
            select.expr(value);
        }
        select
            .from(user::Entity)
            .and_where(user::Column::TenantId.eq(tenant))
            .and_where(user::Column::Active.eq(true))
            .and_where(user::Column::Status.ne(OperatorStatus::Online))
            .and_where(user::Column::AlertDigests.eq(true))
            .order_by(user::Column::Id, Order::Asc)
            .to_owned()
    };
    let digests = Query::insert()
        .into_table(alert_digest::Entity)
        .columns([
            alert_digest::Column::UserId,
            alert_digest::Column::TenantId,
            alert_digest::Column::Attempts,
        ])
        .select_from(away(vec![Expr::value(tenant), Expr::value(0)]))
        .map_err(|e| CoreError::Storage(sea_orm::DbErr::Custom(e.to_string())))?
        .on_conflict(
            OnConflict::column(alert_digest::Column::UserId)
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    txn.execute(&digests).await?;
    let items = Query::insert()
        .into_table(alert_digest_item::Entity)
        .columns([
            alert_digest_item::Column::UserId,
            alert_digest_item::Column::AlertId,
            alert_digest_item::Column::TenantId,
            alert_digest_item::Column::CreatedAt,
        ])
        .select_from(away(vec![
            Expr::value(alert),
            Expr::value(tenant),
            Expr::value(now.millis()),
        ]))
        .map_err(|e| CoreError::Storage(sea_orm::DbErr::Custom(e.to_string())))?
        .on_conflict(
            OnConflict::columns([
                alert_digest_item::Column::UserId,
                alert_digest_item::Column::AlertId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .to_owned();
    txn.execute(&items).await?;
    let theirs = Query::select()
        .column(alert_digest_item::Column::UserId)
        .from(alert_digest_item::Entity)
        .and_where(alert_digest_item::Column::AlertId.eq(alert))
        .to_owned();
    // The rows in order first; then one statement, so that a digest being completed at this
    // moment either sees the item above or leaves a due time this sets.
    alert_digest::Entity::find()
        .select_only()
        .column(alert_digest::Column::UserId)
        .filter(alert_digest::Column::UserId.in_subquery(theirs.clone()))
        .order_by_asc(alert_digest::Column::UserId)
        .lock_exclusive()
        .into_tuple::<UserId>()
        .all(txn)
        .await?;
    let (due, last) = (
        alert_digest::Column::DueAt,
        alert_digest::Column::LastSentAt,
    );
    let next = Expr::case(Expr::col(due).is_not_null(), Expr::col(due))
        .case(Expr::col(last).is_null(), Expr::value(now.millis()))
        .case(
            Expr::col(last).add(interval).lte(now.millis()),
            Expr::value(now.millis()),
        )
        .finally(Expr::col(last).add(interval));
    alert_digest::Entity::update_many()
        .col_expr(due, next.into())
        .filter(alert_digest::Column::UserId.in_subquery(theirs))
        .exec(txn)
        .await?;
    Ok(())
}
