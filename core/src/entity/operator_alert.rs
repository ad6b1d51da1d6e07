use sea_orm::entity::prelude::*;

use crate::alert::AlertReason;
use crate::ids::{AlertId, ChatId, TenantId, VisitorId};

/// An alert for a tenant's operators: raised with the occasion's own write (or by the sweep
/// for a long wait), then routed once by the tenant's plugins.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operator_alerts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: AlertId,
    pub tenant_id: TenantId,
    pub chat_id: ChatId,
    pub visitor_id: VisitorId,
    pub kind: AlertReason,
    /// For a long wait: how long the visitor had waited.
    pub wait_minutes: Option<i32>,
    /// The visitor's message, cut to [`crate::alert::PREVIEW_CHARS`].
    pub preview: String,
    /// The occasion hashed: one alert per offline request, one per wait.
    pub dedupe_key: String,
    /// Routed to the operators themselves (the workspace and the digest).
    pub to_operators: bool,
    /// What the routing said beyond that: skipped routes, a plugin's refusal.
    pub note: Option<String>,
    /// While a worker routes it.
    pub claimed_until: Option<i64>,
    pub routed_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
