//! Measures the notification pipeline: how late unread-reply emails go out when many fall due
//! (lateness = the outbox row's `processed_at` minus its `due_at`: job firing, claim, render,
//! SMTP and the record together), and how many a second the workers deliver.
//!
//! ```sh
//! cargo run --release -p tandem-worker --example notify_load -- \
//!     --database-url 'sqlite:///tmp/load.db?mode=rwc' --replies 10000 --spread-secs 60 --workers 1
//! ```
//!
//! The replies are written first (`--writers` operators at once: the replies/s it prints), and
//! fall due after `--lead-secs`. Each goes to a chat its operator took beforehand, as a busy
//! team's replies do (`--taken false`: to unassigned chats, each reply also assigning its chat,
//! which costs more — the figures of sessions before 24).
//!
//! Replies get due times spread evenly over `--spread-secs` (0: all due at once, for
//! throughput). Mail goes over SMTP to a sink on loopback. No sweep runs: every mail comes from
//! an apalis job.

use tandem_testkit::smtp;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sea_orm::entity::prelude::*;
use tandem_core::entity::outbox;
use tandem_core::limits::Limits;
use tandem_core::operator::{NewOperator, OperatorStatus};
use tandem_core::outbox::{DialogContext, OfflineTimeoutPolicy, OutboxStatus};
use tandem_core::tenant::NewTenant;
use tandem_core::visitor::{ProfilePatch, SessionRequest};
use tandem_core::{Ports, Tandem};
use tandem_migrations::MigratorTrait;
use tandem_worker::deliver::{DEFAULT_LEASE, Deliverer, DeliverySettings};
use tandem_worker::mail::SmtpMailer;
use tandem_worker::queue::JobQueue;

struct Args {
    database_url: String,
    replies: u64,
    spread_secs: u64,
    workers: usize,
    /// Time to write every reply before the first falls due, so writing does not compete.
    lead_secs: u64,
    /// Operators replying at once.
    writers: usize,
    /// Whether the operator took each chat before the timed replies.
    taken: bool,
}

fn args() -> Args {
    let mut args = Args {
        database_url: "sqlite:///tmp/tandem-notify-load.db?mode=rwc".into(),
        replies: 10_000,
        spread_secs: 60,
        workers: 1,
        lead_secs: 30,
        writers: 4,
        taken: true,
    };
    let mut it = std::env::args().skip(1);
    while let (Some(flag), Some(value)) = (it.next(), it.next()) {
        match flag.as_str() {
            "--database-url" => args.database_url = value,
            "--replies" => args.replies = value.parse().expect("a number"),
            "--spread-secs" => args.spread_secs = value.parse().expect("a number"),
            "--workers" => args.workers = value.parse().expect("a number"),
            "--lead-secs" => args.lead_secs = value.parse().expect("a number"),
            "--writers" => args.writers = value.parse().expect("a number"),
            "--taken" => args.taken = value.parse().expect("true or false"),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

/// Spreads due times: the n-th reply is due `lead + n * spread / replies` after the first reply.
struct Spread {
    next: AtomicU64,
    replies: u64,
    spread_ms: u64,
    lead_ms: u64,
    /// The first reply's time: due times count from it, however long the visitors took to ask.
    first_reply: std::sync::OnceLock<Instant>,
}

#[async_trait::async_trait]
impl OfflineTimeoutPolicy for Spread {
    async fn offline_timeout(&self, _: &DialogContext) -> Duration {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        // Due times relative to the first reply, whenever this one was written.
        let target = Duration::from_millis(self.lead_ms + n * self.spread_ms / self.replies.max(1));
        target
            .saturating_sub(self.first_reply.get_or_init(Instant::now).elapsed())
            .max(Duration::from_secs(1))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args();
    let db = tandem_core::database::connect(&args.database_url).await?;
    tandem_migrations::Migrator::up(&db, None).await?;
    let queue_name = format!("load-{}", std::process::id());
    let queue = JobQueue::open(&args.database_url, &queue_name).await?;
    let policy = Arc::new(Spread {
        next: AtomicU64::new(0),
        replies: args.replies,
        spread_ms: args.spread_secs * 1000,
        lead_ms: args.lead_secs * 1000,
        first_reply: std::sync::OnceLock::new(),
    });
    let ports = Ports {
        scheduler: Arc::new(queue.clone()),
        timeout_policy: policy,
        ..Ports::default()
    };
    let tandem = Tandem::new(db.clone(), ports, Limits::default());
    let created = tandem
        .tenants
        .create(
            &tandem_core::audit::PlatformActor::command_line(),
            NewTenant {
                slug: format!("load-{}", std::process::id()),
                name: "Load".into(),
                admin_email: "admin@load.example".into(),
                admin_password: Some("admin-password-1".into()),
            },
        )
        .await?;
    let (admin, _) = tandem
        .operators
        .authenticate(
            &format!("load-{}", std::process::id()),
            "admin@load.example",
            "admin-password-1",
        )
        .await?;
    tandem
        .operators
        .create(
            &admin,
            NewOperator {
                email: "olga@load.example".into(),
                name: "Olga".into(),
                password: Some("operator-password".into()),
                capacity: Some(100),
                ..Default::default()
            },
        )
        .await?;
    let (olga, _) = tandem
        .operators
        .authenticate(
            &format!("load-{}", std::process::id()),
            "olga@load.example",
            "operator-password",
        )
        .await?;
    tandem
        .operators
        .set_status(&olga, OperatorStatus::Online)
        .await?;
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
        .await?;
    let tenant = tandem.tenants.by_id(created.tenant_id).await?;

    // The workers run from the start, as in production.
    let smtp = smtp::SmtpSink::start().await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for i in 0..args.workers {
        let deliverer = Deliverer::new(
            tandem.clone(),
            Arc::new(SmtpMailer::from_url(&smtp.url())?),
            DeliverySettings {
                public_url: "https://chat.example.com".into(),
                from: "Load <load@chat.example.com>".parse()?,
                lease: DEFAULT_LEASE,
            },
        );
        workers.push(tokio::spawn(queue.clone().work(
            format!("{queue_name}-{i}"),
            deliverer,
            stopped.clone(),
        )));
    }

    // As `tandem serve` and `tandem worker` do: checkpoints off the write path.
    let checkpoints = {
        let storage = tandem.storage().clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let _ = storage.checkpoint().await;
            }
        })
    };
    // The visitors ask first (untimed); then the operator replies, `--writers` at a time, as
    // a busy team does: the timed part, each reply with its outbox row and its job.
    let mut chats = Vec::with_capacity(args.replies as usize);
    for i in 0..args.replies {
        let session = tandem
            .visitors
            .start_session(&tenant, SessionRequest::default())
            .await?;
        tandem
            .visitors
            .update_profile(
                &session.actor,
                ProfilePatch {
                    email: Some(format!("visitor{i}@example.org")),
                    ..Default::default()
                },
            )
            .await?;
        let question = tandem
            .messages
            .send_as_visitor(&session.actor, "Hello?", None)
            .await?;
        if args.taken {
            tandem.chats.assign(&olga, question.chat_id, None).await?;
        }
        chats.push(question.chat_id);
    }
    let chats = Arc::new(chats);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut writers = Vec::new();
    for _ in 0..args.writers.max(1) {
        let (tandem, olga, chats, next) = (tandem.clone(), olga, chats.clone(), next.clone());
        writers.push(tokio::spawn(async move {
            let mut took = hdrhistogram::Histogram::<u64>::new(3).expect("3 significant digits");
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(chat) = chats.get(n) else {
                    return Ok::<_, anyhow::Error>(took);
                };
                let t = Instant::now();
                tandem
                    .messages
                    .send_as_operator(&olga, *chat, "Hi, here is your answer.", None)
                    .await?;
                took.record(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX))?;
            }
        }));
    }
    let mut took = hdrhistogram::Histogram::<u64>::new(3)?;
    for writer in writers {
        took.add(writer.await??)?;
    }
    let writing = started.elapsed().as_secs_f64();
    println!(
        "{} operator replies written by {} writers in {:.1}s = {:.0} replies/s; \
         per reply p50 {} µs, p99 {} µs, max {} µs",
        args.replies,
        args.writers.max(1),
        writing,
        args.replies as f64 / writing,
        took.value_at_quantile(0.5),
        took.value_at_quantile(0.99),
        took.max()
    );

    let deadline = Instant::now() + Duration::from_secs(args.lead_secs + args.spread_secs + 300);
    loop {
        let sent = outbox::Entity::find()
            .filter(outbox::Column::TenantId.eq(created.tenant_id))
            .filter(outbox::Column::Status.eq(OutboxStatus::Sent))
            .count(&db)
            .await?;
        if sent >= args.replies || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = stop.send(true);
    checkpoints.abort();
    for w in workers {
        let _ = tokio::time::timeout(Duration::from_secs(10), w).await;
    }

    let rows = outbox::Entity::find()
        .filter(outbox::Column::TenantId.eq(created.tenant_id))
        .filter(outbox::Column::Status.eq(OutboxStatus::Sent))
        .all(&db)
        .await?;
    let mut lateness = hdrhistogram::Histogram::<u64>::new(3)?;
    let (mut first_due, mut last_done) = (i64::MAX, i64::MIN);
    for row in &rows {
        let done = row.processed_at.unwrap_or(row.due_at);
        lateness.record(u64::try_from(done - row.due_at).unwrap_or(0))?;
        first_due = first_due.min(row.due_at);
        last_done = last_done.max(done);
    }
    let window = Duration::from_millis(u64::try_from(last_done - first_due).unwrap_or(0));
    println!(
        "--- {} replies due over {} s, {} worker(s), {}",
        args.replies,
        args.spread_secs,
        args.workers,
        if args.database_url.starts_with("sqlite") {
            "SQLite"
        } else {
            "PostgreSQL"
        }
    );
    println!(
        "sent {} of {} ({} mails at the SMTP sink); lateness p50 {} ms, p99 {} ms, max {} ms",
        rows.len(),
        args.replies,
        smtp.received().len(),
        lateness.value_at_quantile(0.5),
        lateness.value_at_quantile(0.99),
        lateness.max()
    );
    // Every visitor has an address of their own and one reply: a second mail to an address is
    // a duplicate; more addresses mailed than rows recorded as sent is a mail gone unrecorded.
    let mut per_address: std::collections::HashMap<String, usize> = Default::default();
    for mail in smtp.received() {
        for to in mail.to {
            *per_address.entry(to).or_default() += 1;
        }
    }
    let duplicates: usize = per_address.values().map(|n| n - 1).sum();
    let unrecorded = per_address.len().saturating_sub(rows.len());
    let early = rows
        .iter()
        .filter(|r| r.processed_at.is_some_and(|done| done < r.due_at))
        .count();
    println!("duplicates {duplicates}, unrecorded {unrecorded}, early {early}");
    println!(
        "first due to last sent: {:.1}s = {:.0} emails/s",
        window.as_secs_f64(),
        rows.len() as f64 / window.as_secs_f64().max(0.001)
    );
    print_lateness_over_time(&rows, first_due)?;
    Ok(())
}

/// Lateness per 10 s of due time: a growing p99 is a backlog, a flat one a constant delay.
fn print_lateness_over_time(rows: &[outbox::Model], first_due: i64) -> anyhow::Result<()> {
    let mut windows: std::collections::BTreeMap<i64, hdrhistogram::Histogram<u64>> =
        Default::default();
    for row in rows {
        let done = row.processed_at.unwrap_or(row.due_at);
        let window = windows
            .entry((row.due_at - first_due) / 10_000)
            .or_insert_with(|| hdrhistogram::Histogram::new(3).expect("3 significant digits"));
        window.record(u64::try_from(done - row.due_at).unwrap_or(0))?;
    }
    for (n, h) in windows {
        println!(
            "  due {:>3}-{:<3}s: {:>5} mails, lateness p50 {:>5} ms, p99 {:>5} ms",
            n * 10,
            n * 10 + 10,
            h.len(),
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99)
        );
    }
    Ok(())
}
