//! A tenant's retention of closed dialogs (`retention_days` in its settings): a dialog closed
//! longer ago than that loses its content — texts, files, earlier versions, notes, rating
//! comments, transcripts, alert previews, its mails in the dev mailbox — as an erasure does,
//! leaving the skeleton so that counts stay right. Run by the housekeeping; each dialog is
//! erased once, and again only if it was reopened and closed since.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{Condition, QuerySelect};
use uuid::Uuid;

use crate::chat::ChatState;
use crate::entity::{chat, tenant};
use crate::error::CoreResult;
use crate::ids::{ChatId, TenantId};
use crate::services::WriteTxn;
use crate::tenant::parse_settings;

use super::VisitorService;
use super::erasure::{erase_content, erase_dev_mails};

/// Dialogs erased per transaction, so that a large backlog holds the write lock briefly.
const AT_ONCE: u64 = 100;

/// What one round of retention erased.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Retained {
    pub dialogs: u64,
    /// Mails of the development mailbox that went; their `.eml` files are the caller's.
    pub dev_mails: Vec<Uuid>,
}

impl VisitorService {
    /// Erases every tenant's closed dialogs that are past its retention.
    pub async fn apply_retention(&self) -> CoreResult<Retained> {
        let deps = self.deps();
        let now = deps.clock.now().millis();
        let tenants: Vec<(TenantId, String)> = tenant::Entity::find()
            .select_only()
            .column(tenant::Column::Id)
            .column(tenant::Column::Settings)
            .into_tuple()
            .all(&deps.db)
            .await?;
        let mut done = Retained::default();
        for (tenant, settings) in tenants {
            let days = match parse_settings(&settings) {
                Ok(settings) if settings.retention_days > 0 => settings.retention_days,
                _ => continue,
            };
            let cutoff = now - i64::from(days) * 86_400_000;
            loop {
                let txn = deps.write().await?;
                let chats = expired(&txn, tenant, cutoff).await?;
                if !chats.is_empty() {
                    erase_content(&txn, tenant, &chats, now).await?;
                    done.dev_mails.extend(erase_dev_mails(&txn, &chats).await?);
                    chat::Entity::update_many()
                        .col_expr(chat::Column::ErasedAt, Expr::value(now))
                        .filter(chat::Column::TenantId.eq(tenant))
                        .filter(chat::Column::Id.is_in(chats.iter().copied()))
                        .exec(&txn)
                        .await?;
                }
                txn.commit().await?;
                done.dialogs += chats.len() as u64;
                if (chats.len() as u64) < AT_ONCE {
                    break;
                }
            }
        }
        if done.dialogs > 0 {
            tracing::info!(
                dialogs = done.dialogs,
                "closed dialogs past their retention erased"
            );
            if let Err(e) = crate::file::purge_deleted(deps, None).await {
                tracing::warn!(error = %e, "expired dialogs' files are left to the next round");
            }
        }
        Ok(done)
    }
}

/// The tenant's dialogs closed before `cutoff` whose content is still there.
async fn expired(txn: &WriteTxn, tenant: TenantId, cutoff: i64) -> CoreResult<Vec<ChatId>> {
    Ok(chat::Entity::find()
        .select_only()
        .column(chat::Column::Id)
        .filter(chat::Column::TenantId.eq(tenant))
        .filter(chat::Column::State.eq(ChatState::Closed))
        .filter(chat::Column::ClosedAt.lt(cutoff))
        .filter(
            Condition::any()
                .add(chat::Column::ErasedAt.is_null())
                .add(Expr::col(chat::Column::ErasedAt).lt(Expr::col(chat::Column::ClosedAt))),
        )
        .limit(AT_ONCE)
        .into_tuple()
        .all(txn)
        .await?)
}
