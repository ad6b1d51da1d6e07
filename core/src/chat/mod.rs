//! Chats: one dialog per visitor, its category in the operator workspace, and what operators do
//! with it (list, read, assign, close).

mod service;
mod state;

use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Alias, Query, SelectStatement};
use serde::{Deserialize, Serialize};

use crate::automation::Priority;
use crate::clock::Timestamp;
use crate::entity::{chat, visitor};
use crate::error::{CoreError, CoreResult};
use crate::ids::{ChatId, TenantId, UserId, VisitorId};
use crate::message::{Author, Message};
use crate::note::Note;
use crate::rating::ChatRating;
use crate::storage::{UPDATED, UpdatedRow, WriteTxn};
use crate::visitor::VisitorContext;

pub use service::{ChatFilter, ChatService};

pub(crate) use service::{dialog_messages, may_handle as may_handle_chat};
pub use state::{Category, ChatState, ChatStatus, Refused};

/// A chat as the API shows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chat {
    pub id: ChatId,
    pub visitor: ChatVisitor,
    pub state: ChatState,
    pub category: Category,
    pub visitor_online: bool,
    pub operator_id: Option<UserId>,
    pub unanswered: bool,
    pub created_at: Timestamp,
    pub last_message_at: Timestamp,
    /// Labels the tenant's plugins gave the chat.
    #[serde(default)]
    pub tags: Vec<String>,
    /// How urgent the tenant's plugins judged it.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// The newest message, for lists.
    #[serde(default)]
    pub last_message: Option<LastMessage>,
    /// How many of the visitor's messages no operator has read.
    #[serde(default)]
    pub unread: u32,
    /// When an operator closed it; none while it is open.
    #[serde(default)]
    pub closed_at: Option<Timestamp>,
    /// The visitor's newest rating; it rates this close when its `closed_at` is the chat's.
    #[serde(default)]
    pub rating: Option<ChatRating>,
}

/// A chat as its visitor is shown it: theirs, without what the tenant keeps for itself
/// (tags, priority, assignment, unread counts).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorChat {
    pub id: ChatId,
    pub visitor: ChatVisitor,
    pub state: ChatState,
    /// Follows from the visitor's presence and whether they were answered.
    pub category: Category,
    pub created_at: Timestamp,
    pub last_message_at: Timestamp,
    /// When an operator closed it (none while open): the widget then offers a rating, unless
    /// `rating` is of this close.
    #[serde(default)]
    pub closed_at: Option<Timestamp>,
    #[serde(default)]
    pub rating: Option<ChatRating>,
}

impl From<&Chat> for VisitorChat {
    fn from(chat: &Chat) -> Self {
        Self {
            id: chat.id,
            visitor: chat.visitor.clone(),
            state: chat.state,
            category: chat.category,
            created_at: chat.created_at,
            last_message_at: chat.last_message_at,
            closed_at: chat.closed_at,
            rating: chat.rating.clone(),
        }
    }
}

/// A dialog's newest message as lists show it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastMessage {
    /// Its number in the dialog: an edit of it changes the preview.
    pub seq: i64,
    pub author: Author,
    /// Cut to [`PREVIEW_CHARS`] characters, with an ellipsis when it was longer.
    pub preview: String,
}

/// Characters of a dialog's newest message kept for lists.
pub const PREVIEW_CHARS: usize = 160;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatVisitor {
    pub id: VisitorId,
    pub name: Option<String>,
    pub email: Option<String>,
}

impl Chat {
    pub(crate) fn from_rows(chat: chat::Model, visitor: &visitor::Model) -> Self {
        let rating = ChatRating::of(&chat);
        Self {
            id: chat.id,
            visitor: ChatVisitor {
                id: visitor.id,
                name: visitor.name.clone(),
                email: visitor.email.clone(),
            },
            state: chat.state,
            category: chat.category,
            visitor_online: chat.visitor_online,
            operator_id: chat.operator_id,
            unanswered: chat.unanswered,
            created_at: Timestamp::from_millis(chat.created_at),
            last_message_at: Timestamp::from_millis(chat.last_message_at),
            tags: serde_json::from_str(&chat.tags).unwrap_or_default(),
            priority: chat.priority,
            last_message: chat
                .preview
                .zip(chat.preview_author)
                .map(|(preview, author)| LastMessage {
                    seq: chat.last_seq,
                    author,
                    preview,
                }),
            unread: u32::try_from(chat.unread).unwrap_or(0),
            closed_at: chat.closed_at.map(Timestamp::from_millis),
            rating,
        }
    }
}

/// A chat with a page of its dialog (the newest messages unless asked for older), in order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Dialog {
    pub chat: Chat,
    pub messages: Vec<Message>,
    /// Operators' internal notes among these messages, oldest first (each after the message
    /// numbered its `after_seq`).
    pub notes: Vec<Note>,
    /// The visitor as the operators see them beside the dialog: pages, browser, local time.
    pub context: Option<VisitorContext>,
    /// Older messages remain: ask again with `before` = the first message's `seq`.
    pub has_more: bool,
}

/// Which part of a dialog to read: the newest `limit` messages, or those before the message
/// numbered `before`. A long dialog comes in pages instead of megabytes at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub before: Option<i64>,
    pub limit: u64,
}

/// Messages in a page unless asked for fewer; at most [`MAX_PAGE`].
pub const DEFAULT_PAGE: u64 = 200;
pub const MAX_PAGE: u64 = 500;
/// Chats in a list, at most (and unless asked for fewer).
pub const MAX_LIST: u64 = 500;

impl Default for Page {
    fn default() -> Self {
        Self {
            before: None,
            limit: DEFAULT_PAGE,
        }
    }
}

/// Which chat a write means: one it found, or the visitor's one chat (none if they never
/// wrote), always within the tenant.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ChatOf {
    Id(ChatId),
    Visitor(VisitorId),
}

impl ChatOf {
    /// The condition that picks the chat's row.
    pub(crate) fn condition(self, tenant: TenantId) -> sea_orm::Condition {
        let which = match self {
            ChatOf::Id(id) => chat::Column::Id.eq(id),
            ChatOf::Visitor(visitor) => chat::Column::VisitorId.eq(visitor),
        };
        sea_orm::Condition::all()
            .add(which)
            .add(chat::Column::TenantId.eq(tenant))
    }
}

/// The chat a write appends to, for the statements that read it after the write's update of it
/// (see `Storage::write_updating`): the row `which` picks while `still` holds of it — a plain
/// write's guard — read where the update left it. Read in its table ([`UpdatedRow::InTable`]),
/// the guard tests only columns the update leaves as they are (the statements after the update
/// test it again); read as the update returned it, only the update tests it.
#[derive(Clone, Debug)]
pub(crate) struct ChatRead {
    pub tenant: TenantId,
    pub which: ChatOf,
    pub still: sea_orm::Condition,
    pub read: UpdatedRow,
}

impl ChatRead {
    /// The chat `which` picks, whatever its state, in its table.
    pub(crate) fn any(tenant: TenantId, which: ChatOf) -> Self {
        Self {
            tenant,
            which,
            still: sea_orm::Condition::all(),
            read: UpdatedRow::InTable,
        }
    }

    /// The condition that picks the row in its table.
    pub(crate) fn condition(&self) -> sea_orm::Condition {
        self.which.condition(self.tenant).add(self.still.clone())
    }

    /// A SELECT from the row: nothing when the update found none.
    pub(crate) fn select(&self) -> SelectStatement {
        match self.read {
            UpdatedRow::InTable => Query::select()
                .from(chat::Entity)
                .cond_where(self.condition())
                .to_owned(),
            UpdatedRow::Returned => Query::select().from(Alias::new(UPDATED)).to_owned(),
        }
    }

    /// One of the row's columns, in [`Self::select`].
    pub(crate) fn column(&self, column: chat::Column) -> Expr {
        match self.read {
            UpdatedRow::InTable => Expr::col((chat::Entity, column)),
            UpdatedRow::Returned => Expr::col((Alias::new(UPDATED), column)),
        }
    }
}

/// A chat of the tenant, with its visitor; "not found" for anyone else's.
pub(crate) async fn chat_with_visitor(
    db: &impl sea_orm::ConnectionTrait,
    tenant: TenantId,
    id: ChatId,
) -> CoreResult<(chat::Model, visitor::Model)> {
    chat::Entity::find_by_id(id)
        .filter(chat::Column::TenantId.eq(tenant))
        .find_also_related(visitor::Entity)
        .one(db)
        .await?
        .and_then(|(chat, visitor)| visitor.map(|v| (chat, v)))
        .ok_or(CoreError::NotFound("chat"))
}

/// The visitor's one chat row, if they ever wrote.
pub(crate) async fn chat_row_of_visitor(
    db: &impl sea_orm::ConnectionTrait,
    tenant: TenantId,
    visitor_id: VisitorId,
) -> CoreResult<Option<chat::Model>> {
    Ok(chat::Entity::find()
        .filter(ChatOf::Visitor(visitor_id).condition(tenant))
        .one(db)
        .await?)
}

/// The visitor's one chat with the visitor, if they ever wrote.
pub(crate) async fn chat_of_visitor(
    db: &impl sea_orm::ConnectionTrait,
    tenant: TenantId,
    visitor_id: VisitorId,
) -> CoreResult<Option<(chat::Model, visitor::Model)>> {
    let found = chat::Entity::find()
        .filter(ChatOf::Visitor(visitor_id).condition(tenant))
        .find_also_related(visitor::Entity)
        .one(db)
        .await?;
    Ok(found.and_then(|(chat, visitor)| visitor.map(|v| (chat, v))))
}

/// Writes a chat's new status (and the category that follows from it) if it changed.
/// Returns the row as it now is, and whether anything changed.
pub(crate) async fn store_status(
    db: &WriteTxn,
    row: chat::Model,
    next: ChatStatus,
    now: Timestamp,
) -> CoreResult<(chat::Model, bool)> {
    if row.status() == next {
        return Ok((row, false));
    }
    let closed_at = match (row.state, next.state) {
        (ChatState::Open, ChatState::Closed) => Some(now.millis()),
        (_, ChatState::Open) => None,
        (ChatState::Closed, ChatState::Closed) => row.closed_at,
    };
    // A close ends the visitor's wait: written to again, the chat starts a new one.
    let closing = row.state == ChatState::Open && next.state == ChatState::Closed;
    let (waiting_since, wait_alert_at) = match closing {
        true => (None, None),
        false => (row.waiting_since, row.wait_alert_at),
    };
    let mut change = chat::ActiveModel {
        id: Set(row.id),
        state: Set(next.state),
        category: Set(next.category()),
        operator_id: Set(next.operator),
        visitor_online: Set(next.visitor_online),
        closed_at: Set(closed_at),
        ..Default::default()
    };
    if closing {
        change.waiting_since = Set(None);
        change.wait_alert_at = Set(None);
        if row.waiting_since.is_some() {
            crate::reply_time::wait_dropped(db, row.tenant_id, row.id, now).await?;
        }
    }
    chat::Entity::update_many()
        .set(change)
        .filter(chat::Column::Id.eq(row.id))
        .filter(chat::Column::TenantId.eq(row.tenant_id))
        .exec(db)
        .await?;
    let updated = chat::Model {
        state: next.state,
        category: next.category(),
        operator_id: next.operator,
        visitor_online: next.visitor_online,
        closed_at,
        waiting_since,
        wait_alert_at,
        ..row
    };
    Ok((updated, true))
}
