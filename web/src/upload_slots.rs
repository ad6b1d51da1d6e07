//! How many uploads this process reads at once: each holds up to a tenant's largest file in
//! memory. A few for the whole process; of those, a few for one tenant's visitors and a few for
//! its operators (so that visitors holding uploads open cannot stop the company's own people);
//! and two for one client address (so that one visitor cannot take their company's share). A
//! company's flood of files, or of stalled uploads, leaves the others room. Beyond any of these,
//! an upload is refused for a moment (503 with Retry-After) rather than queued.

use std::net::IpAddr;

use tandem_core::held::{Held, OpenCounts};
use tandem_core::ids::TenantId;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Uploads read at once by this process.
const IN_ALL: usize = 16;
/// Of those, one tenant's visitors', and one tenant's operators'.
const PER_TENANT_SIDE: usize = 4;
/// Of a tenant's visitors', one client address's.
const PER_ADDRESS: usize = 2;

/// Who sends an upload.
#[derive(Clone, Copy, Debug)]
pub enum Uploader {
    /// A visitor, from this address when the server knows it.
    Visitor(Option<IpAddr>),
    /// An operator or admin of the tenant.
    Staff,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Side {
    Visitors,
    Staff,
}

pub struct UploadSlots {
    in_all: Semaphore,
    per_tenant: OpenCounts<(TenantId, Side)>,
    per_address: OpenCounts<IpAddr>,
}

/// An upload being read; dropping it frees its places.
pub struct UploadSlot<'a> {
    _place: SemaphorePermit<'a>,
    _tenant: Held<(TenantId, Side)>,
    _address: Option<Held<IpAddr>>,
}

impl Default for UploadSlots {
    fn default() -> Self {
        Self::new()
    }
}

impl UploadSlots {
    pub fn new() -> Self {
        Self {
            in_all: Semaphore::new(IN_ALL),
            per_tenant: OpenCounts::default(),
            per_address: OpenCounts::default(),
        }
    }

    /// A place for one of `tenant`'s uploads from `who`, if there is one now.
    pub fn try_take(&self, tenant: TenantId, who: Uploader) -> Option<UploadSlot<'_>> {
        let (side, address) = match who {
            Uploader::Visitor(address) => (Side::Visitors, address),
            Uploader::Staff => (Side::Staff, None),
        };
        let address = match address {
            Some(ip) => Some(self.per_address.take(ip, PER_ADDRESS)?),
            None => None,
        };
        let tenant = self.per_tenant.take((tenant, side), PER_TENANT_SIDE)?;
        let place = self.in_all.try_acquire().ok()?;
        Some(UploadSlot {
            _place: place,
            _tenant: tenant,
            _address: address,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, last]))
    }

    #[test]
    fn one_tenant_takes_a_few_places_and_leaves_the_rest() {
        let slots = UploadSlots::new();
        let (greedy, other) = (TenantId::new(), TenantId::new());
        // One address takes two places, however many visitors it plays.
        let first = slots
            .try_take(greedy, Uploader::Visitor(ip(1)))
            .expect("a place");
        let second = slots
            .try_take(greedy, Uploader::Visitor(ip(1)))
            .expect("a place");
        assert!(slots.try_take(greedy, Uploader::Visitor(ip(1))).is_none());
        let third = slots
            .try_take(greedy, Uploader::Visitor(ip(2)))
            .expect("a place");
        let fourth = slots
            .try_take(greedy, Uploader::Visitor(ip(3)))
            .expect("a place");
        assert!(
            slots.try_take(greedy, Uploader::Visitor(ip(4))).is_none(),
            "the tenant's visitors' share is taken"
        );
        // Its operators, and other tenants, still have room.
        let staff = slots
            .try_take(greedy, Uploader::Staff)
            .expect("operators' own places");
        let theirs = slots
            .try_take(other, Uploader::Visitor(ip(9)))
            .expect("room for another tenant");
        drop((first, second, third, fourth, staff, theirs));
        assert!(
            slots.try_take(greedy, Uploader::Visitor(ip(1))).is_some(),
            "freed when done"
        );
        // The process's own bound holds whatever the tenants.
        let many: Vec<_> = (0..IN_ALL)
            .filter_map(|_| slots.try_take(TenantId::new(), Uploader::Staff))
            .collect();
        assert_eq!(many.len(), IN_ALL);
        assert!(slots.try_take(TenantId::new(), Uploader::Staff).is_none());
    }
}
