//! Search across a tenant's dialogs (see `core/src/search/`): a word index of messages and of
//! visitors' names and addresses, in each store's own way. SQLite: FTS5 tables without content
//! of their own (the text stays in `messages` and `visitors`), kept by triggers, each entry
//! holding its tenant as a word (`t` and the id's hex) so that a query reads one tenant's
//! entries only. An entry's rowid is its row's, negated: FTS5 reads a long list of entries
//! quickly forwards (skipping through the tenant's) and slowly backwards, and forwards is then
//! newest first. PostgreSQL: GIN indexes over `to_tsvector('simple', …)`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    // Two- and three-letter prefixes have entries of their own: a short word, which every
    // query reads as the start of many words, is then one list, not hundreds merged.
    "CREATE VIRTUAL TABLE message_search USING fts5(\
        body, tenant, message_id UNINDEXED, \
        content='', contentless_delete=1, contentless_unindexed=1, prefix='2 3', \
        tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER message_search_insert AFTER INSERT ON messages BEGIN \
        INSERT INTO message_search(rowid, body, tenant, message_id) \
        VALUES (-new.rowid, new.body, 't' || hex(new.tenant_id), new.id); \
     END",
    "CREATE TRIGGER message_search_update AFTER UPDATE OF body ON messages BEGIN \
        DELETE FROM message_search WHERE rowid = -old.rowid; \
        INSERT INTO message_search(rowid, body, tenant, message_id) \
        VALUES (-new.rowid, new.body, 't' || hex(new.tenant_id), new.id); \
     END",
    "CREATE TRIGGER message_search_delete AFTER DELETE ON messages BEGIN \
        DELETE FROM message_search WHERE rowid = -old.rowid; \
     END",
    "INSERT INTO message_search(rowid, body, tenant, message_id) \
        SELECT -rowid, body, 't' || hex(tenant_id), id FROM messages",
    "CREATE VIRTUAL TABLE visitor_search USING fts5(\
        who, tenant, visitor_id UNINDEXED, \
        content='', contentless_delete=1, contentless_unindexed=1, \
        tokenize='unicode61 remove_diacritics 2')",
    // Most visitors never give a name or an address: they have nothing to find them by.
    "CREATE TRIGGER visitor_search_insert AFTER INSERT ON visitors \
     WHEN new.name IS NOT NULL OR new.email IS NOT NULL BEGIN \
        INSERT INTO visitor_search(rowid, who, tenant, visitor_id) \
        VALUES (-new.rowid, coalesce(new.name, '') || ' ' || coalesce(new.email, ''), \
                't' || hex(new.tenant_id), new.id); \
     END",
    "CREATE TRIGGER visitor_search_update AFTER UPDATE OF name, email ON visitors BEGIN \
        DELETE FROM visitor_search WHERE rowid = -old.rowid; \
        INSERT INTO visitor_search(rowid, who, tenant, visitor_id) \
        SELECT -new.rowid, coalesce(new.name, '') || ' ' || coalesce(new.email, ''), \
               't' || hex(new.tenant_id), new.id \
        WHERE new.name IS NOT NULL OR new.email IS NOT NULL; \
     END",
    "CREATE TRIGGER visitor_search_delete AFTER DELETE ON visitors BEGIN \
        DELETE FROM visitor_search WHERE rowid = -old.rowid; \
     END",
    "INSERT INTO visitor_search(rowid, who, tenant, visitor_id) \
        SELECT -rowid, coalesce(name, '') || ' ' || coalesce(email, ''), \
               't' || hex(tenant_id), id FROM visitors \
        WHERE name IS NOT NULL OR email IS NOT NULL",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER visitor_search_delete",
    "DROP TRIGGER visitor_search_update",
    "DROP TRIGGER visitor_search_insert",
    "DROP TABLE visitor_search",
    // SQLite 3.51 leaves the table of a contentless table's unindexed values behind.
    "DROP TABLE IF EXISTS visitor_search_content",
    "DROP TRIGGER message_search_delete",
    "DROP TRIGGER message_search_update",
    "DROP TRIGGER message_search_insert",
    "DROP TABLE message_search",
    "DROP TABLE IF EXISTS message_search_content",
];

// The expressions are the queries', word for word (`core/src/search/index.rs`).
const POSTGRES_UP: &[&str] = &[
    "CREATE INDEX ix_messages_search ON messages USING gin (to_tsvector('simple', body))",
    "CREATE INDEX ix_visitors_search ON visitors \
        USING gin (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(email, '')))",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX ix_visitors_search",
    "DROP INDEX ix_messages_search",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let statements = match m.get_database_backend() {
            DbBackend::Postgres => POSTGRES_UP,
            _ => SQLITE_UP,
        };
        for statement in statements {
            m.get_connection().execute_unprepared(statement).await?;
        }
        // Newest first within a tenant, for a word too common for the word index to be quicker.
        m.create_index(
            Index::create()
                .name("ix_messages_tenant_time")
                .table(Messages::Table)
                .col(Messages::TenantId)
                .col(Messages::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_messages_tenant_time")
                .table(Messages::Table)
                .to_owned(),
        )
        .await?;
        let statements = match m.get_database_backend() {
            DbBackend::Postgres => POSTGRES_DOWN,
            _ => SQLITE_DOWN,
        };
        for statement in statements {
            m.get_connection().execute_unprepared(statement).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    TenantId,
    CreatedAt,
}
