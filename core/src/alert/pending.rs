//! The alerts an operator opening the workspace should still see: those of the last day whose
//! visitor still waits, one per chat.

use std::collections::HashSet;
use std::time::Duration;

use sea_orm::QueryOrder;
use sea_orm::QuerySelect;
use sea_orm::entity::prelude::*;

use crate::entity::operator_alert;
use crate::error::CoreResult;
use crate::operator::OperatorActor;

use super::{AlertService, OperatorAlert, chats_of, still_waits};

/// Alerts older than this are history, whatever became of them.
pub const PENDING_FOR: Duration = Duration::from_secs(24 * 3600);
/// At most this many are shown.
pub const MAX_PENDING: usize = 50;
/// Alerts read to find them (several may be about one chat, many may be answered).
const READ: u64 = 500;

impl AlertService {
    /// The tenant's alerts of the last day that went to the operators and whose visitor still
    /// waits, the newest of each chat, newest first.
    pub async fn pending(&self, actor: &OperatorActor) -> CoreResult<Vec<OperatorAlert>> {
        let since = self.deps.clock.now().saturating_sub(PENDING_FOR).millis();
        let alerts = operator_alert::Entity::find()
            .filter(operator_alert::Column::TenantId.eq(actor.tenant))
            .filter(operator_alert::Column::CreatedAt.gte(since))
            .filter(operator_alert::Column::ToOperators.eq(true))
            .order_by_desc(operator_alert::Column::CreatedAt)
            .limit(READ)
            .all(&self.deps.db)
            .await?;
        let chats = chats_of(&self.deps.db, actor.tenant, &alerts).await?;
        let mut seen = HashSet::new();
        Ok(alerts
            .iter()
            .filter(|alert| seen.insert(alert.chat_id))
            .filter_map(|alert| {
                let (chat, visitor) = chats.get(&alert.chat_id)?;
                still_waits(chat).then(|| {
                    OperatorAlert::from_row(alert, visitor.as_ref().and_then(|v| v.name.clone()))
                })
            })
            .take(MAX_PENDING)
            .collect())
    }
}
