//! Tenant plugins at work: the core's ports (the offline timeout, the email template)
//! answered by each tenant's enabled plugins in their order — the first with an opinion wins —
//! and every failure turned into the default, logged, and counted towards auto-disable.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tandem_core::alert::{AlertReason, AlertRoute, AlertToRoute, ChosenAlertRoutes, OperatorAlert};
use tandem_core::automation::{
    ClosedFacts, ConversationHooks, Decided, Priority, RequestDecision, RequestFacts, Staff,
    TenantFacts, WebhookPost, WidgetAvailability,
};
use tandem_core::clock::Timestamp;
use tandem_core::delivery::{
    ChosenRoutes, ChosenTemplate, EmailSummary, NotificationHooks, Route, UnreadBatch,
};
use tandem_core::ids::{PluginId, TenantId};
use tandem_core::outbox::{DialogContext, OfflineTimeoutPolicy};
use tandem_core::plugin::{
    ActivePlugin, DEFAULT_FAILURE_THRESHOLD, LogLevel, PluginStore, TenantPlugins,
};

use crate::error::CallError;
use crate::hooks::{
    self, Delivery, HookContext, HookName, OfflineRequest, RenderedEmail, TenantContext,
    UnreadMessage, VisitorInfo, WidgetMode,
};
use crate::host::{Call, CompiledPlugin, PluginHost};
use crate::limits::CallLimits;
use crate::observer::{CallObserver, CallOutcome, NoObserver};

/// How long a tenant's list of plugins is reused before it is read again: what another node's
/// admin changes take at most to apply here.
const FRESH_FOR: Duration = Duration::from_secs(2);

/// Each tenant's plugins, with when they were read.
type Fresh = HashMap<TenantId, (Instant, Arc<TenantPlugins>)>;

#[derive(Clone)]
pub struct PluginRuntime {
    host: PluginHost,
    store: PluginStore,
    failure_threshold: u32,
    tenants: Arc<Mutex<Fresh>>,
    observer: Arc<dyn CallObserver>,
}

impl PluginRuntime {
    pub fn new(host: PluginHost, store: PluginStore) -> Self {
        Self {
            host,
            store,
            failure_threshold: DEFAULT_FAILURE_THRESHOLD,
            tenants: Arc::default(),
            observer: Arc::new(NoObserver),
        }
    }

    /// Tells `observer` of every call and compilation (metrics).
    pub fn with_observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.observer = observer;
        self
    }

    pub fn observer(&self) -> &Arc<dyn CallObserver> {
        &self.observer
    }

    pub fn with_failure_threshold(mut self, threshold: u32) -> Self {
        self.failure_threshold = threshold.max(1);
        self
    }

    pub fn host(&self) -> &PluginHost {
        &self.host
    }

    /// After an admin changed the tenant's plugins: read them again on the next call.
    pub fn forget(&self, tenant: TenantId) {
        self.lock().remove(&tenant);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Fresh> {
        self.tenants
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn plugins_of(&self, tenant: TenantId) -> Arc<TenantPlugins> {
        if let Some((at, plugins)) = self.lock().get(&tenant)
            && at.elapsed() < FRESH_FOR
        {
            return plugins.clone();
        }
        let plugins = match self.store.enabled(tenant).await {
            Ok(plugins) => Arc::new(plugins),
            Err(e) => {
                // Without the list, nothing runs: the defaults apply.
                tracing::warn!(%tenant, error = %e, "cannot read the tenant's plugins");
                return Arc::default();
            }
        };
        self.lock()
            .insert(tenant, (Instant::now(), plugins.clone()));
        plugins
    }

    pub(crate) async fn compiled(
        &self,
        plugin: &ActivePlugin,
        limits: CallLimits,
    ) -> Result<CompiledPlugin, String> {
        if let Some(hit) = self.host.cached(&plugin.sha256) {
            return Ok(hit);
        }
        let wasm = self
            .store
            .wasm(plugin.tenant, plugin.id)
            .await
            .map_err(|e| format!("cannot read the plugin: {e}"))?
            .ok_or("the plugin was deleted")?;
        let started = Instant::now();
        let loaded = self.host.load(wasm, limits).await;
        self.observer
            .compiled(plugin.tenant, started.elapsed(), loaded.is_ok());
        loaded.map_err(|e| format!("does not load: {e}"))
    }

    /// Asks each of the tenant's plugins implementing `hook`, in order, until one answers;
    /// the answer comes with the plugin that gave it.
    async fn first_opinion<T, F, Fut>(
        &self,
        tenant: TenantId,
        hook: HookName,
        call: F,
    ) -> Option<(T, PluginId)>
    where
        F: Fn(CompiledPlugin, CallLimits, &str) -> Fut,
        Fut: std::future::Future<Output = Call<Option<T>>>,
    {
        let set = self.plugins_of(tenant).await;
        let limits = CallLimits::new(set.timeout_ms, set.memory_mib).of_tenant(tenant);
        for plugin in set.plugins.iter().filter(|p| p.implements(hook.as_str())) {
            let compiled = match self.compiled(plugin, limits).await {
                Ok(compiled) => compiled,
                Err(reason) => {
                    self.failed(plugin, hook, &reason).await;
                    continue;
                }
            };
            let call = call(compiled, limits, &plugin.settings).await;
            self.observer
                .called(tenant, hook, CallOutcome::of(&call.result), call.elapsed);
            if !call.output.is_empty() {
                self.note(plugin, hook, LogLevel::Output, &call.output)
                    .await;
            }
            match call.result {
                Ok(answer) => {
                    if plugin.consecutive_failures > 0 {
                        if let Err(e) = self.store.record_success(tenant, plugin.id).await {
                            tracing::warn!(plugin = %plugin.id, error = %e, "cannot record a plugin's success");
                        }
                        self.forget(tenant);
                    }
                    if let Some(answer) = answer {
                        return Some((answer, plugin.id));
                    }
                }
                // The tenant's share of instances was taken: the default, nobody's failure.
                Err(e @ CallError::Busy(_)) => {
                    tracing::warn!(plugin = %plugin.id, %tenant, hook = hook.as_str(), error = %e, "a plugin call did not run");
                }
                Err(e) => {
                    self.failed(plugin, hook, &format!("{e}; the default was used"))
                        .await
                }
            }
        }
        None
    }

    async fn failed(&self, plugin: &ActivePlugin, hook: HookName, reason: &str) {
        tracing::info!(plugin = %plugin.id, tenant = %plugin.tenant, hook = hook.as_str(), reason, "a plugin call failed");
        match self
            .store
            .record_failure(
                plugin.tenant,
                plugin.id,
                hook.as_str(),
                reason,
                self.failure_threshold,
            )
            .await
        {
            Ok(disabled) => {
                if disabled {
                    tracing::warn!(plugin = %plugin.id, tenant = %plugin.tenant, "plugin disabled after repeated failures");
                }
                // The failure count (or the plugin's state) changed.
                self.forget(plugin.tenant);
            }
            Err(e) => {
                tracing::warn!(plugin = %plugin.id, error = %e, "cannot record a plugin's failure")
            }
        }
    }

    async fn note(&self, plugin: &ActivePlugin, hook: HookName, level: LogLevel, message: &str) {
        if let Err(e) = self
            .store
            .log(
                plugin.tenant,
                plugin.id,
                level,
                Some(hook.as_str()),
                message,
            )
            .await
        {
            tracing::warn!(plugin = %plugin.id, error = %e, "cannot write a plugin's log");
        }
    }
}

#[async_trait::async_trait]
impl OfflineTimeoutPolicy for PluginRuntime {
    async fn offline_timeout(&self, ctx: &DialogContext) -> Duration {
        let hook_ctx = dialog_context(ctx);
        let host = &self.host;
        let answer = self
            .first_opinion(
                ctx.tenant,
                HookName::OfflineTimeout,
                |plugin, limits, settings| {
                    let hook_ctx = hook_ctx.with_settings(settings);
                    async move { host.offline_timeout(&plugin, limits, &hook_ctx).await }
                },
            )
            .await;
        // The core clamps whatever comes back to the range tenants may configure.
        answer.map_or(ctx.tenant_timeout, |(secs, _)| {
            Duration::from_secs(u64::from(secs))
        })
    }
}

#[async_trait::async_trait]
impl NotificationHooks for PluginRuntime {
    async fn email_template(&self, batch: &UnreadBatch, now: Timestamp) -> Option<ChosenTemplate> {
        let hook_ctx = batch_context(batch, now);
        let host = &self.host;
        let (template, plugin) = self
            .first_opinion(
                batch.tenant.id,
                HookName::EmailTemplate,
                |plugin, limits, settings| {
                    let hook_ctx = hook_ctx.with_settings(settings);
                    async move { host.email_template(&plugin, limits, &hook_ctx).await }
                },
            )
            .await?;
        Some(ChosenTemplate { template, plugin })
    }

    async fn template_failed(&self, batch: &UnreadBatch, plugin: PluginId, reason: &str) {
        let enabled = self.plugins_of(batch.tenant.id).await;
        if let Some(plugin) = enabled.plugins.iter().find(|p| p.id == plugin) {
            self.failed(plugin, HookName::EmailTemplate, reason).await;
        }
    }

    async fn routes(
        &self,
        batch: &UnreadBatch,
        email: &EmailSummary,
        now: Timestamp,
    ) -> Option<ChosenRoutes> {
        let hook_ctx = batch_context(batch, now);
        let messages = unread_messages(batch);
        let rendered = rendered_email(email);
        let host = &self.host;
        let (deliveries, plugin) = self
            .first_opinion(
                batch.tenant.id,
                HookName::RouteNotification,
                |plugin, limits, settings| {
                    let (hook_ctx, messages, rendered) = (
                        hook_ctx.with_settings(settings),
                        messages.clone(),
                        rendered.clone(),
                    );
                    async move {
                        let mut call = host
                            .route_notification(&plugin, limits, &hook_ctx, &messages, &rendered)
                            .await;
                        // A route the tenant did not allow makes the whole answer refused:
                        // the default delivery happens instead, and the plugin hears of it.
                        if let Ok(Some(deliveries)) = &call.result
                            && let Err(e) = allowed(deliveries, batch)
                        {
                            call.result = Err(e);
                        }
                        call
                    }
                },
            )
            .await?;
        Some(ChosenRoutes {
            routes: routes_of(deliveries),
            plugin,
        })
    }

    async fn operator_alert(
        &self,
        claim: &AlertToRoute,
        workspace_url: &str,
    ) -> Option<ChosenAlertRoutes> {
        let hook_ctx = dialog_context(&claim.ctx);
        let alert = alert_of(&claim.alert, workspace_url);
        let host = &self.host;
        let urls = &claim.ctx.webhook_urls;
        let (routes, plugin) = self
            .first_opinion(
                claim.ctx.tenant,
                HookName::OperatorAlert,
                |plugin, limits, settings| {
                    let (hook_ctx, alert) = (hook_ctx.with_settings(settings), alert.clone());
                    async move {
                        let mut call = host
                            .operator_alert(&plugin, limits, &hook_ctx, &alert)
                            .await;
                        // A webhook the tenant did not allow makes the whole answer refused:
                        // the operators are alerted instead, and the plugin hears of it.
                        if let Ok(Some(routes)) = &call.result
                            && let Err(e) = alert_routes_allowed(routes, urls)
                        {
                            call.result = Err(e);
                        }
                        call
                    }
                },
            )
            .await?;
        Some(ChosenAlertRoutes {
            routes: alert_routes_of(routes),
            plugin,
        })
    }
}

#[async_trait::async_trait]
impl ConversationHooks for PluginRuntime {
    async fn offline_request(
        &self,
        ctx: &DialogContext,
        request: &RequestFacts,
    ) -> Option<Decided<RequestDecision>> {
        let hook_ctx = dialog_context(ctx);
        let request = offline_request(request);
        let host = &self.host;
        let (answer, plugin) = self
            .first_opinion(
                ctx.tenant,
                HookName::OfflineRequest,
                |plugin, limits, settings| {
                    let (hook_ctx, request) = (hook_ctx.with_settings(settings), request.clone());
                    async move {
                        host.offline_request(&plugin, limits, &hook_ctx, &request)
                            .await
                    }
                },
            )
            .await?;
        Some(Decided {
            answer: decision_of(answer),
            plugin,
        })
    }

    /// With a plugin implementing the hook, always an answer: the plugin's, or Tandem's own
    /// rule when it has no opinion now (business hours say nothing during the day) — either way
    /// the widget is told to ask again, since the plugin's answer changes with the time.
    async fn availability(&self, tenant: &TenantFacts, staff: Staff) -> Option<WidgetAvailability> {
        let consulted = self
            .plugins_of(tenant.tenant)
            .await
            .plugins
            .iter()
            .any(|p| p.implements(HookName::Availability.as_str()));
        if !consulted {
            return None;
        }
        let ctx = tenant_context(tenant);
        let wit_staff = hooks::Staff {
            online: staff.online,
            available: staff.available,
        };
        let host = &self.host;
        let answer = self
            .first_opinion(
                tenant.tenant,
                HookName::Availability,
                |plugin, limits, settings| {
                    let mut ctx = ctx.clone();
                    ctx.settings = settings.to_owned();
                    async move { host.availability(&plugin, limits, &ctx, wit_staff).await }
                },
            )
            .await;
        Some(match answer {
            Some((answer, _)) => shown_widget(answer),
            None => WidgetAvailability {
                chat: staff.available > 0,
                message: None,
                recheck: true,
            },
        })
    }

    async fn chat_closed(
        &self,
        ctx: &DialogContext,
        closed: &ClosedFacts,
    ) -> Option<Decided<Vec<WebhookPost>>> {
        let hook_ctx = dialog_context(ctx);
        let chat = closed_chat(closed);
        let host = &self.host;
        let (webhooks, plugin) = self
            .first_opinion(
                ctx.tenant,
                HookName::ChatClosed,
                |plugin, limits, settings| {
                    let (hook_ctx, chat) = (hook_ctx.with_settings(settings), chat.clone());
                    async move {
                        let mut call = host.chat_closed(&plugin, limits, &hook_ctx, &chat).await;
                        // A URL the tenant did not allow makes the whole answer refused.
                        if let Ok(Some(webhooks)) = &call.result
                            && let Err(e) = webhooks_allowed(webhooks, &ctx.webhook_urls)
                        {
                            call.result = Err(e);
                        }
                        call
                    }
                },
            )
            .await?;
        Some(Decided {
            answer: posts_of(webhooks),
            plugin,
        })
    }

    async fn refused(&self, tenant: TenantId, plugin: PluginId, hook: &'static str, reason: &str) {
        let Some(hook) = HookName::parse(hook) else {
            return;
        };
        let enabled = self.plugins_of(tenant).await;
        if let Some(plugin) = enabled.plugins.iter().find(|p| p.id == plugin) {
            self.failed(plugin, hook, reason).await;
        }
    }
}

/// The hooks' values as core's, and core's as the hooks'.
pub(crate) fn offline_request(request: &RequestFacts) -> OfflineRequest {
    OfflineRequest {
        name: request.name.clone(),
        email: request.email.clone(),
        message: request.message.clone(),
        page_url: request.page_url.clone(),
    }
}

pub(crate) fn decision_of(answer: hooks::RequestAnswer) -> RequestDecision {
    RequestDecision {
        auto_reply: answer.auto_reply,
        tags: answer.tags,
        priority: answer.priority.map(|p| match p {
            hooks::Priority::Low => Priority::Low,
            hooks::Priority::Normal => Priority::Normal,
            hooks::Priority::High => Priority::High,
            hooks::Priority::Urgent => Priority::Urgent,
        }),
        assign_to: answer.assign_to,
    }
}

/// What the widget shows by a plugin's answer; it asks again later, as the answer may change
/// with the time.
pub(crate) fn shown_widget(answer: hooks::Availability) -> WidgetAvailability {
    WidgetAvailability {
        chat: answer.mode == WidgetMode::Chat,
        message: answer.message,
        recheck: true,
    }
}

pub(crate) fn closed_chat(closed: &ClosedFacts) -> hooks::ClosedChat {
    hooks::ClosedChat {
        closed_by: closed.closed_by.clone(),
        messages: closed.messages,
        // Ratings come with the visitor's end of a conversation (not yet in Tandem).
        rating: None,
        opened_at_ms: closed.opened_at.millis(),
        closed_at_ms: closed.closed_at.millis(),
    }
}

pub(crate) fn posts_of(webhooks: Vec<hooks::Webhook>) -> Vec<WebhookPost> {
    webhooks
        .into_iter()
        .map(|w| WebhookPost {
            url: w.url,
            body: w.body,
        })
        .collect()
}

pub(crate) fn unread_messages(batch: &UnreadBatch) -> Vec<UnreadMessage> {
    let author = batch.operator_name.as_deref().unwrap_or("Operator");
    batch
        .messages
        .iter()
        .map(|m| UnreadMessage {
            id: m.id.to_string(),
            author: author.to_owned(),
            body: m.body.clone(),
            sent_at_ms: m.created_at.millis(),
        })
        .collect()
}

pub(crate) fn rendered_email(email: &EmailSummary) -> RenderedEmail {
    RenderedEmail {
        // A trial may replay a batch that was skipped for want of an address.
        to: (!email.to.is_empty()).then(|| email.to.clone()),
        subject: email.subject.clone(),
        text: email.text.clone(),
    }
}

pub(crate) fn routes_of(deliveries: Vec<Delivery>) -> Vec<Route> {
    deliveries
        .into_iter()
        .map(|d| match d {
            Delivery::Email { .. } => Route::Email,
            Delivery::Webhook(w) => Route::Webhook {
                url: w.url,
                body: w.body,
            },
            Delivery::Skip { reason } => Route::Skip { reason },
        })
        .collect()
}

/// What every hook is told of the tenant.
pub(crate) fn tenant_context(facts: &TenantFacts) -> TenantContext {
    TenantContext {
        tenant_id: facts.tenant.to_string(),
        tenant_slug: facts.tenant_slug.clone(),
        tenant_timeout_secs: u32::try_from(facts.tenant_timeout.as_secs()).unwrap_or(u32::MAX),
        now_ms: facts.now.millis(),
        webhook_urls: facts.webhook_urls.clone(),
        settings: String::new(),
    }
}

/// What every hook about a dialog is told (the settings are each plugin's own).
pub(crate) fn dialog_context(ctx: &DialogContext) -> HookContext {
    HookContext {
        tenant: TenantContext {
            tenant_id: ctx.tenant.to_string(),
            tenant_slug: ctx.tenant_slug.clone(),
            tenant_timeout_secs: u32::try_from(ctx.tenant_timeout.as_secs()).unwrap_or(u32::MAX),
            now_ms: ctx.now.millis(),
            webhook_urls: ctx.webhook_urls.clone(),
            settings: String::new(),
        },
        chat_id: ctx.chat.to_string(),
        visitor: VisitorInfo {
            id: ctx.visitor.to_string(),
            name: ctx.visitor_name.clone(),
            locale: ctx.visitor_locale.clone(),
            has_email: ctx.visitor_has_email,
        },
    }
}

/// What every hook about a batch is told.
pub(crate) fn batch_context(batch: &UnreadBatch, now: Timestamp) -> HookContext {
    HookContext {
        tenant: TenantContext {
            tenant_id: batch.tenant.id.to_string(),
            tenant_slug: batch.tenant.slug.clone(),
            tenant_timeout_secs: u32::try_from(batch.tenant.settings.offline_timeout().as_secs())
                .unwrap_or(u32::MAX),
            now_ms: now.millis(),
            webhook_urls: batch.tenant.settings.webhook_urls.clone(),
            settings: String::new(),
        },
        chat_id: batch.chat.to_string(),
        visitor: VisitorInfo {
            id: batch.visitor.id.to_string(),
            name: batch.visitor.name.clone(),
            locale: batch.visitor.locale.clone(),
            has_email: batch.visitor.email.is_some(),
        },
    }
}

/// An alert as the hook sees it.
pub(crate) fn alert_of(alert: &OperatorAlert, workspace_url: &str) -> hooks::Alert {
    hooks::Alert {
        kind: match (alert.kind, alert.wait_minutes) {
            (AlertReason::OfflineRequest, _) => hooks::AlertKind::OfflineRequest,
            (AlertReason::LongWait, minutes) => hooks::AlertKind::LongWait {
                minutes: minutes.unwrap_or(0),
            },
        },
        preview: alert.preview.clone(),
        workspace_url: workspace_url.to_owned(),
    }
}

pub(crate) fn alert_routes_of(routes: Vec<hooks::AlertRoute>) -> Vec<AlertRoute> {
    routes
        .into_iter()
        .map(|r| match r {
            hooks::AlertRoute::Operators => AlertRoute::Operators,
            hooks::AlertRoute::Webhook(w) => AlertRoute::Webhook {
                url: w.url,
                body: w.body,
            },
            hooks::AlertRoute::Skip { reason } => AlertRoute::Skip { reason },
        })
        .collect()
}

/// An alert's webhooks go only to the tenant's allowed URLs.
pub(crate) fn alert_routes_allowed(
    routes: &[hooks::AlertRoute],
    urls: &[String],
) -> Result<(), CallError> {
    routes.iter().try_for_each(|r| match r {
        hooks::AlertRoute::Webhook(w) => webhook_allowed(&w.url, urls),
        _ => Ok(()),
    })
}

/// Webhooks go only to the tenant's allowed URLs.
pub(crate) fn webhooks_allowed(
    webhooks: &[hooks::Webhook],
    urls: &[String],
) -> Result<(), CallError> {
    webhooks
        .iter()
        .try_for_each(|w| webhook_allowed(&w.url, urls))
}

/// Whether a webhook to `url` may go out: it is one of the tenant's `urls`.
fn webhook_allowed(url: &str, urls: &[String]) -> Result<(), CallError> {
    match urls.iter().any(|allowed| allowed == url) {
        true => Ok(()),
        false => Err(CallError::Malformed(format!(
            "a webhook to {url}, which is not among the tenant's webhook URLs"
        ))),
    }
}

/// Emails go only to the visitor's own address, webhooks only to the tenant's allowed URLs.
pub(crate) fn allowed(deliveries: &[Delivery], batch: &UnreadBatch) -> Result<(), CallError> {
    for delivery in deliveries {
        match delivery {
            Delivery::Email { to: Some(to) }
                if !batch
                    .visitor
                    .email
                    .as_deref()
                    .is_some_and(|own| own.eq_ignore_ascii_case(to)) =>
            {
                return Err(CallError::Malformed(format!(
                    "an email to {to}, which is not the visitor's address"
                )));
            }
            Delivery::Webhook(w) => webhook_allowed(&w.url, &batch.tenant.settings.webhook_urls)?,
            _ => {}
        }
    }
    Ok(())
}
