//! The sweep: finds outbox rows and webhook posts that are due (or whose worker died
//! mid-delivery) and delivers them, and the browser pushes and transcripts likewise; raises the long-wait alerts that are due, routes alerts
//! whose routing was lost and mails the alert digests that are due. It is the safety net under
//! the job queue — a crash between a reply's commit and its enqueue, or a worker killed
//! mid-job, still ends in exactly one email.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::deliver::Deliverer;

/// How many due rows one pass takes.
const BATCH: u64 = 200;
/// Alerts one pass routes: each may wait on a tenant's plugins, which must not hold up the rest
/// of the sweep for long.
const ALERTS: u64 = 20;
/// Exports one pass builds: each may take a while.
const EXPORTS: u64 = 2;
/// An alert younger than this is left to its job.
const ALERT_JOB_GRACE: Duration = Duration::from_secs(30);

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
            .max(self.alerts().await)
            .max(self.pushes().await)
            .max(self.transcripts().await)
            .max(self.exports().await)
    }

    /// Starts building the exports that are due (a retry's time came, their job was lost, or
    /// their worker died mid-build).
    async fn exports(&self) -> usize {
        let due = self
            .deliverer
            .tandem()
            .exports
            .due(EXPORTS)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the sweep cannot read the exports");
                Vec::new()
            });
        for export in &due {
            self.deliverer.start_export(*export);
        }
        due.len()
    }

    /// Mails the transcripts that are due (a retry's time came, or their job was lost).
    async fn transcripts(&self) -> usize {
        let due = self
            .deliverer
            .tandem()
            .transcripts
            .due(BATCH)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the sweep cannot read the transcript requests");
                Vec::new()
            });
        for transcript in &due {
            if let Err(e) = self.deliverer.send_transcript(*transcript).await {
                tracing::warn!(error = %e, %transcript, "transcript not sent; the next sweep retries");
            }
        }
        due.len()
    }

    /// Sends the browser pushes that are due (a retry's time came, or their job was lost).
    async fn pushes(&self) -> usize {
        let due = self
            .deliverer
            .tandem()
            .push
            .due(BATCH)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the sweep cannot read the browser pushes");
                Vec::new()
            });
        for push in &due {
            if let Err(e) = self.deliverer.send_push(*push).await {
                tracing::warn!(error = %e, %push, "push failed; the next sweep retries");
            }
        }
        due.len()
    }

    /// Raises the long waits that are due (their routing is queued), routes the alerts whose
    /// routing was lost and mails the digests that are due; how many of the busiest kind.
    async fn alerts(&self) -> usize {
        let alerts = &self.deliverer.tandem().alerts;
        let raised = alerts.raise_long_waits(BATCH).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the sweep cannot raise long-wait alerts");
            Vec::new()
        });
        let unrouted = alerts
            .unrouted(ALERT_JOB_GRACE, ALERTS)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the sweep cannot read the alerts");
                Vec::new()
            });
        for alert in &unrouted {
            // Their webhooks are due now: the next pass posts them.
            if let Err(e) = self.deliverer.route_alert(*alert).await {
                tracing::warn!(error = %e, %alert, "alert not routed; the next sweep retries");
            }
        }
        let digests = alerts.due_digests(BATCH).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the sweep cannot read the alert digests");
            Vec::new()
        });
        for operator in &digests {
            if let Err(e) = self.deliverer.send_digest(*operator).await {
                tracing::warn!(error = %e, %operator, "alert digest not sent; the next sweep retries");
            }
        }
        raised.len().max(unrouted.len()).max(digests.len())
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
