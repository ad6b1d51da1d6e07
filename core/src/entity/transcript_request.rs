use sea_orm::entity::prelude::*;

use crate::ids::{ChatId, TenantId, TranscriptId, VisitorId};
use crate::transcript::TranscriptStatus;

/// A visitor's request for their conversation's transcript by email.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "transcript_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: TranscriptId,
    pub tenant_id: TenantId,
    pub chat_id: ChatId,
    pub visitor_id: VisitorId,
    /// Where it goes: the visitor's address when they asked.
    pub email: String,
    pub status: TranscriptStatus,
    pub attempts: i32,
    pub due_at: i64,
    /// While `sending`: the worker's claim runs until then.
    pub claimed_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub processed_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
