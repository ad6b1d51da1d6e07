//! The engine, the linker and the calls.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{
    Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store,
    Trap,
};

use crate::HOOKS_INTERFACE;
use crate::bindings::PluginPre;
use crate::error::{CallError, ValidationError};
use crate::hooks::{
    self, Delivery, EmailTemplate, HookContext, Manifest, RenderedEmail, UnreadMessage,
};
use crate::limits::{CallLimits, MAX_MEMORY_BYTES, MAX_WASM_STACK};
use crate::store::CallState;

/// Plugin instances alive at once: the pool is sized for them, and calls beyond wait their turn
/// (a full pool must never look like the plugin's failure).
const CONCURRENT_CALLS: u32 = 64;

/// The pooling allocator keeps instances' memories and tables mapped between calls, so a call
/// does not pay for fresh mappings. Sized for [`CONCURRENT_CALLS`] components of a few core
/// instances each, and for the largest memory a tenant may be given.
fn pool() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(CONCURRENT_CALLS)
        .total_core_instances(CONCURRENT_CALLS * 8)
        .total_memories(CONCURRENT_CALLS * 2)
        .total_tables(CONCURRENT_CALLS * 8)
        .max_memory_size(MAX_MEMORY_BYTES);
    pool
}

/// The epoch clock's tick: a call's deadline is counted in these.
const TICK: Duration = Duration::from_millis(1);

/// WASI interfaces a guest built for `wasm32-wasip2` links against. The host provides them
/// with nothing behind: no preopened directories, no sockets allowed, no environment.
const OFFERED_IMPORTS: [&str; 6] = [
    "wasi:cli/",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:filesystem/",
    "wasi:sockets/",
];

/// One engine for every tenant's plugins, with the linker they all share.
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<CallState>,
    ticking: Arc<AtomicBool>,
    /// One permit per instance the pool holds.
    turns: Arc<tokio::sync::Semaphore>,
    /// Compiled plugins by the SHA-256 of their bytes: a module is compiled once per process.
    loaded: Mutex<HashMap<String, CompiledPlugin>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}

/// A validated, compiled plugin, ready to instantiate.
#[derive(Clone)]
pub struct CompiledPlugin {
    pre: PluginPre<CallState>,
    pub manifest: Manifest,
    /// SHA-256 of the uploaded bytes, hex.
    pub sha256: String,
}

/// What one call came to, with what the plugin printed meanwhile (for its log).
#[derive(Debug)]
pub struct Call<T> {
    pub result: Result<T, CallError>,
    pub output: String,
    pub elapsed: Duration,
}

impl PluginHost {
    /// `cache_dir`: where compiled code is kept across restarts, keyed by the module's hash and
    /// the engine's version (wasmtime's own cache); `None` compiles every module at start.
    pub fn new(cache_dir: Option<&Path>) -> Result<Self, CallError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.max_wasm_stack(MAX_WASM_STACK);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool()));
        if let Some(dir) = cache_dir {
            let mut cache = CacheConfig::new();
            cache.with_directory(dir);
            config.cache(Some(Cache::new(cache).map_err(host_error)?));
        }
        let engine = Engine::new(&config).map_err(host_error)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(host_error)?;
        let ticking = Arc::new(AtomicBool::new(true));
        spawn_ticker(engine.clone(), ticking.clone())
            .map_err(|e| CallError::Host(format!("cannot start the plugin clock: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                ticking,
                turns: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_CALLS as usize)),
                loaded: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Everything an upload must pass: size, a component, the imports this host offers, the
    /// `tandem:plugin/hooks@0.1.0` export with the right types, and a manifest call that
    /// answers in time with a usable manifest.
    pub async fn validate(
        &self,
        wasm: Vec<u8>,
        max_bytes: usize,
        limits: CallLimits,
    ) -> Result<CompiledPlugin, ValidationError> {
        if wasm.len() > max_bytes {
            return Err(ValidationError::TooLarge {
                size: wasm.len(),
                limit: max_bytes,
            });
        }
        let host = self.clone();
        let (pre, sha256) = tokio::task::spawn_blocking(move || host.compile(&wasm))
            .await
            .map_err(|e| ValidationError::NotAComponent(e.to_string()))??;
        let call = self.call_manifest(&pre, limits).await;
        let manifest = call.result.map_err(|e| match e {
            CallError::Malformed(reason) => ValidationError::BadManifest(reason),
            other => ValidationError::Manifest(other),
        })?;
        Ok(CompiledPlugin {
            pre,
            manifest,
            sha256,
        })
    }

    /// A stored plugin, compiled and kept for the next call (see [`Self::cached`]). It passed
    /// validation at upload; only a changed host can refuse it now.
    pub async fn load(
        &self,
        wasm: Vec<u8>,
        limits: CallLimits,
    ) -> Result<CompiledPlugin, ValidationError> {
        let compiled = self.validate(wasm, usize::MAX, limits).await?;
        self.inner
            .loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(compiled.sha256.clone(), compiled.clone());
        Ok(compiled)
    }

    /// A plugin this process compiled already, by the SHA-256 of its bytes.
    pub fn cached(&self, sha256: &str) -> Option<CompiledPlugin> {
        self.inner
            .loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(sha256)
            .cloned()
    }

    /// The component, checked against what this host offers and expects, pre-linked; and the
    /// SHA-256 of its bytes.
    fn compile(&self, wasm: &[u8]) -> Result<(PluginPre<CallState>, String), ValidationError> {
        let engine = &self.inner.engine;
        let component = Component::new(engine, wasm)
            .map_err(|e| ValidationError::NotAComponent(first_line(&e)))?;
        let ty = component.component_type();
        for (name, _) in ty.imports(engine) {
            if !OFFERED_IMPORTS.iter().any(|p| name.starts_with(p)) {
                return Err(ValidationError::ForbiddenImport(name.to_owned()));
            }
        }
        let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
        if !exports.iter().any(|n| n == HOOKS_INTERFACE) {
            return Err(ValidationError::WrongWorld {
                expected: HOOKS_INTERFACE,
                found: exports
                    .into_iter()
                    .find(|n| n.starts_with("tandem:plugin/")),
            });
        }
        let instance_pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| ValidationError::ForbiddenImport(first_line(&e)))?;
        let pre = PluginPre::new(instance_pre)
            .map_err(|e| ValidationError::NotAComponent(first_line(&e)))?;
        Ok((pre, tandem_core::secret::hex(&Sha256::digest(wasm))))
    }

    async fn call_manifest(
        &self,
        pre: &PluginPre<CallState>,
        limits: CallLimits,
    ) -> Call<Manifest> {
        self.run(pre.clone(), limits, |plugin, store| {
            let m = plugin.tandem_plugin_hooks().call_describe(store)?;
            Ok(hooks::manifest(m))
        })
        .await
    }

    pub async fn offline_timeout(
        &self,
        plugin: &CompiledPlugin,
        limits: CallLimits,
        ctx: &HookContext,
    ) -> Call<Option<u32>> {
        let ctx = hooks::context(ctx);
        self.run(plugin.pre.clone(), limits, move |p, store| {
            Ok(Ok(p
                .tandem_plugin_hooks()
                .call_offline_timeout(store, &ctx)?))
        })
        .await
    }

    pub async fn email_template(
        &self,
        plugin: &CompiledPlugin,
        limits: CallLimits,
        ctx: &HookContext,
    ) -> Call<Option<EmailTemplate>> {
        let ctx = hooks::context(ctx);
        self.run(plugin.pre.clone(), limits, move |p, store| {
            let answer = p.tandem_plugin_hooks().call_email_template(store, &ctx)?;
            Ok(answer.map(hooks::email_template).transpose())
        })
        .await
    }

    pub async fn route_notification(
        &self,
        plugin: &CompiledPlugin,
        limits: CallLimits,
        ctx: &HookContext,
        messages: &[UnreadMessage],
        email: &RenderedEmail,
    ) -> Call<Option<Vec<Delivery>>> {
        let ctx = hooks::context(ctx);
        let messages = hooks::messages(messages);
        let email = hooks::rendered(email);
        self.run(plugin.pre.clone(), limits, move |p, store| {
            let answer = p
                .tandem_plugin_hooks()
                .call_route_notification(store, &ctx, &messages, &email)?;
            Ok(answer.map(hooks::deliveries).transpose())
        })
        .await
    }

    /// Instantiates the plugin in a fresh store under `limits` and runs `f` on a blocking
    /// thread. `f` answers the wasm outcome (a trap is `Err`) of a checked result.
    async fn run<T, F>(&self, pre: PluginPre<CallState>, limits: CallLimits, f: F) -> Call<T>
    where
        T: Send + 'static,
        F: FnOnce(
                &crate::bindings::Plugin,
                &mut Store<CallState>,
            ) -> wasmtime::Result<Result<T, CallError>>
            + Send
            + 'static,
    {
        let engine = self.inner.engine.clone();
        let started = Instant::now();
        let Ok(turn) = self.inner.turns.clone().acquire_owned().await else {
            return Call {
                result: Err(CallError::Host("the plugin host is shutting down".into())),
                output: String::new(),
                elapsed: started.elapsed(),
            };
        };
        let joined = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let mut store = Store::new(&engine, CallState::new(limits.memory_bytes));
            store.limiter(|state| &mut state.limiter);
            store.set_epoch_deadline(ticks(limits.timeout));
            store.epoch_deadline_trap();
            let outcome = pre
                .instantiate(&mut store)
                .and_then(|plugin| f(&plugin, &mut store));
            let state = store.data();
            let result = match outcome {
                Ok(checked) => checked,
                Err(e) => Err(call_error(&e, state.limiter.hit, limits)),
            };
            (result, state.output())
        })
        .await;
        let (result, output) = match joined {
            Ok(done) => done,
            Err(e) => (Err(CallError::Host(e.to_string())), String::new()),
        };
        Call {
            result,
            output,
            elapsed: started.elapsed(),
        }
    }
}

fn call_error(e: &wasmtime::Error, memory_hit: bool, limits: CallLimits) -> CallError {
    if let Some(trap) = e.downcast_ref::<Trap>() {
        if *trap == Trap::Interrupt {
            return CallError::Timeout(
                u64::try_from(limits.timeout.as_millis()).unwrap_or(u64::MAX),
            );
        }
        if memory_hit {
            return CallError::MemoryLimit(limits.memory_bytes / (1024 * 1024));
        }
        return CallError::Trap(trap.to_string());
    }
    if memory_hit {
        return CallError::MemoryLimit(limits.memory_bytes / (1024 * 1024));
    }
    CallError::Trap(first_line(e))
}

/// Deadline in epoch ticks; one more than the time so a call is never cut short.
fn ticks(timeout: Duration) -> u64 {
    u64::try_from(timeout.as_micros() / TICK.as_micros()).unwrap_or(u64::MAX) + 1
}

fn spawn_ticker(engine: Engine, ticking: Arc<AtomicBool>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("plugin-epoch".into())
        .spawn(move || {
            while ticking.load(Ordering::Relaxed) {
                std::thread::sleep(TICK);
                engine.increment_epoch();
            }
        })
        .map(drop)
}

fn host_error(e: wasmtime::Error) -> CallError {
    CallError::Host(e.to_string())
}

fn first_line(e: &wasmtime::Error) -> String {
    format!("{e:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}
