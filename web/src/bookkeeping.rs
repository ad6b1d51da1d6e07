//! What every process of an installation keeps the others informed of, serving or working:
//! that it is alive (its row in `nodes`, for the platform's health view) and what its tenants
//! used (this process's usage counts, written every few seconds and once more as it stops).

use std::time::Duration;

use tandem_core::Tandem;
use tandem_core::installation::NodeRole;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::realtime::socket::shutting_down;

/// How often usage counts are written: a report lags a process's counts by at most this.
const USAGE_EVERY: Duration = Duration::from_secs(5);

pub fn spawn(
    tandem: Tandem,
    (node, role): (String, NodeRole),
    heartbeat: Duration,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let started = tandem.now();
        let mut beat = tokio::time::interval(heartbeat);
        let mut usage = tokio::time::interval(USAGE_EVERY);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        usage.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = beat.tick() => {
                    if let Err(e) = tandem.installation.beat(&node, role, started).await {
                        tracing::warn!(error = %e, "this node's heartbeat was not recorded");
                    }
                }
                _ = usage.tick() => flush(&tandem).await,
                () = shutting_down(&mut stop) => break,
            }
        }
        flush(&tandem).await;
    })
}

async fn flush(tandem: &Tandem) {
    if let Err(e) = tandem.usage.flush().await {
        tracing::warn!(error = %e, "usage counts kept for the next write");
    }
}
