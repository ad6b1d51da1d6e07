//! The event bus between nodes. Every node delivers its own events to its own sockets at once,
//! through the in-process [`BroadcastBus`], and also hands them to a transport that carries them
//! to every other node (PostgreSQL `LISTEN/NOTIFY`, or Redis pub/sub when configured), where
//! they reach that node's sockets.
//!
//! Payloads stay small: an event travels whole when it fits, and by id otherwise (a long
//! message), the receiving node reading the row back from the database.

mod postgres;
mod redis;
mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tandem_core::Tandem;
use tandem_core::events::{BroadcastBus, DomainEvent, EventBus};
use tokio::sync::mpsc;

pub use postgres::PostgresLink;
pub use redis::RedisLink;

/// Events waiting for the transport; beyond this the bus drops them (and counts them) rather
/// than slow the request path down while the database is unreachable.
const OUTGOING: usize = 16 * 1024;

/// What [`ClusterBus`] hands the transport.
pub type Outgoing = mpsc::Receiver<DomainEvent>;

/// Publishes locally and to the other nodes.
pub struct ClusterBus {
    local: BroadcastBus,
    outgoing: mpsc::Sender<DomainEvent>,
    /// Events the transport fell too far behind to take (they never reach the other nodes).
    dropped: AtomicU64,
}

impl ClusterBus {
    pub fn new(local: BroadcastBus) -> (Self, Outgoing) {
        let (outgoing, rx) = mpsc::channel(OUTGOING);
        let bus = Self {
            local,
            outgoing,
            dropped: AtomicU64::new(0),
        };
        (bus, rx)
    }
}

impl EventBus for ClusterBus {
    fn publish(&self, event: DomainEvent) {
        self.local.publish(event.clone());
        if self.outgoing.try_send(event).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(
                    dropped,
                    "the bus to the other nodes is behind; their sockets miss events until they resync"
                );
            }
        }
    }
}

/// Delivers another node's envelope to this node's sockets (this node's own come back too, and
/// are dropped: they were delivered when published).
async fn receive(payload: &str, node: &str, local: &BroadcastBus, tandem: &Tandem) {
    let Some((sender, events)) = wire::unpack(payload) else {
        tracing::warn!("an unreadable envelope from another node");
        return;
    };
    if sender == node {
        return;
    }
    for wire in events {
        match wire.resolve(tandem).await {
            Ok(Some(event)) => local.publish(event),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read back an event's row"),
        }
    }
}

/// The transport to the other nodes.
pub enum Link {
    Postgres(PostgresLink),
    Redis(RedisLink),
}

impl Link {
    /// True while this node hears the other nodes.
    pub fn listening(&self) -> Arc<std::sync::atomic::AtomicBool> {
        match self {
            Self::Postgres(link) => link.listening.clone(),
            Self::Redis(link) => link.listening.clone(),
        }
    }

    /// Sends this node's events and delivers the other nodes' to `local`, until `stop`.
    pub fn spawn(
        self,
        outgoing: Outgoing,
        local: BroadcastBus,
        tandem: Tandem,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let sender = match &self {
            Self::Postgres(link) => tokio::spawn(link.sender(outgoing)),
            Self::Redis(link) => tokio::spawn(link.sender(outgoing)),
        };
        tokio::spawn(async move {
            match self {
                Self::Postgres(link) => link.listen(local, tandem, stop).await,
                Self::Redis(link) => link.listen(local, tandem, stop).await,
            }
            sender.abort();
        })
    }
}
