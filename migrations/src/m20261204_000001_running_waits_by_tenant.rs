//! The index of a chat's running wait leads with the tenant, as every query of it is scoped.
//! Scoped so, the query (`tenant_id = ? AND chat_id = ? AND ended_at IS NULL`) matched two
//! indexes by two columns each, and PostgreSQL's generic plan — the one a statement prepared by
//! the pool runs after its fifth use — took the tenant's `(tenant_id, ended_at)`: each reply
//! then read every running wait of its company, thousands on a busy one. An index matching all
//! three is the cheaper one in every plan. It has a name of its own (created under the old one
//! in the same migration, SQLite reported that name still taken); SQLite runs a migration
//! outside a transaction, so each step also stands being run again.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The index this one replaces, by the chat alone.
const BY_CHAT: &str = "ix_reply_waits_running";
const BY_TENANT: &str = "ix_reply_waits_tenant_running";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            ReplyWaits::TenantId,
            ReplyWaits::ChatId,
            ReplyWaits::EndedAt,
        ];
        m.create_index(index(BY_TENANT, &columns)).await?;
        m.drop_index(drop(BY_CHAT)).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let columns = [ReplyWaits::ChatId, ReplyWaits::EndedAt];
        m.create_index(index(BY_CHAT, &columns)).await?;
        m.drop_index(drop(BY_TENANT)).await
    }
}

fn index(name: &str, columns: &[ReplyWaits]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(ReplyWaits::Table).if_not_exists();
    for column in columns {
        index.col(*column);
    }
    index.to_owned()
}

fn drop(name: &str) -> IndexDropStatement {
    Index::drop()
        .name(name)
        .table(ReplyWaits::Table)
        .if_exists()
        .to_owned()
}

#[derive(DeriveIden, Clone, Copy)]
enum ReplyWaits {
    Table,
    TenantId,
    ChatId,
    EndedAt,
}
