//! Per-client-IP and per-visitor rate limits on the widget's endpoints and socket messages: the
//! widget is public, so anyone can call it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use tandem_core::ids::{TenantId, VisitorId};
use tandem_core::tenant::Tenant;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// Middleware for the widget's endpoints: each client IP gets its allowance before anything
/// else (the database included) is touched.
pub async fn limit_by_ip(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    if let Some(ip) = ip
        && let Err(e) = state.limits.check_ip(ip)
    {
        return e.into_response();
    }
    next.run(request).await
}

pub struct RateLimits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_visitor: DefaultKeyedRateLimiter<VisitorId>,
    /// Each tenant's `messages_per_minute`, with the quota it was built for: a changed limit
    /// gets a fresh bucket.
    per_tenant: Mutex<HashMap<TenantId, (u32, DefaultDirectRateLimiter)>>,
    clock: DefaultClock,
}

impl RateLimits {
    /// `per_ip` and `per_visitor` are sustained rates per minute; a sixth of each may come at
    /// once (a page load fires several requests together).
    pub fn new(per_ip: u32, per_visitor: u32) -> Self {
        Self {
            per_ip: RateLimiter::keyed(quota(per_ip)),
            per_visitor: RateLimiter::keyed(quota(per_visitor)),
            per_tenant: Mutex::new(HashMap::new()),
            clock: DefaultClock::default(),
        }
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.per_ip
            .check_key(&ip)
            .map_err(|not_until| ApiError::rate_limited(self.wait_secs(&not_until)))
    }

    pub fn check_visitor(&self, visitor: VisitorId) -> Result<(), ApiError> {
        self.per_visitor
            .check_key(&visitor)
            .map_err(|not_until| ApiError::rate_limited(self.wait_secs(&not_until)))
    }

    /// One more message in the tenant's chats, within its `messages_per_minute`.
    pub fn check_tenant_messages(&self, tenant: &Tenant) -> Result<(), ApiError> {
        let per_minute = tenant.limits.messages_per_minute;
        let mut buckets = self.per_tenant.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets
            .entry(tenant.id)
            .or_insert_with(|| (per_minute, RateLimiter::direct(quota(per_minute))));
        if bucket.0 != per_minute {
            *bucket = (per_minute, RateLimiter::direct(quota(per_minute)));
        }
        bucket
            .1
            .check()
            .map_err(|not_until| ApiError::rate_limited(self.wait_secs(&not_until)))
    }

    /// Forgets clients that are back to a full allowance, so the tables do not grow forever.
    pub fn forget_idle(&self) {
        self.per_ip.retain_recent();
        self.per_visitor.retain_recent();
    }

    fn wait_secs(&self, not_until: &governor::NotUntil<<DefaultClock as Clock>::Instant>) -> u64 {
        not_until
            .wait_time_from(self.clock.now())
            .as_secs_f64()
            .ceil() as u64
    }
}

fn quota(per_minute: u32) -> Quota {
    let rate = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new((per_minute / 6).max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(rate).allow_burst(burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_client_waits() {
        let limits = RateLimits::new(60, 60);
        let ip: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..10 {
            limits.check_ip(ip).expect("within the burst");
        }
        let refused = limits.check_ip(ip).expect_err("burst spent");
        assert_eq!(refused.status, axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.retry_after.is_some_and(|s| s >= 1));
        limits
            .check_ip([10, 0, 0, 2].into())
            .expect("another client has its own allowance");
    }
}
