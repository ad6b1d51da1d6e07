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
use crate::entity::{chat, chat_rating, file, operator_alert, tenant, transcript_request};
use crate::error::CoreResult;
use crate::ids::{ChatId, TenantId};
use crate::services::WriteTxn;
use crate::tenant::parse_settings;

use super::VisitorService;
use super::erasure::{erase_dev_mails, erase_dialogs};

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

/// The dialogs' texts and files and what else holds their content.
async fn erase_content(
    txn: &WriteTxn,
    tenant: TenantId,
    chats: &[ChatId],
    now: i64,
) -> CoreResult<()> {
    erase_dialogs(txn, tenant, chats, now).await?;
    let in_chats = || chats.iter().copied();
    file::Entity::update_many()
        .col_expr(file::Column::DeletedAt, Expr::value(now))
        .filter(file::Column::TenantId.eq(tenant))
        .filter(file::Column::ChatId.is_in(in_chats()))
        .filter(file::Column::DeletedAt.is_null())
        .exec(txn)
        .await?;
    chat_rating::Entity::update_many()
        .col_expr(chat_rating::Column::Comment, Expr::value(None::<String>))
        .filter(chat_rating::Column::TenantId.eq(tenant))
        .filter(chat_rating::Column::ChatId.is_in(in_chats()))
        .exec(txn)
        .await?;
    transcript_request::Entity::delete_many()
        .filter(transcript_request::Column::TenantId.eq(tenant))
        .filter(transcript_request::Column::ChatId.is_in(in_chats()))
        .exec(txn)
        .await?;
    operator_alert::Entity::update_many()
        .col_expr(operator_alert::Column::Preview, Expr::value(""))
        .col_expr(operator_alert::Column::Note, Expr::value(None::<String>))
        .filter(operator_alert::Column::TenantId.eq(tenant))
        .filter(operator_alert::Column::ChatId.is_in(in_chats()))
        .exec(txn)
        .await?;
    Ok(())
}
