//! Admins keep a tenant's canned replies; every operator of the tenant reads them.

use std::sync::Arc;

use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::{PaginatorTrait, QueryOrder};

use crate::audit::{self, Action, Change, Target, TargetKind};
use crate::entity::canned_reply;
use crate::error::{CoreError, CoreResult, is_unique_violation};
use crate::ids::CannedReplyId;
use crate::message::MessageBody;
use crate::operator::OperatorActor;
use crate::services::Deps;

use super::{CannedReply, MAX_CANNED_REPLIES, parse_shortcut};

#[derive(Clone)]
pub struct CannedReplyService {
    deps: Arc<Deps>,
}

impl CannedReplyService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    /// The tenant's canned replies by shortcut.
    pub async fn list(&self, actor: &OperatorActor) -> CoreResult<Vec<CannedReply>> {
        Ok(canned_reply::Entity::find()
            .filter(canned_reply::Column::TenantId.eq(actor.tenant))
            .order_by_asc(canned_reply::Column::Shortcut)
            .all(&self.deps.db)
            .await?
            .into_iter()
            .map(CannedReply::from)
            .collect())
    }

    /// A new canned reply (admins only). A shortcut the tenant already has is a conflict.
    pub async fn create(
        &self,
        actor: &OperatorActor,
        shortcut: &str,
        body: &str,
    ) -> CoreResult<CannedReply> {
        let (shortcut, body) = self.checked(actor, shortcut, body)?;
        let now = self.deps.clock.now().millis();
        let txn = self.deps.write().await?;
        let kept = canned_reply::Entity::find()
            .filter(canned_reply::Column::TenantId.eq(actor.tenant))
            .count(&txn)
            .await?;
        if kept >= MAX_CANNED_REPLIES {
            return Err(CoreError::LimitReached(format!(
                "a company keeps at most {MAX_CANNED_REPLIES} canned replies"
            )));
        }
        let row = canned_reply::Model {
            id: CannedReplyId::new(),
            tenant_id: actor.tenant,
            shortcut,
            body: body.into_string(),
            created_at: now,
            updated_at: now,
        };
        canned_reply::Entity::insert(canned_reply::ActiveModel::from(row.clone()))
            .exec_without_returning(&txn)
            .await
            .map_err(taken)?;
        let target = Target::new(TargetKind::CannedReply, row.id, &row.shortcut);
        let change = Change::created(&audited(&row.shortcut, &row.body));
        let at = self.deps.clock.now();
        audit::record(
            &txn,
            at,
            actor.into(),
            Some(actor.tenant),
            Action::CannedReplyCreated,
            target,
            change,
        )
        .await?;
        txn.commit().await?;
        Ok(row.into())
    }

    /// Changes a canned reply's shortcut and text (admins only).
    pub async fn update(
        &self,
        actor: &OperatorActor,
        id: CannedReplyId,
        shortcut: &str,
        body: &str,
    ) -> CoreResult<CannedReply> {
        let (shortcut, body) = self.checked(actor, shortcut, body)?;
        let now = self.deps.clock.now().millis();
        let txn = self.deps.write().await?;
        let row = canned_reply::Entity::find_by_id(id)
            .filter(canned_reply::Column::TenantId.eq(actor.tenant))
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("canned reply"))?;
        canned_reply::Entity::update_many()
            .set(canned_reply::ActiveModel {
                shortcut: Set(shortcut.clone()),
                body: Set(body.as_str().to_owned()),
                updated_at: Set(now),
                ..Default::default()
            })
            .filter(canned_reply::Column::Id.eq(id))
            .filter(canned_reply::Column::TenantId.eq(actor.tenant))
            .exec(&txn)
            .await
            .map_err(taken)?;
        let target = Target::new(TargetKind::CannedReply, id, &shortcut);
        let change = Change::between(
            &audited(&row.shortcut, &row.body),
            &audited(&shortcut, body.as_str()),
        );
        let at = self.deps.clock.now();
        audit::record(
            &txn,
            at,
            actor.into(),
            Some(actor.tenant),
            Action::CannedReplyChanged,
            target,
            change,
        )
        .await?;
        txn.commit().await?;
        Ok(canned_reply::Model {
            shortcut,
            body: body.into_string(),
            updated_at: now,
            ..row
        }
        .into())
    }

    /// An admin's shortcut and text, checked.
    fn checked(
        &self,
        actor: &OperatorActor,
        shortcut: &str,
        body: &str,
    ) -> CoreResult<(String, MessageBody)> {
        actor.require_admin()?;
        let shortcut = parse_shortcut(shortcut)?;
        let body = MessageBody::parse(body, self.deps.limits.max_message_chars)?;
        Ok((shortcut, body))
    }

    /// Removes a canned reply (admins only).
    pub async fn delete(&self, actor: &OperatorActor, id: CannedReplyId) -> CoreResult<()> {
        actor.require_admin()?;
        let txn = self.deps.write().await?;
        let row = canned_reply::Entity::find_by_id(id)
            .filter(canned_reply::Column::TenantId.eq(actor.tenant))
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("canned reply"))?;
        canned_reply::Entity::delete_many()
            .filter(canned_reply::Column::Id.eq(id))
            .filter(canned_reply::Column::TenantId.eq(actor.tenant))
            .exec(&txn)
            .await?;
        let target = Target::new(TargetKind::CannedReply, id, &row.shortcut);
        let change = Change::removed(&audited(&row.shortcut, &row.body));
        let at = self.deps.clock.now();
        audit::record(
            &txn,
            at,
            actor.into(),
            Some(actor.tenant),
            Action::CannedReplyDeleted,
            target,
            change,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}

/// The shortcut is the tenant's already.
fn taken(e: DbErr) -> CoreError {
    match is_unique_violation(&e) {
        true => CoreError::Conflict("the company has a canned reply with this shortcut".into()),
        false => CoreError::Storage(e),
    }
}

/// What the audit trail keeps of a canned reply.
fn audited(shortcut: &str, body: &str) -> serde_json::Value {
    serde_json::json!({ "shortcut": shortcut, "body": body })
}
