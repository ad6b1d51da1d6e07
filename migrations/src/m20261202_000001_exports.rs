//! Exports of a tenant's or one visitor's data (`exports`: requested, built by a worker under a
//! lease with its progress, kept a while for download), and the whole-tenant deletion the
//! platform schedules after a grace period (`tenants.deletion_due_at`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Exports::Table)
                .col(uuid(Exports::Id).primary_key())
                .col(uuid(Exports::TenantId))
                .col(uuid_null(Exports::VisitorId))
                .col(string_len(Exports::Status, 16))
                .col(string_len(Exports::RequestedBy, 320))
                .col(integer(Exports::Attempts).default(0))
                .col(big_integer(Exports::DueAt))
                .col(big_integer_null(Exports::ClaimedUntil))
                .col(big_integer(Exports::LinesDone).default(0))
                .col(big_integer(Exports::LinesTotal).default(0))
                .col(integer(Exports::Parts).default(0))
                .col(big_integer(Exports::SizeBytes).default(0))
                .col(integer(Exports::Downloads).default(0))
                .col(text_null(Exports::LastError))
                .col(big_integer(Exports::CreatedAt))
                .col(big_integer_null(Exports::ReadyAt))
                .col(big_integer_null(Exports::ExpiresAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_exports_due")
                .table(Exports::Table)
                .col(Exports::Status)
                .col(Exports::DueAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_exports_tenant")
                .table(Exports::Table)
                .col(Exports::TenantId)
                .col(Exports::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .add_column(big_integer_null(Tenants::DeletionDueAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .drop_column(Tenants::DeletionDueAt)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(Exports::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Exports {
    Table,
    Id,
    TenantId,
    VisitorId,
    Status,
    RequestedBy,
    Attempts,
    DueAt,
    ClaimedUntil,
    LinesDone,
    LinesTotal,
    Parts,
    SizeBytes,
    Downloads,
    LastError,
    CreatedAt,
    ReadyAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    DeletionDueAt,
}
