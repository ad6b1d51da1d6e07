//! What the runtime reports about plugin calls and compilations, for whoever keeps metrics
//! (the binary's Prometheus registry).

use std::time::Duration;

use tandem_core::ids::TenantId;

use crate::error::CallError;
use crate::hooks::HookName;

/// How one call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// It answered (with an opinion or none).
    Answered,
    /// It ran past its deadline.
    Deadline,
    /// It trapped, hit its memory cap or answered something unusable.
    Failed,
    /// No instance was free in time; it did not run.
    Busy,
}

impl CallOutcome {
    pub fn of<T>(result: &Result<T, CallError>) -> Self {
        match result {
            Ok(_) => Self::Answered,
            Err(CallError::Timeout(_)) => Self::Deadline,
            Err(CallError::Busy(_)) => Self::Busy,
            Err(_) => Self::Failed,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Deadline => "deadline",
            Self::Failed => "failed",
            Self::Busy => "busy",
        }
    }
}

pub trait CallObserver: Send + Sync + 'static {
    fn called(&self, tenant: TenantId, hook: HookName, outcome: CallOutcome, elapsed: Duration);
    /// A module compiled (at upload or on first use), `ok` false when it was refused.
    fn compiled(&self, tenant: TenantId, elapsed: Duration, ok: bool);
}

/// Reports to nobody.
pub struct NoObserver;

impl CallObserver for NoObserver {
    fn called(&self, _: TenantId, _: HookName, _: CallOutcome, _: Duration) {}
    fn compiled(&self, _: TenantId, _: Duration, _: bool) {}
}
