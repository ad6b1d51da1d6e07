//! The job of one second: every unread reply due within it, each delivered at its own time.
//!
//! An operator reply's transaction makes sure the job of the second its notification falls due
//! in is queued (`JobQueue::enqueue_with_row`): the first reply due in a second inserts it, the
//! others find it there, so a busy second's replies cost the queue one row rather than one each.
//! The job runs from the second before (apalis keeps run times in whole seconds and its worker
//! polls every 250 ms), takes the second's rows in hand and delivers each at its time.
//!
//! A reply can come into its second after the job has read it: one written less than a couple
//! of seconds before its time (a short timeout), one that took long to commit, one written by a
//! node whose clock is behind. Its insert of the job then does nothing (the job is there,
//! running), so the job keeps looking for such rows until a little after its second. Anything
//! later still is the sweep's.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tandem_core::clock::Timestamp;
use tandem_core::ids::OutboxId;
use tandem_core::outbox::OutboxEntry;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::deliver::Deliverer;
use crate::queue::{Job, JobQueue, attempt_job};

/// Rows read at a time.
const PAGE: u64 = 256;
/// Rows in hand at once, each waiting for its time or being delivered: a slow mail server
/// holds up no more than this many of the second's rows.
const AT_ONCE: usize = 64;
/// How often the job looks for rows that came in late, and for how long after its second.
const LOOK_EVERY: Duration = Duration::from_millis(250);
const LOOK_AFTER_THE_SECOND: Duration = Duration::from_millis(500);
/// However wrong the clock, a job does not look for longer than this: from a little before the
/// second before its own to the end of its looking.
const LOOK_AT_MOST: Duration = Duration::from_millis(3_000);

/// Delivers the rows due within Unix second `second`, each at its time, and the ones that come
/// in late until shortly after it.
pub(crate) async fn deliver(second: i64, deliverer: &Deliverer, queue: &JobQueue) {
    let from = Timestamp::from_millis(second.saturating_mul(1000));
    let until = from.saturating_add(Duration::from_secs(1));
    let started = deliverer.tandem().now();
    let stop_looking = until
        .saturating_add(LOOK_AFTER_THE_SECOND)
        .min(started.saturating_add(LOOK_AT_MOST));
    let mut rows = InHand::new(deliverer, queue);
    rows.take((from, until)).await;
    loop {
        let now = deliverer.tandem().now();
        tokio::time::sleep(stop_looking.since(now).min(LOOK_EVERY)).await;
        let now = deliverer.tandem().now();
        // Rows due before the next look: the ones further ahead were read already, or will be.
        let ahead = now.saturating_add(LOOK_EVERY).min(until);
        rows.take((from, ahead)).await;
        if now >= stop_looking {
            break;
        }
    }
    rows.finish().await;
}

/// The second's rows taken so far, and the deliveries under way.
struct InHand<'a> {
    deliverer: &'a Deliverer,
    queue: &'a JobQueue,
    places: Arc<Semaphore>,
    running: JoinSet<()>,
    taken: HashSet<OutboxId>,
}

impl<'a> InHand<'a> {
    fn new(deliverer: &'a Deliverer, queue: &'a JobQueue) -> Self {
        Self {
            deliverer,
            queue,
            places: Arc::new(Semaphore::new(AT_ONCE)),
            running: JoinSet::new(),
            taken: HashSet::new(),
        }
    }

    /// Takes every row still waiting in `window` that is not in hand yet, in the order of
    /// their times, each to be delivered at its time. Pages are read as places free up, so a
    /// second of thousands of replies is never all in memory.
    async fn take(&mut self, window: (Timestamp, Timestamp)) {
        let mut after: Option<OutboxEntry> = None;
        loop {
            let page = match self
                .deliverer
                .tandem()
                .outbox
                .scheduled_within(window, after.as_ref(), PAGE)
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the replies due; left to the sweep");
                    return;
                }
            };
            let last_page = (page.len() as u64) < PAGE;
            after = page.last().cloned();
            for entry in page {
                if self.taken.insert(entry.id) {
                    self.start(entry).await;
                }
            }
            if last_page {
                return;
            }
        }
    }

    async fn start(&mut self, entry: OutboxEntry) {
        let place = Arc::clone(&self.places)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (deliverer, queue) = (self.deliverer.clone(), self.queue.clone());
        self.running.spawn(async move {
            tokio::time::sleep(entry.due_at.since(deliverer.tandem().now())).await;
            attempt_job(&Job::NotifyUnread { outbox: entry.id }, &deliverer, &queue).await;
            drop(place);
        });
        // Finished deliveries are collected as they go, not kept to the end.
        while let Some(done) = self.running.try_join_next() {
            log_failure(done);
        }
    }

    async fn finish(mut self) {
        while let Some(done) = self.running.join_next().await {
            log_failure(done);
        }
    }
}

fn log_failure(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        tracing::error!(error = %e, "a delivery of a second's job panicked; left to the sweep");
    }
}
