//! Write a Tandem plugin in Rust.
//!
//! Implement [`Plugin`] for a type of yours, with only the hooks you need (every hook has a
//! default that answers `None`: "do what Tandem does without me"), inside [`plugin!`], which
//! exports it as a component of the world `tandem:plugin@0.2.0` and lists the hooks you wrote
//! in its manifest:
//!
//! ```ignore
//! use tandem_plugin_sdk::prelude::*;
//!
//! struct Patient;
//!
//! tandem_plugin_sdk::plugin! {
//!     impl Plugin for Patient {
//!         const NAME: &'static str = "patient";
//!         const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//!
//!         fn offline_timeout(_ctx: Context) -> Option<u32> {
//!             Some(15 * 60)
//!         }
//!     }
//! }
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; try it with `tandem plugin run`.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/since_v0.2.0",
        world: "plugin",
        pub_export_macro: true,
        default_bindings_module: "tandem_plugin_sdk::bindings",
    });
}

pub use bindings::exports::tandem::plugin::hooks::{
    Alert, AlertKind, AlertRoute, ClosedChat, Context, Delivery, Hook, Manifest, Offer,
    OfflineForm, Priority, Rating, RenderedEmail, RequestAnswer, Staff, TemplateSources,
    TenantContext, UnreadMessage, Visitor, Webhook, WidgetMode,
};

/// The world this SDK builds plugins for.
pub const WORLD: &str = "0.2.0";

/// Everything a plugin usually needs.
pub mod prelude {
    pub use crate::{
        Alert, AlertKind, AlertRoute, ClosedChat, Context, Delivery, Offer, OfflineForm, Plugin,
        Priority, Rating, RenderedEmail, RequestAnswer, Staff, TemplateSources, TenantContext,
        UnreadMessage, Visitor, Webhook, WidgetMode, json_string, settings,
    };
}

/// A plugin: its name, its settings, and the hooks it implements. Write it inside [`plugin!`].
pub trait Plugin {
    /// The plugin's name, shown to the tenant's admins.
    const NAME: &'static str;
    /// The plugin's own version (not the world's).
    const VERSION: &'static str;
    /// The JSON Schema of the plugin's settings (an object schema), if it has settings: the
    /// admin console renders a form from it and the server refuses values it does not accept.
    /// Read them in a hook with [`settings`].
    const SETTINGS_SCHEMA: Option<&'static str> = None;

    /// Seconds an unread operator reply waits before it is delivered to the visitor.
    fn offline_timeout(ctx: Context) -> Option<u32> {
        let _ = ctx;
        None
    }

    /// The unread-reply email's Handlebars sources.
    fn email_template(ctx: Context) -> Option<TemplateSources> {
        let _ = ctx;
        None
    }

    /// Where a batch of unread replies goes.
    fn route_notification(
        ctx: Context,
        messages: Vec<UnreadMessage>,
        email: RenderedEmail,
    ) -> Option<Vec<Delivery>> {
        let _ = (ctx, messages, email);
        None
    }

    /// When a visitor sends the offline form: an automatic reply, tags, a priority, an operator.
    fn offline_request(ctx: Context, form: OfflineForm) -> Option<RequestAnswer> {
        let _ = (ctx, form);
        None
    }

    /// Whether the widget shows the chat or the offline form now.
    fn availability(ctx: TenantContext, staff: Staff) -> Option<Offer> {
        let _ = (ctx, staff);
        None
    }

    /// Where an alert for the operators goes.
    fn operator_alert(ctx: Context, alert: Alert) -> Option<Vec<AlertRoute>> {
        let _ = (ctx, alert);
        None
    }

    /// After an operator closed a dialog: webhooks to post.
    fn chat_closed(ctx: Context, chat: ClosedChat) -> Option<Vec<Webhook>> {
        let _ = (ctx, chat);
        None
    }
}

/// The plugin's settings as the admin saved them (the schema's defaults until then), read into
/// your own type (`#[derive(serde::Deserialize)]`).
pub fn settings<T: serde::de::DeserializeOwned>(
    ctx: &TenantContext,
) -> Result<T, serde_json::Error> {
    serde_json::from_str(&ctx.settings)
}

/// `s` as a JSON string literal, quotes included: for webhook bodies.
pub fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

#[doc(hidden)]
pub fn manifest(
    name: &str,
    version: &str,
    schema: Option<&str>,
    hooks: &[Option<Hook>],
) -> Manifest {
    Manifest {
        name: name.to_owned(),
        version: version.to_owned(),
        hooks: hooks.iter().flatten().copied().collect(),
        settings_schema: schema.map(str::to_owned),
    }
}

/// Implements [`Plugin`] and exports it: `plugin! { impl Plugin for MyType { … } }`. The hooks
/// written in the block are the ones the manifest names; the others are never called.
#[macro_export]
macro_rules! plugin {
    (impl Plugin for $ty:ident { $($body:tt)* }) => {
        impl $crate::Plugin for $ty { $($body)* }

        impl $crate::bindings::exports::tandem::plugin::hooks::Guest for $ty {
            fn describe() -> $crate::Manifest {
                $crate::manifest(
                    <$ty as $crate::Plugin>::NAME,
                    <$ty as $crate::Plugin>::VERSION,
                    <$ty as $crate::Plugin>::SETTINGS_SCHEMA,
                    &$crate::__hooks!([] $($body)*),
                )
            }
            fn offline_timeout(ctx: $crate::Context) -> Option<u32> {
                <$ty as $crate::Plugin>::offline_timeout(ctx)
            }
            fn email_template(ctx: $crate::Context) -> Option<$crate::TemplateSources> {
                <$ty as $crate::Plugin>::email_template(ctx)
            }
            fn route_notification(
                ctx: $crate::Context,
                messages: Vec<$crate::UnreadMessage>,
                email: $crate::RenderedEmail,
            ) -> Option<Vec<$crate::Delivery>> {
                <$ty as $crate::Plugin>::route_notification(ctx, messages, email)
            }
            fn offline_request(
                ctx: $crate::Context,
                form: $crate::OfflineForm,
            ) -> Option<$crate::RequestAnswer> {
                <$ty as $crate::Plugin>::offline_request(ctx, form)
            }
            fn availability(
                ctx: $crate::TenantContext,
                staff: $crate::Staff,
            ) -> Option<$crate::Offer> {
                <$ty as $crate::Plugin>::availability(ctx, staff)
            }
            fn operator_alert(
                ctx: $crate::Context,
                alert: $crate::Alert,
            ) -> Option<Vec<$crate::AlertRoute>> {
                <$ty as $crate::Plugin>::operator_alert(ctx, alert)
            }
            fn chat_closed(
                ctx: $crate::Context,
                chat: $crate::ClosedChat,
            ) -> Option<Vec<$crate::Webhook>> {
                <$ty as $crate::Plugin>::chat_closed(ctx, chat)
            }
        }

        $crate::bindings::export!($ty with_types_in $crate::bindings);
    };
}

/// The hooks among the functions of an `impl Plugin` block, one `fn` item at a time (other
/// items, such as the consts, a token at a time).
#[doc(hidden)]
#[macro_export]
macro_rules! __hooks {
    ([$($found:expr),*]) => { [$($found),*] };
    ([$($found:expr),*] $(#[$meta:meta])* fn $name:ident $args:tt $(-> $ret:ty)? $body:block $($rest:tt)*) => {
        $crate::__hooks!([$($found,)* $crate::__hook!($name)] $($rest)*)
    };
    ([$($found:expr),*] $skip:tt $($rest:tt)*) => {
        $crate::__hooks!([$($found),*] $($rest)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __hook {
    (offline_timeout) => {
        Some($crate::Hook::OfflineTimeout)
    };
    (email_template) => {
        Some($crate::Hook::EmailTemplate)
    };
    (route_notification) => {
        Some($crate::Hook::RouteNotification)
    };
    (offline_request) => {
        Some($crate::Hook::OfflineRequest)
    };
    (availability) => {
        Some($crate::Hook::Availability)
    };
    (operator_alert) => {
        Some($crate::Hook::OperatorAlert)
    };
    (chat_closed) => {
        Some($crate::Hook::ChatClosed)
    };
    ($other:ident) => {
        None
    };
}
