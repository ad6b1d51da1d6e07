use sea_orm::entity::prelude::*;

use crate::ids::{PushSubscriptionId, TenantId, UserId};

/// A browser where an operator opted in to Web Push: the push service's endpoint for it and
/// the keys its payloads are encrypted to.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "push_subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: PushSubscriptionId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub endpoint: String,
    /// The endpoint's SHA-256 in hex: unique, so one browser belongs to one operator.
    pub endpoint_key: String,
    /// The browser's P-256 public key, base64url.
    pub p256dh: String,
    /// The browser's authentication secret, base64url.
    pub auth: String,
    /// The browser and OS, as the operator's user agent said when opting in.
    pub label: String,
    pub created_at: i64,
    pub last_sent_at: Option<i64>,
    /// Why the last push to it failed, if it did.
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
