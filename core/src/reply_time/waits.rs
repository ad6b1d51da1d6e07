//! Recording waits, inside the message writes that start and end them.

use sea_orm::ConnectionTrait;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{ExprTrait, OnConflict, Query, UpdateStatement};
use sea_orm::{DbBackend, QueryTrait, Statement};

use crate::chat::ChatRead;
use crate::clock::Timestamp;
use crate::entity::{chat, reply_wait};
use crate::error::CoreResult;
use crate::ids::{ChatId, ReplyWaitId, TenantId, UserId};

/// Records the wait of `chat` if this write started it (the chat's wait runs
/// since `now`), as a statement to run after the chat's update in the same transaction. It is
/// staffed if one of the tenant's active operators is online as it starts, asked in the same
/// statement. Two messages of the same millisecond start it once.
pub(crate) fn wait_started(
    backend: DbBackend,
    chat: &ChatRead,
    now: Timestamp,
) -> CoreResult<Statement> {
    let started = chat
        .select()
        .exprs([
            Expr::val(ReplyWaitId::new()),
            chat.column(chat::Column::TenantId),
            chat.column(chat::Column::Id),
            chat.column(chat::Column::WaitingSince),
            Expr::exists(crate::operator::online_operators(chat.tenant)),
        ])
        .and_where(chat.column(chat::Column::WaitingSince).eq(now.millis()))
        .to_owned();
    // The SELECT has a WHERE clause, which SQLite needs to read ON CONFLICT as the upsert's.
    let insert = Query::insert()
        .into_table(reply_wait::Entity)
        .columns([
            reply_wait::Column::Id,
            reply_wait::Column::TenantId,
            reply_wait::Column::ChatId,
            reply_wait::Column::StartedAt,
            reply_wait::Column::Staffed,
        ])
        .select_from(started)
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(
            OnConflict::columns([reply_wait::Column::ChatId, reply_wait::Column::StartedAt])
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    Ok(backend.build(&insert))
}

/// An operator answered: the chat's running wait (if one runs) ends, answered by them. A
/// statement to run after the reply's update of `chat` in the same write, which ends nothing
/// when that update found no chat.
pub(crate) fn wait_answered(
    backend: DbBackend,
    chat: &ChatRead,
    id: ChatId,
    operator: UserId,
    now: Timestamp,
) -> Statement {
    let mut end = end(chat.tenant, id, Some(operator), now);
    let found = chat.select().expr(Expr::val(1)).to_owned();
    backend.build(end.and_where(Expr::exists(found)))
}

/// The chat closed while its visitor waited: the wait ends unanswered.
pub(crate) async fn wait_dropped(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    chat: ChatId,
    now: Timestamp,
) -> CoreResult<()> {
    db.execute(&end(tenant, chat, None, now)).await?;
    Ok(())
}

fn end(
    tenant: TenantId,
    chat: ChatId,
    answered_by: Option<UserId>,
    now: Timestamp,
) -> UpdateStatement {
    reply_wait::Entity::update_many()
        .col_expr(reply_wait::Column::EndedAt, Expr::value(now.millis()))
        .col_expr(reply_wait::Column::AnsweredBy, Expr::value(answered_by))
        .filter(reply_wait::Column::ChatId.eq(chat))
        .filter(reply_wait::Column::TenantId.eq(tenant))
        .filter(reply_wait::Column::EndedAt.is_null())
        .into_query()
}
