//! The lines of an archive: one JSON object per line, its `type` first. They are written from
//! the rows as they are, field by field, so that nothing goes out by accident (no password
//! hashes, tokens, webhook secrets, plugin settings or module bytes).

use serde::Serialize;

use crate::automation::Priority;
use crate::chat::ChatState;
use crate::clock::Timestamp;
use crate::delivery::{Channel, DeliveryStatus};
use crate::entity::{
    chat, chat_note, chat_rating, delivery, file, message, message_edit, page_view, user, visitor,
};
use crate::file::FileKind;
use crate::ids::{
    ChatId, ExportId, FileId, MessageId, NoteId, PageViewId, PluginId, TenantId, UserId, VisitorId,
};
use crate::message::{Author, MessageChannel};
use crate::operator::Role;
use crate::rating::Rating;
use crate::tenant::{EmailParts, TenantLimits, TenantSettings};

use super::build::PluginMetadata;

/// The archive format's name and version, in its first line.
pub const FORMAT: &str = "tandem-export";
pub const VERSION: u32 = 1;

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Line<'a> {
    Export(Header<'a>),
    Settings(Settings),
    Operator(Operator<'a>),
    Plugin(Plugin<'a>),
    Visitor(Visitor<'a>),
    PageView(PageView<'a>),
    Chat(Chat<'a>),
    Rating(RatingLine<'a>),
    Message(Message<'a>),
    Note(Note<'a>),
    File(File<'a>),
    Delivery(Delivery<'a>),
}

fn at(millis: i64) -> Timestamp {
    Timestamp::from_millis(millis)
}

fn at_opt(millis: Option<i64>) -> Option<Timestamp> {
    millis.map(Timestamp::from_millis)
}

/// A column holding JSON (a list of tags, an attachment): as JSON, or as the text it was if it
/// is not.
fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_owned()))
}

#[derive(Serialize)]
pub(super) struct Header<'a> {
    pub format: &'static str,
    pub version: u32,
    pub export_id: ExportId,
    pub tenant_id: TenantId,
    pub tenant_slug: &'a str,
    pub tenant_name: &'a str,
    /// `tenant` or `visitor`.
    pub scope: &'static str,
    pub visitor_id: Option<VisitorId>,
    pub created_at: Timestamp,
}

#[derive(Serialize)]
pub(super) struct Settings {
    pub settings: TenantSettings,
    pub limits: TenantLimits,
    /// The company's own email template; none when it uses the built-in one.
    pub email_template: Option<EmailParts>,
}

#[derive(Serialize)]
pub(super) struct Operator<'a> {
    id: UserId,
    email: &'a str,
    name: &'a str,
    role: Role,
    active: bool,
    capacity: i32,
    created_at: Timestamp,
}

impl<'a> From<&'a user::Model> for Operator<'a> {
    fn from(row: &'a user::Model) -> Self {
        Self {
            id: row.id,
            email: &row.email,
            name: &row.name,
            role: row.role,
            active: row.active,
            capacity: row.capacity,
            created_at: at(row.created_at),
        }
    }
}

#[derive(Serialize)]
pub(super) struct Plugin<'a> {
    id: PluginId,
    name: &'a str,
    version: &'a str,
    hooks: serde_json::Value,
    sha256: &'a str,
    size_bytes: i64,
    world: &'a str,
    enabled: bool,
    position: i32,
    consecutive_failures: i32,
    disabled_reason: Option<&'a str>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl<'a> From<&'a PluginMetadata> for Plugin<'a> {
    fn from(row: &'a PluginMetadata) -> Self {
        Self {
            id: row.id,
            name: &row.name,
            version: &row.version,
            hooks: json(&row.hooks),
            sha256: &row.sha256,
            size_bytes: row.size_bytes,
            world: &row.world,
            enabled: row.enabled,
            position: row.position,
            consecutive_failures: row.consecutive_failures,
            disabled_reason: row.disabled_reason.as_deref(),
            created_at: at(row.created_at),
            updated_at: at(row.updated_at),
        }
    }
}

#[derive(Serialize)]
pub(super) struct Visitor<'a> {
    id: VisitorId,
    name: Option<&'a str>,
    email: Option<&'a str>,
    email_confirmed: bool,
    emails_stopped: bool,
    locale: Option<&'a str>,
    time_zone: Option<&'a str>,
    referrer: Option<&'a str>,
    user_agent: Option<&'a str>,
    visits: i32,
    created_at: Timestamp,
    last_seen_at: Timestamp,
}

impl<'a> From<&'a visitor::Model> for Visitor<'a> {
    fn from(row: &'a visitor::Model) -> Self {
        Self {
            id: row.id,
            name: row.name.as_deref(),
            email: row.email.as_deref(),
            email_confirmed: row.email.is_some() && row.email_confirmed == row.email,
            emails_stopped: row.emails_stopped,
            locale: row.locale.as_deref(),
            time_zone: row.time_zone.as_deref(),
            referrer: row.referrer.as_deref(),
            user_agent: row.user_agent.as_deref(),
            visits: row.visits,
            created_at: at(row.created_at),
            last_seen_at: at(row.last_seen_at),
        }
    }
}

#[derive(Serialize)]
pub(super) struct PageView<'a> {
    id: PageViewId,
    visitor_id: VisitorId,
    url: &'a str,
    title: Option<&'a str>,
    at: Timestamp,
}

impl<'a> From<&'a page_view::Model> for PageView<'a> {
    fn from(row: &'a page_view::Model) -> Self {
        Self {
            id: row.id,
            visitor_id: row.visitor_id,
            url: &row.url,
            title: row.title.as_deref(),
            at: at(row.at),
        }
    }
}

#[derive(Serialize)]
pub(super) struct Chat<'a> {
    id: ChatId,
    visitor_id: VisitorId,
    state: ChatState,
    operator_id: Option<UserId>,
    tags: serde_json::Value,
    priority: Option<Priority>,
    messages: i64,
    created_at: Timestamp,
    last_message_at: Timestamp,
    closed_at: Option<Timestamp>,
    rating: Option<Rating>,
    rating_comment: Option<&'a str>,
    rated_at: Option<Timestamp>,
    /// When the company's retention emptied it.
    erased_at: Option<Timestamp>,
}

impl<'a> From<&'a chat::Model> for Chat<'a> {
    fn from(row: &'a chat::Model) -> Self {
        Self {
            id: row.id,
            visitor_id: row.visitor_id,
            state: row.state,
            operator_id: row.operator_id,
            tags: json(&row.tags),
            priority: row.priority,
            messages: row.last_seq,
            created_at: at(row.created_at),
            last_message_at: at(row.last_message_at),
            closed_at: at_opt(row.closed_at),
            rating: row.rating,
            rating_comment: row.rating_comment.as_deref(),
            rated_at: at_opt(row.rated_at),
            erased_at: at_opt(row.erased_at),
        }
    }
}

#[derive(Serialize)]
pub(super) struct RatingLine<'a> {
    chat_id: ChatId,
    visitor_id: VisitorId,
    operator_id: Option<UserId>,
    rating: Rating,
    comment: Option<&'a str>,
    /// The close it rates.
    closed_at: Timestamp,
    created_at: Timestamp,
}

impl<'a> From<&'a chat_rating::Model> for RatingLine<'a> {
    fn from(row: &'a chat_rating::Model) -> Self {
        Self {
            chat_id: row.chat_id,
            visitor_id: row.visitor_id,
            operator_id: row.operator_id,
            rating: row.rating,
            comment: row.comment.as_deref(),
            closed_at: at(row.closed_at),
            created_at: at(row.created_at),
        }
    }
}

#[derive(Serialize)]
pub(super) struct Message<'a> {
    id: MessageId,
    chat_id: ChatId,
    seq: i64,
    author: Author,
    operator_id: Option<UserId>,
    channel: MessageChannel,
    body: &'a str,
    attachment: Option<serde_json::Value>,
    quoted: Option<&'a str>,
    mail_from: Option<&'a str>,
    created_at: Timestamp,
    edited_at: Option<Timestamp>,
    deleted_at: Option<Timestamp>,
    read_by_visitor_at: Option<Timestamp>,
    read_by_operator_at: Option<Timestamp>,
    emailed_at: Option<Timestamp>,
    /// The texts it had before its edits, oldest first.
    edits: Vec<Edit<'a>>,
}

#[derive(Serialize)]
pub(super) struct Edit<'a> {
    body: &'a str,
    written_at: Timestamp,
    replaced_at: Timestamp,
}

impl<'a> Message<'a> {
    /// The message and its earlier versions (`edits` is every edit of the page's messages,
    /// oldest first).
    pub fn new(row: &'a message::Model, edits: &'a [message_edit::Model]) -> Self {
        Self {
            id: row.id,
            chat_id: row.chat_id,
            seq: row.seq,
            author: row.author,
            operator_id: row.operator_id,
            channel: row.channel,
            body: &row.body,
            attachment: row.attachment.as_deref().map(json),
            quoted: row.quoted.as_deref(),
            mail_from: row.mail_from.as_deref(),
            created_at: at(row.created_at),
            edited_at: at_opt(row.edited_at),
            deleted_at: at_opt(row.deleted_at),
            read_by_visitor_at: at_opt(row.read_by_visitor_at),
            read_by_operator_at: at_opt(row.read_by_operator_at),
            emailed_at: at_opt(row.emailed_at),
            edits: edits
                .iter()
                .filter(|edit| edit.message_id == row.id)
                .map(|edit| Edit {
                    body: &edit.body,
                    written_at: at(edit.written_at),
                    replaced_at: at(edit.replaced_at),
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
pub(super) struct Note<'a> {
    id: NoteId,
    chat_id: ChatId,
    author_id: UserId,
    body: &'a str,
    /// Shown after this message of the dialog.
    after_seq: i64,
    created_at: Timestamp,
}

impl<'a> From<&'a chat_note::Model> for Note<'a> {
    fn from(row: &'a chat_note::Model) -> Self {
        Self {
            id: row.id,
            chat_id: row.chat_id,
            author_id: row.author_id,
            body: &row.body,
            after_seq: row.after_seq,
            created_at: at(row.created_at),
        }
    }
}

/// A file's description; its bytes are not in the archive.
#[derive(Serialize)]
pub(super) struct File<'a> {
    id: FileId,
    chat_id: ChatId,
    message_id: MessageId,
    author: Author,
    operator_id: Option<UserId>,
    name: &'a str,
    content_type: &'a str,
    kind: FileKind,
    size: i64,
    created_at: Timestamp,
    deleted_at: Option<Timestamp>,
}

impl<'a> From<&'a file::Model> for File<'a> {
    fn from(row: &'a file::Model) -> Self {
        Self {
            id: row.id,
            chat_id: row.chat_id,
            message_id: row.message_id,
            author: row.author,
            operator_id: row.operator_id,
            name: &row.name,
            content_type: &row.content_type,
            kind: row.kind,
            size: row.size,
            created_at: at(row.created_at),
            deleted_at: at_opt(row.deleted_at),
        }
    }
}

#[derive(Serialize)]
pub(super) struct Delivery<'a> {
    chat_id: ChatId,
    visitor_id: VisitorId,
    channel: Channel,
    recipient: Option<&'a str>,
    status: DeliveryStatus,
    reason: Option<&'a str>,
    message_ids: serde_json::Value,
    created_at: Timestamp,
}

impl<'a> From<&'a delivery::Model> for Delivery<'a> {
    fn from(row: &'a delivery::Model) -> Self {
        Self {
            chat_id: row.chat_id,
            visitor_id: row.visitor_id,
            channel: row.channel,
            recipient: row.recipient.as_deref(),
            status: row.status,
            reason: row.reason.as_deref(),
            message_ids: json(&row.message_ids),
            created_at: at(row.created_at),
        }
    }
}
