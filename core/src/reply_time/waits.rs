//! Recording waits, inside the message writes that start and end them.

use sea_orm::ActiveValue::Set;
use sea_orm::ConnectionTrait;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;

use crate::clock::Timestamp;
use crate::entity::{chat, reply_wait};
use crate::error::CoreResult;
use crate::ids::{ChatId, ReplyWaitId, TenantId, UserId};

/// The chat's wait began with this write (`chat` as the write left it). Two messages of the
/// same millisecond start it once.
pub(crate) async fn wait_started(
    db: &impl ConnectionTrait,
    chat: &chat::Model,
    staffed: bool,
) -> CoreResult<()> {
    let Some(started_at) = chat.waiting_since else {
        return Ok(());
    };
    reply_wait::Entity::insert(reply_wait::ActiveModel {
        id: Set(ReplyWaitId::new()),
        tenant_id: Set(chat.tenant_id),
        chat_id: Set(chat.id),
        started_at: Set(started_at),
        staffed: Set(staffed),
        ended_at: Set(None),
        answered_by: Set(None),
    })
    .on_conflict(
        OnConflict::columns([reply_wait::Column::ChatId, reply_wait::Column::StartedAt])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// An operator answered: the chat's running wait (if one runs) ends, answered by them.
pub(crate) async fn wait_answered(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    chat: ChatId,
    operator: UserId,
    now: Timestamp,
) -> CoreResult<()> {
    end(db, tenant, chat, Some(operator), now).await
}

/// The chat closed while its visitor waited: the wait ends unanswered.
pub(crate) async fn wait_dropped(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    chat: ChatId,
    now: Timestamp,
) -> CoreResult<()> {
    end(db, tenant, chat, None, now).await
}

async fn end(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    chat: ChatId,
    answered_by: Option<UserId>,
    now: Timestamp,
) -> CoreResult<()> {
    reply_wait::Entity::update_many()
        .col_expr(reply_wait::Column::EndedAt, Expr::value(now.millis()))
        .col_expr(reply_wait::Column::AnsweredBy, Expr::value(answered_by))
        .filter(reply_wait::Column::ChatId.eq(chat))
        .filter(reply_wait::Column::TenantId.eq(tenant))
        .filter(reply_wait::Column::EndedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}
