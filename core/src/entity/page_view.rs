use sea_orm::entity::prelude::*;

use crate::ids::{PageViewId, TenantId, VisitorId};

/// A page a visitor's widget was on, as it reported it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "page_views")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: PageViewId,
    pub tenant_id: TenantId,
    pub visitor_id: VisitorId,
    pub url: String,
    pub title: Option<String>,
    pub at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
