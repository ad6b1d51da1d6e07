//! The queues' state and the database's size, read on demand.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, DbBackend, QuerySelect, Statement};
use serde::Serialize;

use crate::delivery::WebhookStatus;
use crate::entity::{outbox, webhook_call};
use crate::error::CoreResult;
use crate::outbox::OutboxStatus;

use super::{InstallationService, NodeInfo};

/// Work waiting in one queue.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Backlog {
    /// Waiting for their time, or being delivered.
    pub waiting: u64,
    /// Whose time has come and that are not delivered yet.
    pub due: u64,
    /// How late the oldest due one is, in milliseconds (0 when none is due).
    pub oldest_due_ms: u64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InstallationHealth {
    pub nodes: Vec<NodeInfo>,
    /// Unread-reply notifications.
    pub notifications: Backlog,
    /// Webhook posts plugins routed.
    pub webhooks: Backlog,
    /// The database's size on disk, when the database says.
    pub database_bytes: Option<u64>,
}

impl InstallationService {
    /// Nodes (alive when they beat within `silent_after`), queues and the database's size.
    pub async fn health(
        &self,
        silent_after: std::time::Duration,
    ) -> CoreResult<InstallationHealth> {
        let now = self.deps.clock.now().millis();
        let db = &self.deps.db;
        let waiting = [OutboxStatus::Pending, OutboxStatus::Sending];
        let notifications = backlog(
            db,
            now,
            outbox::Entity::find().filter(outbox::Column::Status.is_in(waiting)),
            outbox::Column::DueAt,
        )
        .await?;
        let waiting = [WebhookStatus::Pending, WebhookStatus::Sending];
        let webhooks = backlog(
            db,
            now,
            webhook_call::Entity::find().filter(webhook_call::Column::Status.is_in(waiting)),
            webhook_call::Column::DueAt,
        )
        .await?;
        Ok(InstallationHealth {
            nodes: self.nodes(silent_after).await?,
            notifications,
            webhooks,
            database_bytes: database_bytes(db).await,
        })
    }
}

/// Counts over the indexed status and due time: the rows waiting, and of them the due ones.
async fn backlog<E: EntityTrait>(
    db: &impl ConnectionTrait,
    now: i64,
    waiting: Select<E>,
    due_at: E::Column,
) -> CoreResult<Backlog> {
    let total: Option<i64> = waiting
        .clone()
        .select_only()
        .column_as(due_at.count(), "n")
        .into_tuple()
        .one(db)
        .await?;
    let (due, oldest): (Option<i64>, Option<i64>) = waiting
        .filter(due_at.lte(now))
        .select_only()
        .column_as(due_at.count(), "n")
        .column_as(due_at.min(), "oldest")
        .into_tuple::<(Option<i64>, Option<i64>)>()
        .one(db)
        .await?
        .unwrap_or_default();
    let count = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
    Ok(Backlog {
        waiting: count(total),
        due: count(due),
        oldest_due_ms: count(oldest.map(|at| now - at)),
    })
}

/// PostgreSQL's `pg_database_size`, or SQLite's pages times their size.
async fn database_bytes(db: &impl ConnectionTrait) -> Option<u64> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SELECT pg_database_size(current_database()) AS bytes",
        DbBackend::Sqlite => {
            "SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()"
        }
        _ => return None,
    };
    let row = db
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .ok()??;
    let bytes: i64 = row.try_get("", "bytes").ok()?;
    u64::try_from(bytes).ok()
}
