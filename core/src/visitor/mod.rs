//! Visitors: people on a tenant's site, known by a token kept in their browser, and by a resume
//! link from an email on another device.

pub(crate) mod context;
mod context_feed;
mod erasure;
mod retention;
pub(crate) mod service;
mod unsubscribe;

use serde::Serialize;

use crate::clock::Timestamp;
use crate::entity::visitor;
use crate::ids::{TenantId, VisitorId};

pub(crate) use context::context_of;
pub use context::{PAGES_SHOWN, PageReport, PageView, VisitorContext};
pub use erasure::Erasure;
pub(crate) use erasure::erase_dev_mails;
pub use retention::Retained;
pub(crate) use service::load;
pub use service::{ProfilePatch, Session, SessionRequest, VisitorService};

/// An authenticated visitor acting within one tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VisitorActor {
    pub tenant: TenantId,
    pub visitor: VisitorId,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Visitor {
    pub id: VisitorId,
    pub name: Option<String>,
    pub email: Option<String>,
    pub locale: Option<String>,
    pub online: bool,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// They stopped unread-reply emails with the link in one.
    pub emails_stopped: bool,
    /// Their address is confirmed: they followed a link mailed to it.
    pub email_confirmed: bool,
}

impl From<visitor::Model> for Visitor {
    fn from(row: visitor::Model) -> Self {
        let email_confirmed = row.email.is_some() && row.email_confirmed == row.email;
        Self {
            id: row.id,
            name: row.name,
            email: row.email,
            locale: row.locale,
            online: row.online,
            created_at: Timestamp::from_millis(row.created_at),
            last_seen_at: Timestamp::from_millis(row.last_seen_at),
            emails_stopped: row.emails_stopped,
            email_confirmed,
        }
    }
}
