//! Mailing a requested transcript: claimed by one worker at a time, completed once, retried on
//! a transient failure.

use std::collections::HashMap;
use std::time::Duration;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{Condition, QueryOrder, QuerySelect};

use crate::claim::ClaimColumns;
use crate::clock::Timestamp;
use crate::entity::{message, tenant, transcript_request, user, visitor};
use crate::error::{CoreError, CoreResult};
use crate::ids::{ChatId, TenantId, TranscriptId, UserId};
use crate::message::Author;
use crate::tenant::{Language, Tenant};

use super::{MAX_BYTES, MAX_MESSAGES, TranscriptService, TranscriptStatus};

/// A request younger than this is left to its job by the sweep.
const JOB_GRACE: Duration = Duration::from_secs(30);

/// One message of the transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TranscriptLine {
    pub author: Author,
    /// The operator's name, for their messages.
    pub operator_name: Option<String>,
    pub body: String,
    pub at: Timestamp,
    pub edited: bool,
}

/// A claimed request: everything the worker needs to mail it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TranscriptToSend {
    pub id: TranscriptId,
    pub tenant: TenantId,
    pub chat: ChatId,
    /// The company's name, and the name its mail comes from.
    pub tenant_name: String,
    pub sender_name: String,
    pub language: Language,
    pub email: String,
    pub visitor_name: Option<String>,
    /// Oldest first.
    pub lines: Vec<TranscriptLine>,
    /// Earlier messages not in it (beyond [`MAX_MESSAGES`]).
    pub left_out: u64,
    /// 1 on the first try.
    pub attempt: u32,
    /// The claim's end; it also identifies the claim when completing it.
    pub claimed_until: Timestamp,
}

/// What claiming a request found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TranscriptClaim {
    /// Mail it, then [`TranscriptService::complete`].
    Send(Box<TranscriptToSend>),
    /// Too early: try again at this time.
    NotDue(Timestamp),
    /// Another worker is mailing it right now.
    Busy,
    /// Sent, given up, or never stored.
    Settled,
}

/// How one try went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TranscriptOutcome {
    Sent,
    /// A transient failure: tried again at `at`.
    Retry {
        reason: String,
        at: Timestamp,
    },
    /// A permanent failure, or the last try: given up.
    Failed {
        reason: String,
    },
}

/// Where a request's claim is kept.
const CLAIM: ClaimColumns<transcript_request::Column> = ClaimColumns {
    status: transcript_request::Column::Status,
    due_at: transcript_request::Column::DueAt,
    claimed_until: transcript_request::Column::ClaimedUntil,
};

/// Waiting and due, or in flight with a claim that ran out.
fn claimable(now: Timestamp) -> Condition {
    CLAIM.claimable(TranscriptStatus::Pending, TranscriptStatus::Sending, now)
}

impl TranscriptToSend {
    /// A claim with nothing to mail, only to settle it.
    fn unloadable(row: &transcript_request::Model, claimed_until: Timestamp) -> Self {
        Self {
            id: row.id,
            tenant: row.tenant_id,
            chat: row.chat_id,
            tenant_name: String::new(),
            sender_name: String::new(),
            language: Language::En,
            email: row.email.clone(),
            visitor_name: None,
            lines: Vec::new(),
            left_out: 0,
            attempt: u32::try_from(row.attempts + 1).unwrap_or(u32::MAX),
            claimed_until,
        }
    }
}

impl TranscriptService {
    /// Requests due now (or whose worker died mid-mail), oldest first: for the sweep. A fresh
    /// request is its job's for [`JOB_GRACE`].
    pub async fn due(&self, limit: u64) -> CoreResult<Vec<TranscriptId>> {
        let now = self.deps.clock.now();
        let left_by_its_job = Condition::any()
            .add(transcript_request::Column::Attempts.gt(0))
            .add(transcript_request::Column::CreatedAt.lte(now.saturating_sub(JOB_GRACE).millis()));
        Ok(transcript_request::Entity::find()
            .select_only()
            .column(transcript_request::Column::Id)
            .filter(claimable(now))
            .filter(left_by_its_job)
            .order_by_asc(transcript_request::Column::DueAt)
            .limit(limit)
            .into_tuple()
            .all(&self.deps.db)
            .await?)
    }

    /// Claims request `id` for `lease`; safe from any number of workers at once.
    pub async fn claim(&self, id: TranscriptId, lease: Duration) -> CoreResult<TranscriptClaim> {
        let now = self.deps.clock.now();
        let Some(row) = transcript_request::Entity::find_by_id(id)
            .one(&self.deps.db)
            .await?
        else {
            return Ok(TranscriptClaim::Settled);
        };
        match row.status {
            TranscriptStatus::Sent | TranscriptStatus::Failed => {
                return Ok(TranscriptClaim::Settled);
            }
            TranscriptStatus::Pending if row.due_at > now.millis() => {
                return Ok(TranscriptClaim::NotDue(Timestamp::from_millis(row.due_at)));
            }
            TranscriptStatus::Sending if row.claimed_until.is_some_and(|t| t >= now.millis()) => {
                return Ok(TranscriptClaim::Busy);
            }
            TranscriptStatus::Pending | TranscriptStatus::Sending => {}
        }
        let claimed_until = now.saturating_add(lease);
        let txn = self.deps.write().await?;
        let taken = transcript_request::Entity::update_many()
            .col_expr(
                transcript_request::Column::Status,
                Expr::value(TranscriptStatus::Sending),
            )
            .col_expr(
                transcript_request::Column::ClaimedUntil,
                Expr::value(claimed_until.millis()),
            )
            .col_expr(
                transcript_request::Column::Attempts,
                Expr::col(transcript_request::Column::Attempts).add(1),
            )
            .filter(transcript_request::Column::Id.eq(id))
            .filter(claimable(now))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        if taken.rows_affected == 0 {
            return Ok(TranscriptClaim::Busy);
        }
        match self.load(&row, claimed_until).await {
            // The company or the visitor is gone: nothing to mail, ever.
            Err(CoreError::NotFound(what)) => {
                let reason = format!("the {what} is gone");
                let failed = TranscriptOutcome::Failed { reason };
                let claim = TranscriptToSend::unloadable(&row, claimed_until);
                self.complete(&claim, failed).await?;
                Ok(TranscriptClaim::Settled)
            }
            loaded => Ok(TranscriptClaim::Send(Box::new(loaded?))),
        }
    }

    /// What a claimed request mails: the company's words and the dialog, newest messages that
    /// fit in [`MAX_MESSAGES`] and [`MAX_BYTES`].
    async fn load(
        &self,
        row: &transcript_request::Model,
        claimed_until: Timestamp,
    ) -> CoreResult<TranscriptToSend> {
        let db = &self.deps.db;
        let tenant_row = tenant::Entity::find_by_id(row.tenant_id)
            .one(db)
            .await?
            .ok_or(CoreError::NotFound("company"))?;
        let tenant = Tenant::try_from(tenant_row)?;
        let visitor = visitor::Entity::find_by_id(row.visitor_id)
            .filter(visitor::Column::TenantId.eq(row.tenant_id))
            .one(db)
            .await?
            .ok_or(CoreError::NotFound("visitor"))?;
        let of_chat = || {
            // A deleted file is gone from the dialog, and from its transcript.
            message::Entity::find()
                .filter(message::Column::ChatId.eq(row.chat_id))
                .filter(message::Column::TenantId.eq(row.tenant_id))
                .filter(message::Column::DeletedAt.is_null())
        };
        let total = of_chat().count(db).await?;
        let newest = of_chat()
            .order_by_desc(message::Column::Seq)
            .limit(MAX_MESSAGES)
            .all(db)
            .await?;
        let mut bytes = 0;
        let mut messages: Vec<message::Model> = newest
            .into_iter()
            .take_while(|m| {
                bytes += m.body.len();
                bytes <= MAX_BYTES
            })
            .collect();
        messages.reverse();
        let operator_ids: Vec<UserId> = messages.iter().filter_map(|m| m.operator_id).collect();
        let names: HashMap<UserId, String> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .column(user::Column::Name)
            .filter(user::Column::TenantId.eq(row.tenant_id))
            .filter(user::Column::Id.is_in(operator_ids))
            .into_tuple::<(UserId, String)>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        let lines = messages
            .into_iter()
            .map(|m| TranscriptLine {
                author: m.author,
                operator_name: m.operator_id.and_then(|id| names.get(&id).cloned()),
                body: m.body,
                at: Timestamp::from_millis(m.created_at),
                edited: m.edited_at.is_some(),
            })
            .collect::<Vec<_>>();
        let sender_name = tenant
            .settings
            .mail_from_name
            .clone()
            .unwrap_or_else(|| tenant.name.clone());
        Ok(TranscriptToSend {
            id: row.id,
            tenant: row.tenant_id,
            chat: row.chat_id,
            language: Language::for_visitor(
                visitor.locale.as_deref(),
                tenant.settings.branding.language,
            ),
            tenant_name: tenant.name,
            sender_name,
            email: row.email.clone(),
            visitor_name: visitor.name,
            left_out: total.saturating_sub(lines.len() as u64),
            lines,
            attempt: u32::try_from(row.attempts + 1).unwrap_or(u32::MAX),
            claimed_until,
        })
    }

    /// Records how a claimed request went. False when the claim had run out and another worker
    /// took it over (nothing is recorded then).
    pub async fn complete(
        &self,
        claim: &TranscriptToSend,
        outcome: TranscriptOutcome,
    ) -> CoreResult<bool> {
        let now = self.deps.clock.now();
        let txn = self.deps.write().await?;
        // Locked, so that a worker taking over after the lease waits for this record.
        let ours = transcript_request::Entity::find_by_id(claim.id)
            .filter(transcript_request::Column::TenantId.eq(claim.tenant))
            .filter(CLAIM.held(TranscriptStatus::Sending, claim.claimed_until))
            .lock_exclusive()
            .one(&txn)
            .await?
            .is_some();
        if !ours {
            return Ok(false);
        }
        let (status, due_at, reason, processed) = match outcome {
            TranscriptOutcome::Sent => (TranscriptStatus::Sent, None, None, Some(now.millis())),
            TranscriptOutcome::Retry { reason, at } => (
                TranscriptStatus::Pending,
                Some(at.millis()),
                Some(reason),
                None,
            ),
            TranscriptOutcome::Failed { reason } => (
                TranscriptStatus::Failed,
                None,
                Some(reason),
                Some(now.millis()),
            ),
        };
        let mut update = transcript_request::Entity::update_many()
            .col_expr(transcript_request::Column::Status, Expr::value(status))
            .col_expr(
                transcript_request::Column::ClaimedUntil,
                Expr::value(None::<i64>),
            )
            .col_expr(transcript_request::Column::LastError, Expr::value(reason))
            .col_expr(
                transcript_request::Column::ProcessedAt,
                Expr::value(processed),
            );
        if let Some(at) = due_at {
            update = update.col_expr(transcript_request::Column::DueAt, Expr::value(at));
        }
        update
            .filter(transcript_request::Column::Id.eq(claim.id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        if let Some(row) = transcript_request::Entity::find_by_id(claim.id)
            .one(&self.deps.db)
            .await?
        {
            super::tell_operators(&self.deps, &row).await;
        }
        Ok(true)
    }
}
