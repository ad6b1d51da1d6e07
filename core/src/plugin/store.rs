//! What the plugin runtime needs from storage, by tenant id: the enabled plugins in order,
//! their bytes, and where to report calls. Built from the database alone, so the runtime can
//! exist before the services that use it as a port.

use std::sync::Arc;

use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use super::trial::TrialPlugin;
use super::{KEPT_LOG_LINES, LogLevel, cut, scoped};
use crate::clock::Clock;
use crate::entity::{plugin, plugin_log, tenant};
use crate::error::CoreResult;
use crate::ids::{PluginId, PluginLogId, TenantId};
use crate::storage::{Storage, WriteTxn};
use crate::tenant::parse_limits;
use crate::usage::{Metric, UsageMeter};

/// An enabled plugin, without its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivePlugin {
    pub id: PluginId,
    pub tenant: TenantId,
    pub name: String,
    pub sha256: String,
    pub hooks: Vec<String>,
    pub consecutive_failures: i32,
    /// The settings its hooks receive: a JSON object, as text.
    pub settings: String,
}

impl ActivePlugin {
    pub fn implements(&self, hook: &str) -> bool {
        self.hooks.iter().any(|h| h == hook)
    }
}

/// A tenant's enabled plugins in order, with the limits their calls run under.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantPlugins {
    pub plugins: Vec<ActivePlugin>,
    pub timeout_ms: u32,
    pub memory_mib: u32,
}

#[derive(Clone)]
pub struct PluginStore {
    storage: Storage,
    clock: Arc<dyn Clock>,
    /// Where failed calls are counted (the process's meter, see [`Self::counting_into`]).
    usage: UsageMeter,
}

impl PluginStore {
    /// Over the same `Storage` as the services of this process (see [`crate::Tandem::new`]).
    pub fn new(storage: Storage, clock: Arc<dyn Clock>) -> Self {
        Self {
            storage,
            clock,
            usage: UsageMeter::default(),
        }
    }

    /// Failed calls are counted into `usage` (give it the meter of the process's [`Ports`](
    /// crate::Ports)).
    pub fn counting_into(mut self, usage: UsageMeter) -> Self {
        self.usage = usage;
        self
    }

    /// The tenant's enabled plugins, in their order, and its plugin limits. An unknown
    /// tenant has none.
    pub async fn enabled(&self, tenant: TenantId) -> CoreResult<TenantPlugins> {
        let Some(row) = tenant::Entity::find_by_id(tenant)
            .one(self.storage.reader())
            .await?
        else {
            return Ok(TenantPlugins::default());
        };
        let limits = parse_limits(&row.limits)?;
        let rows: Vec<(PluginId, String, String, String, i32, String)> = plugin::Entity::find()
            .select_only()
            .column(plugin::Column::Id)
            .column(plugin::Column::Name)
            .column(plugin::Column::Sha256)
            .column(plugin::Column::Hooks)
            .column(plugin::Column::ConsecutiveFailures)
            .column(plugin::Column::Settings)
            .filter(plugin::Column::TenantId.eq(tenant))
            .filter(plugin::Column::Enabled.eq(true))
            .order_by_asc(plugin::Column::Position)
            .order_by_asc(plugin::Column::CreatedAt)
            .into_tuple()
            .all(self.storage.reader())
            .await?;
        Ok(TenantPlugins {
            plugins: rows
                .into_iter()
                .map(
                    |(id, name, sha256, hooks, consecutive_failures, settings)| ActivePlugin {
                        id,
                        tenant,
                        name,
                        sha256,
                        hooks: serde_json::from_str(&hooks).unwrap_or_default(),
                        consecutive_failures,
                        settings,
                    },
                )
                .collect(),
            timeout_ms: limits.plugin_timeout_ms,
            memory_mib: limits.plugin_memory_mib,
        })
    }

    /// One plugin of the tenant, enabled or not, with the tenant's plugin limits: what a trial
    /// runs.
    pub async fn for_trial(
        &self,
        tenant: TenantId,
        id: PluginId,
    ) -> CoreResult<Option<TrialPlugin>> {
        let Some(row) = tenant::Entity::find_by_id(tenant)
            .one(self.storage.reader())
            .await?
        else {
            return Ok(None);
        };
        let limits = parse_limits(&row.limits)?;
        let Some(plugin) = plugin::Entity::find()
            .filter(scoped(tenant, id))
            .one(self.storage.reader())
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(TrialPlugin {
            plugin: ActivePlugin {
                id: plugin.id,
                tenant,
                name: plugin.name,
                sha256: plugin.sha256,
                hooks: serde_json::from_str(&plugin.hooks).unwrap_or_default(),
                consecutive_failures: plugin.consecutive_failures,
                settings: plugin.settings,
            },
            timeout_ms: limits.plugin_timeout_ms,
            memory_mib: limits.plugin_memory_mib,
        }))
    }

    /// The uploaded bytes of a plugin of this tenant.
    pub async fn wasm(&self, tenant: TenantId, id: PluginId) -> CoreResult<Option<Vec<u8>>> {
        Ok(plugin::Entity::find()
            .filter(scoped(tenant, id))
            .one(self.storage.reader())
            .await?
            .map(|row| row.wasm))
    }

    /// A call that worked after failures: the run of failures is over.
    pub async fn record_success(&self, tenant: TenantId, id: PluginId) -> CoreResult<()> {
        let txn = self.storage.write().await?;
        plugin::Entity::update_many()
            .col_expr(plugin::Column::ConsecutiveFailures, Expr::value(0))
            .filter(scoped(tenant, id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// A call that failed: logged, counted, and at `threshold` failures in a row the plugin is
    /// disabled with the reason, all in one transaction. Answers whether this call disabled it.
    pub async fn record_failure(
        &self,
        tenant: TenantId,
        id: PluginId,
        hook: &str,
        reason: &str,
        threshold: u32,
    ) -> CoreResult<bool> {
        let txn = self.storage.write().await?;
        self.append_log(&txn, tenant, id, LogLevel::Error, Some(hook), reason)
            .await?;
        plugin::Entity::update_many()
            .col_expr(
                plugin::Column::ConsecutiveFailures,
                Expr::col(plugin::Column::ConsecutiveFailures).add(1),
            )
            .filter(scoped(tenant, id))
            .exec(&txn)
            .await?;
        let now = self.clock.now().millis();
        let disabled_reason = format!(
            "disabled after {threshold} failed calls in a row; the last: {hook} {}",
            cut(reason)
        );
        let disabled = plugin::Entity::update_many()
            .col_expr(plugin::Column::Enabled, Expr::value(false))
            .col_expr(
                plugin::Column::DisabledReason,
                Expr::value(disabled_reason.clone()),
            )
            .col_expr(plugin::Column::UpdatedAt, Expr::value(now))
            .filter(scoped(tenant, id))
            .filter(plugin::Column::Enabled.eq(true))
            .filter(
                plugin::Column::ConsecutiveFailures
                    .gte(i32::try_from(threshold).unwrap_or(i32::MAX)),
            )
            .exec(&txn)
            .await?
            .rows_affected
            > 0;
        if disabled {
            self.append_log(&txn, tenant, id, LogLevel::Info, None, &disabled_reason)
                .await?;
        }
        txn.commit().await?;
        self.usage
            .add(tenant, self.clock.now(), Metric::PluginFailures, 1);
        Ok(disabled)
    }

    /// Appends a line to the plugin's log, keeping the newest [`KEPT_LOG_LINES`].
    pub async fn log(
        &self,
        tenant: TenantId,
        id: PluginId,
        level: LogLevel,
        hook: Option<&str>,
        message: &str,
    ) -> CoreResult<()> {
        let txn = self.storage.write().await?;
        self.append_log(&txn, tenant, id, level, hook, message)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    pub(crate) async fn append_log(
        &self,
        txn: &WriteTxn,
        tenant: TenantId,
        id: PluginId,
        level: LogLevel,
        hook: Option<&str>,
        message: &str,
    ) -> CoreResult<()> {
        let line_id = PluginLogId::new();
        plugin_log::Entity::insert(plugin_log::ActiveModel {
            id: Set(line_id),
            tenant_id: Set(tenant),
            plugin_id: Set(id),
            level: Set(level.as_str().to_owned()),
            hook: Set(hook.map(str::to_owned)),
            message: Set(cut(message)),
            at: Set(self.clock.now().millis()),
        })
        .exec_without_returning(txn)
        .await?;
        // Ids are time-ordered: everything older than the newest KEPT_LOG_LINES goes. Cheap
        // enough to do now and then rather than on every line.
        if line_id.as_uuid().as_u128().is_multiple_of(64) {
            trim_log(txn, tenant, id).await?;
        }
        Ok(())
    }
}

async fn trim_log(txn: &impl ConnectionTrait, tenant: TenantId, id: PluginId) -> CoreResult<()> {
    let oldest_kept: Option<PluginLogId> = plugin_log::Entity::find()
        .select_only()
        .column(plugin_log::Column::Id)
        .filter(plugin_log::Column::TenantId.eq(tenant))
        .filter(plugin_log::Column::PluginId.eq(id))
        .order_by_desc(plugin_log::Column::Id)
        .offset(KEPT_LOG_LINES - 1)
        .limit(1)
        .into_tuple()
        .one(txn)
        .await?;
    if let Some(oldest) = oldest_kept {
        plugin_log::Entity::delete_many()
            .filter(plugin_log::Column::TenantId.eq(tenant))
            .filter(plugin_log::Column::PluginId.eq(id))
            .filter(plugin_log::Column::Id.lt(oldest))
            .exec(txn)
            .await?;
    }
    Ok(())
}
