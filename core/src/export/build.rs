//! Building an archive: claimed by one worker under a lease that it renews as it writes (the
//! progress the consoles show), page by page so that neither the database nor memory holds
//! more than a page at a time, and completed once. A build that fails is tried again later, up
//! to [`MAX_ATTEMPTS`]; one whose worker died is taken over when its lease runs out.

use std::time::Duration;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{Condition, QueryOrder, QuerySelect, QueryTrait, Select};

use crate::claim::ClaimColumns;
use crate::clock::Timestamp;
use crate::entity::{
    chat, chat_note, chat_rating, delivery, export, file, message, message_edit, page_view, plugin,
    tenant, user, visitor,
};
use crate::error::{CoreError, CoreResult};
use crate::ids::{ExportId, TenantId, VisitorId};
use crate::services::Deps;
use crate::tenant::{parse_limits, parse_settings};

use super::archive::ArchiveWriter;
use super::lines::{self, Line};
use super::{ExportService, ExportStatus, KEPT_FOR, MAX_ATTEMPTS};

/// Rows read at a time.
const PAGE: u64 = 500;
/// A fresh request is its job's for this long before the sweep takes it.
const JOB_GRACE: Duration = Duration::from_secs(30);

/// How a build went, for the worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportBuilt {
    Ready,
    /// Failed for now; tried again at this time.
    Retry(Timestamp),
    /// Failed for good.
    Failed,
    /// Not due before this time.
    NotDue(Timestamp),
    /// Another worker has it, or it is settled.
    Nothing,
}

const CLAIM: ClaimColumns<export::Column> = ClaimColumns {
    status: export::Column::Status,
    due_at: export::Column::DueAt,
    claimed_until: export::Column::ClaimedUntil,
};

fn claimable(now: Timestamp) -> Condition {
    CLAIM.claimable(ExportStatus::Pending, ExportStatus::Building, now)
}

pub(super) async fn due(deps: &Deps, limit: u64) -> CoreResult<Vec<ExportId>> {
    let now = deps.clock.now();
    let left_by_its_job = Condition::any()
        .add(export::Column::Attempts.gt(0))
        .add(export::Column::CreatedAt.lte(now.saturating_sub(JOB_GRACE).millis()));
    Ok(export::Entity::find()
        .select_only()
        .column(export::Column::Id)
        .filter(claimable(now))
        .filter(left_by_its_job)
        .order_by_asc(export::Column::DueAt)
        .limit(limit)
        .into_tuple()
        .all(&deps.db)
        .await?)
}

/// Why a build stopped before the end.
enum Stop {
    /// The claim was lost to another worker (this one was too slow to renew it): record
    /// nothing.
    ClaimLost,
    Failed(CoreError),
}

impl From<CoreError> for Stop {
    fn from(e: CoreError) -> Self {
        Self::Failed(e)
    }
}

impl From<DbErr> for Stop {
    fn from(e: DbErr) -> Self {
        Self::Failed(e.into())
    }
}

impl ExportService {
    /// Builds export `id` when it is due; safe from any number of workers at once. The claim
    /// lasts `lease` and is renewed after every page.
    pub async fn build(&self, id: ExportId, lease: Duration) -> CoreResult<ExportBuilt> {
        let deps = &*self.deps;
        let now = deps.clock.now();
        let Some(row) = export::Entity::find_by_id(id).one(&deps.db).await? else {
            return Ok(ExportBuilt::Nothing);
        };
        match row.status {
            ExportStatus::Ready | ExportStatus::Failed | ExportStatus::Expired => {
                return Ok(ExportBuilt::Nothing);
            }
            ExportStatus::Pending if row.due_at > now.millis() => {
                return Ok(ExportBuilt::NotDue(Timestamp::from_millis(row.due_at)));
            }
            ExportStatus::Building if row.claimed_until.is_some_and(|t| t >= now.millis()) => {
                return Ok(ExportBuilt::Nothing);
            }
            // Its workers died this many times (a crash, a restart mid-build): given up.
            ExportStatus::Building if row.attempts >= MAX_ATTEMPTS => {
                self.give_up(&row, now).await?;
                return Ok(ExportBuilt::Failed);
            }
            ExportStatus::Pending | ExportStatus::Building => {}
        }
        // What an earlier attempt left in the store (its worker died before it could remove
        // it): the parts it recorded, and one or two it may have stored after.
        if row.attempts > 0 {
            let left = (0..row.parts + 2)
                .map(|part| super::archive::part_key(row.tenant_id, id, row.attempts, part))
                .collect::<Vec<_>>();
            crate::file::let_go(deps, row.tenant_id, &left).await;
        }
        let claimed_until = now.saturating_add(lease);
        let txn = deps.write().await?;
        let taken = export::Entity::update_many()
            .col_expr(export::Column::Status, Expr::value(ExportStatus::Building))
            .col_expr(
                export::Column::ClaimedUntil,
                Expr::value(claimed_until.millis()),
            )
            .col_expr(
                export::Column::Attempts,
                Expr::col(export::Column::Attempts).add(1),
            )
            .col_expr(export::Column::LinesDone, Expr::value(0i64))
            .col_expr(export::Column::Parts, Expr::value(0i32))
            .filter(export::Column::Id.eq(id))
            // As read: the attempt this worker writes under is the row's next.
            .filter(export::Column::Attempts.eq(row.attempts))
            .filter(claimable(now))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        if taken.rows_affected == 0 {
            return Ok(ExportBuilt::Nothing);
        }
        let attempt = row.attempts + 1;
        let mut writer = ArchiveWriter::new(deps.files.clone(), row.tenant_id, id, attempt);
        let mut build = Build {
            deps,
            row: &row,
            lease,
            claimed_until,
        };
        let written = match build.write(&mut writer).await {
            Ok(()) => writer.finish().await.map_err(Stop::Failed),
            Err(stop) => Err(stop),
        };
        let claimed_until = build.claimed_until;
        let remove_ours = || {
            let ours = (0..writer.parts_stored())
                .map(|part| super::archive::part_key(row.tenant_id, id, attempt, part))
                .collect::<Vec<_>>();
            async move { crate::file::let_go(deps, row.tenant_id, &ours).await }
        };
        match written {
            Ok((parts, size)) => {
                let lines = i64::try_from(writer.lines).unwrap_or(i64::MAX);
                if self
                    .complete(&row, claimed_until, lines, parts, size)
                    .await?
                {
                    tracing::info!(export = %id, tenant = %row.tenant_id, lines, size, "export ready");
                    return Ok(ExportBuilt::Ready);
                }
                remove_ours().await;
                Ok(ExportBuilt::Nothing)
            }
            Err(Stop::ClaimLost) => {
                tracing::warn!(export = %id, "an export outlived its claim; another worker took it over");
                remove_ours().await;
                Ok(ExportBuilt::Nothing)
            }
            Err(Stop::Failed(e)) => {
                remove_ours().await;
                self.fail(&row, claimed_until, attempt, &e).await
            }
        }
    }

    /// Records a finished archive; false when the claim had been lost.
    async fn complete(
        &self,
        row: &export::Model,
        claimed_until: Timestamp,
        lines: i64,
        parts: i32,
        size: u64,
    ) -> CoreResult<bool> {
        let now = self.deps.clock.now();
        let txn = self.deps.write().await?;
        let done = export::Entity::update_many()
            .col_expr(export::Column::Status, Expr::value(ExportStatus::Ready))
            .col_expr(export::Column::ClaimedUntil, Expr::value(None::<i64>))
            .col_expr(export::Column::LinesDone, Expr::value(lines))
            .col_expr(export::Column::LinesTotal, Expr::value(lines))
            .col_expr(export::Column::Parts, Expr::value(parts))
            .col_expr(
                export::Column::SizeBytes,
                Expr::value(i64::try_from(size).unwrap_or(i64::MAX)),
            )
            .col_expr(export::Column::LastError, Expr::value(None::<String>))
            .col_expr(export::Column::ReadyAt, Expr::value(now.millis()))
            .col_expr(
                export::Column::ExpiresAt,
                Expr::value(now.saturating_add(KEPT_FOR).millis()),
            )
            .filter(export::Column::Id.eq(row.id))
            .filter(CLAIM.held(ExportStatus::Building, claimed_until))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        Ok(done == 1)
    }

    /// An export whose workers kept dying is given up, so that the company can ask again.
    async fn give_up(&self, row: &export::Model, now: Timestamp) -> CoreResult<()> {
        tracing::warn!(export = %row.id, attempts = row.attempts, "an export's builds kept stopping; given up");
        let txn = self.deps.write().await?;
        export::Entity::update_many()
            .col_expr(export::Column::Status, Expr::value(ExportStatus::Failed))
            .col_expr(export::Column::ClaimedUntil, Expr::value(None::<i64>))
            .col_expr(
                export::Column::LastError,
                Expr::value("the export's build stopped too many times; ask for a new one"),
            )
            .filter(export::Column::Id.eq(row.id))
            .filter(export::Column::Attempts.eq(row.attempts))
            .filter(claimable(now))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        let left = (0..row.parts + 2)
            .map(|part| super::archive::part_key(row.tenant_id, row.id, row.attempts, part))
            .collect::<Vec<_>>();
        crate::file::let_go(&self.deps, row.tenant_id, &left).await;
        Ok(())
    }

    /// Records a failed attempt: tried again later, or given up after [`MAX_ATTEMPTS`].
    async fn fail(
        &self,
        row: &export::Model,
        claimed_until: Timestamp,
        attempt: i32,
        error: &CoreError,
    ) -> CoreResult<ExportBuilt> {
        let now = self.deps.clock.now();
        tracing::warn!(export = %row.id, attempt, error = %error, "an export's build failed");
        // The admins see what went wrong in their words, not the store's.
        let reason = match error {
            CoreError::FilesUnavailable(_) => "the file store could not take the archive",
            CoreError::NotFound(_) => "the company or the visitor is gone",
            _ => "the data could not be read",
        };
        let (status, outcome, due_at) = if attempt < MAX_ATTEMPTS {
            let at =
                now.saturating_add(Duration::from_secs(60 * u64::from(attempt.unsigned_abs())));
            (ExportStatus::Pending, ExportBuilt::Retry(at), at.millis())
        } else {
            (ExportStatus::Failed, ExportBuilt::Failed, row.due_at)
        };
        let txn = self.deps.write().await?;
        export::Entity::update_many()
            .col_expr(export::Column::Status, Expr::value(status))
            .col_expr(export::Column::ClaimedUntil, Expr::value(None::<i64>))
            .col_expr(export::Column::Parts, Expr::value(0i32))
            .col_expr(export::Column::DueAt, Expr::value(due_at))
            .col_expr(export::Column::LastError, Expr::value(reason))
            .filter(export::Column::Id.eq(row.id))
            .filter(CLAIM.held(ExportStatus::Building, claimed_until))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(outcome)
    }
}

/// One claimed build in progress.
struct Build<'a> {
    deps: &'a Deps,
    row: &'a export::Model,
    lease: Duration,
    claimed_until: Timestamp,
}

/// What the export covers: the tenant, and the visitor when it is one visitor's.
#[derive(Clone, Copy)]
struct Scope {
    tenant: TenantId,
    visitor: Option<VisitorId>,
}

/// What an export reads: each kind of row, as a query scoped to the company (and to the
/// visitor for one visitor's export). Counting and writing use the same ones.
struct Queries {
    /// The company's setup and its operators' notes: in the company's export only.
    company: Option<CompanyQueries>,
    visitors: Select<visitor::Entity>,
    views: Select<page_view::Entity>,
    chats: Select<chat::Entity>,
    ratings: Select<chat_rating::Entity>,
    messages: Select<message::Entity>,
    files: Select<file::Entity>,
    deliveries: Select<delivery::Entity>,
}

struct CompanyQueries {
    operators: Select<user::Entity>,
    plugins: Select<plugin::Entity>,
    notes: Select<chat_note::Entity>,
}

impl Queries {
    fn of(scope: Scope) -> Self {
        let t = scope.tenant;
        let company = scope.visitor.is_none().then(|| CompanyQueries {
            operators: user::Entity::find().filter(user::Column::TenantId.eq(t)),
            plugins: plugin::Entity::find()
                .select_only()
                .columns(PLUGIN_METADATA)
                .filter(plugin::Column::TenantId.eq(t)),
            notes: chat_note::Entity::find().filter(chat_note::Column::TenantId.eq(t)),
        });
        let v = scope.visitor;
        let mut messages = message::Entity::find().filter(message::Column::TenantId.eq(t));
        if let Some(v) = v {
            let chats = chat::Entity::find()
                .select_only()
                .column(chat::Column::Id)
                .filter(chat::Column::TenantId.eq(t))
                .filter(chat::Column::VisitorId.eq(v))
                .into_query();
            messages = messages.filter(message::Column::ChatId.in_subquery(chats));
        }
        Self {
            company,
            visitors: visitor::Entity::find()
                .filter(visitor::Column::TenantId.eq(t))
                .apply_if(v, |q, v| q.filter(visitor::Column::Id.eq(v))),
            views: page_view::Entity::find()
                .filter(page_view::Column::TenantId.eq(t))
                .apply_if(v, |q, v| q.filter(page_view::Column::VisitorId.eq(v))),
            chats: chat::Entity::find()
                .filter(chat::Column::TenantId.eq(t))
                .apply_if(v, |q, v| q.filter(chat::Column::VisitorId.eq(v))),
            ratings: chat_rating::Entity::find()
                .filter(chat_rating::Column::TenantId.eq(t))
                .apply_if(v, |q, v| q.filter(chat_rating::Column::VisitorId.eq(v))),
            messages,
            files: file::Entity::find()
                .filter(file::Column::TenantId.eq(t))
                .apply_if(v, |q, v| q.filter(file::Column::VisitorId.eq(v))),
            deliveries: delivery::Entity::find()
                .filter(delivery::Column::TenantId.eq(t))
                .apply_if(v, |q, v| q.filter(delivery::Column::VisitorId.eq(v))),
        }
    }

    /// How many lines the archive will have, about (rows may come and go while it is built):
    /// the header, the settings line of a company's export, and a line per row.
    async fn count(&self, db: &DatabaseConnection) -> CoreResult<i64> {
        let mut total = 1;
        if let Some(company) = &self.company {
            total += 1;
            total += company.operators.clone().count(db).await?;
            total += company.plugins.clone().count(db).await?;
            total += company.notes.clone().count(db).await?;
        }
        total += self.visitors.clone().count(db).await?;
        total += self.views.clone().count(db).await?;
        total += self.chats.clone().count(db).await?;
        total += self.ratings.clone().count(db).await?;
        total += self.messages.clone().count(db).await?;
        total += self.files.clone().count(db).await?;
        total += self.deliveries.clone().count(db).await?;
        Ok(i64::try_from(total).unwrap_or(i64::MAX))
    }
}

impl Build<'_> {
    async fn write(&mut self, out: &mut ArchiveWriter) -> Result<(), Stop> {
        let scope = Scope {
            tenant: self.row.tenant_id,
            visitor: self.row.visitor_id,
        };
        let company = tenant::Entity::find_by_id(scope.tenant)
            .one(&self.deps.db)
            .await?
            .ok_or(CoreError::NotFound("tenant"))?;
        let queries = Queries::of(scope);
        // Counting a large company may take a while: the claim is renewed first.
        self.renew(out, None).await?;
        let total = queries.count(&self.deps.db).await?;
        self.renew(out, Some(total)).await?;
        out.line(&Line::Export(lines::Header {
            format: lines::FORMAT,
            version: lines::VERSION,
            export_id: self.row.id,
            tenant_id: scope.tenant,
            tenant_slug: &company.slug,
            tenant_name: &company.name,
            scope: if scope.visitor.is_some() {
                "visitor"
            } else {
                "tenant"
            },
            visitor_id: scope.visitor,
            created_at: Timestamp::from_millis(self.row.created_at),
        }))
        .await?;
        if let Some(setup) = &queries.company {
            let email_template = crate::tenant::template_of(&self.deps.db, scope.tenant).await?;
            out.line(&Line::Settings(lines::Settings {
                settings: parse_settings(&company.settings)?,
                limits: parse_limits(&company.limits)?,
                email_template,
            }))
            .await?;
            self.section(out, &setup.operators, user::Column::Id, |r| {
                Line::Operator(r.into())
            })
            .await?;
            self.plugins(out, setup.plugins.clone()).await?;
        }
        self.section(out, &queries.visitors, visitor::Column::Id, |r| {
            Line::Visitor(r.into())
        })
        .await?;
        self.section(out, &queries.views, page_view::Column::Id, |r| {
            Line::PageView(r.into())
        })
        .await?;
        self.section(out, &queries.chats, chat::Column::Id, |r| {
            Line::Chat(r.into())
        })
        .await?;
        self.section(out, &queries.ratings, chat_rating::Column::Id, |r| {
            Line::Rating(r.into())
        })
        .await?;
        self.messages(out, scope.tenant, &queries.messages).await?;
        if let Some(setup) = &queries.company {
            self.section(out, &setup.notes, chat_note::Column::Id, |r| {
                Line::Note(r.into())
            })
            .await?;
        }
        self.section(out, &queries.files, file::Column::Id, |r| {
            Line::File(r.into())
        })
        .await?;
        self.section(out, &queries.deliveries, delivery::Column::Id, |r| {
            Line::Delivery(r.into())
        })
        .await?;
        self.renew(out, None).await
    }

    /// One kind of row, page by page in id order; the claim is renewed after each page.
    async fn section<E>(
        &mut self,
        out: &mut ArchiveWriter,
        query: &Select<E>,
        id: E::Column,
        line: impl Fn(&E::Model) -> Line<'_>,
    ) -> Result<(), Stop>
    where
        E: EntityTrait,
        E::Model: Sync,
    {
        let mut after: Option<sea_orm::Value> = None;
        loop {
            let mut page = query.clone();
            if let Some(last) = after.take() {
                page = page.filter(id.gt(last));
            }
            let rows = page.order_by_asc(id).limit(PAGE).all(&self.deps.db).await?;
            for row in &rows {
                out.line(&line(row)).await?;
            }
            self.renew(out, None).await?;
            match rows.last() {
                Some(last) if rows.len() as u64 == PAGE => after = Some(last.get(id)),
                _ => return Ok(()),
            }
        }
    }

    /// Plugins: their metadata only, never their module's bytes or their settings.
    async fn plugins(
        &mut self,
        out: &mut ArchiveWriter,
        query: Select<plugin::Entity>,
    ) -> Result<(), Stop> {
        let rows: Vec<PluginMetadata> = query
            .order_by_asc(plugin::Column::Position)
            .into_model()
            .all(&self.deps.db)
            .await?;
        for row in &rows {
            out.line(&Line::Plugin(row.into())).await?;
        }
        self.renew(out, None).await
    }

    /// Messages with their earlier versions, dialog by dialog in order (`chat_id`, `seq`).
    async fn messages(
        &mut self,
        out: &mut ArchiveWriter,
        tenant: TenantId,
        query: &Select<message::Entity>,
    ) -> Result<(), Stop> {
        let mut after: Option<(crate::ids::ChatId, i64)> = None;
        loop {
            let mut page = query.clone();
            if let Some((chat, seq)) = after {
                page = page.filter(
                    Condition::any().add(message::Column::ChatId.gt(chat)).add(
                        Condition::all()
                            .add(message::Column::ChatId.eq(chat))
                            .add(message::Column::Seq.gt(seq)),
                    ),
                );
            }
            let rows = page
                .order_by_asc(message::Column::ChatId)
                .order_by_asc(message::Column::Seq)
                .limit(PAGE)
                .all(&self.deps.db)
                .await?;
            let edited = rows.iter().filter(|m| m.edited_at.is_some()).map(|m| m.id);
            let edits = message_edit::Entity::find()
                .filter(message_edit::Column::TenantId.eq(tenant))
                .filter(message_edit::Column::MessageId.is_in(edited))
                .order_by_asc(message_edit::Column::ReplacedAt)
                .all(&self.deps.db)
                .await?;
            for row in &rows {
                out.line(&Line::Message(lines::Message::new(row, &edits)))
                    .await?;
            }
            self.renew(out, None).await?;
            match rows.last() {
                Some(last) if rows.len() as u64 == PAGE => after = Some((last.chat_id, last.seq)),
                _ => return Ok(()),
            }
        }
    }

    /// Records the progress (lines and parts written) and renews the claim; `Err(ClaimLost)`
    /// when another worker took the export over, or it was cancelled.
    async fn renew(&mut self, out: &ArchiveWriter, total: Option<i64>) -> Result<(), Stop> {
        let now = self.deps.clock.now();
        let until = now.saturating_add(self.lease);
        let txn = self.deps.write().await?;
        let mut update = export::Entity::update_many()
            .col_expr(export::Column::ClaimedUntil, Expr::value(until.millis()))
            .col_expr(
                export::Column::LinesDone,
                Expr::value(i64::try_from(out.lines).unwrap_or(i64::MAX)),
            )
            // So that whoever takes over (or deletes the company) knows what is stored.
            .col_expr(export::Column::Parts, Expr::value(out.parts_stored()));
        if let Some(total) = total {
            update = update.col_expr(export::Column::LinesTotal, Expr::value(total));
        }
        let renewed = update
            .filter(export::Column::Id.eq(self.row.id))
            .filter(CLAIM.held(ExportStatus::Building, self.claimed_until))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        if renewed == 0 {
            return Err(Stop::ClaimLost);
        }
        self.claimed_until = until;
        Ok(())
    }
}

/// The plugin columns an archive shows (not the module, not the settings).
const PLUGIN_METADATA: [plugin::Column; 13] = [
    plugin::Column::Id,
    plugin::Column::Name,
    plugin::Column::Version,
    plugin::Column::Hooks,
    plugin::Column::Sha256,
    plugin::Column::SizeBytes,
    plugin::Column::World,
    plugin::Column::Enabled,
    plugin::Column::Position,
    plugin::Column::ConsecutiveFailures,
    plugin::Column::DisabledReason,
    plugin::Column::CreatedAt,
    plugin::Column::UpdatedAt,
];

#[derive(Debug, sea_orm::FromQueryResult)]
pub(super) struct PluginMetadata {
    pub id: crate::ids::PluginId,
    pub name: String,
    pub version: String,
    pub hooks: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub world: String,
    pub enabled: bool,
    pub position: i32,
    pub consecutive_failures: i32,
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}
