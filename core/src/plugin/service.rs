//! What tenant admins do with plugins: install one the plugins crate validated, list, enable
//! or disable, reorder, delete, read the log.

use std::sync::Arc;

use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::{IntoActiveModel, QueryOrder, QuerySelect};
use serde::Deserialize;

use super::{
    EmailPreview, LogLevel, PluginInfo, PluginLogLine, PluginStore, SettingsSchema, TrialReport,
    TrialRunner, parse_settings, scoped,
};
use crate::audit::{self, Action, Change, Target, TargetKind};
use crate::entity::{plugin, plugin_log, tenant};
use crate::error::{CoreError, CoreResult};
use crate::ids::{PluginId, TenantId};
use crate::operator::OperatorActor;
use crate::services::Deps;
use crate::tenant::parse_limits;

/// The reason a plugin installed with incomplete settings is not enabled yet.
const WAITING: &str = "waiting for its settings";

/// Whether the plugin's saved settings satisfy its schema.
fn settings_problem(row: &plugin::Model) -> Result<(), String> {
    let Some(schema) = &row.settings_schema else {
        return Ok(());
    };
    let settings = parse_settings(&row.settings)?;
    SettingsSchema::parse(schema)?.check(&settings)
}

/// A plugin that passed validation, to be installed for the admin's tenant.
#[derive(Clone, Debug)]
pub struct NewPlugin {
    pub name: String,
    pub version: String,
    pub hooks: Vec<String>,
    /// The world version the plugins crate found the component built against.
    pub world: String,
    /// The settings' JSON Schema the manifest declared (checked by the plugins crate).
    pub settings_schema: Option<String>,
    pub sha256: String,
    pub wasm: Vec<u8>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginPatch {
    pub enabled: Option<bool>,
    pub position: Option<i32>,
}

#[derive(Clone)]
pub struct PluginService {
    deps: Arc<Deps>,
    store: PluginStore,
}

impl PluginService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        let store = PluginStore::new(deps.storage.clone(), deps.clock.clone())
            .counting_into(deps.usage.clone());
        Self { deps, store }
    }

    pub(super) fn db(&self) -> &sea_orm::DatabaseConnection {
        &self.deps.db
    }

    /// The runtime's view of the same tables.
    pub fn store(&self) -> &PluginStore {
        &self.store
    }

    /// Admins only. Runs the plugin (enabled or not) on the tenant's recent real cases and
    /// reports what it would have answered, what Tandem would have done and how long it took;
    /// nothing is acted on, logged or counted.
    pub async fn trial(
        &self,
        actor: &OperatorActor,
        id: PluginId,
        runner: &dyn TrialRunner,
        preview: &dyn EmailPreview,
    ) -> CoreResult<TrialReport> {
        actor.require_admin()?;
        let plugin = self
            .store
            .for_trial(actor.tenant, id)
            .await?
            .ok_or(CoreError::NotFound("plugin"))?;
        super::trial::replay(&self.deps, actor.tenant, &plugin, runner, preview).await
    }

    /// Admins only. Installed after the tenant's other plugins, with its settings' defaults;
    /// enabled unless those defaults do not satisfy its schema (the admin fills them in first).
    pub async fn install(&self, actor: &OperatorActor, new: NewPlugin) -> CoreResult<PluginInfo> {
        actor.require_admin()?;
        let name = new.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(CoreError::invalid("name", "must be 1 to 100 characters"));
        }
        let (settings, waiting) = match &new.settings_schema {
            None => (serde_json::json!({}), None),
            Some(text) => {
                let schema = SettingsSchema::parse(text)
                    .map_err(|e| CoreError::invalid("settings_schema", e))?;
                let defaults = schema.defaults();
                let waiting = schema
                    .check(&defaults)
                    .err()
                    .map(|problem| format!("{WAITING}: {problem}"));
                (defaults, waiting)
            }
        };
        let txn = self.deps.write().await?;
        let limits = tenant::Entity::find_by_id(actor.tenant)
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("tenant"))
            .and_then(|row| parse_limits(&row.limits))?;
        let installed = plugin::Entity::find()
            .filter(plugin::Column::TenantId.eq(actor.tenant))
            .count(&txn)
            .await?;
        if installed >= u64::from(limits.plugins) {
            return Err(CoreError::LimitReached(format!(
                "this tenant may have {} plugins; delete one or ask for more",
                limits.plugins
            )));
        }
        let last: Option<i32> = plugin::Entity::find()
            .select_only()
            .column_as(plugin::Column::Position.max(), "max")
            .filter(plugin::Column::TenantId.eq(actor.tenant))
            .into_tuple::<Option<i32>>()
            .one(&txn)
            .await?
            .flatten();
        let now = self.deps.clock.now().millis();
        let row = plugin::ActiveModel {
            id: Set(PluginId::new()),
            tenant_id: Set(actor.tenant),
            name: Set(name),
            version: Set(new.version),
            hooks: Set(serde_json::to_string(&new.hooks).unwrap_or_else(|_| "[]".into())),
            world: Set(new.world),
            settings_schema: Set(new.settings_schema),
            settings: Set(settings.to_string()),
            sha256: Set(new.sha256),
            size_bytes: Set(i64::try_from(new.wasm.len()).unwrap_or(i64::MAX)),
            wasm: Set(new.wasm),
            enabled: Set(waiting.is_none()),
            position: Set(last.map_or(0, |p| p.saturating_add(1))),
            consecutive_failures: Set(0),
            disabled_reason: Set(waiting.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        self.store
            .append_log(
                &txn,
                actor.tenant,
                row.id,
                LogLevel::Info,
                None,
                waiting.as_deref().unwrap_or("uploaded and enabled"),
            )
            .await?;
        let now = self.deps.clock.now();
        record(
            &txn,
            now,
            actor,
            Action::PluginInstalled,
            (None, Some(&row)),
        )
        .await?;
        txn.commit().await?;
        Ok(row.into())
    }

    /// Admins only, in the order they run.
    pub async fn list(&self, actor: &OperatorActor) -> CoreResult<Vec<PluginInfo>> {
        actor.require_admin()?;
        Ok(plugin::Entity::find()
            .filter(plugin::Column::TenantId.eq(actor.tenant))
            .order_by_asc(plugin::Column::Position)
            .order_by_asc(plugin::Column::CreatedAt)
            .all(&self.deps.db)
            .await?
            .into_iter()
            .map(PluginInfo::from)
            .collect())
    }

    pub async fn get(&self, actor: &OperatorActor, id: PluginId) -> CoreResult<PluginInfo> {
        actor.require_admin()?;
        Ok(self.find(actor, id).await?.into())
    }

    /// Admins only. Enabling a plugin Tandem disabled clears the reason and the failure count.
    pub async fn update(
        &self,
        actor: &OperatorActor,
        id: PluginId,
        patch: PluginPatch,
    ) -> CoreResult<PluginInfo> {
        actor.require_admin()?;
        if let Some(position) = patch.position
            && !(0..=10_000).contains(&position)
        {
            return Err(CoreError::invalid(
                "position",
                "must be between 0 and 10000",
            ));
        }
        let row = self.find(actor, id).await?;
        let mut active = row.clone().into_active_model();
        let mut note = None;
        if let Some(enabled) = patch.enabled
            && enabled != row.enabled
        {
            if enabled && let Err(problem) = settings_problem(&row) {
                return Err(CoreError::invalid(
                    "enabled",
                    format!("save the plugin's settings first: {problem}"),
                ));
            }
            active.enabled = Set(enabled);
            if enabled {
                active.consecutive_failures = Set(0);
                active.disabled_reason = Set(None);
                note = Some("enabled by an admin");
            } else {
                note = Some("disabled by an admin");
            }
        }
        if let Some(position) = patch.position {
            active.position = Set(position);
        }
        active.updated_at = Set(self.deps.clock.now().millis());
        let txn = self.deps.write().await?;
        let before = current(&txn, actor.tenant, id).await?;
        let row = active.update(&txn).await?;
        if let Some(note) = note {
            self.store
                .append_log(&txn, actor.tenant, id, LogLevel::Info, None, note)
                .await?;
        }
        let now = self.deps.clock.now();
        record(
            &txn,
            now,
            actor,
            Action::PluginChanged,
            (Some(&before), Some(&row)),
        )
        .await?;
        txn.commit().await?;
        Ok(row.into())
    }

    /// Admins only: the settings the plugin's hooks receive from now on, checked against the
    /// schema it declared. A plugin waiting for its settings is enabled by the first good save.
    pub async fn save_settings(
        &self,
        actor: &OperatorActor,
        id: PluginId,
        settings: serde_json::Value,
    ) -> CoreResult<PluginInfo> {
        actor.require_admin()?;
        let value =
            parse_settings(&settings.to_string()).map_err(|e| CoreError::invalid("settings", e))?;
        let row = self.find(actor, id).await?;
        let Some(schema) = &row.settings_schema else {
            return Err(CoreError::invalid(
                "settings",
                "this plugin declares no settings",
            ));
        };
        let schema =
            SettingsSchema::parse(schema).map_err(|e| CoreError::invalid("settings", e))?;
        schema
            .check(&value)
            .map_err(|problem| CoreError::invalid("settings", problem))?;
        let waiting = !row.enabled
            && row
                .disabled_reason
                .as_deref()
                .is_some_and(|r| r.starts_with(WAITING));
        let mut active = row.into_active_model();
        active.settings = Set(value.to_string());
        if waiting {
            active.enabled = Set(true);
            active.disabled_reason = Set(None);
        }
        active.updated_at = Set(self.deps.clock.now().millis());
        let txn = self.deps.write().await?;
        let before = current(&txn, actor.tenant, id).await?;
        let row = active.update(&txn).await?;
        let note = if waiting {
            "settings saved; enabled"
        } else {
            "settings saved"
        };
        self.store
            .append_log(&txn, actor.tenant, id, LogLevel::Info, None, note)
            .await?;
        let now = self.deps.clock.now();
        record(
            &txn,
            now,
            actor,
            Action::PluginSettingsSaved,
            (Some(&before), Some(&row)),
        )
        .await?;
        txn.commit().await?;
        Ok(row.into())
    }

    /// Admins only. The plugin and its log go.
    pub async fn delete(&self, actor: &OperatorActor, id: PluginId) -> CoreResult<()> {
        actor.require_admin()?;
        let row = self.find(actor, id).await?;
        let txn = self.deps.write().await?;
        plugin_log::Entity::delete_many()
            .filter(plugin_log::Column::TenantId.eq(actor.tenant))
            .filter(plugin_log::Column::PluginId.eq(id))
            .exec(&txn)
            .await?;
        let gone = plugin::Entity::delete_many()
            .filter(scoped(actor.tenant, id))
            .exec(&txn)
            .await?;
        if gone.rows_affected > 0 {
            let now = self.deps.clock.now();
            record(&txn, now, actor, Action::PluginDeleted, (Some(&row), None)).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Whether any tenant's plugin is this module (by SHA-256): its compiled code stays while
    /// one does. Not scoped to a tenant, and answers nothing but yes or no.
    pub async fn module_in_use(&self, sha256: &str) -> CoreResult<bool> {
        let found = plugin::Entity::find()
            .filter(plugin::Column::Sha256.eq(sha256))
            .count(&self.deps.db)
            .await?;
        Ok(found > 0)
    }

    /// Admins only: the newest `limit` lines, newest first.
    pub async fn logs(
        &self,
        actor: &OperatorActor,
        id: PluginId,
        limit: u64,
    ) -> CoreResult<Vec<PluginLogLine>> {
        actor.require_admin()?;
        self.find(actor, id).await?;
        Ok(plugin_log::Entity::find()
            .filter(plugin_log::Column::TenantId.eq(actor.tenant))
            .filter(plugin_log::Column::PluginId.eq(id))
            .order_by_desc(plugin_log::Column::Id)
            .limit(limit.clamp(1, super::KEPT_LOG_LINES))
            .all(&self.deps.db)
            .await?
            .into_iter()
            .map(PluginLogLine::from)
            .collect())
    }

    async fn find(&self, actor: &OperatorActor, id: PluginId) -> CoreResult<plugin::Model> {
        plugin::Entity::find()
            .filter(scoped(actor.tenant, id))
            .one(&self.deps.db)
            .await?
            .ok_or(CoreError::NotFound("plugin"))
    }
}

/// What the audit trail keeps of a plugin: which module, whether it runs, where, and its
/// settings (whose secrets and URLs the trail hides).
fn audited(row: &plugin::Model) -> serde_json::Value {
    serde_json::json!({
        "name": row.name,
        "version": row.version,
        "sha256": row.sha256,
        "size_bytes": row.size_bytes,
        "enabled": row.enabled,
        "position": row.position,
        "settings": serde_json::from_str::<serde_json::Value>(&row.settings).unwrap_or_default(),
    })
}

/// Records `action` on a plugin in the trail, in the change's transaction: its fields as they
/// were (`before`, none for an upload) and as they are (none for a deletion), with its secret
/// settings and its URLs' paths hidden.
async fn record(
    txn: &crate::services::WriteTxn,
    now: crate::clock::Timestamp,
    actor: &OperatorActor,
    action: Action,
    (before, after): (Option<&plugin::Model>, Option<&plugin::Model>),
) -> CoreResult<()> {
    let Some(row) = after.or(before) else {
        return Ok(());
    };
    let change = match (before, after) {
        (Some(before), Some(after)) => Change::between_values(audited(before), audited(after)),
        (None, _) => Change::created(&audited(row)),
        (Some(before), None) => Change::removed(&audited(before)),
    };
    let change = change
        .with_urls_hidden()
        .with_fields_hidden("settings", &secret_settings(row));
    let target = Target::new(TargetKind::Plugin, row.id, &row.name);
    audit::record(
        txn,
        now,
        actor.into(),
        Some(actor.tenant),
        action,
        target,
        change,
    )
    .await
}

/// The plugin's row as it is in this transaction: what a change's entry compares against.
async fn current(
    txn: &crate::services::WriteTxn,
    tenant: TenantId,
    id: PluginId,
) -> CoreResult<plugin::Model> {
    plugin::Entity::find()
        .filter(scoped(tenant, id))
        .one(txn)
        .await?
        .ok_or(CoreError::NotFound("plugin"))
}

/// The settings its schema marks secret (`writeOnly`, or `format: password`): the trail shows
/// that they changed, never their values.
fn secret_settings(row: &plugin::Model) -> Vec<String> {
    let Some(schema) = row
        .settings_schema
        .as_deref()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
    else {
        return Vec::new();
    };
    let Some(properties) = schema.get("properties").and_then(|p| p.as_object()) else {
        return Vec::new();
    };
    properties
        .iter()
        .filter(|(_, property)| {
            property.get("writeOnly") == Some(&serde_json::Value::Bool(true))
                || property.get("format").and_then(|f| f.as_str()) == Some("password")
        })
        .map(|(name, _)| name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_a_schema_marks_secret_are_kept_out_of_the_trail() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "bot": { "type": "string", "writeOnly": true },
                "pin": { "type": "string", "format": "password" },
                "chat_id": { "type": "string" },
            },
        });
        let row = plugin::Model {
            id: PluginId::new(),
            tenant_id: TenantId::new(),
            name: "telegram".into(),
            version: "1.0.0".into(),
            hooks: "[]".into(),
            sha256: String::new(),
            wasm: Vec::new(),
            size_bytes: 0,
            enabled: true,
            position: 0,
            consecutive_failures: 0,
            disabled_reason: None,
            world: "0.2.0".into(),
            settings_schema: Some(schema.to_string()),
            settings: r#"{"bot": "123:abc", "pin": "0000", "chat_id": "42"}"#.into(),
            created_at: 0,
            updated_at: 0,
        };
        let mut secrets = secret_settings(&row);
        secrets.sort();
        assert_eq!(secrets, ["bot", "pin"]);
        let change = Change::created(&audited(&row)).with_fields_hidden("settings", &secrets);
        let settings = &change.after.expect("fields")["settings"];
        assert_eq!(settings["bot"], crate::audit::REDACTED);
        assert_eq!(settings["pin"], crate::audit::REDACTED);
        assert_eq!(settings["chat_id"], "42");
    }
}
