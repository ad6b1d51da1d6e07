//! The bus over Redis pub/sub, for installations that run Redis (`TANDEM_REDIS_URL`): the same
//! envelopes as over PostgreSQL, without load on the database.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;
use tandem_core::Tandem;
use tandem_core::events::{BroadcastBus, DomainEvent};
use tokio::sync::watch;

use super::wire::pack;
use super::{Outgoing, receive};

/// Events sent in one go when they queue up.
const BATCH: usize = 64;

pub struct RedisLink {
    client: redis::Client,
    channel: String,
    node: Arc<str>,
    pub(super) listening: Arc<AtomicBool>,
}

impl RedisLink {
    /// Checks the URL; connections are made (and remade) by the running link.
    pub fn new(url: &str, channel: &str, node: Arc<str>) -> Result<Self, redis::RedisError> {
        Ok(Self {
            client: redis::Client::open(url)?,
            channel: channel.to_owned(),
            node,
            listening: Arc::default(),
        })
    }

    /// Sends this node's events as they come.
    pub(super) fn sender(&self, outgoing: Outgoing) -> impl Future<Output = ()> + Send + 'static {
        send(
            self.client.clone(),
            self.channel.clone(),
            self.node.clone(),
            outgoing,
        )
    }

    /// Delivers the other nodes' events to `local` until `stop`.
    pub(super) async fn listen(
        self,
        local: BroadcastBus,
        tandem: Tandem,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            let subscribed = async {
                let mut pubsub = self.client.get_async_pubsub().await?;
                pubsub.subscribe(&self.channel).await?;
                Ok::<_, redis::RedisError>(pubsub)
            };
            let mut pubsub = match subscribed.await {
                Ok(pubsub) => pubsub,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen to the other nodes over Redis; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        _ = stop.changed() => return,
                    }
                }
            };
            self.listening.store(true, Ordering::Relaxed);
            let mut messages = pubsub.on_message();
            loop {
                let message = tokio::select! {
                    m = messages.next() => m,
                    _ = stop.changed() => return,
                };
                let Some(message) = message else {
                    tracing::warn!("lost the connection to Redis; reconnecting");
                    self.listening.store(false, Ordering::Relaxed);
                    break;
                };
                match message.get_payload::<String>() {
                    Ok(payload) => receive(&payload, &self.node, &local, &tandem).await,
                    Err(e) => tracing::warn!(error = %e, "an unreadable message on the bus"),
                }
            }
        }
    }
}

async fn send(client: redis::Client, channel: String, node: Arc<str>, mut outgoing: Outgoing) {
    let mut connection = None;
    let mut batch: Vec<DomainEvent> = Vec::with_capacity(BATCH);
    while outgoing.recv_many(&mut batch, BATCH).await > 0 {
        for payload in pack(&node, &batch) {
            if connection.is_none() {
                match client.get_multiplexed_async_connection().await {
                    Ok(c) => connection = Some(c),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot reach Redis to tell the other nodes");
                        break;
                    }
                }
            }
            if let Some(c) = connection.as_mut() {
                let sent: Result<(), redis::RedisError> = c.publish(&channel, &payload).await;
                if let Err(e) = sent {
                    tracing::warn!(error = %e, "cannot tell the other nodes of an event");
                    connection = None;
                }
            }
        }
        batch.clear();
    }
}
