//! Alerts for operators, so that no offline request or waiting visitor goes unseen: each alert
//! in `operator_alerts` (raised, then routed by the tenant's plugins), each operator's email
//! digest of them in `alert_digests` (the alerts waiting for it in `alert_digest_items`), and
//! on each chat when its visitor began waiting for an
//! answer and when that wait becomes a long-wait alert.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for column in [
            big_integer_null(Chats::WaitingSince),
            big_integer_null(Chats::WaitAlertAt),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Chats::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        // The sweep reads only the waits that are due.
        m.create_index(
            Index::create()
                .name("ix_chats_wait_alert_at")
                .table(Chats::Table)
                .col(Chats::WaitAlertAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(OperatorAlerts::Table)
                .col(uuid(OperatorAlerts::Id).primary_key())
                .col(uuid(OperatorAlerts::TenantId))
                .col(uuid(OperatorAlerts::ChatId))
                .col(uuid(OperatorAlerts::VisitorId))
                .col(string_len(OperatorAlerts::Kind, 16))
                .col(integer_null(OperatorAlerts::WaitMinutes))
                .col(text(OperatorAlerts::Preview))
                .col(string_len(OperatorAlerts::DedupeKey, 64))
                .col(boolean(OperatorAlerts::ToOperators).default(false))
                .col(text_null(OperatorAlerts::Note))
                .col(big_integer_null(OperatorAlerts::ClaimedUntil))
                .col(big_integer_null(OperatorAlerts::RoutedAt))
                .col(big_integer(OperatorAlerts::CreatedAt))
                .to_owned(),
        )
        .await?;
        // One alert per occasion, however many nodes' sweeps find it.
        m.create_index(
            Index::create()
                .name("ux_operator_alerts_dedupe")
                .table(OperatorAlerts::Table)
                .col(OperatorAlerts::TenantId)
                .col(OperatorAlerts::DedupeKey)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_operator_alerts_tenant_time")
                .table(OperatorAlerts::Table)
                .col(OperatorAlerts::TenantId)
                .col(OperatorAlerts::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_operator_alerts_unrouted")
                .table(OperatorAlerts::Table)
                .col(OperatorAlerts::RoutedAt)
                .col(OperatorAlerts::CreatedAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AlertDigests::Table)
                .col(uuid(AlertDigests::UserId).primary_key())
                .col(uuid(AlertDigests::TenantId))
                .col(big_integer_null(AlertDigests::DueAt))
                .col(big_integer_null(AlertDigests::ClaimedUntil))
                .col(big_integer_null(AlertDigests::LastSentAt))
                .col(integer(AlertDigests::Attempts).default(0))
                .col(text_null(AlertDigests::LastError))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_alert_digests_due")
                .table(AlertDigests::Table)
                .col(AlertDigests::DueAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AlertDigestItems::Table)
                .col(uuid(AlertDigestItems::UserId))
                .col(uuid(AlertDigestItems::AlertId))
                .col(uuid(AlertDigestItems::TenantId))
                .col(big_integer(AlertDigestItems::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(AlertDigestItems::UserId)
                        .col(AlertDigestItems::AlertId),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AlertDigestItems::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(AlertDigests::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(OperatorAlerts::Table).to_owned())
            .await?;
        m.drop_index(
            Index::drop()
                .name("ix_chats_wait_alert_at")
                .table(Chats::Table)
                .to_owned(),
        )
        .await?;
        for column in [Chats::WaitAlertAt, Chats::WaitingSince] {
            m.alter_table(
                Table::alter()
                    .table(Chats::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Chats {
    Table,
    WaitingSince,
    WaitAlertAt,
}

#[derive(DeriveIden)]
enum OperatorAlerts {
    Table,
    Id,
    TenantId,
    ChatId,
    VisitorId,
    Kind,
    WaitMinutes,
    Preview,
    DedupeKey,
    ToOperators,
    Note,
    ClaimedUntil,
    RoutedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AlertDigests {
    Table,
    UserId,
    TenantId,
    DueAt,
    ClaimedUntil,
    LastSentAt,
    Attempts,
    LastError,
}

#[derive(DeriveIden)]
enum AlertDigestItems {
    Table,
    UserId,
    AlertId,
    TenantId,
    CreatedAt,
}
