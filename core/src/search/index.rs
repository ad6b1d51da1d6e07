//! The word index, one implementation per store. Both match every word of the query as the
//! start of a word of the text, within one tenant, newest first.
//!
//! SQLite: FTS5 tables kept by triggers (`message_search`, `visitor_search`; migration
//! `m20261129_000003_search`), holding the tenant as a word of its own so that a query reads
//! only that tenant's entries; their rowids are negated, so ascending order is newest first. PostgreSQL: `to_tsvector('simple', …)` expression indexes (GIN),
//! the query parsed by the same parser as the texts.

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};

use crate::error::CoreResult;
use crate::ids::{MessageId, TenantId, VisitorId};

use super::{MAX_WORDS, SearchQuery};

#[async_trait::async_trait]
pub trait MessageIndex: Send + Sync + 'static {
    /// The tenant's newest messages holding every word of `query`, newest first.
    async fn messages(
        &self,
        db: &DatabaseConnection,
        tenant: TenantId,
        query: &SearchQuery,
        limit: u64,
    ) -> CoreResult<Vec<MessageId>>;

    /// The tenant's visitors whose name or email address holds every word of `query`, the
    /// newest first.
    async fn visitors(
        &self,
        db: &DatabaseConnection,
        tenant: TenantId,
        query: &SearchQuery,
        limit: u64,
    ) -> CoreResult<Vec<VisitorId>>;
}

/// The index of the store `backend`.
pub fn index_for(backend: DbBackend) -> Arc<dyn MessageIndex> {
    match backend {
        DbBackend::Postgres => Arc::new(PostgresIndex),
        _ => Arc::new(SqliteIndex),
    }
}

struct SqliteIndex;

impl SqliteIndex {
    /// The `id` column of the FTS5 `table` for the tenant's entries whose `text` column holds
    /// every word of `query`, newest first. The expression is `tenant : t<hex> AND text :
    /// ("w1"* AND "w2"*)`, the tenant's word computed from the id as the triggers compute it;
    /// the words are letters and digits only, so nothing of FTS5's syntax can be in them.
    async fn find<T: sea_orm::TryGetable>(
        db: &DatabaseConnection,
        (table, id, text): (&str, &str, &str),
        tenant: TenantId,
        query: &SearchQuery,
        limit: u64,
    ) -> CoreResult<Vec<T>> {
        let words: Vec<String> = query.words.iter().map(|w| format!("\"{w}\"*")).collect();
        let sql = format!(
            "SELECT {id} FROM {table} WHERE {table} MATCH ('tenant : t' || hex(?) || ?) \
             ORDER BY rowid LIMIT ?"
        );
        let values: Vec<Value> = vec![
            tenant.into(),
            format!(" AND {text} : ({})", words.join(" AND ")).into(),
            (limit as i64).into(),
        ];
        ids(db, DbBackend::Sqlite, &sql, values).await
    }
}

#[async_trait::async_trait]
impl MessageIndex for SqliteIndex {
    async fn messages(
        &self,
        db: &DatabaseConnection,
        tenant: TenantId,
        query: &SearchQuery,
        limit: u64,
    ) -> CoreResult<Vec<MessageId>> {
        let table = ("message_search", "message_id", "body");
        Self::find(db, table, tenant, query, limit).await
    }

    async fn visitors(
        &self,
        db: &DatabaseConnection,
        tenant: TenantId,
        query: &SearchQuery,
        limit: u64,
    ) -> CoreResult<Vec<VisitorId>> {
        let table = ("visitor_search", "visitor_id", "who");
        Self::find(db, table, tenant, query, limit).await
    }
}

struct PostgresIndex;

impl PostgresIndex {
    /// The ids `sql` selects for the tenant (`$1`) and the query (`$2`, a `tsquery`) at most
    /// `limit` (`$3`); none when the query holds no word. The query is read by PostgreSQL's
    /// parser, as the texts are (an address stays one word), each word a prefix.
    async fn find<T: sea_orm::TryGetable>(
        db: &DatabaseConnection,
        sql: &str,
        tenant: TenantId,
        query: &SearchQuery,
        limit: u64,
    ) -> CoreResult<Vec<T>> {
        let words = "SELECT string_agg(quote_literal(w) || ':*', ' & ') \
                     FROM (SELECT w FROM unnest(tsvector_to_array(to_tsvector('simple', $1))) AS w \
                           LIMIT $2) AS words";
        let tsquery = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                words,
                [query.text.clone().into(), (MAX_WORDS as i64).into()],
            ))
            .await?
            .and_then(|r| r.try_get_by_index::<Option<String>>(0).ok().flatten());
        let Some(tsquery) = tsquery else {
            return Ok(Vec::new());
        };
        let values: Vec<Value> = vec![tenant.into(), tsquery.into(), (limit as i64).into()];
        ids(db, DbBackend::Postgres, sql, values).await
    }
}

#[async_trait::async_trait]
impl MessageIndex for PostgresIndex {
    async fn messages(
        &self,
        db: &DatabaseConnection,
        tenant: TenantId,
        query: &SearchQuery,
        limit: u64,
    ) -> CoreResult<Vec<MessageId>> {
        // The expression is the index's, word for word.
        let sql = "SELECT id FROM messages \
                   WHERE tenant_id = $1 AND to_tsvector('simple', body) @@ to_tsquery('simple', $2) \
                   ORDER BY created_at DESC LIMIT $3";
        Self::find(db, sql, tenant, query, limit).await
    }

    async fn visitors(
        &self,
        db: &DatabaseConnection,
        tenant: TenantId,
        query: &SearchQuery,
        limit: u64,
    ) -> CoreResult<Vec<VisitorId>> {
        let sql = "SELECT id FROM visitors \
                   WHERE tenant_id = $1 \
                   AND to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(email, '')) \
                       @@ to_tsquery('simple', $2) \
                   ORDER BY created_at DESC LIMIT $3";
        Self::find(db, sql, tenant, query, limit).await
    }
}

/// The first column of every row `sql` returns.
async fn ids<T: sea_orm::TryGetable>(
    db: &DatabaseConnection,
    backend: DbBackend,
    sql: &str,
    values: Vec<Value>,
) -> CoreResult<Vec<T>> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    rows.iter()
        .map(|row| row.try_get_by_index::<T>(0).map_err(Into::into))
        .collect()
}
