//! Trying a plugin before enabling it: its hooks run on the tenant's recent real cases (the last
//! offline requests, unread-reply batches, alerts and closed chats, and the widget's
//! availability now),
//! with the data the plugin would have seen then, and the report says what it answered, what
//! Tandem would have done with that and how long it took. Nothing is acted on: no message, no
//! assignment, no mail or webhook, no log line, no failure counted.
//!
//! Core chooses the cases and judges the answers by the rules it applies for real; running the
//! plugin is the plugins crate's part ([`TrialRunner`]), rendering the email the worker's
//! ([`EmailPreview`]).

mod cases;
mod replay;

pub(crate) use replay::replay;

use std::time::Duration;

use serde::Serialize;

use super::ActivePlugin;
use crate::alert::{AlertRoute, AlertToRoute};
use crate::automation::{
    ClosedFacts, DialogContext, RequestDecision, RequestFacts, Staff, TenantFacts, WebhookPost,
    WidgetAvailability,
};
use crate::clock::Timestamp;
use crate::delivery::{EmailSummary, Route, UnreadBatch};
use crate::ids::{ChatId, PluginId};
use crate::tenant::EmailParts;

/// The recent cases of each kind a trial replays.
pub const TRIAL_CASES: u64 = 5;
/// A trial stops calling the plugin after this long; the cases left are reported as not run.
pub const TRIAL_BUDGET: Duration = Duration::from_secs(20);

/// The plugin a trial runs, enabled or not, with its saved settings and its tenant's limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrialPlugin {
    pub plugin: ActivePlugin,
    pub timeout_ms: u32,
    pub memory_mib: u32,
}

/// One call of one hook in a trial, as the runner made it.
#[derive(Clone, Debug)]
pub struct Tried<T> {
    /// The hook's input, as `tandem plugin run --input` takes it.
    pub input: serde_json::Value,
    /// The answer (`None`: no opinion), or why the call failed or its answer was refused.
    pub result: Result<Option<T>, String>,
    /// The answer as the plugin gave it, as JSON.
    pub answer: Option<serde_json::Value>,
    pub elapsed: Duration,
    /// Of which instantiating the plugin, when it got that far.
    pub instantiation: Option<Duration>,
    /// What the plugin printed.
    pub output: String,
}

/// Runs one hook of one plugin once, with the checks a real call's answer gets, and nothing
/// else: no log, no failure count, nothing delivered.
#[async_trait::async_trait]
pub trait TrialRunner: Send + Sync {
    async fn offline_request(
        &self,
        plugin: &TrialPlugin,
        ctx: &DialogContext,
        request: &RequestFacts,
    ) -> Tried<RequestDecision>;

    async fn availability(
        &self,
        plugin: &TrialPlugin,
        tenant: &TenantFacts,
        staff: Staff,
    ) -> Tried<WidgetAvailability>;

    async fn chat_closed(
        &self,
        plugin: &TrialPlugin,
        ctx: &DialogContext,
        closed: &ClosedFacts,
    ) -> Tried<Vec<WebhookPost>>;

    async fn offline_timeout(&self, plugin: &TrialPlugin, ctx: &DialogContext) -> Tried<Duration>;

    async fn email_template(
        &self,
        plugin: &TrialPlugin,
        batch: &UnreadBatch,
        now: Timestamp,
    ) -> Tried<EmailParts>;

    async fn routes(
        &self,
        plugin: &TrialPlugin,
        batch: &UnreadBatch,
        email: &EmailSummary,
        now: Timestamp,
    ) -> Tried<Vec<Route>>;

    async fn operator_alert(
        &self,
        plugin: &TrialPlugin,
        alert: &AlertToRoute,
        workspace_url: &str,
    ) -> Tried<Vec<AlertRoute>>;
}

/// The unread-reply email of a batch as it would go out, without issuing the tokens its links
/// carry (a trial must leave nothing behind).
#[async_trait::async_trait]
pub trait EmailPreview: Send + Sync {
    /// With `template` when a plugin chose one; else the tenant's own or the built-in one.
    async fn preview(
        &self,
        batch: &UnreadBatch,
        template: Option<EmailParts>,
    ) -> Result<EmailSummary, String>;

    /// The dialog in the operators' workspace, as alerts link to it.
    fn workspace_url(&self, chat: ChatId) -> String;
}

/// What a trial found.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrialReport {
    pub plugin: PluginId,
    pub ran_at: Timestamp,
    /// One per hook per case, in the order they ran.
    pub runs: Vec<TrialRun>,
    /// The plugin's hooks no case was found for, and why.
    pub untried: Vec<Untried>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Untried {
    pub hook: String,
    pub reason: String,
}

/// One hook on one case.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrialRun {
    pub hook: String,
    /// The case in a line: "Offline request from Anna: “Do you ship to…”".
    pub case: String,
    pub chat_id: Option<ChatId>,
    /// When the case happened: the hook is told this as its time.
    pub at: Timestamp,
    pub outcome: TrialOutcome,
    /// What the plugin answered, as JSON (a number, a list or an object, by the hook).
    pub answer: Option<serde_json::Value>,
    /// What Tandem would have done, in words; with the reason when the call failed or its
    /// answer would have been refused.
    pub effect: String,
    /// The hook's input, as `tandem plugin run --input` takes it (`None` when not run).
    pub input: Option<serde_json::Value>,
    pub elapsed_ms: f64,
    pub instantiation_ms: Option<f64>,
    /// What the plugin printed.
    pub output: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialOutcome {
    /// It answered, and Tandem would have used the answer.
    Answered,
    /// It had no opinion: Tandem's own behaviour.
    NoOpinion,
    /// It answered something Tandem would have refused: for real, a failure.
    Refused,
    /// The call failed (deadline, trap, memory, a malformed answer): for real, a failure.
    Failed,
    /// The trial's time ran out first.
    NotRun,
}
