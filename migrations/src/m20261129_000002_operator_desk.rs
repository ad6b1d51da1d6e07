//! What an operator works with beside the dialog: internal notes (in a table of their own, so
//! that no path that reads messages for a visitor can come upon one), the tenant's canned
//! replies, and on each chat its last message's preview and how many of the visitor's
//! messages no operator has read, so that lists show both without reading messages.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Characters of a message kept as its chat's preview.
const PREVIEW_CHARS: u32 = 160;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ChatNotes::Table)
                .col(uuid(ChatNotes::Id).primary_key())
                .col(uuid(ChatNotes::TenantId))
                .col(uuid(ChatNotes::ChatId))
                .col(uuid(ChatNotes::AuthorId))
                .col(text(ChatNotes::Body))
                .col(big_integer(ChatNotes::AfterSeq))
                .col(big_integer(ChatNotes::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_chat_notes_chat")
                .table(ChatNotes::Table)
                .col(ChatNotes::ChatId)
                .col(ChatNotes::AfterSeq)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(CannedReplies::Table)
                .col(uuid(CannedReplies::Id).primary_key())
                .col(uuid(CannedReplies::TenantId))
                .col(string_len(CannedReplies::Shortcut, 32))
                .col(text(CannedReplies::Body))
                .col(big_integer(CannedReplies::CreatedAt))
                .col(big_integer(CannedReplies::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_canned_replies_shortcut")
                .table(CannedReplies::Table)
                .col(CannedReplies::TenantId)
                .col(CannedReplies::Shortcut)
                .unique()
                .to_owned(),
        )
        .await?;

        // One column per statement: SQLite alters one at a time.
        for column in [
            text_null(Chats::Preview),
            string_len_null(Chats::PreviewAuthor, 16),
            big_integer(Chats::Unread).default(0).to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Chats::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        // Existing chats: their newest message, and the visitor's messages not read yet.
        let db = m.get_connection();
        db.execute_unprepared(&format!(
            "UPDATE chats SET \
               preview = (SELECT substr(m.body, 1, {PREVIEW_CHARS}) FROM messages m \
                          WHERE m.chat_id = chats.id AND m.seq = chats.last_seq), \
               preview_author = (SELECT m.author FROM messages m \
                                 WHERE m.chat_id = chats.id AND m.seq = chats.last_seq), \
               unread = (SELECT COUNT(*) FROM messages m WHERE m.chat_id = chats.id \
                         AND m.author = 'visitor' AND m.read_by_operator_at IS NULL)"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [Chats::Unread, Chats::PreviewAuthor, Chats::Preview] {
            m.alter_table(
                Table::alter()
                    .table(Chats::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        m.drop_table(Table::drop().table(CannedReplies::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ChatNotes::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Chats {
    Table,
    Preview,
    PreviewAuthor,
    Unread,
}

#[derive(DeriveIden)]
enum ChatNotes {
    Table,
    Id,
    TenantId,
    ChatId,
    AuthorId,
    Body,
    AfterSeq,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CannedReplies {
    Table,
    Id,
    TenantId,
    Shortcut,
    Body,
    CreatedAt,
    UpdatedAt,
}
