//! Password hashing with Argon2id. Hashing is deliberately slow, so it runs on the blocking pool.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::Rng;
use rand::distr::Alphanumeric;

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

pub async fn hash(password: String) -> CoreResult<String> {
    tokio::task::spawn_blocking(move || {
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
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && stored != DUMMY_HASH
    })
    .await
    .unwrap_or(false)
}

/// The hash of a random string nobody knows, with the default parameters.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$V4wL6hI2IXZ1H6y1mJBH3m2n0G6Gzw4sN0S5O1vH0lM";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(verify("correct horse battery".into(), Some(h.clone())).await);
        assert!(!verify("wrong horse battery".into(), Some(h)).await);
        assert!(!verify("anything at all".into(), None).await);
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
