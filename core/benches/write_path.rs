//! The hot write path: a visitor message, and an operator reply with its unread-reply outbox row,
//! each one committed transaction through the real services, on SQLite (WAL) and PostgreSQL.
//!
//! `cargo bench -p tandem-core --bench write_path` — PostgreSQL too when
//! `TANDEM_TEST_POSTGRES_URL` is set. Three runs of `BENCH_PAIRS` × 2 (default 10,000) messages
//! by `BENCH_CONCURRENCY` (default 4) concurrent writers over `BENCH_CHATS` (default 200) chats:
//! visitor messages only, operator replies only, then visitor+reply pairs. Reports persisted
//! messages per second and per-write latency percentiles, and beside them on SQLite the floor:
//! bare single-row and 100-row insert transactions with the same PRAGMAs.
//! Beside each run, the machine's worst hiccup in it: how late a thread that only sleeps 1 ms at
//! a time woke up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use sea_orm::{
    ConnectionTrait, DbBackend, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait,
};
use tandem_core::limits::Limits;
use tandem_core::tenant::NewTenant;
use tandem_core::visitor::{SessionRequest, VisitorActor};
use tandem_core::{Ports, Tandem};
use tandem_migrations::MigratorTrait;
use tandem_testkit::hiccups::Hiccups;
use tandem_testkit::test_db::{POSTGRES_URL_VAR, TestDatabase};
use tokio::sync::Mutex;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let pairs = setting("BENCH_PAIRS", 5000);
    let concurrency = setting("BENCH_CONCURRENCY", 4).max(1);
    let chats = setting("BENCH_CHATS", 200).max(concurrency);
    println!(
        "write path: {} messages a run, {concurrency} writers, {chats} chats",
        pairs * 2
    );
    println!(
        "{:<20} {:>12} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "database", "messages/s", "p50 µs", "p99 µs", "max µs", "total s", "hiccup µs"
    );
    let tandem = run(
        "sqlite",
        TestDatabase::sqlite().await,
        pairs,
        concurrency,
        chats,
    )
    .await;
    // The floor beside it: bare inserts through the same driver, connection and PRAGMAs.
    let single = raw_inserts("raw-1", pairs * 2, 1).await;
    raw_inserts("raw-100", pairs * 20, 100).await;
    println!(
        "sqlite: Tandem's persisted visitor messages/s are {:.2} x raw single-row transactions",
        tandem / single
    );
    if std::env::var(POSTGRES_URL_VAR).is_ok() {
        if let Some(db) = TestDatabase::postgres().await {
            run("postgres", db, pairs, concurrency, chats).await;
        }
    } else {
        println!("postgres   (skipped: set {POSTGRES_URL_VAR})");
    }
}

/// Tandem's write path, each kind of write in turn; returns the visitor messages persisted per
/// second.
async fn run(
    name: &str,
    database: TestDatabase,
    pairs: usize,
    concurrency: usize,
    chats: usize,
) -> f64 {
    let db = tandem_core::database::connect(database.url())
        .await
        .expect("connect");
    tandem_migrations::Migrator::up(&db, None)
        .await
        .expect("migrate");
    let tandem = Tandem::new(db, Ports::default(), Limits::default());
    let created = tandem
        .tenants
        .create(
            &tandem_core::audit::PlatformActor::command_line(),
            NewTenant {
                slug: "bench".into(),
                name: "Bench".into(),
                admin_email: "a@bench.example".into(),
                admin_password: Some("bench-password".into()),
            },
        )
        .await
        .expect("tenant");
    // The load is this one company's: its message allowance is not what is measured.
    tandem
        .tenants
        .set_limits(
            &tandem_core::audit::PlatformActor::command_line(),
            created.tenant_id,
            tandem_core::tenant::LimitsPatch {
                messages_per_minute: Some(10_000_000),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let tenant = tandem.tenants.by_id(created.tenant_id).await.unwrap();
    let (operator, _) = tandem
        .operators
        .authenticate("bench", "a@bench.example", "bench-password")
        .await
        .unwrap();

    // Every chat exists and is assigned before timing starts: the steady state of a busy tenant.
    let mut visitors: Vec<(VisitorActor, tandem_core::ids::ChatId)> = Vec::with_capacity(chats);
    for _ in 0..chats {
        let session = tandem
            .visitors
            .start_session(&tenant, SessionRequest::default())
            .await
            .unwrap();
        let m = tandem
            .messages
            .send_as_visitor(&session.actor, "hello", None)
            .await
            .unwrap();
        tandem
            .messages
            .send_as_operator(&operator, m.chat_id, "welcome", None)
            .await
            .unwrap();
        visitors.push((session.actor, m.chat_id));
    }

    let checkpoints = checkpoint_every_second(tandem.storage().clone());
    let context = Load {
        tandem,
        operator,
        visitors,
        messages: pairs * 2,
        concurrency,
    };
    // #20's aims name each kind of write on its own; the pairs are a chat's steady state.
    let visitor = timed(name, "visitor", &context, Writes::Visitor).await;
    timed(name, "operator", &context, Writes::Operator).await;
    timed(name, "pairs", &context, Writes::Pairs).await;
    checkpoints.abort();
    visitor
}

/// What a run's writers write, each to its own chats in turn.
#[derive(Clone, Copy)]
enum Writes {
    /// Visitor messages only.
    Visitor,
    /// Operator replies only, each with its unread-reply outbox row (no job's row: the bench
    /// runs no queue).
    Operator,
    /// A visitor message, then the operator's reply to it.
    Pairs,
}

struct Load {
    tandem: Tandem,
    operator: tandem_core::operator::OperatorActor,
    visitors: Vec<(VisitorActor, tandem_core::ids::ChatId)>,
    /// Messages per run.
    messages: usize,
    concurrency: usize,
}

/// One run of `writes`; prints its row and returns the messages persisted per second.
async fn timed(database: &str, label: &str, load: &Load, writes: Writes) -> f64 {
    let histogram = Arc::new(Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap(),
    ));
    let per_writer = load.messages / load.concurrency;
    let hiccups = Hiccups::start();
    let started = Instant::now();
    let mut writers = Vec::new();
    for w in 0..load.concurrency {
        let tandem = load.tandem.clone();
        let operator = load.operator;
        let histogram = histogram.clone();
        let mine: Vec<_> = load
            .visitors
            .iter()
            .skip(w)
            .step_by(load.concurrency)
            .cloned()
            .collect();
        writers.push(tokio::spawn(async move {
            let mut local = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            for i in 0..per_writer {
                let (visitor, chat) = &mine[(i / 2) % mine.len()];
                let by_visitor = match writes {
                    Writes::Visitor => true,
                    Writes::Operator => false,
                    Writes::Pairs => i % 2 == 0,
                };
                let t = Instant::now();
                if by_visitor {
                    tandem
                        .messages
                        .send_as_visitor(visitor, "Is the blue one in stock?", None)
                        .await
                        .unwrap();
                } else {
                    tandem
                        .messages
                        .send_as_operator(&operator, *chat, "Yes, we have three left.", None)
                        .await
                        .unwrap();
                }
                local.record(micros(t.elapsed())).unwrap();
            }
            histogram.lock().await.add(local).unwrap();
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let elapsed = started.elapsed();
    let hiccup = hiccups.stop();
    let h = histogram.lock().await;
    let messages = (per_writer * load.concurrency) as f64;
    println!(
        "{:<20} {:>12.0} {:>10} {:>10} {:>10} {:>10.2} {:>12}",
        format!("{database} {label}"),
        messages / elapsed.as_secs_f64(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.max(),
        elapsed.as_secs_f64(),
        hiccup
    );
    messages / elapsed.as_secs_f64()
}

/// `rows` bare inserts into a table shaped like messages, `per_txn` to an immediate
/// transaction, one writer, on a fresh SQLite database opened as Tandem opens its own. Returns
/// rows per second.
async fn raw_inserts(name: &str, rows: usize, per_txn: usize) -> f64 {
    let database = TestDatabase::sqlite().await;
    let db = tandem_core::database::connect(database.url())
        .await
        .expect("connect");
    db.execute_unprepared(
        "CREATE TABLE raw_messages (id TEXT PRIMARY KEY, chat_id TEXT NOT NULL, \
         seq INTEGER NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL)",
    )
    .await
    .expect("table");
    // The same background checkpoints as Tandem's run, so neither pays for them in its commits.
    let checkpoints = checkpoint_every_second(tandem_core::storage::Storage::new(db.clone()));
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let chat = uuid::Uuid::now_v7().to_string();
    let hiccups = Hiccups::start();
    let started = Instant::now();
    for batch in 0..rows / per_txn {
        let t = Instant::now();
        let txn = db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 0..per_txn {
            let seq = (batch * per_txn + i) as i64;
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "INSERT INTO raw_messages (id, chat_id, seq, body, created_at) \
                 VALUES (?, ?, ?, ?, ?)",
                [
                    uuid::Uuid::now_v7().to_string().into(),
                    chat.clone().into(),
                    seq.into(),
                    "Is the blue one in stock?".into(),
                    seq.into(),
                ],
            ))
            .await
            .unwrap();
        }
        txn.commit().await.unwrap();
        h.record(micros(t.elapsed())).unwrap();
    }
    let elapsed = started.elapsed();
    let hiccup = hiccups.stop();
    checkpoints.abort();
    let per_s = (rows / per_txn * per_txn) as f64 / elapsed.as_secs_f64();
    println!(
        "{:<20} {:>12.0} {:>10} {:>10} {:>10} {:>10.2} {:>12}   (rows/s; latency per transaction)",
        name,
        per_s,
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.max(),
        elapsed.as_secs_f64(),
        hiccup
    );
    per_s
}

/// As `tandem serve` does: the write-ahead log is copied back off the write path. Abort the
/// task when done.
fn checkpoint_every_second(storage: tandem_core::storage::Storage) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = storage.checkpoint().await;
        }
    })
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}
