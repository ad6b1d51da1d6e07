//! Exports of a tenant's data, or of one visitor's, as a JSON Lines archive (`.jsonl.gz`): the
//! settings, operators, plugins' metadata, visitors with the pages they viewed, chats with their
//! ratings, messages with their earlier versions, operators' notes, files' descriptions and the
//! delivery log. A tenant admin or the platform asks; a worker builds it in the background with
//! its progress; it is kept [`KEPT_FOR`] for download, then removed. Each request and each
//! download is in the audit trail.
//!
//! A visitor's export holds what is about them: their visitor line, page views, chats, ratings,
//! messages, files and deliveries — not the operators' internal notes or the company's setup.

mod archive;
mod build;
mod lines;

use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use crate::audit::{self, Action, Change, ChangedBy, PlatformActor, Target, TargetKind};
use crate::clock::Timestamp;
use crate::entity::{export, tenant, visitor};
use crate::error::{CoreError, CoreResult};
use crate::file::FileStream;
use crate::ids::{ExportId, TenantId, VisitorId};
use crate::operator::OperatorActor;
use crate::services::Deps;

pub use build::ExportBuilt;
pub use lines::{FORMAT, VERSION};

/// How long a ready archive can be downloaded.
pub const KEPT_FOR: Duration = Duration::from_secs(7 * 24 * 3600);
/// Builds tried before an export is given up.
pub const MAX_ATTEMPTS: i32 = 3;
/// Exports listed (the newest).
const LISTED: u64 = 20;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum ExportStatus {
    /// Waiting for a worker (or for its next attempt).
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "building")]
    Building,
    /// Can be downloaded until it expires.
    #[sea_orm(string_value = "ready")]
    Ready,
    #[sea_orm(string_value = "failed")]
    Failed,
    /// Was ready; its archive is removed.
    #[sea_orm(string_value = "expired")]
    Expired,
}

/// An export as the consoles show it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Export {
    pub id: ExportId,
    /// The visitor it is about; none for the whole company's data.
    pub visitor_id: Option<VisitorId>,
    pub status: ExportStatus,
    pub requested_by: String,
    pub requested_at: Timestamp,
    /// Lines written so far, of about `lines_total` (counted when the build began).
    pub lines_done: i64,
    pub lines_total: i64,
    /// The archive's size once ready.
    pub size_bytes: i64,
    pub ready_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub downloads: i32,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

impl From<export::Model> for Export {
    fn from(row: export::Model) -> Self {
        Self {
            id: row.id,
            visitor_id: row.visitor_id,
            status: row.status,
            requested_by: row.requested_by,
            requested_at: Timestamp::from_millis(row.created_at),
            lines_done: row.lines_done,
            lines_total: row.lines_total,
            size_bytes: row.size_bytes,
            ready_at: row.ready_at.map(Timestamp::from_millis),
            expires_at: row.expires_at.map(Timestamp::from_millis),
            downloads: row.downloads,
            error: row.last_error,
        }
    }
}

/// A ready archive being downloaded.
pub struct ExportDownload {
    /// A file name for it: `tandem-<slug>[-visitor-<id>]-<date>.jsonl.gz`.
    pub file_name: String,
    pub size: u64,
    pub bytes: FileStream,
}

#[derive(Clone)]
pub struct ExportService {
    deps: Arc<Deps>,
}

impl ExportService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    /// A tenant admin asks for the tenant's data, or one visitor's.
    pub async fn request_as_admin(
        &self,
        actor: &OperatorActor,
        visitor: Option<VisitorId>,
    ) -> CoreResult<Export> {
        actor.require_admin()?;
        self.request(actor.into(), actor.tenant, visitor).await
    }

    /// The platform asks for any tenant's data, or one of its visitors'.
    pub async fn request_as_platform(
        &self,
        by: &PlatformActor,
        tenant: TenantId,
        visitor: Option<VisitorId>,
    ) -> CoreResult<Export> {
        self.request(by.into(), tenant, visitor).await
    }

    async fn request(
        &self,
        by: ChangedBy<'_>,
        tenant: TenantId,
        visitor: Option<VisitorId>,
    ) -> CoreResult<Export> {
        let now = self.deps.clock.now();
        let txn = self.deps.write().await?;
        // Locked: two requests at once are taken one after the other, and the second finds
        // the first in progress.
        let company = tenant::Entity::find_by_id(tenant)
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("tenant"))?;
        if company
            .deletion_due_at
            .is_some_and(|due| due <= now.millis())
        {
            return Err(CoreError::Conflict("the company is being deleted".into()));
        }
        if let Some(id) = visitor {
            visitor::Entity::find_by_id(id)
                .filter(visitor::Column::TenantId.eq(tenant))
                .one(&txn)
                .await?
                .ok_or(CoreError::NotFound("visitor"))?;
        }
        // One at a time per company: an export reads everything it owns.
        let in_progress = export::Entity::find()
            .filter(export::Column::TenantId.eq(tenant))
            .filter(export::Column::Status.is_in([ExportStatus::Pending, ExportStatus::Building]))
            .count(&txn)
            .await?;
        if in_progress > 0 {
            return Err(CoreError::Conflict(
                "an export of this company is being prepared; wait for it to finish".into(),
            ));
        }
        let id = ExportId::new();
        let requested_by = audit::label_of(&txn, by).await?;
        let row = export::ActiveModel {
            id: Set(id),
            tenant_id: Set(tenant),
            visitor_id: Set(visitor),
            status: Set(ExportStatus::Pending),
            requested_by: Set(requested_by),
            attempts: Set(0),
            due_at: Set(now.millis()),
            claimed_until: Set(None),
            lines_done: Set(0),
            lines_total: Set(0),
            parts: Set(0),
            size_bytes: Set(0),
            downloads: Set(0),
            last_error: Set(None),
            created_at: Set(now.millis()),
            ready_at: Set(None),
            expires_at: Set(None),
        };
        export::Entity::insert(row)
            .exec_without_returning(&txn)
            .await?;
        let scope = match visitor {
            Some(v) => serde_json::json!({ "scope": "visitor", "visitor_id": v }),
            None => serde_json::json!({ "scope": "tenant", "tenant": company.slug }),
        };
        let target = Target::new(TargetKind::Export, id, export_label(visitor));
        let change = Change::created(&scope);
        let action = Action::ExportRequested;
        audit::record(&txn, now, by, Some(tenant), action, target, change).await?;
        txn.commit().await?;
        if let Err(e) = self.deps.scheduler.schedule_export(id).await {
            tracing::warn!(export = %id, error = %e, "cannot queue an export; left to the sweep");
        }
        self.get(tenant, id).await
    }

    /// The tenant's newest exports, for an admin.
    pub async fn list_as_admin(&self, actor: &OperatorActor) -> CoreResult<Vec<Export>> {
        actor.require_admin()?;
        self.list(actor.tenant).await
    }

    /// The tenant's newest exports.
    pub async fn list(&self, tenant: TenantId) -> CoreResult<Vec<Export>> {
        let rows = export::Entity::find()
            .filter(export::Column::TenantId.eq(tenant))
            .order_by_desc(export::Column::CreatedAt)
            .limit(LISTED)
            .all(&self.deps.db)
            .await?;
        Ok(rows.into_iter().map(Export::from).collect())
    }

    /// One of the tenant's exports.
    pub async fn get(&self, tenant: TenantId, id: ExportId) -> CoreResult<Export> {
        Ok(self.row(tenant, id).await?.into())
    }

    async fn row(&self, tenant: TenantId, id: ExportId) -> CoreResult<export::Model> {
        export::Entity::find_by_id(id)
            .filter(export::Column::TenantId.eq(tenant))
            .one(&self.deps.db)
            .await?
            .ok_or(CoreError::NotFound("export"))
    }

    /// An admin downloads a ready archive of their tenant.
    pub async fn download_as_admin(
        &self,
        actor: &OperatorActor,
        id: ExportId,
    ) -> CoreResult<ExportDownload> {
        actor.require_admin()?;
        self.download(actor.into(), actor.tenant, id).await
    }

    /// The platform downloads a ready archive of any tenant.
    pub async fn download_as_platform(
        &self,
        by: &PlatformActor,
        tenant: TenantId,
        id: ExportId,
    ) -> CoreResult<ExportDownload> {
        self.download(by.into(), tenant, id).await
    }

    /// The archive's parts one after the other; the download is counted and recorded first.
    async fn download(
        &self,
        by: ChangedBy<'_>,
        tenant: TenantId,
        id: ExportId,
    ) -> CoreResult<ExportDownload> {
        let now = self.deps.clock.now();
        let row = self.row(tenant, id).await?;
        let ready =
            row.status == ExportStatus::Ready && row.expires_at.is_some_and(|at| at > now.millis());
        if !ready {
            return Err(CoreError::Conflict(match row.status {
                ExportStatus::Pending | ExportStatus::Building => {
                    "the export is not ready yet".into()
                }
                ExportStatus::Failed => "the export failed; ask for a new one".into(),
                ExportStatus::Ready | ExportStatus::Expired => {
                    "the export has expired; ask for a new one".into()
                }
            }));
        }
        let slug: Option<String> = tenant::Entity::find_by_id(tenant)
            .select_only()
            .column(tenant::Column::Slug)
            .into_tuple()
            .one(&self.deps.db)
            .await?;
        let txn = self.deps.write().await?;
        export::Entity::update_many()
            .col_expr(
                export::Column::Downloads,
                Expr::col(export::Column::Downloads).add(1),
            )
            .filter(export::Column::Id.eq(id))
            .filter(export::Column::TenantId.eq(tenant))
            .exec(&txn)
            .await?;
        let target = Target::new(TargetKind::Export, id, export_label(row.visitor_id));
        let change = Change::bare();
        let action = Action::ExportDownloaded;
        audit::record(&txn, now, by, Some(tenant), action, target, change).await?;
        txn.commit().await?;
        Ok(ExportDownload {
            file_name: file_name(slug.as_deref().unwrap_or("tenant"), &row),
            size: u64::try_from(row.size_bytes).unwrap_or(0),
            bytes: self.parts(tenant, id, row.attempts, row.parts),
        })
    }

    /// The stored parts, read in order as one stream.
    fn parts(&self, tenant: TenantId, id: ExportId, attempt: i32, parts: i32) -> FileStream {
        let files = self.deps.files.clone();
        let keys = (0..parts).map(move |part| archive::part_key(tenant, id, attempt, part));
        let stream = futures_util::stream::iter(keys)
            .then(move |key| {
                let files = files.clone();
                async move {
                    match files.get(&key).await {
                        Ok((_, bytes)) => Ok(bytes),
                        Err(e) => Err(std::io::Error::other(e.to_string())),
                    }
                }
            })
            .try_flatten();
        Box::pin(stream)
    }

    /// Exports due for a build (or whose worker died mid-build): for the sweep. A fresh request
    /// is its job's for a moment.
    pub async fn due(&self, limit: u64) -> CoreResult<Vec<ExportId>> {
        build::due(&self.deps, limit).await
    }

    /// Expires the archives whose time ran out; their parts are listed for the housekeeping's
    /// removal in the same transaction. Returns how many.
    pub async fn expire(&self) -> CoreResult<u64> {
        let now = self.deps.clock.now();
        let txn = self.deps.write().await?;
        let rows = export::Entity::find()
            .filter(export::Column::Status.eq(ExportStatus::Ready))
            .filter(export::Column::ExpiresAt.lte(now.millis()))
            .limit(100)
            .all(&txn)
            .await?;
        for row in &rows {
            for key in part_keys(row) {
                crate::file::remove_later(&txn, row.tenant_id, &key, now).await?;
            }
        }
        let expired = export::Entity::update_many()
            .col_expr(export::Column::Status, Expr::value(ExportStatus::Expired))
            .filter(export::Column::Id.is_in(rows.iter().map(|row| row.id)))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        Ok(expired)
    }
}

/// A visitor's data was erased: no archive made before may hand it out. Ready ones that hold
/// it (the visitor's and the company's) expire now, their parts listed for removal; those
/// being prepared are stopped (their builder finds its claim gone and removes what it wrote).
pub(crate) async fn withdraw_for_erasure(
    txn: &crate::services::WriteTxn,
    tenant: TenantId,
    visitor: VisitorId,
    now: Timestamp,
) -> CoreResult<()> {
    let holding = || {
        sea_orm::Condition::any()
            .add(export::Column::VisitorId.eq(visitor))
            .add(export::Column::VisitorId.is_null())
    };
    let ready = export::Entity::find()
        .filter(export::Column::TenantId.eq(tenant))
        .filter(export::Column::Status.eq(ExportStatus::Ready))
        .filter(holding())
        .all(txn)
        .await?;
    for row in &ready {
        for key in part_keys(row) {
            crate::file::remove_later(txn, tenant, &key, now).await?;
        }
    }
    export::Entity::update_many()
        .col_expr(export::Column::Status, Expr::value(ExportStatus::Expired))
        .filter(export::Column::Id.is_in(ready.iter().map(|row| row.id)))
        .exec(txn)
        .await?;
    export::Entity::update_many()
        .col_expr(export::Column::Status, Expr::value(ExportStatus::Failed))
        .col_expr(export::Column::ClaimedUntil, Expr::value(None::<i64>))
        .col_expr(
            export::Column::LastError,
            Expr::value("a visitor's data was erased meanwhile; ask for a new export"),
        )
        .filter(export::Column::TenantId.eq(tenant))
        .filter(export::Column::Status.is_in([ExportStatus::Pending, ExportStatus::Building]))
        .filter(holding())
        .exec(txn)
        .await?;
    Ok(())
}

/// The keys of an archive's parts: those of a ready one, or, for one being built, those its
/// build recorded and the one or two it may have stored since.
pub(crate) fn part_keys(row: &export::Model) -> impl Iterator<Item = String> + use<> {
    let (tenant, id, attempt) = (row.tenant_id, row.id, row.attempts);
    let parts = match row.status {
        ExportStatus::Ready | ExportStatus::Expired => row.parts,
        _ => row.parts + 2,
    };
    (0..parts).map(move |part| archive::part_key(tenant, id, attempt, part))
}

fn export_label(visitor: Option<VisitorId>) -> String {
    match visitor {
        Some(v) => format!("export of visitor {v}"),
        None => "export of the company's data".to_owned(),
    }
}

fn file_name(slug: &str, row: &export::Model) -> String {
    let day = Timestamp::from_millis(row.created_at).to_string();
    let day = day.get(..10).unwrap_or("export");
    match row.visitor_id {
        Some(v) => format!("tandem-{slug}-visitor-{v}-{day}.jsonl.gz"),
        None => format!("tandem-{slug}-{day}.jsonl.gz"),
    }
}
