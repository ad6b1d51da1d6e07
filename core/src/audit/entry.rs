//! An entry of the trail as the API shows it, and the names of what can happen.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::entity::audit_event;
use crate::ids::{AuditEventId, TenantId, UserId};

/// What was done. New kinds of change get a new name; a name never changes meaning.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "snake_case")]
pub enum Action {
    #[sea_orm(string_value = "tenant_created")]
    TenantCreated,
    #[sea_orm(string_value = "tenant_suspended")]
    TenantSuspended,
    #[sea_orm(string_value = "tenant_resumed")]
    TenantResumed,
    #[sea_orm(string_value = "limits_changed")]
    LimitsChanged,
    #[sea_orm(string_value = "settings_changed")]
    SettingsChanged,
    #[sea_orm(string_value = "email_template_saved")]
    EmailTemplateSaved,
    #[sea_orm(string_value = "email_template_reset")]
    EmailTemplateReset,
    #[sea_orm(string_value = "operator_created")]
    OperatorCreated,
    #[sea_orm(string_value = "operator_changed")]
    OperatorChanged,
    #[sea_orm(string_value = "photo_changed")]
    PhotoChanged,
    #[sea_orm(string_value = "photo_removed")]
    PhotoRemoved,
    #[sea_orm(string_value = "plugin_installed")]
    PluginInstalled,
    #[sea_orm(string_value = "plugin_changed")]
    PluginChanged,
    #[sea_orm(string_value = "plugin_settings_saved")]
    PluginSettingsSaved,
    #[sea_orm(string_value = "plugin_deleted")]
    PluginDeleted,
    #[sea_orm(string_value = "canned_reply_created")]
    CannedReplyCreated,
    #[sea_orm(string_value = "canned_reply_changed")]
    CannedReplyChanged,
    #[sea_orm(string_value = "canned_reply_deleted")]
    CannedReplyDeleted,
    #[sea_orm(string_value = "webhook_secret_rotated")]
    WebhookSecretRotated,
    /// A visitor's data erased on request (what was erased is, of course, not recorded).
    #[sea_orm(string_value = "visitor_erased")]
    VisitorErased,
    /// An export of the company's data (or one visitor's) asked for.
    #[sea_orm(string_value = "export_requested")]
    ExportRequested,
    /// A ready export downloaded.
    #[sea_orm(string_value = "export_downloaded")]
    ExportDownloaded,
    /// The platform scheduled the company's deletion, after a grace period.
    #[sea_orm(string_value = "tenant_deletion_scheduled")]
    TenantDeletionScheduled,
    /// The platform called a scheduled deletion off during its grace period.
    #[sea_orm(string_value = "tenant_deletion_cancelled")]
    TenantDeletionCancelled,
    /// The company and everything it owned were deleted (an entry of the installation's,
    /// kept when the company's own trail went with it).
    #[sea_orm(string_value = "tenant_deleted")]
    TenantDeleted,
}

/// Who acted: a tenant admin, an operator (on their own profile), or the platform operator.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    #[sea_orm(string_value = "admin")]
    Admin,
    #[sea_orm(string_value = "operator")]
    Operator,
    #[sea_orm(string_value = "platform")]
    Platform,
}

/// What was changed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    #[sea_orm(string_value = "tenant")]
    Tenant,
    #[sea_orm(string_value = "settings")]
    Settings,
    #[sea_orm(string_value = "email_template")]
    EmailTemplate,
    #[sea_orm(string_value = "operator")]
    Operator,
    #[sea_orm(string_value = "plugin")]
    Plugin,
    #[sea_orm(string_value = "canned_reply")]
    CannedReply,
    #[sea_orm(string_value = "webhook_secret")]
    WebhookSecret,
    #[sea_orm(string_value = "visitor")]
    Visitor,
    #[sea_orm(string_value = "export")]
    Export,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditActor {
    pub kind: ActorKind,
    /// The admin's or operator's id; none for the platform.
    pub id: Option<UserId>,
    /// Their email when they acted, or how the platform acted ("platform API", "command line").
    pub label: String,
    /// The address the change came from, when known.
    pub ip: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditTarget {
    pub kind: TargetKind,
    pub id: Option<String>,
    /// Its name when it changed.
    pub label: String,
}

/// One change: who, when, from where, to what, and the changed fields before and after.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: AuditEventId,
    pub at: Timestamp,
    /// None for a change to the installation itself.
    pub tenant_id: Option<TenantId>,
    pub actor: AuditActor,
    pub action: Action,
    pub target: AuditTarget,
    /// The changed fields as they were (none for something created). Secrets read
    /// `"[redacted]"`, long texts are cut.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub before: Option<serde_json::Value>,
    /// The changed fields as they became (none for something deleted).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub after: Option<serde_json::Value>,
}

impl From<audit_event::Model> for AuditEntry {
    fn from(row: audit_event::Model) -> Self {
        // Written by `record` from serde_json values: anything else is not shown.
        let json = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
        Self {
            id: row.id,
            at: Timestamp::from_millis(row.at),
            tenant_id: row.tenant_id,
            actor: AuditActor {
                kind: row.actor_kind,
                id: row.actor_id,
                label: row.actor_label,
                ip: row.actor_ip,
            },
            action: row.action,
            target: AuditTarget {
                kind: row.target_kind,
                id: row.target_id,
                label: row.target_label,
            },
            before: json(row.before),
            after: json(row.after),
        }
    }
}
