//! Visitors rate a conversation when an operator closes it: every rating in `chat_ratings`
//! (once per close; the admin console's CSAT counts them), and the newest on its chat, so that
//! lists and the widget show it without a join.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ChatRatings::Table)
                .col(uuid(ChatRatings::Id).primary_key())
                .col(uuid(ChatRatings::TenantId))
                .col(uuid(ChatRatings::ChatId))
                .col(uuid(ChatRatings::VisitorId))
                .col(uuid_null(ChatRatings::OperatorId))
                .col(big_integer(ChatRatings::ClosedAt))
                .col(string_len(ChatRatings::Rating, 8))
                .col(text_null(ChatRatings::Comment))
                .col(big_integer(ChatRatings::CreatedAt))
                .to_owned(),
        )
        .await?;
        // Once per close, however many tabs send it.
        m.create_index(
            Index::create()
                .name("ux_chat_ratings_close")
                .table(ChatRatings::Table)
                .col(ChatRatings::ChatId)
                .col(ChatRatings::ClosedAt)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_chat_ratings_tenant_time")
                .table(ChatRatings::Table)
                .col(ChatRatings::TenantId)
                .col(ChatRatings::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_chat_ratings_visitor")
                .table(ChatRatings::Table)
                .col(ChatRatings::VisitorId)
                .col(ChatRatings::CreatedAt)
                .to_owned(),
        )
        .await?;
        // One column per statement: SQLite alters one at a time.
        for column in [
            string_len_null(Chats::Rating, 8),
            text_null(Chats::RatingComment),
            big_integer_null(Chats::RatedAt),
            big_integer_null(Chats::RatedCloseAt),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Chats::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Chats::Rating,
            Chats::RatingComment,
            Chats::RatedAt,
            Chats::RatedCloseAt,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Chats::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        m.drop_table(Table::drop().table(ChatRatings::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ChatRatings {
    Table,
    Id,
    TenantId,
    ChatId,
    VisitorId,
    OperatorId,
    ClosedAt,
    Rating,
    Comment,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Chats {
    Table,
    Rating,
    RatingComment,
    RatedAt,
    RatedCloseAt,
}
