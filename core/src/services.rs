//! Wiring: the ports and the database that every service shares, and [`Tandem`], the facade the
//! web and worker crates hold.

use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard};

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, TransactionOptions, TransactionTrait,
};

use crate::chat::ChatService;
use crate::clock::{Clock, SystemClock};
use crate::delivery::DeliveryService;
use crate::events::{BroadcastBus, DomainEvent, EventBus};
use crate::limits::Limits;
use crate::message::MessageService;
use crate::operator::OperatorService;
use crate::outbox::{
    LeaveToSweep, NotificationScheduler, OfflineTimeoutPolicy, OutboxService, TenantTimeoutSetting,
};
use crate::plugin::PluginService;
use crate::presence::PresenceService;
use crate::tenant::TenantService;
use crate::visitor::VisitorService;

/// The implementations core's ports are wired to. Defaults: the wall clock, an in-process
/// broadcast bus, no scheduler (outbox rows wait for a sweep) and the tenant's timeout setting.
#[derive(Clone)]
pub struct Ports {
    pub clock: Arc<dyn Clock>,
    pub events: Arc<dyn EventBus>,
    pub scheduler: Arc<dyn NotificationScheduler>,
    pub timeout_policy: Arc<dyn OfflineTimeoutPolicy>,
}

impl Default for Ports {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            events: Arc::new(BroadcastBus::default()),
            scheduler: Arc::new(LeaveToSweep),
            timeout_policy: Arc::new(TenantTimeoutSetting),
        }
    }
}

/// Held while writing on SQLite; see [`Deps::write_gate`].
pub(crate) type WriteTurn = Option<OwnedMutexGuard<()>>;

pub(crate) struct Deps {
    pub db: DatabaseConnection,
    /// SQLite has one writer at a time. Writers that find the lock taken wait in SQLite's busy
    /// handler, which sleeps in steps of up to 100 ms; queueing them here instead hands the lock
    /// over the moment it is free. `None` on PostgreSQL, whose row locks do this job.
    pub write_gate: Option<Arc<Mutex<()>>>,
    pub clock: Arc<dyn Clock>,
    pub events: Arc<dyn EventBus>,
    pub scheduler: Arc<dyn NotificationScheduler>,
    pub timeout_policy: Arc<dyn OfflineTimeoutPolicy>,
    pub limits: Limits,
}

impl Deps {
    /// A write transaction, and on SQLite this process's turn to write (drop it after the
    /// commit). On SQLite it also takes the write lock at BEGIN: a deferred transaction that
    /// reads and then writes can fail with SQLITE_BUSY when another writer got in between, where
    /// an immediate one simply waits its turn.
    pub async fn write(&self) -> Result<(DatabaseTransaction, WriteTurn), DbErr> {
        let turn = match &self.write_gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        };
        let txn = self
            .db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?;
        Ok((txn, turn))
    }

    pub fn publish(&self, event: DomainEvent) {
        self.events.publish(event);
    }
}

/// Every service of the domain, sharing one database and one set of ports.
#[derive(Clone)]
pub struct Tandem {
    pub tenants: TenantService,
    pub operators: OperatorService,
    pub visitors: VisitorService,
    pub chats: ChatService,
    pub messages: MessageService,
    pub presence: PresenceService,
    pub outbox: OutboxService,
    pub deliveries: DeliveryService,
    pub plugins: PluginService,
    pub inbound: crate::inbound::InboundService,
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
}

impl Tandem {
    pub fn new(db: DatabaseConnection, ports: Ports, limits: Limits) -> Self {
        let write_gate = (db.get_database_backend() == sea_orm::DbBackend::Sqlite)
            .then(|| Arc::new(Mutex::new(())));
        let clock = ports.clock.clone();
        let deps = Arc::new(Deps {
            db: db.clone(),
            write_gate,
            clock: ports.clock,
            events: ports.events,
            scheduler: ports.scheduler,
            timeout_policy: ports.timeout_policy,
            limits,
        });
        let messages = MessageService::new(deps.clone());
        Self {
            inbound: crate::inbound::InboundService::new(deps.clone(), messages.clone()),
            tenants: TenantService::new(deps.clone()),
            operators: OperatorService::new(deps.clone()),
            visitors: VisitorService::new(deps.clone()),
            chats: ChatService::new(deps.clone()),
            messages,
            presence: PresenceService::new(deps.clone()),
            outbox: OutboxService::new(deps.clone()),
            deliveries: DeliveryService::new(deps.clone()),
            plugins: PluginService::new(deps),
            db,
            clock,
        }
    }

    /// The time as the domain sees it (movable in tests).
    pub fn now(&self) -> crate::clock::Timestamp {
        self.clock.now()
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }
}
