//! When a closed dialog's content was last erased by its tenant's retention (`chats.erased_at`),
//! so that the housekeeping erases each closed dialog once, and again only if it was reopened
//! and closed since.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Chats::Table)
                .add_column(big_integer_null(Chats::ErasedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Chats::Table)
                .drop_column(Chats::ErasedAt)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Chats {
    Table,
    ErasedAt,
}
