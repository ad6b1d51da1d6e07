//! The bus over PostgreSQL: `pg_notify` out, `LISTEN` in, on the database every node shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sea_orm::DatabaseConnection;
use sea_orm::sqlx::PgPool;
use sea_orm::sqlx::postgres::PgListener;
use tandem_core::Tandem;
use tandem_core::events::{BroadcastBus, DomainEvent};
use tokio::sync::watch;

use super::wire::pack;
use super::{Outgoing, receive};

/// Events sent in one go when they queue up.
const BATCH: usize = 64;

pub struct PostgresLink {
    pool: PgPool,
    channel: String,
    node: Arc<str>,
    pub(super) listening: Arc<AtomicBool>,
}

impl PostgresLink {
    /// `None` unless the database is PostgreSQL.
    pub fn new(db: &DatabaseConnection, channel: &str, node: Arc<str>) -> Option<Self> {
        (db.get_database_backend() == sea_orm::DbBackend::Postgres).then(|| Self {
            pool: db.get_postgres_connection_pool().clone(),
            channel: channel.to_owned(),
            node,
            listening: Arc::default(),
        })
    }

    /// Sends this node's events as they come.
    pub(super) fn sender(&self, outgoing: Outgoing) -> impl Future<Output = ()> + Send + 'static {
        send(
            self.pool.clone(),
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
            let mut listener = match self.subscribe().await {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen to the other nodes; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        _ = stop.changed() => return,
                    }
                }
            };
            self.listening.store(true, Ordering::Relaxed);
            loop {
                let notification = tokio::select! {
                    n = listener.try_recv() => n,
                    _ = stop.changed() => return,
                };
                match notification {
                    Ok(Some(n)) => receive(n.payload(), &self.node, &local, &tandem).await,
                    // The connection dropped: what was sent meanwhile is lost to this node.
                    Ok(None) | Err(_) => {
                        tracing::warn!("lost the connection to the other nodes; reconnecting");
                        self.listening.store(false, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
    }

    async fn subscribe(&self) -> Result<PgListener, sea_orm::sqlx::Error> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(&self.channel).await?;
        Ok(listener)
    }
}

async fn send(pool: PgPool, channel: String, node: Arc<str>, mut outgoing: Outgoing) {
    let mut batch: Vec<DomainEvent> = Vec::with_capacity(BATCH);
    while outgoing.recv_many(&mut batch, BATCH).await > 0 {
        for payload in pack(&node, &batch) {
            let sent = sea_orm::sqlx::query("SELECT pg_notify($1, $2)")
                .bind(&channel)
                .bind(&payload)
                .execute(&pool)
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "cannot tell the other nodes of an event");
            }
        }
        batch.clear();
    }
}
