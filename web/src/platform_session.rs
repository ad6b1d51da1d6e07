//! The platform console's session: the platform token, given once at sign-in, is exchanged for
//! an HttpOnly cookie that says "the platform, until then", signed with a key derived from the
//! installation's own key and the token ([`session_key`]). No table holds it, so every node
//! accepts it; changing the token ends every session. Signing out clears the browser's cookie;
//! a copy taken before stays good until it runs out (12 hours) or the token changes.
//!
//! Why not platform operators with accounts of their own: the platform token is already the
//! installation's one credential for this role (the API, scripts and `/metrics` use it), and a
//! second set of accounts would need its own passwords, recovery and lockout. The audit trail
//! records each change with the address it came from.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tandem_core::clock::Timestamp;

/// The cookie the platform console signs in with.
pub const PLATFORM_COOKIE: &str = "tandem_platform";

/// How long a console session lasts.
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// The key sessions are signed with: the installation's key (kept in the database) and the
/// platform token's digest, so that neither alone is enough to make a session.
pub fn session_key(installation_key: &[u8], token_digest: &[u8]) -> Vec<u8> {
    let mut mac = keyed(installation_key);
    mac.update(token_digest);
    mac.finalize().into_bytes().to_vec()
}

/// A cookie value good until `now + LIFETIME`: `<expiry ms>.<signature, base64url>`.
pub fn issue(key: &[u8], now: Timestamp) -> String {
    let until = now.millis().saturating_add(LIFETIME.as_millis() as i64);
    format!("{until}.{}", URL_SAFE_NO_PAD.encode(signature(key, until)))
}

/// Whether `value` is a session this installation issued that has not run out.
pub fn is_valid(key: &[u8], value: &str, now: Timestamp) -> bool {
    let Some((until, signed)) = value.split_once('.') else {
        return false;
    };
    let (Ok(until), Ok(signed)) = (until.parse::<i64>(), URL_SAFE_NO_PAD.decode(signed)) else {
        return false;
    };
    if until <= now.millis() {
        return false;
    }
    let mut mac = keyed(key);
    mac.update(until.to_string().as_bytes());
    // Constant-time comparison.
    mac.verify_slice(&signed).is_ok()
}

fn signature(key: &[u8], until: i64) -> Vec<u8> {
    let mut mac = keyed(key);
    mac.update(until.to_string().as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn keyed(key: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(b"tandem platform session\0");
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_holds_until_it_runs_out_and_only_for_its_token() {
        let now = Timestamp::from_millis(1_000_000);
        let cookie = issue(b"digest-a", now);
        assert!(is_valid(b"digest-a", &cookie, now));
        assert!(!is_valid(b"digest-b", &cookie, now), "another token's");
        let later = Timestamp::from_millis(now.millis() + LIFETIME.as_millis() as i64);
        assert!(!is_valid(b"digest-a", &cookie, later), "run out");
        let (until, signed) = cookie.split_once('.').unwrap();
        let stretched = format!("{}.{signed}", until.parse::<i64>().unwrap() + 1);
        assert!(!is_valid(b"digest-a", &stretched, now), "its time changed");
        for junk in ["", "x", "1.!!", "1.", ".AA"] {
            assert!(!is_valid(b"digest-a", junk, now), "{junk:?}");
        }
    }
}
