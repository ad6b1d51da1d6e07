//! Tenant plugins as the domain keeps them: the uploaded component, its order, whether it is
//! enabled (and why not, when Tandem turned it off), and its log. Core neither compiles nor runs
//! plugins; the plugins crate does, and reports back through [`PluginStore`].

mod health;
mod service;
mod settings;
mod store;
mod trial;

use serde::Serialize;

use crate::clock::Timestamp;
use crate::entity::{plugin, plugin_log};
use crate::ids::{PluginId, TenantId};

pub use health::PluginHealth;
pub use service::{NewPlugin, PluginPatch, PluginService};
pub use settings::{MAX_SCHEMA_BYTES, MAX_SETTINGS_BYTES, SettingsSchema, parse_settings};
pub use store::{ActivePlugin, PluginStore, TenantPlugins};
pub use trial::{
    EmailPreview, TRIAL_BUDGET, TRIAL_CASES, TrialOutcome, TrialPlugin, TrialReport, TrialRun,
    TrialRunner, Tried, Untried,
};

/// After this many failed calls in a row a plugin is disabled, and the admin told why.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 5;
/// A log line longer than this is cut.
pub const MAX_LOG_LINE: usize = 4 * 1024;
/// The newest lines kept per plugin; older ones are dropped as new ones come.
pub const KEPT_LOG_LINES: u64 = 1_000;

/// A plugin as its tenant's admins see it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PluginInfo {
    pub id: PluginId,
    pub name: String,
    pub version: String,
    pub hooks: Vec<String>,
    /// The `tandem:plugin` world version it was built against.
    pub world: String,
    /// The JSON Schema of its settings, when it declared one.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub settings_schema: Option<serde_json::Value>,
    /// The settings its hooks receive.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub settings: serde_json::Value,
    pub sha256: String,
    pub size_bytes: i64,
    pub enabled: bool,
    /// Plugins run in this order; the first with an opinion wins.
    pub position: i32,
    pub consecutive_failures: i32,
    /// Set when Tandem disabled the plugin itself.
    pub disabled_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<plugin::Model> for PluginInfo {
    fn from(row: plugin::Model) -> Self {
        Self {
            id: row.id,
            name: row.name,
            version: row.version,
            hooks: serde_json::from_str(&row.hooks).unwrap_or_default(),
            world: row.world,
            settings_schema: row
                .settings_schema
                .and_then(|s| serde_json::from_str(&s).ok()),
            settings: serde_json::from_str(&row.settings).unwrap_or_else(|_| serde_json::json!({})),
            sha256: row.sha256,
            size_bytes: row.size_bytes,
            enabled: row.enabled,
            position: row.position,
            consecutive_failures: row.consecutive_failures,
            disabled_reason: row.disabled_reason,
            created_at: Timestamp::from_millis(row.created_at),
            updated_at: Timestamp::from_millis(row.updated_at),
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// What the plugin printed.
    Output,
    /// A call that failed; the default was used.
    Error,
    /// Tandem's own notes: disabled, enabled.
    Info,
}

impl LogLevel {
    fn as_str(self) -> &'static str {
        match self {
            LogLevel::Output => "output",
            LogLevel::Error => "error",
            LogLevel::Info => "info",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "output" => LogLevel::Output,
            "error" => LogLevel::Error,
            _ => LogLevel::Info,
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PluginLogLine {
    pub at: Timestamp,
    pub level: LogLevel,
    pub hook: Option<String>,
    pub message: String,
}

impl From<plugin_log::Model> for PluginLogLine {
    fn from(row: plugin_log::Model) -> Self {
        Self {
            at: Timestamp::from_millis(row.at),
            level: LogLevel::parse(&row.level),
            hook: row.hook,
            message: row.message,
        }
    }
}

/// A plugin is found only within its tenant.
fn scoped(tenant: TenantId, id: PluginId) -> sea_orm::Condition {
    use sea_orm::ColumnTrait;
    sea_orm::Condition::all()
        .add(plugin::Column::TenantId.eq(tenant))
        .add(plugin::Column::Id.eq(id))
}

fn cut(message: &str) -> String {
    if message.len() <= MAX_LOG_LINE {
        return message.to_owned();
    }
    let mut end = MAX_LOG_LINE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}
