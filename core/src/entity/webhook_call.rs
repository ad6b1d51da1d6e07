use sea_orm::entity::prelude::*;

use crate::delivery::WebhookStatus;
use crate::ids::{ChatId, PluginId, TenantId, VisitorId, WebhookCallId};

/// One webhook post a plugin routed a batch to: waiting, in flight, or done.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_calls")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: WebhookCallId,
    pub tenant_id: TenantId,
    pub chat_id: ChatId,
    pub visitor_id: VisitorId,
    /// The plugin that chose it.
    pub plugin_id: Option<PluginId>,
    pub url: String,
    pub body: String,
    /// The batch's messages, as a JSON array of ids.
    pub message_ids: String,
    /// Chat, messages and URL hashed: a batch routed twice posts once.
    pub dedupe_key: String,
    pub status: WebhookStatus,
    pub attempts: i32,
    pub due_at: i64,
    /// While `sending`: the worker's claim runs until then.
    pub claimed_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub processed_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
