//! Erasing one visitor on request — their right to erasure. Everything that says who they are
//! or what was written goes: the texts and files of their dialogs (the operators' replies too,
//! which quote and address them), earlier versions of edited messages, their name, email and
//! what their browser told us, the pages they visited, their connections, tokens and resume
//! links, mail addresses in the delivery log, transcripts, rating comments, alert previews,
//! operators' notes on their chats, pending webhook bodies, and their mails in the dev mailbox.
//! What stays is a skeleton without content — the visitor, chats and messages as rows with
//! their authors and times — so that counts, reply times and ratings stay right.
//!
//! Exports that hold the visitor's data (theirs and the company's) are withdrawn with it.
//!
//! It is one transaction: a visitor is erased wholly or not at all. File bytes are removed from
//! the store after it commits (or listed for the housekeeping when the store does not answer).

use sea_orm::QuerySelect;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use serde::Serialize;
use uuid::Uuid;

use crate::audit::{self, Action, Change, ChangedBy, PlatformActor, Target, TargetKind};
use crate::delivery::WebhookStatus;
use crate::entity::{
    chat, chat_note, chat_rating, delivery, dev_mail, file, message, message_edit, operator_alert,
    outbox, page_view, resume_token, transcript_request, visitor, visitor_connection,
    visitor_token, webhook_call,
};
use crate::error::{CoreError, CoreResult};
use crate::ids::{ChatId, TenantId, VisitorId};
use crate::operator::OperatorActor;
use crate::outbox::OutboxStatus;
use crate::services::WriteTxn;

use super::VisitorService;

/// What an erasure removed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Erasure {
    pub visitor_id: VisitorId,
    /// Messages whose text (and file) is gone; their rows stay, empty.
    pub messages: u64,
    pub files: u64,
    /// Mails in the development mailbox that were the visitor's; their `.eml` files are the
    /// caller's to remove.
    #[serde(skip)]
    pub dev_mails: Vec<Uuid>,
}

impl VisitorService {
    /// A tenant admin erases one of the tenant's visitors.
    pub async fn erase_as_admin(
        &self,
        actor: &OperatorActor,
        visitor: VisitorId,
    ) -> CoreResult<Erasure> {
        actor.require_admin()?;
        self.erase(actor.into(), actor.tenant, visitor).await
    }

    /// The platform erases a visitor of any tenant (a request that reached the host).
    pub async fn erase_as_platform(
        &self,
        by: &PlatformActor,
        tenant: TenantId,
        visitor: VisitorId,
    ) -> CoreResult<Erasure> {
        self.erase(by.into(), tenant, visitor).await
    }

    async fn erase(
        &self,
        by: ChangedBy<'_>,
        tenant: TenantId,
        id: VisitorId,
    ) -> CoreResult<Erasure> {
        let deps = self.deps();
        let now = deps.clock.now();
        let txn = deps.write().await?;
        visitor::Entity::find_by_id(id)
            .filter(visitor::Column::TenantId.eq(tenant))
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("visitor"))?;
        let chats: Vec<ChatId> = chat::Entity::find()
            .select_only()
            .column(chat::Column::Id)
            .filter(chat::Column::TenantId.eq(tenant))
            .filter(chat::Column::VisitorId.eq(id))
            .into_tuple()
            .all(&txn)
            .await?;
        let (messages, files) = erase_content(&txn, tenant, &chats, now.millis()).await?;
        erase_traces(&txn, tenant, id, &chats).await?;
        erase_identity(&txn, tenant, id).await?;
        let dev_mails = erase_dev_mails(&txn, &chats).await?;
        crate::export::withdraw_for_erasure(&txn, tenant, id, now).await?;
        let target = Target::new(TargetKind::Visitor, id, "visitor (erased)");
        let change = Change::between_values(
            serde_json::json!({ "messages_erased": 0, "files_erased": 0 }),
            serde_json::json!({ "messages_erased": messages, "files_erased": files }),
        );
        audit::record(
            &txn,
            now,
            by,
            Some(tenant),
            Action::VisitorErased,
            target,
            change,
        )
        .await?;
        txn.commit().await?;
        if files > 0
            && let Err(e) = crate::file::purge_deleted(deps, None).await
        {
            tracing::warn!(error = %e, "an erased visitor's files are left to the housekeeping");
        }
        tracing::info!(%tenant, visitor = %id, messages, files, "visitor erased");
        Ok(Erasure {
            visitor_id: id,
            messages,
            files,
            dev_mails,
        })
    }
}

/// Empties every message of the chats (and forgets their earlier versions); returns how many.
async fn erase_dialogs(
    txn: &WriteTxn,
    tenant: TenantId,
    chats: &[ChatId],
    now: i64,
) -> CoreResult<u64> {
    let in_chats = || message::Column::ChatId.is_in(chats.iter().copied());
    let ids: Vec<crate::ids::MessageId> = message::Entity::find()
        .select_only()
        .column(message::Column::Id)
        .filter(message::Column::TenantId.eq(tenant))
        .filter(in_chats())
        .into_tuple()
        .all(txn)
        .await?;
    for chunk in ids.chunks(500) {
        message_edit::Entity::delete_many()
            .filter(message_edit::Column::TenantId.eq(tenant))
            .filter(message_edit::Column::MessageId.is_in(chunk.iter().copied()))
            .exec(txn)
            .await?;
    }
    message::Entity::update_many()
        .col_expr(message::Column::Body, Expr::value(""))
        .col_expr(message::Column::Attachment, Expr::value(None::<String>))
        .col_expr(message::Column::Quoted, Expr::value(None::<String>))
        .col_expr(message::Column::MailFrom, Expr::value(None::<String>))
        .col_expr(message::Column::DeletedAt, Expr::value(now))
        .filter(message::Column::TenantId.eq(tenant))
        .filter(in_chats())
        .exec(txn)
        .await?;
    let in_these = || chat::Column::Id.is_in(chats.iter().copied());
    chat::Entity::update_many()
        .col_expr(chat::Column::Preview, Expr::value(None::<String>))
        .col_expr(chat::Column::RatingComment, Expr::value(None::<String>))
        .filter(chat::Column::TenantId.eq(tenant))
        .filter(in_these())
        .exec(txn)
        .await?;
    chat_note::Entity::update_many()
        .col_expr(chat_note::Column::Body, Expr::value(""))
        .filter(chat_note::Column::TenantId.eq(tenant))
        .filter(chat_note::Column::ChatId.is_in(chats.iter().copied()))
        .exec(txn)
        .await?;
    Ok(ids.len() as u64)
}

/// What else the visitor left: the delivery log's addresses, notifications and webhook posts
/// not yet sent, and their bodies.
async fn erase_traces(
    txn: &WriteTxn,
    tenant: TenantId,
    id: VisitorId,
    chats: &[ChatId],
) -> CoreResult<()> {
    delivery::Entity::update_many()
        .col_expr(delivery::Column::Recipient, Expr::value(None::<String>))
        .col_expr(delivery::Column::Reason, Expr::value(None::<String>))
        .filter(delivery::Column::TenantId.eq(tenant))
        .filter(delivery::Column::VisitorId.eq(id))
        .exec(txn)
        .await?;
    outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Skipped))
        .col_expr(
            outbox::Column::LastError,
            Expr::value("the visitor was erased"),
        )
        .filter(outbox::Column::TenantId.eq(tenant))
        .filter(outbox::Column::ChatId.is_in(chats.iter().copied()))
        .filter(outbox::Column::Status.is_in([OutboxStatus::Pending, OutboxStatus::Sending]))
        .exec(txn)
        .await?;
    webhook_call::Entity::update_many()
        .col_expr(
            webhook_call::Column::Status,
            Expr::value(WebhookStatus::Failed),
        )
        .col_expr(
            webhook_call::Column::LastError,
            Expr::value("the visitor was erased"),
        )
        .filter(webhook_call::Column::TenantId.eq(tenant))
        .filter(webhook_call::Column::VisitorId.eq(id))
        .filter(
            webhook_call::Column::Status.is_in([WebhookStatus::Pending, WebhookStatus::Sending]),
        )
        .exec(txn)
        .await?;
    webhook_call::Entity::update_many()
        .col_expr(webhook_call::Column::Body, Expr::value("{}"))
        .filter(webhook_call::Column::TenantId.eq(tenant))
        .filter(webhook_call::Column::VisitorId.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Who they were and how they were reached: gone, and no way back in (tokens, resume links).
async fn erase_identity(txn: &WriteTxn, tenant: TenantId, id: VisitorId) -> CoreResult<()> {
    page_view::Entity::delete_many()
        .filter(page_view::Column::TenantId.eq(tenant))
        .filter(page_view::Column::VisitorId.eq(id))
        .exec(txn)
        .await?;
    visitor_connection::Entity::delete_many()
        .filter(visitor_connection::Column::TenantId.eq(tenant))
        .filter(visitor_connection::Column::VisitorId.eq(id))
        .exec(txn)
        .await?;
    visitor_token::Entity::delete_many()
        .filter(visitor_token::Column::TenantId.eq(tenant))
        .filter(visitor_token::Column::VisitorId.eq(id))
        .exec(txn)
        .await?;
    resume_token::Entity::delete_many()
        .filter(resume_token::Column::TenantId.eq(tenant))
        .filter(resume_token::Column::VisitorId.eq(id))
        .exec(txn)
        .await?;
    let none = || Expr::value(None::<String>);
    visitor::Entity::update_many()
        .col_expr(visitor::Column::Name, none())
        .col_expr(visitor::Column::Email, none())
        .col_expr(visitor::Column::EmailConfirmed, none())
        .col_expr(visitor::Column::Locale, none())
        .col_expr(visitor::Column::Referrer, none())
        .col_expr(visitor::Column::UserAgent, none())
        .col_expr(visitor::Column::TimeZone, none())
        .col_expr(visitor::Column::Online, Expr::value(false))
        .col_expr(visitor::Column::EmailsStopped, Expr::value(true))
        .filter(visitor::Column::TenantId.eq(tenant))
        .filter(visitor::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// The development mailbox's mails of these dialogs (unread replies and transcripts name their
/// chat in their thread headers: `chat-<id>@`, `transcript-<id>@`); returns their ids.
pub(crate) async fn erase_dev_mails(txn: &WriteTxn, chats: &[ChatId]) -> CoreResult<Vec<Uuid>> {
    let mut ids = Vec::new();
    for chat in chats {
        let found: Vec<Uuid> = dev_mail::Entity::find()
            .select_only()
            .column(dev_mail::Column::Id)
            .filter(dev_mail::Column::Eml.contains(format!("-{chat}@")))
            .into_tuple()
            .all(txn)
            .await?;
        if !found.is_empty() {
            dev_mail::Entity::delete_many()
                .filter(dev_mail::Column::Id.is_in(found.iter().copied()))
                .exec(txn)
                .await?;
        }
        ids.extend(found);
    }
    Ok(ids)
}

/// The dialogs' texts and files and what else holds their content (rating comments,
/// transcripts, alert previews): for an erasure and for the retention. Returns how many
/// messages and files.
pub(super) async fn erase_content(
    txn: &WriteTxn,
    tenant: TenantId,
    chats: &[ChatId],
    now: i64,
) -> CoreResult<(u64, u64)> {
    let messages = erase_dialogs(txn, tenant, chats, now).await?;
    let in_chats = || chats.iter().copied();
    let files = file::Entity::update_many()
        .col_expr(file::Column::DeletedAt, Expr::value(now))
        .filter(file::Column::TenantId.eq(tenant))
        .filter(file::Column::ChatId.is_in(in_chats()))
        .filter(file::Column::DeletedAt.is_null())
        .exec(txn)
        .await?
        .rows_affected;
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
    Ok((messages, files))
}
