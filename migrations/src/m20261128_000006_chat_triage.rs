//! What a tenant's plugin may say of a chat when a visitor sends the offline form: its tags
//! and how urgent it is.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for column in [
            text(Chats::Tags).default("[]").to_owned(),
            string_len_null(Chats::Priority, 16),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Chats::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [Chats::Priority, Chats::Tags] {
            m.alter_table(
                Table::alter()
                    .table(Chats::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Chats {
    Table,
    Tags,
    Priority,
}
