//! The tenant's `messages_per_minute`, charged where every message is written (the widget, the
//! sockets, the offline form, replies by email and the operators' replies all pass here), so no
//! way in can skip it. Visitors and operators have an allowance each, so visitors writing as
//! fast as they may can never make an operator's reply fail.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::Clock as RateClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use sea_orm::{ConnectionTrait, EntityTrait, QuerySelect};

use crate::clock::Clock;
use crate::entity::tenant;
use crate::error::{CoreError, CoreResult};
use crate::ids::TenantId;
use crate::tenant::parse_limits;

use super::Author;

/// How long a tenant's limit is trusted before it is read again: a change made on another node
/// applies within this (one made on this node applies at once, see [`MessageQuotas::forget`]).
const LIMIT_FRESH_FOR: Duration = Duration::from_secs(2);

/// The share of a minute's allowance that may come at once.
const BURST_PARTS: u32 = 6;

pub(crate) struct MessageQuotas {
    clock: DomainClock,
    buckets: Mutex<HashMap<(TenantId, Author), Bucket>>,
    /// Moves on at each [`MessageQuotas::forget`]: a limit read before a change is not kept as
    /// fresh after it.
    changes: AtomicU64,
}

struct Bucket {
    per_minute: u32,
    /// When the limit was read, on the clock's forward-only time.
    read_at: Duration,
    limiter: RateLimiter<NotKeyed, InMemoryState, DomainClock, NoOpMiddleware<Duration>>,
}

impl MessageQuotas {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock: DomainClock(clock),
            buckets: Mutex::new(HashMap::new()),
            changes: AtomicU64::new(0),
        }
    }

    /// One more message from `side` in the tenant's chats, or `RateLimited` with the wait.
    pub async fn charge(
        &self,
        db: &impl ConnectionTrait,
        tenant: TenantId,
        side: Author,
    ) -> CoreResult<()> {
        let now = self.clock.0.elapsed();
        let fresh = self
            .lock()
            .get(&(tenant, side))
            .filter(|bucket| now.saturating_sub(bucket.read_at) < LIMIT_FRESH_FOR)
            .map(|bucket| bucket.per_minute);
        let changes = self.changes.load(Ordering::SeqCst);
        let (per_minute, read_now) = match fresh {
            Some(per_minute) => (per_minute, false),
            None => (messages_per_minute(db, tenant).await?, true),
        };
        // The limit changed while it was being read: use it this once, read again next time.
        let changed = self.changes.load(Ordering::SeqCst) != changes;
        let mut buckets = self.lock();
        let bucket = buckets
            .entry((tenant, side))
            .or_insert_with(|| self.bucket(per_minute, now));
        if bucket.per_minute != per_minute {
            *bucket = self.bucket(per_minute, now);
        }
        if changed {
            bucket.read_at = now.saturating_sub(LIMIT_FRESH_FOR);
        } else if read_now {
            bucket.read_at = now;
        }
        bucket.limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            CoreError::RateLimited {
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        })
    }

    /// Reads the tenant's limit again on its next message (its limits just changed).
    pub fn forget(&self, tenant: TenantId) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        self.lock().retain(|(id, _), _| *id != tenant);
    }

    fn bucket(&self, per_minute: u32, now: Duration) -> Bucket {
        Bucket {
            per_minute,
            read_at: now,
            limiter: RateLimiter::direct_with_clock(quota(per_minute), self.clock.clone()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(TenantId, Author), Bucket>> {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn messages_per_minute(db: &impl ConnectionTrait, tenant: TenantId) -> CoreResult<u32> {
    let limits: Option<String> = tenant::Entity::find_by_id(tenant)
        .select_only()
        .column(tenant::Column::Limits)
        .into_tuple()
        .one(db)
        .await?;
    let limits = limits.ok_or(CoreError::NotFound("tenant"))?;
    Ok(parse_limits(&limits)?.messages_per_minute)
}

/// `per_minute`, a sixth of it at once.
fn quota(per_minute: u32) -> Quota {
    let rate = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(per_minute / BURST_PARTS).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(rate).allow_burst(burst)
}

/// The domain's clock as the rate limiter's (its forward-only time), so tests that move time
/// move the allowance too.
#[derive(Clone)]
struct DomainClock(Arc<dyn Clock>);

impl RateClock for DomainClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}
