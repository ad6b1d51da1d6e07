//! Outbox rows as [`OutboxState`]s: what a stored row says, and how a decided state is
//! stored. The decisions themselves are `state.rs`'s.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{DbBackend, QueryTrait, Statement, UpdateMany};

use crate::clock::Timestamp;
use crate::entity::outbox;
use crate::error::CoreResult;
use crate::ids::{OutboxId, TenantId};
use crate::outbox::OutboxStatus;
use crate::storage::WriteTxn;

use super::state::{OutboxState, StageColumns};

pub(crate) fn state_of(row: &outbox::Model) -> OutboxState {
    let reason = || row.last_error.clone().unwrap_or_default();
    match row.status {
        OutboxStatus::Pending => OutboxState::Scheduled {
            due_at: Timestamp::from_millis(row.due_at),
            after: row.last_error.clone(),
        },
        OutboxStatus::Sending => OutboxState::Claimed {
            until: Timestamp::from_millis(row.claimed_until.unwrap_or(0)),
        },
        OutboxStatus::Read => OutboxState::Read,
        OutboxStatus::Sent => OutboxState::Sent,
        OutboxStatus::Skipped => OutboxState::Skipped { reason: reason() },
        OutboxStatus::Failed => OutboxState::Failed { reason: reason() },
    }
}

/// Where the outbox keeps the lease part of its state.
pub(crate) fn stage_columns() -> StageColumns<outbox::Column> {
    StageColumns {
        status: outbox::Column::Status,
        due_at: outbox::Column::DueAt,
        claimed_until: outbox::Column::ClaimedUntil,
        scheduled: OutboxStatus::Pending.into(),
        claimed: OutboxStatus::Sending.into(),
    }
}

/// The statement that moves the tenant's rows `ids` to `state` (none for no rows). The caller
/// holds the chat's lock and has decided the move from the rows as they are under it.
fn stored(
    backend: DbBackend,
    tenant: TenantId,
    ids: Vec<OutboxId>,
    state: &OutboxState,
    now: Timestamp,
) -> Option<Statement> {
    if ids.is_empty() {
        return None;
    }
    let none = || Expr::value(Option::<i64>::None);
    let update = outbox::Entity::update_many()
        .filter(outbox::Column::Id.is_in(ids))
        .filter(outbox::Column::TenantId.eq(tenant));
    let update = match state {
        OutboxState::Scheduled { due_at, after } => update
            .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Pending))
            .col_expr(outbox::Column::DueAt, Expr::value(due_at.millis()))
            .col_expr(outbox::Column::ClaimedUntil, none())
            .col_expr(outbox::Column::ProcessedAt, none())
            .col_expr(outbox::Column::LastError, Expr::value(after.clone())),
        OutboxState::Claimed { until } => update
            .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Sending))
            .col_expr(outbox::Column::ClaimedUntil, Expr::value(until.millis()))
            .col_expr(
                outbox::Column::Attempts,
                Expr::col(outbox::Column::Attempts).add(1),
            ),
        OutboxState::Read => settle(update, OutboxStatus::Read, None, now),
        OutboxState::Sent => settle(update, OutboxStatus::Sent, None, now),
        OutboxState::Skipped { reason } => {
            settle(update, OutboxStatus::Skipped, Some(reason.clone()), now)
        }
        OutboxState::Failed { reason } => {
            settle(update, OutboxStatus::Failed, Some(reason.clone()), now)
        }
    };
    Some(update.build(backend))
}

fn settle(
    update: UpdateMany<outbox::Entity>,
    status: OutboxStatus,
    reason: Option<String>,
    now: Timestamp,
) -> UpdateMany<outbox::Entity> {
    update
        .col_expr(outbox::Column::Status, Expr::value(status))
        .col_expr(outbox::Column::ProcessedAt, Expr::value(now.millis()))
        .col_expr(
            outbox::Column::ClaimedUntil,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(outbox::Column::LastError, Expr::value(reason))
}

/// Stores each row's decided state, one statement per distinct state.
pub(crate) async fn store_each(
    txn: &WriteTxn,
    tenant: TenantId,
    decided: Vec<(OutboxId, OutboxState)>,
    now: Timestamp,
) -> CoreResult<()> {
    let statements = stored_each(txn.get_database_backend(), tenant, decided, now);
    txn.run_together(statements).await?;
    Ok(())
}

/// The statements that store each row's decided state, one per distinct state, to run with
/// the rest of a write.
pub(crate) fn stored_each(
    backend: DbBackend,
    tenant: TenantId,
    decided: Vec<(OutboxId, OutboxState)>,
    now: Timestamp,
) -> Vec<Statement> {
    let mut groups: Vec<(OutboxState, Vec<OutboxId>)> = Vec::new();
    for (id, state) in decided {
        match groups.iter_mut().find(|(s, _)| *s == state) {
            Some((_, ids)) => ids.push(id),
            None => groups.push((state, vec![id])),
        }
    }
    groups
        .into_iter()
        .filter_map(|(state, ids)| stored(backend, tenant, ids, &state, now))
        .collect()
}
