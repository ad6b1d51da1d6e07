//! A tenant's settings. Stored as one JSON document; every field has a default, so a document
//! written by an older version still loads.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::outbox::{MAX_OFFLINE_TIMEOUT, MIN_OFFLINE_TIMEOUT};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    /// How long an operator reply may stay unread before it is emailed (1 s to 7 days).
    pub offline_timeout_secs: u64,
    /// How long after the last widget connection closes the visitor still counts as on the site,
    /// so that moving to another page is not a departure.
    pub presence_grace_secs: u64,
    pub branding: Branding,
    /// Origins (scheme://host[:port]) allowed to embed the widget; empty means any.
    pub allowed_origins: Vec<String>,
    /// The only URLs a plugin may send webhooks to (plugins see this list).
    pub webhook_urls: Vec<String>,
    /// The company's own site (where the widget is embedded). When set, the hosted chat offers
    /// to continue there, and the widget on it picks the dialog up (`?tandem_resume=`).
    pub site_url: Option<String>,
    /// The name the company's mail comes from ("Demo Company <no-reply@…>"); the tenant's
    /// name when unset.
    pub mail_from_name: Option<String>,
    /// Take replies by email from any sender, not only from the address the mail went to
    /// (someone forwarding the mail to a colleague, a visitor writing from another address).
    /// Operators see who wrote. Off by default: the reply address is then a key of the visitor's.
    pub replies_from_any_sender: bool,
    /// Alert the operators when a visitor has waited this many minutes for an answer (0: never).
    pub long_wait_alert_mins: u32,
    /// Operators who are not online get alerts by email, at most one digest in this many
    /// minutes each (0: no email).
    pub alert_digest_mins: u32,
    /// Files in the tenant's chats: which kinds, how large, how many a day from a visitor.
    pub files: crate::file::FileSettings,
    /// Closed dialogs are erased (their texts and files; the skeleton stays) this many days
    /// after they closed; 0 keeps them.
    pub retention_days: u32,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            offline_timeout_secs: 300,
            presence_grace_secs: 15,
            branding: Branding::default(),
            allowed_origins: Vec::new(),
            webhook_urls: Vec::new(),
            site_url: None,
            mail_from_name: None,
            replies_from_any_sender: false,
            long_wait_alert_mins: 5,
            alert_digest_mins: 15,
            files: crate::file::FileSettings::default(),
            retention_days: 0,
        }
    }
}

impl TenantSettings {
    pub const MAX_PRESENCE_GRACE_SECS: u64 = 3600;
    /// Ten years: the longest retention a tenant may set.
    pub const MAX_RETENTION_DAYS: u32 = 3650;
    /// A day: the longest wait or digest interval a tenant may set.
    pub const MAX_ALERT_MINS: u32 = 1440;

    /// How long a visitor waits before the operators are alerted; none when the tenant does
    /// not want long-wait alerts.
    pub fn long_wait_alert(&self) -> Option<Duration> {
        (self.long_wait_alert_mins > 0)
            .then(|| Duration::from_secs(u64::from(self.long_wait_alert_mins) * 60))
    }

    /// The least time between two digests to one operator; none when alerts are not mailed.
    pub fn alert_digest(&self) -> Option<Duration> {
        (self.alert_digest_mins > 0)
            .then(|| Duration::from_secs(u64::from(self.alert_digest_mins) * 60))
    }

    pub fn offline_timeout(&self) -> Duration {
        Duration::from_secs(self.offline_timeout_secs)
    }

    pub fn presence_grace(&self) -> Duration {
        Duration::from_secs(self.presence_grace_secs)
    }

    pub fn validate(&self) -> Result<(), CoreError> {
        let timeout = self.offline_timeout();
        if timeout < MIN_OFFLINE_TIMEOUT || timeout > MAX_OFFLINE_TIMEOUT {
            return Err(CoreError::invalid(
                "offline_timeout_secs",
                format!(
                    "must be from {} to {} seconds",
                    MIN_OFFLINE_TIMEOUT.as_secs(),
                    MAX_OFFLINE_TIMEOUT.as_secs()
                ),
            ));
        }
        if self.presence_grace_secs > Self::MAX_PRESENCE_GRACE_SECS {
            return Err(CoreError::invalid(
                "presence_grace_secs",
                format!(
                    "must be from 0 to {} seconds",
                    Self::MAX_PRESENCE_GRACE_SECS
                ),
            ));
        }
        for (field, minutes) in [
            ("long_wait_alert_mins", self.long_wait_alert_mins),
            ("alert_digest_mins", self.alert_digest_mins),
        ] {
            if minutes > Self::MAX_ALERT_MINS {
                return Err(CoreError::invalid(
                    field,
                    format!("must be from 0 to {} minutes", Self::MAX_ALERT_MINS),
                ));
            }
        }
        if self.retention_days > Self::MAX_RETENTION_DAYS {
            return Err(CoreError::invalid(
                "retention_days",
                format!("must be from 0 (keep) to {} days", Self::MAX_RETENTION_DAYS),
            ));
        }
        self.branding.validate()?;
        self.files.validate()?;
        if self.allowed_origins.len() > 50 {
            return Err(CoreError::invalid("allowed_origins", "at most 50 origins"));
        }
        for origin in &self.allowed_origins {
            validate_origin(origin)?;
        }
        if self.webhook_urls.len() > MAX_WEBHOOK_URLS {
            return Err(CoreError::invalid(
                "webhook_urls",
                format!("at most {MAX_WEBHOOK_URLS} URLs"),
            ));
        }
        if let Some(url) = &self.site_url
            && !is_web_url(url)
        {
            return Err(CoreError::invalid(
                "site_url",
                format!("{url:?} is not a URL like https://www.example.com"),
            ));
        }
        for url in &self.webhook_urls {
            validate_webhook_url(url)?;
        }
        if let Some(name) = &self.mail_from_name {
            check_text("mail_from_name", name, 1, 100)?;
            if crate::text::forbidden_char(name, false).is_some() {
                return Err(CoreError::invalid(
                    "mail_from_name",
                    "must not contain control or invisible formatting characters",
                ));
            }
        }
        Ok(())
    }

    pub fn apply(&self, patch: SettingsPatch) -> Result<Self, CoreError> {
        if let Some(Branding {
            logo_url: Some(url),
            ..
        }) = &patch.branding
            && !is_web_url(url)
        {
            return Err(CoreError::invalid(
                "branding.logo_url",
                "must be an http(s) URL with a host, without credentials, of at most 2048 bytes",
            ));
        }
        let branding = patch
            .branding
            .map(|new| new.in_its_language(&self.branding));
        let next = Self {
            offline_timeout_secs: patch
                .offline_timeout_secs
                .unwrap_or(self.offline_timeout_secs),
            presence_grace_secs: patch
                .presence_grace_secs
                .unwrap_or(self.presence_grace_secs),
            branding: branding.unwrap_or_else(|| self.branding.clone()),
            allowed_origins: patch
                .allowed_origins
                .unwrap_or_else(|| self.allowed_origins.clone()),
            webhook_urls: patch
                .webhook_urls
                .unwrap_or_else(|| self.webhook_urls.clone()),
            // An empty string clears it.
            site_url: match patch.site_url {
                Some(url) if url.trim().is_empty() => None,
                Some(url) => Some(url.trim().to_owned()),
                None => self.site_url.clone(),
            },
            mail_from_name: match patch.mail_from_name {
                Some(name) if name.trim().is_empty() => None,
                Some(name) => Some(name.trim().to_owned()),
                None => self.mail_from_name.clone(),
            },
            replies_from_any_sender: patch
                .replies_from_any_sender
                .unwrap_or(self.replies_from_any_sender),
            long_wait_alert_mins: patch
                .long_wait_alert_mins
                .unwrap_or(self.long_wait_alert_mins),
            alert_digest_mins: patch.alert_digest_mins.unwrap_or(self.alert_digest_mins),
            files: patch.files.unwrap_or_else(|| self.files.clone()),
            retention_days: patch.retention_days.unwrap_or(self.retention_days),
        };
        next.validate()?;
        Ok(next)
    }
}

/// A partial update: absent fields keep their value.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 604800))]
    pub offline_timeout_secs: Option<u64>,
    #[cfg_attr(feature = "openapi", schema(maximum = 3600))]
    pub presence_grace_secs: Option<u64>,
    pub branding: Option<Branding>,
    pub allowed_origins: Option<Vec<String>>,
    pub webhook_urls: Option<Vec<String>>,
    /// The company's site; `""` clears it.
    pub site_url: Option<String>,
    /// The sender's name in the company's mail; `""` goes back to the tenant's name.
    pub mail_from_name: Option<String>,
    /// Take replies by email from senders other than the visitor.
    pub replies_from_any_sender: Option<bool>,
    /// Minutes a visitor waits before the operators are alerted (0: never).
    #[cfg_attr(feature = "openapi", schema(maximum = 1440))]
    pub long_wait_alert_mins: Option<u32>,
    /// Minutes between two alert digests to one operator (0: alerts are not mailed).
    #[cfg_attr(feature = "openapi", schema(maximum = 1440))]
    pub alert_digest_mins: Option<u32>,
    /// The rules for files, replaced as a whole.
    pub files: Option<crate::file::FileSettings>,
    /// Days after which closed dialogs are erased (0: kept).
    #[cfg_attr(feature = "openapi", schema(maximum = 3650))]
    pub retention_days: Option<u32>,
}

/// How the widget looks on the tenant's site.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Branding {
    /// `#rrggbb`.
    pub color: String,
    pub title: String,
    pub greeting: String,
    pub logo_url: Option<String>,
    pub position: WidgetPosition,
    pub language: Language,
    /// The widget's header shows who answers (up to three operators' names and photos); off,
    /// visitors see their names only beside the replies.
    pub show_team: bool,
}

impl Default for Branding {
    fn default() -> Self {
        Self {
            color: "#2563eb".into(),
            title: Language::En.default_title().into(),
            greeting: Language::En.default_greeting().into(),
            logo_url: None,
            position: WidgetPosition::Right,
            language: Language::En,
            show_team: true,
        }
    }
}

impl Branding {
    /// A title and greeting left at the defaults of the language before follow the language
    /// (a Russian widget does not greet in English because nobody retyped it).
    fn in_its_language(mut self, before: &Branding) -> Self {
        let (was, now) = (before.language, self.language);
        if was != now {
            if self.title == was.default_title() {
                self.title = now.default_title().into();
            }
            if self.greeting == was.default_greeting() {
                self.greeting = now.default_greeting().into();
            }
        }
        self
    }

    fn validate(&self) -> Result<(), CoreError> {
        let hex = self.color.strip_prefix('#').unwrap_or("");
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CoreError::invalid(
                "branding.color",
                "must be a colour like #2563eb",
            ));
        }
        check_text("branding.title", &self.title, 1, 100)?;
        check_text("branding.greeting", &self.greeting, 0, 500)?;
        // What older versions stored stays loadable (a tenant must not be locked out of its
        // settings); a new logo URL is held to the stricter rule in `apply`.
        if let Some(url) = &self.logo_url
            && (url.len() > 2048
                || !(url.starts_with("https://") || url.starts_with("http://"))
                || url.contains(char::is_whitespace))
        {
            return Err(CoreError::invalid(
                "branding.logo_url",
                "must be an http(s) URL of at most 2048 characters",
            ));
        }
        Ok(())
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WidgetPosition {
    Left,
    Right,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    En,
    Ru,
}

impl Language {
    /// The widget's title until the company writes its own.
    pub fn default_title(self) -> &'static str {
        match self {
            Self::En => "Chat with us",
            Self::Ru => "Напишите нам",
        }
    }

    /// The widget's greeting until the company writes its own.
    pub fn default_greeting(self) -> &'static str {
        match self {
            Self::En => "Hi! How can we help?",
            Self::Ru => "Здравствуйте! Чем можем помочь?",
        }
    }

    /// The language a visitor is written to in: their browser's, when Tandem speaks it, else
    /// the tenant's (the language their widget showed them).
    pub fn for_visitor(locale: Option<&str>, tenant: Language) -> Language {
        locale.and_then(Self::of_tag).unwrap_or(tenant)
    }

    /// The language of a tag such as `ru-RU`, when Tandem speaks it.
    pub fn of_tag(tag: &str) -> Option<Language> {
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("ru") {
            Some(Self::Ru)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Self::En)
        } else {
            None
        }
    }
}

fn check_text(field: &'static str, value: &str, min: usize, max: usize) -> Result<(), CoreError> {
    let chars = value.trim().chars().count();
    if chars < min || value.chars().count() > max {
        return Err(CoreError::invalid(
            field,
            format!("must be {min} to {max} characters"),
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(CoreError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

const MAX_WEBHOOK_URLS: usize = 10;
const MAX_WEBHOOK_URL_BYTES: usize = 2048;

/// An http(s) URL with a host, no credentials and nothing that could break out of a link.
fn is_web_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    url.len() <= MAX_WEBHOOK_URL_BYTES
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>'))
        && host.is_some_and(|h| !h.is_empty() && !h.contains('@'))
}

fn validate_webhook_url(url: &str) -> Result<(), CoreError> {
    if is_web_url(url) {
        Ok(())
    } else {
        Err(CoreError::invalid(
            "webhook_urls",
            format!("{url:?} is not a URL like https://hooks.example.com/tandem"),
        ))
    }
}

pub(crate) fn validate_origin(origin: &str) -> Result<(), CoreError> {
    let bad = || {
        CoreError::invalid(
            "allowed_origins",
            format!("{origin:?} is not an origin like https://shop.example.com"),
        )
    };
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let host_ok = !rest.is_empty()
        && rest.len() <= 253
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if host_ok { Ok(()) } else { Err(bad()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visitor_is_written_to_in_their_language_when_tandem_speaks_it() {
        let cases = [
            (Some("ru-RU"), Language::En, Language::Ru),
            (Some("RU"), Language::En, Language::Ru),
            (Some("en-GB"), Language::Ru, Language::En),
            (Some("de-DE"), Language::Ru, Language::Ru),
            (Some("rus"), Language::En, Language::En),
            (None, Language::Ru, Language::Ru),
        ];
        for (locale, tenant, expected) in cases {
            assert_eq!(
                Language::for_visitor(locale, tenant),
                expected,
                "{locale:?}"
            );
        }
    }

    #[test]
    fn defaults_are_those_of_the_contract() {
        let s = TenantSettings::default();
        assert_eq!(s.offline_timeout_secs, 300);
        assert_eq!(s.presence_grace_secs, 15);
        s.validate().unwrap();
    }

    #[test]
    fn webhook_urls_must_be_http_urls_with_a_host() {
        let with = |urls: &[&str]| TenantSettings {
            webhook_urls: urls.iter().map(|u| (*u).to_owned()).collect(),
            ..TenantSettings::default()
        };
        with(&[
            "https://hooks.example.com/tandem?team=1",
            "http://127.0.0.1:9000/in",
        ])
        .validate()
        .unwrap();
        for bad in [
            "ftp://hooks.example.com",
            "https://",
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com/a b",
            "hooks.example.com",
        ] {
            assert!(with(&[bad]).validate().is_err(), "{bad}");
        }
        assert!(with(&["https://h.example.com"; 11]).validate().is_err());
    }

    /// A logo URL older versions accepted (with credentials) keeps the tenant's other settings
    /// changeable; a new one is held to the URL rule.
    #[test]
    fn a_logo_stored_under_the_old_rule_does_not_lock_the_settings() {
        let mut stored = TenantSettings::default();
        stored.branding.logo_url = Some("https://user:pass@cdn.example.com/logo.png".into());
        let timeout = SettingsPatch {
            offline_timeout_secs: Some(600),
            ..SettingsPatch::default()
        };
        assert_eq!(stored.apply(timeout).unwrap().offline_timeout_secs, 600);
        let again = SettingsPatch {
            branding: Some(stored.branding.clone()),
            ..SettingsPatch::default()
        };
        assert!(
            stored.apply(again).is_err(),
            "a new logo URL follows the rule"
        );
    }

    #[test]
    fn default_texts_follow_the_language_and_the_companys_own_stay() {
        let stored = TenantSettings::default();
        let russian = Branding {
            language: Language::Ru,
            ..stored.branding.clone()
        };
        let patch = SettingsPatch {
            branding: Some(russian.clone()),
            ..SettingsPatch::default()
        };
        let next = stored.apply(patch).unwrap();
        assert_eq!(next.branding.title, "Напишите нам");
        assert_eq!(next.branding.greeting, "Здравствуйте! Чем можем помочь?");
        let own = Branding {
            title: "Acme Help".into(),
            ..russian
        };
        let patch = SettingsPatch {
            branding: Some(own),
            ..SettingsPatch::default()
        };
        let next = stored.apply(patch).unwrap();
        assert_eq!(next.branding.title, "Acme Help");
        assert_eq!(next.branding.greeting, "Здравствуйте! Чем можем помочь?");
    }

    #[test]
    fn an_old_document_without_new_fields_loads_with_defaults() {
        let s: TenantSettings = serde_json::from_str(r#"{"offline_timeout_secs": 60}"#).unwrap();
        assert_eq!(s.offline_timeout_secs, 60);
        assert_eq!(s.presence_grace_secs, 15);
    }

    #[test]
    fn timeout_must_be_one_second_to_seven_days() {
        let s = TenantSettings::default();
        for bad in [0, 604_801, u64::MAX] {
            let patch = SettingsPatch {
                offline_timeout_secs: Some(bad),
                ..Default::default()
            };
            assert!(
                matches!(
                    s.apply(patch),
                    Err(CoreError::Invalid {
                        field: "offline_timeout_secs",
                        ..
                    })
                ),
                "{bad}"
            );
        }
        for good in [1, 300, 604_800] {
            let patch = SettingsPatch {
                offline_timeout_secs: Some(good),
                ..Default::default()
            };
            assert_eq!(s.apply(patch).unwrap().offline_timeout_secs, good);
        }
    }

    #[test]
    fn branding_and_origins_are_checked() {
        let s = TenantSettings::default();
        let bad_color = Branding {
            color: "blue".into(),
            ..Branding::default()
        };
        assert!(
            s.apply(SettingsPatch {
                branding: Some(bad_color),
                ..Default::default()
            })
            .is_err()
        );
        let bad_logo = Branding {
            logo_url: Some("javascript:alert(1)".into()),
            ..Branding::default()
        };
        assert!(
            s.apply(SettingsPatch {
                branding: Some(bad_logo),
                ..Default::default()
            })
            .is_err()
        );
        let origins = |o: &str| SettingsPatch {
            allowed_origins: Some(vec![o.into()]),
            ..Default::default()
        };
        assert!(s.apply(origins("https://shop.example.com")).is_ok());
        assert!(s.apply(origins("http://localhost:3000")).is_ok());
        assert!(s.apply(origins("shop.example.com")).is_err());
        assert!(s.apply(origins("https://shop.example.com/path")).is_err());
    }

    #[test]
    fn unknown_fields_in_a_patch_are_refused() {
        assert!(serde_json::from_str::<SettingsPatch>(r#"{"offline_timeout": 5}"#).is_err());
    }
}
