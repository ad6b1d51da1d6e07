//! Bearer secrets (visitor tokens, resume tokens, widget keys): random, URL-safe, and stored only
//! as a SHA-256 digest so that a leaked database does not hand out sessions.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new random secret: a short prefix saying what it is, then 32 random bytes.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// As [`generate`], in lowercase hex and 160 bits: for secrets that travel where case may not
/// survive and length is short (the local part of an email address: 64 characters at most).
pub fn generate_hex(prefix: &str) -> String {
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", hex(&bytes))
}

/// The digest kept in the database, as lowercase hex.
pub fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        use std::fmt::Write;
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Refuses strings that cannot be a secret of ours before they reach a query.
pub fn looks_like(secret: &str, prefix: &str) -> bool {
    secret.len() < 200
        && secret
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('_'))
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_prefixed_and_recognised() {
        let a = generate("vt");
        let b = generate("vt");
        assert_ne!(a, b);
        assert!(looks_like(&a, "vt"));
        assert!(!looks_like(&a, "rt"));
        assert!(!looks_like("vt_abc def", "vt"));
        assert!(!looks_like("vtx_abc", "vt"));
    }

    #[test]
    fn digest_is_stable_hex() {
        assert_eq!(digest("abc").len(), 64);
        assert_eq!(digest("abc"), digest("abc"));
        assert_ne!(digest("abc"), digest("abd"));
    }
}
