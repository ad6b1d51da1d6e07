//! The database as the services use it: reads on the shared pool, writes only through
//! [`Storage::write`], a transaction that on SQLite also holds this process's turn to write.

use std::sync::Arc;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, Statement, TransactionOptions, TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// The connection pool and, on SQLite, the write gate. Clones share both: every part of one
/// process that writes (the services, the plugin store) must hold clones of one `Storage`.
#[derive(Clone)]
pub struct Storage {
    conn: DatabaseConnection,
    /// SQLite has one writer at a time. Writers that find the lock taken wait in SQLite's busy
    /// handler, which sleeps in steps of up to 100 ms; queueing them here instead hands the lock
    /// over the moment it is free. `None` on PostgreSQL, whose row locks do this job.
    gate: Option<Arc<Mutex<()>>>,
}

impl Storage {
    pub fn new(conn: DatabaseConnection) -> Self {
        let gate =
            (conn.get_database_backend() == DbBackend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Self { conn, gate }
    }

    /// For reads. Writing through it would bypass the gate: use [`Self::write`].
    pub(crate) fn reader(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// The one way to write: a transaction holding, on SQLite, this process's turn to write.
    /// On SQLite it also takes the write lock at BEGIN: a deferred transaction that reads and
    /// then writes can fail with SQLITE_BUSY when another writer got in between, where an
    /// immediate one simply waits its turn.
    pub(crate) async fn write(&self) -> Result<WriteTxn, DbErr> {
        let turn = match &self.gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        };
        let txn = self
            .conn
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?;
        Ok(WriteTxn { txn, _turn: turn })
    }

    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// Whether the database answers (for readiness checks).
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.conn.ping().await
    }

    /// Copies the SQLite write-ahead log into the database file without blocking writers (a
    /// no-op on PostgreSQL). Run it periodically in the background so that commits do not
    /// checkpoint.
    pub async fn checkpoint(&self) -> Result<(), DbErr> {
        if self.backend() == DbBackend::Sqlite {
            self.conn
                .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                .await?;
        }
        Ok(())
    }
}

impl From<DatabaseConnection> for Storage {
    fn from(conn: DatabaseConnection) -> Self {
        Self::new(conn)
    }
}

/// A write transaction and, on SQLite, this process's turn to write. The turn is released when
/// the transaction ends — by [`WriteTxn::commit`], or by a drop that rolls it back — never by
/// hand.
pub(crate) struct WriteTxn {
    // Declared first, so a dropped transaction starts its rollback before the turn is released.
    txn: DatabaseTransaction,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }
}
