//! A plugin's trial (core's `TrialRunner`): one hook, one case, the plugin called as for real —
//! compiled once, under its tenant's limits, its answer checked as a real answer is — and
//! nothing else: no log line, no failure counted, no metric, nothing delivered.

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use tandem_core::alert::{AlertRoute, AlertToRoute};
use tandem_core::automation::{
    ClosedFacts, DialogContext, RequestDecision, RequestFacts, Staff, TenantFacts, WebhookPost,
    WidgetAvailability,
};
use tandem_core::clock::Timestamp;
use tandem_core::delivery::{EmailSummary, Route, UnreadBatch};
use tandem_core::plugin::{TrialPlugin, TrialRunner, Tried};
use tandem_core::tenant::EmailParts;

use crate::error::CallError;
use crate::host::{Call, CompiledPlugin};
use crate::limits::CallLimits;
use crate::runtime::{
    PluginRuntime, alert_of, alert_routes_allowed, alert_routes_of, allowed, batch_context,
    closed_chat, decision_of, dialog_context, offline_request, posts_of, rendered_email, routes_of,
    shown_widget, tenant_context, unread_messages, webhooks_allowed,
};

impl PluginRuntime {
    /// Calls the plugin once: `call` makes the call, `check` refuses an answer Tandem would
    /// not use, `convert` turns the rest into core's value.
    async fn tried<A, T, F, Fut>(
        &self,
        plugin: &TrialPlugin,
        input: Value,
        call: F,
        check: impl FnOnce(&A) -> Result<(), CallError>,
        convert: impl FnOnce(A) -> T,
    ) -> Tried<T>
    where
        A: Serialize,
        F: FnOnce(CompiledPlugin, CallLimits) -> Fut,
        Fut: Future<Output = Call<Option<A>>>,
    {
        let limits =
            CallLimits::new(plugin.timeout_ms, plugin.memory_mib).of_tenant(plugin.plugin.tenant);
        let compiled = match self.compiled(&plugin.plugin, limits).await {
            Ok(compiled) => compiled,
            Err(reason) => {
                return Tried {
                    input,
                    result: Err(reason),
                    answer: None,
                    elapsed: Duration::ZERO,
                    instantiation: None,
                    output: String::new(),
                };
            }
        };
        let call = call(compiled, limits).await;
        let answer = match &call.result {
            Ok(Some(answer)) => serde_json::to_value(answer).ok(),
            _ => None,
        };
        let result = match call.result {
            Ok(Some(answer)) => match check(&answer) {
                Ok(()) => Ok(Some(convert(answer))),
                Err(e) => Err(e.to_string()),
            },
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        };
        Tried {
            input,
            result,
            answer,
            elapsed: call.elapsed,
            instantiation: call.instantiation,
            output: call.output,
        }
    }
}

fn any<A>(_: &A) -> Result<(), CallError> {
    Ok(())
}

#[async_trait::async_trait]
impl TrialRunner for PluginRuntime {
    async fn offline_request(
        &self,
        plugin: &TrialPlugin,
        ctx: &DialogContext,
        request: &RequestFacts,
    ) -> Tried<RequestDecision> {
        let ctx = dialog_context(ctx).with_settings(&plugin.plugin.settings);
        let request = offline_request(request);
        let input = json!({ "context": ctx, "request": request });
        let host = self.host();
        self.tried(
            plugin,
            input,
            |compiled, limits| async move {
                host.offline_request(&compiled, limits, &ctx, &request)
                    .await
            },
            any,
            decision_of,
        )
        .await
    }

    async fn availability(
        &self,
        plugin: &TrialPlugin,
        tenant: &TenantFacts,
        staff: Staff,
    ) -> Tried<WidgetAvailability> {
        let mut ctx = tenant_context(tenant);
        ctx.settings = plugin.plugin.settings.clone();
        let staff = crate::hooks::Staff {
            online: staff.online,
            available: staff.available,
        };
        let input = json!({ "context": ctx, "staff": staff });
        let host = self.host();
        self.tried(
            plugin,
            input,
            |compiled, limits| async move { host.availability(&compiled, limits, &ctx, staff).await },
            any,
            shown_widget,
        )
        .await
    }

    async fn chat_closed(
        &self,
        plugin: &TrialPlugin,
        ctx: &DialogContext,
        closed: &ClosedFacts,
    ) -> Tried<Vec<WebhookPost>> {
        let urls = ctx.webhook_urls.clone();
        let ctx = dialog_context(ctx).with_settings(&plugin.plugin.settings);
        let chat = closed_chat(closed);
        let input = json!({ "context": ctx, "chat": chat });
        let host = self.host();
        self.tried(
            plugin,
            input,
            |compiled, limits| async move { host.chat_closed(&compiled, limits, &ctx, &chat).await },
            |webhooks| webhooks_allowed(webhooks, &urls),
            posts_of,
        )
        .await
    }

    async fn operator_alert(
        &self,
        plugin: &TrialPlugin,
        claim: &AlertToRoute,
        workspace_url: &str,
    ) -> Tried<Vec<AlertRoute>> {
        let urls = claim.ctx.webhook_urls.clone();
        let ctx = dialog_context(&claim.ctx).with_settings(&plugin.plugin.settings);
        let alert = alert_of(&claim.alert, workspace_url);
        let input = json!({ "context": ctx, "alert": alert });
        let host = self.host();
        self.tried(
            plugin,
            input,
            |compiled, limits| async move {
                host.operator_alert(&compiled, limits, &ctx, &alert).await
            },
            |routes| alert_routes_allowed(routes, &urls),
            alert_routes_of,
        )
        .await
    }

    async fn offline_timeout(&self, plugin: &TrialPlugin, ctx: &DialogContext) -> Tried<Duration> {
        let ctx = dialog_context(ctx).with_settings(&plugin.plugin.settings);
        let input = json!(ctx);
        let host = self.host();
        self.tried(
            plugin,
            input,
            |compiled, limits| async move { host.offline_timeout(&compiled, limits, &ctx).await },
            any,
            |secs| Duration::from_secs(u64::from(secs)),
        )
        .await
    }

    async fn email_template(
        &self,
        plugin: &TrialPlugin,
        batch: &UnreadBatch,
        now: Timestamp,
    ) -> Tried<EmailParts> {
        let ctx = batch_context(batch, now).with_settings(&plugin.plugin.settings);
        let input = json!(ctx);
        let host = self.host();
        self.tried(
            plugin,
            input,
            |compiled, limits| async move { host.email_template(&compiled, limits, &ctx).await },
            any,
            |template| template,
        )
        .await
    }

    async fn routes(
        &self,
        plugin: &TrialPlugin,
        batch: &UnreadBatch,
        email: &EmailSummary,
        now: Timestamp,
    ) -> Tried<Vec<Route>> {
        let ctx = batch_context(batch, now).with_settings(&plugin.plugin.settings);
        let messages = unread_messages(batch);
        let email = rendered_email(email);
        let input = json!({ "context": ctx, "messages": messages, "email": email });
        let host = self.host();
        self.tried(
            plugin,
            input,
            |compiled, limits| async move {
                host.route_notification(&compiled, limits, &ctx, &messages, &email)
                    .await
            },
            |deliveries| allowed(deliveries, batch),
            routes_of,
        )
        .await
    }
}
