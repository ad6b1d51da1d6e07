//! Writing the counters to `usage_days` and reading them back per tenant.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, OnConflict};
use sea_orm::{ActiveValue::Set, QuerySelect};
use serde::Serialize;

use crate::entity::{tenant, usage_day, visitor_connection};
use crate::error::CoreResult;
use crate::ids::TenantId;
use crate::services::Deps;

use super::Metric;
use super::meter::{Counts, Day, day_of};

/// Days of counts kept: a little over a year, for year-on-year questions.
const KEPT_DAYS: Day = 400;

/// Counts over the windows the console shows: today (UTC), the last 7 days and the last 30,
/// today included.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Windows {
    pub today: u64,
    pub days_7: u64,
    pub days_30: u64,
}

impl Windows {
    fn add(&mut self, day: Day, today: Day, n: u64) {
        if day == today {
            self.today += n;
        }
        if day > today - 7 {
            self.days_7 += n;
        }
        if day > today - 30 {
            self.days_30 += n;
        }
    }
}

/// One tenant's use.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TenantUsage {
    pub tenant_id: TenantId,
    /// Widget connections open now, on every node.
    pub open_sockets: u64,
    /// Every metric, by its name (`visitor_messages`, `mails_failed`, …).
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, Windows>))]
    pub counts: BTreeMap<Metric, Windows>,
}

#[derive(Clone)]
pub struct UsageService {
    deps: Arc<Deps>,
}

impl UsageService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    /// Writes this process's counts, adding them to what is stored. Counts that cannot be
    /// written (the database is away) are kept for the next flush.
    pub async fn flush(&self) -> CoreResult<()> {
        let counts = self.deps.usage.take();
        if counts.is_empty() {
            return Ok(());
        }
        let written = self.write(&counts).await;
        if written.is_err() {
            self.deps.usage.put_back(counts);
        }
        written
    }

    async fn write(&self, counts: &Counts) -> CoreResult<()> {
        let txn = self.deps.write().await?;
        // A tenant deleted since its counts were taken gets none: locked, so that a deletion
        // under way waits for this write and then deletes what it wrote.
        let named: BTreeSet<TenantId> = counts.keys().map(|(tenant, _, _)| *tenant).collect();
        let existing: BTreeSet<TenantId> = tenant::Entity::find()
            .select_only()
            .column(tenant::Column::Id)
            .filter(tenant::Column::Id.is_in(named))
            .lock_shared()
            .into_tuple::<TenantId>()
            .all(&txn)
            .await?
            .into_iter()
            .collect();
        for (&(tenant, day, metric), &n) in counts {
            if !existing.contains(&tenant) {
                continue;
            }
            let n = i64::try_from(n).unwrap_or(i64::MAX);
            usage_day::Entity::insert(usage_day::ActiveModel {
                tenant_id: Set(tenant),
                day: Set(day),
                metric: Set(metric.as_str().to_owned()),
                amount: Set(n),
            })
            .on_conflict(
                OnConflict::columns([
                    usage_day::Column::TenantId,
                    usage_day::Column::Day,
                    usage_day::Column::Metric,
                ])
                .value(
                    usage_day::Column::Amount,
                    Expr::col((Alias::new("usage_days"), usage_day::Column::Amount)).add(n),
                )
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Every tenant's use that has any (counts written and this process's not yet written),
    /// with their open sockets.
    pub async fn report(&self) -> CoreResult<Vec<TenantUsage>> {
        let today = day_of(self.deps.clock.now());
        // Summed by the database: a row per tenant and metric, whatever the days.
        let since = |from: Day| -> Expr {
            let amount = Expr::case(
                usage_day::Column::Day.gte(from),
                Expr::col(usage_day::Column::Amount),
            )
            .finally(0i64);
            // PostgreSQL sums bigints into numerics: cast back.
            Func::cast_as(Func::sum(amount), Alias::new("BIGINT")).into()
        };
        let rows: Vec<(TenantId, String, i64, i64, i64)> = usage_day::Entity::find()
            .select_only()
            .column(usage_day::Column::TenantId)
            .column(usage_day::Column::Metric)
            .column_as(since(today), "today")
            .column_as(since(today - 6), "days_7")
            .column_as(since(today - 29), "days_30")
            .filter(usage_day::Column::Day.gt(today - 30))
            .group_by(usage_day::Column::TenantId)
            .group_by(usage_day::Column::Metric)
            .into_tuple()
            .all(&self.deps.db)
            .await?;
        let mut by_tenant: BTreeMap<TenantId, TenantUsage> = BTreeMap::new();
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        for (tenant, metric, on_day, week, month) in rows {
            if let Some(metric) = Metric::parse(&metric) {
                let windows = Windows {
                    today: count(on_day),
                    days_7: count(week),
                    days_30: count(month),
                };
                usage_of(&mut by_tenant, tenant)
                    .counts
                    .insert(metric, windows);
            }
        }
        // This process's counts not written yet, so that a report shows what just happened.
        for ((tenant, day, metric), n) in self.deps.usage.pending() {
            let windows = usage_of(&mut by_tenant, tenant).counts.entry(metric);
            windows.or_default().add(day, today, n);
        }
        let sockets: Vec<(TenantId, i64)> = visitor_connection::Entity::find()
            .select_only()
            .column(visitor_connection::Column::TenantId)
            .column_as(visitor_connection::Column::Id.count(), "open")
            .group_by(visitor_connection::Column::TenantId)
            .into_tuple()
            .all(&self.deps.db)
            .await?;
        for (tenant, open) in sockets {
            usage_of(&mut by_tenant, tenant).open_sockets = count(open);
        }
        for usage in by_tenant.values_mut() {
            for metric in Metric::ALL {
                usage.counts.entry(metric).or_default();
            }
        }
        Ok(by_tenant.into_values().collect())
    }

    /// Removes days older than [`KEPT_DAYS`]. Run by the housekeeping.
    pub async fn prune(&self) -> CoreResult<u64> {
        let oldest = day_of(self.deps.clock.now()) - KEPT_DAYS;
        let txn = self.deps.write().await?;
        let done = usage_day::Entity::delete_many()
            .filter(usage_day::Column::Day.lt(oldest))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(done.rows_affected)
    }
}

fn usage_of(all: &mut BTreeMap<TenantId, TenantUsage>, tenant: TenantId) -> &mut TenantUsage {
    all.entry(tenant).or_insert_with(|| TenantUsage {
        tenant_id: tenant,
        ..TenantUsage::default()
    })
}
