//! Visitors can stop unread-reply emails with the link in each of them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Visitors::Table)
                .add_column(boolean(Visitors::EmailsStopped).default(false))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Visitors::Table)
                .drop_column(Visitors::EmailsStopped)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Visitors {
    Table,
    EmailsStopped,
}
