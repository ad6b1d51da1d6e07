//! Opening the database: SQLite (the embedded default) or PostgreSQL, chosen by the URL.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(10));
    if url.starts_with("sqlite:") {
        // sqlx pings a connection at every checkout by default: one more hop to the
        // connection's thread before each read and transaction. A file is not dropped by a
        // server or a proxy; PostgreSQL's connections keep the ping, so a restarted server
        // costs no request an error.
        options.test_before_acquire(false);
        // WAL lets readers run beside the one writer; NORMAL syncs at checkpoints, which in WAL
        // mode loses no committed transaction on a process crash (only, at worst, on power loss).
        options
            .max_connections(8)
            .min_connections(1)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10))
                    // A checkpoint that runs inside a commit makes that commit (and every writer
                    // queued behind it) wait for it, in proportion to the pages it copies: under
                    // steady writes the log reaches the threshold between background checkpoints
                    // (`Storage::checkpoint`), readers keeping it from starting over. SQLite's
                    // default of 1,000 pages bounds that stall to ~5-10 ms here; 10,000 made it
                    // ~30 ms (the README's "stalls").
                    .pragma("wal_autocheckpoint", "1000")
                    // A savepoint keeps the pages it changes in a statement journal, which
                    // SQLite spills to a temporary file past a few pages: writers that share a
                    // commit each work in a savepoint of it, and a file made, written and
                    // deleted per shared commit cost a third of the writes' time. In memory,
                    // it holds the pages one shared commit changes (a few dozen writers' at
                    // most); SQLite's other temporary data (sorts of large reads) goes there
                    // too.
                    .pragma("temp_store", "memory")
            });
        return Database::connect(options).await;
    }
    connect_postgres(url).await
}

/// A PostgreSQL connection used this recently is taken as alive; one idle for longer is pinged
/// before it is handed out.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// PostgreSQL through a pool of sqlx's own, for what sea-orm's options do not reach: sqlx pings
/// every connection at every checkout by default, a round trip before each read and each
/// transaction — three per message — while a connection in steady use was seen alive a moment
/// ago. Only one that has idled is pinged, so that a restarted server still costs a request
/// no error once the pool has been quiet; a restart under load costs the requests on the
/// connections it broke one error each (their connections are then dropped), as it costs
/// the requests in flight.
async fn connect_postgres(url: &str) -> Result<DatabaseConnection, DbErr> {
    use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    use sea_orm::sqlx::{ConnectOptions as _, Connection as _};
    let refused = |e: sea_orm::sqlx::Error| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into()));
    let options: PgConnectOptions = url.parse().map_err(refused)?;
    let options = options.disable_statement_logging();
    let pool = PgPoolOptions::new()
        .max_connections(20)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await
        .map_err(refused)?;
    Ok(sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(
        pool,
    ))
}
