//! The wasmtime host for tenant plugins.
//!
//! A plugin is a WebAssembly component of the `tandem:plugin` world (`plugins/wit/`). The host
//! validates it at upload, compiles it once, and runs its hooks under hard limits — a deadline,
//! a memory cap, a bounded stack, an empty WASI context — on blocking threads, never on the
//! async runtime. A hook that fails in any way is an error the caller turns into the default
//! behaviour; the plugin never gets to break a delivery.

mod bindings;
pub mod compile;
pub mod error;
pub mod hooks;
pub mod host;
pub mod limits;
pub mod observer;
pub mod runtime;
mod store;
mod turns;

pub use compile::{CompileBudget, Compiler};
pub use error::{CallError, ValidationError};
pub use hooks::{
    Delivery, HookContext, HookName, Manifest, RenderedEmail, UnreadMessage, VisitorInfo, Webhook,
};
pub use host::{CompiledPlugin, HostOptions, PluginHost};
pub use limits::CallLimits;
pub use observer::{CallObserver, CallOutcome, NoObserver};
pub use runtime::PluginRuntime;

/// The world version this host implements; a plugin must export exactly this interface.
pub const HOOKS_INTERFACE: &str = "tandem:plugin/hooks@0.1.0";
