use sea_orm::entity::prelude::*;

use crate::audit::{Action, ActorKind, TargetKind};
use crate::ids::{AuditEventId, TenantId, UserId};

/// One change in the audit trail. Rows are only ever added (and pruned by age).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: AuditEventId,
    pub tenant_id: Option<TenantId>,
    pub at: i64,
    pub actor_kind: ActorKind,
    pub actor_id: Option<UserId>,
    /// The actor's email (or how the platform acted) when they made the change.
    pub actor_label: String,
    pub actor_ip: Option<String>,
    pub action: Action,
    pub target_kind: TargetKind,
    pub target_id: Option<String>,
    /// The target's name when it changed.
    pub target_label: String,
    /// JSON: the changed fields before and after, secrets redacted.
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
