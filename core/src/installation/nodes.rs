//! Each process's row in `nodes`: written at start and at every heartbeat, read by the health
//! view. A process that stops beating is shown as silent, then forgotten after a day.

use std::time::Duration;

use sea_orm::ActiveValue::Set;
use sea_orm::QueryOrder;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use serde::Serialize;

use crate::clock::Timestamp;
use crate::entity::node;
use crate::error::CoreResult;

use super::InstallationService;

/// A node silent this long is removed from the list.
const FORGOTTEN_AFTER: Duration = Duration::from_secs(86_400);

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    /// `tandem serve`: the API, sockets and (embedded) notification worker.
    Serve,
    /// `tandem worker`: notifications only.
    Worker,
}

impl NodeRole {
    fn as_str(self) -> &'static str {
        match self {
            Self::Serve => "serve",
            Self::Worker => "worker",
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeInfo {
    pub id: String,
    /// `serve` or `worker`.
    pub role: String,
    pub version: String,
    pub started_at: Timestamp,
    pub heartbeat_at: Timestamp,
    /// It beat within the time after which its sockets count as gone.
    pub alive: bool,
}

impl InstallationService {
    /// This process says it is alive (and, the first time, that it started).
    pub async fn beat(&self, id: &str, role: NodeRole, started_at: Timestamp) -> CoreResult<()> {
        let now = self.deps.clock.now().millis();
        let txn = self.deps.write().await?;
        node::Entity::insert(node::ActiveModel {
            id: Set(id.to_owned()),
            role: Set(role.as_str().to_owned()),
            version: Set(env!("CARGO_PKG_VERSION").to_owned()),
            started_at: Set(started_at.millis()),
            heartbeat_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(node::Column::Id)
                .update_columns([
                    node::Column::Role,
                    node::Column::Version,
                    node::Column::StartedAt,
                    node::Column::HeartbeatAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        let forgotten = now - i64::try_from(FORGOTTEN_AFTER.as_millis()).unwrap_or(i64::MAX);
        node::Entity::delete_many()
            .filter(node::Column::HeartbeatAt.lt(forgotten))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Every process seen in the last day, newest first; `silent_after` decides which are alive.
    pub async fn nodes(&self, silent_after: Duration) -> CoreResult<Vec<NodeInfo>> {
        let now = self.deps.clock.now();
        let rows = node::Entity::find()
            .order_by_desc(node::Column::StartedAt)
            .all(&self.deps.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let heartbeat_at = Timestamp::from_millis(row.heartbeat_at);
                NodeInfo {
                    alive: now.since(heartbeat_at) <= silent_after,
                    id: row.id,
                    role: row.role,
                    version: row.version,
                    started_at: Timestamp::from_millis(row.started_at),
                    heartbeat_at,
                }
            })
            .collect())
    }
}
