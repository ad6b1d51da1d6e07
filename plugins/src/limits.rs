//! What one hook call may use.

use std::time::Duration;

use tandem_core::ids::TenantId;

/// The largest module accepted at upload, by default: a JavaScript plugin carries its engine
/// (StarlingMonkey, about 12 MB), a Rust one is well under 1 MB.
pub const MAX_MODULE_BYTES: usize = 20 * 1024 * 1024;
/// How much a plugin may write to stdout and stderr in one call; the rest is dropped.
pub const LOG_BYTES: usize = 16 * 1024;
/// The most linear memory a tenant's plugins may be given (the platform admin's limit).
pub const MAX_MEMORY_BYTES: usize = 1024 * 1024 * 1024;
/// The wasm stack of one call: deep recursion ends in a trap, not in a host stack overflow.
pub const MAX_WASM_STACK: usize = 512 * 1024;
/// What one call may make the host copy out of the guest (its answer, or what it writes), in
/// bytes: wasmtime's default of 128 MiB lets a list of strings that all point at one buffer
/// cost the host far more than the guest's memory cap.
pub const MAX_COPY_BYTES: usize = 4 * 1024 * 1024;
/// The manifest call's deadline when the tenant's is shorter. It runs once per upload or load,
/// and a JavaScript plugin's first call pages in megabytes of code: on a busy machine that
/// alone can take longer than a hook's 50 ms, which must not refuse a good plugin.
pub const MANIFEST_TIME: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallLimits {
    /// Wall time of one call, instantiation included.
    pub timeout: Duration,
    /// Linear memory of the instance (the cap applies to each memory; guests have one).
    pub memory_bytes: usize,
    /// Whose call it is: each tenant has its own share of the plugin instances.
    pub tenant: Option<TenantId>,
}

impl Default for CallLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(50),
            memory_bytes: 32 * 1024 * 1024,
            tenant: None,
        }
    }
}

impl CallLimits {
    pub fn new(timeout_ms: u32, memory_mib: u32) -> Self {
        Self {
            timeout: Duration::from_millis(u64::from(timeout_ms)),
            memory_bytes: usize::try_from(memory_mib)
                .unwrap_or(usize::MAX)
                .saturating_mul(1024 * 1024),
            tenant: None,
        }
    }

    pub fn of_tenant(mut self, tenant: TenantId) -> Self {
        self.tenant = Some(tenant);
        self
    }
}
