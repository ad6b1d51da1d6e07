//! Operator and admin login sessions: bearer tokens stored as digests, revocable one by one, and
//! expiring on their own.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(OperatorSessions::Table)
                .col(uuid(OperatorSessions::Id).primary_key())
                .col(uuid(OperatorSessions::TenantId))
                .col(uuid(OperatorSessions::UserId))
                .col(string_len_uniq(OperatorSessions::TokenHash, 64))
                .col(big_integer(OperatorSessions::CreatedAt))
                .col(big_integer(OperatorSessions::ExpiresAt))
                .col(big_integer_null(OperatorSessions::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(OperatorSessions::Table, OperatorSessions::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_operator_sessions_user")
                .table(OperatorSessions::Table)
                .col(OperatorSessions::UserId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(OperatorSessions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OperatorSessions {
    Table,
    Id,
    TenantId,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
