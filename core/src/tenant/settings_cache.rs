//! Each tenant's settings as the message paths read them — every visitor message asks for the
//! long-wait alert, every reply for the offline timeout — kept for [`FRESH_FOR`] after a read,
//! so a message costs no read of the tenant's row. A change made on this node applies at once
//! ([`SettingsCache::forget`]); one made on another node within [`FRESH_FOR`], as the message
//! allowance does (`message/quota.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{ConnectionTrait, EntityTrait, QuerySelect};

use crate::clock::Clock;
use crate::entity::tenant;
use crate::error::{CoreError, CoreResult};
use crate::ids::TenantId;

use super::{TenantSettings, parse_settings};

/// How long a tenant's settings are trusted after they were read.
const FRESH_FOR: Duration = Duration::from_secs(2);

/// Tenants kept at most; past it the stale ones go (and all, if none is stale).
const KEPT_MAX: usize = 10_000;

/// A tenant's settings as read at one moment.
pub(crate) struct TenantSnapshot {
    pub slug: String,
    pub settings: TenantSettings,
}

pub(crate) struct SettingsCache {
    clock: Arc<dyn Clock>,
    kept: Mutex<HashMap<TenantId, Kept>>,
    /// Moves on at each [`SettingsCache::forget`]: settings read before a change are not kept
    /// after it.
    changes: AtomicU64,
}

struct Kept {
    /// When it was read, on the clock's forward-only time.
    read_at: Duration,
    snapshot: Arc<TenantSnapshot>,
}

impl SettingsCache {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            kept: Mutex::new(HashMap::new()),
            changes: AtomicU64::new(0),
        }
    }

    /// The tenant's settings, read at most [`FRESH_FOR`] ago.
    pub async fn get(
        &self,
        db: &impl ConnectionTrait,
        tenant: TenantId,
    ) -> CoreResult<Arc<TenantSnapshot>> {
        let now = self.clock.elapsed();
        if let Some(kept) = self
            .lock()
            .get(&tenant)
            .filter(|kept| now.saturating_sub(kept.read_at) < FRESH_FOR)
        {
            return Ok(kept.snapshot.clone());
        }
        let changes = self.changes.load(Ordering::SeqCst);
        let (slug, json): (String, String) = tenant::Entity::find_by_id(tenant)
            .select_only()
            .column(tenant::Column::Slug)
            .column(tenant::Column::Settings)
            .into_tuple()
            .one(db)
            .await?
            .ok_or(CoreError::NotFound("tenant"))?;
        let snapshot = Arc::new(TenantSnapshot {
            slug,
            settings: parse_settings(&json)?,
        });
        // Changed while it was read: used this once, not kept.
        if self.changes.load(Ordering::SeqCst) == changes {
            let mut kept = self.lock();
            if kept.len() >= KEPT_MAX {
                kept.retain(|_, kept| now.saturating_sub(kept.read_at) < FRESH_FOR);
                if kept.len() >= KEPT_MAX {
                    kept.clear();
                }
            }
            kept.insert(
                tenant,
                Kept {
                    read_at: now,
                    snapshot: snapshot.clone(),
                },
            );
        }
        Ok(snapshot)
    }

    /// The tenant's settings changed (or it is gone): read them again next time.
    pub fn forget(&self, tenant: TenantId) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        self.lock().remove(&tenant);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, Kept>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }
}
