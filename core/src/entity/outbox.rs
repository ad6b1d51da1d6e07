use sea_orm::entity::prelude::*;

use crate::ids::{ChatId, MessageId, OutboxId, TenantId};
use crate::outbox::OutboxStatus;

/// "Tell the visitor about this operator message at `due_at`, unless they have read it by then."
/// Written in the same transaction as the message, so a lost enqueue can always be recovered.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: OutboxId,
    pub tenant_id: TenantId,
    pub chat_id: ChatId,
    pub message_id: MessageId,
    pub due_at: i64,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub processed_at: Option<i64>,
    /// While `sending`: the worker that claimed the row holds it until then; after that the
    /// claim is void (the worker died) and the row may be claimed again.
    pub claimed_until: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
