//! Password hashing with Argon2id. Hashing is deliberately slow, so it runs on the blocking pool.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::Rng;
use rand::distr::Alphanumeric;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::{CoreError, CoreResult};

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 200;

pub fn check_strength(password: &str) -> CoreResult<()> {
    let chars = password.chars().count();
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&chars) {
        return Err(CoreError::invalid(
            "password",
            format!("must be {MIN_LENGTH} to {MAX_LENGTH} characters"),
        ));
    }
    Ok(())
}

/// A random password for accounts created without one; shown once.
pub fn generate() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}

/// Argon2 checks running at once in the process: each takes ~19 MiB and a core for tens of
/// milliseconds, so a flood of logins waits here instead of exhausting memory.
const HASH_SLOTS: usize = 4;
/// How long a check waits for a slot before the request is answered "busy".
const HASH_WAIT: Duration = Duration::from_secs(5);

static SLOTS: Semaphore = Semaphore::const_new(HASH_SLOTS);

async fn slot() -> CoreResult<SemaphorePermit<'static>> {
    match tokio::time::timeout(HASH_WAIT, SLOTS.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(CoreError::Busy(
            "too many sign-ins at once; try again in a moment",
        )),
    }
}

pub async fn hash(password: String) -> CoreResult<String> {
    let slot = slot().await?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| CoreError::invalid("password", e.to_string()))
    })
    .await
    .map_err(|e| CoreError::invalid("password", format!("hashing was interrupted: {e}")))?
}

/// Checks `password` against `stored`. With no stored hash (unknown user) it still spends the
/// time of a check, so that response times do not tell which emails exist.
pub async fn verify(password: String, stored: Option<String>) -> CoreResult<bool> {
    let slot = slot().await?;
    let checked = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && stored != DUMMY_HASH
    })
    .await;
    Ok(checked.unwrap_or(false))
}

/// The hash of a random string nobody knows, with the default parameters.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$V4wL6hI2IXZ1H6y1mJBH3m2n0G6Gzw4sN0S5O1vH0lM";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(
            verify("correct horse battery".into(), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(!verify("wrong horse battery".into(), Some(h)).await.unwrap());
        assert!(!verify("anything at all".into(), None).await.unwrap());
    }

    #[test]
    fn strength_and_generation() {
        assert!(check_strength("short").is_err());
        assert!(check_strength(&"x".repeat(201)).is_err());
        assert!(check_strength("long enough!").is_ok());
        let p = generate();
        assert_eq!(p.len(), 20);
        check_strength(&p).unwrap();
    }
}
