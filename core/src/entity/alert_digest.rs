use sea_orm::entity::prelude::*;

use crate::ids::{TenantId, UserId};

/// One operator's email digest of alerts: what it has covered and when the next is due.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_digests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: UserId,
    pub tenant_id: TenantId,
    /// A digest is waiting to go at this time; none: nothing is pending.
    pub due_at: Option<i64>,
    /// While a worker sends it.
    pub claimed_until: Option<i64>,
    pub last_sent_at: Option<i64>,
    /// Failed sends in a row.
    pub attempts: i32,
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
