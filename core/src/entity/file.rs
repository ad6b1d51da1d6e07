use sea_orm::entity::prelude::*;

use crate::file::FileKind;
use crate::ids::{ChatId, FileId, MessageId, TenantId, UserId, VisitorId};
use crate::message::Author;

/// A file sent in a dialog. Its bytes are in the file store under `<tenant>/<id>` (and a
/// thumbnail under `<tenant>/<id>.thumb` when `thumbnail_size` > 0).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "files")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: FileId,
    pub tenant_id: TenantId,
    pub chat_id: ChatId,
    pub message_id: MessageId,
    /// The visitor of the chat (whoever sent it), whose files a day are limited.
    pub visitor_id: VisitorId,
    pub author: Author,
    pub operator_id: Option<UserId>,
    pub name: String,
    pub content_type: String,
    pub kind: FileKind,
    pub size: i64,
    /// 0 when there is no thumbnail.
    pub thumbnail_size: i64,
    pub created_at: i64,
    /// Its message was deleted; its bytes are then removed from the store.
    pub deleted_at: Option<i64>,
    /// When its bytes were removed; the row stays, for the visitor's daily count.
    pub purged_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
