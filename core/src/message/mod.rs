//! Messages of a dialog: what may be sent, how it is shown, and the services that write them.

mod body;
mod quota;
mod service;

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::entity::{message, message_edit};
use crate::ids::{ChatId, MessageId, UserId};

pub use body::{ClientId, MessageBody};
pub(crate) use quota::MessageQuotas;
pub(crate) use service::vet_request;
pub use service::{MessageService, OfflineRequest};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Author {
    #[sea_orm(string_value = "visitor")]
    Visitor,
    #[sea_orm(string_value = "operator")]
    Operator,
    #[sea_orm(string_value = "system")]
    System,
}

/// Where a message came in.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum MessageChannel {
    /// Written in the widget (or by an operator in the workspace).
    #[default]
    #[sea_orm(string_value = "widget")]
    Widget,
    /// A reply to an unread-reply email.
    #[sea_orm(string_value = "email")]
    Email,
    /// The request sent through the offline form (since 2026-11-28; earlier ones say `widget`).
    #[sea_orm(string_value = "offline_form")]
    OfflineForm,
}

/// How a visitor's message came in, with what the channel adds to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Arrival {
    #[default]
    Widget,
    /// The offline form's message.
    OfflineForm,
    Email {
        /// The sender, when the tenant takes replies from others than the visitor and this
        /// was one.
        foreign_sender: Option<String>,
        /// The quoted history and signature cut from the mail.
        quoted: Option<String>,
    },
}

impl Arrival {
    pub fn channel(&self) -> MessageChannel {
        match self {
            Self::Widget => MessageChannel::Widget,
            Self::OfflineForm => MessageChannel::OfflineForm,
            Self::Email { .. } => MessageChannel::Email,
        }
    }
}

/// Who marked messages read.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reader {
    Visitor,
    Operator,
}

/// A message as the API shows it to visitors and operators alike.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub chat_id: ChatId,
    /// `widget`, `email` for a visitor's reply by email, or `offline_form` for the request a
    /// visitor sent through the offline form.
    #[serde(default)]
    pub channel: MessageChannel,
    /// Position in the dialog, from 1.
    pub seq: i64,
    pub author: Author,
    pub operator_id: Option<UserId>,
    pub body: String,
    pub created_at: Timestamp,
    pub edited_at: Option<Timestamp>,
    pub read_by_visitor_at: Option<Timestamp>,
    pub read_by_operator_at: Option<Timestamp>,
    pub emailed_at: Option<Timestamp>,
    pub client_id: Option<String>,
    /// A reply by email: the quoted history and signature cut from it, for operators to
    /// expand.
    #[serde(default)]
    pub quoted: Option<String>,
    /// A reply by email from someone other than the visitor (the tenant allows it): who.
    #[serde(default)]
    pub mail_from: Option<String>,
    /// The file the message carries; its body is then the file's name.
    #[serde(default)]
    pub attachment: Option<crate::file::Attachment>,
    /// When its author deleted it (a file message); body and file are gone.
    #[serde(default)]
    pub deleted_at: Option<Timestamp>,
}

impl From<message::Model> for Message {
    fn from(row: message::Model) -> Self {
        let at = |t: Option<i64>| t.map(Timestamp::from_millis);
        Self {
            id: row.id,
            chat_id: row.chat_id,
            channel: row.channel,
            seq: row.seq,
            author: row.author,
            operator_id: row.operator_id,
            body: row.body,
            created_at: Timestamp::from_millis(row.created_at),
            edited_at: at(row.edited_at),
            read_by_visitor_at: at(row.read_by_visitor_at),
            read_by_operator_at: at(row.read_by_operator_at),
            emailed_at: at(row.emailed_at),
            client_id: row.client_id,
            quoted: row.quoted,
            mail_from: row.mail_from,
            // Written by Tandem from an `Attachment`; unreadable only if the row was tampered
            // with, and then the message shows as text.
            attachment: row
                .attachment
                .as_deref()
                .and_then(|json| serde_json::from_str(json).ok()),
            deleted_at: at(row.deleted_at),
        }
    }
}

/// An earlier text of an edited message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EarlierText {
    pub body: String,
    /// When this text was written (the message's creation, or the edit before).
    pub written_at: Timestamp,
    /// When the next edit replaced it.
    pub replaced_at: Timestamp,
}

impl From<message_edit::Model> for EarlierText {
    fn from(row: message_edit::Model) -> Self {
        Self {
            body: row.body,
            written_at: Timestamp::from_millis(row.written_at),
            replaced_at: Timestamp::from_millis(row.replaced_at),
        }
    }
}
