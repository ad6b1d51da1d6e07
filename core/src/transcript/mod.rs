//! The transcript of a conversation by email: the visitor asks (in the widget, typically when the
//! conversation has ended), and a worker mails the whole dialog — messages only, never the
//! operators' notes — to the address the visitor gave, through the same mail path as unread
//! replies. Once per request: asking again while one is on its way changes nothing, and a
//! visitor may ask [`MAX_PER_DAY`] times a day.

mod send;

use std::sync::Arc;
use std::time::Duration;

use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::delivery::lock_chat;
use crate::entity::{chat, transcript_request, visitor};
use crate::error::{CoreError, CoreResult};
use crate::ids::{ChatId, TranscriptId};
use crate::services::Deps;
use crate::visitor::VisitorActor;

pub use send::{TranscriptClaim, TranscriptLine, TranscriptOutcome, TranscriptToSend};

/// Requests one visitor may make in a day.
pub const MAX_PER_DAY: u64 = 3;
/// Transcripts one address may be sent in a day, from all companies together: few while
/// nobody has confirmed it (anyone can type anyone's address), more once its owner followed a
/// link mailed to it. The widget is public: this is what keeps it from being a way to mail
/// strangers.
pub const UNCONFIRMED_PER_ADDRESS_PER_DAY: u64 = 3;
pub const CONFIRMED_PER_ADDRESS_PER_DAY: u64 = 20;
/// A transcript mail carries at most this much text (the newest messages that fit).
pub const MAX_BYTES: usize = 1_000_000;
/// A transcript carries at most this many messages (the newest), and says so when there were more.
pub const MAX_MESSAGES: u64 = 5000;

const DAY: Duration = Duration::from_secs(24 * 3600);

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum TranscriptStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "sending")]
    Sending,
    #[sea_orm(string_value = "sent")]
    Sent,
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// A request, as the widget is told of it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TranscriptRequest {
    pub id: TranscriptId,
    /// Where it goes.
    pub email: String,
    pub status: TranscriptStatus,
    pub created_at: Timestamp,
}

impl From<transcript_request::Model> for TranscriptRequest {
    fn from(row: transcript_request::Model) -> Self {
        Self {
            id: row.id,
            email: row.email,
            status: row.status,
            created_at: Timestamp::from_millis(row.created_at),
        }
    }
}

/// Asking for transcripts, and mailing them.
#[derive(Clone)]
pub struct TranscriptService {
    deps: Arc<Deps>,
}

impl TranscriptService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    /// The visitor asks for their conversation's transcript, to the address they gave. A
    /// request still on its way is the answer to asking again.
    pub async fn request(&self, actor: &VisitorActor) -> CoreResult<TranscriptRequest> {
        let now = self.deps.clock.now();
        let txn = self.deps.write().await?;
        let visitor = visitor::Entity::find_by_id(actor.visitor)
            .filter(visitor::Column::TenantId.eq(actor.tenant))
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("visitor"))?;
        let chat = chat::Entity::find()
            .select_only()
            .column(chat::Column::Id)
            .filter(chat::Column::TenantId.eq(actor.tenant))
            .filter(chat::Column::VisitorId.eq(actor.visitor))
            .into_tuple::<ChatId>()
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("chat"))?;
        // Two asks at once (a double click, two tabs) take turns: the second finds the first.
        let chat = lock_chat(&txn, actor.tenant, chat).await?;
        let Some(email) = visitor.email else {
            return Err(CoreError::Conflict(
                "there is no address to send it to; leave your email first".into(),
            ));
        };
        let on_its_way = transcript_request::Entity::find()
            .filter(transcript_request::Column::TenantId.eq(actor.tenant))
            .filter(transcript_request::Column::ChatId.eq(chat.id))
            .filter(
                transcript_request::Column::Status
                    .is_in([TranscriptStatus::Pending, TranscriptStatus::Sending]),
            )
            .filter(transcript_request::Column::Email.eq(&email))
            .one(&txn)
            .await?;
        if let Some(row) = on_its_way {
            return Ok(row.into());
        }
        let confirmed = visitor.email_confirmed.as_deref() == Some(email.as_str());
        let per_address = if confirmed {
            CONFIRMED_PER_ADDRESS_PER_DAY
        } else {
            UNCONFIRMED_PER_ADDRESS_PER_DAY
        };
        let by_visitor = transcript_request::Column::VisitorId.eq(actor.visitor);
        let by_address = transcript_request::Column::Email.eq(&email);
        let waits = [
            over_daily_limit(&txn, by_visitor, MAX_PER_DAY, now).await?,
            over_daily_limit(&txn, by_address, per_address, now).await?,
        ];
        if let Some(wait) = waits.into_iter().flatten().max() {
            return Err(CoreError::RateLimited {
                // Whole seconds, rounded up: a client that waits this long is let through.
                retry_after_secs: wait.as_millis().div_ceil(1000).max(1) as u64,
            });
        }
        let row = transcript_request::Model {
            id: TranscriptId::new(),
            tenant_id: actor.tenant,
            chat_id: chat.id,
            visitor_id: actor.visitor,
            email,
            status: TranscriptStatus::Pending,
            attempts: 0,
            due_at: now.millis(),
            claimed_until: None,
            last_error: None,
            created_at: now.millis(),
            processed_at: None,
        };
        transcript_request::Entity::insert(transcript_request::ActiveModel::from(row.clone()))
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
        if let Err(e) = self.deps.scheduler.schedule_transcript(row.id).await {
            tracing::warn!(transcript = %row.id, error = %e, "a transcript is left to the sweep");
        }
        tell_operators(&self.deps, &row).await;
        Ok(row.into())
    }
}

/// The context beside the dialog lists the visitor's transcript requests: the operators see
/// one asked for, and then whether it went.
async fn tell_operators(deps: &Deps, row: &transcript_request::Model) {
    if let Err(e) =
        crate::visitor::context::tell(deps, row.tenant_id, row.visitor_id, row.chat_id).await
    {
        tracing::warn!(transcript = %row.id, error = %e, "a transcript's context was not told");
    }
}

/// How long until another request may be made, when `limit` of those matching `of` were made
/// in the last day.
async fn over_daily_limit(
    db: &impl ConnectionTrait,
    of: sea_orm::sea_query::SimpleExpr,
    limit: u64,
    now: Timestamp,
) -> CoreResult<Option<Duration>> {
    let since = now.saturating_sub(DAY).millis();
    let times: Vec<i64> = transcript_request::Entity::find()
        .select_only()
        .column(transcript_request::Column::CreatedAt)
        .filter(of)
        .filter(transcript_request::Column::CreatedAt.gt(since))
        .order_by_desc(transcript_request::Column::CreatedAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    if (times.len() as u64) < limit {
        return Ok(None);
    }
    // The oldest of the last `limit` leaves the window first.
    let oldest = times.last().copied().unwrap_or(now.millis());
    let free_at = Timestamp::from_millis(oldest).saturating_add(DAY);
    Ok(Some(free_at.since(now)))
}
