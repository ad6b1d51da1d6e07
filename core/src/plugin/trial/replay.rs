//! A trial's course: each hook the plugin implements, on each recent case of its kind, judged by
//! the rules Tandem applies for real, until the trial's time runs out.

use std::time::{Duration, Instant};

use super::cases::{self, ClosedCase, RequestCase, UnreadCase};
use super::{
    EmailPreview, TRIAL_BUDGET, TrialOutcome, TrialPlugin, TrialReport, TrialRun, TrialRunner,
    Tried, Untried,
};
use crate::alert::{AlertRoute, AlertToRoute};
use crate::automation::{RequestDecision, Staff, TenantFacts, WebhookPost, WidgetAvailability};
use crate::clock::Timestamp;
use crate::delivery::{EmailSummary, Route};
use crate::error::CoreResult;
use crate::ids::{ChatId, TenantId};
use crate::message::vet_request;
use crate::outbox::clamp_timeout;
use crate::services::Deps;

/// Runs the trial of `plugin`, of `tenant`, at `now`.
pub(crate) async fn replay(
    deps: &Deps,
    tenant: TenantId,
    plugin: &TrialPlugin,
    runner: &dyn TrialRunner,
    preview: &dyn EmailPreview,
) -> CoreResult<TrialReport> {
    let now = deps.clock.now();
    let mut trial = Replay {
        deps,
        plugin,
        runner,
        preview,
        started: Instant::now(),
        report: TrialReport {
            plugin: plugin.plugin.id,
            ran_at: now,
            runs: Vec::new(),
            untried: Vec::new(),
        },
    };
    let implements = |hook: &str| plugin.plugin.implements(hook);
    let db = &deps.db;
    if implements("offline_request") {
        let cases = cases::offline_requests(db, tenant).await?;
        if cases.is_empty() {
            trial.untried("offline_request", "no offline requests yet");
        }
        for case in &cases {
            trial.offline_request(tenant, case).await?;
        }
    }
    if implements("availability") {
        let (facts, staff) = cases::availability_now(db, tenant, now).await?;
        trial.availability(&facts, staff).await;
    }
    let delivery_hooks = ["offline_timeout", "email_template", "route_notification"];
    if delivery_hooks.iter().any(|h| implements(h)) {
        let cases = cases::unread_batches(db, tenant).await?;
        if cases.is_empty() {
            for hook in delivery_hooks.into_iter().filter(|h| implements(h)) {
                trial.untried(hook, "no unread replies were delivered yet");
            }
        }
        for case in &cases {
            trial.unread_replies(case).await;
        }
    }
    if implements("chat_closed") {
        let cases = cases::closed_chats(db, tenant).await?;
        if cases.is_empty() {
            trial.untried("chat_closed", "no closed chats yet");
        }
        for case in &cases {
            trial.chat_closed(case).await;
        }
    }
    if implements("operator_alert") {
        let cases = cases::recent_alerts(db, tenant).await?;
        if cases.is_empty() {
            trial.untried("operator_alert", "no alerts for the operators yet");
        }
        for case in &cases {
            trial.operator_alert(case).await;
        }
    }
    Ok(trial.report)
}

struct Replay<'a> {
    deps: &'a Deps,
    plugin: &'a TrialPlugin,
    runner: &'a dyn TrialRunner,
    preview: &'a dyn EmailPreview,
    started: Instant,
    report: TrialReport,
}

/// Which case a run is about.
struct Case {
    hook: &'static str,
    line: String,
    chat: Option<ChatId>,
    at: Timestamp,
}

impl Replay<'_> {
    fn untried(&mut self, hook: &str, reason: &str) {
        self.report.untried.push(Untried {
            hook: hook.to_owned(),
            reason: reason.to_owned(),
        });
    }

    /// Whether the trial's time ran out; if so the case is reported as not run.
    fn out_of_time(&mut self, case: &Case) -> bool {
        if self.started.elapsed() < TRIAL_BUDGET {
            return false;
        }
        let effect = format!(
            "not run: the trial stops calling the plugin after {} s",
            TRIAL_BUDGET.as_secs()
        );
        self.push_not_run(case, effect);
        true
    }

    fn push_not_run(&mut self, case: &Case, effect: String) {
        self.report.runs.push(TrialRun {
            hook: case.hook.to_owned(),
            case: case.line.clone(),
            chat_id: case.chat,
            at: case.at,
            outcome: TrialOutcome::NotRun,
            answer: None,
            effect,
            input: None,
            elapsed_ms: 0.0,
            instantiation_ms: None,
            output: String::new(),
        });
    }

    fn push<T>(&mut self, case: &Case, tried: Tried<T>, outcome: TrialOutcome, effect: String) {
        self.report.runs.push(TrialRun {
            hook: case.hook.to_owned(),
            case: case.line.clone(),
            chat_id: case.chat,
            at: case.at,
            outcome,
            answer: tried.answer,
            effect,
            input: Some(tried.input),
            elapsed_ms: millis(tried.elapsed),
            instantiation_ms: tried.instantiation.map(millis),
            output: tried.output,
        });
    }

    async fn offline_request(&mut self, tenant: TenantId, case: &RequestCase) -> CoreResult<()> {
        let who = case
            .request
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(&case.request.email);
        let line = Case {
            hook: "offline_request",
            line: format!(
                "Offline request from {}: “{}”",
                shown(who),
                shown(&case.request.message)
            ),
            chat: Some(case.ctx.chat),
            at: case.ctx.now,
        };
        if self.out_of_time(&line) {
            return Ok(());
        }
        let tried = self
            .runner
            .offline_request(self.plugin, &case.ctx, &case.request)
            .await;
        let (outcome, effect) = match &tried.result {
            Ok(Some(decision)) => {
                let limit = self.deps.limits.max_message_chars;
                match vet_request(&self.deps.db, tenant, limit, decision).await? {
                    Ok(_) => (TrialOutcome::Answered, request_effect(decision)),
                    Err(reason) => (TrialOutcome::Refused, refused(&reason)),
                }
            }
            Ok(None) => (
                TrialOutcome::NoOpinion,
                "Tandem's own: the request waits in the queue for an operator".to_owned(),
            ),
            Err(reason) => (TrialOutcome::Failed, failed(reason)),
        };
        self.push(&line, tried, outcome, effect);
        Ok(())
    }

    async fn availability(&mut self, facts: &TenantFacts, staff: Staff) {
        let line = Case {
            hook: "availability",
            line: format!(
                "The widget now: {} operator{} online, {} free to take a chat",
                staff.online,
                plural(staff.online),
                staff.available
            ),
            chat: None,
            at: facts.now,
        };
        if self.out_of_time(&line) {
            return;
        }
        let tried = self.runner.availability(self.plugin, facts, staff).await;
        let (outcome, effect) = match &tried.result {
            Ok(Some(offer)) => (TrialOutcome::Answered, availability_effect(offer)),
            Ok(None) => (
                TrialOutcome::NoOpinion,
                format!(
                    "Tandem's own rule: {}",
                    availability_effect(&WidgetAvailability {
                        chat: staff.available > 0,
                        message: None,
                        recheck: false,
                    })
                ),
            ),
            Err(reason) => (TrialOutcome::Failed, failed(reason)),
        };
        self.push(&line, tried, outcome, effect);
    }

    async fn chat_closed(&mut self, case: &ClosedCase) {
        let visitor = case.ctx.visitor_name.as_deref().unwrap_or("a visitor");
        let line = Case {
            hook: "chat_closed",
            line: format!(
                "Chat with {} closed by {}, {} message{}",
                shown(visitor),
                shown(&case.closed.closed_by),
                case.closed.messages,
                plural(case.closed.messages)
            ),
            chat: Some(case.ctx.chat),
            at: case.closed.closed_at,
        };
        if self.out_of_time(&line) {
            return;
        }
        let tried = self
            .runner
            .chat_closed(self.plugin, &case.ctx, &case.closed)
            .await;
        let (outcome, effect) = match &tried.result {
            Ok(Some(posts)) => (TrialOutcome::Answered, posts_effect(posts)),
            Ok(None) => (
                TrialOutcome::NoOpinion,
                "Tandem's own: nothing is posted".to_owned(),
            ),
            Err(reason) => (TrialOutcome::Failed, failed(reason)),
        };
        self.push(&line, tried, outcome, effect);
    }

    async fn operator_alert(&mut self, case: &AlertToRoute) {
        let line = Case {
            hook: "operator_alert",
            line: format!(
                "{}: “{}”",
                shown(&case.alert.headline()),
                shown(&case.alert.preview)
            ),
            chat: Some(case.ctx.chat),
            at: case.alert.created_at,
        };
        if self.out_of_time(&line) {
            return;
        }
        let link = self.preview.workspace_url(case.ctx.chat);
        let tried = self.runner.operator_alert(self.plugin, case, &link).await;
        let (outcome, effect) = match &tried.result {
            Ok(Some(routes)) => (TrialOutcome::Answered, alert_effect(routes)),
            Ok(None) => (
                TrialOutcome::NoOpinion,
                format!("Tandem's own: {}", alert_effect(&[AlertRoute::Operators])),
            ),
            Err(reason) => (TrialOutcome::Failed, failed(reason)),
        };
        self.push(&line, tried, outcome, effect);
    }

    /// The delivery hooks the plugin implements, in the order a batch meets them: the timeout
    /// when the first reply was written, then the template and the routes when it went out.
    async fn unread_replies(&mut self, case: &UnreadCase) {
        let batch = &case.batch;
        let replies = batch.messages.len();
        let line = |hook, at| Case {
            hook,
            line: format!(
                "{replies} unread repl{} from {} to {}",
                if replies == 1 { "y" } else { "ies" },
                shown(batch.operator_name.as_deref().unwrap_or("an operator")),
                shown(
                    batch
                        .visitor
                        .name
                        .as_deref()
                        .or(batch.visitor.email.as_deref())
                        .unwrap_or("a visitor")
                )
            ),
            chat: Some(batch.chat),
            at,
        };
        if self.plugin.plugin.implements("offline_timeout") {
            self.offline_timeout(line("offline_timeout", case.replied_at), case)
                .await;
        }
        let mut chosen_email = None;
        if self.plugin.plugin.implements("email_template") {
            chosen_email = self
                .email_template(line("email_template", case.delivered_at), case)
                .await;
        }
        if self.plugin.plugin.implements("route_notification") {
            self.routes(
                line("route_notification", case.delivered_at),
                case,
                chosen_email,
            )
            .await;
        }
    }

    async fn offline_timeout(&mut self, line: Case, case: &UnreadCase) {
        if self.out_of_time(&line) {
            return;
        }
        let ctx = crate::automation::DialogContext {
            tenant: case.batch.tenant.id,
            tenant_slug: case.batch.tenant.slug.clone(),
            chat: case.batch.chat,
            visitor: case.batch.visitor.id,
            visitor_name: case.batch.visitor.name.clone(),
            visitor_locale: case.batch.visitor.locale.clone(),
            visitor_has_email: case.batch.visitor.email.is_some(),
            now: case.replied_at,
            tenant_timeout: case.batch.tenant.settings.offline_timeout(),
            webhook_urls: case.batch.tenant.settings.webhook_urls.clone(),
        };
        let tried = self.runner.offline_timeout(self.plugin, &ctx).await;
        let (outcome, effect) = match &tried.result {
            Ok(Some(asked)) => {
                let kept = clamp_timeout(*asked);
                let mut effect = format!("mail unread replies after {}", duration(kept));
                if kept != *asked {
                    effect.push_str(&format!(
                        " (it answered {}; Tandem keeps the wait between 1 s and 7 days)",
                        duration(*asked)
                    ));
                }
                (TrialOutcome::Answered, effect)
            }
            Ok(None) => (
                TrialOutcome::NoOpinion,
                format!(
                    "Tandem's own: the tenant's timeout, {}",
                    duration(ctx.tenant_timeout)
                ),
            ),
            Err(reason) => (TrialOutcome::Failed, failed(reason)),
        };
        self.push(&line, tried, outcome, effect);
    }

    /// Returns the email as the plugin's template renders it, when it gave one that does.
    async fn email_template(&mut self, line: Case, case: &UnreadCase) -> Option<EmailSummary> {
        if self.out_of_time(&line) {
            return None;
        }
        let tried = self
            .runner
            .email_template(self.plugin, &case.batch, case.delivered_at)
            .await;
        let mut rendered = None;
        let (outcome, effect) = match &tried.result {
            Ok(Some(template)) => match self
                .preview
                .preview(&case.batch, Some(template.clone()))
                .await
            {
                Ok(email) => {
                    let effect = format!("its template: subject “{}”", shown(&email.subject));
                    rendered = Some(email);
                    (TrialOutcome::Answered, effect)
                }
                Err(reason) => (
                    TrialOutcome::Refused,
                    refused(&format!("its template does not render: {reason}")),
                ),
            },
            Ok(None) => (
                TrialOutcome::NoOpinion,
                "Tandem's own: the tenant's template, or the built-in one".to_owned(),
            ),
            Err(reason) => (TrialOutcome::Failed, failed(reason)),
        };
        self.push(&line, tried, outcome, effect);
        rendered
    }

    async fn routes(&mut self, line: Case, case: &UnreadCase, email: Option<EmailSummary>) {
        if self.out_of_time(&line) {
            return;
        }
        let email = match email {
            Some(email) => email,
            None => match self.preview.preview(&case.batch, None).await {
                Ok(email) => email,
                Err(reason) => {
                    let effect =
                        format!("not run: the email it is given does not render ({reason})");
                    self.push_not_run(&line, effect);
                    return;
                }
            },
        };
        let tried = self
            .runner
            .routes(self.plugin, &case.batch, &email, case.delivered_at)
            .await;
        let (outcome, effect) = match &tried.result {
            Ok(Some(routes)) => (TrialOutcome::Answered, routes_effect(routes, &email.to)),
            Ok(None) => (
                TrialOutcome::NoOpinion,
                format!(
                    "Tandem's own: {}",
                    routes_effect(&[Route::Email], &email.to)
                ),
            ),
            Err(reason) => (TrialOutcome::Failed, failed(reason)),
        };
        self.push(&line, tried, outcome, effect);
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Visitor text in a one-line summary: on one line, at most 80 characters.
fn shown(text: &str) -> String {
    const MAX: usize = 80;
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line,
    }
}

fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => format!("{} ms", d.as_millis()),
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

fn failed(reason: &str) -> String {
    format!(
        "the call failed: {reason}. Tandem would have done what it does without plugins, and counted the failure"
    )
}

fn refused(reason: &str) -> String {
    format!("Tandem would have refused the answer: {reason}. For real, this counts as a failure")
}

fn request_effect(decision: &RequestDecision) -> String {
    let mut parts = Vec::new();
    if let Some(reply) = &decision.auto_reply {
        parts.push(format!("answer “{}”", shown(reply)));
    }
    if !decision.tags.is_empty() {
        parts.push(format!("tag {}", decision.tags.join(", ")));
    }
    if let Some(priority) = decision.priority {
        let name = serde_json::to_value(priority)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        parts.push(format!("priority {name}"));
    }
    if let Some(assignee) = &decision.assign_to {
        parts.push(format!("assign to {assignee}"));
    }
    if parts.is_empty() {
        return "nothing beyond keeping the request".to_owned();
    }
    parts.join("; ")
}

fn availability_effect(shown_now: &WidgetAvailability) -> String {
    let mode = if shown_now.chat {
        "the widget offers the chat"
    } else {
        "the widget shows the offline form"
    };
    match &shown_now.message {
        Some(message) => format!("{mode}, saying “{}”", shown(message)),
        None => mode.to_owned(),
    }
}

fn posts_effect(posts: &[WebhookPost]) -> String {
    if posts.is_empty() {
        return "nothing is posted".to_owned();
    }
    let urls: Vec<&str> = posts.iter().map(|p| p.url.as_str()).collect();
    format!("post to {}", urls.join(", "))
}

fn alert_effect(routes: &[AlertRoute]) -> String {
    let parts: Vec<String> = routes
        .iter()
        .map(|route| match route {
            AlertRoute::Operators => {
                "alert the operators (in the workspace; by email those not online)".to_owned()
            }
            AlertRoute::Webhook { url, .. } => format!("post to {url}"),
            AlertRoute::Skip { reason } => format!("skip ({})", shown(reason)),
        })
        .collect();
    parts.join("; ")
}

fn routes_effect(routes: &[Route], to: &str) -> String {
    let parts: Vec<String> = routes
        .iter()
        .map(|route| match route {
            Route::Email if to.is_empty() => {
                "email the visitor (who left no address: nothing is sent)".to_owned()
            }
            Route::Email => format!("email {to}"),
            Route::Webhook { url, .. } => format!("post to {url}"),
            Route::Skip { reason } => format!("skip ({})", shown(reason)),
        })
        .collect();
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_their_largest_whole_unit() {
        assert_eq!(duration(Duration::from_secs(300)), "5 min");
        assert_eq!(duration(Duration::from_secs(7200)), "2 h");
        assert_eq!(duration(Duration::from_secs(86_400 * 7)), "7 d");
        assert_eq!(duration(Duration::from_secs(90)), "90 s");
        assert_eq!(duration(Duration::from_millis(20)), "20 ms");
    }

    #[test]
    fn summaries_keep_visitor_text_to_one_short_line() {
        assert_eq!(shown("Hello\n\nthere"), "Hello there");
        let long = "я".repeat(100);
        let cut = shown(&long);
        assert_eq!(cut.chars().count(), 81);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn an_answer_is_told_as_what_tandem_would_do() {
        let decision = RequestDecision {
            auto_reply: Some("We open at 9".into()),
            tags: vec!["night".into()],
            priority: Some(crate::automation::Priority::High),
            assign_to: Some("ops@example.com".into()),
        };
        assert_eq!(
            request_effect(&decision),
            "answer “We open at 9”; tag night; priority high; assign to ops@example.com"
        );
        assert_eq!(
            request_effect(&RequestDecision::default()),
            "nothing beyond keeping the request"
        );
        let routes = [
            Route::Email,
            Route::Skip {
                reason: "at night".into(),
            },
        ];
        assert_eq!(
            routes_effect(&routes, "anna@example.com"),
            "email anna@example.com; skip (at night)"
        );
    }
}
