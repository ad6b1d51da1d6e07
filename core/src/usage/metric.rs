//! The things counted.

use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Messages visitors wrote (in the widget, the offline form, by email).
    VisitorMessages,
    /// Replies operators wrote.
    OperatorReplies,
    ChatsStarted,
    NewVisitors,
    MailsSent,
    /// Unread-reply mails given up on (a retry is not a failure yet).
    MailsFailed,
    WebhooksSent,
    /// Webhook posts that failed (each failed attempt).
    WebhooksFailed,
    /// Plugin calls that failed (an error, a trap, a timeout, a bad answer).
    PluginFailures,
}

impl Metric {
    pub const ALL: [Metric; 9] = [
        Metric::VisitorMessages,
        Metric::OperatorReplies,
        Metric::ChatsStarted,
        Metric::NewVisitors,
        Metric::MailsSent,
        Metric::MailsFailed,
        Metric::WebhooksSent,
        Metric::WebhooksFailed,
        Metric::PluginFailures,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::VisitorMessages => "visitor_messages",
            Metric::OperatorReplies => "operator_replies",
            Metric::ChatsStarted => "chats_started",
            Metric::NewVisitors => "new_visitors",
            Metric::MailsSent => "mails_sent",
            Metric::MailsFailed => "mails_failed",
            Metric::WebhooksSent => "webhooks_sent",
            Metric::WebhooksFailed => "webhooks_failed",
            Metric::PluginFailures => "plugin_failures",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }
}
