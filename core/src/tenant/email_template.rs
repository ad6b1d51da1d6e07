//! The three parts of an unread-reply email, and a tenant's own template of them. Core keeps
//! the handlebars sources; the worker crate checks that they compile and render before they
//! are saved.

use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Action, Change, Target, TargetKind};
use crate::entity::email_template;
use crate::error::{CoreError, CoreResult};
use crate::ids::TenantId;
use crate::operator::OperatorActor;

use super::TenantService;

/// Sources longer than this are refused: a template is a page of markup, not a payload.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;

/// An email's subject, HTML and plain-text parts: handlebars sources in a template (a tenant's,
/// a plugin's, a built-in one), and the finished mail once rendered.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailParts {
    /// Not blank.
    #[cfg_attr(feature = "openapi", schema(pattern = r"\S"))]
    pub subject: String,
    pub html: String,
    pub text: String,
}

impl EmailParts {
    pub fn check_size(&self) -> CoreResult<()> {
        for (field, value) in [
            ("subject", &self.subject),
            ("html", &self.html),
            ("text", &self.text),
        ] {
            if value.len() > MAX_TEMPLATE_BYTES {
                return Err(CoreError::invalid(
                    field,
                    format!("must be at most {MAX_TEMPLATE_BYTES} bytes"),
                ));
            }
        }
        if self.subject.trim().is_empty() {
            return Err(CoreError::invalid("subject", "must not be empty"));
        }
        Ok(())
    }
}

impl TenantService {
    /// The tenant's own template, if it has one.
    pub async fn email_template(&self, tenant: TenantId) -> CoreResult<Option<EmailParts>> {
        template_of(&self.deps().db, tenant).await
    }

    /// Admins only. The caller has checked that the sources compile and render.
    pub async fn set_email_template(
        &self,
        actor: &OperatorActor,
        sources: EmailParts,
    ) -> CoreResult<()> {
        actor.require_admin()?;
        sources.check_size()?;
        let now = self.deps().clock.now();
        let txn = self.deps().write().await?;
        let change = match template_of(&txn, actor.tenant).await? {
            Some(old) => Change::between(&old, &sources),
            None => Change::created(&sources),
        };
        audit::record(
            &txn,
            now,
            actor.into(),
            Some(actor.tenant),
            Action::EmailTemplateSaved,
            target(),
            change,
        )
        .await?;
        email_template::Entity::insert(email_template::ActiveModel {
            tenant_id: Set(actor.tenant),
            subject: Set(sources.subject),
            html: Set(sources.html),
            text: Set(sources.text),
            updated_at: Set(now.millis()),
        })
        .on_conflict(
            OnConflict::column(email_template::Column::TenantId)
                .update_columns([
                    email_template::Column::Subject,
                    email_template::Column::Html,
                    email_template::Column::Text,
                    email_template::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Admins only: back to the built-in template.
    pub async fn reset_email_template(&self, actor: &OperatorActor) -> CoreResult<()> {
        actor.require_admin()?;
        let txn = self.deps().write().await?;
        if let Some(old) = template_of(&txn, actor.tenant).await? {
            email_template::Entity::delete_by_id(actor.tenant)
                .exec(&txn)
                .await?;
            let now = self.deps().clock.now();
            let change = Change::removed(&old);
            audit::record(
                &txn,
                now,
                actor.into(),
                Some(actor.tenant),
                Action::EmailTemplateReset,
                target(),
                change,
            )
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

pub(crate) async fn template_of(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> CoreResult<Option<EmailParts>> {
    Ok(email_template::Entity::find_by_id(tenant)
        .one(db)
        .await?
        .map(|row| EmailParts {
            subject: row.subject,
            html: row.html,
            text: row.text,
        }))
}

fn target() -> Target {
    Target::the(TargetKind::EmailTemplate, "unread-reply email")
}
