//! The dev mailbox keeps each mail's sender and its text and HTML parts as sent, so that
//! `/dev/mailbox` shows a mail a person can read, not its encoded source.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for column in [DevMails::Sender, DevMails::Text, DevMails::Html] {
            m.alter_table(
                Table::alter()
                    .table(DevMails::Table)
                    .add_column(text_null(column))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [DevMails::Html, DevMails::Text, DevMails::Sender] {
            m.alter_table(
                Table::alter()
                    .table(DevMails::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum DevMails {
    Table,
    Sender,
    Text,
    Html,
}
