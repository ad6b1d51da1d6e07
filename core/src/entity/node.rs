use sea_orm::entity::prelude::*;

/// A serving or working process of the installation, and when it last said it was alive.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "nodes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `serve` or `worker`.
    pub role: String,
    pub version: String,
    pub started_at: i64,
    pub heartbeat_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
