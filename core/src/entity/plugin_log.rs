use sea_orm::entity::prelude::*;

use crate::ids::{PluginId, PluginLogId, TenantId};

/// One line of a plugin's log: what it printed, and every failure of a call.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plugin_logs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: PluginLogId,
    pub tenant_id: TenantId,
    pub plugin_id: PluginId,
    pub level: String,
    pub hook: Option<String>,
    pub message: String,
    pub at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
