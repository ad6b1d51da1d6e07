//! Building the exports tenant admins and the platform ask for: the work is core's (what goes
//! in the archive and how it is stored); here it is started from a job or the sweep. A build
//! may take minutes, so it runs as a task of its own, a few at once per process, and the job
//! or the sweep pass that started it goes on with the mail.

use tandem_core::export::ExportBuilt;
use tandem_core::ids::ExportId;
use tokio::sync::Semaphore;

use crate::deliver::{DeliverError, Delivered, Deliverer};

/// Builds running at once in this process; the others wait for the sweep.
const BUILDS_AT_ONCE: usize = 2;
static BUILDING: Semaphore = Semaphore::const_new(BUILDS_AT_ONCE);

impl Deliverer {
    /// Starts building export `id` in the background, unless this process is busy with as many
    /// as it builds at once (the sweep starts it later). Returns whether it started.
    pub fn start_export(&self, id: ExportId) -> bool {
        let Ok(permit) = BUILDING.try_acquire() else {
            return false;
        };
        let this = self.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = this.build_export(id).await {
                tracing::warn!(export = %id, error = %e, "export not built; the sweep retries");
            }
        });
        true
    }

    /// Builds export `id` when it is due. Safe from several workers at once: one builds, under
    /// a lease it renews as it goes.
    async fn build_export(&self, id: ExportId) -> Result<Delivered, DeliverError> {
        let built = self.tandem.exports.build(id, self.settings.lease).await?;
        Ok(match built {
            ExportBuilt::Ready => Delivered::Sent,
            ExportBuilt::Retry(at) => Delivered::Retry(at),
            ExportBuilt::Failed => Delivered::Failed,
            ExportBuilt::NotDue(at) => Delivered::NotDue(at),
            ExportBuilt::Nothing => Delivered::Nothing,
        })
    }
}
