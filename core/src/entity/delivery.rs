use sea_orm::entity::prelude::*;

use crate::delivery::{Channel, DeliveryStatus};
use crate::ids::{ChatId, TenantId, VisitorId};

/// One line of the delivery log: a batch of unread replies sent, skipped or failed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub chat_id: ChatId,
    pub visitor_id: VisitorId,
    pub channel: Channel,
    pub recipient: Option<String>,
    pub status: DeliveryStatus,
    pub reason: Option<String>,
    /// The messages of the batch, as a JSON array of ids.
    pub message_ids: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
