use sea_orm::entity::prelude::*;

use crate::ids::{ChatId, ReplyWaitId, TenantId, UserId};

/// A visitor's wait for an answer: from the message that starts it to the operator's reply
/// that ends it (or the close that drops it).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reply_waits")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ReplyWaitId,
    pub tenant_id: TenantId,
    pub chat_id: ChatId,
    pub started_at: i64,
    /// An operator was online when it started: only such waits say how fast the team answers
    /// while it is there.
    pub staffed: bool,
    pub ended_at: Option<i64>,
    /// Who answered; none while it runs, or when a close ended it unanswered.
    pub answered_by: Option<UserId>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
