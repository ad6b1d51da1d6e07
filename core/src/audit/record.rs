//! Writing an entry, inside the transaction of the change it records.

use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QuerySelect};

use crate::clock::Timestamp;
use crate::entity::{audit_event, user};
use crate::error::CoreResult;
use crate::ids::{AuditEventId, TenantId};
use crate::operator::Role;
use crate::services::WriteTxn;

use super::actor::ChangedBy;
use super::change::Change;
use super::entry::{Action, ActorKind, TargetKind};

/// What a change was made to: its kind, id and name at the time.
pub(crate) struct Target {
    pub kind: TargetKind,
    pub id: Option<String>,
    pub label: String,
}

impl Target {
    pub fn new(kind: TargetKind, id: impl ToString, label: impl Into<String>) -> Self {
        Self {
            kind,
            id: Some(id.to_string()),
            label: label.into(),
        }
    }

    /// Something the tenant has one of (its settings, its template, its webhook secret).
    pub fn the(kind: TargetKind, label: &str) -> Self {
        Self {
            kind,
            id: None,
            label: label.to_owned(),
        }
    }
}

/// Adds an entry for a change of `tenant`'s, in `txn`: it is committed with the change or not
/// at all. A change that changed nothing is not recorded.
pub(crate) async fn record(
    txn: &WriteTxn,
    now: Timestamp,
    by: ChangedBy<'_>,
    tenant: Option<TenantId>,
    action: Action,
    target: Target,
    change: Change,
) -> CoreResult<()> {
    if change.is_empty() && !records_without_fields(action) {
        return Ok(());
    }
    let (kind, id, ip) = match by {
        ChangedBy::Staff(actor) => {
            let kind = match actor.role {
                Role::Admin => ActorKind::Admin,
                Role::Operator => ActorKind::Operator,
            };
            (kind, Some(actor.user), actor.from)
        }
        ChangedBy::Platform(platform) => (ActorKind::Platform, None, platform.from),
    };
    let label = label_of(txn, by).await?;
    let json = |value: Option<serde_json::Value>| value.map(|v| v.to_string());
    audit_event::Entity::insert(audit_event::ActiveModel {
        id: Set(AuditEventId::new()),
        tenant_id: Set(tenant),
        at: Set(now.millis()),
        actor_kind: Set(kind),
        actor_id: Set(id),
        actor_label: Set(label),
        actor_ip: Set(ip.map(|ip| ip.to_string())),
        action: Set(action),
        target_kind: Set(target.kind),
        target_id: Set(target.id),
        target_label: Set(target.label.chars().take(320).collect()),
        before: Set(json(change.before)),
        after: Set(json(change.after)),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Actions that are the whole news, with no fields to compare.
fn records_without_fields(action: Action) -> bool {
    matches!(
        action,
        Action::WebhookSecretRotated | Action::ExportDownloaded | Action::TenantDeletionCancelled
    )
}

/// How the trail names who acted: an admin's or operator's email, or how the platform acted.
pub(crate) async fn label_of(txn: &WriteTxn, by: ChangedBy<'_>) -> CoreResult<String> {
    match by {
        ChangedBy::Staff(actor) => email_of(txn, actor).await,
        ChangedBy::Platform(platform) => Ok(platform.via.label().to_owned()),
    }
}

/// The actor's email now, so that the trail still says who it was after they leave.
async fn email_of(txn: &WriteTxn, actor: &crate::operator::OperatorActor) -> CoreResult<String> {
    let email: Option<String> = user::Entity::find_by_id(actor.user)
        .filter(user::Column::TenantId.eq(actor.tenant))
        .select_only()
        .column(user::Column::Email)
        .into_tuple()
        .one(txn)
        .await?;
    Ok(email.unwrap_or_else(|| actor.user.to_string()))
}
