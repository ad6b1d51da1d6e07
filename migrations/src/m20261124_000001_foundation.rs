//! The foundation: tenants, users, visitors, chats, messages and their edit history, presence,
//! resume tokens and the unread-reply outbox.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Tenants::Table)
                .col(uuid(Tenants::Id).primary_key())
                .col(string_len_uniq(Tenants::Slug, 63))
                .col(string_len(Tenants::Name, 200))
                .col(string_len_uniq(Tenants::WidgetKey, 64))
                .col(text(Tenants::Settings))
                .col(boolean(Tenants::Suspended).default(false))
                .col(big_integer(Tenants::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(uuid(Users::Id).primary_key())
                .col(uuid(Users::TenantId))
                .col(string_len(Users::Email, 254))
                .col(string_len(Users::Name, 200))
                .col(string_len(Users::Role, 16))
                .col(text(Users::PasswordHash))
                .col(string_len(Users::Status, 16))
                .col(integer(Users::Capacity))
                .col(boolean(Users::Active))
                .col(big_integer(Users::CreatedAt))
                .foreign_key(&mut fk(
                    Users::Table,
                    Users::TenantId,
                    Tenants::Table,
                    Tenants::Id,
                ))
                .to_owned(),
        )
        .await?;
        unique_index(
            m,
            Users::Table,
            "ux_users_tenant_email",
            &[Users::TenantId, Users::Email],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Visitors::Table)
                .col(uuid(Visitors::Id).primary_key())
                .col(uuid(Visitors::TenantId))
                .col(string_len_null(Visitors::Name, 200))
                .col(string_len_null(Visitors::Email, 254))
                .col(string_len_null(Visitors::Locale, 35))
                .col(boolean(Visitors::Online).default(false))
                .col(big_integer_null(Visitors::LeavingAt))
                .col(big_integer(Visitors::CreatedAt))
                .col(big_integer(Visitors::LastSeenAt))
                .foreign_key(&mut fk(
                    Visitors::Table,
                    Visitors::TenantId,
                    Tenants::Table,
                    Tenants::Id,
                ))
                .to_owned(),
        )
        .await?;
        // The presence sweep looks for visitors still marked online whose grace has run out.
        index(
            m,
            Visitors::Table,
            "ix_visitors_online_leaving",
            &[Visitors::Online, Visitors::LeavingAt],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(VisitorTokens::Table)
                .col(uuid(VisitorTokens::Id).primary_key())
                .col(uuid(VisitorTokens::TenantId))
                .col(uuid(VisitorTokens::VisitorId))
                .col(string_len_uniq(VisitorTokens::TokenHash, 64))
                .col(big_integer(VisitorTokens::CreatedAt))
                .foreign_key(&mut fk(
                    VisitorTokens::Table,
                    VisitorTokens::VisitorId,
                    Visitors::Table,
                    Visitors::Id,
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Chats::Table)
                .col(uuid(Chats::Id).primary_key())
                .col(uuid(Chats::TenantId))
                .col(uuid_uniq(Chats::VisitorId))
                .col(string_len(Chats::State, 16))
                .col(string_len(Chats::Category, 16))
                .col(boolean(Chats::VisitorOnline))
                .col(uuid_null(Chats::OperatorId))
                .col(boolean(Chats::Unanswered))
                .col(big_integer(Chats::LastSeq))
                .col(big_integer(Chats::CreatedAt))
                .col(big_integer(Chats::LastMessageAt))
                .col(big_integer_null(Chats::ClosedAt))
                .foreign_key(&mut fk(
                    Chats::Table,
                    Chats::TenantId,
                    Tenants::Table,
                    Tenants::Id,
                ))
                .foreign_key(&mut fk(
                    Chats::Table,
                    Chats::VisitorId,
                    Visitors::Table,
                    Visitors::Id,
                ))
                .foreign_key(&mut fk(
                    Chats::Table,
                    Chats::OperatorId,
                    Users::Table,
                    Users::Id,
                ))
                .to_owned(),
        )
        .await?;
        // The workspace lists: one category of one tenant, newest activity first.
        index(
            m,
            Chats::Table,
            "ix_chats_tenant_category_last",
            &[Chats::TenantId, Chats::Category, Chats::LastMessageAt],
        )
        .await?;
        // Operator load (operators_available) and "mine".
        index(
            m,
            Chats::Table,
            "ix_chats_operator_state",
            &[Chats::OperatorId, Chats::State],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Messages::Table)
                .col(uuid(Messages::Id).primary_key())
                .col(uuid(Messages::TenantId))
                .col(uuid(Messages::ChatId))
                .col(big_integer(Messages::Seq))
                .col(string_len(Messages::Author, 16))
                .col(uuid_null(Messages::OperatorId))
                .col(text(Messages::Body))
                .col(string_len_null(Messages::ClientId, 100))
                .col(big_integer(Messages::CreatedAt))
                .col(big_integer_null(Messages::EditedAt))
                .col(big_integer_null(Messages::ReadByVisitorAt))
                .col(big_integer_null(Messages::ReadByOperatorAt))
                .col(big_integer_null(Messages::EmailedAt))
                .foreign_key(&mut fk(
                    Messages::Table,
                    Messages::ChatId,
                    Chats::Table,
                    Chats::Id,
                ))
                .to_owned(),
        )
        .await?;
        // The dialog in order, and read marks "up to seq N".
        unique_index(
            m,
            Messages::Table,
            "ux_messages_chat_seq",
            &[Messages::ChatId, Messages::Seq],
        )
        .await?;
        // Idempotent send: one message per client_id in a chat (NULLs do not collide).
        unique_index(
            m,
            Messages::Table,
            "ux_messages_chat_client",
            &[Messages::ChatId, Messages::ClientId],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(MessageEdits::Table)
                .col(uuid(MessageEdits::Id).primary_key())
                .col(uuid(MessageEdits::TenantId))
                .col(uuid(MessageEdits::MessageId))
                .col(text(MessageEdits::Body))
                .col(big_integer(MessageEdits::WrittenAt))
                .col(big_integer(MessageEdits::ReplacedAt))
                .foreign_key(&mut fk(
                    MessageEdits::Table,
                    MessageEdits::MessageId,
                    Messages::Table,
                    Messages::Id,
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            MessageEdits::Table,
            "ix_message_edits_message",
            &[MessageEdits::MessageId, MessageEdits::ReplacedAt],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(VisitorConnections::Table)
                .col(uuid(VisitorConnections::Id).primary_key())
                .col(uuid(VisitorConnections::TenantId))
                .col(uuid(VisitorConnections::VisitorId))
                .col(string_len(VisitorConnections::NodeId, 100))
                .col(big_integer(VisitorConnections::ConnectedAt))
                .col(big_integer(VisitorConnections::HeartbeatAt))
                .foreign_key(&mut fk(
                    VisitorConnections::Table,
                    VisitorConnections::VisitorId,
                    Visitors::Table,
                    Visitors::Id,
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            VisitorConnections::Table,
            "ix_visitor_connections_visitor",
            &[VisitorConnections::VisitorId],
        )
        .await?;
        index(
            m,
            VisitorConnections::Table,
            "ix_visitor_connections_node",
            &[VisitorConnections::NodeId],
        )
        .await?;
        index(
            m,
            VisitorConnections::Table,
            "ix_visitor_connections_heartbeat",
            &[VisitorConnections::HeartbeatAt],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ResumeTokens::Table)
                .col(uuid(ResumeTokens::Id).primary_key())
                .col(uuid(ResumeTokens::TenantId))
                .col(uuid(ResumeTokens::VisitorId))
                .col(uuid(ResumeTokens::ChatId))
                .col(string_len_uniq(ResumeTokens::TokenHash, 64))
                .col(big_integer(ResumeTokens::CreatedAt))
                .col(big_integer(ResumeTokens::ExpiresAt))
                .foreign_key(&mut fk(
                    ResumeTokens::Table,
                    ResumeTokens::ChatId,
                    Chats::Table,
                    Chats::Id,
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(NotificationOutbox::Table)
                .col(uuid(NotificationOutbox::Id).primary_key())
                .col(uuid(NotificationOutbox::TenantId))
                .col(uuid(NotificationOutbox::ChatId))
                .col(uuid_uniq(NotificationOutbox::MessageId))
                .col(big_integer(NotificationOutbox::DueAt))
                .col(string_len(NotificationOutbox::Status, 16))
                .col(integer(NotificationOutbox::Attempts).default(0))
                .col(text_null(NotificationOutbox::LastError))
                .col(big_integer(NotificationOutbox::CreatedAt))
                .col(big_integer_null(NotificationOutbox::ProcessedAt))
                .foreign_key(&mut fk(
                    NotificationOutbox::Table,
                    NotificationOutbox::MessageId,
                    Messages::Table,
                    Messages::Id,
                ))
                .to_owned(),
        )
        .await?;
        // The sweep: pending rows whose time has come.
        index(
            m,
            NotificationOutbox::Table,
            "ix_outbox_status_due",
            &[NotificationOutbox::Status, NotificationOutbox::DueAt],
        )
        .await?;
        index(
            m,
            NotificationOutbox::Table,
            "ix_outbox_chat",
            &[NotificationOutbox::ChatId],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ServerSecrets::Table)
                .col(string_len(ServerSecrets::Name, 64).primary_key())
                .col(text(ServerSecrets::Value))
                .col(big_integer(ServerSecrets::CreatedAt))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ServerSecrets::Table.into_iden(),
            NotificationOutbox::Table.into_iden(),
            ResumeTokens::Table.into_iden(),
            VisitorConnections::Table.into_iden(),
            MessageEdits::Table.into_iden(),
            Messages::Table.into_iden(),
            Chats::Table.into_iden(),
            VisitorTokens::Table.into_iden(),
            Visitors::Table.into_iden(),
            Users::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

fn fk<
    T: IntoIden + Clone + 'static,
    C: IntoIden + 'static,
    R: IntoIden + 'static,
    RC: IntoIden + 'static,
>(
    table: T,
    column: C,
    ref_table: R,
    ref_column: RC,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(ref_table, ref_column)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

async fn index<T: IntoIden + Clone + 'static, C: IntoIden + Clone + 'static>(
    m: &SchemaManager<'_>,
    table: T,
    name: &str,
    columns: &[C],
) -> Result<(), DbErr> {
    let mut statement = Index::create().name(name).table(table).to_owned();
    for column in columns {
        statement.col(column.clone());
    }
    m.create_index(statement).await
}

async fn unique_index<T: IntoIden + Clone + 'static, C: IntoIden + Clone + 'static>(
    m: &SchemaManager<'_>,
    table: T,
    name: &str,
    columns: &[C],
) -> Result<(), DbErr> {
    let mut statement = Index::create().name(name).table(table).unique().to_owned();
    for column in columns {
        statement.col(column.clone());
    }
    m.create_index(statement).await
}

#[derive(DeriveIden, Clone, Copy)]
enum Tenants {
    Table,
    Id,
    Slug,
    Name,
    WidgetKey,
    Settings,
    Suspended,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
    TenantId,
    Email,
    Name,
    Role,
    PasswordHash,
    Status,
    Capacity,
    Active,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Visitors {
    Table,
    Id,
    TenantId,
    Name,
    Email,
    Locale,
    Online,
    LeavingAt,
    CreatedAt,
    LastSeenAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum VisitorTokens {
    Table,
    Id,
    TenantId,
    VisitorId,
    TokenHash,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Chats {
    Table,
    Id,
    TenantId,
    VisitorId,
    State,
    Category,
    VisitorOnline,
    OperatorId,
    Unanswered,
    LastSeq,
    CreatedAt,
    LastMessageAt,
    ClosedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Messages {
    Table,
    Id,
    TenantId,
    ChatId,
    Seq,
    Author,
    OperatorId,
    Body,
    ClientId,
    CreatedAt,
    EditedAt,
    ReadByVisitorAt,
    ReadByOperatorAt,
    EmailedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum MessageEdits {
    Table,
    Id,
    TenantId,
    MessageId,
    Body,
    WrittenAt,
    ReplacedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum VisitorConnections {
    Table,
    Id,
    TenantId,
    VisitorId,
    NodeId,
    ConnectedAt,
    HeartbeatAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ResumeTokens {
    Table,
    Id,
    TenantId,
    VisitorId,
    ChatId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum NotificationOutbox {
    Table,
    Id,
    TenantId,
    ChatId,
    MessageId,
    DueAt,
    Status,
    Attempts,
    LastError,
    CreatedAt,
    ProcessedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ServerSecrets {
    Table,
    Name,
    Value,
    CreatedAt,
}
