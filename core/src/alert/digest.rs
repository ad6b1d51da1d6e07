//! The email digest of alerts: each operator who is not online gets the alerts waiting for
//! them in one mail, at most one an interval (the tenant's `alert_digest_mins`). A worker
//! claims a due digest, mails it and completes it; a failed send is tried again.

use std::time::Duration;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{Condition, PaginatorTrait, QueryOrder, QuerySelect};

use crate::clock::Timestamp;
use crate::entity::{alert_digest, alert_digest_item, operator_alert, tenant, user};
use crate::error::CoreResult;
use crate::ids::{AlertId, TenantId, UserId};
use crate::operator::OperatorStatus;
use crate::services::WriteTxn;
use crate::tenant::parse_settings;

use super::{AlertService, OperatorAlert, chats_of, digest_interval, still_waits};

/// A digest lists at most this many alerts; the rest go in the next one.
pub const MAX_DIGEST_ALERTS: u64 = 50;

/// One alert in a digest, with who to write back to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestAlert {
    pub alert: OperatorAlert,
    pub visitor_email: Option<String>,
}

/// A claimed digest: everything the mail needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestClaim {
    pub user: UserId,
    pub tenant: TenantId,
    pub tenant_name: String,
    pub operator_name: String,
    pub operator_email: String,
    /// Oldest first; only those whose visitor still waits for an answer.
    pub alerts: Vec<DigestAlert>,
    /// Every alert the digest settles once sent (those answered since included).
    pub settles: Vec<AlertId>,
    /// The claim's end; it also identifies the claim when completing it.
    pub claimed_until: Timestamp,
    /// 1 on the first try.
    pub attempt: u32,
}

/// What claiming an operator's digest found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DigestFound {
    /// Mail it, then [`AlertService::complete_digest`].
    Send(Box<DigestClaim>),
    /// Not yet: due then.
    NotDue(Timestamp),
    /// Another worker is sending it.
    Busy,
    /// Nothing to mail: nothing is pending, the operator came online or left, or every
    /// alert's visitor has been answered. Settled.
    Nothing,
}

/// How sending a digest went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DigestOutcome {
    Sent,
    /// Failed for now: try again at `at`.
    Retry {
        reason: String,
        at: Timestamp,
    },
    /// Failed for good (the address was refused): these alerts are not mailed again.
    Failed {
        reason: String,
    },
}

impl AlertService {
    /// Operators whose digest is due (and not being sent): for the sweep.
    pub async fn due_digests(&self, limit: u64) -> CoreResult<Vec<UserId>> {
        let now = self.deps.clock.now().millis();
        Ok(alert_digest::Entity::find()
            .select_only()
            .column(alert_digest::Column::UserId)
            .filter(alert_digest::Column::DueAt.lte(now))
            .filter(
                Condition::any()
                    .add(alert_digest::Column::ClaimedUntil.is_null())
                    .add(alert_digest::Column::ClaimedUntil.lt(now)),
            )
            .order_by_asc(alert_digest::Column::DueAt)
            .limit(limit)
            .into_tuple()
            .all(&self.deps.db)
            .await?)
    }

    /// Claims `operator`'s digest for `lease` when it is due; safe from any number of
    /// workers at once (one gets it).
    pub async fn claim_digest(&self, operator: UserId, lease: Duration) -> CoreResult<DigestFound> {
        let now = self.deps.clock.now();
        let claimed_until = now.saturating_add(lease);
        let txn = self.deps.write().await?;
        // The claim is the first statement: it holds the row, so of two workers one gets it,
        // and an alert routed meanwhile waits to see what this claim leaves.
        let taken = alert_digest::Entity::update_many()
            .col_expr(
                alert_digest::Column::ClaimedUntil,
                Expr::value(claimed_until.millis()),
            )
            .filter(alert_digest::Column::UserId.eq(operator))
            .filter(alert_digest::Column::DueAt.lte(now.millis()))
            .filter(
                Condition::any()
                    .add(alert_digest::Column::ClaimedUntil.is_null())
                    .add(alert_digest::Column::ClaimedUntil.lt(now.millis())),
            )
            .exec(&txn)
            .await?;
        let Some(row) = alert_digest::Entity::find_by_id(operator).one(&txn).await? else {
            return Ok(DigestFound::Nothing);
        };
        if taken.rows_affected == 0 {
            return Ok(match row.due_at {
                None => DigestFound::Nothing,
                Some(due_at) if due_at > now.millis() => {
                    DigestFound::NotDue(Timestamp::from_millis(due_at))
                }
                Some(_) => DigestFound::Busy,
            });
        }
        let Some(mut claim) = self.digest_of(&txn, &row).await? else {
            // Nothing worth a mail among what was looked at; the rest, if any, next sweep.
            let again = pending(&txn, operator).await?.then_some(now.millis());
            set_due(&txn, operator, again).await?;
            txn.commit().await?;
            return Ok(DigestFound::Nothing);
        };
        claim.claimed_until = claimed_until;
        claim.attempt = u32::try_from(row.attempts).unwrap_or(0).saturating_add(1);
        txn.commit().await?;
        Ok(DigestFound::Send(Box::new(claim)))
    }

    /// Records how a claimed digest went; nothing when the claim was lost.
    pub async fn complete_digest(
        &self,
        claim: &DigestClaim,
        outcome: DigestOutcome,
    ) -> CoreResult<()> {
        let now = self.deps.clock.now();
        let txn = self.deps.write().await?;
        // Taking the row first: an alert routed meanwhile either is among the items counted
        // below or finds no digest pending and schedules one.
        let ours = alert_digest::Entity::update_many()
            .col_expr(alert_digest::Column::ClaimedUntil, Expr::value(None::<i64>))
            .filter(alert_digest::Column::UserId.eq(claim.user))
            .filter(alert_digest::Column::ClaimedUntil.eq(claim.claimed_until.millis()))
            .exec(&txn)
            .await?;
        if ours.rows_affected == 0 {
            return Ok(());
        }
        match outcome {
            DigestOutcome::Retry { reason, at } => {
                alert_digest::Entity::update_many()
                    .col_expr(alert_digest::Column::DueAt, Expr::value(at.millis()))
                    .col_expr(
                        alert_digest::Column::Attempts,
                        Expr::col(alert_digest::Column::Attempts).add(1),
                    )
                    .col_expr(alert_digest::Column::LastError, Expr::value(reason))
                    .filter(alert_digest::Column::UserId.eq(claim.user))
                    .exec(&txn)
                    .await?;
            }
            DigestOutcome::Sent | DigestOutcome::Failed { .. } => {
                let interval = digest_interval(&txn, claim.tenant).await?;
                let settled = alert_digest_item::Entity::delete_many()
                    .filter(alert_digest_item::Column::UserId.eq(claim.user));
                // With digests turned off meanwhile, nothing more is kept for the operator.
                let settled = match interval {
                    Some(_) => settled
                        .filter(alert_digest_item::Column::AlertId.is_in(claim.settles.clone())),
                    None => settled,
                };
                settled.exec(&txn).await?;
                let next = match (pending(&txn, claim.user).await?, interval) {
                    (true, Some(interval)) => Some(now.saturating_add(interval).millis()),
                    _ => None,
                };
                let error = match &outcome {
                    DigestOutcome::Failed { reason } => Some(reason.clone()),
                    _ => None,
                };
                alert_digest::Entity::update_many()
                    .col_expr(alert_digest::Column::DueAt, Expr::value(next))
                    .col_expr(alert_digest::Column::LastSentAt, Expr::value(now.millis()))
                    .col_expr(alert_digest::Column::Attempts, Expr::value(0))
                    .col_expr(alert_digest::Column::LastError, Expr::value(error))
                    .filter(alert_digest::Column::UserId.eq(claim.user))
                    .exec(&txn)
                    .await?;
            }
        }
        txn.commit().await?;
        Ok(())
    }

    /// The digest `row`'s operator would get now. None when there is nothing to mail: the
    /// operator is online or gone, digests are off, or no visitor of the alerts looked at
    /// still waits — those alerts are then settled.
    async fn digest_of(
        &self,
        txn: &WriteTxn,
        row: &alert_digest::Model,
    ) -> CoreResult<Option<DigestClaim>> {
        let operator = user::Entity::find_by_id(row.user_id)
            .filter(user::Column::TenantId.eq(row.tenant_id))
            .one(txn)
            .await?;
        let company = tenant::Entity::find_by_id(row.tenant_id).one(txn).await?;
        let wanted = match (&operator, &company) {
            (Some(operator), Some(company)) => {
                operator.active
                    && operator.status != OperatorStatus::Online
                    && parse_settings(&company.settings)?.alert_digest().is_some()
            }
            _ => false,
        };
        let (Some(operator), Some(company), true) = (operator, company, wanted) else {
            // Online now (the workspace shows what comes), or gone: nothing is kept for them.
            alert_digest_item::Entity::delete_many()
                .filter(alert_digest_item::Column::UserId.eq(row.user_id))
                .exec(txn)
                .await?;
            return Ok(None);
        };
        let alerts = operator_alert::Entity::find()
            .filter(operator_alert::Column::TenantId.eq(row.tenant_id))
            .filter(
                operator_alert::Column::Id.in_subquery(
                    Query::select()
                        .column(alert_digest_item::Column::AlertId)
                        .from(alert_digest_item::Entity)
                        .and_where(alert_digest_item::Column::UserId.eq(row.user_id))
                        .to_owned(),
                ),
            )
            .order_by_asc(operator_alert::Column::CreatedAt)
            .limit(MAX_DIGEST_ALERTS)
            .all(txn)
            .await?;
        let settles: Vec<AlertId> = alerts.iter().map(|a| a.id).collect();
        let chats = chats_of(txn, row.tenant_id, &alerts).await?;
        // An alert whose visitor has been answered since needs nobody's attention.
        let waiting: Vec<DigestAlert> = alerts
            .iter()
            .filter_map(|alert| {
                let (chat, visitor) = chats.get(&alert.chat_id)?;
                still_waits(chat).then(|| DigestAlert {
                    alert: OperatorAlert::from_row(
                        alert,
                        visitor.as_ref().and_then(|v| v.name.clone()),
                    ),
                    visitor_email: visitor.as_ref().and_then(|v| v.email.clone()),
                })
            })
            .collect();
        if waiting.is_empty() {
            alert_digest_item::Entity::delete_many()
                .filter(alert_digest_item::Column::UserId.eq(row.user_id))
                .filter(alert_digest_item::Column::AlertId.is_in(settles))
                .exec(txn)
                .await?;
            return Ok(None);
        }
        Ok(Some(DigestClaim {
            user: operator.id,
            tenant: row.tenant_id,
            tenant_name: company.name,
            operator_name: operator.name,
            operator_email: operator.email,
            alerts: waiting,
            settles,
            claimed_until: Timestamp::from_millis(0),
            attempt: 1,
        }))
    }
}

/// Whether alerts wait for the operator's next digest.
async fn pending(txn: &WriteTxn, operator: UserId) -> CoreResult<bool> {
    Ok(alert_digest_item::Entity::find()
        .filter(alert_digest_item::Column::UserId.eq(operator))
        .count(txn)
        .await?
        > 0)
}

async fn set_due(txn: &WriteTxn, operator: UserId, due_at: Option<i64>) -> CoreResult<()> {
    alert_digest::Entity::update_many()
        .col_expr(alert_digest::Column::DueAt, Expr::value(due_at))
        .col_expr(alert_digest::Column::ClaimedUntil, Expr::value(None::<i64>))
        .filter(alert_digest::Column::UserId.eq(operator))
        .exec(txn)
        .await?;
    Ok(())
}

/// The operator wants no digests: the one waiting for them, and its alerts, go.
pub(crate) async fn drop_digest(txn: &WriteTxn, tenant: TenantId, user: UserId) -> CoreResult<()> {
    alert_digest_item::Entity::delete_many()
        .filter(alert_digest_item::Column::UserId.eq(user))
        .filter(alert_digest_item::Column::TenantId.eq(tenant))
        .exec(txn)
        .await?;
    alert_digest::Entity::delete_many()
        .filter(alert_digest::Column::UserId.eq(user))
        .filter(alert_digest::Column::TenantId.eq(tenant))
        .exec(txn)
        .await?;
    Ok(())
}
