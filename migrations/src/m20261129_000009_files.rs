//! Files in dialogs: each file's record in `files` (its bytes are in the file store), and on
//! its message a copy of what the API shows of it, so that reading a dialog needs no join.
//! Messages also get `deleted_at`: a file message's author may delete it. A deleted file's row
//! stays (without its bytes) so that the visitor's daily count still counts it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Files::Table)
                .col(uuid(Files::Id).primary_key())
                .col(uuid(Files::TenantId))
                .col(uuid(Files::ChatId))
                .col(uuid(Files::MessageId))
                .col(uuid(Files::VisitorId))
                .col(string_len(Files::Author, 16))
                .col(uuid_null(Files::OperatorId))
                .col(string_len(Files::Name, 255))
                .col(string_len(Files::ContentType, 128))
                .col(string_len(Files::Kind, 8))
                .col(big_integer(Files::Size))
                .col(big_integer(Files::ThumbnailSize))
                .col(big_integer(Files::CreatedAt))
                .col(big_integer_null(Files::DeletedAt))
                .col(big_integer_null(Files::PurgedAt))
                .to_owned(),
        )
        .await?;
        // A visitor's files of the last day, for the tenant's daily limit.
        m.create_index(
            Index::create()
                .name("ix_files_visitor_time")
                .table(Files::Table)
                .col(Files::VisitorId)
                .col(Files::CreatedAt)
                .to_owned(),
        )
        .await?;
        // The tenant's storage in use; deleted files waiting for their bytes to go.
        m.create_index(
            Index::create()
                .name("ix_files_tenant")
                .table(Files::Table)
                .col(Files::TenantId)
                .col(Files::DeletedAt)
                .to_owned(),
        )
        .await?;
        // Deleted files whose bytes are still to go.
        m.create_index(
            Index::create()
                .name("ix_files_to_purge")
                .table(Files::Table)
                .col(Files::PurgedAt)
                .col(Files::DeletedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_files_message")
                .table(Files::Table)
                .col(Files::MessageId)
                .to_owned(),
        )
        .await?;
        // One column per statement: SQLite alters one at a time.
        for column in [
            text_null(Messages::Attachment),
            big_integer_null(Messages::DeletedAt),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [Messages::Attachment, Messages::DeletedAt] {
            m.alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        m.drop_table(Table::drop().table(Files::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Files {
    Table,
    Id,
    TenantId,
    ChatId,
    MessageId,
    VisitorId,
    Author,
    OperatorId,
    Name,
    ContentType,
    Kind,
    Size,
    ThumbnailSize,
    CreatedAt,
    DeletedAt,
    PurgedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Attachment,
    DeletedAt,
}
