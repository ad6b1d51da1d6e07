//! Who answers, as a visitor sees it: an operator's photo (`users.avatar`, the id of its bytes
//! in the file store), and every wait of a visitor for an answer in `reply_waits`, from which
//! the widget's "typically replies in" is computed. Objects to remove from the file store
//! (a replaced photo's bytes) wait in `store_removals` until the store has removed them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Users::Table)
                .add_column(uuid_null(Users::Avatar))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ReplyWaits::Table)
                .col(uuid(ReplyWaits::Id).primary_key())
                .col(uuid(ReplyWaits::TenantId))
                .col(uuid(ReplyWaits::ChatId))
                .col(big_integer(ReplyWaits::StartedAt))
                .col(boolean(ReplyWaits::Staffed))
                .col(big_integer_null(ReplyWaits::EndedAt))
                .col(uuid_null(ReplyWaits::AnsweredBy))
                .to_owned(),
        )
        .await?;
        // One wait per start, however many messages of that moment start it.
        m.create_index(
            Index::create()
                .name("ux_reply_waits_start")
                .table(ReplyWaits::Table)
                .col(ReplyWaits::ChatId)
                .col(ReplyWaits::StartedAt)
                .unique()
                .to_owned(),
        )
        .await?;
        // The chat's running wait, which an answer or a close ends.
        m.create_index(
            Index::create()
                .name("ix_reply_waits_running")
                .table(ReplyWaits::Table)
                .col(ReplyWaits::ChatId)
                .col(ReplyWaits::EndedAt)
                .to_owned(),
        )
        .await?;
        // The tenant's recent waits, for its typical reply time.
        m.create_index(
            Index::create()
                .name("ix_reply_waits_tenant_ended")
                .table(ReplyWaits::Table)
                .col(ReplyWaits::TenantId)
                .col(ReplyWaits::EndedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(StoreRemovals::Table)
                .col(string_len(StoreRemovals::Key, 255).primary_key())
                .col(uuid(StoreRemovals::TenantId))
                .col(big_integer(StoreRemovals::Since))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(StoreRemovals::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ReplyWaits::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(Users::Table)
                .drop_column(Users::Avatar)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Avatar,
}

#[derive(DeriveIden)]
enum ReplyWaits {
    Table,
    Id,
    TenantId,
    ChatId,
    StartedAt,
    Staffed,
    EndedAt,
    AnsweredBy,
}

#[derive(DeriveIden)]
enum StoreRemovals {
    Table,
    Key,
    TenantId,
    Since,
}
