use sea_orm::entity::prelude::*;

use crate::ids::{CannedReplyId, TenantId};

/// A reply a tenant's operators insert by its shortcut.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "canned_replies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: CannedReplyId,
    pub tenant_id: TenantId,
    /// Unique in the tenant: lowercase letters, digits and `-`.
    pub shortcut: String,
    pub body: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
