//! Web Push to operators' browsers: each browser an operator opted in (`push_subscriptions`,
//! one row per push endpoint), and each alert's push to each of them (`push_sends`), claimed,
//! sent and retried by the workers like webhook posts.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(PushSubscriptions::Table)
                .col(uuid(PushSubscriptions::Id).primary_key())
                .col(uuid(PushSubscriptions::TenantId))
                .col(uuid(PushSubscriptions::UserId))
                .col(text(PushSubscriptions::Endpoint))
                .col(string_len(PushSubscriptions::EndpointKey, 64))
                .col(string_len(PushSubscriptions::P256dh, 100))
                .col(string_len(PushSubscriptions::Auth, 40))
                .col(string_len(PushSubscriptions::Label, 100))
                .col(big_integer(PushSubscriptions::CreatedAt))
                .col(big_integer_null(PushSubscriptions::LastSentAt))
                .col(text_null(PushSubscriptions::LastError))
                .to_owned(),
        )
        .await?;
        // A browser's endpoint belongs to one operator: whoever opted in there last.
        m.create_index(
            Index::create()
                .name("ux_push_subscriptions_endpoint")
                .table(PushSubscriptions::Table)
                .col(PushSubscriptions::EndpointKey)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_push_subscriptions_user")
                .table(PushSubscriptions::Table)
                .col(PushSubscriptions::TenantId)
                .col(PushSubscriptions::UserId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PushSends::Table)
                .col(uuid(PushSends::Id).primary_key())
                .col(uuid(PushSends::TenantId))
                .col(uuid(PushSends::SubscriptionId))
                .col(uuid(PushSends::AlertId))
                .col(text(PushSends::Payload))
                .col(string_len(PushSends::Status, 16))
                .col(integer(PushSends::Attempts).default(0))
                .col(big_integer(PushSends::DueAt))
                .col(big_integer_null(PushSends::ClaimedUntil))
                .col(text_null(PushSends::LastError))
                .col(big_integer(PushSends::CreatedAt))
                .col(big_integer_null(PushSends::ProcessedAt))
                .to_owned(),
        )
        .await?;
        // An alert is pushed to a browser once, however often its routing is retried.
        m.create_index(
            Index::create()
                .name("ux_push_sends_alert")
                .table(PushSends::Table)
                .col(PushSends::SubscriptionId)
                .col(PushSends::AlertId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_push_sends_due")
                .table(PushSends::Table)
                .col(PushSends::Status)
                .col(PushSends::DueAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(PushSends::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(PushSubscriptions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum PushSubscriptions {
    Table,
    Id,
    TenantId,
    UserId,
    Endpoint,
    EndpointKey,
    P256dh,
    Auth,
    Label,
    CreatedAt,
    LastSentAt,
    LastError,
}

#[derive(DeriveIden)]
enum PushSends {
    Table,
    Id,
    TenantId,
    SubscriptionId,
    AlertId,
    Payload,
    Status,
    Attempts,
    DueAt,
    ClaimedUntil,
    LastError,
    CreatedAt,
    ProcessedAt,
}
