//! Creating tenants (with their first admin) and reading and changing their settings.

use std::sync::Arc;

use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, PaginatorTrait, QueryOrder, QuerySelect};
use serde::Serialize;

use crate::audit::{self, Action, Change, PlatformActor, Target, TargetKind};
use crate::clock::Timestamp;
use crate::email::EmailAddress;
use crate::entity::tenant;
use crate::error::{CoreError, CoreResult, is_unique_violation};
use crate::events::DomainEvent;
use crate::ids::TenantId;
use crate::operator::{NewUser, OperatorActor, Role, insert_user, password};
use crate::secret;
use crate::services::Deps;

use super::limits::{LimitsPatch, TenantLimits};
use super::settings::{SettingsPatch, TenantSettings};

pub struct NewTenant {
    pub slug: String,
    pub name: String,
    pub admin_email: String,
    /// Generated (and returned once) when absent.
    pub admin_password: Option<String>,
}

/// What `tandem tenant create` prints: the only time the admin password is shown.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct CreatedTenant {
    pub tenant_id: TenantId,
    pub slug: String,
    pub widget_key: String,
    pub admin: CreatedAdmin,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct CreatedAdmin {
    pub email: String,
    pub password: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub widget_key: String,
    pub settings: TenantSettings,
    pub limits: TenantLimits,
    pub suspended: bool,
    pub created_at: Timestamp,
    /// The platform scheduled the tenant's deletion for this time.
    pub deletion_due_at: Option<Timestamp>,
}

impl TryFrom<tenant::Model> for Tenant {
    type Error = CoreError;

    fn try_from(row: tenant::Model) -> CoreResult<Self> {
        let settings = parse_settings(&row.settings)?;
        let limits = parse_limits(&row.limits)?;
        Ok(Self {
            id: row.id,
            slug: row.slug,
            name: row.name,
            widget_key: row.widget_key,
            settings,
            limits,
            suspended: row.suspended,
            created_at: Timestamp::from_millis(row.created_at),
            deletion_due_at: row.deletion_due_at.map(Timestamp::from_millis),
        })
    }
}

pub(crate) fn parse_limits(json: &str) -> CoreResult<TenantLimits> {
    serde_json::from_str(json)
        .map_err(|e| CoreError::Storage(DbErr::Json(format!("tenant limits: {e}"))))
}

pub(crate) fn parse_settings(json: &str) -> CoreResult<TenantSettings> {
    serde_json::from_str(json)
        .map_err(|e| CoreError::Storage(DbErr::Json(format!("tenant settings: {e}"))))
}

#[derive(Clone)]
pub struct TenantService {
    deps: Arc<Deps>,
}

impl TenantService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    pub(super) fn deps(&self) -> &Deps {
        &self.deps
    }

    pub async fn create(&self, by: &PlatformActor, new: NewTenant) -> CoreResult<CreatedTenant> {
        let slug = parse_slug(&new.slug)?;
        let name = crate::text::parse_name(&new.name)?;
        let email = EmailAddress::parse(&new.admin_email)?;
        let password = match new.admin_password {
            Some(given) => password::check_strength(&given).map(|()| given)?,
            None => password::generate(),
        };
        let password_hash = password::hash(password.clone()).await?;

        let now = self.deps.clock.now();
        let id = TenantId::new();
        let widget_key = secret::generate("wk");
        let settings =
            serde_json::to_string(&TenantSettings::default()).expect("settings serialize");
        let txn = self.deps.write().await?;
        let inserted = tenant::Entity::insert(tenant::ActiveModel {
            id: Set(id),
            slug: Set(slug.clone()),
            name: Set(name.to_owned()),
            widget_key: Set(widget_key.clone()),
            settings: Set(settings),
            limits: Set("{}".to_owned()),
            suspended: Set(false),
            created_at: Set(now.millis()),
            deletion_due_at: Set(None),
        })
        .exec_without_returning(&txn)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                return Err(CoreError::Conflict(format!("slug {slug:?} is taken")));
            }
            other => other?,
        };
        let admin = NewUser {
            email: email.clone(),
            name: "Admin".into(),
            role: Role::Admin,
            capacity: 5,
        };
        insert_user(&txn, id, admin, password_hash, now).await?;
        let created =
            serde_json::json!({"slug": slug, "name": name, "admin_email": email.as_str()});
        let target = Target::new(TargetKind::Tenant, id, name);
        let change = Change::created(&created);
        audit::record(
            &txn,
            now,
            by.into(),
            Some(id),
            Action::TenantCreated,
            target,
            change,
        )
        .await?;
        txn.commit().await?;
        tracing::info!(tenant = %id, %slug, "tenant created");
        Ok(CreatedTenant {
            tenant_id: id,
            slug,
            widget_key,
            admin: CreatedAdmin {
                email: email.into_string(),
                password,
            },
        })
    }

    pub async fn count(&self) -> CoreResult<u64> {
        Ok(tenant::Entity::find().count(&self.deps.db).await?)
    }

    pub async fn list(&self) -> CoreResult<Vec<Tenant>> {
        let rows = tenant::Entity::find()
            .order_by_asc(tenant::Column::CreatedAt)
            .all(&self.deps.db)
            .await?;
        rows.into_iter().map(Tenant::try_from).collect()
    }

    pub async fn by_id(&self, id: TenantId) -> CoreResult<Tenant> {
        let row = tenant::Entity::find_by_id(id).one(&self.deps.db).await?;
        row.ok_or(CoreError::NotFound("tenant"))?.try_into()
    }

    pub async fn by_slug(&self, slug: &str) -> CoreResult<Tenant> {
        let row = tenant::Entity::find()
            .filter(tenant::Column::Slug.eq(slug))
            .one(&self.deps.db)
            .await?;
        row.ok_or(CoreError::NotFound("tenant"))?.try_into()
    }

    /// The tenant whose widget is asking; a suspended tenant's widget is refused.
    pub async fn by_widget_key(&self, key: &str) -> CoreResult<Tenant> {
        if !secret::looks_like(key, "wk") {
            return Err(CoreError::NotFound("tenant"));
        }
        let row = tenant::Entity::find()
            .filter(tenant::Column::WidgetKey.eq(key))
            .one(&self.deps.db)
            .await?;
        let tenant: Tenant = row.ok_or(CoreError::NotFound("tenant"))?.try_into()?;
        if tenant.suspended {
            return Err(CoreError::TenantSuspended);
        }
        Ok(tenant)
    }

    pub async fn settings(&self, tenant: TenantId) -> CoreResult<TenantSettings> {
        Ok(self.by_id(tenant).await?.settings)
    }

    /// Admins only. A refused patch changes nothing.
    pub async fn update_settings(
        &self,
        actor: &OperatorActor,
        patch: SettingsPatch,
    ) -> CoreResult<TenantSettings> {
        actor.require_admin()?;
        let txn = self.deps.write().await?;
        let row = tenant::Entity::find_by_id(actor.tenant)
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("tenant"))?;
        let before = parse_settings(&row.settings)?;
        let next = before.apply(patch)?;
        let json = serde_json::to_string(&next).expect("settings serialize");
        tenant::Entity::update(tenant::ActiveModel {
            id: Set(actor.tenant),
            settings: Set(json),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
        let change = Change::between(&before, &next).with_urls_hidden_in("webhook_urls");
        let target = Target::the(TargetKind::Settings, "settings");
        let now = self.deps.clock.now();
        audit::record(
            &txn,
            now,
            actor.into(),
            Some(actor.tenant),
            Action::SettingsChanged,
            target,
            change,
        )
        .await?;
        txn.commit().await?;
        self.deps.tenant_settings.forget(actor.tenant);
        Ok(next)
    }

    /// The platform admin changes what the tenant is allowed.
    pub async fn set_limits(
        &self,
        by: &PlatformActor,
        id: TenantId,
        patch: LimitsPatch,
    ) -> CoreResult<Tenant> {
        let txn = self.deps.write().await?;
        let row = tenant::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("tenant"))?;
        let before = parse_limits(&row.limits)?;
        let next = before.apply(patch)?;
        let json = serde_json::to_string(&next)
            .map_err(|e| CoreError::Storage(DbErr::Json(e.to_string())))?;
        tenant::Entity::update(tenant::ActiveModel {
            id: Set(id),
            limits: Set(json),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
        let target = Target::new(TargetKind::Tenant, id, row.name);
        let change = Change::between(&before, &next);
        let now = self.deps.clock.now();
        audit::record(
            &txn,
            now,
            by.into(),
            Some(id),
            Action::LimitsChanged,
            target,
            change,
        )
        .await?;
        txn.commit().await?;
        self.deps.quotas.forget(id);
        self.by_id(id).await
    }

    /// The platform admin's switch: a suspended tenant's widget answers "suspended"; nothing is
    /// deleted.
    pub async fn set_suspended(
        &self,
        by: &PlatformActor,
        id: TenantId,
        suspended: bool,
    ) -> CoreResult<Tenant> {
        let txn = self.deps.write().await?;
        // Locked, so that a deletion scheduled at the same moment is seen.
        let row = tenant::Entity::find_by_id(id)
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("tenant"))?;
        if !suspended && row.deletion_due_at.is_some() {
            return Err(CoreError::Conflict(
                "the company's deletion is scheduled; call it off before resuming it".into(),
            ));
        }
        if row.suspended != suspended {
            tenant::Entity::update_many()
                .col_expr(tenant::Column::Suspended, Expr::value(suspended))
                .filter(tenant::Column::Id.eq(id))
                .exec(&txn)
                .await?;
            let action = if suspended {
                Action::TenantSuspended
            } else {
                Action::TenantResumed
            };
            let target = Target::new(TargetKind::Tenant, id, row.name);
            let change = Change::between(
                &serde_json::json!({"suspended": row.suspended}),
                &serde_json::json!({"suspended": suspended}),
            );
            let now = self.deps.clock.now();
            audit::record(&txn, now, by.into(), Some(id), action, target, change).await?;
        }
        txn.commit().await?;
        if suspended {
            self.deps.publish(DomainEvent::AccessRevoked {
                tenant: id,
                user: None,
                session: None,
            });
        }
        self.by_id(id).await
    }
}

pub(crate) fn parse_slug(raw: &str) -> CoreResult<String> {
    let slug = raw.trim();
    let ok = (2..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(slug.to_owned())
    } else {
        Err(CoreError::invalid(
            "slug",
            "must be 2 to 63 of a-z, 0-9 and '-', not starting or ending with '-'",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_slug;

    #[test]
    fn slugs() {
        for good in ["acme", "a1", "acme-shop", "0x"] {
            assert_eq!(parse_slug(good).unwrap(), good);
        }
        for bad in [
            "",
            "a",
            "Acme",
            "acme_shop",
            "-acme",
            "acme-",
            "ac me",
            &"a".repeat(64),
        ] {
            assert!(parse_slug(bad).is_err(), "{bad:?}");
        }
    }
}
