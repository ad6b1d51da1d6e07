//! Writes known in full before the turn to write is taken — their statements, and a check of
//! what those return — sent to SQLite's connection thread several at a time.
//!
//! A writer holding the turn sends its statements to the connection's own thread and waits for
//! the answer, then hands the turn to the next writer's task: thread switches that, on a small
//! busy machine, cost more than the statements' work, one writer after another. Writers whose
//! work is only statements queue here instead. One task, the leader, takes the turn and sends
//! the queued writers' statements as one query — each writer's after a savepoint of its own and
//! followed by a marker row that ends its rows — then commits them together and answers each.
//!
//! Each writer's check decides on what its own statements returned: keep them, or have them
//! undone (rolled back to its savepoint; the writers sent after it are sent again) so that its
//! caller writes the long way. A failed statement fails only its writer: the query it stopped is
//! undone and its writers are sent again one at a time.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use sea_orm::{DbErr, QueryResult, Statement, Value};
use tokio::sync::oneshot;

use super::{BATCH_MAX, Storage, WriteTxn};

/// What a writer is told: `Ok(true)` its statements are committed, `Ok(false)` they are undone
/// (its check did not keep them).
pub(super) type Told = oneshot::Sender<Result<bool, DbErr>>;

/// A writer's check of the rows its statements return: keep them (`true`), or have the
/// statements' work undone.
pub(super) type Check = Box<dyn FnOnce(&[QueryResult]) -> bool + Send>;

/// A writer's statements, its check of what they return, and how to tell it the outcome.
pub(super) struct Entry {
    pub(super) statements: Vec<Statement>,
    pub(super) keep: Check,
    pub(super) told: Told,
}

/// Writers waiting for the leader, and whether one is at work.
#[derive(Default)]
pub(super) struct Queue {
    entries: Mutex<VecDeque<Entry>>,
    leading: AtomicBool,
}

/// The column of the row that ends a writer's rows. No table of Tandem's has it.
const END: &str = "tandem_entry_end";

impl Queue {
    /// Queues the entry; `true` when no leader is at work, and the caller must start one.
    pub(super) fn push(&self, entry: Entry) -> bool {
        self.lock().push_back(entry);
        !self.leading.swap(true, Ordering::SeqCst)
    }

    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }

    fn take(&self, most: usize) -> Vec<Entry> {
        let mut entries = self.lock();
        let n = most.min(entries.len());
        entries.drain(..n).collect()
    }

    /// A panic while the lock was held left no entry half-queued: the queue is usable as is.
    fn lock(&self) -> MutexGuard<'_, VecDeque<Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The leader: writes what is queued until nothing is.
pub(super) async fn lead(storage: Storage) {
    let Some(gate) = storage.gate.clone() else {
        return;
    };
    let _leading = Leading(storage.clone());
    while gate.grouped.len() > 0 {
        write_queued(&storage, &gate.grouped).await;
    }
}

/// Clears the leader's flag when it stops — its queue empty, or a writer's check panicked — and
/// starts another leader for writers that queued meanwhile (they saw this one at work).
struct Leading(Storage);

impl Drop for Leading {
    fn drop(&mut self) {
        let Some(gate) = &self.0.gate else {
            return;
        };
        let queue = &gate.grouped;
        queue.leading.store(false, Ordering::SeqCst);
        if queue.len() > 0 && !queue.leading.swap(true, Ordering::SeqCst) {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn(lead(self.0.clone()))),
                // The process is going, and its writers with it.
                Err(_) => queue.leading.store(false, Ordering::SeqCst),
            }
        }
    }
}

/// Takes the turn, writes queued entries — up to [`BATCH_MAX`] of them, in as many trips as the
/// queue fills — and commits them together, then tells each its outcome.
async fn write_queued(storage: &Storage, queue: &Queue) {
    let txn = match storage.write().await {
        Ok(txn) => txn,
        Err(e) => return fail(queue.take(BATCH_MAX), &e),
    };
    let mut kept = Vec::new();
    let mut taken = 0;
    // Entries to send together, and entries to send one at a time (a query of several failed).
    let mut together: VecDeque<Entry> = VecDeque::new();
    let mut alone: VecDeque<Entry> = VecDeque::new();
    loop {
        if together.is_empty() && alone.is_empty() {
            let more = queue.take(BATCH_MAX - taken);
            if more.is_empty() {
                break;
            }
            taken += more.len();
            // A writer that stopped waiting (its request dropped) is not written.
            together.extend(more.into_iter().filter(|entry| !entry.told.is_closed()));
            if together.is_empty() {
                continue;
            }
        }
        let trip: Vec<Entry> = match alone.pop_front() {
            Some(entry) => vec![entry],
            None => in_kinds(together.drain(..).collect()),
        };
        let sent = send(&txn, query_of(&trip), trip.len()).await;
        let undone = match sent {
            Ok(rows) => keep_or_undo(&txn, trip, rows, &mut kept, &mut together).await,
            Err(e) => {
                let undone = undo_from(&txn, 0).await;
                match trip.len() {
                    1 => fail(trip, &e),
                    _ => alone.extend(trip),
                }
                undone
            }
        };
        if let Err(e) = undone {
            // The transaction cannot go back to a savepoint: whatever it holds is lost.
            let e = DbErr::Custom(format!("a grouped write could not be undone: {e}"));
            kept.into_iter()
                .for_each(|told| drop(told.send(Err(e.clone()))));
            return fail(together.into_iter().chain(alone), &e);
        }
    }
    let outcome = txn.commit().await.map(|()| true);
    for told in kept {
        // A writer that stopped waiting has nobody to tell.
        told.send(outcome.clone()).ok();
    }
}

/// Runs each entry's check on its rows, in order, up to the first that does not keep them: its
/// work and the work of the entries after it is undone, it is told so, and those after it go back
/// to `together` to be sent again.
async fn keep_or_undo(
    txn: &WriteTxn,
    trip: Vec<Entry>,
    rows: Vec<Vec<QueryResult>>,
    kept: &mut Vec<Told>,
    together: &mut VecDeque<Entry>,
) -> Result<(), DbErr> {
    let mut checked = trip.into_iter().zip(rows).enumerate();
    for (i, (entry, rows)) in checked.by_ref() {
        // A writer that stopped waiting meanwhile is undone, as a transaction of its own would
        // be if dropped before its commit.
        if !entry.told.is_closed() && (entry.keep)(&rows) {
            kept.push(entry.told);
            continue;
        }
        let undone = undo_from(txn, i).await;
        entry.told.send(Ok(false)).ok();
        together.extend(checked.map(|(_, (entry, _))| entry));
        return undone;
    }
    Ok(())
}

/// The entries ordered by their statements' text, so that a trip's query is one of few: sqlx
/// keeps each query's prepared statements, and writers of a few kinds arriving in every order
/// would make almost every trip's text new. Their order does not matter: they are concurrent
/// writers' (a writer waits for its write before it makes the next).
fn in_kinds(mut entries: Vec<Entry>) -> Vec<Entry> {
    entries.sort_by(|a, b| texts(a).cmp(texts(b)));
    entries
}

fn texts(entry: &Entry) -> impl Iterator<Item = &str> {
    entry
        .statements
        .iter()
        .map(|statement| statement.sql.as_str())
}

/// Sends a trip's query (see [`query_of`]) and returns each of its `writers`' rows.
async fn send(
    txn: &WriteTxn,
    (sql, values): (String, Vec<Value>),
    writers: usize,
) -> Result<Vec<Vec<QueryResult>>, DbErr> {
    let rows = txn.run_one(sql, values).await?;
    let mut each = Vec::with_capacity(writers);
    let mut current = Vec::new();
    for row in rows {
        match row.try_get::<i64>("", END).is_ok() {
            true => each.push(std::mem::take(&mut current)),
            false => current.push(row),
        }
    }
    if each.len() != writers || !current.is_empty() {
        return Err(DbErr::Custom(format!(
            "a grouped write's rows ended {} times for {writers} writers",
            each.len(),
        )));
    }
    Ok(each)
}

/// The trip's query, its SQL and its values in the order they bind: the entries' statements,
/// each entry's after its savepoint and followed by its end row.
fn query_of(trip: &[Entry]) -> (String, Vec<Value>) {
    let mut sql = String::new();
    let mut values: Vec<Value> = Vec::new();
    for (i, entry) in trip.iter().enumerate() {
        if i > 0 {
            sql.push_str(";\n");
        }
        writeln!(sql, "SAVEPOINT tandem_entry_{i};").ok();
        for statement in &entry.statements {
            sql.push_str(&statement.sql);
            sql.push_str(";\n");
            values.extend(statement.values.iter().flat_map(|v| v.0.iter().cloned()));
        }
        write!(sql, "SELECT 1 AS {END}").ok();
    }
    (sql, values)
}

/// Undoes the work of the trip's entries from the `i`th on.
async fn undo_from(txn: &WriteTxn, i: usize) -> Result<(), DbErr> {
    txn.run_one(format!("ROLLBACK TO tandem_entry_{i}"), Vec::new())
        .await
        .map(drop)
}

fn fail(entries: impl IntoIterator<Item = Entry>, e: &DbErr) {
    for entry in entries {
        entry.told.send(Err(e.clone())).ok();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sea_orm::DbBackend;

    use super::super::tests::{committed, note, storage};
    use super::*;
    use crate::error::is_unique_violation;

    /// A note's insert that returns the note's id and body.
    fn returning(id: i64, body: &str) -> Vec<Statement> {
        vec![Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "INSERT INTO notes (id, body) VALUES (?, ?) RETURNING id, body",
            [id.into(), body.into()],
        )]
    }

    fn read(rows: &[QueryResult]) -> Option<Vec<(i64, String)>> {
        let read =
            |row: &QueryResult| Some((row.try_get("", "id").ok()?, row.try_get("", "body").ok()?));
        rows.iter().map(read).collect()
    }

    type Keep = Box<dyn FnOnce(&[QueryResult]) -> Option<Vec<(i64, String)>> + Send>;
    type Outcome = Result<Option<Vec<(i64, String)>>, DbErr>;

    fn kept() -> Keep {
        Box::new(read)
    }

    /// Who holds the turn while the writes queue: a writer, whose transaction is left open for
    /// the leader to join, or nobody's transaction (the leader begins its own).
    #[derive(Clone, Copy, Debug)]
    enum Held {
        ByWriter,
        Bare,
    }

    const BOTH: [Held; 2] = [Held::ByWriter, Held::Bare];

    /// Queues each write while the turn is held, so that the leader finds them all queued, then
    /// lets the turn go; returns each write's outcome.
    async fn queued_together(
        storage: &Storage,
        held: Held,
        writes: Vec<(Vec<Statement>, Keep)>,
    ) -> Vec<Outcome> {
        let gate = storage.gate.clone().unwrap();
        let (holder, bare) = match held {
            Held::ByWriter => (Some(storage.write().await.unwrap()), None),
            Held::Bare => (None, Some(gate.turn.clone().lock_owned().await)),
        };
        let queued = writes.len();
        let mut handles = Vec::new();
        for (statements, keep) in writes {
            let writer = storage.clone();
            handles.push(tokio::spawn(async move {
                writer.write_statements(statements, keep).await
            }));
            // In order: each queued before the next is spawned.
            while gate.grouped.len() < handles.len() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        assert_eq!(gate.grouped.len(), queued);
        if let Some(holder) = holder {
            // It wrote nothing: its outcome is the shared transaction's, which the writes tell.
            holder.commit().await.ok();
        }
        drop(bare);
        let mut outcomes = Vec::new();
        for handle in handles {
            outcomes.push(handle.await.unwrap());
        }
        outcomes
    }

    fn rows(id: i64, body: &str) -> Option<Vec<(i64, String)>> {
        Some(vec![(id, body.to_owned())])
    }

    #[tokio::test]
    async fn writes_queued_together_each_get_their_own_rows_and_are_all_committed() {
        for held in BOTH {
            let (_database, storage) = storage().await;
            let writes = vec![
                (returning(1, "one"), kept()),
                // Two statements, one returning no row.
                (
                    [vec![note(2, "two")], returning(3, "three")].concat(),
                    kept(),
                ),
                (vec![note(4, "four")], kept()),
            ];
            let outcomes: Vec<_> = queued_together(&storage, held, writes)
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
            let expected = [rows(1, "one"), rows(3, "three"), Some(vec![])];
            assert_eq!(outcomes, expected, "{held:?}");
            assert_eq!(committed(&storage).await, [1, 2, 3, 4], "{held:?}");
        }
    }

    #[tokio::test]
    async fn a_failed_statement_fails_only_its_own_write() {
        for held in BOTH {
            let (_database, storage) = storage().await;
            let before = storage.write_statements(returning(0, "zero"), read).await;
            assert_eq!(before.unwrap(), rows(0, "zero"));
            let writes = vec![
                (returning(1, "one"), kept()),
                // Its first statement runs, its second fails: neither stays.
                (
                    [vec![note(2, "two")], returning(3, "zero")].concat(),
                    kept(),
                ),
                (returning(4, "four"), kept()),
            ];
            let mut outcomes = queued_together(&storage, held, writes).await.into_iter();
            assert_eq!(outcomes.next().unwrap().unwrap(), rows(1, "one"));
            let failed = outcomes.next().unwrap().expect_err("a body used twice");
            assert!(is_unique_violation(&failed), "{failed}");
            assert_eq!(outcomes.next().unwrap().unwrap(), rows(4, "four"));
            assert_eq!(committed(&storage).await, [0, 1, 4], "{held:?}");
        }
    }

    #[tokio::test]
    async fn a_write_its_check_does_not_keep_leaves_nothing_and_the_writes_after_it_stand() {
        for held in BOTH {
            let (_database, storage) = storage().await;
            let refused: Keep = Box::new(|rows| {
                assert_eq!(
                    read(rows).unwrap(),
                    [(3, "three".to_owned())],
                    "its own rows"
                );
                None
            });
            let writes = vec![
                (returning(1, "one"), kept()),
                (
                    [vec![note(2, "two")], returning(3, "three")].concat(),
                    refused,
                ),
                // Sent after the refused one, undone with it, and sent again.
                (returning(4, "four"), kept()),
            ];
            let outcomes: Vec<_> = queued_together(&storage, held, writes)
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
            assert_eq!(
                outcomes,
                [rows(1, "one"), None, rows(4, "four")],
                "{held:?}"
            );
            assert_eq!(committed(&storage).await, [1, 4], "{held:?}");
        }
    }

    /// As the replies of one second share their job's row: each inserts it unless it is there.
    fn shared_row() -> Statement {
        Statement::from_string(
            DbBackend::Sqlite,
            "INSERT INTO notes (id, body) VALUES (100, 'shared') ON CONFLICT (body) DO NOTHING",
        )
    }

    #[tokio::test]
    async fn a_row_two_writes_insert_unless_there_stays_when_the_first_is_undone() {
        for held in BOTH {
            let (_database, storage) = storage().await;
            let refused: Keep = Box::new(|_| None);
            let writes = vec![
                // Inserts the shared row, then is undone: the second's insert, which found the
                // row there and did nothing, is sent again and inserts it.
                ([vec![shared_row()], returning(1, "one")].concat(), refused),
                ([vec![shared_row()], returning(2, "two")].concat(), kept()),
            ];
            let outcomes: Vec<_> = queued_together(&storage, held, writes)
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
            assert_eq!(outcomes, [None, rows(2, "two")], "{held:?}");
            assert_eq!(committed(&storage).await, [2, 100], "{held:?}");
        }
    }

    #[tokio::test]
    async fn after_an_error_that_rolls_back_the_whole_transaction_its_writes_fail_and_later_ones_commit()
     {
        for held in BOTH {
            let (_database, storage) = storage().await;
            // As a full disk would: SQLite rolls back the whole transaction.
            let breaking = Statement::from_string(
                DbBackend::Sqlite,
                "INSERT OR ROLLBACK INTO notes (id, body) VALUES (2, 'one')",
            );
            let writes = vec![
                (returning(1, "one"), kept()),
                (vec![breaking], kept()),
                (returning(3, "three"), kept()),
            ];
            for outcome in queued_together(&storage, held, writes).await {
                outcome.expect_err("the transaction holding it is gone");
            }
            assert_eq!(committed(&storage).await, Vec::<i64>::new(), "{held:?}");
            // The one connection writes go through is whole again: a writer dropped (rolled
            // back) after it leaves no transaction open for the next.
            let dropped = storage.write().await.unwrap();
            dropped.run_together(vec![note(5, "five")]).await.unwrap();
            drop(dropped);
            let later = storage.write_statements(returning(4, "four"), read).await;
            assert_eq!(later.unwrap(), rows(4, "four"), "{held:?}");
            assert_eq!(committed(&storage).await, [4], "{held:?}");
        }
    }

    #[tokio::test]
    async fn a_check_that_panics_fails_its_batch_and_later_writes_go_on() {
        let (_database, storage) = storage().await;
        let panics: Keep = Box::new(|_| panic!("a check gone wrong"));
        let writes = vec![(returning(1, "one"), kept()), (returning(2, "two"), panics)];
        for outcome in queued_together(&storage, Held::Bare, writes).await {
            outcome.expect_err("the batch was abandoned");
        }
        assert_eq!(committed(&storage).await, Vec::<i64>::new());
        let later = storage.write_statements(returning(3, "three"), read).await;
        assert_eq!(later.unwrap(), rows(3, "three"));
        assert_eq!(committed(&storage).await, [3]);
    }

    #[tokio::test]
    async fn a_write_whose_caller_stopped_waiting_before_it_was_sent_is_not_written() {
        let (_database, storage) = storage().await;
        let gate = storage.gate.clone().unwrap();
        let held = gate.turn.clone().lock_owned().await;
        let gone = {
            let storage = storage.clone();
            tokio::spawn(async move { storage.write_statements(returning(1, "one"), read).await })
        };
        while gate.grouped.len() < 1 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        gone.abort();
        assert!(gone.await.unwrap_err().is_cancelled());
        drop(held);
        let later = storage.write_statements(returning(2, "two"), read).await;
        assert_eq!(later.unwrap(), rows(2, "two"));
        assert_eq!(committed(&storage).await, [2]);
    }

    #[tokio::test]
    async fn many_writers_at_once_are_each_committed_once() {
        let (_database, storage) = storage().await;
        let writers = (0..200).map(|id| {
            let storage = storage.clone();
            tokio::spawn(async move {
                let body = format!("note {id}");
                storage.write_statements(returning(id, &body), read).await
            })
        });
        for (id, writer) in writers.collect::<Vec<_>>().into_iter().enumerate() {
            let rows = writer.await.unwrap().unwrap();
            assert_eq!(rows, Some(vec![(id as i64, format!("note {id}"))]));
        }
        assert_eq!(committed(&storage).await, (0..200).collect::<Vec<i64>>());
    }
}
