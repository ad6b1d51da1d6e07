//! Search across a tenant's dialogs: by words of their messages (every visit, every channel),
//! and by the visitor's name or email address. The word index is a port ([`MessageIndex`]) with
//! one implementation per store: SQLite's FTS5 and PostgreSQL's full-text search.

mod highlight;
mod index;
mod service;

use serde::Serialize;

use crate::chat::Chat;
use crate::clock::Timestamp;
use crate::error::{CoreError, CoreResult};
use crate::ids::MessageId;
use crate::message::Author;

pub use highlight::{Snippet, snippet_of};
pub use index::{MessageIndex, index_for};
pub use service::SearchService;

/// Hits of each kind, at most.
pub const MAX_HITS: u64 = 50;
/// Words of a query, at most; more are ignored.
pub const MAX_WORDS: usize = 8;
/// Characters of a query, at most.
pub const MAX_QUERY_CHARS: usize = 200;

/// What an operator typed, made safe for the stores' query languages: its words (letters and
/// digits, lowered), each matched as the start of a word, all of them required. Text without a
/// word finds nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchQuery {
    /// As typed, trimmed: names and addresses are matched on it.
    pub text: String,
    pub words: Vec<String>,
}

impl SearchQuery {
    pub fn parse(raw: &str) -> CoreResult<Self> {
        let text = raw.trim();
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(CoreError::invalid(
                "q",
                format!("at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        // Control characters are no part of a word, and some stores refuse them (NUL).
        let text: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .take(MAX_WORDS)
            .collect();
        Ok(Self { text, words })
    }
}

/// A dialog found, and the message in it that matched (none when the visitor's name or address
/// did).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SearchHit {
    pub chat: Chat,
    pub message: Option<FoundMessage>,
}

/// A message that matched, with the part of it that shows why.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FoundMessage {
    pub id: MessageId,
    /// Where it is in the dialog: open the dialog there.
    pub seq: i64,
    pub author: Author,
    pub created_at: Timestamp,
    #[serde(flatten)]
    pub snippet: Snippet,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_its_lowered_words() {
        let q = SearchQuery::parse("  Order #1234, Анна@Example.org ").unwrap();
        assert_eq!(q.words, ["order", "1234", "анна", "example", "org"]);
        assert_eq!(q.text, "Order #1234, Анна@Example.org");
    }

    #[test]
    fn control_characters_part_words() {
        let q = SearchQuery::parse("par\0cel\u{7}x").unwrap();
        assert_eq!(q.words, ["par", "cel", "x"]);
        assert!(!q.text.contains('\0'));
    }

    #[test]
    fn a_query_without_words_has_none_and_a_long_one_is_refused() {
        for wordless in ["", "   ", "\"*(:)-^"] {
            assert!(SearchQuery::parse(wordless).unwrap().words.is_empty());
        }
        assert!(SearchQuery::parse(&"a".repeat(MAX_QUERY_CHARS + 1)).is_err());
    }

    #[test]
    fn words_beyond_the_eighth_are_ignored() {
        let q = SearchQuery::parse("a b c d e f g h i j").unwrap();
        assert_eq!(q.words.len(), MAX_WORDS);
    }
}
