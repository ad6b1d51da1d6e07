use sea_orm::entity::prelude::*;

use crate::ids::{ChatId, TenantId, VisitorId};

/// The secret in an email link that brings a visitor back to one dialog. Only its SHA-256 is kept.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "resume_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub visitor_id: VisitorId,
    pub chat_id: ChatId,
    pub token_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// The address the link was mailed to; following it confirms that address.
    pub sent_to: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
