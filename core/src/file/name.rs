//! A file's name as Tandem keeps it: the last part of whatever path the sender gave, without
//! control or invisible formatting characters, quotes or slashes, and not too long.

/// A cleaned file name: never empty, at most [`FileName::MAX_CHARS`] characters, keeping its
/// extension when it has to be shortened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    pub const MAX_CHARS: usize = 200;

    /// Cleans what a sender gave; nothing is refused (a name is a label, the content decides
    /// the type).
    pub fn clean(raw: &str) -> Self {
        let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
        let cleaned: String = last
            .chars()
            .map(|c| match c {
                '"' | '\'' | '`' | '<' | '>' | '|' | ':' | '*' | '?' => '_',
                c if crate::text::forbidden_char(c.encode_utf8(&mut [0; 4]), false).is_some() => {
                    ' '
                }
                c => c,
            })
            .collect();
        // Leading dots hide a file; trailing dots and spaces are dropped by Windows when it
        // saves one, which would change its extension.
        let trimmed = cleaned
            .trim()
            .trim_start_matches('.')
            .trim_end_matches(['.', ' '])
            .trim();
        let name = if trimmed.is_empty() { "file" } else { trimmed };
        Self(shorten(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn shorten(name: &str) -> String {
    if name.chars().count() <= FileName::MAX_CHARS {
        return name.to_owned();
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| ext.chars().count() <= 10);
    match ext {
        Some(ext) => {
            let keep = FileName::MAX_CHARS - ext.chars().count() - 2;
            let stem: String = name.chars().take(keep).collect();
            format!("{stem}….{ext}")
        }
        None => name.chars().take(FileName::MAX_CHARS).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_controls_and_quotes() {
        assert_eq!(FileName::clean("C:\\Users\\me\\cv.pdf").as_str(), "cv.pdf");
        assert_eq!(FileName::clean("../../etc/passwd").as_str(), "passwd");
        assert_eq!(
            FileName::clean("a\"b\nc\u{202e}d.txt").as_str(),
            "a_b c d.txt"
        );
        assert_eq!(FileName::clean(".hidden").as_str(), "hidden");
        assert_eq!(FileName::clean("  ").as_str(), "file");
        assert_eq!(
            FileName::clean("Отчёт 2026.xlsx").as_str(),
            "Отчёт 2026.xlsx"
        );
    }

    #[test]
    fn a_long_name_keeps_its_extension() {
        let long = format!("{}.pdf", "я".repeat(300));
        let cleaned = FileName::clean(&long);
        assert_eq!(cleaned.as_str().chars().count(), FileName::MAX_CHARS);
        assert!(cleaned.as_str().ends_with("….pdf"));
    }
}
