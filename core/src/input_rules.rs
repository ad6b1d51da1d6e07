//! What each kind of text a client sends may be, as the API document states it: JSON Schema
//! `pattern`s (in the regular-expression syntax JSON Schema and Python share) with lengths in
//! characters. The parsers of this crate are the rule; these describe them, and the tests below
//! check that every text a pattern allows is one its parser takes.

/// One kind of text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextRule {
    pub pattern: &'static str,
    pub min_length: Option<usize>,
    /// `None` for messages: their limit is the server's setting.
    pub max_length: Option<usize>,
}

/// Control characters but for tab and line breaks.
macro_rules! controls_in_text {
    () => {
        r"\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F"
    };
}

/// Every control character: one line of text.
macro_rules! controls_in_line {
    () => {
        r"\x00-\x1F\x7F-\x9F"
    };
}

/// Control characters but for the line feed (titles and greetings may break lines).
macro_rules! controls_but_newline {
    () => {
        r"\x00-\x09\x0B-\x1F\x7F-\x9F"
    };
}

/// The invisible formatting characters of [`crate::text`].
macro_rules! hidden {
    () => {
        r"\u034F\u115F\u1160\u180E\u200B\u202A-\u202E\u2060-\u2064\u2066-\u2069\u3164\uFEFF\uFFA0\uFFF9-\uFFFB"
    };
}

/// An http(s) URL with a host and no credentials, unanchored.
macro_rules! web_url {
    () => {
        r"https?://[A-Za-z0-9._~%!$&'()*+,;=:\[\]-]+(?:[/?#][A-Za-z0-9._~%!$&'()*+,;=:@/?#\[\]-]*)?"
    };
}

/// Not blank, and none of `$refused`.
macro_rules! not_blank_without {
    ($($refused:tt)*) => {
        concat!("^[^", $($refused)*, "]*[^", $($refused)*, r"\s][^", $($refused)*, "]*$")
    };
}

/// A message body ([`crate::message::MessageBody`]).
pub const MESSAGE: TextRule = TextRule {
    pattern: not_blank_without!(controls_in_text!(), hidden!()),
    min_length: Some(1),
    max_length: None,
};

/// A person's or a company's name ([`crate::text::parse_name`]).
pub const NAME: TextRule = TextRule {
    pattern: not_blank_without!(controls_in_line!(), hidden!()),
    min_length: Some(1),
    max_length: Some(crate::text::MAX_NAME_CHARS),
};

/// An email address ([`crate::email::EmailAddress`]), as the document promises it: the ASCII
/// addresses (the server takes internationalised ones too).
pub const EMAIL: TextRule = TextRule {
    pattern: r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$",
    min_length: Some(3),
    max_length: Some(254),
};

/// A tenant's slug.
pub const SLUG: TextRule = TextRule {
    pattern: "^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$",
    min_length: Some(2),
    max_length: Some(63),
};

/// An http(s) URL with a host and no credentials (webhooks, the logo).
pub const WEB_URL: TextRule = TextRule {
    pattern: concat!("^", web_url!(), "$"),
    min_length: Some(8),
    max_length: Some(2048),
};

/// The company's site: a [`WEB_URL`], or `""` to clear it.
pub const WEB_URL_OR_EMPTY: TextRule = TextRule {
    pattern: concat!("^(?:", web_url!(), ")?$"),
    min_length: None,
    max_length: Some(2048),
};

/// An origin allowed to embed the widget.
pub const ORIGIN: TextRule = TextRule {
    pattern: r"^https?://[A-Za-z0-9.:\[\]-]{1,253}$",
    min_length: Some(8),
    max_length: Some(261),
};

/// A message's client id ([`crate::message::ClientId`]).
pub const CLIENT_ID: TextRule = TextRule {
    pattern: "^[!-~]+$",
    min_length: Some(1),
    max_length: Some(crate::message::ClientId::MAX_LEN),
};

/// A canned reply's shortcut ([`crate::canned::parse_shortcut`]): letters are lowered and one
/// leading `/` is dropped.
pub const SHORTCUT: TextRule = TextRule {
    pattern: "^/?[A-Za-z0-9-]{1,32}$",
    min_length: Some(1),
    max_length: Some(crate::canned::MAX_SHORTCUT_CHARS + 1),
};

/// A new password ([`crate::operator::password::check_strength`]).
pub const PASSWORD: TextRule = TextRule {
    pattern: "",
    min_length: Some(crate::operator::password::MIN_LENGTH),
    max_length: Some(crate::operator::password::MAX_LENGTH),
};

/// A language tag such as `en` or `ru-RU`.
pub const LOCALE: TextRule = TextRule {
    pattern: "^[A-Za-z0-9]{1,8}(?:-[A-Za-z0-9]{1,8})*$",
    min_length: Some(2),
    max_length: Some(35),
};

/// The widget's colour, `#rrggbb`.
pub const COLOR: TextRule = TextRule {
    pattern: "^#[0-9A-Fa-f]{6}$",
    min_length: Some(7),
    max_length: Some(7),
};

/// The widget's title: not blank, line breaks allowed.
pub const TITLE: TextRule = TextRule {
    pattern: not_blank_without!(controls_but_newline!()),
    min_length: Some(1),
    max_length: Some(100),
};

/// The widget's greeting: may be empty, line breaks allowed.
pub const GREETING: TextRule = TextRule {
    pattern: concat!("^[^", controls_but_newline!(), "]*$"),
    min_length: None,
    max_length: Some(500),
};

/// A rating's comment ([`crate::rating`]): text without control or hidden characters; blank is
/// no comment.
pub const RATING_COMMENT: TextRule = TextRule {
    pattern: concat!("^[^", controls_in_text!(), hidden!(), "]*$"),
    min_length: None,
    max_length: Some(crate::rating::MAX_COMMENT_CHARS),
};

/// The sender's name in the company's mail; blank goes back to the tenant's name.
pub const MAIL_FROM_NAME: TextRule = TextRule {
    pattern: concat!("^[^", controls_in_line!(), hidden!(), "]*$"),
    min_length: None,
    max_length: Some(100),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::EmailAddress;
    use crate::message::{ClientId, MessageBody};
    use crate::tenant::{Branding, SettingsPatch, TenantSettings};
    use rand::seq::IndexedRandom;
    use rand::{Rng, SeedableRng};

    /// The rule as a Rust regex (`\uXXXX` is `\x{XXXX}` there), with its lengths.
    struct Check {
        pattern: regex::Regex,
        rule: TextRule,
    }

    impl Check {
        fn of(rule: TextRule) -> Self {
            let pattern = regex::Regex::new(&regex_syntax(rule.pattern)).expect("it compiles");
            Self { pattern, rule }
        }

        fn allows(&self, text: &str) -> bool {
            let chars = text.chars().count();
            self.pattern.is_match(text)
                && self.rule.min_length.is_none_or(|min| chars >= min)
                && self.rule.max_length.is_none_or(|max| chars <= max)
        }
    }

    fn regex_syntax(pattern: &str) -> String {
        let mut out = String::new();
        let mut rest = pattern;
        while let Some(at) = rest.find(r"\u") {
            out.push_str(&rest[..at]);
            out.push_str(&format!(r"\x{{{}}}", &rest[at + 2..at + 6]));
            rest = &rest[at + 6..];
        }
        out.push_str(rest);
        out
    }

    fn settings_with(change: impl FnOnce(&mut TenantSettings)) -> TenantSettings {
        let mut settings = TenantSettings::default();
        change(&mut settings);
        settings
    }

    type Parser = fn(&str) -> bool;

    /// Each rule with the parser it describes.
    fn rules() -> Vec<(&'static str, TextRule, Parser)> {
        vec![
            ("message", MESSAGE, |t| {
                MessageBody::parse(t, 10_000).is_ok()
            }),
            ("name", NAME, |t| crate::text::parse_name(t).is_ok()),
            ("email", EMAIL, |t| EmailAddress::parse(t).is_ok()),
            ("slug", SLUG, |t| crate::tenant::parse_slug(t).is_ok()),
            ("web url", WEB_URL, |t| {
                settings_with(|s| s.webhook_urls = vec![t.into()])
                    .validate()
                    .is_ok()
            }),
            ("site", WEB_URL_OR_EMPTY, |t| {
                applies(SettingsPatch {
                    site_url: Some(t.into()),
                    ..Default::default()
                })
            }),
            ("origin", ORIGIN, |t| {
                crate::tenant::validate_origin(t).is_ok()
            }),
            ("client id", CLIENT_ID, |t| ClientId::parse(t).is_ok()),
            ("shortcut", SHORTCUT, |t| {
                crate::canned::parse_shortcut(t).is_ok()
            }),
            ("password", PASSWORD, |t| {
                crate::operator::password::check_strength(t).is_ok()
            }),
            ("locale", LOCALE, |t| {
                crate::visitor::service::parse_locale(t).is_ok()
            }),
            ("colour", COLOR, |t| branding(|b| b.color = t.into())),
            ("title", TITLE, |t| branding(|b| b.title = t.into())),
            ("greeting", GREETING, |t| {
                branding(|b| b.greeting = t.into())
            }),
            ("logo", WEB_URL, |t| {
                let branding = Branding {
                    logo_url: Some(t.into()),
                    ..Branding::default()
                };
                applies(SettingsPatch {
                    branding: Some(branding),
                    ..Default::default()
                })
            }),
            ("mail from", MAIL_FROM_NAME, |t| {
                applies(SettingsPatch {
                    mail_from_name: Some(t.into()),
                    ..Default::default()
                })
            }),
        ]
    }

    /// New input, as an admin's change: checked by `apply`.
    fn applies(patch: SettingsPatch) -> bool {
        TenantSettings::default().apply(patch).is_ok()
    }

    fn branding(change: impl FnOnce(&mut Branding)) -> bool {
        settings_with(|s| change(&mut s.branding))
            .validate()
            .is_ok()
    }

    /// Texts each rule allows, and texts both the rule and its parser refuse.
    fn examples(rule: &str) -> (&'static [&'static str], &'static [&'static str]) {
        match rule {
            "message" => (
                &["Hello", " line one\nline two\ttab ", "Привет 👩\u{200D}💻"],
                &["", "  \n ", "invoice\u{202E}fdp.exe", "bell\u{7}"],
            ),
            "name" => (
                &["Vera", "Анна-Мария О'Нил", "سلام\u{200C}ها"],
                &["", " ", "two\nlines", "pay\u{200B}pal"],
            ),
            "email" => (
                &["vera@example.org", "a.b+tag@mail.example.ru"],
                &["", "fedor", "@example.com", "a@b", "a b@example.com"],
            ),
            "slug" => (&["acme", "a1", "acme-shop"], &["-acme", "Acme", "a"]),
            "web url" | "logo" => (
                &["https://hooks.example.com/tandem?x=1", "http://[::1]:8080/"],
                &["", "ftp://x.example", "https://user@host/", "https://"],
            ),
            "site" => (&["", "https://www.example.com"], &["ftp://x.example"]),
            "origin" => (
                &["https://shop.example.com", "http://localhost:8080"],
                &["shop.example.com", "https://shop.example.com/path"],
            ),
            "client id" => (&["c-1", "~!x"], &["", "with space"]),
            "shortcut" => (
                &["hello", "/Refund-2", "x"],
                &["", "/", "two words", "a_b", "héllo", "//double"],
            ),
            "password" => (&["correct horse battery"], &["short"]),
            "locale" => (
                &["en", "ru-RU", "zh-Hant-TW"],
                &["e", "en_US", "toolongpart-x"],
            ),
            "colour" => (&["#2563eb"], &["blue", "#12345"]),
            "title" => (&["Chat with us", "Two\nlines"], &["", "   "]),
            "greeting" => (&["", "Hi!\nHow can we help?"], &["bell\u{7}"]),
            "mail from" => (&["", "Acme Support"], &["two\nlines"]),
            other => panic!("no examples for {other}"),
        }
    }

    #[test]
    fn examples_are_judged_alike_by_the_rule_and_its_parser() {
        for (name, rule, parser) in rules() {
            let check = Check::of(rule);
            let (allowed, refused) = examples(name);
            for example in allowed {
                assert!(
                    check.allows(example),
                    "{name}: the pattern refuses {example:?}"
                );
                assert!(parser(example), "{name}: the parser refuses {example:?}");
            }
            for example in refused {
                assert!(
                    !check.allows(example),
                    "{name}: the pattern allows {example:?}"
                );
                assert!(!parser(example), "{name}: the parser takes {example:?}");
            }
        }
    }

    /// The allowed examples changed at random, with characters that matter (letters, digits,
    /// the punctuation of addresses and URLs, spaces, line breaks, controls, invisible ones):
    /// whatever a pattern still allows, its parser takes.
    #[test]
    fn whatever_a_pattern_allows_its_parser_takes() {
        let pool: Vec<char> = "aZ09-._~@:/?#[]!$&'()*+,;=%<>\"` \t\n\r\u{7}\u{85}\u{a0}\u{200b}\u{200d}\u{202e}\u{feff}ЖЯ👩"
            .chars()
            .collect();
        // Fixed, so that a failure can be replayed.
        let mut rng = rand::rngs::StdRng::seed_from_u64(20_261_128);
        for (name, rule, parser) in rules() {
            let check = Check::of(rule);
            let (seeds, _) = examples(name);
            let mut matched = 0;
            for _ in 0..5_000 {
                let mut text: Vec<char> = seeds.choose(&mut rng).unwrap().chars().collect();
                for _ in 0..rng.random_range(0..4) {
                    let c = *pool.choose(&mut rng).unwrap();
                    match rng.random_range(0..3) {
                        0 if !text.is_empty() => {
                            let at = rng.random_range(0..text.len());
                            text[at] = c;
                        }
                        1 if !text.is_empty() => {
                            text.remove(rng.random_range(0..text.len()));
                        }
                        _ => text.insert(rng.random_range(0..=text.len()), c),
                    }
                }
                let text: String = text.into_iter().collect();
                if check.allows(&text) {
                    matched += 1;
                    assert!(
                        parser(&text),
                        "{name}: the pattern allows {text:?}, the parser refuses it"
                    );
                }
            }
            assert!(
                matched > 0,
                "{name}: nothing matched; the test proves nothing"
            );
        }
    }

    /// Every character of the Basic Multilingual Plane (and a few beyond it), inside a word:
    /// the text rules never allow one their parsers refuse, so the two lists of control and
    /// invisible characters cannot drift apart unnoticed.
    #[test]
    fn every_character_is_judged_alike_by_the_text_rules_and_their_parsers() {
        let text_rules: Vec<_> = rules()
            .into_iter()
            .filter(|(name, ..)| {
                ["message", "name", "title", "greeting", "mail from"].contains(name)
            })
            .map(|(name, rule, parser)| (name, Check::of(rule), parser))
            .collect();
        let beyond = [0x1F469, 0x1F4BB, 0xE0001, 0xE007F, 0x10FFFD];
        let chars = (0..=0xFFFF_u32).chain(beyond).filter_map(char::from_u32);
        for c in chars {
            let text = format!("a{c}b");
            for (name, check, parser) in &text_rules {
                if check.allows(&text) {
                    assert!(
                        parser(&text),
                        "{name}: the pattern allows U+{:04X}",
                        c as u32
                    );
                }
            }
        }
    }
}
