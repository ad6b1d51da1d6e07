//! Alerts for a tenant's operators, so that no offline request and no waiting visitor goes
//! unseen.
//!
//! An alert is raised durably with its occasion: an offline request's alert in the request's
//! own transaction, a long wait's by the sweep when the chat's `wait_alert_at` comes. It is then
//! routed once, by a worker, through the tenant's plugins (`operator_alert`): to the operators
//! themselves (the workspace's alert, and an email digest for those not online), to webhooks
//! (signed, retried and logged like unread-reply webhooks), or nowhere. An alert whose routing
//! was lost (a worker died) is routed by the sweep.

mod digest;
mod pending;
mod raise;
mod route;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use sea_orm::QuerySelect;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::chat::ChatState;
use crate::clock::Timestamp;
use crate::entity::{chat, operator_alert, tenant, visitor};
use crate::error::CoreResult;
use crate::ids::{AlertId, ChatId, TenantId};
use crate::services::Deps;
use crate::tenant::{TenantSettings, parse_settings};

pub(crate) use digest::drop_digest;
pub use digest::{DigestAlert, DigestClaim, DigestFound, DigestOutcome, MAX_DIGEST_ALERTS};
pub use pending::{MAX_PENDING, PENDING_FOR};
pub(crate) use raise::raise_offline_request;
pub use route::{AlertClaim, AlertRoute, AlertToRoute, ChosenAlertRoutes, RoutedAlert};

/// An alert shows this much of the visitor's message.
pub const PREVIEW_CHARS: usize = 500;

/// What an alert is about.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum AlertReason {
    /// A visitor sent the offline form.
    #[sea_orm(string_value = "offline_request")]
    OfflineRequest,
    /// A visitor has waited the tenant's `long_wait_alert_mins` for an answer.
    #[sea_orm(string_value = "long_wait")]
    LongWait,
}

/// An alert as operators see it: the workspace's `operator.alert` frame, a line of a digest.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorAlert {
    pub id: AlertId,
    pub chat_id: ChatId,
    pub kind: AlertReason,
    /// For a long wait: how many minutes the visitor had waited.
    pub wait_minutes: Option<u32>,
    pub visitor_name: Option<String>,
    /// The visitor's message (the offline request, or the last one before the wait), cut.
    pub preview: String,
    pub created_at: Timestamp,
}

impl OperatorAlert {
    pub(crate) fn from_row(row: &operator_alert::Model, visitor_name: Option<String>) -> Self {
        Self {
            id: row.id,
            chat_id: row.chat_id,
            kind: row.kind,
            wait_minutes: row.wait_minutes.and_then(|m| u32::try_from(m).ok()),
            visitor_name,
            preview: row.preview.clone(),
            created_at: Timestamp::from_millis(row.created_at),
        }
    }

    /// One line saying what happened, for a notification or a mail.
    pub fn headline(&self) -> String {
        let who = self.visitor_name.as_deref().unwrap_or("A visitor");
        match (self.kind, self.wait_minutes) {
            (AlertReason::OfflineRequest, _) => format!("{who} left an offline request"),
            (AlertReason::LongWait, Some(1)) => format!("{who} has waited 1 minute for an answer"),
            (AlertReason::LongWait, Some(m)) => {
                format!("{who} has waited {m} minutes for an answer")
            }
            (AlertReason::LongWait, None) => format!("{who} is waiting for an answer"),
        }
    }
}

/// Raising, routing and mailing alerts.
#[derive(Clone)]
pub struct AlertService {
    deps: Arc<Deps>,
}

impl AlertService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }
}

/// The tenant's settings (only that column is read); none for a tenant that is gone.
async fn settings_of(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> CoreResult<Option<TenantSettings>> {
    let json = tenant::Entity::find_by_id(tenant)
        .select_only()
        .column(tenant::Column::Settings)
        .into_tuple::<String>()
        .one(db)
        .await?;
    json.map(|json| parse_settings(&json)).transpose()
}

/// The least time between two digests to one operator; none when the tenant does not mail
/// alerts.
async fn digest_interval(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> CoreResult<Option<Duration>> {
    Ok(settings_of(db, tenant)
        .await?
        .and_then(|s| s.alert_digest()))
}

/// The chats of `alerts`, with their visitors, by id.
async fn chats_of(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    alerts: &[operator_alert::Model],
) -> CoreResult<HashMap<ChatId, (chat::Model, Option<visitor::Model>)>> {
    let ids: HashSet<ChatId> = alerts.iter().map(|a| a.chat_id).collect();
    Ok(chat::Entity::find()
        .filter(chat::Column::TenantId.eq(tenant))
        .filter(chat::Column::Id.is_in(ids))
        .find_also_related(visitor::Entity)
        .all(db)
        .await?
        .into_iter()
        .map(|(chat, visitor)| (chat.id, (chat, visitor)))
        .collect())
}

/// Whether the chat's visitor still waits for an answer: an alert about it still matters.
fn still_waits(chat: &chat::Model) -> bool {
    chat.state == ChatState::Open && chat.unanswered
}

/// `text` cut to [`PREVIEW_CHARS`] characters, with an ellipsis when it was longer.
pub(crate) fn preview_of(text: &str) -> String {
    crate::text::cut(text, PREVIEW_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preview_is_cut_on_a_character_boundary() {
        let long = "é".repeat(PREVIEW_CHARS + 3);
        let cut = preview_of(&long);
        assert_eq!(cut.chars().count(), PREVIEW_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(preview_of("short"), "short");
    }
}
