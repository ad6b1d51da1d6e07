//! The hot write path: a visitor message, and an operator reply with its unread-reply outbox row,
//! each one committed transaction through the real services, on SQLite (WAL) and PostgreSQL.
//!
//! `cargo bench -p tandem-core --bench write_path` — PostgreSQL too when
//! `TANDEM_TEST_POSTGRES_URL` is set. `BENCH_PAIRS` (default 5000) visitor+reply pairs are written
//! by `BENCH_CONCURRENCY` (default 4) concurrent writers over `BENCH_CHATS` (default 200) chats.
//! Reports persisted messages per second and per-write latency percentiles.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tandem_core::limits::Limits;
use tandem_core::tenant::NewTenant;
use tandem_core::visitor::{SessionRequest, VisitorActor};
use tandem_core::{Ports, Tandem};
use tandem_migrations::MigratorTrait;
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
    println!("write path: {pairs} visitor+reply pairs, {concurrency} writers, {chats} chats");
    println!(
        "{:<10} {:>12} {:>10} {:>10} {:>10} {:>10}",
        "database", "messages/s", "p50 µs", "p99 µs", "max µs", "total s"
    );
    run(
        "sqlite",
        TestDatabase::sqlite().await,
        pairs,
        concurrency,
        chats,
    )
    .await;
    if std::env::var(POSTGRES_URL_VAR).is_ok() {
        if let Some(db) = TestDatabase::postgres().await {
            run("postgres", db, pairs, concurrency, chats).await;
        }
    } else {
        println!("postgres   (skipped: set {POSTGRES_URL_VAR})");
    }
}

async fn run(name: &str, database: TestDatabase, pairs: usize, concurrency: usize, chats: usize) {
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

    let histogram = Arc::new(Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap(),
    ));
    let per_writer = pairs / concurrency;
    let started = Instant::now();
    let mut writers = Vec::new();
    for w in 0..concurrency {
        let tandem = tandem.clone();
        let histogram = histogram.clone();
        let mine: Vec<_> = visitors
            .iter()
            .skip(w)
            .step_by(concurrency)
            .cloned()
            .collect();
        writers.push(tokio::spawn(async move {
            let mut local = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            for i in 0..per_writer {
                let (visitor, chat) = &mine[i % mine.len()];
                let t = Instant::now();
                tandem
                    .messages
                    .send_as_visitor(visitor, "Is the blue one in stock?", None)
                    .await
                    .unwrap();
                local.record(micros(t.elapsed())).unwrap();
                let t = Instant::now();
                tandem
                    .messages
                    .send_as_operator(&operator, *chat, "Yes, we have three left.", None)
                    .await
                    .unwrap();
                local.record(micros(t.elapsed())).unwrap();
            }
            histogram.lock().await.add(local).unwrap();
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let elapsed = started.elapsed();
    let h = histogram.lock().await;
    let messages = (per_writer * concurrency * 2) as f64;
    println!(
        "{:<10} {:>12.0} {:>10} {:>10} {:>10} {:>10.2}",
        name,
        messages / elapsed.as_secs_f64(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.max(),
        elapsed.as_secs_f64()
    );
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}
