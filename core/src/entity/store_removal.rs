use sea_orm::entity::prelude::*;

use crate::ids::TenantId;

/// An object the file store still has to remove (a replaced photo's bytes): retried by the
/// housekeeping until the store has done it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "store_removals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub tenant_id: TenantId,
    pub since: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
