//! The audit trail: every change an admin or the platform makes to a tenant — settings,
//! templates, operators and their photos, plugins, canned replies, secrets, suspensions and
//! limits — with who made it, when, from which address, and what changed (the changed fields
//! before and after, secrets redacted). Each entry is written in the transaction of the change
//! it records, so there is no change without its entry and no entry without its change. The API
//! only reads the trail; entries older than the installation's retention are pruned.

mod actor;
mod change;
mod entry;
mod record;
mod service;

pub use actor::{ChangedBy, PlatformActor, PlatformVia};
pub(crate) use change::Change;
pub use change::REDACTED;
pub use entry::{Action, ActorKind, AuditActor, AuditEntry, AuditTarget, TargetKind};
pub(crate) use record::{Target, label_of, record};
pub use service::{AuditService, MAX_PAGE, TrailPage};
