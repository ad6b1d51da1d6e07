//! A tenant's own unread-reply email template (handlebars sources), replacing the built-in one.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(EmailTemplates::Table)
                .col(uuid(EmailTemplates::TenantId).primary_key())
                .col(text(EmailTemplates::Subject))
                .col(text(EmailTemplates::Html))
                .col(text(EmailTemplates::Text))
                .col(big_integer(EmailTemplates::UpdatedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(EmailTemplates::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum EmailTemplates {
    Table,
    TenantId,
    Subject,
    Html,
    Text,
    UpdatedAt,
}
