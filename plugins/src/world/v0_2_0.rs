//! World 0.2.0: settings, a tenant context shared by every hook, and the hooks about offline
//! requests, the widget's availability, operator alerts and closed chats.

use wasmtime::Store;

use super::Outcome;
use crate::hooks::{
    self, Alert, AlertKind, AlertRoute, Availability, ClosedChat, Delivery, HookContext, HookName,
    Manifest, OfflineRequest, Priority, RenderedEmail, RequestAnswer, Staff, TenantContext,
    UnreadMessage, Webhook, WidgetMode,
};
use crate::store::CallState;
use tandem_core::tenant::EmailParts;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit/since_v0.2.0",
        world: "plugin",
        // Calls are futures, so the host's deadline can drop them wherever the guest is.
        exports: { default: async },
    });
}

use bindings::exports::tandem::plugin::hooks as wit;

pub(super) const VERSION: &str = "0.2.0";

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

pub(super) async fn offline_request(
    pre: Pre,
    mut store: Store<CallState>,
    ctx: HookContext,
    request: OfflineRequest,
) -> Outcome<Option<RequestAnswer>> {
    let form = wit::OfflineForm {
        name: request.name,
        email: request.email,
        message: request.message,
        page_url: request.page_url,
    };
    let answer = call!(pre, store, |h| h.call_offline_request(
        &mut store,
        &context(&ctx),
        &form
    ));
    let checked = |a: Option<wit::RequestAnswer>| {
        a.map(|a| {
            hooks::request_answer(RequestAnswer {
                auto_reply: a.auto_reply,
                tags: a.tags,
                priority: a.priority.map(|p| match p {
                    wit::Priority::Low => Priority::Low,
                    wit::Priority::Normal => Priority::Normal,
                    wit::Priority::High => Priority::High,
                    wit::Priority::Urgent => Priority::Urgent,
                }),
                assign_to: a.assign_to,
            })
        })
        .transpose()
    };
    (store, answer.map(checked))
}

pub(super) async fn availability(
    pre: Pre,
    mut store: Store<CallState>,
    ctx: TenantContext,
    staff: Staff,
) -> Outcome<Option<Availability>> {
    let staff = wit::Staff {
        online: staff.online,
        available: staff.available,
    };
    let answer = call!(pre, store, |h| h.call_availability(
        &mut store,
        &tenant(&ctx),
        staff
    ));
    let checked = |a: Option<wit::Offer>| {
        a.map(|a| {
            hooks::availability(Availability {
                mode: match a.mode {
                    wit::WidgetMode::Chat => WidgetMode::Chat,
                    wit::WidgetMode::OfflineForm => WidgetMode::OfflineForm,
                },
                message: a.message,
            })
        })
        .transpose()
    };
    (store, answer.map(checked))
}

pub(super) async fn operator_alert(
    pre: Pre,
    mut store: Store<CallState>,
    ctx: HookContext,
    alert: Alert,
) -> Outcome<Option<Vec<AlertRoute>>> {
    let alert = wit::Alert {
        kind: match alert.kind {
            AlertKind::OfflineRequest => wit::AlertKind::OfflineRequest,
            AlertKind::LongWait { minutes } => wit::AlertKind::LongWait(minutes),
        },
        preview: alert.preview,
        workspace_url: alert.workspace_url,
    };
    let answer = call!(pre, store, |h| h.call_operator_alert(
        &mut store,
        &context(&ctx),
        &alert
    ));
    let checked = |list: Option<Vec<wit::AlertRoute>>| {
        list.map(|list| {
            let routes = list
                .into_iter()
                .map(|r| match r {
                    wit::AlertRoute::Operators => AlertRoute::Operators,
                    wit::AlertRoute::Webhook(w) => AlertRoute::Webhook(webhook(w)),
                    wit::AlertRoute::Skip(reason) => AlertRoute::Skip { reason },
                })
                .collect();
            hooks::alert_routes(routes)
        })
        .transpose()
    };
    (store, answer.map(checked))
}

pub(super) async fn chat_closed(
    pre: Pre,
    mut store: Store<CallState>,
    ctx: HookContext,
    chat: ClosedChat,
) -> Outcome<Option<Vec<Webhook>>> {
    let chat = wit::ClosedChat {
        closed_by: chat.closed_by,
        messages: chat.messages,
        rating: chat.rating.map(|r| wit::Rating {
            good: r.good,
            comment: r.comment,
        }),
        opened_at_ms: chat.opened_at_ms,
        closed_at_ms: chat.closed_at_ms,
    };
    let answer = call!(pre, store, |h| h.call_chat_closed(
        &mut store,
        &context(&ctx),
        &chat
    ));
    let checked = |list: Option<Vec<wit::Webhook>>| {
        list.map(|list| hooks::webhooks(list.into_iter().map(webhook).collect()))
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
                wit::Hook::OfflineRequest => HookName::OfflineRequest,
                wit::Hook::Availability => HookName::Availability,
                wit::Hook::OperatorAlert => HookName::OperatorAlert,
                wit::Hook::ChatClosed => HookName::ChatClosed,
            })
            .collect(),
        settings_schema: m.settings_schema,
        world: VERSION.to_owned(),
    }
}

fn tenant(t: &TenantContext) -> wit::TenantContext {
    wit::TenantContext {
        tenant_id: t.tenant_id.clone(),
        tenant_slug: t.tenant_slug.clone(),
        tenant_timeout_secs: t.tenant_timeout_secs,
        now_ms: t.now_ms,
        webhook_urls: t.webhook_urls.clone(),
        settings: t.settings.clone(),
    }
}

fn context(c: &HookContext) -> wit::Context {
    wit::Context {
        tenant: tenant(&c.tenant),
        chat_id: c.chat_id.clone(),
        visitor: wit::Visitor {
            id: c.visitor.id.clone(),
            name: c.visitor.name.clone(),
            locale: c.visitor.locale.clone(),
            has_email: c.visitor.has_email,
        },
    }
}

fn webhook(w: wit::Webhook) -> Webhook {
    Webhook {
        url: w.url,
        body: w.body,
    }
}

fn delivery(d: wit::Delivery) -> Delivery {
    match d {
        wit::Delivery::Email(to) => Delivery::Email { to },
        wit::Delivery::Webhook(w) => Delivery::Webhook(webhook(w)),
        wit::Delivery::Skip(reason) => Delivery::Skip { reason },
    }
}
