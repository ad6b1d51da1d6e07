//! Tenant plugins: the uploaded components (bytes kept, so any node can compile them), their
//! order and state, and each plugin's log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Plugins::Table)
                .col(uuid(Plugins::Id).primary_key())
                .col(uuid(Plugins::TenantId))
                .col(string_len(Plugins::Name, 100))
                .col(string_len(Plugins::Version, 50))
                .col(text(Plugins::Hooks))
                .col(string_len(Plugins::Sha256, 64))
                .col(blob(Plugins::Wasm))
                .col(big_integer(Plugins::SizeBytes))
                .col(boolean(Plugins::Enabled))
                .col(integer(Plugins::Position))
                .col(integer(Plugins::ConsecutiveFailures))
                .col(text_null(Plugins::DisabledReason))
                .col(big_integer(Plugins::CreatedAt))
                .col(big_integer(Plugins::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_plugins_tenant_position")
                .table(Plugins::Table)
                .col(Plugins::TenantId)
                .col(Plugins::Position)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(PluginLogs::Table)
                .col(uuid(PluginLogs::Id).primary_key())
                .col(uuid(PluginLogs::TenantId))
                .col(uuid(PluginLogs::PluginId))
                .col(string_len(PluginLogs::Level, 8))
                .col(string_len_null(PluginLogs::Hook, 32))
                .col(text(PluginLogs::Message))
                .col(big_integer(PluginLogs::At))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_plugin_logs_plugin_time")
                .table(PluginLogs::Table)
                .col(PluginLogs::TenantId)
                .col(PluginLogs::PluginId)
                .col(PluginLogs::At)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(PluginLogs::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Plugins::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Plugins {
    Table,
    Id,
    TenantId,
    Name,
    Version,
    Hooks,
    Sha256,
    Wasm,
    SizeBytes,
    Enabled,
    Position,
    ConsecutiveFailures,
    DisabledReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PluginLogs {
    Table,
    Id,
    TenantId,
    PluginId,
    Level,
    Hook,
    Message,
    At,
}
