use sea_orm::entity::prelude::*;

use crate::ids::{PluginId, TenantId};

/// A tenant's plugin: the uploaded component and its state.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plugins")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: PluginId,
    pub tenant_id: TenantId,
    pub name: String,
    pub version: String,
    /// JSON list of hook names.
    pub hooks: String,
    pub sha256: String,
    pub wasm: Vec<u8>,
    pub size_bytes: i64,
    pub enabled: bool,
    pub position: i32,
    pub consecutive_failures: i32,
    pub disabled_reason: Option<String>,
    /// The `tandem:plugin` world version the component was built against.
    pub world: String,
    /// The JSON Schema of the plugin's settings, as it declared it.
    pub settings_schema: Option<String>,
    /// The settings, a JSON object (`{}` for a plugin without settings).
    pub settings: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
