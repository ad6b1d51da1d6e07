//! What the platform console shows of the installation: each tenant's use by day
//! (`usage_days`, counted as the work happens) and the processes that run it (`nodes`, with
//! their heartbeats).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(UsageDays::Table)
                .col(uuid(UsageDays::TenantId))
                .col(integer(UsageDays::Day))
                .col(string_len(UsageDays::Metric, 32))
                .col(big_integer(UsageDays::Amount))
                .primary_key(
                    Index::create()
                        .col(UsageDays::TenantId)
                        .col(UsageDays::Day)
                        .col(UsageDays::Metric),
                )
                .to_owned(),
        )
        .await?;
        // The last 30 days of every tenant, and the pruning of old days.
        m.create_index(
            Index::create()
                .name("ix_usage_days_day")
                .table(UsageDays::Table)
                .col(UsageDays::Day)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Nodes::Table)
                .col(string_len(Nodes::Id, 128).primary_key())
                .col(string_len(Nodes::Role, 16))
                .col(string_len(Nodes::Version, 32))
                .col(big_integer(Nodes::StartedAt))
                .col(big_integer(Nodes::HeartbeatAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Nodes::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(UsageDays::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum UsageDays {
    Table,
    TenantId,
    Day,
    Metric,
    Amount,
}

#[derive(DeriveIden)]
enum Nodes {
    Table,
    Id,
    Role,
    Version,
    StartedAt,
    HeartbeatAt,
}
