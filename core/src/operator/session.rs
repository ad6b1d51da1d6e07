//! Operator logins: a bearer token per login, kept only as a digest. A token stops working when
//! it expires, when it is revoked (logout), when its account is deactivated and while its tenant
//! is suspended.

use std::time::Duration;

use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;

use crate::clock::Timestamp;
use crate::entity::{operator_session, tenant, user};
use crate::error::{CoreError, CoreResult};
use crate::events::DomainEvent;
use crate::ids::{TenantId, UserId};
use crate::secret;
use crate::storage::WriteTxn;

use super::service::OperatorService;
use super::{Operator, OperatorActor};

const SESSION_TOKEN: &str = "ot";

/// How long a login lasts without logging in again.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// A successful login: the bearer token (shown once) and who it belongs to.
#[derive(Clone, Debug)]
pub struct Login {
    pub token: String,
    pub actor: OperatorActor,
    pub operator: Operator,
    pub expires_at: Timestamp,
}

impl OperatorService {
    /// Email and password login within a tenant; on success a new session token.
    pub async fn login(&self, tenant_slug: &str, email: &str, password: &str) -> CoreResult<Login> {
        let (actor, operator) = self.authenticate(tenant_slug, email, password).await?;
        let now = self.deps().clock.now();
        let token = secret::generate(SESSION_TOKEN);
        let expires_at = now.saturating_add(SESSION_LIFETIME);
        let txn = self.deps().write().await?;
        operator_session::Entity::insert(operator_session::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(actor.tenant),
            user_id: Set(actor.user),
            token_hash: Set(secret::digest(&token)),
            created_at: Set(now.millis()),
            expires_at: Set(expires_at.millis()),
            revoked_at: Set(None),
        })
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        Ok(Login {
            token,
            actor,
            operator,
            expires_at,
        })
    }

    /// The operator behind a session token, checked against the account and tenant as they are
    /// now. Every failure looks the same.
    pub async fn authenticate_token(&self, token: &str) -> CoreResult<OperatorActor> {
        let denied = || CoreError::Unauthorized("unknown or expired session");
        if !secret::looks_like(token, SESSION_TOKEN) {
            return Err(denied());
        }
        let now = self.deps().clock.now();
        let session = operator_session::Entity::find()
            .filter(operator_session::Column::TokenHash.eq(secret::digest(token)))
            .filter(operator_session::Column::RevokedAt.is_null())
            .filter(operator_session::Column::ExpiresAt.gt(now.millis()))
            .one(&self.deps().db)
            .await?
            .ok_or_else(denied)?;
        let row = user::Entity::find_by_id(session.user_id)
            .filter(user::Column::TenantId.eq(session.tenant_id))
            .filter(user::Column::Active.eq(true))
            .one(&self.deps().db)
            .await?
            .ok_or_else(denied)?;
        let suspended = tenant::Entity::find_by_id(session.tenant_id)
            .one(&self.deps().db)
            .await?
            .is_none_or(|t| t.suspended);
        if suspended {
            return Err(CoreError::TenantSuspended);
        }
        Ok(OperatorActor {
            tenant: row.tenant_id,
            user: row.id,
            role: row.role,
            from: None,
        })
    }

    /// Ends the session of this token. Unknown tokens are ignored: logging out twice is fine.
    pub async fn logout(&self, token: &str) -> CoreResult<()> {
        if !secret::looks_like(token, SESSION_TOKEN) {
            return Ok(());
        }
        let now = self.deps().clock.now();
        let digest = secret::digest(token);
        let Some(session) = operator_session::Entity::find()
            .filter(operator_session::Column::TokenHash.eq(digest.clone()))
            .filter(operator_session::Column::RevokedAt.is_null())
            .one(&self.deps().db)
            .await?
        else {
            return Ok(());
        };
        let txn = self.deps().write().await?;
        operator_session::Entity::update_many()
            .col_expr(
                operator_session::Column::RevokedAt,
                Expr::value(now.millis()),
            )
            .filter(operator_session::Column::Id.eq(session.id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        // Sockets opened with this session close too.
        self.deps().publish(DomainEvent::AccessRevoked {
            tenant: session.tenant_id,
            user: Some(session.user_id),
            session: Some(session_key(token)),
        });
        Ok(())
    }
}

/// How a session is named in [`DomainEvent::AccessRevoked`]: its token's digest, as stored.
pub fn session_key(token: &str) -> String {
    secret::digest(token)
}

/// Ends every session of one account (on deactivation).
pub(crate) async fn revoke_all(
    db: &WriteTxn,
    tenant: TenantId,
    user_id: UserId,
    now: Timestamp,
) -> CoreResult<()> {
    operator_session::Entity::update_many()
        .col_expr(
            operator_session::Column::RevokedAt,
            Expr::value(now.millis()),
        )
        .filter(operator_session::Column::UserId.eq(user_id))
        .filter(operator_session::Column::TenantId.eq(tenant))
        .filter(operator_session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}
