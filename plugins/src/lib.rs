//! The wasmtime host for tenant plugins.
//!
//! A plugin is a WebAssembly component of one of the released `tandem:plugin` worlds
//! (`plugins/wit/since_vX.Y.Z/`, each kept forever). The host validates it at upload, compiles
//! it once, and runs its hooks under hard limits — a deadline, a memory cap, a bounded stack, an
//! empty WASI context — on blocking threads, never on the async runtime. A hook that fails in any way is an error the caller turns into the default
//! behaviour; the plugin never gets to break a delivery.

pub mod compile;
pub mod error;
pub mod hooks;
pub mod host;
pub mod limits;
pub mod observer;
pub mod runtime;
mod store;
mod trial;
mod turns;
mod world;

pub use compile::{CompileBudget, Compiler};
pub use error::{CallError, ValidationError};
pub use hooks::{
    Delivery, HookContext, HookName, Manifest, RenderedEmail, TenantContext, UnreadMessage,
    VisitorInfo, Webhook,
};
pub use host::{CompiledPlugin, HostOptions, PluginHost};
pub use limits::CallLimits;
pub use observer::{CallObserver, CallOutcome, NoObserver};
pub use runtime::PluginRuntime;
pub use world::{CURRENT as CURRENT_WORLD, SUPPORTED as SUPPORTED_WORLDS};
