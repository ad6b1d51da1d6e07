//! Internal notes: what operators write in a dialog for each other. A visitor never sees one:
//! notes live in their own table, and only the operator services read it, so the widget, mail,
//! transcripts and the tenant's plugins (which all read messages) cannot come upon a note.

mod service;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::entity::chat_note;
use crate::ids::{ChatId, NoteId, UserId};

pub use service::NoteService;
pub(crate) use service::notes_of_page;

/// A note as operators see it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub id: NoteId,
    pub chat_id: ChatId,
    pub author_id: UserId,
    pub body: String,
    /// The `seq` of the dialog's newest message when it was written: shown after that message.
    pub after_seq: i64,
    pub created_at: Timestamp,
}

impl From<chat_note::Model> for Note {
    fn from(row: chat_note::Model) -> Self {
        Self {
            id: row.id,
            chat_id: row.chat_id,
            author_id: row.author_id,
            body: row.body,
            after_seq: row.after_seq,
            created_at: Timestamp::from_millis(row.created_at),
        }
    }
}
