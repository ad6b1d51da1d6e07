//! What operators do with chats: list them by category, open one, assign, release and close.

use std::sync::Arc;

use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};

use crate::automation::{ClosedFacts, DialogContext, within_wait};
use crate::clock::Timestamp;
use crate::delivery::{NewWebhook, lock_chat, store_webhooks};
use crate::entity::{chat, message, user, visitor};
use crate::error::{CoreError, CoreResult};
use crate::events::DomainEvent;
use crate::ids::{ChatId, MessageId, TenantId, UserId};
use crate::message::Message;
use crate::note::notes_of_page;
use crate::operator::OperatorActor;
use crate::operator::publish_availability;
use crate::services::Deps;
use crate::visitor::context_of;

use super::{
    Category, Chat, Dialog, MAX_LIST, MAX_PAGE, Page, Refused, chat_with_visitor, store_status,
};

/// Which chats to list.
#[derive(Clone, Copy, Debug, Default)]
pub struct ChatFilter {
    pub category: Option<Category>,
    /// Only chats assigned to the asking operator.
    pub mine: bool,
    /// At most this many, most recently active first (default and maximum 500).
    pub limit: Option<u64>,
}

#[derive(Clone)]
pub struct ChatService {
    deps: Arc<Deps>,
}

impl ChatService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    pub async fn list(&self, actor: &OperatorActor, filter: ChatFilter) -> CoreResult<Vec<Chat>> {
        let mut query = chat::Entity::find().filter(chat::Column::TenantId.eq(actor.tenant));
        if let Some(category) = filter.category {
            query = query.filter(chat::Column::Category.eq(category));
        }
        if filter.mine {
            query = query.filter(chat::Column::OperatorId.eq(actor.user));
        }
        let rows = query
            .find_also_related(visitor::Entity)
            .order_by_desc(chat::Column::LastMessageAt)
            .limit(filter.limit.unwrap_or(MAX_LIST).min(MAX_LIST))
            .all(&self.deps.db)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(chat, visitor)| visitor.map(|v| Chat::from_rows(chat, &v)))
            .collect())
    }

    /// One chat with its whole dialog.
    /// The chat and its newest messages (see [`Page`]).
    pub async fn get(&self, actor: &OperatorActor, id: ChatId) -> CoreResult<Dialog> {
        self.get_page(actor, id, Page::default()).await
    }

    /// The chat and one page of its dialog.
    pub async fn get_page(
        &self,
        actor: &OperatorActor,
        id: ChatId,
        page: Page,
    ) -> CoreResult<Dialog> {
        let chat = self.summary(actor, id).await?;
        let (messages, has_more) = dialog_messages(&self.deps.db, id, page).await?;
        let first_seq = messages.first().map(|m| m.seq);
        let notes = notes_of_page(&self.deps.db, id, page, first_seq, !has_more).await?;
        // An older page is read for its messages: the context is the first page's.
        let context = match page.before {
            None => context_of(&self.deps.db, actor.tenant, chat.visitor.id).await?,
            Some(_) => None,
        };
        Ok(Dialog {
            chat,
            messages,
            notes,
            context,
            has_more,
        })
    }

    /// Assigns the chat to `to`, or to the asking operator when `to` is `None`. An operator may
    /// take or hand on a chat that is unassigned or theirs; an admin may assign any chat.
    pub async fn assign(
        &self,
        actor: &OperatorActor,
        id: ChatId,
        to: Option<UserId>,
    ) -> CoreResult<Chat> {
        let target = to.unwrap_or(actor.user);
        let assignee = user::Entity::find_by_id(target)
            .filter(user::Column::TenantId.eq(actor.tenant))
            .filter(user::Column::Active.eq(true))
            .one(&self.deps.db)
            .await?;
        if assignee.is_none() {
            return Err(CoreError::NotFound("operator"));
        }
        self.change(actor, id, |row| {
            may_handle(actor, row.operator_id)?;
            row.status().assigned(Some(target)).map_err(refused)
        })
        .await
    }

    /// Returns the chat to the queue.
    pub async fn release(&self, actor: &OperatorActor, id: ChatId) -> CoreResult<Chat> {
        self.change(actor, id, |row| {
            may_handle(actor, row.operator_id)?;
            row.status().assigned(None).map_err(refused)
        })
        .await
    }

    /// Closes the chat; it reopens when the visitor writes again. Then the tenant's plugins
    /// may post a summary to the team's tools.
    pub async fn close(&self, actor: &OperatorActor, id: ChatId) -> CoreResult<Chat> {
        let (chat, changed) = self
            .change_noting(actor, id, |row| {
                may_handle(actor, row.operator_id)?;
                Ok(row.status().closed())
            })
            .await?;
        // Only the close that changed the chat (of two at once, one) tells the plugins.
        if changed && let Err(e) = self.after_close(actor, id).await {
            // The close stands; only the plugins' part of it is lost.
            tracing::warn!(tenant = %actor.tenant, chat = %id, error = %e, "a close's automation was not applied");
        }
        Ok(chat)
    }

    /// Asks the tenant's plugins what to post about a chat just closed, stores the posts (each
    /// signed, retried and logged like unread-reply webhooks) and queues them.
    async fn after_close(&self, actor: &OperatorActor, id: ChatId) -> CoreResult<()> {
        let now = self.deps.clock.now();
        let (row, visitor) = chat_with_visitor(&self.deps.db, actor.tenant, id).await?;
        let ctx = DialogContext::load(&self.deps.db, actor.tenant, id, &visitor, now).await?;
        let closed_by = user::Entity::find_by_id(actor.user)
            .one(&self.deps.db)
            .await?
            .map_or_else(|| "An operator".to_owned(), |u| u.name);
        let facts = ClosedFacts {
            closed_by,
            messages: u32::try_from(row.last_seq).unwrap_or(u32::MAX),
            opened_at: Timestamp::from_millis(row.created_at),
            closed_at: now,
        };
        let asked = self.deps.automation.chat_closed(&ctx, &facts);
        let Some(decided) = within_wait("chat_closed", actor.tenant, asked).await else {
            return Ok(());
        };
        let last = message::Entity::find()
            .select_only()
            .column(message::Column::Id)
            .filter(message::Column::ChatId.eq(id))
            .filter(message::Column::Seq.eq(row.last_seq))
            .into_tuple::<MessageId>()
            .one(&self.deps.db)
            .await?;
        let posts: Vec<NewWebhook> = decided
            .answer
            .into_iter()
            .map(|w| NewWebhook {
                url: w.url,
                body: w.body,
                plugin: Some(decided.plugin),
            })
            .collect();
        let txn = self.deps.write().await?;
        let owner = (actor.tenant, id, visitor.id);
        // Not the unread-reply posts of the same last message: a close of its own (the close
        // that changed the chat asks once; its time tells it from a later close).
        let occasion = format!("closed at {}", row.closed_at.unwrap_or(now.millis()));
        let messages = Vec::from_iter(last);
        let stored = store_webhooks(&txn, owner, &messages, &posts, Some(&occasion), now).await?;
        txn.commit().await?;
        for webhook in stored {
            if let Err(e) = self.deps.scheduler.schedule_webhook(webhook).await {
                tracing::warn!(%webhook, error = %e, "a close's webhook is left to the sweep");
            }
        }
        Ok(())
    }

    async fn change(
        &self,
        actor: &OperatorActor,
        id: ChatId,
        decide: impl FnOnce(&chat::Model) -> CoreResult<super::ChatStatus>,
    ) -> CoreResult<Chat> {
        Ok(self.change_noting(actor, id, decide).await?.0)
    }

    /// As [`Self::change`], with whether the chat changed (decided on the locked row).
    async fn change_noting(
        &self,
        actor: &OperatorActor,
        id: ChatId,
        decide: impl FnOnce(&chat::Model) -> CoreResult<super::ChatStatus>,
    ) -> CoreResult<(Chat, bool)> {
        let now = self.deps.clock.now();
        let txn = self.deps.write().await?;
        // Locked, so that of two changes at once the second sees the first (one close).
        lock_chat(&txn, actor.tenant, id).await?;
        let (row, visitor) = chat_with_visitor(&txn, actor.tenant, id).await?;
        let next = decide(&row)?;
        let (row, changed) = store_status(&txn, row, next, now).await?;
        txn.commit().await?;
        let chat = Chat::from_rows(row, &visitor);
        if changed {
            self.deps.publish(DomainEvent::ChatUpdated {
                tenant: actor.tenant,
                chat: chat.clone(),
            });
            publish_availability(&self.deps, actor.tenant).await?;
        }
        Ok((chat, changed))
    }

    /// One chat of the tenant, without its messages.
    pub async fn summary(&self, actor: &OperatorActor, id: ChatId) -> CoreResult<Chat> {
        let (row, visitor) = chat_with_visitor(&self.deps.db, actor.tenant, id).await?;
        Ok(Chat::from_rows(row, &visitor))
    }
}

/// Every message of a chat, in order. Callers have already checked the chat's tenant.
/// One page of a dialog, oldest first, and whether older messages remain.
pub(crate) async fn dialog_messages(
    db: &impl sea_orm::ConnectionTrait,
    chat: ChatId,
    page: Page,
) -> CoreResult<(Vec<Message>, bool)> {
    let limit = page.limit.clamp(1, MAX_PAGE);
    let mut query = message::Entity::find().filter(message::Column::ChatId.eq(chat));
    if let Some(before) = page.before {
        query = query.filter(message::Column::Seq.lt(before));
    }
    // One more than asked tells whether there is more.
    let mut rows = query
        .order_by_desc(message::Column::Seq)
        .limit(limit + 1)
        .all(db)
        .await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    rows.reverse();
    Ok((rows.into_iter().map(Message::from).collect(), has_more))
}

/// An operator may act on a chat that is unassigned or theirs; an admin on any.
pub(crate) fn may_handle(actor: &OperatorActor, assigned: Option<UserId>) -> CoreResult<()> {
    match assigned {
        Some(other) if other != actor.user && !actor.is_admin() => Err(CoreError::NotAllowed(
            "this chat is assigned to another operator",
        )),
        _ => Ok(()),
    }
}

fn refused(reason: Refused) -> CoreError {
    match reason {
        Refused::ChatClosed => CoreError::Conflict("the chat is closed".into()),
    }
}

impl ChatService {
    /// One chat as events show it, for a node that was told of a change by id only (the bus
    /// between nodes keeps its payloads small). `None` when it is gone.
    pub async fn for_event(&self, tenant: TenantId, id: ChatId) -> CoreResult<Option<Chat>> {
        match chat_with_visitor(&self.deps.db, tenant, id).await {
            Ok((row, visitor)) => Ok(Some(Chat::from_rows(row, &visitor))),
            Err(CoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
