//! Writing and reading internal notes.

use std::sync::Arc;

use sea_orm::QueryOrder;
use sea_orm::entity::prelude::*;

use crate::chat::Page;
use crate::entity::{chat, chat_note};
use crate::error::{CoreError, CoreResult};
use crate::events::DomainEvent;
use crate::ids::{ChatId, NoteId, TenantId};
use crate::message::{Author, MessageBody};
use crate::operator::OperatorActor;
use crate::services::Deps;

use super::Note;

#[derive(Clone)]
pub struct NoteService {
    deps: Arc<Deps>,
}

impl NoteService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    /// An operator's note in the chat, after its newest message. Any operator of the tenant
    /// may write one, in a chat assigned to a colleague too: notes are how they hand over.
    /// Notes count towards the tenant's messages a minute, as operators' replies do.
    pub async fn add(
        &self,
        actor: &OperatorActor,
        chat_id: ChatId,
        body: &str,
    ) -> CoreResult<Note> {
        let body = MessageBody::parse(body, self.deps.limits.max_message_chars)?;
        let of_tenant =
            || chat::Entity::find_by_id(chat_id).filter(chat::Column::TenantId.eq(actor.tenant));
        // Another tenant's chat, or none, costs nothing.
        if of_tenant().one(&self.deps.db).await?.is_none() {
            return Err(CoreError::NotFound("chat"));
        }
        self.deps
            .quotas
            .charge(&self.deps.db, actor.tenant, Author::Operator)
            .await?;
        let now = self.deps.clock.now();
        let txn = self.deps.write().await?;
        let chat = of_tenant()
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("chat"))?;
        let row = chat_note::Model {
            id: NoteId::new(),
            tenant_id: actor.tenant,
            chat_id: chat.id,
            author_id: actor.user,
            body: body.into_string(),
            after_seq: chat.last_seq,
            created_at: now.millis(),
        };
        chat_note::Entity::insert(chat_note::ActiveModel::from(row.clone()))
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
        let note = Note::from(row);
        self.deps.publish(DomainEvent::NoteAdded {
            tenant: actor.tenant,
            note: note.clone(),
        });
        Ok(note)
    }

    /// One note as events show it, for a node told of it by id; `None` when it is gone.
    pub async fn for_event(&self, tenant: TenantId, id: NoteId) -> CoreResult<Option<Note>> {
        Ok(chat_note::Entity::find_by_id(id)
            .filter(chat_note::Column::TenantId.eq(tenant))
            .one(&self.deps.db)
            .await?
            .map(Note::from))
    }
}

/// The notes that belong among a page of a dialog whose first message is `first_seq`: those
/// written after it (and before `page.before`), or every earlier one too when the page is the
/// dialog's oldest. Callers have already checked the chat's tenant.
pub(crate) async fn notes_of_page(
    db: &impl ConnectionTrait,
    chat: ChatId,
    page: Page,
    first_seq: Option<i64>,
    oldest: bool,
) -> CoreResult<Vec<Note>> {
    let mut query = chat_note::Entity::find().filter(chat_note::Column::ChatId.eq(chat));
    if let Some(before) = page.before {
        query = query.filter(chat_note::Column::AfterSeq.lt(before));
    }
    if let (Some(first), false) = (first_seq, oldest) {
        query = query.filter(chat_note::Column::AfterSeq.gte(first));
    }
    // Notes are bounded as messages are (the tenant's quota): a page carries all of its own, or
    // the ones left out would never be asked for.
    let rows = query
        .order_by_asc(chat_note::Column::AfterSeq)
        .order_by_asc(chat_note::Column::CreatedAt)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(Note::from).collect())
}
