//! The engine, the linker and the calls.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{
    Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store,
    Trap, UpdateDeadline,
};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use crate::compile::{CompileBudget, Compiler, first_line};
use crate::error::{CallError, ValidationError};
use crate::hooks::{
    Alert, AlertRoute, Availability, ClosedChat, Delivery, HookContext, Manifest, OfflineRequest,
    RenderedEmail, RequestAnswer, Staff, TenantContext, UnreadMessage, Webhook,
};
use crate::limits::{
    CallLimits, LOG_BYTES, MANIFEST_TIME, MAX_COPY_BYTES, MAX_MEMORY_BYTES, MAX_WASM_STACK,
};
use crate::store::CallState;
use crate::turns::Turns;
use crate::world::{self, Outcome, Pre};
use tandem_core::tenant::EmailParts;

/// Plugin instances alive at once: the pool is sized for them, and calls beyond wait their turn
/// (a full pool must never look like the plugin's failure).
const CONCURRENT_CALLS: u32 = 64;

/// How long past its deadline a caller waits for a call moved to a blocking thread before
/// abandoning it. The call itself ends at its deadline (an epoch trap while wasm runs, a dropped
/// future while a host call waits), or at the end of what no tick interrupts; this only covers
/// the hop back from its thread.
const ABANDON_AFTER: Duration = Duration::from_millis(250);

/// The pooling allocator keeps instances' memories and tables mapped between calls, so a call
/// does not pay for fresh mappings. Sized for [`CONCURRENT_CALLS`] components of a few core
/// instances each, and for the largest memory a tenant may be given.
fn pool() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(CONCURRENT_CALLS)
        .total_core_instances(CONCURRENT_CALLS * 8)
        .total_memories(CONCURRENT_CALLS * 2)
        .total_tables(CONCURRENT_CALLS * 8)
        .total_stacks(CONCURRENT_CALLS)
        .max_memory_size(MAX_MEMORY_BYTES);
    pool
}

/// How the host is set up.
#[derive(Clone, Debug)]
pub struct HostOptions {
    /// Where compiled code is kept across restarts, keyed by the module's hash and the engine's
    /// version (wasmtime's own cache); `None` compiles every module at start.
    pub cache_dir: Option<PathBuf>,
    pub compiler: Compiler,
    pub compile_budget: CompileBudget,
}

impl Default for HostOptions {
    fn default() -> Self {
        Self {
            cache_dir: None,
            compiler: Compiler::InProcess,
            compile_budget: CompileBudget::default(),
        }
    }
}

/// The epoch clock's tick: running wasm yields (and its deadline is checked) at each.
const TICK: Duration = Duration::from_millis(1);
/// Ticks a call runs on its caller's task before the rest of it moves to a blocking thread:
/// between one and two milliseconds since its store was made.
const INLINE_TICKS: u64 = 2;

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
    /// One turn per instance the pool holds, a share of them per tenant.
    turns: Turns,
    compiler: Compiler,
    compile_budget: CompileBudget,
    /// Compiled plugins by the SHA-256 of their bytes: a module is compiled once per process.
    loaded: Mutex<HashMap<String, CompiledPlugin>>,
    /// One compilation per module at a time: later callers wait for the first one's result.
    compiling: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Modules compiled since start.
    compilations: AtomicU64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}

/// A validated, compiled plugin, ready to instantiate.
#[derive(Clone)]
pub struct CompiledPlugin {
    pre: Pre,
    pub manifest: Manifest,
    /// SHA-256 of the uploaded bytes, hex.
    pub sha256: String,
    /// One of its calls was slow: its calls run on a blocking thread from then on.
    slow: Arc<AtomicBool>,
}

/// What one call came to, with what the plugin printed meanwhile (for its log).
#[derive(Debug)]
pub struct Call<T> {
    pub result: Result<T, CallError>,
    pub output: String,
    /// The whole call: waiting for an instance, instantiating, the hook, checking its answer.
    pub elapsed: Duration,
    /// Of which instantiating the plugin (a fresh instance per call); `None` when the call
    /// failed before its instance was made, or ran out of time.
    pub instantiation: Option<Duration>,
}

impl PluginHost {
    /// A host compiling in-process (tests and tools); see [`Self::with_options`].
    pub fn new(cache_dir: Option<&Path>) -> Result<Self, CallError> {
        Self::with_options(HostOptions {
            cache_dir: cache_dir.map(Path::to_path_buf),
            ..HostOptions::default()
        })
    }

    pub fn with_options(options: HostOptions) -> Result<Self, CallError> {
        let config = engine_config(true, options.cache_dir.as_deref())?;
        let engine = Engine::new(&config).map_err(host_error)?;
        let mut linker = Linker::new(&engine);
        // Async, so that a guest blocked in a host call (a clock's pollable, say) waits on a
        // future the host can drop at the deadline, instead of on a thread it cannot stop.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(host_error)?;
        let ticking = Arc::new(AtomicBool::new(true));
        spawn_ticker(engine.clone(), ticking.clone())
            .map_err(|e| CallError::Host(format!("cannot start the plugin clock: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                ticking,
                turns: Turns::new(CONCURRENT_CALLS as usize),
                compiler: options.compiler,
                compile_budget: options.compile_budget,
                loaded: Mutex::new(HashMap::new()),
                compiling: Mutex::new(HashMap::new()),
                compilations: AtomicU64::new(0),
            }),
        })
    }

    /// `tandem plugin compile`: the child side of [`Compiler::Subprocess`], with an engine
    /// configured as the server's (less the instance pool, which compiling does not use).
    pub fn compile_child(cache_dir: Option<&Path>) -> std::process::ExitCode {
        match engine_config(false, cache_dir).and_then(|c| Engine::new(&c).map_err(host_error)) {
            Ok(engine) => crate::compile::compile_stdin_to_stdout(&engine),
            Err(e) => {
                eprintln!("cannot start the compiler: {e}");
                std::process::ExitCode::FAILURE
            }
        }
    }

    /// Everything an upload must pass: size, a component, the imports this host offers, the
    /// hooks of a released world with the right types, and a manifest call that answers in time
    /// with a usable manifest.
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
        let sha256 = tandem_core::secret::hex(&Sha256::digest(&wasm));
        let inner = &self.inner;
        inner.compilations.fetch_add(1, Ordering::Relaxed);
        let component = inner
            .compiler
            .compile(&inner.engine, wasm, inner.compile_budget)
            .await?;
        let pre = self.link(&component)?;
        let manifest_limits = CallLimits {
            timeout: limits.timeout.max(MANIFEST_TIME),
            ..limits
        };
        let call = self.call_manifest(&pre, manifest_limits).await;
        let manifest = call.result.map_err(|e| match e {
            CallError::Malformed(reason) => ValidationError::BadManifest(reason),
            other => ValidationError::Manifest(other),
        })?;
        Ok(CompiledPlugin {
            pre,
            manifest,
            sha256,
            slow: Arc::new(AtomicBool::new(false)),
        })
    }

    /// A stored plugin, compiled and kept for the next call (see [`Self::cached`]). It passed
    /// validation at upload; only a changed host can refuse it now. Callers loading the same
    /// module at once share one compilation, which runs to its end even if they stop waiting.
    pub async fn load(
        &self,
        wasm: Vec<u8>,
        limits: CallLimits,
    ) -> Result<CompiledPlugin, ValidationError> {
        let host = self.clone();
        tokio::spawn(async move { host.load_alone(wasm, limits).await })
            .await
            .map_err(|e| ValidationError::Compiler(e.to_string()))?
    }

    async fn load_alone(
        &self,
        wasm: Vec<u8>,
        limits: CallLimits,
    ) -> Result<CompiledPlugin, ValidationError> {
        let sha256 = tandem_core::secret::hex(&Sha256::digest(&wasm));
        let flight = self
            .inner
            .compiling
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(sha256.clone())
            .or_default()
            .clone();
        let _alone = flight.lock().await;
        if let Some(hit) = self.cached(&sha256) {
            return Ok(hit);
        }
        let compiled = self.validate(wasm, usize::MAX, limits).await;
        if let Ok(compiled) = &compiled {
            self.keep(compiled);
        }
        self.inner
            .compiling
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&sha256);
        compiled
    }

    /// How many modules this host has compiled (uploads and loads), for metrics and tests.
    pub fn compilations(&self) -> u64 {
        self.inner.compilations.load(Ordering::Relaxed)
    }

    /// Keeps a plugin just validated (at upload) for the calls to come.
    pub fn keep(&self, compiled: &CompiledPlugin) {
        self.inner
            .loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(compiled.sha256.clone(), compiled.clone());
    }

    /// Drops the compiled code of a module no longer stored (its plugin was deleted).
    pub fn forget(&self, sha256: &str) {
        self.inner
            .loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(sha256);
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

    /// The component, checked against what this host offers, pre-linked and bound with the
    /// bindings of the world it declares.
    fn link(&self, component: &Component) -> Result<Pre, ValidationError> {
        let engine = &self.inner.engine;
        let ty = component.component_type();
        for (name, _) in ty.imports(engine) {
            if !OFFERED_IMPORTS.iter().any(|p| name.starts_with(p)) {
                return Err(ValidationError::ForbiddenImport(name.to_owned()));
            }
        }
        let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
        let Some(version) = exports.iter().find_map(|n| n.strip_prefix(world::HOOKS)) else {
            return Err(ValidationError::WrongWorld {
                found: exports
                    .into_iter()
                    .find(|n| n.starts_with("tandem:plugin/")),
            });
        };
        if !world::SUPPORTED.contains(&version) {
            return Err(ValidationError::UnsupportedWorld(version.to_owned()));
        }
        let instance_pre = self
            .inner
            .linker
            .instantiate_pre(component)
            .map_err(|e| ValidationError::ForbiddenImport(first_line(&e)))?;
        match Pre::bind(version, instance_pre) {
            Some(bound) => bound.map_err(|e| ValidationError::NotAComponent(first_line(&e))),
            None => Err(ValidationError::UnsupportedWorld(version.to_owned())),
        }
    }

    async fn call_manifest(&self, pre: &Pre, limits: CallLimits) -> Call<Manifest> {
        let pre = pre.clone();
        self.run(limits, None, move |store| pre.describe(store))
            .await
    }

    pub async fn offline_timeout(
        &self,
        plugin: &CompiledPlugin,
        limits: CallLimits,
        ctx: &HookContext,
    ) -> Call<Option<u32>> {
        let (pre, ctx) = (plugin.pre.clone(), ctx.clone());
        self.run(limits, Some(&plugin.slow), move |store| {
            pre.offline_timeout(store, ctx)
        })
        .await
    }

    pub async fn email_template(
        &self,
        plugin: &CompiledPlugin,
        limits: CallLimits,
        ctx: &HookContext,
    ) -> Call<Option<EmailParts>> {
        let (pre, ctx) = (plugin.pre.clone(), ctx.clone());
        self.run(limits, Some(&plugin.slow), move |store| {
            pre.email_template(store, ctx)
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
        let (pre, ctx) = (plugin.pre.clone(), ctx.clone());
        let (messages, email) = (messages.to_vec(), email.clone());
        self.run(limits, Some(&plugin.slow), move |store| {
            pre.route_notification(store, ctx, messages, email)
        })
        .await
    }

    pub async fn offline_request(
        &self,
        plugin: &CompiledPlugin,
        limits: CallLimits,
        ctx: &HookContext,
        request: &OfflineRequest,
    ) -> Call<Option<RequestAnswer>> {
        let (pre, ctx, request) = (plugin.pre.clone(), ctx.clone(), request.clone());
        self.run(limits, Some(&plugin.slow), move |store| {
            pre.offline_request(store, ctx, request)
        })
        .await
    }

    pub async fn availability(
        &self,
        plugin: &CompiledPlugin,
        limits: CallLimits,
        ctx: &TenantContext,
        staff: Staff,
    ) -> Call<Option<Availability>> {
        let (pre, ctx) = (plugin.pre.clone(), ctx.clone());
        self.run(limits, Some(&plugin.slow), move |store| {
            pre.availability(store, ctx, staff)
        })
        .await
    }

    pub async fn operator_alert(
        &self,
        plugin: &CompiledPlugin,
        limits: CallLimits,
        ctx: &HookContext,
        alert: &Alert,
    ) -> Call<Option<Vec<AlertRoute>>> {
        let (pre, ctx, alert) = (plugin.pre.clone(), ctx.clone(), alert.clone());
        self.run(limits, Some(&plugin.slow), move |store| {
            pre.operator_alert(store, ctx, alert)
        })
        .await
    }

    pub async fn chat_closed(
        &self,
        plugin: &CompiledPlugin,
        limits: CallLimits,
        ctx: &HookContext,
        chat: &ClosedChat,
    ) -> Call<Option<Vec<Webhook>>> {
        let (pre, ctx, chat) = (plugin.pre.clone(), ctx.clone(), chat.clone());
        self.run(limits, Some(&plugin.slow), move |store| {
            pre.chat_closed(store, ctx, chat)
        })
        .await
    }

    /// Runs `f` (which instantiates the plugin and calls it) in a fresh store under `limits`,
    /// within the call's deadline (counted from its turn) whatever the guest does. Most calls
    /// take tens of microseconds: they run right here, on the caller's task, without a hop to
    /// another thread. Running wasm yields at every epoch tick; a call still running after
    /// [`INLINE_TICKS`] is a slow one, and the rest of it is driven on a blocking thread. A
    /// plugin (`slow_before`) that was slow once runs on a blocking thread from then on, as
    /// does the check of an upload (`None`): what no tick interrupts (a bulk memory
    /// instruction, dropping a store it filled) then holds no async worker more than once.
    /// At the deadline the epoch callback interrupts the wasm; a wait inside a host call ends
    /// by the timeout around the call.
    async fn run<T, F, Fut>(
        &self,
        limits: CallLimits,
        slow_before: Option<&AtomicBool>,
        f: F,
    ) -> Call<T>
    where
        T: Send + 'static,
        F: FnOnce(Store<CallState>) -> Fut + Send + 'static,
        Fut: Future<Output = Outcome<T>> + Send + 'static,
    {
        let started = Instant::now();
        let output = MemoryOutputPipe::new(LOG_BYTES);
        let turn = match self.inner.turns.take(limits.tenant).await {
            Ok(turn) => turn,
            Err(e) => {
                return Call {
                    result: Err(e),
                    output: String::new(),
                    elapsed: started.elapsed(),
                    instantiation: None,
                };
            }
        };
        // The call's time starts once it has its turn: waiting for one is never its fault.
        let began = Instant::now();
        let deadline = began + limits.timeout;
        let mut store = Store::new(
            &self.inner.engine,
            CallState::new(limits.memory_bytes, output.clone()),
        );
        store.limiter(|state| &mut state.limiter);
        store.set_hostcall_fuel(MAX_COPY_BYTES);
        let slow = Arc::new(AtomicBool::new(false));
        store.set_epoch_deadline(INLINE_TICKS);
        store.epoch_deadline_callback({
            let slow = slow.clone();
            move |_| {
                if Instant::now() >= deadline {
                    return Ok(UpdateDeadline::Interrupt);
                }
                slow.store(true, Ordering::Relaxed);
                Ok(UpdateDeadline::Yield(1))
            }
        });
        let call = async move {
            let _turn = turn;
            match tokio::time::timeout_at(deadline.into(), f(store)).await {
                Ok((store, Ok(checked))) => (checked, store.data().instantiation),
                Ok((store, Err(e))) => (
                    Err(call_error(&e, store.data().limiter.hit, limits)),
                    store.data().instantiation,
                ),
                Err(_) => (Err(timeout(limits)), None),
            }
        };
        let mut call = Box::pin(call);
        // A plugin that was slow before, or whose upload is being checked, runs on a blocking
        // thread from the start: its next call may be slow in ways no tick interrupts (one
        // bulk memory instruction over its whole memory, dropping a store it filled).
        let inline_first = slow_before.is_some_and(|before| !before.load(Ordering::Relaxed));
        let inline = if inline_first {
            std::future::poll_fn(|cx| match call.as_mut().poll(cx) {
                Poll::Ready(ran) => Poll::Ready(Some(ran)),
                Poll::Pending if slow.load(Ordering::Relaxed) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            })
            .await
        } else {
            None
        };
        // Slow: it went on past its inline ticks, or took as long without reaching a tick.
        let went_slow = inline.is_none()
            || slow.load(Ordering::Relaxed)
            || began.elapsed() > TICK * INLINE_TICKS as u32;
        if went_slow
            && inline_first
            && let Some(before) = slow_before
        {
            before.store(true, Ordering::Relaxed);
        }
        let (result, instantiation) = match inline {
            Some(ran) => ran,
            None => {
                let runtime = tokio::runtime::Handle::current();
                let rest = tokio::task::spawn_blocking(move || runtime.block_on(call));
                match tokio::time::timeout(
                    deadline.saturating_duration_since(Instant::now()) + ABANDON_AFTER,
                    rest,
                )
                .await
                {
                    Ok(Ok(ran)) => ran,
                    Ok(Err(e)) => (Err(CallError::Host(e.to_string())), None),
                    // The thread ends on its own (at the deadline for running wasm); nobody
                    // waits for it.
                    Err(_) => (Err(timeout(limits)), None),
                }
            }
        };
        Call {
            result,
            output: String::from_utf8_lossy(&output.contents()).into_owned(),
            elapsed: started.elapsed(),
            instantiation,
        }
    }
}

fn timeout(limits: CallLimits) -> CallError {
    CallError::Timeout(u64::try_from(limits.timeout.as_millis()).unwrap_or(u64::MAX))
}

/// The engine's configuration, the same for the server and its compiler child (`pooling`: the
/// instance pool, which only the server needs).
fn engine_config(pooling: bool, cache_dir: Option<&Path>) -> Result<Config, CallError> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.max_wasm_stack(MAX_WASM_STACK);
    if pooling {
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool()));
    }
    if let Some(dir) = cache_dir {
        let mut cache = CacheConfig::new();
        cache.with_directory(dir);
        config.cache(Some(Cache::new(cache).map_err(host_error)?));
    }
    Ok(config)
}

fn call_error(e: &wasmtime::Error, memory_hit: bool, limits: CallLimits) -> CallError {
    if let Some(trap) = e.downcast_ref::<Trap>() {
        if *trap == Trap::Interrupt {
            return timeout(limits);
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
