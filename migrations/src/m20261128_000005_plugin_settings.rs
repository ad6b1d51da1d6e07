//! Plugins of later worlds: the world a plugin was built against (uploads so far were all
//! 0.1.0), the settings schema it declared and the values its tenant's admin saved.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for column in [
            string_len(Plugins::World, 20).default("0.1.0").to_owned(),
            text_null(Plugins::SettingsSchema),
            text(Plugins::Settings).default("{}").to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Plugins::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [Plugins::Settings, Plugins::SettingsSchema, Plugins::World] {
            m.alter_table(
                Table::alter()
                    .table(Plugins::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Plugins {
    Table,
    World,
    SettingsSchema,
    Settings,
}
