use sea_orm::entity::prelude::*;

use crate::export::ExportStatus;
use crate::ids::{ExportId, TenantId, VisitorId};

/// An export of a tenant's data, or of one visitor's (`visitor_id`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "exports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ExportId,
    pub tenant_id: TenantId,
    pub visitor_id: Option<VisitorId>,
    pub status: ExportStatus,
    /// Who asked, as the trail names them (an admin's email, "platform console").
    pub requested_by: String,
    pub attempts: i32,
    pub due_at: i64,
    /// While `building`: the worker's claim runs until then (renewed as it writes).
    pub claimed_until: Option<i64>,
    pub lines_done: i64,
    pub lines_total: i64,
    /// The archive's parts in the file store, each a gzip member of its own.
    pub parts: i32,
    pub size_bytes: i64,
    pub downloads: i32,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub ready_at: Option<i64>,
    /// A ready archive is removed from the store then.
    pub expires_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
