//! Which visitor addresses were confirmed by a click on a link mailed to them: mail to an
//! address nobody confirmed carries none of the visitor's own words.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        m.alter_table(
            Table::alter()
                .table(Visitors::Table)
                .add_column(string_null(Visitors::EmailConfirmed))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(ResumeTokens::Table)
                .add_column(string_null(ResumeTokens::SentTo))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ResumeTokens::Table)
                .drop_column(ResumeTokens::SentTo)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Visitors::Table)
                .drop_column(Visitors::EmailConfirmed)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Visitors {
    Table,
    EmailConfirmed,
}

#[derive(DeriveIden)]
enum ResumeTokens {
    Table,
    SentTo,
}
