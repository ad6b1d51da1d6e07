//! Reading the trail (a tenant's admins their own, the platform all of it) and pruning it.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};

use crate::entity::audit_event;
use crate::error::CoreResult;
use crate::ids::{AuditEventId, TenantId};
use crate::operator::OperatorActor;
use crate::services::Deps;

use super::entry::{ActorKind, AuditEntry};

/// The most entries one page holds.
pub const MAX_PAGE: u64 = 500;

/// Entries pruned per transaction, so that a large backlog does not hold the write lock long.
const PRUNED_AT_ONCE: u64 = 1_000;

/// A page of the trail, newest first.
#[derive(Clone, Copy, Debug)]
pub struct TrailPage {
    pub limit: u64,
    /// Only entries older than this one (the last of the previous page).
    pub before: Option<AuditEventId>,
}

#[derive(Clone)]
pub struct AuditService {
    deps: Arc<Deps>,
}

impl AuditService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    /// The actor's tenant's trail; admins only.
    pub async fn tenant_trail(
        &self,
        actor: &OperatorActor,
        page: TrailPage,
    ) -> CoreResult<Vec<AuditEntry>> {
        actor.require_admin()?;
        let mut entries = self.trail(Some(actor.tenant), page).await?;
        // Where the hosting company works from is not its customers' business.
        for entry in &mut entries {
            if entry.actor.kind == ActorKind::Platform {
                entry.actor.ip = None;
            }
        }
        Ok(entries)
    }

    /// The platform's view: every tenant's trail, or one tenant's.
    pub async fn platform_trail(
        &self,
        tenant: Option<TenantId>,
        page: TrailPage,
    ) -> CoreResult<Vec<AuditEntry>> {
        self.trail(tenant, page).await
    }

    async fn trail(
        &self,
        tenant: Option<TenantId>,
        page: TrailPage,
    ) -> CoreResult<Vec<AuditEntry>> {
        let mut query = audit_event::Entity::find();
        if let Some(tenant) = tenant {
            query = query.filter(audit_event::Column::TenantId.eq(tenant));
        }
        if let Some(before) = page.before {
            // Ids are time-ordered: older entries have smaller ids.
            query = query.filter(audit_event::Column::Id.lt(before));
        }
        let rows = query
            .order_by_desc(audit_event::Column::Id)
            .limit(page.limit.clamp(1, MAX_PAGE))
            .all(&self.deps.db)
            .await?;
        Ok(rows.into_iter().map(AuditEntry::from).collect())
    }

    /// Removes entries older than `retention`; returns how many went. Run by the housekeeping.
    pub async fn prune(&self, retention: Duration) -> CoreResult<u64> {
        let keep_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        let oldest_kept = self.deps.clock.now().millis().saturating_sub(keep_ms);
        let mut removed = 0;
        loop {
            let txn = self.deps.write().await?;
            let ids: Vec<AuditEventId> = audit_event::Entity::find()
                .select_only()
                .column(audit_event::Column::Id)
                .filter(audit_event::Column::At.lt(oldest_kept))
                .limit(PRUNED_AT_ONCE)
                .into_tuple()
                .all(&txn)
                .await?;
            let done = audit_event::Entity::delete_many()
                .filter(audit_event::Column::Id.is_in(ids.iter().copied()))
                .exec(&txn)
                .await?;
            txn.commit().await?;
            removed += done.rows_affected;
            if (ids.len() as u64) < PRUNED_AT_ONCE {
                return Ok(removed);
            }
        }
    }
}
