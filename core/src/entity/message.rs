use sea_orm::entity::prelude::*;

use crate::ids::{ChatId, MessageId, TenantId, UserId};
use crate::message::{Author, MessageChannel};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: MessageId,
    pub tenant_id: TenantId,
    pub chat_id: ChatId,
    /// Position in the dialog, from 1; read marks say "up to seq N".
    pub seq: i64,
    pub author: Author,
    pub operator_id: Option<UserId>,
    pub body: String,
    pub client_id: Option<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub read_by_visitor_at: Option<i64>,
    pub read_by_operator_at: Option<i64>,
    pub emailed_at: Option<i64>,
    pub channel: MessageChannel,
    /// A reply by email: the quoted history cut from it.
    pub quoted: Option<String>,
    /// A reply by email from someone other than the visitor.
    pub mail_from: Option<String>,
    /// The file the message carries, as the API shows it (JSON).
    pub attachment: Option<String>,
    /// When its author deleted it (file messages only); the body and file are gone then.
    pub deleted_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
