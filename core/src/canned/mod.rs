//! Canned replies: texts a tenant's admins keep and operators insert by shortcut (`/hello`).
//!
//! A reply may name the visitor as `{name}` (or `{name|fallback}` for a visitor whose name is
//! not known) and the operator as `{operator}`; the workspace fills them in as it inserts the
//! text, where the operator sees and may change it before sending.

mod service;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::entity::canned_reply;
use crate::error::{CoreError, CoreResult};
use crate::ids::CannedReplyId;

pub use service::CannedReplyService;

/// A tenant keeps at most this many.
pub const MAX_CANNED_REPLIES: u64 = 500;
/// Characters of a shortcut, at most.
pub const MAX_SHORTCUT_CHARS: usize = 32;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CannedReply {
    pub id: CannedReplyId,
    /// Typed after `/` in the composer: lowercase letters, digits and `-`.
    pub shortcut: String,
    pub body: String,
    pub updated_at: Timestamp,
}

impl From<canned_reply::Model> for CannedReply {
    fn from(row: canned_reply::Model) -> Self {
        Self {
            id: row.id,
            shortcut: row.shortcut,
            body: row.body,
            updated_at: Timestamp::from_millis(row.updated_at),
        }
    }
}

/// A shortcut as typed, checked: 1 to 32 of `a-z`, `0-9` and `-` (one leading `/` is dropped,
/// letters are lowered).
pub fn parse_shortcut(raw: &str) -> CoreResult<String> {
    let trimmed = raw.trim();
    let shortcut = trimmed
        .strip_prefix('/')
        .unwrap_or(trimmed)
        .to_ascii_lowercase();
    if shortcut.is_empty() {
        return Err(CoreError::invalid("shortcut", "must not be empty"));
    }
    if shortcut.chars().count() > MAX_SHORTCUT_CHARS {
        return Err(CoreError::invalid(
            "shortcut",
            format!("at most {MAX_SHORTCUT_CHARS} characters"),
        ));
    }
    if let Some(bad) = shortcut
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(CoreError::invalid(
            "shortcut",
            format!("only letters a-z, digits and '-' (not {bad:?})"),
        ));
    }
    Ok(shortcut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_are_lowered_and_lose_their_slash() {
        assert_eq!(parse_shortcut(" /Hello-2 ").unwrap(), "hello-2");
    }

    #[test]
    fn a_shortcut_of_other_characters_is_refused() {
        for bad in ["", "/", "//x", "hé", "two words", "a_b", &"x".repeat(33)] {
            assert!(parse_shortcut(bad).is_err(), "{bad:?} was taken");
        }
    }
}
