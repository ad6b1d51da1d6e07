//! What the operator sees beside the dialog: the pages of each visitor's visit (`page_views`,
//! the newest 50 a visitor kept) and, on the visitor, how many visits they made, when this one
//! began, where it came from, their browser (the raw user agent) and their time zone.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for column in [
            integer(Visitors::Visits).default(0).to_owned(),
            big_integer_null(Visitors::VisitStartedAt),
            text_null(Visitors::Referrer),
            text_null(Visitors::UserAgent),
            string_len_null(Visitors::TimeZone, 64),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Visitors::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        // Whoever came before counting began came at least once.
        m.get_connection()
            .execute_unprepared("UPDATE visitors SET visits = 1")
            .await?;
        m.create_table(
            Table::create()
                .table(PageViews::Table)
                .col(uuid(PageViews::Id).primary_key())
                .col(uuid(PageViews::TenantId))
                .col(uuid(PageViews::VisitorId))
                .col(text(PageViews::Url))
                .col(text_null(PageViews::Title))
                .col(big_integer(PageViews::At))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_page_views_visitor_time")
                .table(PageViews::Table)
                .col(PageViews::VisitorId)
                .col(PageViews::At)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(PageViews::Table).to_owned())
            .await?;
        for column in [
            Visitors::TimeZone,
            Visitors::UserAgent,
            Visitors::Referrer,
            Visitors::VisitStartedAt,
            Visitors::Visits,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Visitors::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Visitors {
    Table,
    Visits,
    VisitStartedAt,
    Referrer,
    UserAgent,
    TimeZone,
}

#[derive(DeriveIden)]
enum PageViews {
    Table,
    Id,
    TenantId,
    VisitorId,
    Url,
    Title,
    At,
}
