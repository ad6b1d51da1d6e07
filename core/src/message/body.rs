//! The two things a sender gives us: a body and, optionally, a client id. Both parse or are refused.

use crate::error::{CoreError, CoreResult};

/// A message text: not blank, within the length limit, free of control characters other than
/// line breaks and tabs. Leading and trailing whitespace is trimmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageBody(String);

impl MessageBody {
    pub fn parse(raw: &str, max_chars: usize) -> CoreResult<Self> {
        let body = raw.trim();
        if body.is_empty() {
            return Err(CoreError::invalid("body", "must not be empty"));
        }
        // Counting stops one past the limit, so a huge body costs no more than a long one.
        if body.chars().take(max_chars + 1).count() > max_chars {
            return Err(CoreError::invalid(
                "body",
                format!("must be at most {max_chars} characters"),
            ));
        }
        if let Some(c) = crate::text::forbidden_char(body, true) {
            return Err(CoreError::invalid(
                "body",
                format!(
                    "must not contain control or invisible formatting characters (U+{:04X})",
                    u32::from(c)
                ),
            ));
        }
        Ok(Self(body.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The sender's own id for a message, which makes a resend return the original instead of a
/// duplicate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientId(String);

impl ClientId {
    pub const MAX_LEN: usize = 100;

    pub fn parse(raw: &str) -> CoreResult<Self> {
        let ok = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(CoreError::invalid(
                "client_id",
                format!("must be 1 to {} printable ASCII characters", Self::MAX_LEN),
            ))
        }
    }

    pub fn parse_optional(raw: Option<&str>) -> CoreResult<Option<Self>> {
        raw.map(Self::parse).transpose()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_trimmed_and_limited_in_characters_not_bytes() {
        assert_eq!(
            MessageBody::parse("  привет \n", 10).unwrap().as_str(),
            "привет"
        );
        assert!(MessageBody::parse(&"я".repeat(10), 10).is_ok());
        assert!(MessageBody::parse(&"я".repeat(11), 10).is_err());
        assert!(MessageBody::parse("line one\nline two\tend", 100).is_ok());
    }

    #[test]
    fn blank_or_binary_bodies_are_refused() {
        for bad in ["", "   ", "\n\t", "nul\0inside", "bell\u{7}"] {
            assert!(MessageBody::parse(bad, 100).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn client_ids() {
        assert!(ClientId::parse("c-0b5e2f1a").is_ok());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("has space").is_err());
        assert!(ClientId::parse(&"x".repeat(101)).is_err());
        assert_eq!(ClientId::parse_optional(None).unwrap(), None);
    }
}
