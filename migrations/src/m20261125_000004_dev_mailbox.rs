//! The development mailbox: with no SMTP server configured, mail is kept here (and written as
//! `.eml` files) and shown at `/dev/mailbox`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(DevMails::Table)
                .col(uuid(DevMails::Id).primary_key())
                .col(text(DevMails::Recipient))
                .col(text(DevMails::Subject))
                .col(text(DevMails::Eml))
                .col(big_integer(DevMails::CreatedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(DevMails::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DevMails {
    Table,
    Id,
    Recipient,
    Subject,
    Eml,
    CreatedAt,
}
