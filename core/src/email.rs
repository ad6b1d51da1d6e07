//! An email address we are willing to send to. You can only hold an [`EmailAddress`] that parsed.

use std::fmt;

use crate::error::CoreError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, CoreError> {
        let bad = |reason: &str| CoreError::invalid("email", reason.to_owned());
        let s = raw.trim();
        if s.is_empty() {
            return Err(bad("must not be empty"));
        }
        if s.len() > 254 {
            return Err(bad("must be at most 254 characters"));
        }
        if s.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')
        }) {
            return Err(bad(
                "must not contain spaces, quotes, commas or angle brackets",
            ));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(bad("must look like name@example.com"));
        };
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(bad("must look like name@example.com"));
        }
        let labels_ok = domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        if !domain.contains('.') || !labels_ok {
            return Err(bad("must have a domain such as example.com"));
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses_and_lowercases_the_domain() {
        assert_eq!(
            EmailAddress::parse(" Fedor@Example.COM ").unwrap().as_str(),
            "Fedor@example.com"
        );
        assert!(EmailAddress::parse("a.b+tag@mail.example.ru").is_ok());
        assert!(EmailAddress::parse("семён@пример.рф").is_ok());
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in [
            "",
            "fedor",
            "fedor@",
            "@example.com",
            "fedor@example",
            "a b@example.com",
            "fedor@exa_mple.com",
            "x@-example.com",
            "<x@example.com>",
            "x@example..com",
            "a@b@example.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(EmailAddress::parse(&long).is_err());
    }
}
