//! Where a message came in: the widget, or an email reply. Every message so far came through
//! the widget.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .add_column(string_len(Messages::Channel, 16).default("widget"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .drop_column(Messages::Channel)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Channel,
}
