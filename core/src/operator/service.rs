//! Logging in, operator status, managing operators, and the availability rule.

use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, PaginatorTrait, QueryOrder, QuerySelect, QueryTrait,
};

use crate::audit::{self, Action, Change, Target, TargetKind};
use crate::automation::{Staff, TenantFacts, WidgetAvailability, within_wait};
use crate::chat::ChatState;
use crate::clock::Timestamp;
use crate::email::EmailAddress;
use crate::entity::{chat, tenant, user};
use crate::error::{CoreError, CoreResult, is_unique_violation};
use crate::events::DomainEvent;
use crate::ids::{TenantId, UserId};
use crate::services::{Deps, WriteTxn};
use crate::tenant::parse_limits;

use super::{Operator, OperatorActor, OperatorName, OperatorStatus, Role, password};

const MAX_CAPACITY: u32 = 100;

/// How many of the team the widget's header shows.
pub const TEAM_SHOWN: u64 = 3;

pub(crate) struct NewUser {
    pub email: EmailAddress,
    pub name: String,
    pub role: Role,
    pub capacity: u32,
}

pub(crate) async fn insert_user(
    db: &WriteTxn,
    tenant: TenantId,
    new: NewUser,
    password_hash: String,
    now: Timestamp,
) -> CoreResult<user::Model> {
    let row = user::Model {
        id: UserId::new(),
        tenant_id: tenant,
        email: new.email.into_string(),
        name: new.name,
        role: new.role,
        password_hash,
        status: OperatorStatus::Offline,
        capacity: i32::try_from(new.capacity).unwrap_or(i32::MAX),
        active: true,
        created_at: now.millis(),
        alert_digests: true,
        avatar: None,
    };
    let active: user::ActiveModel = row.clone().into();
    match user::Entity::insert(active)
        .exec_without_returning(db)
        .await
    {
        Err(e) if is_unique_violation(&e) => Err(CoreError::Conflict(format!(
            "{} already has an account",
            row.email
        ))),
        other => other.map(|_| row).map_err(CoreError::from),
    }
}

/// An operator to create; the password is generated and returned once when absent.
#[derive(Clone, Debug, Default)]
pub struct NewOperator {
    pub email: String,
    pub name: String,
    pub password: Option<String>,
    pub role: Option<Role>,
    pub capacity: Option<u32>,
}

/// A partial change to an operator; absent fields keep their value.
#[derive(Clone, Debug, Default)]
pub struct OperatorPatch {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub capacity: Option<u32>,
    pub active: Option<bool>,
}

#[derive(Clone)]
pub struct OperatorService {
    deps: Arc<Deps>,
}

impl OperatorService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    pub(super) fn deps(&self) -> &Deps {
        &self.deps
    }

    /// Email and password login within a tenant. Every failure looks the same.
    pub async fn authenticate(
        &self,
        tenant_slug: &str,
        email: &str,
        password: &str,
    ) -> CoreResult<(OperatorActor, Operator)> {
        let denied = CoreError::Unauthorized("wrong tenant, email or password");
        let tenant = tenant::Entity::find()
            .filter(tenant::Column::Slug.eq(tenant_slug.trim()))
            .one(&self.deps.db)
            .await?;
        let email = EmailAddress::parse(email).ok();
        let row = match (&tenant, &email) {
            (Some(t), Some(e)) => {
                user::Entity::find()
                    .filter(user::Column::TenantId.eq(t.id))
                    .filter(user::Column::Email.eq(e.as_str()))
                    .one(&self.deps.db)
                    .await?
            }
            _ => None,
        };
        let ok = password::verify(
            password.to_owned(),
            row.as_ref().map(|r| r.password_hash.clone()),
        )
        .await?;
        match (tenant, row) {
            (Some(t), Some(row)) if ok && row.active => {
                if t.suspended {
                    return Err(CoreError::TenantSuspended);
                }
                Ok((actor_of(&row), Operator::from(row)))
            }
            _ => Err(denied),
        }
    }

    /// The actor behind a stored session, if the account may still act: a deactivated operator's
    /// sessions stop working at once.
    pub async fn actor(&self, tenant: TenantId, user: UserId) -> CoreResult<OperatorActor> {
        let row = self.active_user(tenant, user).await?;
        Ok(actor_of(&row))
    }

    pub async fn get(&self, actor: &OperatorActor, id: UserId) -> CoreResult<Operator> {
        Ok(self.user_row(actor.tenant, id).await?.into())
    }

    /// The tenant's operator `id`, active or not.
    pub(super) async fn user_row(&self, tenant: TenantId, id: UserId) -> CoreResult<user::Model> {
        user::Entity::find_by_id(id)
            .filter(user::Column::TenantId.eq(tenant))
            .one(&self.deps.db)
            .await?
            .ok_or(CoreError::NotFound("operator"))
    }

    pub async fn list(&self, actor: &OperatorActor) -> CoreResult<Vec<Operator>> {
        let rows = user::Entity::find()
            .filter(user::Column::TenantId.eq(actor.tenant))
            .order_by_asc(user::Column::CreatedAt)
            .all(&self.deps.db)
            .await?;
        Ok(rows.into_iter().map(Operator::from).collect())
    }

    /// The names a visitor sees beside replies: only of this tenant's operators among `ids`.
    pub async fn names(&self, tenant: TenantId, ids: &[UserId]) -> CoreResult<Vec<OperatorName>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(as_visitors_know(tenant)
            .filter(user::Column::Id.is_in(ids.iter().copied()))
            .into_model::<OperatorName>()
            .all(&self.deps.db)
            .await?)
    }

    pub async fn set_status(
        &self,
        actor: &OperatorActor,
        status: OperatorStatus,
    ) -> CoreResult<Operator> {
        let row = self.active_user(actor.tenant, actor.user).await?;
        if row.status != status {
            let txn = self.deps.write().await?;
            user::Entity::update_many()
                .col_expr(user::Column::Status, Expr::value(status))
                .filter(user::Column::Id.eq(actor.user))
                .filter(user::Column::TenantId.eq(actor.tenant))
                .exec(&txn)
                .await?;
            txn.commit().await?;
            self.deps.publish(DomainEvent::OperatorStatusChanged {
                tenant: actor.tenant,
                user: actor.user,
                status,
            });
            self.publish_availability(actor.tenant).await?;
        }
        Ok(Operator {
            status,
            ..row.into()
        })
    }

    /// The operator's own choice: alert digests by email while they are not online, or none.
    /// Choosing none drops the digest waiting for them.
    pub async fn choose_alert_digests(
        &self,
        actor: &OperatorActor,
        wanted: bool,
    ) -> CoreResult<Operator> {
        let row = self.active_user(actor.tenant, actor.user).await?;
        let txn = self.deps.write().await?;
        user::Entity::update_many()
            .col_expr(user::Column::AlertDigests, Expr::value(wanted))
            .filter(user::Column::Id.eq(actor.user))
            .filter(user::Column::TenantId.eq(actor.tenant))
            .exec(&txn)
            .await?;
        if !wanted {
            crate::alert::drop_digest(&txn, actor.tenant, actor.user).await?;
        }
        txn.commit().await?;
        Ok(Operator {
            alert_digests: wanted,
            ..row.into()
        })
    }

    /// Admins only. Returns the operator and, when it was generated, their password.
    pub async fn create(
        &self,
        actor: &OperatorActor,
        new: NewOperator,
    ) -> CoreResult<(Operator, Option<String>)> {
        actor.require_admin()?;
        let email = EmailAddress::parse(&new.email)?;
        let name = crate::text::parse_name(&new.name)?;
        let capacity = parse_capacity(new.capacity.unwrap_or(5))?;
        let (password, generated) = match new.password {
            Some(given) => {
                password::check_strength(&given)?;
                (given, None)
            }
            None => {
                let p = password::generate();
                (p.clone(), Some(p))
            }
        };
        let hash = password::hash(password).await?;
        let role = new.role.unwrap_or(Role::Operator);
        let txn = self.deps.write().await?;
        check_operator_limit(&txn, actor.tenant).await?;
        let row = insert_user(
            &txn,
            actor.tenant,
            NewUser {
                email,
                name,
                role,
                capacity,
            },
            hash,
            self.deps.clock.now(),
        )
        .await?;
        let target = Target::new(TargetKind::Operator, row.id, &row.name);
        let change = Change::created(&audited(&row));
        let now = self.deps.clock.now();
        audit::record(
            &txn,
            now,
            actor.into(),
            Some(actor.tenant),
            Action::OperatorCreated,
            target,
            change,
        )
        .await?;
        txn.commit().await?;
        Ok((row.into(), generated))
    }

    /// Admins only. The last active admin cannot be demoted or deactivated: the tenant would be
    /// locked out of its own console.
    pub async fn update(
        &self,
        actor: &OperatorActor,
        id: UserId,
        patch: OperatorPatch,
    ) -> CoreResult<Operator> {
        actor.require_admin()?;
        let txn = self.deps.write().await?;
        let row = user::Entity::find_by_id(id)
            .filter(user::Column::TenantId.eq(actor.tenant))
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("operator"))?;
        let loses_admin = row.role == Role::Admin
            && row.active
            && (patch.role == Some(Role::Operator) || patch.active == Some(false));
        if loses_admin {
            let admins = user::Entity::find()
                .filter(user::Column::TenantId.eq(actor.tenant))
                .filter(user::Column::Role.eq(Role::Admin))
                .filter(user::Column::Active.eq(true))
                .count(&txn)
                .await?;
            if admins <= 1 {
                return Err(CoreError::Conflict(
                    "the tenant must keep at least one active admin".into(),
                ));
            }
        }
        let mut change = user::ActiveModel {
            id: Set(id),
            ..Default::default()
        };
        if let Some(name) = &patch.name {
            change.name = Set(crate::text::parse_name(name)?);
        }
        if let Some(role) = patch.role {
            change.role = Set(role);
        }
        if let Some(capacity) = patch.capacity {
            change.capacity = Set(i32::try_from(parse_capacity(capacity)?).unwrap_or(i32::MAX));
        }
        if let Some(active) = patch.active {
            if active && !row.active {
                check_operator_limit(&txn, actor.tenant).await?;
            }
            change.active = Set(active);
            if !active {
                change.status = Set(OperatorStatus::Offline);
                super::session::revoke_all(&txn, actor.tenant, id, self.deps.clock.now()).await?;
            }
        }
        let updated = user::Entity::update(change).exec(&txn).await?;
        let target = Target::new(TargetKind::Operator, id, &updated.name);
        let change = Change::between(&audited(&row), &audited(&updated));
        let now = self.deps.clock.now();
        audit::record(
            &txn,
            now,
            actor.into(),
            Some(actor.tenant),
            Action::OperatorChanged,
            target,
            change,
        )
        .await?;
        txn.commit().await?;
        if updated.status != row.status {
            self.deps.publish(DomainEvent::OperatorStatusChanged {
                tenant: actor.tenant,
                user: id,
                status: updated.status,
            });
        }
        if patch.active == Some(false) {
            self.deps.publish(DomainEvent::AccessRevoked {
                tenant: actor.tenant,
                user: Some(id),
                session: None,
            });
        }
        if patch.active.is_some() || patch.capacity.is_some() {
            self.publish_availability(actor.tenant).await?;
        }
        Ok(updated.into())
    }

    /// Who answers, as the widget's header shows them: up to [`TEAM_SHOWN`] of the tenant's
    /// active operators, those online first.
    pub async fn team(&self, tenant: TenantId) -> CoreResult<Vec<OperatorName>> {
        let online_first: sea_orm::sea_query::SimpleExpr = Expr::case(
            Expr::col(user::Column::Status).eq(OperatorStatus::Online),
            0,
        )
        .finally(1)
        .into();
        Ok(as_visitors_know(tenant)
            .filter(user::Column::Active.eq(true))
            .order_by(online_first, sea_orm::Order::Asc)
            .order_by_asc(user::Column::CreatedAt)
            .limit(TEAM_SHOWN)
            .into_model::<OperatorName>()
            .all(&self.deps.db)
            .await?)
    }

    /// True when a visitor writing now would reach someone: an active operator is online and has
    /// fewer open chats than their capacity.
    pub async fn operators_available(&self, tenant: TenantId) -> CoreResult<bool> {
        operators_available(&self.deps.db, tenant).await
    }

    /// What the widget offers now: the chat while an operator is available, else the offline
    /// form — unless the tenant's plugins decide otherwise (business hours, say).
    pub async fn widget_availability(&self, tenant: TenantId) -> CoreResult<WidgetAvailability> {
        widget_availability(&self.deps, tenant).await
    }

    pub(crate) async fn publish_availability(&self, tenant: TenantId) -> CoreResult<()> {
        publish_availability(&self.deps, tenant).await
    }

    async fn active_user(&self, tenant: TenantId, user: UserId) -> CoreResult<user::Model> {
        let row = user::Entity::find_by_id(user)
            .filter(user::Column::TenantId.eq(tenant))
            .one(&self.deps.db)
            .await?
            .ok_or(CoreError::Unauthorized("unknown operator"))?;
        if !row.active {
            return Err(CoreError::Unauthorized("this account is deactivated"));
        }
        Ok(row)
    }
}

/// The tenant's operators as visitors know them: id, name and photo.
fn as_visitors_know(tenant: TenantId) -> sea_orm::Select<user::Entity> {
    user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Name)
        .column(user::Column::Avatar)
        .filter(user::Column::TenantId.eq(tenant))
}

pub(crate) async fn operators_available(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> CoreResult<bool> {
    Ok(staff(db, tenant).await?.available > 0)
}

/// The tenant's active online operators with their capacity, and the open chats each holds.
async fn online_loads(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> CoreResult<(Vec<(UserId, i32)>, HashMap<UserId, i64>)> {
    let online: Vec<(UserId, i32)> = online_now(tenant)
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Capacity)
        .into_tuple()
        .all(db)
        .await?;
    if online.is_empty() {
        return Ok((online, HashMap::new()));
    }
    let loads: HashMap<UserId, i64> = chat::Entity::find()
        .select_only()
        .column(chat::Column::OperatorId)
        .column_as(chat::Column::Id.count(), "open_chats")
        .filter(chat::Column::TenantId.eq(tenant))
        .filter(chat::Column::State.eq(ChatState::Open))
        .filter(chat::Column::OperatorId.is_in(online.iter().map(|(id, _)| *id)))
        .group_by(chat::Column::OperatorId)
        .into_tuple::<(UserId, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok((online, loads))
}

/// The tenant's active operators who are online.
fn online_now(tenant: TenantId) -> sea_orm::Select<user::Entity> {
    user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .filter(user::Column::Status.eq(OperatorStatus::Online))
        .filter(user::Column::Active.eq(true))
}

/// The ids of the tenant's active operators who are online, as a subquery (whether a wait that
/// starts now is one the team could answer at once).
pub(crate) fn online_operators(tenant: TenantId) -> sea_orm::sea_query::SelectStatement {
    online_now(tenant)
        .select_only()
        .column(user::Column::Id)
        .into_query()
}

/// The tenant's active operator with this address, as a login finds them.
pub(crate) async fn active_operator_by_email(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    email: &str,
) -> CoreResult<Option<UserId>> {
    let Ok(email) = EmailAddress::parse(email) else {
        return Ok(None);
    };
    Ok(user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::TenantId.eq(tenant))
        .filter(user::Column::Email.eq(email.as_str()))
        .filter(user::Column::Active.eq(true))
        .into_tuple()
        .one(db)
        .await?)
}

/// The tenant's operators now: online, and of those below their capacity.
pub(crate) async fn staff(db: &impl ConnectionTrait, tenant: TenantId) -> CoreResult<Staff> {
    let (online, loads) = online_loads(db, tenant).await?;
    let available = online
        .iter()
        .filter(|(id, capacity)| loads.get(id).copied().unwrap_or(0) < i64::from(*capacity))
        .count();
    Ok(Staff {
        online: u32::try_from(online.len()).unwrap_or(u32::MAX),
        available: u32::try_from(available).unwrap_or(u32::MAX),
    })
}

pub(crate) async fn widget_availability(
    deps: &Deps,
    tenant: TenantId,
) -> CoreResult<WidgetAvailability> {
    let staff = staff(&deps.db, tenant).await?;
    let facts = TenantFacts::kept(deps, tenant, deps.clock.now()).await?;
    let decided = within_wait(
        "availability",
        tenant,
        deps.automation.availability(&facts, staff),
    )
    .await;
    Ok(decided.unwrap_or(WidgetAvailability {
        chat: staff.available > 0,
        message: None,
        recheck: false,
    }))
}

/// Tells the widgets whether an operator is available now. The tenant's plugins are not asked
/// here, on every assignment: a widget whose chat a plugin decides asks again itself (its
/// configuration says so).
pub(crate) async fn publish_availability(deps: &Deps, tenant: TenantId) -> CoreResult<()> {
    let operators_available = operators_available(&deps.db, tenant).await?;
    deps.publish(DomainEvent::AvailabilityChanged {
        tenant,
        operators_available,
    });
    Ok(())
}

/// Refuses one more active account when the tenant has as many as its limits allow.
async fn check_operator_limit(db: &impl ConnectionTrait, tenant_id: TenantId) -> CoreResult<()> {
    let row = tenant::Entity::find_by_id(tenant_id)
        .one(db)
        .await?
        .ok_or(CoreError::NotFound("tenant"))?;
    let allowed = parse_limits(&row.limits)?.operators;
    let active = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Active.eq(true))
        .count(db)
        .await?;
    if active >= u64::from(allowed) {
        return Err(CoreError::LimitReached(format!(
            "this tenant may have {allowed} active operators; deactivate one or ask for more"
        )));
    }
    Ok(())
}

/// What the audit trail keeps of an operator's account.
fn audited(row: &user::Model) -> serde_json::Value {
    serde_json::json!({
        "email": row.email,
        "name": row.name,
        "role": row.role,
        "capacity": row.capacity,
        "active": row.active,
    })
}

fn actor_of(row: &user::Model) -> OperatorActor {
    OperatorActor {
        tenant: row.tenant_id,
        user: row.id,
        role: row.role,
        from: None,
    }
}

fn parse_capacity(capacity: u32) -> CoreResult<u32> {
    if (1..=MAX_CAPACITY).contains(&capacity) {
        Ok(capacity)
    } else {
        Err(CoreError::invalid(
            "capacity",
            format!("must be from 1 to {MAX_CAPACITY} open chats"),
        ))
    }
}
