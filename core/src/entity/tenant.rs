use sea_orm::entity::prelude::*;

use crate::ids::TenantId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub widget_key: String,
    /// `TenantSettings` as JSON, so settings can grow without a migration each.
    pub settings: String,
    pub suspended: bool,
    /// `TenantLimits` as JSON: what the platform admin allows this tenant.
    pub limits: String,
    pub created_at: i64,
    /// The platform scheduled the tenant's deletion: everything it owns goes at this time.
    pub deletion_due_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
