//! The typical reply time a visitor is told: the median of the tenant's recent answered waits
//! that began while an operator was online. Asked on every widget load, so each process keeps
//! each tenant's figure for a few minutes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{QueryOrder, QuerySelect};
use serde::Serialize;

use crate::clock::Timestamp;
use crate::entity::reply_wait;
use crate::error::CoreResult;
use crate::ids::TenantId;
use crate::services::Deps;

/// Waits older than this no longer say how the team answers.
const RECENT: Duration = Duration::from_secs(30 * 24 * 3600);
/// At most the newest this many waits: enough for a steady median, a bounded read.
const SAMPLE: u64 = 500;
/// Fewer answered waits say nothing yet: no line is shown.
pub const MIN_WAITS: usize = 5;
/// How long a process keeps a tenant's figure.
const KEPT: Duration = Duration::from_secs(5 * 60);
/// Past this many tenants kept, those kept too long are dropped.
const MAX_KEPT: usize = 10_000;

/// How fast the team answers, from how many waits.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TypicalReply {
    /// The median wait, in seconds.
    pub seconds: u32,
    /// The answered waits it is the median of (the last 30 days, at most 500).
    pub waits: u32,
}

/// Each tenant's figure, and until when it is kept.
type Kept = HashMap<TenantId, (Timestamp, Option<TypicalReply>)>;

#[derive(Clone)]
pub struct ReplyTimeService {
    deps: Arc<Deps>,
    kept: Arc<Mutex<Kept>>,
}

impl ReplyTimeService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self {
            deps,
            kept: Arc::default(),
        }
    }

    /// The tenant's typical reply time; none until it has [`MIN_WAITS`] answered waits.
    pub async fn typical(&self, tenant: TenantId) -> CoreResult<Option<TypicalReply>> {
        let now = self.deps.clock.now();
        if let Some((until, typical)) = self.kept_for(tenant)
            && now < until
        {
            return Ok(typical);
        }
        let typical = self.compute(tenant, now).await?;
        let until = now.saturating_add(KEPT);
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        // Tenants no widget asked for lately go, so the map holds the busy ones only.
        if kept.len() >= MAX_KEPT {
            kept.retain(|_, (until, _)| *until > now);
        }
        kept.insert(tenant, (until, typical));
        Ok(typical)
    }

    fn kept_for(&self, tenant: TenantId) -> Option<(Timestamp, Option<TypicalReply>)> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.get(&tenant).copied()
    }

    /// Removes waits that no longer count: ended before [`RECENT`], or started long before and
    /// never ended (a chat left waiting and never closed). Run by the housekeeping.
    pub async fn prune(&self) -> CoreResult<u64> {
        let now = self.deps.clock.now().millis();
        let recent = i64::try_from(RECENT.as_millis()).unwrap_or(i64::MAX);
        let txn = self.deps.write().await?;
        let done = reply_wait::Entity::delete_many()
            .filter(
                reply_wait::Column::EndedAt
                    .lt(now - recent)
                    .or(reply_wait::Column::StartedAt.lt(now - 3 * recent)),
            )
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(done.rows_affected)
    }

    async fn compute(&self, tenant: TenantId, now: Timestamp) -> CoreResult<Option<TypicalReply>> {
        let since = now.millis() - i64::try_from(RECENT.as_millis()).unwrap_or(i64::MAX);
        let waits: Vec<(i64, Option<i64>)> = reply_wait::Entity::find()
            .select_only()
            .column(reply_wait::Column::StartedAt)
            .column(reply_wait::Column::EndedAt)
            .filter(reply_wait::Column::TenantId.eq(tenant))
            .filter(reply_wait::Column::EndedAt.gt(since))
            .filter(reply_wait::Column::Staffed.eq(true))
            .filter(reply_wait::Column::AnsweredBy.is_not_null())
            .order_by_desc(reply_wait::Column::EndedAt)
            .limit(SAMPLE)
            .into_tuple()
            .all(&self.deps.db)
            .await?;
        let lengths = waits
            .into_iter()
            .filter_map(|(started, ended)| Some(ended? - started))
            .map(|ms: i64| Ord::max(ms, 0));
        Ok(median_reply(lengths.collect()))
    }
}

/// The median of `lengths` (milliseconds), if there are enough of them.
fn median_reply(mut lengths: Vec<i64>) -> Option<TypicalReply> {
    if lengths.len() < MIN_WAITS {
        return None;
    }
    lengths.sort_unstable();
    let middle = lengths.len() / 2;
    let median = if lengths.len().is_multiple_of(2) {
        (lengths[middle - 1] + lengths[middle]) / 2
    } else {
        lengths[middle]
    };
    Some(TypicalReply {
        seconds: u32::try_from(median / 1000).unwrap_or(u32::MAX),
        waits: u32::try_from(lengths.len()).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_enough_waits() {
        assert_eq!(median_reply(vec![60_000; 4]), None);
        let typical = median_reply(vec![5_000, 600_000, 90_000, 120_000, 30_000]).unwrap();
        assert_eq!(
            typical,
            TypicalReply {
                seconds: 90,
                waits: 5
            }
        );
        // An overnight outlier does not move it much; an even count takes the middle two.
        let typical =
            median_reply(vec![60_000, 120_000, 180_000, 240_000, 300_000, 36_000_000]).unwrap();
        assert_eq!(typical.seconds, 210);
    }
}
