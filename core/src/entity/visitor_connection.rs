use sea_orm::entity::prelude::*;

use crate::ids::{ConnectionId, TenantId, VisitorId};

/// One open widget connection. The node id and heartbeat let several server nodes share presence
/// and let a dead node's connections expire.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "visitor_connections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ConnectionId,
    pub tenant_id: TenantId,
    pub visitor_id: VisitorId,
    pub node_id: String,
    pub connected_at: i64,
    pub heartbeat_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
