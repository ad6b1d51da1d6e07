//! The hooks as the rest of Tandem sees them: plain Rust values (JSON for `tandem plugin run`),
//! converted to and from the generated bindings, and every answer checked before it is used.

use serde::{Deserialize, Serialize};

use crate::bindings::exports::tandem::plugin::hooks as wit;
use crate::error::CallError;
use tandem_core::tenant::EmailParts;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookName {
    OfflineTimeout,
    EmailTemplate,
    RouteNotification,
}

impl HookName {
    pub const ALL: [HookName; 3] = [
        HookName::OfflineTimeout,
        HookName::EmailTemplate,
        HookName::RouteNotification,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HookName::OfflineTimeout => "offline_timeout",
            HookName::EmailTemplate => "email_template",
            HookName::RouteNotification => "route_notification",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|h| h.as_str() == name || h.as_str().replace('_', "-") == name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub hooks: Vec<HookName>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorInfo {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub has_email: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookContext {
    pub tenant_id: String,
    pub tenant_slug: String,
    pub chat_id: String,
    pub visitor: VisitorInfo,
    pub tenant_timeout_secs: u32,
    pub now_ms: i64,
    #[serde(default)]
    pub webhook_urls: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreadMessage {
    pub id: String,
    pub author: String,
    pub body: String,
    pub sent_at_ms: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedEmail {
    pub to: Option<String>,
    pub subject: String,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub url: String,
    /// The JSON document to post, checked to be JSON.
    pub body: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Delivery {
    Email { to: Option<String> },
    Webhook(Webhook),
    Skip { reason: String },
}

/// The input of `route_notification`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteInput {
    pub context: HookContext,
    #[serde(default)]
    pub messages: Vec<UnreadMessage>,
    #[serde(default)]
    pub email: RenderedEmail,
}

/// Bounds on what a hook may hand back; beyond them the answer is refused as malformed.
pub const MAX_TEMPLATE_PART: usize = 64 * 1024;
pub const MAX_DELIVERIES: usize = 10;
pub const MAX_WEBHOOK_BODY: usize = 64 * 1024;
pub const MAX_SHORT_TEXT: usize = 500;

fn malformed(what: impl Into<String>) -> CallError {
    CallError::Malformed(what.into())
}

pub(crate) fn manifest(m: wit::Manifest) -> Result<Manifest, CallError> {
    if m.name.trim().is_empty() || m.name.len() > 100 {
        return Err(malformed("the manifest's name must be 1 to 100 bytes"));
    }
    if m.version.len() > 50 {
        return Err(malformed("the manifest's version is longer than 50 bytes"));
    }
    let mut hooks: Vec<HookName> = m
        .hooks
        .into_iter()
        .map(|h| match h {
            wit::Hook::OfflineTimeout => HookName::OfflineTimeout,
            wit::Hook::EmailTemplate => HookName::EmailTemplate,
            wit::Hook::RouteNotification => HookName::RouteNotification,
        })
        .collect();
    hooks.sort_by_key(|h| h.as_str());
    hooks.dedup();
    if hooks.is_empty() {
        return Err(malformed("the manifest names no hooks"));
    }
    Ok(Manifest {
        name: m.name,
        version: m.version,
        hooks,
    })
}

pub(crate) fn context(c: &HookContext) -> wit::Context {
    wit::Context {
        tenant_id: c.tenant_id.clone(),
        tenant_slug: c.tenant_slug.clone(),
        chat_id: c.chat_id.clone(),
        visitor: wit::Visitor {
            id: c.visitor.id.clone(),
            name: c.visitor.name.clone(),
            locale: c.visitor.locale.clone(),
            has_email: c.visitor.has_email,
        },
        tenant_timeout_secs: c.tenant_timeout_secs,
        now_ms: c.now_ms,
        webhook_urls: c.webhook_urls.clone(),
    }
}

pub(crate) fn email_template(t: wit::TemplateSources) -> Result<EmailParts, CallError> {
    for (part, source) in [
        ("subject", &t.subject),
        ("html", &t.html),
        ("text", &t.text),
    ] {
        if source.len() > MAX_TEMPLATE_PART {
            return Err(malformed(format!(
                "the {part} template is {} bytes; the limit is {MAX_TEMPLATE_PART}",
                source.len()
            )));
        }
    }
    Ok(EmailParts {
        subject: t.subject,
        html: t.html,
        text: t.text,
    })
}

pub(crate) fn messages(messages: &[UnreadMessage]) -> Vec<wit::UnreadMessage> {
    messages
        .iter()
        .map(|m| wit::UnreadMessage {
            id: m.id.clone(),
            author: m.author.clone(),
            body: m.body.clone(),
            sent_at_ms: m.sent_at_ms,
        })
        .collect()
}

pub(crate) fn rendered(e: &RenderedEmail) -> wit::RenderedEmail {
    wit::RenderedEmail {
        to: e.to.clone(),
        subject: e.subject.clone(),
        text: e.text.clone(),
    }
}

pub(crate) fn deliveries(list: Vec<wit::Delivery>) -> Result<Vec<Delivery>, CallError> {
    if list.is_empty() {
        return Err(malformed(
            "an empty list of deliveries (answer none for the default, or skip with a reason)",
        ));
    }
    if list.len() > MAX_DELIVERIES {
        return Err(malformed(format!(
            "{} deliveries; at most {MAX_DELIVERIES}",
            list.len()
        )));
    }
    list.into_iter().map(delivery).collect()
}

fn delivery(d: wit::Delivery) -> Result<Delivery, CallError> {
    Ok(match d {
        wit::Delivery::Email(to) => {
            if let Some(address) = &to
                && (address.len() > 254 || !address.contains('@'))
            {
                return Err(malformed(format!(
                    "{:?} is not an email address",
                    truncate(address)
                )));
            }
            Delivery::Email { to }
        }
        wit::Delivery::Webhook(w) => {
            if w.url.len() > 2048 {
                return Err(malformed("a webhook URL longer than 2048 bytes"));
            }
            if w.body.len() > MAX_WEBHOOK_BODY {
                return Err(malformed(format!(
                    "a webhook body of {} bytes; the limit is {MAX_WEBHOOK_BODY}",
                    w.body.len()
                )));
            }
            if serde_json::from_str::<serde_json::Value>(&w.body).is_err() {
                return Err(malformed("a webhook body that is not JSON"));
            }
            Delivery::Webhook(Webhook {
                url: w.url,
                body: w.body,
            })
        }
        wit::Delivery::Skip(reason) => {
            if reason.trim().is_empty() || reason.len() > MAX_SHORT_TEXT {
                return Err(malformed("a skip needs a reason of 1 to 500 bytes"));
            }
            Delivery::Skip { reason }
        }
    })
}

fn truncate(s: &str) -> &str {
    let mut end = s.len().min(60);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
