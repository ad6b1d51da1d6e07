//! An operator searches the tenant's dialogs.

use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::entity::prelude::*;

use crate::chat::Chat;
use crate::clock::Timestamp;
use crate::entity::{chat, message, visitor};
use crate::error::CoreResult;
use crate::ids::{ChatId, TenantId};
use crate::operator::OperatorActor;
use crate::services::Deps;

use super::{FoundMessage, MAX_HITS, MessageIndex, SearchHit, SearchQuery, snippet_of};

#[derive(Clone)]
pub struct SearchService {
    deps: Arc<Deps>,
    index: Arc<dyn MessageIndex>,
}

impl SearchService {
    pub(crate) fn new(deps: Arc<Deps>, index: Arc<dyn MessageIndex>) -> Self {
        Self { deps, index }
    }

    /// Dialogs whose visitor's name or address holds every word typed (first, the newest
    /// visitors first), then messages that hold them, newest first: at most `limit` of each.
    pub async fn search(
        &self,
        actor: &OperatorActor,
        raw: &str,
        limit: u64,
    ) -> CoreResult<Vec<SearchHit>> {
        let query = SearchQuery::parse(raw)?;
        if query.words.is_empty() {
            return Ok(Vec::new());
        }
        let limit = limit.clamp(1, MAX_HITS);
        let db = &self.deps.db;
        let visitors = self.index.visitors(db, actor.tenant, &query, limit).await?;
        let messages = self.index.messages(db, actor.tenant, &query, limit).await?;

        // Read back by id, and kept only when the tenant's: the index is a guide, never the
        // authority. (The tenant is checked here, not in the query, so that SQLite looks the
        // rows up by id rather than walking the tenant's million.)
        let found: Vec<_> = message::Entity::find()
            .filter(message::Column::Id.is_in(messages.iter().copied()))
            .all(db)
            .await?
            .into_iter()
            .filter(|m| m.tenant_id == actor.tenant)
            .collect();
        let by_visitor: Vec<_> = chat::Entity::find()
            .filter(chat::Column::VisitorId.is_in(visitors.iter().copied()))
            .all(db)
            .await?
            .into_iter()
            .filter(|c| c.tenant_id == actor.tenant)
            .collect();
        let chat_ids: Vec<ChatId> = found
            .iter()
            .map(|m| m.chat_id)
            .chain(by_visitor.iter().map(|c| c.id))
            .collect();
        let chats = chats_by_id(db, actor.tenant, chat_ids).await?;

        let mut hits = Vec::new();
        let chat_of_visitor: HashMap<_, _> =
            by_visitor.iter().map(|c| (c.visitor_id, c.id)).collect();
        for visitor in &visitors {
            if let Some(chat) = chat_of_visitor.get(visitor).and_then(|id| chats.get(id)) {
                hits.push(SearchHit {
                    chat: chat.clone(),
                    message: None,
                });
            }
        }
        let mut found: HashMap<_, _> = found.into_iter().map(|m| (m.id, m)).collect();
        for id in &messages {
            let Some(row) = found.remove(id) else {
                continue;
            };
            let Some(chat) = chats.get(&row.chat_id) else {
                continue;
            };
            hits.push(SearchHit {
                chat: chat.clone(),
                message: Some(FoundMessage {
                    id: row.id,
                    seq: row.seq,
                    author: row.author,
                    created_at: Timestamp::from_millis(row.created_at),
                    snippet: snippet_of(&row.body, &query.words),
                }),
            });
        }
        Ok(hits)
    }
}

/// The tenant's chats of these ids, with their visitors.
async fn chats_by_id(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    ids: Vec<ChatId>,
) -> CoreResult<HashMap<ChatId, Chat>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = chat::Entity::find()
        .filter(chat::Column::Id.is_in(ids))
        .find_also_related(visitor::Entity)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|(chat, _)| chat.tenant_id == tenant)
        .filter_map(|(chat, visitor)| {
            let visitor = visitor.filter(|v| v.tenant_id == tenant)?;
            Some((chat.id, Chat::from_rows(chat, &visitor)))
        })
        .collect())
}
