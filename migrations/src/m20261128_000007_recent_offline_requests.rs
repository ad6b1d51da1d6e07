//! A tenant's newest offline requests, found without reading its whole history: a plugin's
//! trial replays them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "ix_messages_tenant_channel_time";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name(NAME)
                .table(Messages::Table)
                .col(Messages::TenantId)
                .col(Messages::Channel)
                .col(Messages::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name(NAME).table(Messages::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Messages {
    Table,
    TenantId,
    Channel,
    CreatedAt,
}
