//! The sweep: finds outbox rows and webhook posts that are due (or whose worker died
//! mid-delivery) and delivers them. It is the safety net under the job queue — a crash between a reply's commit and its
//! enqueue, or a worker killed mid-job, still ends in exactly one email.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::deliver::Deliverer;

/// How many due rows one pass takes.
const BATCH: u64 = 200;

pub struct Sweep {
    deliverer: Deliverer,
    every: Duration,
}

impl Sweep {
    pub fn new(deliverer: Deliverer, every: Duration) -> Self {
        Self { deliverer, every }
    }

    /// One pass; returns how many rows it handled.
    pub async fn run_once(&self) -> usize {
        let due = match self.deliverer.tandem().outbox.due(BATCH).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "notification sweep cannot read the outbox");
                return 0;
            }
        };
        let mut count = due.len();
        for entry in due {
            if let Err(e) = self.deliverer.deliver(entry.id).await {
                tracing::warn!(error = %e, outbox = %entry.id, "delivery failed; the next sweep retries");
            }
        }
        // After the batches: the webhooks they were just routed to are due now.
        let webhooks = match self.deliverer.tandem().deliveries.due_webhooks(BATCH).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "notification sweep cannot read the webhook posts");
                return count;
            }
        };
        count = count.max(webhooks.len());
        for webhook in webhooks {
            if let Err(e) = self.deliverer.post_webhook(webhook).await {
                tracing::warn!(error = %e, %webhook, "webhook failed; the next sweep retries");
            }
        }
        count
    }

    /// Runs until `stop` turns true, finishing the delivery in hand.
    pub fn spawn(self, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(self.every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        // A full pass means more may be waiting: go again at once.
                        while self.run_once().await == BATCH as usize {}
                    }
                    () = stopped(&mut stop) => break,
                }
            }
        })
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which only happens after shutdown.
    let _ = stop.wait_for(|stop| *stop).await;
}
