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
    /// `tenant : t<hex> AND text : ("w1"* AND "w2"*)`, the tenant's word computed from the id
    /// as the triggers compute it. The words are letters and digits only: nothing of FTS5's
    /// syntax can be in them.
    fn match_expr(query: &SearchQuery, column: &str) -> String {
        let words: Vec<String> = query.words.iter().map(|w| format!("\"{w}\"*")).collect();
        format!(" AND {column} : ({})", words.join(" AND "))
    }

    async fn ids<T: sea_orm::TryGetable>(
        db: &DatabaseConnection,
        sql: &str,
        values: Vec<Value>,
    ) -> CoreResult<Vec<T>> {
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                sql,
                values,
            ))
            .await?;
        rows.iter()
            .map(|row| row.try_get_by_index::<T>(0).map_err(Into::into))
            .collect()
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
        let sql = "SELECT message_id FROM message_search \
                   WHERE message_search MATCH ('tenant : t' || hex(?) || ?) \
                   ORDER BY rowid LIMIT ?";
        let values = vec![
            tenant.into(),
            Self::match_expr(query, "body").into(),
            (limit as i64).into(),
        ];
        Self::ids(db, sql, values).await
    }

    async fn visitors(
        &self,
        db: &DatabaseConnection,
        tenant: TenantId,
        query: &SearchQuery,
        limit: u64,
    ) -> CoreResult<Vec<VisitorId>> {
        let sql = "SELECT visitor_id FROM visitor_search \
                   WHERE visitor_search MATCH ('tenant : t' || hex(?) || ?) \
                   ORDER BY rowid LIMIT ?";
        let values = vec![
            tenant.into(),
            Self::match_expr(query, "who").into(),
            (limit as i64).into(),
        ];
        Self::ids(db, sql, values).await
    }
}

struct PostgresIndex;

impl PostgresIndex {
    /// The query as PostgreSQL's parser reads it (an address stays one word, as in the texts),
    /// each word a prefix; `None` when it holds no word.
    async fn tsquery(db: &DatabaseConnection, query: &SearchQuery) -> CoreResult<Option<String>> {
        let sql = "SELECT string_agg(quote_literal(w) || ':*', ' & ') \
                   FROM (SELECT w FROM unnest(tsvector_to_array(to_tsvector('simple', $1))) AS w \
                         LIMIT $2) AS words";
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                [query.text.clone().into(), (MAX_WORDS as i64).into()],
            ))
            .await?;
        Ok(row.and_then(|r| r.try_get_by_index::<Option<String>>(0).ok().flatten()))
    }

    async fn ids<T: sea_orm::TryGetable>(
        db: &DatabaseConnection,
        sql: &str,
        tenant: TenantId,
        tsquery: String,
        limit: u64,
    ) -> CoreResult<Vec<T>> {
        let values: Vec<Value> = vec![tenant.into(), tsquery.into(), (limit as i64).into()];
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                values,
            ))
            .await?;
        rows.iter()
            .map(|row| row.try_get_by_index::<T>(0).map_err(Into::into))
            .collect()
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
        let Some(tsquery) = Self::tsquery(db, query).await? else {
            return Ok(Vec::new());
        };
        // The expression is the index's, word for word.
        let sql = "SELECT id FROM messages \
                   WHERE tenant_id = $1 AND to_tsvector('simple', body) @@ to_tsquery('simple', $2) \
                   ORDER BY created_at DESC LIMIT $3";
        Self::ids(db, sql, tenant, tsquery, limit).await
    }

    async fn visitors(
        &self,
        db: &DatabaseConnection,
        tenant: TenantId,
        query: &SearchQuery,
        limit: u64,
    ) -> CoreResult<Vec<VisitorId>> {
        let Some(tsquery) = Self::tsquery(db, query).await? else {
            return Ok(Vec::new());
        };
        let sql = "SELECT id FROM visitors \
                   WHERE tenant_id = $1 \
                   AND to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(email, '')) \
                       @@ to_tsquery('simple', $2) \
                   ORDER BY created_at DESC LIMIT $3";
        Self::ids(db, sql, tenant, tsquery, limit).await
    }
}
