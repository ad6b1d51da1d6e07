//! The end of a conversation: when an operator closes the chat, its visitor may rate it — good
//! or bad, with a comment if they like — once per close. Operators see the rating on the chat;
//! tenant admins see the company's satisfaction (CSAT) per week and per operator.

mod csat;

use std::sync::Arc;

use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use crate::chat::{Chat, ChatState};
use crate::clock::Timestamp;
use crate::delivery::lock_chat;
use crate::entity::{chat, chat_rating, message, visitor};
use crate::error::{CoreError, CoreResult, is_unique_violation};
use crate::events::DomainEvent;
use crate::ids::{ChatId, ChatRatingId, UserId};
use crate::message::Author;
use crate::services::{Deps, WriteTxn};
use crate::visitor::VisitorActor;

pub use csat::{Csat, CsatOperator, CsatWeek, MAX_WEEKS};

/// The longest comment taken with a rating.
pub const MAX_COMMENT_CHARS: usize = 1000;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    #[sea_orm(string_value = "good")]
    Good,
    #[sea_orm(string_value = "bad")]
    Bad,
}

/// A chat's newest rating, as operators and its visitor see it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRating {
    pub rating: Rating,
    pub comment: Option<String>,
    pub rated_at: Timestamp,
    /// The close it rates: the chat's `closed_at` then.
    pub closed_at: Timestamp,
}

impl ChatRating {
    pub(crate) fn of(row: &chat::Model) -> Option<Self> {
        Some(Self {
            rating: row.rating?,
            comment: row.rating_comment.clone(),
            rated_at: Timestamp::from_millis(row.rated_at?),
            closed_at: Timestamp::from_millis(row.rated_close_at?),
        })
    }
}

/// Rating conversations, and counting the ratings.
#[derive(Clone)]
pub struct RatingService {
    deps: Arc<Deps>,
}

impl RatingService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    /// The visitor rates their conversation, which an operator has closed: once per close.
    /// The rating counts for the operator the chat is assigned to, or else the one who answered
    /// last.
    pub async fn rate(
        &self,
        actor: &VisitorActor,
        rating: Rating,
        comment: Option<&str>,
    ) -> CoreResult<Chat> {
        let comment = comment.map(parse_comment).transpose()?.flatten();
        let now = self.deps.clock.now();
        let txn = self.deps.write().await?;
        let found = chat::Entity::find()
            .select_only()
            .column(chat::Column::Id)
            .filter(chat::Column::TenantId.eq(actor.tenant))
            .filter(chat::Column::VisitorId.eq(actor.visitor))
            .into_tuple::<ChatId>()
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("chat"))?;
        // Decided on the locked row: a message reopening the chat meanwhile waits, or comes first.
        let row = lock_chat(&txn, actor.tenant, found).await?;
        let closed_at = match (row.state, row.closed_at) {
            (ChatState::Closed, Some(closed_at)) => closed_at,
            _ => {
                return Err(CoreError::Conflict(
                    "the conversation is still going on; it can be rated once an operator closes it"
                        .into(),
                ));
            }
        };
        let already = || CoreError::Conflict("this conversation is rated already".into());
        if row.rated_close_at == Some(closed_at) {
            return Err(already());
        }
        let operator = match row.operator_id {
            Some(operator) => Some(operator),
            None => last_to_answer(&txn, &row).await?,
        };
        let inserted = chat_rating::Entity::insert(chat_rating::ActiveModel {
            id: Set(ChatRatingId::new()),
            tenant_id: Set(actor.tenant),
            chat_id: Set(row.id),
            visitor_id: Set(actor.visitor),
            operator_id: Set(operator),
            closed_at: Set(closed_at),
            rating: Set(rating),
            comment: Set(comment.clone()),
            created_at: Set(now.millis()),
        })
        .exec_without_returning(&txn)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => return Err(already()),
            other => other?,
        };
        chat::Entity::update_many()
            .col_expr(chat::Column::Rating, Expr::value(rating))
            .col_expr(chat::Column::RatingComment, Expr::value(comment.clone()))
            .col_expr(chat::Column::RatedAt, Expr::value(now.millis()))
            .col_expr(chat::Column::RatedCloseAt, Expr::value(closed_at))
            .filter(chat::Column::Id.eq(row.id))
            .filter(chat::Column::TenantId.eq(actor.tenant))
            .exec(&txn)
            .await?;
        let visitor = visitor::Entity::find_by_id(actor.visitor)
            .filter(visitor::Column::TenantId.eq(actor.tenant))
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("visitor"))?;
        txn.commit().await?;
        let chat = Chat::from_rows(
            chat::Model {
                rating: Some(rating),
                rating_comment: comment,
                rated_at: Some(now.millis()),
                rated_close_at: Some(closed_at),
                ..row
            },
            &visitor,
        );
        self.deps.publish(DomainEvent::ChatUpdated {
            tenant: actor.tenant,
            chat: chat.clone(),
        });
        // The context beside the dialog lists the visitor's ratings.
        if let Err(e) =
            crate::visitor::context::tell(&self.deps, actor.tenant, actor.visitor, chat.id).await
        {
            tracing::warn!(chat = %chat.id, error = %e, "a rating's context was not told");
        }
        Ok(chat)
    }
}

/// The operator who answered last, for a chat nobody has taken (a reopened one is let go).
async fn last_to_answer(txn: &WriteTxn, row: &chat::Model) -> CoreResult<Option<UserId>> {
    Ok(message::Entity::find()
        .select_only()
        .column(message::Column::OperatorId)
        .filter(message::Column::ChatId.eq(row.id))
        .filter(message::Column::Author.eq(Author::Operator))
        .order_by_desc(message::Column::Seq)
        .into_tuple::<Option<UserId>>()
        .one(txn)
        .await?
        .flatten())
}

/// A comment of at most [`MAX_COMMENT_CHARS`] characters, line breaks allowed, no control or
/// invisible formatting characters; blank is none.
fn parse_comment(comment: &str) -> CoreResult<Option<String>> {
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(CoreError::invalid(
            "comment",
            format!("at most {MAX_COMMENT_CHARS} characters"),
        ));
    }
    if let Some(c) = crate::text::forbidden_char(comment, true) {
        return Err(CoreError::invalid(
            "comment",
            format!("must not contain U+{:04X}", u32::from(c)),
        ));
    }
    let comment = comment.trim();
    Ok((!comment.is_empty()).then(|| comment.to_owned()))
}
