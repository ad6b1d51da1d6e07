//! Keeps presence true over time: heartbeats this node's connection rows and moves visitors
//! offline once their grace period has run out (or their node has gone silent).

use std::sync::Arc;
use std::time::Duration;

use tandem_core::presence::PresenceService;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A connection whose node has missed this many heartbeats is dead.
pub const MISSED_BEATS: u32 = 3;
/// How often departures are checked: the lateness of an "offline" beyond the grace period.
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);

pub struct PresenceKeeper {
    presence: PresenceService,
    node_id: Arc<str>,
    heartbeat: Duration,
}

impl PresenceKeeper {
    /// `heartbeat`: how often this node says it is alive (`TANDEM_HEARTBEAT_SECS`).
    pub fn new(presence: PresenceService, node_id: Arc<str>, heartbeat: Duration) -> Self {
        Self {
            presence,
            node_id,
            heartbeat,
        }
    }

    pub fn spawn(self, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut sweep = tokio::time::interval(SWEEP_EVERY);
            let mut heartbeat = tokio::time::interval(self.heartbeat);
            let stale_after = self.heartbeat * MISSED_BEATS;
            sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = heartbeat.tick() => {
                        if let Err(e) = self.presence.heartbeat(&self.node_id).await {
                            tracing::warn!(error = %e, "presence heartbeat failed");
                        }
                    }
                    _ = sweep.tick() => {
                        match self.presence.expire(stale_after).await {
                            Ok(0) => {}
                            Ok(left) => tracing::debug!(left, "visitors left the site"),
                            Err(e) => tracing::warn!(error = %e, "presence sweep failed"),
                        }
                    }
                }
            }
        })
    }
}
