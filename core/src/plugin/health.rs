//! A tenant's plugins as the platform operator watches them: whether each runs, how often it
//! has been failing, and its latest errors. Never its settings, which are the tenant's.

use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};
use serde::Serialize;

use crate::clock::Timestamp;
use crate::entity::{plugin, plugin_log};
use crate::error::CoreResult;
use crate::ids::{PluginId, TenantId};

use super::{LogLevel, PluginLogLine, PluginService};

/// Latest errors shown per plugin.
const ERRORS_SHOWN: u64 = 3;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PluginHealth {
    pub id: PluginId,
    pub name: String,
    pub version: String,
    pub enabled: bool,
    pub consecutive_failures: i32,
    /// Set when Tandem disabled it (too many failures in a row) or it waits for settings.
    pub disabled_reason: Option<String>,
    pub updated_at: Timestamp,
    /// Its newest error lines, newest first.
    pub last_errors: Vec<PluginLogLine>,
}

impl PluginService {
    /// The tenant's plugins in their order, with their health; for the platform.
    pub async fn health_of(&self, tenant: TenantId) -> CoreResult<Vec<PluginHealth>> {
        let rows = plugin::Entity::find()
            .filter(plugin::Column::TenantId.eq(tenant))
            .order_by_asc(plugin::Column::Position)
            .order_by_asc(plugin::Column::CreatedAt)
            .all(self.db())
            .await?;
        let mut plugins = Vec::with_capacity(rows.len());
        for row in rows {
            let last_errors = plugin_log::Entity::find()
                .filter(plugin_log::Column::TenantId.eq(tenant))
                .filter(plugin_log::Column::PluginId.eq(row.id))
                .filter(plugin_log::Column::Level.eq(LogLevel::Error.as_str()))
                .order_by_desc(plugin_log::Column::Id)
                .limit(ERRORS_SHOWN)
                .all(self.db())
                .await?
                .into_iter()
                .map(PluginLogLine::from)
                .collect();
            plugins.push(PluginHealth {
                id: row.id,
                name: row.name,
                version: row.version,
                enabled: row.enabled,
                consecutive_failures: row.consecutive_failures,
                disabled_reason: row.disabled_reason,
                updated_at: Timestamp::from_millis(row.updated_at),
                last_errors,
            });
        }
        Ok(plugins)
    }
}
