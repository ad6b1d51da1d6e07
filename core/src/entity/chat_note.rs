use sea_orm::entity::prelude::*;

use crate::ids::{ChatId, NoteId, TenantId, UserId};

/// An operator's note in a dialog. A table apart from `messages`: whatever reads messages for
/// a visitor (the widget, mail, transcripts, plugins) cannot come upon a note.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chat_notes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: NoteId,
    pub tenant_id: TenantId,
    pub chat_id: ChatId,
    pub author_id: UserId,
    pub body: String,
    /// The `seq` of the dialog's newest message when the note was written: it is shown after it.
    pub after_seq: i64,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
