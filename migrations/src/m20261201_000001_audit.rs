//! The audit trail: every change an admin, an operator's own profile change or the platform
//! makes to a tenant's configuration, with who, when, from where, and what changed.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AuditEvents::Table)
                .col(uuid(AuditEvents::Id).primary_key())
                // None: a change to the installation rather than to one tenant.
                .col(uuid_null(AuditEvents::TenantId))
                .col(big_integer(AuditEvents::At))
                .col(string_len(AuditEvents::ActorKind, 16))
                .col(uuid_null(AuditEvents::ActorId))
                .col(string_len(AuditEvents::ActorLabel, 320))
                .col(string_len_null(AuditEvents::ActorIp, 45))
                .col(string_len(AuditEvents::Action, 48))
                .col(string_len(AuditEvents::TargetKind, 24))
                .col(string_len_null(AuditEvents::TargetId, 64))
                .col(string_len(AuditEvents::TargetLabel, 320))
                .col(text_null(AuditEvents::Before))
                .col(text_null(AuditEvents::After))
                .to_owned(),
        )
        .await?;
        // A tenant's trail, newest first (ids are time-ordered).
        m.create_index(
            Index::create()
                .name("ix_audit_events_tenant_id")
                .table(AuditEvents::Table)
                .col(AuditEvents::TenantId)
                .col(AuditEvents::Id)
                .to_owned(),
        )
        .await?;
        // The retention's pruning.
        m.create_index(
            Index::create()
                .name("ix_audit_events_at")
                .table(AuditEvents::Table)
                .col(AuditEvents::At)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    TenantId,
    At,
    ActorKind,
    ActorId,
    ActorLabel,
    ActorIp,
    Action,
    TargetKind,
    TargetId,
    TargetLabel,
    Before,
    After,
}
