//! Webhook deliveries chosen by tenant plugins: each call waits in `webhook_calls` until a
//! worker posts it (and retries it), and each tenant's signing secret in `webhook_secrets`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(WebhookCalls::Table)
                .col(uuid(WebhookCalls::Id).primary_key())
                .col(uuid(WebhookCalls::TenantId))
                .col(uuid(WebhookCalls::ChatId))
                .col(uuid(WebhookCalls::VisitorId))
                .col(uuid_null(WebhookCalls::PluginId))
                .col(text(WebhookCalls::Url))
                .col(text(WebhookCalls::Body))
                .col(text(WebhookCalls::MessageIds))
                .col(string_len(WebhookCalls::DedupeKey, 64))
                .col(string_len(WebhookCalls::Status, 16))
                .col(integer(WebhookCalls::Attempts))
                .col(big_integer(WebhookCalls::DueAt))
                .col(big_integer_null(WebhookCalls::ClaimedUntil))
                .col(text_null(WebhookCalls::LastError))
                .col(big_integer(WebhookCalls::CreatedAt))
                .col(big_integer_null(WebhookCalls::ProcessedAt))
                .to_owned(),
        )
        .await?;
        // A batch that is routed again (its email is retried) must not post its webhooks twice.
        m.create_index(
            Index::create()
                .name("ux_webhook_calls_dedupe")
                .table(WebhookCalls::Table)
                .col(WebhookCalls::TenantId)
                .col(WebhookCalls::DedupeKey)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_calls_status_due")
                .table(WebhookCalls::Table)
                .col(WebhookCalls::Status)
                .col(WebhookCalls::DueAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookSecrets::Table)
                .col(uuid(WebhookSecrets::TenantId).primary_key())
                .col(string_len(WebhookSecrets::Secret, 100))
                .col(big_integer(WebhookSecrets::CreatedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(WebhookSecrets::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(WebhookCalls::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum WebhookCalls {
    Table,
    Id,
    TenantId,
    ChatId,
    VisitorId,
    PluginId,
    Url,
    Body,
    MessageIds,
    DedupeKey,
    Status,
    Attempts,
    DueAt,
    ClaimedUntil,
    LastError,
    CreatedAt,
    ProcessedAt,
}

#[derive(DeriveIden)]
enum WebhookSecrets {
    Table,
    TenantId,
    Secret,
    CreatedAt,
}
