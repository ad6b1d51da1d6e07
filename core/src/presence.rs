//! Presence: a visitor is on the site while at least one widget connection of theirs is open.
//!
//! Each connection is a row with the node that holds it and a heartbeat, so several server nodes
//! can share presence. When the last connection closes the visitor stays online for the tenant's
//! grace period (a page change is not a departure); [`PresenceService::expire`], run
//! periodically, then moves them and their chat offline. Connections whose node stopped
//! heartbeating are dropped by the same sweep, so no visitor stays online forever.
//!
//! Every change to a visitor's presence runs in one transaction that locks the visitor row, so a
//! connect racing an expiry cannot leave the visitor marked offline while connected.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, PaginatorTrait, QuerySelect};

use crate::chat::{Chat, chat_row_of_visitor, store_status};
use crate::clock::Timestamp;
use crate::entity::{tenant, visitor, visitor_connection};
use crate::error::{CoreError, CoreResult};
use crate::events::DomainEvent;
use crate::ids::{ConnectionId, TenantId, VisitorId};
use crate::services::{Deps, WriteTxn};
use crate::tenant::parse_settings;
use crate::visitor::VisitorActor;

/// How many departures one sweep handles; the next sweep takes the rest.
const SWEEP_BATCH: u64 = 1000;

#[derive(Clone)]
pub struct PresenceService {
    deps: Arc<Deps>,
}

impl PresenceService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    /// A widget connection opened on `node`.
    pub async fn connect(&self, actor: &VisitorActor, node: &str) -> CoreResult<ConnectionId> {
        let now = self.deps.clock.now();
        let id = ConnectionId::new();
        let txn = self.deps.write().await?;
        let row = lock_visitor(&txn, actor.tenant, actor.visitor).await?;
        visitor_connection::Entity::insert(visitor_connection::ActiveModel {
            id: Set(id),
            tenant_id: Set(actor.tenant),
            visitor_id: Set(actor.visitor),
            node_id: Set(node.to_owned()),
            connected_at: Set(now.millis()),
            heartbeat_at: Set(now.millis()),
        })
        .exec_without_returning(&txn)
        .await?;
        let arrived = !row.online;
        let mut update = visitor::Entity::update_many()
            .col_expr(visitor::Column::Online, Expr::value(true))
            .col_expr(visitor::Column::LeavingAt, Expr::value(Option::<i64>::None))
            .col_expr(visitor::Column::LastSeenAt, Expr::value(now.millis()));
        // Coming to the site after leaving it (the grace period over) is a new visit.
        if arrived {
            update = update
                .col_expr(
                    visitor::Column::Visits,
                    Expr::col(visitor::Column::Visits).add(1),
                )
                .col_expr(visitor::Column::VisitStartedAt, Expr::value(now.millis()));
        }
        update
            .filter(visitor::Column::Id.eq(actor.visitor))
            .exec(&txn)
            .await?;
        let chat = if arrived {
            set_chat_presence(&txn, &row, true, now).await?
        } else {
            None
        };
        txn.commit().await?;
        if arrived {
            self.announce(actor.tenant, actor.visitor, true, chat);
        }
        Ok(id)
    }

    /// A widget connection closed. If it was the visitor's last, their grace period starts.
    pub async fn disconnect(
        &self,
        actor: &VisitorActor,
        connection: ConnectionId,
    ) -> CoreResult<()> {
        let now = self.deps.clock.now();
        let grace = self.grace(actor.tenant).await?;
        let txn = self.deps.write().await?;
        let row = lock_visitor(&txn, actor.tenant, actor.visitor).await?;
        visitor_connection::Entity::delete_many()
            .filter(visitor_connection::Column::Id.eq(connection))
            .filter(visitor_connection::Column::VisitorId.eq(actor.visitor))
            .exec(&txn)
            .await?;
        let remaining = connections_of(&txn, actor.visitor).await?;
        if remaining == 0 && row.online {
            visitor::Entity::update_many()
                .col_expr(
                    visitor::Column::LeavingAt,
                    Expr::value(now.saturating_add(grace).millis()),
                )
                .col_expr(visitor::Column::LastSeenAt, Expr::value(now.millis()))
                .filter(visitor::Column::Id.eq(actor.visitor))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        if remaining == 0 && grace.is_zero() {
            self.leave_if_due(actor.tenant, actor.visitor).await?;
        }
        Ok(())
    }

    /// The node is alive and still holds its connections.
    pub async fn heartbeat(&self, node: &str) -> CoreResult<u64> {
        let now = self.deps.clock.now();
        let txn = self.deps.write().await?;
        let result = visitor_connection::Entity::update_many()
            .col_expr(
                visitor_connection::Column::HeartbeatAt,
                Expr::value(now.millis()),
            )
            .filter(visitor_connection::Column::NodeId.eq(node))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(result.rows_affected)
    }

    /// Drops connections not heartbeated within `stale_after` and moves offline every visitor
    /// whose grace period has run out. Returns how many visitors left. Safe to run on several
    /// nodes at once.
    pub async fn expire(&self, stale_after: Duration) -> CoreResult<usize> {
        let now = self.deps.clock.now();
        let stale = visitor_connection::Entity::find()
            .filter(
                visitor_connection::Column::HeartbeatAt
                    .lt(now.saturating_sub(stale_after).millis()),
            )
            .limit(SWEEP_BATCH)
            .all(&self.deps.db)
            .await?;
        for connection in stale {
            self.drop_dead_connection(connection, now).await?;
        }
        let due: Vec<(VisitorId, TenantId)> = visitor::Entity::find()
            .select_only()
            .column(visitor::Column::Id)
            .column(visitor::Column::TenantId)
            .filter(visitor::Column::Online.eq(true))
            .filter(visitor::Column::LeavingAt.lte(now.millis()))
            .limit(SWEEP_BATCH)
            .into_tuple()
            .all(&self.deps.db)
            .await?;
        let mut left = 0;
        for (visitor, tenant) in due {
            if self.leave_if_due(tenant, visitor).await? {
                left += 1;
            }
        }
        Ok(left)
    }

    pub async fn is_online(&self, actor: &VisitorActor) -> CoreResult<bool> {
        let row = crate::visitor::load(&self.deps.db, actor).await?;
        Ok(row.online)
    }

    /// A connection whose node went silent: gone, with no further grace (the heartbeat timeout
    /// already gave it the benefit of the doubt).
    async fn drop_dead_connection(
        &self,
        connection: visitor_connection::Model,
        now: Timestamp,
    ) -> CoreResult<()> {
        let txn = self.deps.write().await?;
        let row = lock_visitor(&txn, connection.tenant_id, connection.visitor_id).await?;
        visitor_connection::Entity::delete_many()
            .filter(visitor_connection::Column::Id.eq(connection.id))
            .exec(&txn)
            .await?;
        if row.online && connections_of(&txn, row.id).await? == 0 {
            visitor::Entity::update_many()
                .col_expr(visitor::Column::LeavingAt, Expr::value(now.millis()))
                .filter(visitor::Column::Id.eq(row.id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Moves the visitor offline if their grace ran out and no connection came back meanwhile.
    async fn leave_if_due(&self, tenant: TenantId, visitor_id: VisitorId) -> CoreResult<bool> {
        let now = self.deps.clock.now();
        let txn = self.deps.write().await?;
        let row = lock_visitor(&txn, tenant, visitor_id).await?;
        let due = row.online && row.leaving_at.is_some_and(|t| t <= now.millis());
        if !due || connections_of(&txn, visitor_id).await? > 0 {
            return Ok(false);
        }
        visitor::Entity::update_many()
            .col_expr(visitor::Column::Online, Expr::value(false))
            .col_expr(visitor::Column::LeavingAt, Expr::value(Option::<i64>::None))
            .filter(visitor::Column::Id.eq(visitor_id))
            .exec(&txn)
            .await?;
        let chat = set_chat_presence(&txn, &row, false, now).await?;
        txn.commit().await?;
        self.announce(tenant, visitor_id, false, chat);
        Ok(true)
    }

    fn announce(&self, tenant: TenantId, visitor: VisitorId, online: bool, chat: Option<Chat>) {
        self.deps.publish(DomainEvent::PresenceChanged {
            tenant,
            visitor,
            online,
        });
        if let Some(chat) = chat {
            self.deps.publish(DomainEvent::ChatUpdated { tenant, chat });
        }
    }

    async fn grace(&self, tenant_id: TenantId) -> CoreResult<Duration> {
        let row = tenant::Entity::find_by_id(tenant_id)
            .one(&self.deps.db)
            .await?
            .ok_or(CoreError::NotFound("tenant"))?;
        Ok(parse_settings(&row.settings)?.presence_grace())
    }
}

/// Reads the visitor row for update: on PostgreSQL a row lock; on SQLite the write transaction
/// already excludes other writers.
pub(crate) async fn lock_visitor(
    txn: &WriteTxn,
    tenant: TenantId,
    id: VisitorId,
) -> CoreResult<visitor::Model> {
    visitor::Entity::find_by_id(id)
        .filter(visitor::Column::TenantId.eq(tenant))
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or(CoreError::NotFound("visitor"))
}

async fn connections_of(txn: &WriteTxn, visitor: VisitorId) -> CoreResult<u64> {
    Ok(visitor_connection::Entity::find()
        .filter(visitor_connection::Column::VisitorId.eq(visitor))
        .count(txn)
        .await?)
}

/// Moves the visitor's chat, if they have one, to the category their presence now implies.
async fn set_chat_presence(
    txn: &WriteTxn,
    visitor: &visitor::Model,
    online: bool,
    now: Timestamp,
) -> CoreResult<Option<Chat>> {
    let Some(row) = chat_row_of_visitor(txn, visitor.tenant_id, visitor.id).await? else {
        return Ok(None);
    };
    let next = row.status().with_presence(online);
    let (row, _) = store_status(txn, row, next, now).await?;
    Ok(Some(Chat::from_rows(row, visitor)))
}
