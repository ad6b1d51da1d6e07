//! The platform admin's limits on each tenant, as one JSON document (every field has a
//! default, so an empty document means "the defaults").

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .add_column(text(Tenants::Limits).default("{}"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tenants::Table)
                .drop_column(Tenants::Limits)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Limits,
}
