//! This process's counts not yet written to the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::clock::Timestamp;
use crate::ids::TenantId;

use super::Metric;

/// A UTC day, as days since 1970-01-01.
pub(crate) type Day = i32;

pub(crate) fn day_of(at: Timestamp) -> Day {
    i32::try_from(at.millis().div_euclid(86_400_000)).unwrap_or(i32::MAX)
}

/// Counts by tenant, day and metric.
pub(crate) type Counts = HashMap<(TenantId, Day, Metric), u64>;

/// Counts by tenant, day and metric, shared by every part of a process that counts (clones share
/// them). Adding is a short lock and a hash-map update: cheap beside the commit it follows.
#[derive(Clone, Default)]
pub struct UsageMeter {
    counts: Arc<Mutex<Counts>>,
}

impl UsageMeter {
    pub fn add(&self, tenant: TenantId, at: Timestamp, metric: Metric, n: u64) {
        if n > 0 {
            *self.lock().entry((tenant, day_of(at), metric)).or_default() += n;
        }
    }

    /// Everything counted since the last take, leaving nothing.
    pub(crate) fn take(&self) -> Counts {
        std::mem::take(&mut *self.lock())
    }

    /// Counts that could not be written go back, to be written with the next ones.
    pub(crate) fn put_back(&self, counts: Counts) {
        let mut kept = self.lock();
        for (key, n) in counts {
            *kept.entry(key).or_default() += n;
        }
    }

    /// Drops a deleted tenant's counts not yet written.
    pub(crate) fn forget(&self, tenant: TenantId) {
        self.lock().retain(|(of, _, _), _| *of != tenant);
    }

    /// What is counted but not written yet, for reports that must include it.
    pub(crate) fn pending(&self) -> Vec<((TenantId, Day, Metric), u64)> {
        self.lock().iter().map(|(k, n)| (*k, *n)).collect()
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}
