use sea_orm::entity::prelude::*;

use crate::ids::{MessageId, TenantId};

/// An earlier text of an edited message: what it said from `written_at` until `replaced_at`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "message_edits")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub message_id: MessageId,
    pub body: String,
    pub written_at: i64,
    pub replaced_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
