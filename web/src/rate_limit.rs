//! Per-client-IP and per-visitor rate limits on the widget's endpoints and socket messages: the
//! widget is public, so anyone can call it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tandem_core::ids::VisitorId;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;
use tandem_core::held::{Held, OpenCounts};

/// Middleware for the widget's endpoints: each client IP gets its allowance before anything
/// else (the database included) is touched.
pub async fn limit_by_ip(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Err(e) = check_ip_once(&state, &mut request) {
        return e.into_response();
    }
    next.run(request).await
}

/// Marks a request whose client IP has been charged for it.
#[derive(Clone, Copy)]
struct IpCharged;

/// Charges the request to its client IP's allowance, once however many layers ask.
pub fn check_ip_once(state: &AppState, request: &mut Request) -> Result<(), ApiError> {
    if request.extensions().get::<IpCharged>().is_some() {
        return Ok(());
    }
    request.extensions_mut().insert(IpCharged);
    match client_ip(request.extensions()) {
        Some(ip) => state.limits.check_ip(ip),
        None => Ok(()),
    }
}

/// The address the request came from, when the server knows it.
pub fn client_ip(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

pub struct RateLimits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_visitor: DefaultKeyedRateLimiter<VisitorId>,
    /// Sign-in attempts per client IP.
    logins_per_ip: DefaultKeyedRateLimiter<IpAddr>,
    /// Failed sign-ins per account (tenant slug and email, lower-cased).
    failures_per_account: DefaultKeyedRateLimiter<String>,
    /// Accounts refused until then, after too many failures.
    locked: Mutex<HashMap<String, std::time::Instant>>,
    /// New visitor sessions per client IP (`None`: no limit).
    sessions_per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Widget sockets open per client IP (with its cap, 0: none) and per visitor.
    sockets_per_ip: (OpenCounts<IpAddr>, usize),
    sockets_per_visitor: OpenCounts<VisitorId>,
    clock: DefaultClock,
}

impl RateLimits {
    /// `per_ip` and `per_visitor` are sustained rates per minute; a sixth of each may come at
    /// once (a page load fires several requests together).
    pub fn new(per_ip: u32, per_visitor: u32) -> Self {
        Self {
            per_ip: RateLimiter::keyed(quota(per_ip)),
            per_visitor: RateLimiter::keyed(quota(per_visitor)),
            logins_per_ip: RateLimiter::keyed(
                Quota::per_minute(LOGINS_PER_IP_PER_MINUTE).allow_burst(LOGIN_BURST),
            ),
            failures_per_account: RateLimiter::keyed(
                Quota::per_minute(FAILURES_PER_ACCOUNT_PER_MINUTE).allow_burst(FAILURE_BURST),
            ),
            locked: Mutex::new(HashMap::new()),
            sessions_per_ip: Some(RateLimiter::keyed(quota_third(NEW_VISITORS_PER_IP))),
            sockets_per_ip: (OpenCounts::default(), SOCKETS_PER_IP),
            sockets_per_visitor: OpenCounts::default(),
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

    /// New visitors one IP may start per minute (a third of it at once), and widget sockets
    /// one IP may hold; 0 turns either off (behind a proxy, or for a load test).
    pub fn with_visitor_caps(mut self, new_per_minute: u32, sockets_per_ip: usize) -> Self {
        self.sessions_per_ip =
            (new_per_minute > 0).then(|| RateLimiter::keyed(quota_third(new_per_minute)));
        self.sockets_per_ip.1 = sockets_per_ip;
        self
    }

    /// A new visitor from `ip`: a page load makes one, a script making thousands is refused.
    pub fn check_new_session(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        match (ip, &self.sessions_per_ip) {
            (Some(ip), Some(limiter)) => limiter
                .check_key(&ip)
                .map_err(|not_until| ApiError::rate_limited(self.wait_secs(&not_until))),
            _ => Ok(()),
        }
    }

    /// A place for one more widget socket of `visitor` from `ip`, held until the socket
    /// closes: tabs and devices of one person, not hundreds.
    pub fn hold_socket(
        &self,
        ip: Option<IpAddr>,
        visitor: VisitorId,
    ) -> Result<SocketPlaces, ApiError> {
        let full = || ApiError::rate_limited(SOCKET_RETRY_SECS);
        let (by_ip, cap) = &self.sockets_per_ip;
        let by_ip = match ip {
            Some(ip) => Some(by_ip.take(ip, *cap).ok_or_else(full)?),
            None => None,
        };
        let by_visitor = self
            .sockets_per_visitor
            .take(visitor, SOCKETS_PER_VISITOR)
            .ok_or_else(full)?;
        Ok(SocketPlaces {
            _by_ip: by_ip,
            _by_visitor: by_visitor,
        })
    }

    /// Before a sign-in is checked: the client IP's allowance, and the account not locked by
    /// earlier failures. Either answers 429 with the wait.
    pub fn check_login(&self, ip: Option<IpAddr>, account: &str) -> Result<(), ApiError> {
        if let Some(ip) = ip {
            self.logins_per_ip
                .check_key(&ip)
                .map_err(|not_until| ApiError::rate_limited(self.wait_secs(&not_until)))?;
        }
        let locked = self.locked.lock().unwrap_or_else(|p| p.into_inner());
        match locked.get(account) {
            Some(until) if *until > std::time::Instant::now() => {
                let wait = until.saturating_duration_since(std::time::Instant::now());
                Err(ApiError::rate_limited(wait.as_secs_f64().ceil() as u64))
            }
            _ => Ok(()),
        }
    }

    /// After a wrong password: past the allowance of failures, the account is locked for as
    /// long as the allowance takes to refill one attempt.
    pub fn login_failed(&self, account: &str) {
        if let Err(not_until) = self.failures_per_account.check_key(&account.to_owned()) {
            let wait = not_until.wait_time_from(self.clock.now());
            self.locked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(account.to_owned(), std::time::Instant::now() + wait);
        }
    }

    /// Forgets clients that are back to a full allowance, so the tables do not grow forever.
    pub fn forget_idle(&self) {
        self.per_ip.retain_recent();
        self.per_visitor.retain_recent();
        self.logins_per_ip.retain_recent();
        if let Some(limiter) = &self.sessions_per_ip {
            limiter.retain_recent();
        }
        self.failures_per_account.retain_recent();
        let now = std::time::Instant::now();
        self.locked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, until| *until > now);
    }

    fn wait_secs(&self, not_until: &governor::NotUntil<<DefaultClock as Clock>::Instant>) -> u64 {
        not_until
            .wait_time_from(self.clock.now())
            .as_secs_f64()
            .ceil() as u64
    }
}

/// A widget socket's places among its IP's and its visitor's.
pub struct SocketPlaces {
    _by_ip: Option<Held<IpAddr>>,
    _by_visitor: Held<VisitorId>,
}

/// Widget sockets one visitor may hold (tabs and devices), and by default one IP (an office
/// behind NAT).
const SOCKETS_PER_VISITOR: usize = 10;
pub const SOCKETS_PER_IP: usize = 200;
const SOCKET_RETRY_SECS: u64 = 10;
/// New visitors one IP may start per minute, by default.
pub const NEW_VISITORS_PER_IP: u32 = 120;

/// Sign-in attempts a client IP may make: a few typos, not a guessing run.
const LOGINS_PER_IP_PER_MINUTE: NonZeroU32 = NonZeroU32::new(30).expect("non-zero");
const LOGIN_BURST: NonZeroU32 = NonZeroU32::new(20).expect("non-zero");
/// Wrong passwords one account takes in a row before it is locked, then one a minute.
const FAILURES_PER_ACCOUNT_PER_MINUTE: NonZeroU32 = NonZeroU32::new(1).expect("non-zero");
const FAILURE_BURST: NonZeroU32 = NonZeroU32::new(5).expect("non-zero");

/// The key of an account in the sign-in limits.
pub fn account_key(tenant: &str, email: &str) -> String {
    format!(
        "{}\n{}",
        tenant.trim().to_lowercase(),
        email.trim().to_lowercase()
    )
}

/// `per_minute`, a third of it at once.
fn quota_third(per_minute: u32) -> Quota {
    quota_in_bursts(per_minute, 3)
}

/// `per_minute`, a sixth of it at once.
fn quota(per_minute: u32) -> Quota {
    quota_in_bursts(per_minute, 6)
}

fn quota_in_bursts(per_minute: u32, parts: u32) -> Quota {
    let rate = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new((per_minute / parts).max(1)).unwrap_or(NonZeroU32::MIN);
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

    #[test]
    fn a_visitor_holds_at_most_ten_sockets() {
        let limits = RateLimits::new(60, 60);
        let visitor = VisitorId::new();
        let ip: IpAddr = [10, 0, 0, 1].into();
        let held: Vec<_> = (0..10)
            .map(|_| limits.hold_socket(Some(ip), visitor).expect("a place"))
            .collect();
        assert!(limits.hold_socket(Some(ip), visitor).is_err());
        limits
            .hold_socket(Some(ip), VisitorId::new())
            .expect("another visitor on the same IP");
        drop(held);
        limits
            .hold_socket(Some(ip), visitor)
            .expect("closed sockets free places");
    }

    #[test]
    fn an_account_is_locked_after_five_wrong_passwords() {
        let limits = RateLimits::new(60, 60);
        let account = account_key("Acme", "Olga@Acme.example");
        for _ in 0..5 {
            limits.check_login(None, &account).expect("not locked yet");
            limits.login_failed(&account);
        }
        limits
            .check_login(None, &account)
            .expect("five failures pass");
        limits.login_failed(&account);
        let refused = limits.check_login(None, &account).expect_err("locked");
        assert_eq!(refused.status, axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.retry_after.is_some_and(|s| (1..=60).contains(&s)));
        limits
            .check_login(None, &account_key("acme", "vera@acme.example"))
            .expect("another account is not locked");
    }

    #[test]
    fn one_ip_cannot_try_more_than_its_sign_in_allowance() {
        let limits = RateLimits::new(60, 60);
        let ip: IpAddr = [10, 0, 0, 1].into();
        for i in 0..20 {
            limits
                .check_login(Some(ip), &account_key("acme", &format!("{i}@x")))
                .expect("within the burst");
        }
        assert!(
            limits
                .check_login(Some(ip), &account_key("acme", "21@x"))
                .is_err()
        );
    }
}
