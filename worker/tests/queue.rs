//! Unread replies scheduled as delayed apalis jobs in the data's own database, delivered by a
//! queue worker — with no sweep running — on SQLite and PostgreSQL.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tandem_core::limits::Limits;
use tandem_core::tenant::SettingsPatch;
use tandem_core::visitor::{ProfilePatch, SessionRequest};
use tandem_core::{Ports, Tandem};
use tandem_migrations::MigratorTrait;
use tandem_testkit::TestDatabase;
use tandem_worker::deliver::{DEFAULT_LEASE, Deliverer, DeliverySettings};
use tandem_worker::mail::SmtpMailer;
use tandem_worker::queue::JobQueue;

use tandem_testkit::smtp::SmtpSink;

/// Acme on a fresh database with a 1 s offline timeout, its replies scheduled on a queue of
/// their own.
struct Queued {
    tandem: Tandem,
    /// The database, to read apalis's table.
    db: sea_orm::DatabaseConnection,
    queue: JobQueue,
    queue_name: String,
    tenant: tandem_core::tenant::Tenant,
    olga: tandem_core::operator::OperatorActor,
}

async fn queued(database: &TestDatabase) -> Queued {
    let db = tandem_core::database::connect(database.url())
        .await
        .unwrap();
    tandem_migrations::Migrator::up(&db, None).await.unwrap();
    let queue_name = format!("test-{}", uuid::Uuid::new_v4());
    let queue = JobQueue::open(database.url(), &queue_name).await.unwrap();
    let ports = Ports {
        scheduler: Arc::new(queue.clone()),
        ..Ports::default()
    };
    let tandem = Tandem::new(db.clone(), ports, Limits::default());
    let support::company::Acme {
        tenant,
        admin,
        olga,
    } = support::company::acme(&tandem).await;
    tandem
        .tenants
        .update_settings(
            &admin,
            SettingsPatch {
                offline_timeout_secs: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    Queued {
        tandem,
        db,
        queue,
        queue_name,
        tenant,
        olga,
    }
}

/// Acme's mail, over SMTP to `smtp`.
fn deliverer(tandem: &Tandem, smtp: &SmtpSink) -> Deliverer {
    Deliverer::new(
        tandem.clone(),
        Arc::new(SmtpMailer::from_url(&smtp.url()).unwrap()),
        DeliverySettings {
            public_url: "https://chat.example.com".into(),
            from: "Acme <support@chat.example.com>".parse().unwrap(),
            lease: DEFAULT_LEASE,
        },
    )
}

/// A visitor with `email` asks; Olga answers `reply`. Returns when the reply was sent.
async fn unread_reply(
    tandem: &Tandem,
    tenant: &tandem_core::tenant::Tenant,
    olga: &tandem_core::operator::OperatorActor,
    email: &str,
    reply: &str,
) -> Instant {
    let chat = asking(tandem, tenant, email).await;
    let replied = Instant::now();
    tandem
        .messages
        .send_as_operator(olga, chat, reply, None)
        .await
        .unwrap();
    replied
}

/// A visitor with `email` asks; returns their chat.
async fn asking(
    tandem: &Tandem,
    tenant: &tandem_core::tenant::Tenant,
    email: &str,
) -> tandem_core::ids::ChatId {
    let session = tandem
        .visitors
        .start_session(tenant, SessionRequest::default())
        .await
        .unwrap();
    tandem
        .visitors
        .update_profile(
            &session.actor,
            ProfilePatch {
                email: Some(email.to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let question = tandem
        .messages
        .send_as_visitor(&session.actor, "Hello?", None)
        .await
        .unwrap();
    question.chat_id
}

async fn a_reply_becomes_a_delayed_job_that_mails_it(database: TestDatabase) {
    let Queued {
        tandem,
        queue,
        queue_name,
        tenant,
        olga,
        ..
    } = queued(&database).await;
    let smtp = SmtpSink::start().await;
    let deliverer = deliverer(&tandem, &smtp);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(queue.clone().work(queue_name.clone(), deliverer, stopped));

    let replied = unread_reply(
        &tandem,
        &tenant,
        &olga,
        "vera@example.org",
        "Hi! Still there?",
    )
    .await;

    let deadline = Instant::now() + Duration::from_secs(15);
    while smtp.received().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mails = smtp.received();
    assert_eq!(mails.len(), 1, "the job delivered the reply");
    assert!(mails[0].data.contains("Still there?"));
    assert!(
        replied.elapsed() >= Duration::from_millis(900),
        "not before its time"
    );
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), worker).await;
}

/// Two queue workers (each with a queue handle and a pool of its own, as two processes would
/// have) and a sweep running every 50 ms, all at once over the same due replies: every visitor
/// gets exactly one mail.
async fn two_workers_and_the_sweep_racing_send_each_mail_once(database: TestDatabase) {
    const CHATS: usize = 30;
    let Queued {
        tandem,
        queue: _,
        queue_name,
        tenant,
        olga,
        ..
    } = queued(&database).await;
    let smtp = SmtpSink::start().await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut running = Vec::new();
    for n in 0..2 {
        let own_queue = JobQueue::open(database.url(), &queue_name).await.unwrap();
        running.push(tokio::spawn(own_queue.work(
            format!("{queue_name}-{n}"),
            deliverer(&tandem, &smtp),
            stopped.clone(),
        )));
    }
    running.push(
        tandem_worker::sweep::Sweep::new(deliverer(&tandem, &smtp), Duration::from_millis(50))
            .spawn(stopped.clone()),
    );

    for n in 0..CHATS {
        let address = format!("visitor{n}@example.org");
        unread_reply(&tandem, &tenant, &olga, &address, "Here is your answer.").await;
    }

    mails(&smtp, CHATS, Duration::from_secs(20)).await;
    // Anything sent twice would arrive now, while all three keep running.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let recipients = mails(&smtp, CHATS, Duration::ZERO).await;
    let mut unique = recipients.clone();
    unique.dedup();
    assert_eq!(unique.len(), CHATS, "every visitor got a mail");
    assert_eq!(recipients, unique, "no visitor got two");
    let _ = stop.send(true);
    for task in running {
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
}

/// The same company through another process's eyes, one whose clock is `clock`.
fn with_clock(queued: &Queued, clock: Arc<dyn tandem_core::clock::Clock>) -> Tandem {
    let ports = Ports {
        clock,
        scheduler: Arc::new(queued.queue.clone()),
        ..Ports::default()
    };
    Tandem::new(queued.db.clone(), ports, Limits::default())
}

/// Waits until `arrived` mails are in, or `within`; returns their recipients, sorted.
async fn mails(smtp: &SmtpSink, arrived: usize, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    while smtp.received().len() < arrived && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut recipients: Vec<String> = smtp.received().into_iter().flat_map(|m| m.to).collect();
    recipients.sort();
    recipients
}

/// Replies due in the same second share one job: the first queues it, the others find it
/// there, and it mails each of them.
async fn a_second_s_replies_share_one_job(database: TestDatabase) {
    const REPLIES: usize = 8;
    let queued = queued(&database).await;
    // One moment for every reply, so that all fall due in the same second.
    let frozen = with_clock(
        &queued,
        Arc::new(tandem_core::clock::ManualClock::starting_at(real_now())),
    );
    for n in 0..REPLIES {
        let address = format!("visitor{n}@example.org");
        unread_reply(&frozen, &queued.tenant, &queued.olga, &address, "Answer.").await;
    }
    assert_eq!(
        jobs(&queued.db, &queued.queue_name).await,
        ["Pending"],
        "one job"
    );

    let smtp = SmtpSink::start().await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(queued.queue.clone().work(
        queued.queue_name.clone(),
        deliverer(&queued.tandem, &smtp),
        stopped,
    ));
    mails(&smtp, REPLIES, Duration::from_secs(15)).await;
    // Anything sent twice would arrive now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let recipients = mails(&smtp, REPLIES, Duration::ZERO).await;
    let expected: Vec<String> = (0..REPLIES)
        .map(|n| format!("<visitor{n}@example.org>"))
        .collect();
    assert_eq!(recipients, expected, "each reply mailed once");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !jobs(&queued.db, &queued.queue_name).await.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        jobs(&queued.db, &queued.queue_name).await.is_empty(),
        "done"
    );
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), worker).await;
}

/// A reply due in a second whose job is already running — written a short timeout before its
/// time, or by a node whose clock is behind — finds the job there and queues none: the job,
/// still looking, mails it, with no sweep running.
async fn a_reply_late_into_a_running_second_is_mailed_by_its_job(database: TestDatabase) {
    use tandem_core::clock::{ManualClock, Timestamp};
    let t = queued(&database).await;
    let smtp = SmtpSink::start().await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(t.queue.clone().work(
        t.queue_name.clone(),
        deliverer(&t.tandem, &smtp),
        stopped,
    ));
    // A second two to three seconds off (its job runs from the second before); each reply is
    // written 1 s (the timeout) before its time in it. The first is due late in it, so that its
    // job is still at work.
    let second = (real_now().millis() / 1000 + 2) * 1000;
    let written_at = |due: i64| {
        let clock = ManualClock::starting_at(Timestamp::from_millis(due - 1000));
        with_clock(&t, Arc::new(clock))
    };
    let first = asking(&t.tandem, &t.tenant, "first@example.org").await;
    let late = asking(&t.tandem, &t.tenant, "late@example.org").await;
    written_at(second + 900)
        .messages
        .send_as_operator(&t.olga, first, "One.", None)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while jobs(&t.db, &t.queue_name).await != ["Running"] && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The job has read its rows by now.
    tokio::time::sleep(Duration::from_millis(100)).await;
    written_at(second + 200)
        .messages
        .send_as_operator(&t.olga, late, "Two.", None)
        .await
        .unwrap();
    assert_eq!(
        jobs(&t.db, &t.queue_name).await,
        ["Running"],
        "no job of its own"
    );
    assert_eq!(
        mails(&smtp, 2, Duration::from_secs(15)).await,
        ["<first@example.org>", "<late@example.org>"],
        "both mailed"
    );
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), worker).await;
}

fn real_now() -> tandem_core::clock::Timestamp {
    use tandem_core::clock::Clock;
    tandem_core::clock::SystemClock.now()
}

/// The queue's jobs in apalis's table, by status.
async fn jobs(db: &sea_orm::DatabaseConnection, queue_name: &str) -> Vec<String> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SELECT status FROM apalis.jobs WHERE job_type = $1",
        _ => "SELECT status FROM Jobs WHERE job_type = ?",
    };
    let statement = Statement::from_sql_and_values(backend, sql, [queue_name.into()]);
    let rows = db.query_all_raw(statement).await.unwrap();
    rows.iter()
        .map(|row| row.try_get_by_index(0).unwrap())
        .collect()
}

/// apalis would keep every done job's row, and on SQLite each acknowledgement grew slower with
/// the worker's done jobs: a job's row goes once it is done, and rows left done by an earlier
/// version go when the queue is opened.
async fn a_done_job_leaves_the_queue_s_table(database: TestDatabase) {
    use sea_orm::{ConnectionTrait, DbBackend};
    let Queued {
        tandem,
        db,
        queue,
        queue_name,
        tenant,
        olga,
    } = queued(&database).await;
    let smtp = SmtpSink::start().await;
    unread_reply(&tandem, &tenant, &olga, "vera@example.org", "Still there?").await;
    assert_eq!(jobs(&db, &queue_name).await, ["Pending"], "queued");

    let deliverer = deliverer(&tandem, &smtp);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(queue.clone().work(queue_name.clone(), deliverer, stopped));
    let deadline = Instant::now() + Duration::from_secs(15);
    while !jobs(&db, &queue_name).await.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(smtp.received().len(), 1, "the job delivered the reply");
    assert!(jobs(&db, &queue_name).await.is_empty(), "and left");
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), worker).await;

    // A row left done by an earlier version (inserted so: no update fires the trigger).
    let backend = db.get_database_backend();
    let insert_done = match backend {
        DbBackend::Postgres => {
            "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, \
             priority) VALUES ($1, $2, '\\x7b7d', 'Done', 1, 25, now(), 0)"
        }
        _ => {
            "INSERT INTO Jobs (id, job_type, job, status, attempts, max_attempts, run_at, \
             priority) VALUES (?, ?, x'7b7d', 'Done', 1, 25, 0, 0)"
        }
    };
    let inserted = db
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            insert_done,
            [
                ulid::Ulid::generate().to_string().into(),
                queue_name.clone().into(),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(inserted.rows_affected(), 1);
    JobQueue::open(database.url(), &queue_name).await.unwrap();
    assert!(jobs(&db, &queue_name).await.is_empty(), "gone on open");
    // PostgreSQL's tests share apalis's schema, where another test's queue opening deletes done
    // rows too: the trigger must be there (on SQLite, a file per test, the above proves it).
    if backend == DbBackend::Postgres {
        let trigger = db
            .query_one_raw(sea_orm::Statement::from_string(
                DbBackend::Postgres,
                "SELECT 1 FROM pg_trigger WHERE tgname = 'tandem_finished_jobs_leave'",
            ))
            .await
            .unwrap();
        assert!(trigger.is_some(), "the trigger is in place");
    }
}

async fn fresh(database: TestDatabase) -> TestDatabase {
    database
}

tandem_testkit::on_both_databases!(
    fresh =>
    a_reply_becomes_a_delayed_job_that_mails_it,
    two_workers_and_the_sweep_racing_send_each_mail_once,
    a_done_job_leaves_the_queue_s_table,
    a_second_s_replies_share_one_job,
    a_reply_late_into_a_running_second_is_mailed_by_its_job,
);
