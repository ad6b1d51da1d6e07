//! The database as the services use it: reads on the shared pool, writes only through
//! [`Storage::write`], a transaction that on SQLite also holds this process's turn to write, or
//! through the writes of statements alone built on it ([`Storage::write_statements`],
//! [`Storage::write_updating`]).
//!
//! On SQLite, writers that queue for the turn share one commit (group commit). A writer that
//! finishes while others wait leaves its transaction open for them instead of committing it;
//! each of them works in a savepoint of it, so a statement that fails undoes only its own
//! writer's work; the commit comes once nobody waits (or [`BATCH_MAX`] writers have joined), and
//! every writer is answered when the commit holding its work is done — never before. A WAL
//! commit writes every page its transaction changed to the log, and writers of a busy server
//! change the same pages (the tails of the messages table and its indexes), so one commit for
//! several writers writes them once.

mod combined;
mod grouped;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, Statement, TransactionOptions, TransactionTrait, Value,
};
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};

/// Where the statements of a [`Storage::write_updating`] after its first read the row the first
/// updated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UpdatedRow {
    /// In its table, as the first left it: the statements run one after another in one
    /// transaction.
    InTable,
    /// As the first returned it, under the name [`UPDATED`]: the statements run as one.
    Returned,
}

pub(crate) use combined::UPDATED;

/// Writers whose work one shared commit holds at most: the first of them waits for the others,
/// so this bounds how long.
const BATCH_MAX: usize = 32;

/// The connection pool and, on SQLite, the write gate. Clones share both: every part of one
/// process that writes (the services, the plugin store) must hold clones of one `Storage`.
#[derive(Clone)]
pub struct Storage {
    conn: DatabaseConnection,
    /// The connection writes go through: on SQLite one of its own (see [`writer_of`]), on
    /// PostgreSQL the pool.
    writer: DatabaseConnection,
    /// `None` on PostgreSQL, whose row locks order writers and whose commits of concurrent
    /// transactions already share their log flush.
    gate: Option<Arc<Gate>>,
}

/// SQLite's one writer at a time.
struct Gate {
    /// The turn to write, first come first served, and the transaction a writer left open for
    /// those queued behind it. Writers that find SQLite's lock taken wait in its busy handler,
    /// which sleeps in steps of up to 100 ms; queueing them here hands the lock over the moment
    /// it is free.
    turn: Arc<Mutex<Option<Batch>>>,
    /// Writers queued for the turn.
    waiting: AtomicUsize,
    /// Writes that are only statements, waiting to be sent together (see [`grouped`]).
    grouped: grouped::Queue,
}

/// A transaction shared by several writers, and how to tell each of them its outcome.
struct Batch {
    txn: DatabaseTransaction,
    joined: Vec<oneshot::Sender<Result<(), String>>>,
    /// A statement in it failed. The error may have been one after which SQLite rolls back the
    /// whole transaction (a full disk, an I/O error), and a SAVEPOINT outside a transaction
    /// would quietly begin a new one: the transaction is checked before anyone writes in it
    /// again or it is committed.
    unsettled: bool,
}

impl Batch {
    /// Whether the shared transaction is still open: SQLite refuses to begin another inside it.
    /// When it was not, the transaction the probe began is left open: the batch is dropped next,
    /// and its rollback then succeeds, which sets sqlx's count of the connection's open
    /// transactions right (a failed one leaves it at one, and the next BEGIN on that connection
    /// from the pool would be a savepoint, not an immediate transaction).
    async fn still_open(&self) -> bool {
        still_open(&self.txn).await
    }

    /// Tells every writer in it that its work is not committed (the transaction is dropped,
    /// rolling back whatever is left of it).
    fn fail(self, why: &str) {
        for writer in self.joined {
            writer.send(Err(why.to_owned())).ok();
        }
    }
}

/// Whether a SQLite transaction in which a statement failed is still open (see
/// [`Batch::still_open`]). Where it is not, the transaction the probe began is left open for
/// the caller's rollback to end, which sets sqlx's count of the connection's open transactions
/// right.
async fn still_open(txn: &DatabaseTransaction) -> bool {
    match txn.execute_unprepared("BEGIN").await {
        Err(e) => e.to_string().contains("within a transaction"),
        Ok(_) => false,
    }
}

const LOST: &str = "the shared transaction was rolled back by an earlier writer's error";
const GONE: &str = "the shared transaction is gone";

impl Storage {
    pub fn new(conn: DatabaseConnection) -> Self {
        let sqlite = conn.get_database_backend() == DbBackend::Sqlite;
        let gate = sqlite.then(|| {
            Arc::new(Gate {
                turn: Arc::new(Mutex::new(None)),
                waiting: AtomicUsize::new(0),
                grouped: grouped::Queue::default(),
            })
        });
        let writer = match sqlite {
            true => writer_of(&conn),
            false => conn.clone(),
        };
        Self { conn, writer, gate }
    }

    /// For reads. Writing through it would bypass the gate: use [`Self::write`].
    pub(crate) fn reader(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// The one way to write: a transaction holding, on SQLite, this process's turn to write —
    /// a savepoint of the transaction the writers before it left open, or a transaction of its
    /// own when there is none.
    pub(crate) async fn write(&self) -> Result<WriteTxn, DbErr> {
        let Some(gate) = &self.gate else {
            let txn = self.begin().await?;
            return Ok(WriteTxn::own(txn, None));
        };
        let held = settled(gate.queue().await).await;
        let turn = |held| Turn {
            gate: gate.clone(),
            held,
        };
        match held.is_some() {
            true => Ok(WriteTxn::joined(turn(held))),
            false => {
                let txn = self.begin().await?;
                Ok(WriteTxn::own(txn, Some(turn(held))))
            }
        }
    }

    /// A write that is only `statements`, known before the turn is taken: they run in order,
    /// under [`WriteTxn::run_together`]'s rules, and `keep` makes what the caller needs of the rows
    /// they return. That is returned once the write is committed; when `keep` makes nothing
    /// (`None`) the statements' work is undone, and the caller writes the long way.
    ///
    /// On SQLite the writes of this kind that queue meanwhile are sent to the connection in one
    /// trip and committed together (see [`grouped`]): `keep` then runs on another task, and other
    /// writers' statements may have run before its own in the same transaction (never between
    /// them). A caller that stops waiting before its rows are looked at has its statements
    /// undone, as a transaction of its own dropped before its commit; after that they are
    /// committed with the others. Never called while holding a [`WriteTxn`]: the leader waits
    /// for the turn that one holds.
    pub(crate) async fn write_statements<T: Send + 'static>(
        &self,
        statements: Vec<Statement>,
        keep: impl FnOnce(&[QueryResult]) -> Option<T> + Send + 'static,
    ) -> Result<Option<T>, DbErr> {
        let Some(gate) = &self.gate else {
            let txn = self.write().await?;
            let rows = txn.run_together(statements).await?;
            let Some(made) = keep(&rows) else {
                return Ok(None);
            };
            txn.commit().await?;
            return Ok(Some(made));
        };
        let (made, mut what_was_made) = oneshot::channel();
        let keep = Box::new(move |rows: &[QueryResult]| match keep(rows) {
            Some(value) => {
                made.send(value).ok();
                true
            }
            None => false,
        });
        let (told, outcome) = oneshot::channel();
        if gate.grouped.push(grouped::Entry {
            statements,
            keep,
            told,
        }) {
            tokio::spawn(grouped::lead(self.clone()));
        }
        match outcome.await {
            Ok(Ok(true)) => what_was_made.try_recv().map(Some).map_err(|_| {
                DbErr::Custom("a grouped write was committed without what it made".into())
            }),
            Ok(Ok(false)) => Ok(None),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(DbErr::Custom(
                "the grouped write holding this one was abandoned".into(),
            )),
        }
    }

    /// A write that is only statements, the first an update of one row that returns it, the
    /// others reading that row where `statements` is told ([`UpdatedRow`]); `read` makes what
    /// the caller needs of it. `None`, and nothing written, when the update found no row: each
    /// statement after the first must then write nothing (each reads the row, or is guarded by
    /// it), and none of them may return rows.
    ///
    /// On PostgreSQL they run as one statement committed on its own — one round trip, where a
    /// transaction costs three more (BEGIN, the update alone, COMMIT). It is one snapshot, taken
    /// before the update waits for its row: the others see nothing committed meanwhile but that
    /// row as the update left it, so a caller whose statements read more guards the update with
    /// what it read. Committed on its own, it is written once it ran: a caller that stops
    /// waiting does not undo it, and a row `read` cannot read is an error with the write
    /// committed (never retry on it; see [`crate::error`]'s `is_refused_statement`). On SQLite
    /// they run as [`Self::write_statements`], with the other writers': there a row `read`
    /// cannot read undoes the write (`None`).
    pub(crate) async fn write_updating<T: Send + 'static, E: From<DbErr>>(
        &self,
        statements: impl Fn(UpdatedRow) -> Result<Vec<Statement>, E>,
        read: impl FnOnce(&QueryResult) -> Result<T, DbErr> + Send + 'static,
    ) -> Result<Option<T>, E> {
        let one = match self.gate {
            Some(_) => None,
            None => combined::chained(statements(UpdatedRow::Returned)?),
        };
        let Some(one) = one else {
            let keep = |rows: &[QueryResult]| read(rows.first()?).ok();
            let statements = statements(UpdatedRow::InTable)?;
            return Ok(self.write_statements(statements, keep).await?);
        };
        let rows = self.writer.query_all_raw(one).await?;
        let made =
            rows.first().map(read).transpose().map_err(|e| {
                DbErr::Custom(format!("written, but its row did not read back: {e}"))
            })?;
        Ok(made)
    }

    /// Returns once the writes that joined a shared commit so far are committed, committing them
    /// now if they wait for writers still queued. A writer whose statement ran into a row that
    /// another writer's work holds (a unique index) calls it before it looks for that row on the
    /// pool, where uncommitted work does not show.
    pub(crate) async fn settle(&self) {
        if let Some(gate) = &self.gate {
            let held = gate.turn.clone().lock_owned().await;
            // A task of its own, as every commit of a batch: the others' answers hang on it.
            tokio::spawn(finish(held)).await.ok();
        }
    }

    /// On SQLite the transaction takes the write lock at BEGIN: a deferred transaction that
    /// reads and then writes can fail with SQLITE_BUSY when another writer got in between,
    /// where an immediate one simply waits its turn.
    async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.writer
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
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

/// SQLite's writes go through one connection of the pool's options, of its own: the gate lets
/// one writer in at a time anyway, and a connection keeps its caches — of pages, and of prepared
/// statements — only while no other connection writes. Writes spread over the pool's connections
/// left each to read back from the file the pages the others had changed, and to prepare every
/// statement anew. (An in-memory database is shared by name: the writer opens the same one.)
fn writer_of(conn: &DatabaseConnection) -> DatabaseConnection {
    let pool = conn.get_sqlite_connection_pool();
    let writer = sea_orm::sqlx::sqlite::SqlitePoolOptions::new()
        // Opened at the first write and kept: no ping at checkout (see
        // `crate::database::connect`), nor a connection closed for idling — its caches are the
        // point of it. (A pool that keeps a minimum open spawns a task for it, which a storage
        // made outside the runtime could not.)
        .max_connections(1)
        .test_before_acquire(false)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(pool.options().get_acquire_timeout())
        .connect_lazy_with((*pool.connect_options()).clone());
    sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(writer)
}

impl From<DatabaseConnection> for Storage {
    fn from(conn: DatabaseConnection) -> Self {
        Self::new(conn)
    }
}

impl Gate {
    /// Waits for the turn, counted among the waiting until it comes (or the wait is dropped).
    async fn queue(&self) -> OwnedMutexGuard<Option<Batch>> {
        struct Queued<'a>(&'a AtomicUsize);
        impl Drop for Queued<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _queued = Queued(&self.waiting);
        self.turn.clone().lock_owned().await
    }

    fn anyone_waiting(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) > 0
    }
}

/// The turn with the batch it holds known to be still open: one that an error may have rolled
/// back is checked first (in a task of its own, so that a writer dropped meanwhile cannot leave
/// the check half done), and failed if it is gone.
async fn settled(held: OwnedMutexGuard<Option<Batch>>) -> OwnedMutexGuard<Option<Batch>> {
    if !held.as_ref().is_some_and(|batch| batch.unsettled) {
        return held;
    }
    let gate = OwnedMutexGuard::mutex(&held).clone();
    let checked = tokio::spawn(async move {
        let mut held = held;
        if let Some(batch) = held.as_mut() {
            match batch.still_open().await {
                true => batch.unsettled = false,
                false => held.take().into_iter().for_each(|batch| batch.fail(LOST)),
            }
        }
        held
    });
    match checked.await {
        Ok(held) => held,
        // The check panicked: the batch, unchecked, is failed rather than joined.
        Err(_) => {
            let mut held = gate.lock_owned().await;
            if let Some(batch) = held.take() {
                batch.fail(LOST);
            }
            held
        }
    }
}

/// Commits the batch the turn holds, if any, and tells its writers; a task of its own, so that
/// no writer's cancelled request can leave the others without an answer.
async fn finish(mut held: OwnedMutexGuard<Option<Batch>>) {
    let Some(batch) = held.take() else {
        return;
    };
    if batch.unsettled && !batch.still_open().await {
        drop(held);
        return batch.fail(LOST);
    }
    let Batch { txn, joined, .. } = batch;
    let outcome = txn.commit().await.map_err(|e| e.to_string());
    drop(held);
    for writer in joined {
        // A writer that stopped waiting has nobody to tell.
        writer.send(outcome.clone()).ok();
    }
}

/// Takes the turn after the writers queued now, and commits the batch if it is still open: a
/// writer may stop waiting for its turn (its request dropped) after a batch was left open for it.
async fn flush(turn: Arc<Mutex<Option<Batch>>>) {
    finish(turn.lock_owned().await).await;
}

/// Undoes the work of a writer that joined the batch and did not commit, then lets the next
/// writer in. If that cannot be done the batch is failed: none of its writers is told its work
/// is committed when the transaction may hold a half-undone writer's.
async fn undo(mut held: OwnedMutexGuard<Option<Batch>>) {
    let Some(batch) = held.as_mut() else {
        return;
    };
    let undone = batch
        .txn
        .execute_unprepared(&format!("ROLLBACK TO {SAVEPOINT}; RELEASE {SAVEPOINT}"))
        .await;
    let outcome = match undone {
        Ok(_) => return,
        // Its SAVEPOINT did not run (it failed, leading the writer's first query): it wrote
        // nothing — unless the whole transaction is gone, which took the savepoint with it.
        Err(e) if e.to_string().contains("no such savepoint") && batch.still_open().await => {
            return;
        }
        Err(e) => format!("the shared transaction could not undo a writer's work: {e}"),
    };
    if let Some(batch) = held.take() {
        batch.fail(&outcome);
    }
}

/// A write transaction and, on SQLite, this process's turn to write. The turn is released when
/// the transaction ends — by [`WriteTxn::commit`], or by a drop that rolls back its work —
/// never by hand.
pub(crate) struct WriteTxn {
    work: Work,
    /// A statement failed. After some errors SQLite has rolled back the whole transaction,
    /// which a shared one must check before it goes on.
    failed: AtomicBool,
}

enum Work {
    /// A transaction of its own: on PostgreSQL always, on SQLite with the turn (`Some`), when
    /// no writer before it left one open.
    Own {
        // Declared first, so a dropped transaction starts its rollback before the turn is
        // released.
        txn: DatabaseTransaction,
        turn: Option<Turn>,
    },
    /// A savepoint of the transaction the turn holds.
    Joined(Joined),
    /// Committed, or handed to a task that ends it.
    Ended,
}

struct Turn {
    gate: Arc<Gate>,
    held: OwnedMutexGuard<Option<Batch>>,
}

/// A writer's savepoint in the shared transaction. Its SAVEPOINT is not sent on its own: it
/// goes to the connection's thread with the writer's first statements, and it is never
/// released (the shared commit takes it with it). Each statement sent on its own costs two
/// thread switches, more than most of the work (see [`WriteTxn::run_together`]).
///
/// Every writer's savepoint has the same name: ROLLBACK TO a name goes back to the latest
/// savepoint of that name, which is always the writer's holding the turn; and the queries it
/// begins are the same text for every writer, so sqlx's cache of prepared statements keeps one
/// of each. A writer's statements are sent one at a time (each awaited before the next), so
/// none can reach the connection before its SAVEPOINT.
struct Joined {
    /// `None` once committed.
    turn: Option<Turn>,
    /// Where its SAVEPOINT is (`NOT_SENT`, `IN_FLIGHT`, `BEGUN`): what a dropped writer has to
    /// undo.
    savepoint: AtomicU8,
}

/// A joined writer's SAVEPOINT not sent yet: a dropped writer has nothing to undo.
const NOT_SENT: u8 = 0;
/// Sent, and not answered yet: whether it ran is not known. A writer dropped then cannot be
/// undone by name — ROLLBACK TO would reach the savepoint of an earlier writer of the batch
/// when its own never ran — so the whole batch is failed.
const IN_FLIGHT: u8 = 1;
/// Answered: it ran (or, failing, the transaction is gone, which [`undo`] finds).
const BEGUN: u8 = 2;

/// The name of every joined writer's savepoint.
const SAVEPOINT: &str = "tandem_writer";
const BEGIN_SAVEPOINT: &str = "SAVEPOINT tandem_writer";

impl Joined {
    fn batch(&self) -> Result<&DatabaseTransaction, DbErr> {
        match self.turn.as_ref().and_then(|turn| turn.held.as_ref()) {
            Some(batch) => Ok(&batch.txn),
            None => Err(DbErr::Custom(GONE.into())),
        }
    }

    /// The SAVEPOINT to send before the statements, if it was not sent yet; [`Self::answered`]
    /// once the query carrying it is answered.
    fn begin(&self) -> Option<&'static str> {
        let sending = self.savepoint.compare_exchange(
            NOT_SENT,
            IN_FLIGHT,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
        sending.is_ok().then_some(BEGIN_SAVEPOINT)
    }

    fn answered(&self, begun: bool) {
        let now = if begun { BEGUN } else { NOT_SENT };
        self.savepoint.store(now, Ordering::SeqCst);
    }
}

impl Drop for Joined {
    /// A writer dropped before its commit: its work is undone before the turn passes on.
    fn drop(&mut self) {
        let Some(turn) = self.turn.take() else {
            return;
        };
        let runtime = tokio::runtime::Handle::try_current();
        let why = match (self.savepoint.load(Ordering::SeqCst), runtime) {
            (NOT_SENT, _) => return,
            (BEGUN, Ok(runtime)) => return drop(runtime.spawn(undo(turn.held))),
            (BEGUN, Err(_)) => "the shared transaction was dropped with the runtime",
            _ => "a writer was dropped while its savepoint was on its way",
        };
        // The whole batch is dropped, rolled back, rather than passed on with this writer's
        // work in it.
        let mut held = turn.held;
        if let Some(batch) = held.take() {
            batch.fail(why);
        }
    }
}

impl WriteTxn {
    fn own(txn: DatabaseTransaction, turn: Option<Turn>) -> Self {
        Self {
            work: Work::Own { txn, turn },
            failed: AtomicBool::new(false),
        }
    }

    /// A savepoint of the batch `turn` holds.
    fn joined(turn: Turn) -> Self {
        Self {
            work: Work::Joined(Joined {
                turn: Some(turn),
                savepoint: AtomicU8::new(NOT_SENT),
            }),
            failed: AtomicBool::new(false),
        }
    }

    /// Returns once the work is durable: committed alone, or with the writers that joined it.
    pub async fn commit(mut self) -> Result<(), DbErr> {
        let failed = self.failed.load(Ordering::SeqCst);
        let (gate, mut held) = match std::mem::replace(&mut self.work, Work::Ended) {
            Work::Ended => return Err(DbErr::Custom(GONE.into())),
            Work::Own { txn, turn: None } => return txn.commit().await,
            Work::Own {
                txn,
                turn: Some(Turn { gate, mut held }),
            } => {
                if failed && !still_open(&txn).await {
                    // SQLite rolled it back: a COMMIT would commit nothing of it.
                    drop(txn);
                    return Err(DbErr::Custom(LOST.into()));
                }
                if !gate.anyone_waiting() {
                    return txn.commit().await;
                }
                // The first writer: its transaction stays open for those queued behind it, and
                // a flush is queued after them in case none of them comes.
                tokio::spawn(flush(gate.turn.clone()));
                // A failed statement's transaction was found open above: settled.
                *held = Some(Batch {
                    txn,
                    joined: Vec::new(),
                    unsettled: false,
                });
                (gate, held)
            }
            Work::Joined(mut joined) => {
                // Its work becomes the batch's as it stands: nothing is sent.
                let Some(Turn { gate, mut held }) = joined.turn.take() else {
                    return Err(DbErr::Custom(GONE.into()));
                };
                if let Some(batch) = held.as_mut() {
                    batch.unsettled |= failed;
                }
                (gate, held)
            }
        };
        let Some(batch) = held.as_mut() else {
            return Err(DbErr::Custom(GONE.into()));
        };
        let (told, outcome) = oneshot::channel();
        batch.joined.push(told);
        if batch.joined.len() >= BATCH_MAX || !gate.anyone_waiting() {
            tokio::spawn(finish(held));
        } else {
            drop(held);
        }
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(DbErr::Custom(format!(
                "the commit holding this write failed: {e}"
            ))),
            Err(_) => Err(DbErr::Custom(
                "the commit holding this write was abandoned".into(),
            )),
        }
    }

    /// Runs the statements in order and returns the rows they return, all of them. A failed
    /// statement fails the call, the ones before it having run (the caller's transaction undoes
    /// them when it is dropped).
    ///
    /// On SQLite they go to the connection's thread as one query: each statement sent on its
    /// own costs two thread switches there and back, which on a busy machine cost more than
    /// the statements' work while the write turn waits on them. The statements' values are then
    /// bound in order across them, so each must use plain `?` placeholders (as sea-query writes
    /// them), never numbered ones (`?1`, `$1`), and must not end in a `--` comment.
    ///
    /// PostgreSQL cannot prepare several statements as one: there the first runs alone and the
    /// rest as parts of one statement, which all see the first's work but not one another's.
    /// So, on both: the statements after the first must not depend on one another's work nor
    /// touch the same rows, and only the first and the last may return rows.
    pub async fn run_together(
        &self,
        statements: Vec<Statement>,
    ) -> Result<Vec<QueryResult>, DbErr> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let backend = self.get_database_backend();
        if backend != DbBackend::Sqlite {
            return self.run_on_postgres(statements).await;
        }
        let mut sql = String::new();
        let mut values = Vec::new();
        for statement in statements {
            if !sql.is_empty() {
                sql.push_str(";\n");
            }
            sql.push_str(&statement.sql);
            values.extend(statement.values.map(|v| v.0).unwrap_or_default());
        }
        self.run_one(sql, values).await
    }

    /// Runs `sql`, SQLite statements whose values are bound in order across them, as one query
    /// (see [`Self::run_together`]), with the writer's SAVEPOINT before them when they are its
    /// first.
    async fn run_one(&self, sql: String, values: Vec<Value>) -> Result<Vec<QueryResult>, DbErr> {
        let (conn, savepoint) = self.conn()?;
        let sql = match savepoint {
            Some(savepoint) => format!("{savepoint};\n{sql}"),
            None => sql,
        };
        let together = Statement::from_sql_and_values(DbBackend::Sqlite, sql, values);
        let rows = conn.query_all_raw(together).await;
        if savepoint.is_some() {
            // It ran first: a failure was a later statement's, or the transaction is gone.
            self.answered(true);
        }
        self.noted(rows)
    }

    /// The joined writer's SAVEPOINT was answered: begun, or not.
    fn answered(&self, begun: bool) {
        if let Work::Joined(joined) = &self.work {
            joined.answered(begun);
        }
    }

    /// PostgreSQL cannot prepare several statements as one query: the first runs alone, and the
    /// rest as one statement (see [`combined::as_one`]) that sees the first's work — two round
    /// trips instead of one per statement. Statements that cannot be combined run one by one.
    async fn run_on_postgres(&self, statements: Vec<Statement>) -> Result<Vec<QueryResult>, DbErr> {
        let mut statements = statements.into_iter();
        let mut rows = Vec::new();
        if let Some(first) = statements.next() {
            rows.extend(self.query_all_raw(first).await?);
        }
        let rest: Vec<Statement> = statements.collect();
        if let Some(one) = combined::as_one(&rest) {
            rows.extend(self.query_all_raw(one).await?);
            return Ok(rows);
        }
        for statement in rest {
            rows.extend(self.query_all_raw(statement).await?);
        }
        Ok(rows)
    }

    /// The connection to send statements to and, for a writer that joined a shared transaction,
    /// its SAVEPOINT when the statements are its first.
    fn conn(&self) -> Result<(&DatabaseTransaction, Option<&'static str>), DbErr> {
        match &self.work {
            Work::Own { txn, .. } => Ok((txn, None)),
            Work::Joined(joined) => Ok((joined.batch()?, joined.begin())),
            Work::Ended => Err(DbErr::Custom(GONE.into())),
        }
    }

    /// The connection with the writer's savepoint begun in it, for a statement that cannot
    /// carry its SAVEPOINT along.
    async fn begun(&self) -> Result<&DatabaseTransaction, DbErr> {
        let (conn, savepoint) = self.conn()?;
        if let Some(savepoint) = savepoint {
            let begun = conn.execute_unprepared(savepoint).await;
            // Not begun, it is not to be undone; the next statement tries again.
            self.answered(begun.is_ok());
            self.noted(begun)?;
        }
        Ok(conn)
    }

    /// Notes a failed statement (see [`Batch::unsettled`]).
    fn noted<T>(&self, outcome: Result<T, DbErr>) -> Result<T, DbErr> {
        if outcome.is_err() {
            self.failed.store(true, Ordering::SeqCst);
        }
        outcome
    }
}

impl Drop for WriteTxn {
    /// A transaction of its own on SQLite in which a statement failed may have been rolled back
    /// by SQLite already (a full disk, an I/O error). Then sea-orm's ROLLBACK fails and sqlx
    /// goes on counting the transaction as open: the connection's next transactions would be
    /// savepoints, and after one of them rolled back, in a transaction never committed — on the
    /// one connection every write goes through. Such a transaction is ended in a task that
    /// first begins one again where it is gone, for the rollback to end; the turn is held until
    /// then.
    fn drop(&mut self) {
        let failed = *self.failed.get_mut();
        let sqlite = matches!(&self.work, Work::Own { turn: Some(_), .. });
        if !(failed && sqlite) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if let Work::Own { txn, turn } = std::mem::replace(&mut self.work, Work::Ended) {
            drop(runtime.spawn(async move {
                still_open(&txn).await;
                drop(txn);
                drop(turn);
            }));
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        match &self.work {
            Work::Own { txn, .. } => txn.get_database_backend(),
            // Ended is never seen: only the commit and the drop end a write.
            Work::Joined(_) | Work::Ended => DbBackend::Sqlite,
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let conn = self.begun().await?;
        self.noted(conn.execute_raw(stmt).await)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let conn = self.begun().await?;
        self.noted(conn.execute_unprepared(sql).await)
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let conn = self.begun().await?;
        self.noted(conn.query_one_raw(stmt).await)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let conn = self.begun().await?;
        self.noted(conn.query_all_raw(stmt).await)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::FutureExt;
    use tandem_testkit::test_db::TestDatabase;

    use super::*;
    use crate::error::is_unique_violation;

    pub(super) async fn storage() -> (TestDatabase, Storage) {
        let database = TestDatabase::sqlite().await;
        let conn = crate::database::connect(database.url()).await.unwrap();
        conn.execute_unprepared(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)",
        )
        .await
        .unwrap();
        (database, Storage::new(conn))
    }

    async fn add(txn: &WriteTxn, id: i64, body: &str) -> Result<(), DbErr> {
        let insert = Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "INSERT INTO notes (id, body) VALUES (?, ?)",
            [id.into(), body.into()],
        );
        txn.execute_raw(insert).await.map(drop)
    }

    /// The notes committed, as another connection reads them.
    pub(super) async fn committed(storage: &Storage) -> Vec<i64> {
        ids(storage.reader()).await
    }

    /// The notes `db` sees.
    async fn ids(db: &impl ConnectionTrait) -> Vec<i64> {
        let select = Statement::from_string(DbBackend::Sqlite, "SELECT id FROM notes ORDER BY id");
        let rows = db.query_all_raw(select).await.unwrap();
        rows.iter()
            .map(|row| row.try_get_by_index::<i64>(0).unwrap())
            .collect()
    }

    /// A writer of its own that takes its turn, adds the notes in one query and commits.
    fn spawn_writer(
        storage: &Storage,
        notes: &'static [(i64, &'static str)],
    ) -> tokio::task::JoinHandle<Result<(), DbErr>> {
        let storage = storage.clone();
        tokio::spawn(async move {
            let txn = storage.write().await?;
            let notes = notes.iter().map(|(id, body)| note(*id, body)).collect();
            txn.run_together(notes).await?;
            txn.commit().await
        })
    }

    async fn until_waiting(storage: &Storage, writers: usize) {
        let gate = storage.gate.as_ref().unwrap();
        while gate.waiting.load(Ordering::SeqCst) < writers {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    pub(super) fn note(id: i64, body: &str) -> Statement {
        Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "INSERT INTO notes (id, body) VALUES (?, ?)",
            [id.into(), body.into()],
        )
    }

    #[tokio::test]
    async fn statements_run_together_in_order_each_with_its_values_and_stop_at_a_failure() {
        let (_database, storage) = storage().await;
        let txn = storage.write().await.unwrap();
        let rename = Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "UPDATE notes SET body = ? WHERE id = ? RETURNING id, body",
            ["uno".into(), 1i64.into()],
        );
        let read = Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT id, body FROM notes WHERE id = ?",
            [2i64.into()],
        );
        let rows = txn
            .run_together(vec![note(1, "one"), rename, note(2, "two"), read])
            .await
            .unwrap();
        let rows: Vec<(i64, String)> = rows
            .iter()
            .map(|row| {
                (
                    row.try_get_by_index(0).unwrap(),
                    row.try_get_by_index(1).unwrap(),
                )
            })
            .collect();
        assert_eq!(rows, [(1, "uno".to_owned()), (2, "two".to_owned())]);
        txn.commit().await.unwrap();
        assert_eq!(committed(&storage).await, [1, 2]);

        let txn = storage.write().await.unwrap();
        let failed = txn
            .run_together(vec![note(3, "three"), note(4, "two"), note(5, "five")])
            .await
            .expect_err("a body used twice");
        assert!(is_unique_violation(&failed), "{failed}");
        assert_eq!(
            ids(&txn).await,
            [1, 2, 3],
            "the statements before the failure ran, none after"
        );
        drop(txn);
        assert_eq!(committed(&storage).await, [1, 2]);
    }

    #[tokio::test]
    async fn on_postgres_the_statements_after_the_first_run_as_one_that_sees_its_work() {
        let Some(database) = TestDatabase::postgres().await else {
            return;
        };
        let conn = crate::database::connect(database.url()).await.unwrap();
        conn.execute_unprepared(
            "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL UNIQUE, \
             parent BIGINT REFERENCES notes (id))",
        )
        .await
        .unwrap();
        let storage = Storage::new(conn);
        let pg = |sql: &str, values: Vec<sea_orm::Value>| {
            Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
        };
        let txn = storage.write().await.unwrap();
        let rows = txn
            .run_together(vec![
                pg(
                    "INSERT INTO notes (id, body) VALUES ($1, $2) RETURNING id",
                    vec![1i64.into(), "one".into()],
                ),
                // Sees the first's note; the note after it refers to one its sibling writes.
                pg(
                    "UPDATE notes SET body = $1 WHERE id = $2",
                    vec!["uno".into(), 1i64.into()],
                ),
                pg(
                    "INSERT INTO notes (id, body, parent) VALUES ($1, $2, $3)",
                    vec![3i64.into(), "three".into(), 2i64.into()],
                ),
                pg(
                    "INSERT INTO notes (id, body, parent) VALUES ($1, $2, $3) RETURNING id, body",
                    vec![2i64.into(), "two".into(), 1i64.into()],
                ),
            ])
            .await
            .unwrap();
        let returned: Vec<i64> = rows
            .iter()
            .map(|row| row.try_get_by_index(0).unwrap())
            .collect();
        assert_eq!(returned, [1, 2], "the first's rows and the last's");
        txn.commit().await.unwrap();
        let select = Statement::from_string(
            DbBackend::Postgres,
            "SELECT id, body FROM notes ORDER BY id",
        );
        let notes: Vec<(i64, String)> = storage
            .reader()
            .query_all_raw(select)
            .await
            .unwrap()
            .iter()
            .map(|row| {
                (
                    row.try_get_by_index(0).unwrap(),
                    row.try_get_by_index(1).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            notes,
            [(1, "uno".into()), (2, "two".into()), (3, "three".into())]
        );

        // A failure anywhere in them fails the call and, rolled back, leaves nothing.
        let txn = storage.write().await.unwrap();
        let failed = txn
            .run_together(vec![
                pg("DELETE FROM notes WHERE id = $1", vec![3i64.into()]),
                pg(
                    "INSERT INTO notes (id, body) VALUES ($1, $2)",
                    vec![4i64.into(), "four".into()],
                ),
                pg(
                    "INSERT INTO notes (id, body) VALUES ($1, $2)",
                    vec![5i64.into(), "uno".into()],
                ),
            ])
            .await
            .expect_err("a body used twice");
        assert!(is_unique_violation(&failed), "{failed}");
        drop(txn);
        let count = Statement::from_string(DbBackend::Postgres, "SELECT count(*) FROM notes");
        let row = storage
            .reader()
            .query_one_raw(count.clone())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 3);

        // A write of statements alone commits what its check keeps, and only that.
        let insert = |id: i64, body: &str| {
            vec![pg(
                "INSERT INTO notes (id, body) VALUES ($1, $2) RETURNING id",
                vec![id.into(), body.into()],
            )]
        };
        let id = |rows: &[QueryResult]| rows.first()?.try_get_by_index::<i64>(0).ok();
        let kept = storage.write_statements(insert(6, "six"), id).await;
        assert_eq!(kept.unwrap(), Some(6));
        let refused = storage
            .write_statements(insert(7, "seven"), |_| None::<()>)
            .await;
        assert_eq!(refused.unwrap(), None);
        let row = storage
            .reader()
            .query_one_raw(count)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 4, "six, not seven");
    }

    #[tokio::test]
    async fn writers_queued_behind_one_share_its_commit_a_failed_one_undoing_only_its_own_work() {
        let (_database, storage) = storage().await;
        let first = storage.write().await.unwrap();
        add(&first, 1, "one").await.unwrap();

        let (wrote, written) = oneshot::channel();
        let (go_on, held) = oneshot::channel::<()>();
        let second = tokio::spawn({
            let storage = storage.clone();
            async move {
                let txn = storage.write().await?;
                add(&txn, 2, "two").await?;
                wrote.send(()).ok();
                held.await.ok();
                txn.commit().await
            }
        });
        until_waiting(&storage, 1).await;
        // Its second note is the first writer's body, seen in the transaction they share.
        let failing = spawn_writer(&storage, &[(3, "three"), (5, "one")]);
        until_waiting(&storage, 2).await;
        let third = spawn_writer(&storage, &[(4, "four")]);
        until_waiting(&storage, 3).await;

        let first = tokio::spawn(first.commit());
        written.await.unwrap();
        // The second writer works in the first's transaction: nothing is committed yet, and the
        // first is not told its work is done.
        assert_eq!(committed(&storage).await, Vec::<i64>::new());
        assert!(!first.is_finished());

        go_on.send(()).unwrap();
        let outcomes = tokio::time::timeout(Duration::from_secs(30), async {
            (
                first.await.unwrap(),
                second.await.unwrap(),
                failing.await.unwrap(),
                third.await.unwrap(),
            )
        })
        .await
        .expect("every writer is answered");
        outcomes.0.unwrap();
        outcomes.1.unwrap();
        assert!(is_unique_violation(&outcomes.2.unwrap_err()));
        outcomes.3.unwrap();
        assert_eq!(committed(&storage).await, vec![1, 2, 4]);
    }

    #[tokio::test]
    async fn a_writer_dropped_after_writing_in_the_shared_transaction_leaves_nothing_of_its_work() {
        let (_database, storage) = storage().await;
        let first = storage.write().await.unwrap();
        add(&first, 1, "one").await.unwrap();

        let (wrote, written) = oneshot::channel();
        let (go_on, held) = oneshot::channel::<()>();
        let dropped = tokio::spawn({
            let storage = storage.clone();
            async move {
                let txn = storage.write().await.unwrap();
                txn.run_together(vec![note(2, "two"), note(3, "three")])
                    .await
                    .unwrap();
                wrote.send(()).ok();
                held.await.ok();
                drop(txn);
            }
        });
        until_waiting(&storage, 1).await;
        // Joins, writes nothing and goes: nothing of it to undo.
        let idle = tokio::spawn({
            let storage = storage.clone();
            async move { drop(storage.write().await.unwrap()) }
        });
        until_waiting(&storage, 2).await;
        // Its note takes the dropped writer's body: it is refused unless that work was undone.
        let after = spawn_writer(&storage, &[(4, "two")]);
        until_waiting(&storage, 3).await;

        let first = tokio::spawn(first.commit());
        written.await.unwrap();
        go_on.send(()).unwrap();
        let outcomes = tokio::time::timeout(Duration::from_secs(30), async {
            dropped.await.unwrap();
            idle.await.unwrap();
            (first.await.unwrap(), after.await.unwrap())
        })
        .await
        .expect("every writer is answered");
        outcomes.0.unwrap();
        outcomes.1.unwrap();
        assert_eq!(committed(&storage).await, vec![1, 4]);
    }

    #[tokio::test]
    async fn a_transaction_left_open_for_a_writer_that_stops_waiting_is_still_committed() {
        let (_database, storage) = storage().await;
        let first = storage.write().await.unwrap();
        add(&first, 1, "one").await.unwrap();
        // A writer queues for the turn (its request is then dropped, before its turn comes).
        let mut gone = Box::pin(storage.write());
        assert!((&mut gone).now_or_never().is_none());
        until_waiting(&storage, 1).await;

        let first = tokio::spawn(first.commit());
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(gone);
        tokio::time::timeout(Duration::from_secs(30), first)
            .await
            .expect("the first writer is answered")
            .unwrap()
            .unwrap();
        assert_eq!(committed(&storage).await, vec![1]);
    }

    #[tokio::test]
    async fn a_writer_dropped_as_its_turn_comes_leaves_the_shared_commit_whole() {
        for wait_micros in [0, 50, 200, 1_000, 5_000] {
            let (_database, storage) = storage().await;
            let first = storage.write().await.unwrap();
            add(&first, 1, "one").await.unwrap();
            let gone = tokio::spawn({
                let storage = storage.clone();
                async move { storage.write().await.map(drop) }
            });
            until_waiting(&storage, 1).await;
            let first = tokio::spawn(first.commit());
            // The second writer is dropped somewhere in taking its turn and its savepoint.
            tokio::time::sleep(Duration::from_micros(wait_micros)).await;
            gone.abort();
            tokio::time::timeout(Duration::from_secs(30), first)
                .await
                .expect("the first writer is answered")
                .unwrap()
                .unwrap();
            assert_eq!(
                committed(&storage).await,
                vec![1],
                "dropped after {wait_micros} µs"
            );
        }
    }

    #[tokio::test]
    async fn an_error_that_rolls_back_the_whole_shared_transaction_fails_every_writer_in_it() {
        // The breaking writer gives up on its error, or ignores it and commits.
        for commits_anyway in [false, true] {
            let (_database, storage) = storage().await;
            let first = storage.write().await.unwrap();
            add(&first, 1, "one").await.unwrap();
            let breaking = tokio::spawn({
                let storage = storage.clone();
                async move {
                    let txn = storage.write().await?;
                    // As a full disk would: SQLite rolls back the whole transaction.
                    let insert = "INSERT OR ROLLBACK INTO notes (id, body) VALUES (2, 'one')";
                    let failed = txn.execute_unprepared(insert).await.map(drop);
                    match commits_anyway {
                        true => txn.commit().await,
                        false => failed,
                    }
                }
            });
            until_waiting(&storage, 1).await;
            let after = spawn_writer(&storage, &[(3, "three")]);
            until_waiting(&storage, 2).await;
            let first = tokio::spawn(first.commit());
            let outcomes = tokio::time::timeout(Duration::from_secs(30), async {
                (
                    first.await.unwrap(),
                    breaking.await.unwrap(),
                    after.await.unwrap(),
                )
            })
            .await
            .expect("every writer is answered");
            assert!(outcomes.0.is_err(), "the first writer's work is gone");
            assert!(outcomes.1.is_err(), "the breaking writer's too");
            // The writer after them finds the shared transaction gone and writes in one of its
            // own, not in one begun by its first statement: it commits.
            outcomes.2.unwrap();
            assert_eq!(
                committed(&storage).await,
                [3],
                "commits anyway: {commits_anyway}"
            );
        }
    }

    #[tokio::test]
    async fn a_transaction_sqlite_rolled_back_leaves_the_writers_connection_whole() {
        // The writer gives up on its error, or ignores it and commits.
        for commits_anyway in [false, true] {
            let (_database, storage) = storage().await;
            let txn = storage.write().await.unwrap();
            add(&txn, 1, "one").await.unwrap();
            // As a full disk would: SQLite rolls back the whole transaction.
            let insert = "INSERT OR ROLLBACK INTO notes (id, body) VALUES (2, 'one')";
            txn.execute_unprepared(insert)
                .await
                .expect_err("a body used twice");
            match commits_anyway {
                true => drop(txn.commit().await.expect_err("nothing of it is left")),
                false => drop(txn),
            }
            // The next writers' transactions are transactions, not savepoints in one that a
            // rollback would leave open: one dropped, then one committed.
            let dropped = storage.write().await.unwrap();
            add(&dropped, 3, "three").await.unwrap();
            drop(dropped);
            let next = storage.write().await.unwrap();
            add(&next, 4, "four").await.unwrap();
            next.commit().await.unwrap();
            assert_eq!(
                committed(&storage).await,
                [4],
                "commits anyway: {commits_anyway}"
            );
        }
    }

    #[tokio::test]
    async fn a_writer_alone_commits_at_once_and_a_dropped_one_leaves_nothing() {
        let (_database, storage) = storage().await;
        let dropped = storage.write().await.unwrap();
        add(&dropped, 1, "one").await.unwrap();
        drop(dropped);
        let alone = storage.write().await.unwrap();
        add(&alone, 2, "two").await.unwrap();
        alone.commit().await.unwrap();
        assert_eq!(committed(&storage).await, vec![2]);
    }
}
