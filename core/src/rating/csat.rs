//! Customer satisfaction (CSAT): of the conversations visitors rated, the share rated good —
//! per week (weeks start on Monday, 00:00 UTC) and per operator.

use std::collections::{BTreeMap, HashMap};

use sea_orm::QuerySelect;
use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::clock::Timestamp;
use crate::entity::{chat_rating, user};
use crate::error::{CoreError, CoreResult};
use crate::ids::UserId;
use crate::operator::OperatorActor;

use super::{Rating, RatingService};

/// The most weeks one report covers.
pub const MAX_WEEKS: u32 = 52;

const DAY_MS: i64 = 24 * 3600 * 1000;
const WEEK_MS: i64 = 7 * DAY_MS;

/// Good and bad ratings, and the share of good ones.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub good: u32,
    pub bad: u32,
    /// Percent rated good, rounded; none without ratings.
    pub score: Option<u32>,
}

impl Tally {
    fn add(&mut self, rating: Rating) {
        match rating {
            Rating::Good => self.good += 1,
            Rating::Bad => self.bad += 1,
        }
        let total = u64::from(self.good) + u64::from(self.bad);
        self.score = u32::try_from((u64::from(self.good) * 100 + total / 2) / total).ok();
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CsatWeek {
    /// Monday, 00:00 UTC.
    pub starts: Timestamp,
    #[serde(flatten)]
    pub tally: Tally,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CsatOperator {
    /// None: chats that were not assigned to anyone when rated.
    pub operator_id: Option<UserId>,
    pub name: String,
    #[serde(flatten)]
    pub tally: Tally,
}

/// The company's CSAT over its last weeks.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Csat {
    /// Oldest first, the current week last; weeks without ratings included.
    pub weeks: Vec<CsatWeek>,
    /// Over all the weeks; the most rated first.
    pub operators: Vec<CsatOperator>,
    /// Over all the weeks.
    #[serde(flatten)]
    pub total: Tally,
}

/// Monday 00:00 UTC of the week `at` falls in (1970-01-01 was a Thursday).
fn week_start(at: i64) -> i64 {
    let day = at.div_euclid(DAY_MS);
    (day - (day + 3).rem_euclid(7)) * DAY_MS
}

impl RatingService {
    /// The tenant's CSAT over its last `weeks` weeks (this one included): for its admins.
    pub async fn csat(&self, actor: &OperatorActor, weeks: u32) -> CoreResult<Csat> {
        if !actor.is_admin() {
            return Err(CoreError::NotAllowed(
                "only the company's admins see its CSAT",
            ));
        }
        if !(1..=MAX_WEEKS).contains(&weeks) {
            return Err(CoreError::invalid(
                "weeks",
                format!("must be 1 to {MAX_WEEKS}"),
            ));
        }
        let this_week = week_start(self.deps.clock.now().millis());
        let from = this_week - i64::from(weeks - 1) * WEEK_MS;
        let rows: Vec<(Option<UserId>, Rating, i64)> = chat_rating::Entity::find()
            .select_only()
            .column(chat_rating::Column::OperatorId)
            .column(chat_rating::Column::Rating)
            .column(chat_rating::Column::CreatedAt)
            .filter(chat_rating::Column::TenantId.eq(actor.tenant))
            .filter(chat_rating::Column::CreatedAt.gte(from))
            .into_tuple()
            .all(&self.deps.db)
            .await?;
        let mut by_week: BTreeMap<i64, Tally> = (0..i64::from(weeks))
            .map(|n| (from + n * WEEK_MS, Tally::default()))
            .collect();
        let mut by_operator: HashMap<Option<UserId>, Tally> = HashMap::new();
        let mut total = Tally::default();
        for (operator, rating, at) in rows {
            // A rating stamped ahead of the clock counts in this week.
            let week = week_start(at).min(this_week);
            by_week.entry(week).or_default().add(rating);
            by_operator.entry(operator).or_default().add(rating);
            total.add(rating);
        }
        let ids: Vec<UserId> = by_operator.keys().flatten().copied().collect();
        let names: HashMap<UserId, String> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .column(user::Column::Name)
            .filter(user::Column::TenantId.eq(actor.tenant))
            .filter(user::Column::Id.is_in(ids))
            .into_tuple::<(UserId, String)>()
            .all(&self.deps.db)
            .await?
            .into_iter()
            .collect();
        let mut operators: Vec<CsatOperator> = by_operator
            .into_iter()
            .map(|(operator_id, tally)| CsatOperator {
                name: match operator_id {
                    Some(id) => names
                        .get(&id)
                        .cloned()
                        .unwrap_or_else(|| "A former operator".into()),
                    None => "Not assigned".into(),
                },
                operator_id,
                tally,
            })
            .collect();
        operators.sort_by(|a, b| {
            (b.tally.good + b.tally.bad)
                .cmp(&(a.tally.good + a.tally.bad))
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(Csat {
            weeks: by_week
                .into_iter()
                .map(|(starts, tally)| CsatWeek {
                    starts: Timestamp::from_millis(starts),
                    tally,
                })
                .collect(),
            operators,
            total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_at_midnight_utc() {
        // 2026-11-29 is a Sunday; its week began on Monday 2026-11-23.
        let sunday_noon = 1_795_953_600_000; // 2026-11-29T12:00:00Z
        let monday = 1_795_392_000_000; // 2026-11-23T00:00:00Z
        assert_eq!(week_start(sunday_noon), monday);
        assert_eq!(week_start(monday), monday);
        assert_eq!(week_start(monday - 1), monday - WEEK_MS);
        // Before 1970 too.
        assert_eq!(week_start(-1), -3 * DAY_MS);
    }

    #[test]
    fn a_score_is_the_rounded_share_of_good() {
        let mut tally = Tally::default();
        assert_eq!(tally.score, None);
        for rating in [Rating::Good, Rating::Good, Rating::Bad] {
            tally.add(rating);
        }
        assert_eq!((tally.good, tally.bad, tally.score), (2, 1, Some(67)));
    }
}
