//! A visitor asks for their conversation's transcript by email: each request in
//! `transcript_requests`, claimed, mailed and retried by the workers like the other mails.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TranscriptRequests::Table)
                .col(uuid(TranscriptRequests::Id).primary_key())
                .col(uuid(TranscriptRequests::TenantId))
                .col(uuid(TranscriptRequests::ChatId))
                .col(uuid(TranscriptRequests::VisitorId))
                .col(string_len(TranscriptRequests::Email, 254))
                .col(string_len(TranscriptRequests::Status, 16))
                .col(integer(TranscriptRequests::Attempts).default(0))
                .col(big_integer(TranscriptRequests::DueAt))
                .col(big_integer_null(TranscriptRequests::ClaimedUntil))
                .col(text_null(TranscriptRequests::LastError))
                .col(big_integer(TranscriptRequests::CreatedAt))
                .col(big_integer_null(TranscriptRequests::ProcessedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_transcript_requests_due")
                .table(TranscriptRequests::Table)
                .col(TranscriptRequests::Status)
                .col(TranscriptRequests::DueAt)
                .to_owned(),
        )
        .await?;
        // A visitor's requests of the last day, for the limit.
        m.create_index(
            Index::create()
                .name("ix_transcript_requests_visitor")
                .table(TranscriptRequests::Table)
                .col(TranscriptRequests::VisitorId)
                .col(TranscriptRequests::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(TranscriptRequests::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum TranscriptRequests {
    Table,
    Id,
    TenantId,
    ChatId,
    VisitorId,
    Email,
    Status,
    Attempts,
    DueAt,
    ClaimedUntil,
    LastError,
    CreatedAt,
    ProcessedAt,
}
