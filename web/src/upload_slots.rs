//! How many uploads this process reads at once: each holds up to a tenant's largest file in
//! memory. A few for the whole process, fewer for one tenant, so that one company's flood of
//! files (or of stalled uploads) leaves the others room. Beyond either, an upload is refused
//! for a moment (503 with Retry-After) rather than queued.

use std::collections::HashMap;
use std::sync::Mutex;

use tandem_core::ids::TenantId;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Uploads read at once by this process.
const IN_ALL: usize = 16;
/// Of those, one tenant's.
const PER_TENANT: usize = 4;

pub struct UploadSlots {
    in_all: Semaphore,
    per_tenant: Mutex<HashMap<TenantId, usize>>,
}

impl Default for UploadSlots {
    fn default() -> Self {
        Self {
            in_all: Semaphore::new(IN_ALL),
            per_tenant: Mutex::default(),
        }
    }
}

/// An upload being read; dropping it frees its place.
pub struct UploadSlot<'a> {
    slots: &'a UploadSlots,
    tenant: TenantId,
    _place: SemaphorePermit<'a>,
}

impl UploadSlots {
    /// A place for one of `tenant`'s uploads, if there is one now.
    pub fn try_take(&self, tenant: TenantId) -> Option<UploadSlot<'_>> {
        let mut taken = self.per_tenant.lock().ok()?;
        if taken.get(&tenant).copied().unwrap_or(0) >= PER_TENANT {
            return None;
        }
        let place = self.in_all.try_acquire().ok()?;
        *taken.entry(tenant).or_default() += 1;
        Some(UploadSlot {
            slots: self,
            tenant,
            _place: place,
        })
    }
}

impl Drop for UploadSlot<'_> {
    fn drop(&mut self) {
        let Ok(mut taken) = self.slots.per_tenant.lock() else {
            return;
        };
        if let Some(theirs) = taken.get_mut(&self.tenant) {
            *theirs -= 1;
            if *theirs == 0 {
                taken.remove(&self.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_tenant_takes_a_few_places_and_leaves_the_rest() {
        let slots = UploadSlots::default();
        let (greedy, other) = (TenantId::new(), TenantId::new());
        let held: Vec<_> = (0..PER_TENANT)
            .map(|_| slots.try_take(greedy).expect("a place"))
            .collect();
        assert!(
            slots.try_take(greedy).is_none(),
            "the tenant's share is taken"
        );
        let theirs = slots.try_take(other).expect("room for another tenant");
        drop(held);
        assert!(slots.try_take(greedy).is_some(), "freed when done");
        drop(theirs);
        // The process's own bound holds whatever the tenants.
        let many: Vec<_> = (0..IN_ALL)
            .filter_map(|_| slots.try_take(TenantId::new()))
            .collect();
        assert_eq!(many.len(), IN_ALL);
        assert!(slots.try_take(TenantId::new()).is_none());
        drop(many);
        assert!(
            slots.per_tenant.lock().unwrap().is_empty(),
            "nothing left behind"
        );
    }
}
