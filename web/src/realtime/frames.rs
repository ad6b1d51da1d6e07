//! The JSON frames of the WebSockets, one object per frame, `{"type": ...}`.

use serde::{Deserialize, Serialize};
use tandem_core::alert::OperatorAlert;
use tandem_core::chat::{Chat, VisitorChat};
use tandem_core::ids::{ChatId, MessageId, UserId, VisitorId};
use tandem_core::message::{Message, Reader};
use tandem_core::note::Note;
use tandem_core::operator::OperatorName;
use tandem_core::visitor::VisitorContext;

use crate::error::ErrorDetail;

/// Server → client.
#[derive(Serialize)]
#[serde(tag = "type")]
pub enum ServerFrame<'a> {
    /// The first frame: the socket is registered and will receive every event from now on.
    #[serde(rename = "hello")]
    Hello {
        #[serde(skip_serializing_if = "Option::is_none")]
        visitor_id: Option<VisitorId>,
        #[serde(skip_serializing_if = "Option::is_none")]
        user_id: Option<UserId>,
        #[serde(skip_serializing_if = "Option::is_none")]
        operators_available: Option<bool>,
    },
    #[serde(rename = "message.created")]
    MessageCreated { message: &'a Message },
    #[serde(rename = "message.updated")]
    MessageUpdated { message: &'a Message },
    #[serde(rename = "message.read")]
    MessageRead {
        chat_id: ChatId,
        up_to: MessageId,
        by: Reader,
    },
    #[serde(rename = "chat.updated")]
    ChatUpdated { chat: ChatView<'a> },
    /// To operators only: what they see of a visitor beside the dialog changed.
    #[serde(rename = "visitor.context")]
    VisitorContext {
        chat_id: ChatId,
        context: &'a VisitorContext,
    },
    /// To operators only: a colleague's internal note.
    #[serde(rename = "note.added")]
    NoteAdded { note: &'a Note },
    #[serde(rename = "typing")]
    Typing {
        chat_id: ChatId,
        by: Reader,
        /// The operator typing (absent when the visitor types).
        #[serde(skip_serializing_if = "Option::is_none")]
        operator: Option<&'a OperatorName>,
    },
    /// To operators: a colleague's (or their own) status changed.
    #[serde(rename = "operator.status")]
    OperatorStatus {
        user_id: UserId,
        status: tandem_core::operator::OperatorStatus,
    },
    /// To operators: a new offline request, a visitor waiting long.
    #[serde(rename = "operator.alert")]
    OperatorAlert { alert: &'a OperatorAlert },
    #[serde(rename = "operators.availability")]
    Availability { operators_available: bool },
    #[serde(rename = "pong")]
    Pong,
    #[serde(rename = "error")]
    Error {
        error: ErrorDetail,
        /// The `client_id` of the `message.send` that failed, so the client can tell which.
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<&'a str>,
    },
}

/// A chat as a socket shows it: whole to operators; to its visitor, only what is theirs to
/// know (not the tenant's tags, priority, assignment, unread counts or previews).
#[derive(Serialize)]
#[serde(untagged)]
pub enum ChatView<'a> {
    Operator(&'a Chat),
    Visitor(VisitorChat),
}

impl ServerFrame<'_> {
    pub fn to_text(&self) -> axum::extract::ws::Utf8Bytes {
        // These types serialize infallibly (no maps with non-string keys, no failing impls).
        serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"type":"error"}"#.to_owned())
            .into()
    }
}

/// Visitor → server.
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub enum VisitorFrame {
    #[serde(rename = "message.send")]
    Send {
        body: String,
        client_id: Option<String>,
    },
    #[serde(rename = "message.edit")]
    Edit { id: String, body: String },
    #[serde(rename = "read")]
    Read { up_to: String },
    #[serde(rename = "typing")]
    Typing,
    /// The page the widget is on (on opening, and when the address changes).
    #[serde(rename = "page")]
    Page {
        url: String,
        title: Option<String>,
        referrer: Option<String>,
        time_zone: Option<String>,
    },
    #[serde(rename = "ping")]
    Ping,
}

/// Operator → server.
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub enum OperatorFrame {
    #[serde(rename = "message.send")]
    Send {
        chat_id: String,
        body: String,
        client_id: Option<String>,
    },
    #[serde(rename = "message.edit")]
    Edit {},
    #[serde(rename = "read")]
    Read { chat_id: String, up_to: String },
    #[serde(rename = "typing")]
    Typing { chat_id: String },
    #[serde(rename = "ping")]
    Ping,
}
