//! The per-address mail cap counts an address's mails of the last 24 hours before every unread-
//! reply mail. Found by the tenant's deliveries in time order it read every delivery of the day
//! (one tenant's 10,000 mails made each count read up to 10,000 rows, and the notification
//! worker fell behind as the day's log grew); by address it reads that address's own.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("ix_deliveries_recipient")
                .table(Deliveries::Table)
                .col(Deliveries::TenantId)
                .col(Deliveries::Recipient)
                .col(Deliveries::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_deliveries_recipient")
                .table(Deliveries::Table)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    TenantId,
    Recipient,
    CreatedAt,
}
