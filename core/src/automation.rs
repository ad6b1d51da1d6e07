//! Automation at the moments of a conversation: the port through which a tenant's plugins act
//! when a visitor sends the offline form, when the widget asks whether anyone can answer, and
//! after an operator closes a chat. Core asks once its own write has committed (never inside a
//! transaction), waits at most [`HOOK_WAIT`], checks what comes back against the tenant's own
//! data, and without a usable answer does what it always does.

use std::time::Duration;

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::entity::{tenant, visitor};
use crate::error::{CoreError, CoreResult};
use crate::ids::{ChatId, PluginId, TenantId};
use crate::services::Deps;
use crate::tenant::{TenantSettings, parse_settings};

/// How long core waits for the tenant's plugins before going on without them.
pub const HOOK_WAIT: Duration = Duration::from_secs(2);

/// What a tenant's plugins are told about one dialog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialogContext {
    pub tenant: TenantId,
    pub tenant_slug: String,
    pub chat: ChatId,
    pub visitor: crate::ids::VisitorId,
    pub visitor_name: Option<String>,
    pub visitor_locale: Option<String>,
    pub visitor_has_email: bool,
    pub now: Timestamp,
    /// The tenant's `offline_timeout_secs` setting.
    pub tenant_timeout: Duration,
    /// The webhook URLs the tenant's admin allowed.
    pub webhook_urls: Vec<String>,
}

impl DialogContext {
    /// The facts of `chat`, whose visitor is `visitor`, at `now`.
    pub(crate) async fn load(
        db: &impl ConnectionTrait,
        tenant: TenantId,
        chat: ChatId,
        visitor: &visitor::Model,
        now: Timestamp,
    ) -> CoreResult<Self> {
        Ok(Self::of(
            TenantFacts::load(db, tenant, now).await?,
            chat,
            visitor,
        ))
    }

    /// The facts of `chat`, whose visitor is `visitor`, beside its tenant's.
    pub(crate) fn of(facts: TenantFacts, chat: ChatId, visitor: &visitor::Model) -> Self {
        Self {
            tenant: facts.tenant,
            tenant_slug: facts.tenant_slug,
            chat,
            visitor: visitor.id,
            visitor_name: visitor.name.clone(),
            visitor_locale: visitor.locale.clone(),
            visitor_has_email: visitor.email.is_some(),
            now: facts.now,
            tenant_timeout: facts.tenant_timeout,
            webhook_urls: facts.webhook_urls,
        }
    }
}

/// What a tenant's plugins are told when no dialog is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantFacts {
    pub tenant: TenantId,
    pub tenant_slug: String,
    pub now: Timestamp,
    pub tenant_timeout: Duration,
    pub webhook_urls: Vec<String>,
}

impl TenantFacts {
    pub(crate) async fn load(
        db: &impl ConnectionTrait,
        tenant: TenantId,
        now: Timestamp,
    ) -> CoreResult<Self> {
        let row = tenant::Entity::find_by_id(tenant)
            .one(db)
            .await?
            .ok_or(CoreError::NotFound("tenant"))?;
        let settings = parse_settings(&row.settings)?;
        Ok(Self::of(tenant, row.slug, &settings, now))
    }

    /// The same from the settings this process keeps (read at most a moment ago), for the paths
    /// every message takes.
    pub(crate) async fn kept(deps: &Deps, tenant: TenantId, now: Timestamp) -> CoreResult<Self> {
        let kept = deps.tenant_settings.get(&deps.db, tenant).await?;
        Ok(Self::of(tenant, kept.slug.clone(), &kept.settings, now))
    }

    fn of(
        tenant: TenantId,
        tenant_slug: String,
        settings: &TenantSettings,
        now: Timestamp,
    ) -> Self {
        Self {
            tenant,
            tenant_slug,
            now,
            tenant_timeout: settings.offline_timeout(),
            webhook_urls: settings.webhook_urls.clone(),
        }
    }
}

/// What the visitor wrote in the offline form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestFacts {
    pub name: Option<String>,
    pub email: String,
    pub message: String,
    pub page_url: Option<String>,
}

/// How urgent a chat is, as a plugin judged it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    #[sea_orm(string_value = "low")]
    Low,
    #[sea_orm(string_value = "normal")]
    Normal,
    #[sea_orm(string_value = "high")]
    High,
    #[sea_orm(string_value = "urgent")]
    Urgent,
}

/// What to do with an offline request beyond keeping it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestDecision {
    /// Shown in the dialog as the company's automatic answer.
    pub auto_reply: Option<String>,
    pub tags: Vec<String>,
    pub priority: Option<Priority>,
    /// The email of an operator of the tenant.
    pub assign_to: Option<String>,
}

/// An answer and the plugin that gave it, so that an answer core cannot apply is that plugin's
/// failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decided<T> {
    pub answer: T,
    pub plugin: PluginId,
}

/// Who is there to answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Staff {
    /// Active operators whose status is online.
    pub online: u32,
    /// Of those, the ones below their chat capacity.
    pub available: u32,
}

/// What the widget shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WidgetAvailability {
    /// Whether the chat is offered (else the offline form).
    pub chat: bool,
    /// The line shown with it, when a plugin gave one.
    pub message: Option<String>,
    /// Whether the tenant's plugins were asked (whatever they answered): their answer may
    /// change with the time of day, not only with the operators, so the widget asks again.
    pub recheck: bool,
}

/// A chat an operator closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosedFacts {
    pub closed_by: String,
    pub messages: u32,
    pub opened_at: Timestamp,
    pub closed_at: Timestamp,
}

/// A webhook a plugin asked for; the URL is one of the tenant's allowed ones (checked by the
/// implementation, as for unread replies), the body JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookPost {
    pub url: String,
    pub body: String,
}

/// The tenant's plugins at the moments of a conversation. Every method may answer nothing:
/// Tandem's own behaviour.
#[async_trait::async_trait]
pub trait ConversationHooks: Send + Sync + 'static {
    async fn offline_request(
        &self,
        _ctx: &DialogContext,
        _request: &RequestFacts,
    ) -> Option<Decided<RequestDecision>> {
        None
    }

    async fn availability(
        &self,
        _tenant: &TenantFacts,
        _staff: Staff,
    ) -> Option<WidgetAvailability> {
        None
    }

    async fn chat_closed(
        &self,
        _ctx: &DialogContext,
        _closed: &ClosedFacts,
    ) -> Option<Decided<Vec<WebhookPost>>> {
        None
    }

    /// An answer core could not apply (an operator the tenant does not have, say): the plugin
    /// that gave it hears of it as a failure.
    async fn refused(
        &self,
        _tenant: TenantId,
        _plugin: PluginId,
        _hook: &'static str,
        _reason: &str,
    ) {
    }
}

/// No plugins: Tandem's own behaviour everywhere.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAutomation;

impl ConversationHooks for NoAutomation {}

/// `answer`, or nothing when it takes longer than [`HOOK_WAIT`].
pub(crate) async fn within_wait<T>(
    what: &'static str,
    tenant: TenantId,
    answer: impl Future<Output = Option<T>>,
) -> Option<T> {
    match tokio::time::timeout(HOOK_WAIT, answer).await {
        Ok(answer) => answer,
        Err(_) => {
            tracing::warn!(%tenant, hook = what, "the tenant's plugins took too long; Tandem's own behaviour was used");
            None
        }
    }
}
