use sea_orm::entity::prelude::*;

use crate::automation::Priority;
use crate::chat::{Category, ChatState, ChatStatus};
use crate::ids::{ChatId, TenantId, UserId, VisitorId};
use crate::message::Author;
use crate::rating::Rating;

/// One dialog per visitor: every visit and channel adds to the same chat.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chats")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ChatId,
    pub tenant_id: TenantId,
    pub visitor_id: VisitorId,
    pub state: ChatState,
    /// Derived from state, assignment and presence by `ChatStatus::category`; stored so that the
    /// workspace lists are one indexed query.
    pub category: Category,
    pub visitor_online: bool,
    pub operator_id: Option<UserId>,
    /// The visitor wrote last and no operator has answered since.
    pub unanswered: bool,
    /// The `seq` of the newest message; messages are numbered 1, 2, … within a chat.
    pub last_seq: i64,
    pub created_at: i64,
    pub last_message_at: i64,
    pub closed_at: Option<i64>,
    /// Labels a tenant's plugin gave the chat: a JSON list of strings.
    pub tags: String,
    pub priority: Option<Priority>,
    /// Since when the visitor has waited for an answer (the first of their unanswered messages).
    pub waiting_since: Option<i64>,
    /// When this wait becomes a long-wait alert; none once alerted, answered, or not wanted.
    pub wait_alert_at: Option<i64>,
    /// The newest message, cut to [`crate::chat::PREVIEW_CHARS`], and who wrote it.
    pub preview: Option<String>,
    pub preview_author: Option<Author>,
    /// The visitor's messages no operator has read.
    pub unread: i64,
    /// The newest rating the visitor gave, when, and the close it rates (its `closed_at`).
    pub rating: Option<Rating>,
    pub rating_comment: Option<String>,
    pub rated_at: Option<i64>,
    pub rated_close_at: Option<i64>,
    /// When the tenant's retention last erased its content.
    pub erased_at: Option<i64>,
}

impl Model {
    pub fn status(&self) -> ChatStatus {
        ChatStatus {
            state: self.state,
            operator: self.operator_id,
            visitor_online: self.visitor_online,
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::visitor::Entity",
        from = "Column::VisitorId",
        to = "super::visitor::Column::Id"
    )]
    Visitor,
}

impl Related<super::visitor::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Visitor.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
