//! Wiring: the ports and the database that every service shares, and [`Tandem`], the facade the
//! web and worker crates hold.

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr};

use crate::alert::AlertService;
use crate::automation::{ConversationHooks, NoAutomation};
use crate::canned::CannedReplyService;
use crate::chat::ChatService;
use crate::clock::{Clock, SystemClock};
use crate::delivery::DeliveryService;
use crate::events::{BroadcastBus, DomainEvent, EventBus};
use crate::file::{FileService, FileStore, NoFileStore};
use crate::ids::TenantId;
use crate::limits::Limits;
use crate::message::{MessageQuotas, MessageService};
use crate::note::NoteService;
use crate::operator::OperatorService;
use crate::outbox::{
    LeaveToSweep, NotificationScheduler, OfflineTimeoutPolicy, OutboxService, TenantTimeoutSetting,
};
use crate::plugin::PluginService;
use crate::presence::PresenceService;
use crate::search::{SearchService, index_for};
use crate::storage::Storage;
pub(crate) use crate::storage::WriteTxn;
use crate::tenant::TenantService;
use crate::usage::{Metric, UsageMeter, UsageService};
use crate::visitor::VisitorService;

/// The implementations core's ports are wired to. Defaults: the wall clock, an in-process
/// broadcast bus, no scheduler (outbox rows wait for a sweep), the tenant's timeout setting and
/// no automation.
#[derive(Clone)]
pub struct Ports {
    pub clock: Arc<dyn Clock>,
    pub events: Arc<dyn EventBus>,
    pub scheduler: Arc<dyn NotificationScheduler>,
    pub timeout_policy: Arc<dyn OfflineTimeoutPolicy>,
    /// The tenant's plugins at the moments of a conversation.
    pub automation: Arc<dyn ConversationHooks>,
    /// Where files sent in dialogs are kept.
    pub files: Arc<dyn FileStore>,
    /// This process's usage counts; the plugin store counts into the same one.
    pub usage: UsageMeter,
}

impl Default for Ports {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            events: Arc::new(BroadcastBus::default()),
            scheduler: Arc::new(LeaveToSweep),
            timeout_policy: Arc::new(TenantTimeoutSetting),
            automation: Arc::new(NoAutomation),
            files: Arc::new(NoFileStore),
            usage: UsageMeter::default(),
        }
    }
}

pub(crate) struct Deps {
    /// For reads; writes go through [`Deps::write`].
    pub db: DatabaseConnection,
    pub storage: Storage,
    pub clock: Arc<dyn Clock>,
    pub events: Arc<dyn EventBus>,
    pub scheduler: Arc<dyn NotificationScheduler>,
    pub timeout_policy: Arc<dyn OfflineTimeoutPolicy>,
    pub automation: Arc<dyn ConversationHooks>,
    pub files: Arc<dyn FileStore>,
    pub limits: Limits,
    /// Each tenant's messages a minute, charged as messages are written.
    pub quotas: MessageQuotas,
    /// Each tenant's settings, as the message paths read them.
    pub tenant_settings: crate::tenant::SettingsCache,
    /// Images being decoded in this process (files, photos): each may take a few hundred MB
    /// for a moment, so only a few at once.
    pub images: tokio::sync::Semaphore,
    pub usage: UsageMeter,
}

/// Images decoded at once in this process.
const DECODING_AT_ONCE: usize = 2;

impl Deps {
    /// A write transaction (see [`Storage::write`]).
    pub async fn write(&self) -> Result<WriteTxn, DbErr> {
        self.storage.write().await
    }

    pub fn publish(&self, event: DomainEvent) {
        self.events.publish(event);
    }

    /// Counts `n` of `metric` for the tenant, now; call it once the work has committed.
    pub fn count(&self, tenant: TenantId, metric: Metric, n: u64) {
        self.usage.add(tenant, self.clock.now(), metric, n);
    }
}

/// Every service of the domain, sharing one database and one set of ports.
#[derive(Clone)]
pub struct Tandem {
    pub tenants: TenantService,
    pub audit: crate::audit::AuditService,
    pub usage: UsageService,
    pub installation: crate::installation::InstallationService,
    pub operators: OperatorService,
    pub visitors: VisitorService,
    pub chats: ChatService,
    pub messages: MessageService,
    pub files: FileService,
    pub notes: NoteService,
    pub canned_replies: CannedReplyService,
    pub search: SearchService,
    pub presence: PresenceService,
    pub outbox: OutboxService,
    pub deliveries: DeliveryService,
    pub alerts: AlertService,
    pub push: crate::push::PushService,
    pub ratings: crate::rating::RatingService,
    pub reply_times: crate::reply_time::ReplyTimeService,
    pub transcripts: crate::transcript::TranscriptService,
    pub exports: crate::export::ExportService,
    pub plugins: PluginService,
    pub inbound: crate::inbound::InboundService,
    pub dev_mails: crate::dev_mail::DevMailService,
    storage: Storage,
    clock: Arc<dyn Clock>,
}

impl Tandem {
    /// The services over `storage`. Anything else in this process that writes (the plugin
    /// store) must share this same `Storage`, so that on SQLite all writers take turns.
    pub fn new(storage: impl Into<Storage>, ports: Ports, limits: Limits) -> Self {
        let storage = storage.into();
        let clock = ports.clock.clone();
        let deps = Arc::new(Deps {
            db: storage.reader().clone(),
            storage: storage.clone(),
            quotas: MessageQuotas::new(ports.clock.clone()),
            tenant_settings: crate::tenant::SettingsCache::new(ports.clock.clone()),
            clock: ports.clock,
            events: ports.events,
            scheduler: ports.scheduler,
            timeout_policy: ports.timeout_policy,
            automation: ports.automation,
            files: ports.files,
            limits,
            images: tokio::sync::Semaphore::new(DECODING_AT_ONCE),
            usage: ports.usage,
        });
        let messages = MessageService::new(deps.clone());
        Self {
            inbound: crate::inbound::InboundService::new(deps.clone(), messages.clone()),
            dev_mails: crate::dev_mail::DevMailService::new(deps.clone()),
            tenants: TenantService::new(deps.clone()),
            audit: crate::audit::AuditService::new(deps.clone()),
            usage: UsageService::new(deps.clone()),
            installation: crate::installation::InstallationService::new(deps.clone()),
            operators: OperatorService::new(deps.clone()),
            visitors: VisitorService::new(deps.clone()),
            chats: ChatService::new(deps.clone()),
            files: FileService::new(deps.clone(), messages.clone()),
            messages,
            notes: NoteService::new(deps.clone()),
            canned_replies: CannedReplyService::new(deps.clone()),
            search: SearchService::new(deps.clone(), index_for(storage.backend())),
            presence: PresenceService::new(deps.clone()),
            outbox: OutboxService::new(deps.clone()),
            deliveries: DeliveryService::new(deps.clone()),
            alerts: AlertService::new(deps.clone()),
            push: crate::push::PushService::new(deps.clone()),
            ratings: crate::rating::RatingService::new(deps.clone()),
            reply_times: crate::reply_time::ReplyTimeService::new(deps.clone()),
            transcripts: crate::transcript::TranscriptService::new(deps.clone()),
            exports: crate::export::ExportService::new(deps.clone()),
            plugins: PluginService::new(deps),
            storage,
            clock,
        }
    }

    /// The time as the domain sees it (movable in tests).
    pub fn now(&self) -> crate::clock::Timestamp {
        self.clock.now()
    }

    /// The database these services write to, for another process part to share.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }
}
