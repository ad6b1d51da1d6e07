//! The installation as its operator (the platform) watches it: the processes that run it and
//! when each last said it was alive, the notification queue and the webhook backlog, and the
//! size of the database.

mod health;
mod nodes;

pub use health::{Backlog, InstallationHealth};
pub use nodes::{NodeInfo, NodeRole};

use std::sync::Arc;

use crate::services::Deps;

#[derive(Clone)]
pub struct InstallationService {
    deps: Arc<Deps>,
}

impl InstallationService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    /// The installation's key for the platform console's sessions (the same on every node).
    pub async fn platform_session_key(&self) -> crate::CoreResult<Vec<u8>> {
        crate::server_key::server_key(&self.deps, "platform-session").await
    }
}
