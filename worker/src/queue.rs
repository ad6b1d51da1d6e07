//! The job queue: delayed apalis jobs in the same database as the data (SQLite by default,
//! PostgreSQL in production). An operator reply's transaction queues one job for the second its
//! notification falls due in — one per second, however many replies share it — and that job
//! delivers every row due within it. The outbox row stays the record of truth: a lost or failed
//! job is picked up by the sweep.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use sea_orm::sea_query::{Expr, Func, IntoTableRef, OnConflict};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};
use serde::{Deserialize, Serialize};
use tandem_core::ids::{AlertId, ExportId, OutboxId, PushSendId, TranscriptId, WebhookCallId};
use tandem_core::outbox::{JobRow, NotificationScheduler, OutboxEntry, ScheduleError};
use tokio::sync::watch;
use ulid::Ulid;

use crate::deliver::{DeliverError, Delivered, Deliverer};

/// How often an idle worker looks for due jobs: the lateness of a notification.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// A job: deliver the unread replies due in a second, or what one outbox row stands for; post a
/// webhook; route an alert; send a push or a transcript; build an export. Untagged, so the jobs
/// queued before webhooks existed (`{"outbox": …}`) still read.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Job {
    NotifyUnread {
        outbox: OutboxId,
    },
    /// Every unread reply due within one second (Unix seconds).
    NotifyDue {
        due_second: i64,
    },
    PostWebhook {
        webhook: WebhookCallId,
    },
    RouteAlert {
        alert: AlertId,
    },
    SendPush {
        push: PushSendId,
    },
    SendTranscript {
        transcript: TranscriptId,
    },
    BuildExport {
        export: ExportId,
    },
    /// A job this version does not know (queued by a later one, before a rollback): done and
    /// dropped, where failing to read it would stop the worker. Its row is the sweep's.
    Unknown(serde_json::Value),
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("cannot open the job queue: {0}")]
    Open(String),
}

/// The queue `name` in apalis's tables. It must live in the data's own database: an operator
/// reply queues its notification in the reply's transaction ([`JobQueue::enqueue_with_row`]).
#[derive(Clone)]
pub struct JobQueue {
    name: Arc<str>,
    store: Store,
    /// Whether a transaction on the data's connections sees this queue's table: not for an
    /// in-memory SQLite database, which is one per pool.
    shares_data: bool,
}

#[derive(Clone)]
enum Store {
    Sqlite(SqliteStorage<Job>),
    Postgres(PostgresStorage<Job>),
}

impl JobQueue {
    /// Opens (and sets up) the queue `name` in the data's database at `url`, on a pool of its
    /// own.
    pub async fn open(url: &str, name: &str) -> Result<Self, QueueError> {
        let store = Store::open(url, name).await?;
        Ok(Self {
            name: name.into(),
            store,
            shares_data: !(url.contains(":memory:") || url.contains("mode=memory")),
        })
    }

    pub async fn push(&self, job: Job, at: SystemTime) -> Result<(), ScheduleError> {
        let task = TaskBuilder::new(job).run_at_time(at).build();
        let result = match self.store.clone() {
            Store::Sqlite(mut storage) => storage.push_task(task).await.map_err(|e| e.to_string()),
            Store::Postgres(mut storage) => {
                storage.push_task(task).await.map_err(|e| e.to_string())
            }
        };
        result.map_err(ScheduleError)
    }

    /// The row apalis's own push would insert for `job` under idempotency key `key` (the same
    /// columns, codec and whole seconds of `run_at`; no metadata), for a write of Tandem's on
    /// `backend`: nothing when the queue already holds a job of that key. `None` when that
    /// write would not reach this queue's table.
    fn job_row(
        &self,
        backend: DbBackend,
        (job, key): (&Job, String),
        at: SystemTime,
    ) -> Option<JobRow> {
        let same_store = matches!(
            (&self.store, backend),
            (Store::Sqlite(_), DbBackend::Sqlite) | (Store::Postgres(_), DbBackend::Postgres)
        );
        if !(same_store && self.shares_data) {
            return None;
        }
        let args = serde_json::to_vec(job).ok()?;
        let run_at = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
        let (table, run_at) = match backend {
            DbBackend::Postgres => (
                ("apalis", "jobs").into_table_ref(),
                Func::cust("to_timestamp").arg(run_at).into(),
            ),
            _ => ("Jobs".into_table_ref(), Expr::val(run_at)),
        };
        Some(JobRow {
            table,
            columns: vec![
                "id",
                "job_type",
                "job",
                "status",
                "attempts",
                "max_attempts",
                "run_at",
                "priority",
                "idempotency_key",
            ],
            values: vec![
                Expr::val(Ulid::generate().to_string()),
                Expr::val(self.name.to_string()),
                Expr::val(args),
                Expr::val("Pending"),
                Expr::val(0),
                Expr::val(MAX_ATTEMPTS),
                run_at,
                Expr::val(0),
                Expr::val(key),
            ],
            on_conflict: Some(
                OnConflict::columns(["job_type", "idempotency_key"])
                    .do_nothing()
                    .to_owned(),
            ),
        })
    }

    /// Runs a worker named `name` until `stop` turns true.
    pub async fn work(self, name: String, deliverer: Deliverer, mut stop: watch::Receiver<bool>) {
        let queue = self.clone();
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
            Ok::<(), std::io::Error>(())
        };
        let result = match self.store {
            Store::Sqlite(storage) => {
                WorkerBuilder::new(name)
                    .backend(storage.clone().poll_with_interval(POLL_EVERY))
                    .data(deliverer)
                    .data(queue.clone())
                    .build(handle)
                    .run_until(stopped)
                    .await
            }
            Store::Postgres(storage) => {
                WorkerBuilder::new(name)
                    .backend(storage.clone().poll_with_interval(POLL_EVERY))
                    .data(deliverer)
                    .data(queue.clone())
                    .build(handle)
                    .run_until(stopped)
                    .await
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "the notification worker stopped");
        }
    }
}

impl Store {
    async fn open(url: &str, name: &str) -> Result<Self, QueueError> {
        let open = |e: &dyn std::fmt::Display| QueueError::Open(e.to_string());
        if url.starts_with("sqlite:") {
            let pool = apalis_sqlite::SqlitePool::connect(url)
                .await
                .map_err(|e| open(&e))?;
            SqliteStorage::setup(&pool).await.map_err(|e| open(&e))?;
            let conn = sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool.clone());
            forget_finished_jobs(&conn).await.map_err(|e| open(&e))?;
            let config = apalis_sqlite::Config::default()
                .queue(name)
                .heartbeat_interval(Duration::from_secs(5));
            Ok(Self::Sqlite(SqliteStorage::new(&pool).with_config(config)))
        } else {
            // apalis keeps its tables in its own `apalis` schema; its migration bookkeeping
            // follows the connection's search path, so it gets the plain URL.
            let pool = sqlx_pg_pool(&without_options(url))
                .await
                .map_err(|e| open(&e))?;
            PostgresStorage::setup(&pool).await.map_err(|e| open(&e))?;
            let conn = sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(pool.clone());
            // A role that may not create the trigger still gets a queue, one that keeps its
            // done rows as apalis does: on PostgreSQL they cost space, not speed, and a done
            // second's row keeps its key, which only a reply late into that past second would
            // want (the sweep mails it).
            if let Err(e) = forget_finished_jobs(&conn).await {
                tracing::warn!(error = %e, "done jobs are kept in apalis.jobs: cannot have them deleted");
            }
            let config = apalis_postgres::Config::default()
                .queue(name)
                .heartbeat_interval(Duration::from_secs(5));
            Ok(Self::Postgres(
                PostgresStorage::new(&pool).with_config(config),
            ))
        }
    }
}

/// Has a job's row deleted the moment apalis marks it done — in every queue of the database,
/// all of them Tandem's — and deletes the rows already done.
///
/// The outbox row (or the webhook's, the alert's…) is the record of what a job did, so a done
/// job's row is of no use to Tandem — and apalis keeps them all. Worse, on SQLite apalis's
/// acknowledgement finds the rows to update through the worker's `lock_by` index, which a done
/// job keeps pointing at its worker: each acknowledgement then parsed its JSON payload once per
/// job the worker had ever done (40 ms per acknowledgement after 10,000 jobs), so a worker
/// slowed down the longer it ran. A trigger deletes the row in the acknowledgement's own
/// transaction: no extra commit, and nothing to prune later.
async fn forget_finished_jobs(conn: &DatabaseConnection) -> Result<(), DbErr> {
    match conn.get_database_backend() {
        DbBackend::Postgres => create_postgres_trigger(conn).await?,
        _ => {
            // `IF NOT EXISTS` keeps the first body: a trigger that changes needs a new name.
            conn.execute_unprepared(
                "CREATE TRIGGER IF NOT EXISTS tandem_finished_jobs_leave
                     AFTER UPDATE OF status ON Jobs WHEN NEW.status = 'Done'
                     BEGIN DELETE FROM Jobs WHERE id = NEW.id; END",
            )
            .await?;
        }
    }
    delete_done_rows(conn).await
}

/// Creates the trigger unless it is there: creating it locks apalis's table against every
/// writer (each reply's job) and needs the role that owns the table, so it happens once.
async fn create_postgres_trigger(conn: &DatabaseConnection) -> Result<(), DbErr> {
    let exists = Statement::from_string(
        DbBackend::Postgres,
        "SELECT 1 FROM pg_trigger WHERE tgname = 'tandem_finished_jobs_leave' \
         AND tgrelid = 'apalis.jobs'::regclass",
    );
    if conn.query_one_raw(exists).await?.is_some() {
        return Ok(());
    }
    // Processes starting together take turns: PostgreSQL may refuse concurrent replacements
    // of one function ("tuple concurrently updated").
    let txn = conn.begin().await?;
    txn.execute_unprepared(
        "SELECT pg_advisory_xact_lock(hashtext('tandem: apalis.jobs trigger'));
         CREATE OR REPLACE FUNCTION apalis.tandem_forget_finished_job() RETURNS trigger
             LANGUAGE plpgsql AS $$
             BEGIN DELETE FROM apalis.jobs WHERE id = NEW.id; RETURN NULL; END $$;
         CREATE OR REPLACE TRIGGER tandem_finished_jobs_leave
             AFTER UPDATE OF status ON apalis.jobs
             FOR EACH ROW WHEN (NEW.status = 'Done')
             EXECUTE FUNCTION apalis.tandem_forget_finished_job();",
    )
    .await?;
    txn.commit().await
}

/// Deletes rows left done (by a version before the trigger), a batch at a time so that months
/// of them hold no lock for long.
async fn delete_done_rows(conn: &DatabaseConnection) -> Result<(), DbErr> {
    const BATCH: u64 = 5_000;
    let jobs = match conn.get_database_backend() {
        DbBackend::Postgres => "apalis.jobs",
        _ => "Jobs",
    };
    let sql = format!(
        "DELETE FROM {jobs} WHERE id IN (SELECT id FROM {jobs} WHERE status = 'Done' LIMIT {BATCH})"
    );
    while conn.execute_unprepared(&sql).await?.rows_affected() >= BATCH {}
    Ok(())
}

/// A job never fails in apalis's eyes: whatever went wrong is recorded on the outbox row (or
/// the webhook's row) and the delivery log, and the sweep tries again; apalis's own retries
/// would come at once.
async fn handle(
    job: Job,
    deliverer: Data<Deliverer>,
    queue: Data<JobQueue>,
) -> Result<(), BoxDynError> {
    match job {
        Job::NotifyDue { due_second } => {
            crate::due_second::deliver(due_second, &deliverer, &queue).await
        }
        job => attempt_job(&job, &deliverer, &queue).await,
    }
    Ok(())
}

/// Runs `job`, and again at the time it names if it was early or failed for now.
pub(crate) async fn attempt_job(job: &Job, deliverer: &Deliverer, queue: &JobQueue) {
    match run(job, deliverer, queue).await {
        // apalis keeps run times in whole seconds, so a job may fire up to a second early (or
        // a row's time moved, as after a retry): wait a moment, or come back at its time.
        Ok(Delivered::NotDue(at) | Delivered::Retry(at)) => {
            let now = deliverer.tandem().now();
            let wait = at.since(now);
            if wait <= EARLY_WAIT {
                tokio::time::sleep(wait + Duration::from_millis(5)).await;
                if let Err(e) = run(job, deliverer, queue).await {
                    tracing::warn!(?job, error = %e, "delivery failed; left to the sweep");
                }
            } else if let Err(e) = queue.push(job.clone(), system_time(at)).await {
                tracing::warn!(?job, error = %e, "cannot re-schedule; left to the sweep");
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(?job, error = %e, "delivery failed; left to the sweep")
        }
    }
}

/// One attempt at `job`. The webhooks a delivered batch was routed to are queued at once.
async fn run(
    job: &Job,
    deliverer: &Deliverer,
    queue: &JobQueue,
) -> Result<Delivered, DeliverError> {
    match job {
        Job::NotifyUnread { outbox } => {
            let attempt = deliverer.deliver(*outbox).await?;
            for webhook in attempt.webhooks {
                if let Err(e) = queue.schedule_webhook(webhook).await {
                    tracing::warn!(%webhook, error = %e, "cannot schedule a webhook; left to the sweep");
                }
            }
            Ok(attempt.delivered)
        }
        // Not one attempt but a second's worth, which `handle` runs, never through here.
        Job::NotifyDue { .. } => Ok(Delivered::Nothing),
        Job::PostWebhook { webhook } => deliverer.post_webhook(*webhook).await,
        Job::RouteAlert { alert } => {
            let routed = deliverer.route_alert(*alert).await?;
            for webhook in routed.webhooks {
                if let Err(e) = queue.schedule_webhook(webhook).await {
                    tracing::warn!(%webhook, error = %e, "cannot schedule a webhook; left to the sweep");
                }
            }
            for push in routed.pushes {
                if let Err(e) = queue.push(Job::SendPush { push }, SystemTime::now()).await {
                    tracing::warn!(%push, error = %e, "cannot schedule a push; left to the sweep");
                }
            }
            Ok(Delivered::Sent)
        }
        Job::SendPush { push } => deliverer.send_push(*push).await,
        Job::SendTranscript { transcript } => deliverer.send_transcript(*transcript).await,
        Job::BuildExport { export } => {
            // A retry or a busy process is the sweep's: the export's row says when.
            deliverer.start_export(*export);
            Ok(Delivered::Nothing)
        }
        Job::Unknown(job) => {
            tracing::warn!(%job, "a job of a kind this version does not know; dropped");
            Ok(Delivered::Nothing)
        }
    }
}

/// A job this early waits in the worker instead of going back to the queue.
const EARLY_WAIT: Duration = Duration::from_secs(2);

fn system_time(at: tandem_core::clock::Timestamp) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(at.millis()).unwrap_or(0))
}

/// apalis's default, which its own pushes use.
const MAX_ATTEMPTS: i32 = 25;

#[async_trait::async_trait]
impl NotificationScheduler for JobQueue {
    async fn schedule(&self, entry: &OutboxEntry) -> Result<(), ScheduleError> {
        self.push(
            Job::NotifyUnread { outbox: entry.id },
            system_time(entry.due_at),
        )
        .await
    }

    /// The job of the second `entry` falls due in, which the first reply due in it queues and
    /// the others find there: a busy second's replies cost the queue one row, not one each. It
    /// runs from the second before: a worker polling every 250 ms would take it up to 250 ms
    /// into its second otherwise, and the second's first replies would go out that late.
    fn enqueue_with_row(&self, backend: DbBackend, entry: &OutboxEntry) -> Option<JobRow> {
        let due_second = entry.due_at.millis().div_euclid(1000);
        let key = format!("unread:{due_second}");
        let runs_from = u64::try_from(due_second.saturating_sub(1)).unwrap_or(0);
        let at = UNIX_EPOCH + Duration::from_secs(runs_from);
        self.job_row(backend, (&Job::NotifyDue { due_second }, key), at)
    }

    async fn schedule_webhook(&self, webhook: WebhookCallId) -> Result<(), ScheduleError> {
        self.push(Job::PostWebhook { webhook }, SystemTime::now())
            .await
    }

    async fn schedule_alert(&self, alert: AlertId) -> Result<(), ScheduleError> {
        self.push(Job::RouteAlert { alert }, SystemTime::now())
            .await
    }

    async fn schedule_transcript(&self, transcript: TranscriptId) -> Result<(), ScheduleError> {
        self.push(Job::SendTranscript { transcript }, SystemTime::now())
            .await
    }

    async fn schedule_export(&self, export: ExportId) -> Result<(), ScheduleError> {
        self.push(Job::BuildExport { export }, SystemTime::now())
            .await
    }
}

async fn sqlx_pg_pool(url: &str) -> Result<apalis_postgres::PgPool, impl std::fmt::Display> {
    apalis_postgres::PgPool::connect(url).await
}

/// The URL without its `options` parameter (a test's search path, for instance).
fn without_options(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.starts_with("options="))
        .collect();
    if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_of_every_version_read_and_an_unknown_kind_is_not_an_error() {
        let outbox = OutboxId::new();
        let old: Job = serde_json::from_value(serde_json::json!({ "outbox": outbox })).unwrap();
        assert!(matches!(old, Job::NotifyUnread { outbox: o } if o == outbox));
        let second: Job = serde_json::from_value(serde_json::json!({ "due_second": 7 })).unwrap();
        assert!(matches!(second, Job::NotifyDue { due_second: 7 }));
        let later: Job = serde_json::from_value(serde_json::json!({ "cheer": "up" })).unwrap();
        assert!(matches!(later, Job::Unknown(_)));
        let written = serde_json::to_value(Job::NotifyDue { due_second: 7 }).unwrap();
        assert_eq!(written, serde_json::json!({ "due_second": 7 }));
    }
}
