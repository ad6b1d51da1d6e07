//! The part of a message that shows why it matched: a window around the first matching word,
//! and where the matching words are in it.

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Characters of a snippet, about.
const WINDOW: usize = 160;
/// Characters shown before the first match.
const LEAD: usize = 40;

/// Text and the character ranges in it to mark, `[start, end)`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Snippet {
    pub snippet: String,
    /// Character offsets (not bytes) into `snippet`.
    pub highlights: Vec<[usize; 2]>,
}

/// The snippet of `body` for a query of `words` (lowered): words of the body that start with
/// one of them are marked.
pub fn snippet_of(body: &str, words: &[String]) -> Snippet {
    let chars: Vec<char> = body.chars().collect();
    let marks = matches(&chars, words);
    let start = marks
        .first()
        .map_or(0, |[first, _]| first.saturating_sub(LEAD));
    // Start at a word's beginning when the window cuts into one.
    let start = (start..marks.first().map_or(start, |m| m[0]))
        .find(|&i| i == 0 || !chars[i - 1].is_alphanumeric())
        .unwrap_or(start);
    let end = (start + WINDOW).min(chars.len());
    let lead = if start > 0 { "…" } else { "" };
    let tail = if end < chars.len() { "…" } else { "" };
    let offset = lead.chars().count();
    let text: String = chars[start..end].iter().collect();
    let snippet = format!("{lead}{}{tail}", text.replace(['\n', '\t'], " "));
    let highlights = marks
        .into_iter()
        .filter(|[from, to]| *from >= start && *to <= end)
        .map(|[from, to]| [from - start + offset, to - start + offset])
        .collect();
    Snippet {
        snippet,
        highlights,
    }
}

/// A word lowered and without its accents, as SQLite's index compares them ("résumé" is
/// found by "resume").
fn fold(word: &str) -> String {
    word.nfd()
        .filter(|c| !is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase()
}

/// The words of `chars` that start with one of `words`, as character ranges.
fn matches(chars: &[char], words: &[String]) -> Vec<[usize; 2]> {
    let words: Vec<String> = words.iter().map(|w| fold(w)).collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_alphanumeric() {
            i += 1;
        }
        let word = fold(&chars[start..i].iter().collect::<String>());
        if words.iter().any(|w| word.starts_with(w.as_str())) {
            found.push([start, i]);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| (*w).to_owned()).collect()
    }

    fn marked(s: &Snippet) -> Vec<String> {
        let chars: Vec<char> = s.snippet.chars().collect();
        s.highlights
            .iter()
            .map(|[a, b]| chars[*a..*b].iter().collect())
            .collect()
    }

    #[test]
    fn matching_words_are_marked_by_character() {
        let s = snippet_of(
            "Привет! Where is Order #1234? ORDERS ship",
            &words(&["order", "12"]),
        );
        assert_eq!(marked(&s), ["Order", "1234", "ORDERS"]);
        assert!(!s.snippet.starts_with('…'));
    }

    #[test]
    fn a_long_message_is_cut_around_its_first_match() {
        let body = format!(
            "{} the parcel is lost {}",
            "word ".repeat(100),
            "tail ".repeat(100)
        );
        let s = snippet_of(&body, &words(&["parcel"]));
        assert!(
            s.snippet.starts_with('…') && s.snippet.ends_with('…'),
            "{}",
            s.snippet
        );
        assert_eq!(marked(&s), ["parcel"]);
        assert!(s.snippet.chars().count() <= WINDOW + 2);
    }

    #[test]
    fn accents_are_no_obstacle() {
        let s = snippet_of("Mon résumé, CAFÉ crème", &words(&["resume", "cafe"]));
        assert_eq!(marked(&s), ["résumé", "CAFÉ"]);
    }

    #[test]
    fn no_match_shows_the_start() {
        let s = snippet_of("short text", &words(&["zzz"]));
        assert_eq!(s.snippet, "short text");
        assert!(s.highlights.is_empty());
    }
}
