use sea_orm::entity::prelude::*;

use crate::ids::{TenantId, VisitorId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "visitors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: VisitorId,
    pub tenant_id: TenantId,
    pub name: Option<String>,
    pub email: Option<String>,
    pub locale: Option<String>,
    /// On the site: a widget connection is open, or the last one closed less than the grace
    /// period ago.
    pub online: bool,
    /// When the last connection closed, the time the visitor counts as gone.
    pub leaving_at: Option<i64>,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// The visitor followed the link that stops unread-reply emails.
    pub emails_stopped: bool,
    /// The address a link mailed to was followed from: confirmed while it equals `email`.
    pub email_confirmed: Option<String>,
    /// Visits made: each time they came to the site after leaving it.
    pub visits: i32,
    pub visit_started_at: Option<i64>,
    /// Where this visit came from, as the first page of it said.
    pub referrer: Option<String>,
    /// As the widget's browser sent it, cut to 512 characters.
    pub user_agent: Option<String>,
    /// The browser's time zone (IANA name).
    pub time_zone: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
