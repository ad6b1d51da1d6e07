//! Delivering unread replies: a claim on outbox rows (so that two workers never send the same
//! batch) and the delivery log that tenant admins read.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(NotificationOutbox::Table)
                .add_column(big_integer_null(NotificationOutbox::ClaimedUntil))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Deliveries::Table)
                .col(uuid(Deliveries::Id).primary_key())
                .col(uuid(Deliveries::TenantId))
                .col(uuid(Deliveries::ChatId))
                .col(uuid(Deliveries::VisitorId))
                .col(string_len(Deliveries::Channel, 16))
                .col(text_null(Deliveries::Recipient))
                .col(string_len(Deliveries::Status, 16))
                .col(text_null(Deliveries::Reason))
                .col(text(Deliveries::MessageIds))
                .col(big_integer(Deliveries::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_deliveries_tenant_time")
                .table(Deliveries::Table)
                .col(Deliveries::TenantId)
                .col(Deliveries::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Deliveries::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(NotificationOutbox::Table)
                .drop_column(NotificationOutbox::ClaimedUntil)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum NotificationOutbox {
    Table,
    ClaimedUntil,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    TenantId,
    ChatId,
    VisitorId,
    Channel,
    Recipient,
    Status,
    Reason,
    MessageIds,
    CreatedAt,
}
