use sea_orm::entity::prelude::*;

use crate::ids::{AlertId, PushSendId, PushSubscriptionId, TenantId};
use crate::push::PushStatus;

/// One alert's push to one browser: waiting, in flight, or done.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "push_sends")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: PushSendId,
    pub tenant_id: TenantId,
    pub subscription_id: PushSubscriptionId,
    pub alert_id: AlertId,
    /// The notification, as JSON, before encryption.
    pub payload: String,
    pub status: PushStatus,
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
