//! What visitors and operators may write: no control characters, and none of the invisible
//! characters that make a text look other than it is — bidirectional overrides and isolates
//! (U+202E turns "exe.txt" into "txt.exe") and zero-width spaces and joiners used to hide or
//! split words. The joiners real scripts need stay: ZWJ and ZWNJ (emoji sequences, Persian,
//! Indic scripts) and the left-to-right and right-to-left marks.

use crate::error::{CoreError, CoreResult};

/// The longest name of a person or a company, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// A person's or a company's name: trimmed, 1 to [`MAX_NAME_CHARS`] characters, on one line,
/// without control or invisible formatting characters.
pub fn parse_name(raw: &str) -> CoreResult<String> {
    let name = raw.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || forbidden_char(name, false).is_some()
    {
        return Err(CoreError::invalid(
            "name",
            "must be 1 to 200 characters, without control or invisible formatting characters",
        ));
    }
    Ok(name.to_owned())
}

/// The first character of `text` that is not allowed, if any (`newlines`: `\n`, `\r` and
/// `\t` are allowed, as in a message body).
pub fn forbidden_char(text: &str, newlines: bool) -> Option<char> {
    text.chars().find(|&c| {
        if c.is_control() {
            return !(newlines && matches!(c, '\n' | '\t' | '\r'));
        }
        is_deceptive_format(c)
    })
}

/// Invisible formatting characters refused in what people write.
fn is_deceptive_format(c: char) -> bool {
    matches!(c,
        '\u{202A}'..='\u{202E}' // embeddings and overrides
        | '\u{2066}'..='\u{2069}' // isolates
        | '\u{200B}' // zero-width space
        | '\u{2060}'..='\u{2064}' // word joiner and invisible operators
        | '\u{FEFF}' // zero-width no-break space
        | '\u{180E}' // Mongolian vowel separator
        | '\u{034F}' // combining grapheme joiner
        | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
        | '\u{FFF9}'..='\u{FFFB}' // interlinear annotations
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_and_reversing_characters_are_found() {
        for text in [
            "invoice\u{202E}fdp.exe",
            "pay\u{200B}pal",
            "\u{2066}x\u{2069}",
            "a\u{FEFF}b",
            "bell\u{7}",
        ] {
            assert!(forbidden_char(text, true).is_some(), "{text:?}");
        }
        for text in [
            "Привет, мир",
            "سلام\u{200C}ها",
            "👩\u{200D}💻",
            "שלום\u{200F} world",
            "line one\nline two\ttab",
        ] {
            assert_eq!(forbidden_char(text, true), None, "{text:?}");
        }
        assert!(forbidden_char("two\nlines", false).is_some());
    }
}
