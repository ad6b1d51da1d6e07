//! What every handler can reach.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tandem_plugins::PluginRuntime;

use tandem_core::events::EventBus;
use tandem_core::ids::TenantId;
use tandem_core::tenant::Tenant;
use tandem_core::{CoreResult, Tandem};
use tandem_worker::mail::DevMailbox;
use tandem_worker::preview::EmailPreviewer;
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::rate_limit::RateLimits;
use crate::realtime::hub::Hub;

#[derive(Clone)]
pub struct AppState {
    pub tandem: Tandem,
    /// The bus core publishes on; handlers publish ephemeral events (typing) on it too.
    pub events: Arc<dyn EventBus>,
    pub hub: Arc<Hub>,
    pub tenants: Arc<TenantCache>,
    pub limits: Arc<RateLimits>,
    pub metrics: Arc<Metrics>,
    pub node_id: Arc<str>,
    pub public_url: Arc<str>,
    pub platform_token_digest: Option<Arc<Vec<u8>>>,
    /// Signs the platform console's sessions: from the installation's key and the token, so
    /// neither alone makes one, and a new token ends them all.
    pub platform_session_key: Option<Arc<Vec<u8>>>,
    /// The digest of `TANDEM_INBOUND_SECRET`; inbound mail is off without it.
    pub inbound_secret_digest: Option<Arc<Vec<u8>>>,
    pub socket_timeout: Duration,
    pub max_message_chars: usize,
    /// The development mailbox, when no SMTP server is configured.
    pub dev_mailbox: Option<Arc<DevMailbox>>,
    pub plugins: PluginRuntime,
    /// Unread-reply emails as they would go out, for plugin trials.
    pub email_preview: Arc<EmailPreviewer>,
    pub max_plugin_bytes: usize,
    /// Whether this node hears the other nodes' events (`None`: it is the only node).
    pub hearing_other_nodes: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// Becomes true when the server starts shutting down; sockets close on it.
    pub closing: watch::Receiver<bool>,
    /// Uploads (files, photos) read at once, in all and per tenant.
    pub uploads: Arc<crate::upload_slots::UploadSlots>,
    /// Where kept mail's `.eml` files are (no SMTP server configured), for erasures.
    pub mailbox_dir: Option<std::path::PathBuf>,
    /// A node silent this long is dead (its sockets' visitors go offline).
    pub node_silent_after: Duration,
    /// How long the audit trail keeps an entry; none: for ever.
    pub audit_retention: Option<Duration>,
}

/// Widget requests look their tenant up by key on every call; this keeps each tenant for a
/// moment. Suspension and settings changes on this node evict at once; other nodes see them
/// within [`TenantCache::TTL`].
#[derive(Default)]
pub struct TenantCache {
    by_key: Mutex<HashMap<String, (Instant, Tenant)>>,
}

impl TenantCache {
    pub const TTL: Duration = Duration::from_secs(2);
    const MAX_ENTRIES: usize = 10_000;

    pub async fn by_widget_key(&self, tandem: &Tandem, key: &str) -> CoreResult<Tenant> {
        if let Some(tenant) = self.cached(key) {
            return Ok(tenant);
        }
        let tenant = tandem.tenants.by_widget_key(key).await?;
        let mut map = self.lock();
        if map.len() >= Self::MAX_ENTRIES {
            map.retain(|_, (at, _)| at.elapsed() < Self::TTL);
        }
        map.insert(key.to_owned(), (Instant::now(), tenant.clone()));
        Ok(tenant)
    }

    pub fn evict(&self, tenant: TenantId) {
        self.lock().retain(|_, (_, t)| t.id != tenant);
    }

    fn cached(&self, key: &str) -> Option<Tenant> {
        let map = self.lock();
        let (at, tenant) = map.get(key)?;
        (at.elapsed() < Self::TTL).then(|| tenant.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Tenant)>> {
        self.by_key.lock().unwrap_or_else(|p| p.into_inner())
    }
}
