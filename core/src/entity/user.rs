use sea_orm::entity::prelude::*;

use crate::ids::{AvatarId, TenantId, UserId};
use crate::operator::{OperatorStatus, Role};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub status: OperatorStatus,
    /// How many open chats the operator takes at once.
    pub capacity: i32,
    pub active: bool,
    pub created_at: i64,
    /// Alert digests come to them by email while they are not online.
    pub alert_digests: bool,
    /// Their photo's bytes in the file store; none: visitors see their initials.
    pub avatar: Option<AvatarId>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
