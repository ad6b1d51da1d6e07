//! The hooks as the rest of Tandem sees them: plain Rust values (JSON for `tandem plugin run`),
//! the same whichever world a plugin was built against (each world's module converts to and
//! from its own bindings), and every answer checked before it is used.

use serde::{Deserialize, Serialize};

use crate::error::CallError;
use tandem_core::plugin::SettingsSchema;
use tandem_core::tenant::EmailParts;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookName {
    OfflineTimeout,
    EmailTemplate,
    RouteNotification,
    OfflineRequest,
    Availability,
    OperatorAlert,
    ChatClosed,
}

impl HookName {
    pub const ALL: [HookName; 7] = [
        HookName::OfflineTimeout,
        HookName::EmailTemplate,
        HookName::RouteNotification,
        HookName::OfflineRequest,
        HookName::Availability,
        HookName::OperatorAlert,
        HookName::ChatClosed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HookName::OfflineTimeout => "offline_timeout",
            HookName::EmailTemplate => "email_template",
            HookName::RouteNotification => "route_notification",
            HookName::OfflineRequest => "offline_request",
            HookName::Availability => "availability",
            HookName::OperatorAlert => "operator_alert",
            HookName::ChatClosed => "chat_closed",
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
    /// The settings' JSON Schema, as JSON text (worlds from 0.2.0).
    #[serde(default)]
    pub settings_schema: Option<String>,
    /// The world version the component was built against, as the host found it.
    #[serde(default)]
    pub world: String,
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

/// What every hook is told.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantContext {
    pub tenant_id: String,
    pub tenant_slug: String,
    pub tenant_timeout_secs: u32,
    pub now_ms: i64,
    #[serde(default)]
    pub webhook_urls: Vec<String>,
    /// The plugin's settings, a JSON object as text.
    #[serde(default = "no_settings")]
    pub settings: String,
}

impl Default for TenantContext {
    fn default() -> Self {
        Self {
            tenant_id: String::new(),
            tenant_slug: String::new(),
            tenant_timeout_secs: 0,
            now_ms: 0,
            webhook_urls: Vec::new(),
            settings: no_settings(),
        }
    }
}

fn no_settings() -> String {
    "{}".to_owned()
}

/// What a hook about one dialog is told. Flat in JSON, as `tandem plugin run` reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookContext {
    #[serde(flatten)]
    pub tenant: TenantContext,
    pub chat_id: String,
    pub visitor: VisitorInfo,
}

impl HookContext {
    /// The same context, with one plugin's settings.
    pub(crate) fn with_settings(&self, settings: &str) -> Self {
        let mut ctx = self.clone();
        ctx.tenant.settings = settings.to_owned();
        ctx
    }
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

/// What a visitor sent through the offline form.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineRequest {
    #[serde(default)]
    pub name: Option<String>,
    pub email: String,
    pub message: String,
    #[serde(default)]
    pub page_url: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

/// What Tandem does with an offline request besides keeping it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestAnswer {
    pub auto_reply: Option<String>,
    pub tags: Vec<String>,
    pub priority: Option<Priority>,
    /// An operator's email.
    pub assign_to: Option<String>,
}

/// Who is there to answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staff {
    pub online: u32,
    pub available: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WidgetMode {
    Chat,
    OfflineForm,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability {
    pub mode: WidgetMode,
    pub message: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AlertKind {
    OfflineRequest,
    LongWait { minutes: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub preview: String,
    pub workspace_url: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AlertRoute {
    /// Tandem's own alert.
    Operators,
    Webhook(Webhook),
    Skip {
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    pub good: bool,
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedChat {
    pub closed_by: String,
    pub messages: u32,
    #[serde(default)]
    pub rating: Option<Rating>,
    pub opened_at_ms: i64,
    pub closed_at_ms: i64,
}

/// The input of `route_notification` for `tandem plugin run`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteInput {
    pub context: HookContext,
    #[serde(default)]
    pub messages: Vec<UnreadMessage>,
    #[serde(default)]
    pub email: RenderedEmail,
}

/// The input of `offline_request` for `tandem plugin run`.
#[derive(Clone, Debug, Deserialize)]
pub struct OfflineRequestInput {
    pub context: HookContext,
    pub request: OfflineRequest,
}

/// The input of `availability` for `tandem plugin run`.
#[derive(Clone, Debug, Deserialize)]
pub struct AvailabilityInput {
    pub context: TenantContext,
    #[serde(default)]
    pub staff: Staff,
}

/// The input of `operator_alert` for `tandem plugin run`.
#[derive(Clone, Debug, Deserialize)]
pub struct AlertInput {
    pub context: HookContext,
    pub alert: Alert,
}

/// The input of `chat_closed` for `tandem plugin run`.
#[derive(Clone, Debug, Deserialize)]
pub struct ClosedInput {
    pub context: HookContext,
    pub chat: ClosedChat,
}

/// Bounds on what a hook may hand back; beyond them the answer is refused as malformed.
pub const MAX_TEMPLATE_PART: usize = 64 * 1024;
pub const MAX_DELIVERIES: usize = 10;
pub const MAX_WEBHOOK_BODY: usize = 64 * 1024;
pub const MAX_SHORT_TEXT: usize = 500;
pub const MAX_AUTO_REPLY_CHARS: usize = 2_000;
pub const MAX_AVAILABILITY_CHARS: usize = 300;
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG_CHARS: usize = 40;

fn malformed(what: impl Into<String>) -> CallError {
    CallError::Malformed(what.into())
}

/// A manifest as a plugin declared it, checked: a name, hooks, and settings that are a schema.
pub(crate) fn manifest(mut m: Manifest) -> Result<Manifest, CallError> {
    if m.name.trim().is_empty() || m.name.len() > 100 {
        return Err(malformed("the manifest's name must be 1 to 100 bytes"));
    }
    if m.version.len() > 50 {
        return Err(malformed("the manifest's version is longer than 50 bytes"));
    }
    m.hooks.sort_by_key(|h| h.as_str());
    m.hooks.dedup();
    if m.hooks.is_empty() {
        return Err(malformed("the manifest names no hooks"));
    }
    if let Some(schema) = &m.settings_schema {
        SettingsSchema::parse(schema)
            .map_err(|e| malformed(format!("the settings schema: {e}")))?;
    }
    Ok(m)
}

pub(crate) fn email_template(t: EmailParts) -> Result<EmailParts, CallError> {
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
    Ok(t)
}

pub(crate) fn deliveries(list: Vec<Delivery>) -> Result<Vec<Delivery>, CallError> {
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
    for d in &list {
        match d {
            Delivery::Email { to: Some(address) }
                if address.len() > 254 || !address.contains('@') =>
            {
                return Err(malformed(format!(
                    "{:?} is not an email address",
                    truncate(address)
                )));
            }
            Delivery::Email { .. } => {}
            Delivery::Webhook(w) => webhook(w)?,
            Delivery::Skip { reason } => skip_reason(reason)?,
        }
    }
    Ok(list)
}

fn webhook(w: &Webhook) -> Result<(), CallError> {
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
    Ok(())
}

fn skip_reason(reason: &str) -> Result<(), CallError> {
    if reason.trim().is_empty() || reason.len() > MAX_SHORT_TEXT {
        return Err(malformed("a skip needs a reason of 1 to 500 bytes"));
    }
    Ok(())
}

/// Text a visitor will read: not empty, not too long, no control characters.
fn visible_text(what: &str, text: &str, max_chars: usize) -> Result<(), CallError> {
    if text.trim().is_empty() {
        return Err(malformed(format!("an empty {what}")));
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(malformed(format!(
            "a {what} of {chars} characters; at most {max_chars}"
        )));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(malformed(format!("a {what} with control characters")));
    }
    Ok(())
}

pub(crate) fn request_answer(mut a: RequestAnswer) -> Result<RequestAnswer, CallError> {
    if let Some(reply) = &a.auto_reply {
        visible_text("automatic reply", reply, MAX_AUTO_REPLY_CHARS)?;
    }
    if a.tags.len() > MAX_TAGS {
        return Err(malformed(format!(
            "{} tags; at most {MAX_TAGS}",
            a.tags.len()
        )));
    }
    for tag in &mut a.tags {
        *tag = tag.trim().to_owned();
        visible_text("tag", tag, MAX_TAG_CHARS)?;
    }
    a.tags.sort();
    a.tags.dedup();
    if let Some(address) = &a.assign_to
        && (address.len() > 254 || !address.contains('@'))
    {
        return Err(malformed(format!(
            "assign to {:?}, which is not an email address",
            truncate(address)
        )));
    }
    Ok(a)
}

pub(crate) fn availability(a: Availability) -> Result<Availability, CallError> {
    if let Some(message) = &a.message {
        visible_text("availability message", message, MAX_AVAILABILITY_CHARS)?;
    }
    Ok(a)
}

pub(crate) fn alert_routes(list: Vec<AlertRoute>) -> Result<Vec<AlertRoute>, CallError> {
    if list.is_empty() {
        return Err(malformed(
            "an empty list of alert routes (answer none for the default, or skip with a reason)",
        ));
    }
    if list.len() > MAX_DELIVERIES {
        return Err(malformed(format!(
            "{} alert routes; at most {MAX_DELIVERIES}",
            list.len()
        )));
    }
    for route in &list {
        match route {
            AlertRoute::Operators => {}
            AlertRoute::Webhook(w) => webhook(w)?,
            AlertRoute::Skip { reason } => skip_reason(reason)?,
        }
    }
    Ok(list)
}

pub(crate) fn webhooks(list: Vec<Webhook>) -> Result<Vec<Webhook>, CallError> {
    if list.len() > MAX_DELIVERIES {
        return Err(malformed(format!(
            "{} webhooks; at most {MAX_DELIVERIES}",
            list.len()
        )));
    }
    list.iter().try_for_each(webhook)?;
    Ok(list)
}

fn truncate(s: &str) -> &str {
    let mut end = s.len().min(60);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
