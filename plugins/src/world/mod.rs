//! The released versions of the `tandem:plugin` world, each bound with its own generated code
//! (from `plugins/wit/since_vX.Y.Z/`) and adapted to the hooks as the host sees them
//! ([`crate::hooks`]). A released world is never changed or dropped: a plugin a tenant uploaded
//! keeps working, whatever version this server adds later. A hook a world does not have is
//! never called on its plugins, since their manifests cannot name it.

/// Instantiates (in each world's module) the plugin and makes one call on its hooks.
macro_rules! call {
    ($pre:expr, $store:ident, |$hooks:ident| $call:expr) => {
        async {
            let started = std::time::Instant::now();
            let plugin = $pre.instantiate_async(&mut $store).await?;
            $store.data_mut().instantiation = Some(started.elapsed());
            let $hooks = plugin.tandem_plugin_hooks();
            $call.await
        }
        .await
    };
}

mod v0_1_0;
mod v0_2_0;

use wasmtime::Store;
use wasmtime::component::InstancePre;

use crate::error::CallError;
use crate::hooks::{
    Alert, AlertRoute, Availability, ClosedChat, Delivery, HookContext, HookName, Manifest,
    OfflineRequest, RenderedEmail, RequestAnswer, Staff, TenantContext, UnreadMessage, Webhook,
};
use crate::store::CallState;
use tandem_core::tenant::EmailParts;

/// Every world version this host runs, oldest first; the last is the one new plugins target.
pub const SUPPORTED: [&str; 2] = [v0_1_0::VERSION, v0_2_0::VERSION];

/// The newest world: what `tandem plugin new` and the SDK build against.
pub const CURRENT: &str = v0_2_0::VERSION;

/// The interface every world exports, without its version.
pub(crate) const HOOKS: &str = "tandem:plugin/hooks@";

/// What one call hands back: the store (for what the call left in it) and the outcome, a trap
/// being the outer error and an unusable answer the inner one.
pub(crate) type Outcome<T> = (Store<CallState>, wasmtime::Result<Result<T, CallError>>);

/// A component linked against the world it declares.
#[derive(Clone)]
pub(crate) enum Pre {
    V0_1_0(v0_1_0::Pre),
    V0_2_0(v0_2_0::Pre),
}

impl Pre {
    /// Binds `instance_pre` with the bindings of `version`; `None` for a version not released.
    pub(crate) fn bind(
        version: &str,
        instance_pre: InstancePre<CallState>,
    ) -> Option<wasmtime::Result<Self>> {
        Some(match version {
            v0_1_0::VERSION => v0_1_0::Pre::new(instance_pre).map(Pre::V0_1_0),
            v0_2_0::VERSION => v0_2_0::Pre::new(instance_pre).map(Pre::V0_2_0),
            _ => return None,
        })
    }

    pub(crate) async fn describe(self, store: Store<CallState>) -> Outcome<Manifest> {
        match self {
            Pre::V0_1_0(pre) => v0_1_0::describe(pre, store).await,
            Pre::V0_2_0(pre) => v0_2_0::describe(pre, store).await,
        }
    }

    pub(crate) async fn offline_timeout(
        self,
        store: Store<CallState>,
        ctx: HookContext,
    ) -> Outcome<Option<u32>> {
        match self {
            Pre::V0_1_0(pre) => v0_1_0::offline_timeout(pre, store, ctx).await,
            Pre::V0_2_0(pre) => v0_2_0::offline_timeout(pre, store, ctx).await,
        }
    }

    pub(crate) async fn email_template(
        self,
        store: Store<CallState>,
        ctx: HookContext,
    ) -> Outcome<Option<EmailParts>> {
        match self {
            Pre::V0_1_0(pre) => v0_1_0::email_template(pre, store, ctx).await,
            Pre::V0_2_0(pre) => v0_2_0::email_template(pre, store, ctx).await,
        }
    }

    pub(crate) async fn route_notification(
        self,
        store: Store<CallState>,
        ctx: HookContext,
        messages: Vec<UnreadMessage>,
        email: RenderedEmail,
    ) -> Outcome<Option<Vec<Delivery>>> {
        match self {
            Pre::V0_1_0(pre) => v0_1_0::route_notification(pre, store, ctx, messages, email).await,
            Pre::V0_2_0(pre) => v0_2_0::route_notification(pre, store, ctx, messages, email).await,
        }
    }

    pub(crate) async fn offline_request(
        self,
        store: Store<CallState>,
        ctx: HookContext,
        request: OfflineRequest,
    ) -> Outcome<Option<RequestAnswer>> {
        match self {
            Pre::V0_1_0(_) => absent(store, v0_1_0::VERSION, HookName::OfflineRequest),
            Pre::V0_2_0(pre) => v0_2_0::offline_request(pre, store, ctx, request).await,
        }
    }

    pub(crate) async fn availability(
        self,
        store: Store<CallState>,
        ctx: TenantContext,
        staff: Staff,
    ) -> Outcome<Option<Availability>> {
        match self {
            Pre::V0_1_0(_) => absent(store, v0_1_0::VERSION, HookName::Availability),
            Pre::V0_2_0(pre) => v0_2_0::availability(pre, store, ctx, staff).await,
        }
    }

    pub(crate) async fn operator_alert(
        self,
        store: Store<CallState>,
        ctx: HookContext,
        alert: Alert,
    ) -> Outcome<Option<Vec<AlertRoute>>> {
        match self {
            Pre::V0_1_0(_) => absent(store, v0_1_0::VERSION, HookName::OperatorAlert),
            Pre::V0_2_0(pre) => v0_2_0::operator_alert(pre, store, ctx, alert).await,
        }
    }

    pub(crate) async fn chat_closed(
        self,
        store: Store<CallState>,
        ctx: HookContext,
        chat: ClosedChat,
    ) -> Outcome<Option<Vec<Webhook>>> {
        match self {
            Pre::V0_1_0(_) => absent(store, v0_1_0::VERSION, HookName::ChatClosed),
            Pre::V0_2_0(pre) => v0_2_0::chat_closed(pre, store, ctx, chat).await,
        }
    }
}

/// A hook asked of a world that does not have it: the runtime never does (it asks only the
/// hooks a manifest names), but a caller that did gets the default, not a panic.
fn absent<T>(store: Store<CallState>, world: &str, hook: HookName) -> Outcome<T> {
    let message = format!("world {world} has no {} hook", hook.as_str());
    (store, Ok(Err(CallError::Host(message))))
}
