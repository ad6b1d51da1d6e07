//! The second rule of the product, as a pure state machine: an operator reply the visitor has
//! not read is delivered after the tenant's timeout, once. Every change to an outbox row's
//! delivery state is decided here, from facts the services load; the services only load, ask,
//! and store what the answer says (see `service.rs`).
//!
//! ```text
//!             reply written
//!                  │
//!                  ▼        visitor reads first
//!   ┌────────► Scheduled ─────────────────────────► Read
//!   │           │    ▲
//!   │   due, a  │    │ retry at T (a transient failure)
//!   │   worker  ▼    │
//!   │         Claimed ──────────► Sent / Skipped / Failed
//!   │           │  ▲   outcome
//!   │           │  └── lease ran out (the worker died): claimed again
//!   │           └────► Read (read meanwhile) · Skipped (no address, or emails stopped)
//!   │
//!   └── revived: Skipped for want of an address, still unread, and the visitor left one
//! ```
//!
//! Webhook posts share the lease part of it (scheduled → claimed → settled, retries), through
//! [`Stage`].

use std::time::Duration;

use sea_orm::{ColumnTrait, Condition, Value};

use crate::clock::Timestamp;

use super::Outcome;

/// Why a visitor without an address got nothing; also marks the rows to revive when they leave
/// one.
pub(crate) const NO_EMAIL: &str = "the visitor left no email address";

/// Why a visitor who stopped the emails got none.
pub(crate) const UNSUBSCRIBED: &str = "the visitor stopped these emails";

/// Where a piece of delivery work stands as far as taking it goes: an outbox row or a webhook
/// post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Waiting for its time.
    Scheduled { due_at: Timestamp },
    /// A worker holds it until then.
    Claimed { until: Timestamp },
    /// Nothing more will happen to it.
    Settled,
}

/// What a worker asking for the work now may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Availability {
    /// Its time has come, or its worker's lease ran out (that worker died mid-delivery).
    Take,
    /// Too early: ask again then.
    NotDue(Timestamp),
    /// Another worker holds it right now.
    Busy,
    Settled,
}

impl Stage {
    pub fn availability(self, now: Timestamp) -> Availability {
        match self {
            Self::Scheduled { due_at } if due_at > now => Availability::NotDue(due_at),
            Self::Scheduled { .. } => Availability::Take,
            Self::Claimed { until } if until > now => Availability::Busy,
            Self::Claimed { .. } => Availability::Take,
            Self::Settled => Availability::Settled,
        }
    }

    /// Whether a batch taken now carries it along: every row no live worker holds, due or not
    /// (one email tells of every unread reply).
    pub fn joins_batch(self, now: Timestamp) -> bool {
        match self {
            Self::Scheduled { .. } => true,
            Self::Claimed { until } => until <= now,
            Self::Settled => false,
        }
    }
}

/// The columns a table keeps its [`Stage`] in, and the status values that mean scheduled and
/// claimed there.
pub(crate) struct StageColumns<C> {
    pub status: C,
    pub due_at: C,
    pub claimed_until: C,
    pub scheduled: Value,
    pub claimed: Value,
}

impl<C: ColumnTrait> StageColumns<C> {
    /// [`Availability::Take`] as SQL, for sweeps over many rows: the same rule as
    /// [`Stage::availability`].
    pub fn takeable(&self, now: Timestamp) -> Condition {
        Condition::any()
            .add(
                Condition::all()
                    .add(self.status.eq(self.scheduled.clone()))
                    .add(self.due_at.lte(now.millis())),
            )
            .add(
                Condition::all()
                    .add(self.status.eq(self.claimed.clone()))
                    .add(self.claimed_until.lte(now.millis())),
            )
    }

    /// [`Stage::joins_batch`] as SQL.
    pub fn joining_batch(&self, now: Timestamp) -> Condition {
        Condition::any()
            .add(self.status.eq(self.scheduled.clone()))
            .add(
                Condition::all()
                    .add(self.status.eq(self.claimed.clone()))
                    .add(self.claimed_until.lte(now.millis())),
            )
    }
}

/// An outbox row's delivery state, with what each state carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OutboxState {
    /// Waiting for `due_at`; `after` is the failure it is a retry of.
    Scheduled {
        due_at: Timestamp,
        after: Option<String>,
    },
    Claimed {
        until: Timestamp,
    },
    /// The visitor read the reply first: nothing is sent.
    Read,
    Sent,
    /// Nothing could be or was to be sent; the reason is the delivery log's.
    Skipped {
        reason: String,
    },
    /// Given up on.
    Failed {
        reason: String,
    },
}

/// Who the visitor can be reached as, when a batch is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    Address,
    NoAddress,
    /// They stopped these emails.
    Stopped,
}

impl OutboxState {
    pub fn stage(&self) -> Stage {
        match self {
            Self::Scheduled { due_at, .. } => Stage::Scheduled { due_at: *due_at },
            Self::Claimed { until } => Stage::Claimed { until: *until },
            Self::Read | Self::Sent | Self::Skipped { .. } | Self::Failed { .. } => Stage::Settled,
        }
    }

    /// A row that joins a batch taken at `now`: what the facts make of it. `unread`: its reply
    /// is neither read nor emailed yet.
    pub fn taken(unread: bool, reach: Reach, now: Timestamp, lease: Duration) -> Self {
        match (unread, reach) {
            (false, _) => Self::Read,
            (true, Reach::Stopped) => Self::Skipped {
                reason: UNSUBSCRIBED.into(),
            },
            (true, Reach::NoAddress) => Self::Skipped {
                reason: NO_EMAIL.into(),
            },
            (true, Reach::Address) => Self::Claimed {
                until: now.saturating_add(lease),
            },
        }
    }

    /// A claimed row once its worker reports how delivery went; `None` when the row is no
    /// longer held under that claim (it ran out and another worker took over).
    pub fn completed(&self, claim: Timestamp, outcome: &Outcome) -> Option<Self> {
        if *self != (Self::Claimed { until: claim }) {
            return None;
        }
        Some(match outcome {
            Outcome::Sent { .. } => Self::Sent,
            Outcome::Skipped { reason, .. } => Self::Skipped {
                reason: reason.clone(),
            },
            Outcome::Retry { reason, at, .. } => Self::Scheduled {
                due_at: *at,
                after: Some(reason.clone()),
            },
            Outcome::Failed { reason, .. } => Self::Failed {
                reason: reason.clone(),
            },
        })
    }

    /// The visitor read the reply. Only a waiting row settles here: a claimed one is already
    /// on its way (its claim saw the reply unread), and a settled one stays as it is.
    pub fn read_by_visitor(&self) -> Option<Self> {
        matches!(self, Self::Scheduled { .. }).then_some(Self::Read)
    }

    /// The visitor left an address: a reply skipped for want of one, still unread, is due now.
    pub fn address_given(&self, unread: bool, now: Timestamp) -> Option<Self> {
        match self {
            Self::Skipped { reason } if unread && reason == NO_EMAIL => Some(Self::Scheduled {
                due_at: now,
                after: None,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::Channel;

    const LEASE: Duration = Duration::from_secs(60);

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    fn scheduled(due: i64) -> OutboxState {
        OutboxState::Scheduled {
            due_at: at(due),
            after: None,
        }
    }

    fn skipped(reason: &str) -> OutboxState {
        OutboxState::Skipped {
            reason: reason.into(),
        }
    }

    /// Every state at `now` = 1,000 ms: may a worker take it, and does a batch carry it?
    #[test]
    fn availability_and_batching_follow_the_due_time_and_the_lease() {
        let now = at(1_000);
        for (state, availability, joins) in [
            (scheduled(999), Availability::Take, true),
            (scheduled(1_000), Availability::Take, true),
            (scheduled(1_001), Availability::NotDue(at(1_001)), true),
            (
                OutboxState::Claimed { until: at(1_001) },
                Availability::Busy,
                false,
            ),
            (
                OutboxState::Claimed { until: at(1_000) },
                Availability::Take,
                true,
            ),
            (OutboxState::Read, Availability::Settled, false),
            (OutboxState::Sent, Availability::Settled, false),
            (skipped(NO_EMAIL), Availability::Settled, false),
            (
                OutboxState::Failed { reason: "x".into() },
                Availability::Settled,
                false,
            ),
        ] {
            assert_eq!(state.stage().availability(now), availability, "{state:?}");
            assert_eq!(state.stage().joins_batch(now), joins, "{state:?}");
        }
    }

    #[test]
    fn a_taken_row_is_claimed_read_or_skipped_by_the_facts() {
        let now = at(1_000);
        let claimed = OutboxState::Claimed { until: at(61_000) };
        for (unread, reach, expected) in [
            (true, Reach::Address, claimed.clone()),
            (true, Reach::NoAddress, skipped(NO_EMAIL)),
            (true, Reach::Stopped, skipped(UNSUBSCRIBED)),
            (false, Reach::Address, OutboxState::Read),
            (false, Reach::NoAddress, OutboxState::Read),
            (false, Reach::Stopped, OutboxState::Read),
        ] {
            assert_eq!(
                OutboxState::taken(unread, reach, now, LEASE),
                expected,
                "{unread} {reach:?}"
            );
        }
    }

    #[test]
    fn outcomes_settle_or_reschedule_only_the_claim_they_report_on() {
        let claim = at(61_000);
        let held = OutboxState::Claimed { until: claim };
        let channel = Channel::Email;
        let retry_at = at(90_000);
        for (outcome, expected) in [
            (
                Outcome::Sent {
                    channel,
                    recipient: "v@example.org".into(),
                },
                OutboxState::Sent,
            ),
            (
                Outcome::Skipped {
                    channel,
                    reason: "routed elsewhere".into(),
                },
                skipped("routed elsewhere"),
            ),
            (
                Outcome::Retry {
                    channel,
                    recipient: None,
                    reason: "SMTP 451".into(),
                    at: retry_at,
                },
                OutboxState::Scheduled {
                    due_at: retry_at,
                    after: Some("SMTP 451".into()),
                },
            ),
            (
                Outcome::Failed {
                    channel,
                    recipient: None,
                    reason: "SMTP 550".into(),
                },
                OutboxState::Failed {
                    reason: "SMTP 550".into(),
                },
            ),
        ] {
            assert_eq!(
                held.completed(claim, &outcome),
                Some(expected),
                "{outcome:?}"
            );
            // Another worker's claim, a row settled or waiting meanwhile: nothing recorded.
            for other in [
                OutboxState::Claimed { until: at(62_000) },
                OutboxState::Sent,
                OutboxState::Read,
                scheduled(0),
            ] {
                assert_eq!(other.completed(claim, &outcome), None, "{other:?}");
            }
        }
    }

    #[test]
    fn reading_settles_only_a_waiting_row() {
        assert_eq!(scheduled(5).read_by_visitor(), Some(OutboxState::Read));
        for state in [
            OutboxState::Claimed { until: at(5) },
            OutboxState::Read,
            OutboxState::Sent,
            skipped(NO_EMAIL),
            OutboxState::Failed { reason: "x".into() },
        ] {
            assert_eq!(state.read_by_visitor(), None, "{state:?}");
        }
    }

    #[test]
    fn an_address_revives_only_unread_replies_skipped_for_want_of_one() {
        let now = at(7);
        assert_eq!(
            skipped(NO_EMAIL).address_given(true, now),
            Some(OutboxState::Scheduled {
                due_at: now,
                after: None
            })
        );
        assert_eq!(skipped(NO_EMAIL).address_given(false, now), None);
        for state in [
            skipped(UNSUBSCRIBED),
            skipped("routed elsewhere"),
            scheduled(1),
            OutboxState::Claimed { until: at(5) },
            OutboxState::Read,
            OutboxState::Sent,
            OutboxState::Failed { reason: "x".into() },
        ] {
            assert_eq!(state.address_given(true, now), None, "{state:?}");
        }
    }
}
