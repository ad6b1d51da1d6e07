use sea_orm::entity::prelude::*;

use crate::ids::{ChatId, ChatRatingId, TenantId, UserId, VisitorId};
use crate::rating::Rating;

/// A visitor's rating of a conversation an operator closed: once per close.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chat_ratings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ChatRatingId,
    pub tenant_id: TenantId,
    pub chat_id: ChatId,
    pub visitor_id: VisitorId,
    /// The operator the chat was assigned to when it was rated, whom the rating counts for.
    pub operator_id: Option<UserId>,
    /// The close it rates.
    pub closed_at: i64,
    pub rating: Rating,
    pub comment: Option<String>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
