//! Who may run a plugin now: one turn per pooled instance, and no more than a share of them for
//! any one tenant, so a tenant whose plugins are slow (or hostile) waits for itself alone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tandem_core::ids::TenantId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::CallError;

/// Calls one tenant may have running at once.
pub const CALLS_PER_TENANT: usize = 8;
/// How long a call waits for its turn before the default is used instead.
pub const TURN_WAIT: Duration = Duration::from_millis(500);

pub(crate) struct Turns {
    shared: Arc<Semaphore>,
    tenants: Mutex<HashMap<TenantId, Arc<Semaphore>>>,
}

/// Both permits of one call; dropping it gives them back.
pub(crate) struct Turn {
    _tenant: Option<OwnedSemaphorePermit>,
    _shared: OwnedSemaphorePermit,
}

impl Turns {
    pub(crate) fn new(instances: usize) -> Self {
        Self {
            shared: Arc::new(Semaphore::new(instances)),
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// A turn for a call of `tenant`'s (`None`: a call of no tenant, e.g. the CLI), waiting at
    /// most [`TURN_WAIT`] in all.
    pub(crate) async fn take(&self, tenant: Option<TenantId>) -> Result<Turn, CallError> {
        let waiting = async {
            let tenant = match tenant {
                Some(id) => Some(self.of(id).acquire_owned().await),
                None => None,
            };
            let shared = self.shared.clone().acquire_owned().await;
            (tenant.transpose(), shared)
        };
        match tokio::time::timeout(TURN_WAIT, waiting).await {
            Ok((Ok(tenant), Ok(shared))) => Ok(Turn {
                _tenant: tenant,
                _shared: shared,
            }),
            Ok(_) => Err(CallError::Host("the plugin host is shutting down".into())),
            Err(_) => Err(CallError::Busy(
                u64::try_from(TURN_WAIT.as_millis()).unwrap_or(u64::MAX),
            )),
        }
    }

    fn of(&self, tenant: TenantId) -> Arc<Semaphore> {
        let mut tenants = self
            .tenants
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if tenants.len() > 10_000 {
            // Forget the tenants with nothing running.
            tenants.retain(|_, s| s.available_permits() < CALLS_PER_TENANT);
        }
        tenants
            .entry(tenant)
            .or_insert_with(|| Arc::new(Semaphore::new(CALLS_PER_TENANT)))
            .clone()
    }
}
