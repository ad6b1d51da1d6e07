//! Operators and tenant admins: who they are, whether they are online, how many chats they take,
//! and the `operators_available` rule that decides between the chat and the offline form.

mod avatar;
pub(crate) use avatar::key as avatar_key;
pub mod password;
mod service;
mod session;

use std::net::IpAddr;

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::entity::user;
use crate::error::{CoreError, CoreResult};
use crate::ids::{AvatarId, TenantId, UserId};

pub use avatar::AVATAR_MAX_BYTES;
pub use service::{NewOperator, OperatorPatch, OperatorService};
pub(crate) use service::{
    NewUser, active_operator_by_email, insert_user, online_operators, publish_availability, staff,
};
pub use session::{Login, SESSION_LIFETIME, session_key};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[sea_orm(string_value = "operator")]
    Operator,
    #[sea_orm(string_value = "admin")]
    Admin,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum OperatorStatus {
    #[sea_orm(string_value = "online")]
    Online,
    #[sea_orm(string_value = "away")]
    Away,
    #[sea_orm(string_value = "offline")]
    Offline,
}

/// An authenticated operator or admin acting within their tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperatorActor {
    pub tenant: TenantId,
    pub user: UserId,
    pub role: Role,
    /// The address their request came from, when known: the audit trail records it.
    pub from: Option<IpAddr>,
}

impl OperatorActor {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn require_admin(&self) -> CoreResult<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(CoreError::NotAllowed("only a tenant admin may do this"))
        }
    }
}

/// An operator as the API shows them (never the password hash).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Operator {
    pub id: UserId,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub status: OperatorStatus,
    pub capacity: u32,
    pub active: bool,
    pub created_at: Timestamp,
    /// Alert digests come to them by email while they are not online.
    pub alert_digests: bool,
    /// Their photo's id (part of its address); none: their initials are shown.
    pub avatar: Option<AvatarId>,
}

/// An operator as a visitor knows them: the name and photo beside their replies.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sea_orm::FromQueryResult)]
pub struct OperatorName {
    pub id: UserId,
    pub name: String,
    /// Their photo's id (part of its address); none: show their initials.
    #[serde(default)]
    pub avatar: Option<AvatarId>,
}

impl From<user::Model> for Operator {
    fn from(row: user::Model) -> Self {
        Self {
            id: row.id,
            name: row.name,
            email: row.email,
            role: row.role,
            status: row.status,
            capacity: u32::try_from(row.capacity).unwrap_or(0),
            active: row.active,
            created_at: Timestamp::from_millis(row.created_at),
            alert_digests: row.alert_digests,
            avatar: row.avatar,
        }
    }
}
