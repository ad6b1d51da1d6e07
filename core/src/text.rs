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

/// The longest page address a widget may report, in bytes.
pub const MAX_PAGE_URL_BYTES: usize = 2048;

/// The address of the page a visitor was on, as the widget reports it: an http(s) URL of at
/// most [`MAX_PAGE_URL_BYTES`] in printable ASCII without spaces, as browsers encode addresses
/// (`location.href` is percent-encoded, its host punycode). Plugins are told it.
pub fn parse_page_url(url: &str) -> CoreResult<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let well_formed = rest.is_some_and(|rest| !rest.is_empty())
        && url.len() <= MAX_PAGE_URL_BYTES
        && url.bytes().all(|b| b.is_ascii_graphic());
    if !well_formed {
        return Err(CoreError::invalid(
            "page_url",
            "must be an http(s) address of at most 2048 printable ASCII characters, without spaces",
        ));
    }
    Ok(url.to_owned())
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

/// `text` cut to `chars` characters, with an ellipsis when it was longer.
pub fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_page_url;

    #[test]
    fn page_addresses_are_http_urls_of_bounded_length() {
        assert_eq!(
            parse_page_url("https://shop.example/orders")
                .as_deref()
                .ok(),
            Some("https://shop.example/orders")
        );
        let long = format!("https://shop.example/{}", "a".repeat(2048));
        for bad in [
            "javascript:alert(1)",
            "shop.example",
            "https://a b",
            "https://a\u{202E}b",
            "https://é.example",
            "https://",
            " https://shop.example",
            &long,
        ] {
            assert!(parse_page_url(bad).is_err(), "{bad:?}");
        }
    }

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
