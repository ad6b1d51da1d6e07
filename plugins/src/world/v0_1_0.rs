//! World 0.1.0, the first released: three hooks, no settings, the tenant's facts flat in the
//! context. Frozen: its WIT and this adapter change only if the host's own types do.

use wasmtime::Store;

use super::Outcome;
use crate::hooks::{self, Delivery, HookContext, HookName, Manifest, RenderedEmail, UnreadMessage};
use crate::store::CallState;
use tandem_core::tenant::EmailParts;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit/since_v0.1.0",
        world: "plugin",
        // Calls are futures, so the host's deadline can drop them wherever the guest is.
        exports: { default: async },
    });
}

use bindings::exports::tandem::plugin::hooks as wit;

pub(super) const VERSION: &str = "0.1.0";

pub(crate) type Pre = bindings::PluginPre<CallState>;

pub(super) async fn describe(pre: Pre, mut store: Store<CallState>) -> Outcome<Manifest> {
    let answer = call!(pre, store, |h| h.call_describe(&mut store));
    (store, answer.map(|m| hooks::manifest(manifest(m))))
}

pub(super) async fn offline_timeout(
    pre: Pre,
    mut store: Store<CallState>,
    ctx: HookContext,
) -> Outcome<Option<u32>> {
    let answer = call!(pre, store, |h| h
        .call_offline_timeout(&mut store, &context(&ctx)));
    (store, answer.map(Ok))
}

pub(super) async fn email_template(
    pre: Pre,
    mut store: Store<CallState>,
    ctx: HookContext,
) -> Outcome<Option<EmailParts>> {
    let answer = call!(pre, store, |h| h
        .call_email_template(&mut store, &context(&ctx)));
    let checked = |t: Option<wit::TemplateSources>| {
        t.map(|t| {
            hooks::email_template(EmailParts {
                subject: t.subject,
                html: t.html,
                text: t.text,
            })
        })
        .transpose()
    };
    (store, answer.map(checked))
}

pub(super) async fn route_notification(
    pre: Pre,
    mut store: Store<CallState>,
    ctx: HookContext,
    messages: Vec<UnreadMessage>,
    email: RenderedEmail,
) -> Outcome<Option<Vec<Delivery>>> {
    let messages: Vec<wit::UnreadMessage> = messages
        .into_iter()
        .map(|m| wit::UnreadMessage {
            id: m.id,
            author: m.author,
            body: m.body,
            sent_at_ms: m.sent_at_ms,
        })
        .collect();
    let email = wit::RenderedEmail {
        to: email.to,
        subject: email.subject,
        text: email.text,
    };
    let answer = call!(pre, store, |h| h.call_route_notification(
        &mut store,
        &context(&ctx),
        &messages,
        &email
    ));
    let checked = |list: Option<Vec<wit::Delivery>>| {
        list.map(|list| hooks::deliveries(list.into_iter().map(delivery).collect()))
            .transpose()
    };
    (store, answer.map(checked))
}

fn manifest(m: wit::Manifest) -> Manifest {
    Manifest {
        name: m.name,
        version: m.version,
        hooks: m
            .hooks
            .into_iter()
            .map(|h| match h {
                wit::Hook::OfflineTimeout => HookName::OfflineTimeout,
                wit::Hook::EmailTemplate => HookName::EmailTemplate,
                wit::Hook::RouteNotification => HookName::RouteNotification,
            })
            .collect(),
        settings_schema: None,
        world: VERSION.to_owned(),
    }
}

/// The settings are not passed: a 0.1.0 plugin cannot declare any.
fn context(c: &HookContext) -> wit::Context {
    wit::Context {
        tenant_id: c.tenant.tenant_id.clone(),
        tenant_slug: c.tenant.tenant_slug.clone(),
        chat_id: c.chat_id.clone(),
        visitor: wit::Visitor {
            id: c.visitor.id.clone(),
            name: c.visitor.name.clone(),
            locale: c.visitor.locale.clone(),
            has_email: c.visitor.has_email,
        },
        tenant_timeout_secs: c.tenant.tenant_timeout_secs,
        now_ms: c.tenant.now_ms,
        webhook_urls: c.tenant.webhook_urls.clone(),
    }
}

fn delivery(d: wit::Delivery) -> Delivery {
    match d {
        wit::Delivery::Email(to) => Delivery::Email { to },
        wit::Delivery::Webhook(w) => Delivery::Webhook(hooks::Webhook {
            url: w.url,
            body: w.body,
        }),
        wit::Delivery::Skip(reason) => Delivery::Skip { reason },
    }
}
