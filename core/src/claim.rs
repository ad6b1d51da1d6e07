//! Rows that workers claim for a lease and then complete (browser pushes, transcripts): which
//! of them are up for claiming now.

use sea_orm::{ColumnTrait, Condition, Value};

use crate::clock::Timestamp;

/// The columns that hold a claimable row's state.
pub(crate) struct ClaimColumns<C> {
    pub status: C,
    pub due_at: C,
    pub claimed_until: C,
}

impl<C: ColumnTrait> ClaimColumns<C> {
    /// Waiting (`pending`) and due, or in flight (`sending`) with a claim that ran out: its
    /// worker died, and another takes it over.
    pub(crate) fn claimable(
        &self,
        pending: impl Into<Value>,
        sending: impl Into<Value>,
        now: Timestamp,
    ) -> Condition {
        Condition::any()
            .add(
                Condition::all()
                    .add(self.status.eq(pending))
                    .add(self.due_at.lte(now.millis())),
            )
            .add(
                Condition::all()
                    .add(self.status.eq(sending))
                    .add(self.claimed_until.lt(now.millis())),
            )
    }

    /// Still in flight (`sending`) under the claim that ran until `claimed_until`: no other
    /// worker has taken the row over, so its outcome may be recorded.
    pub(crate) fn held(&self, sending: impl Into<Value>, claimed_until: Timestamp) -> Condition {
        Condition::all()
            .add(self.status.eq(sending))
            .add(self.claimed_until.eq(claimed_until.millis()))
    }
}
