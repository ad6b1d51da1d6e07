//! Prometheus metrics, served at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Copy, Debug)]
pub enum SocketKind {
    Visitor,
    Operator,
}

impl SocketKind {
    fn label(self) -> &'static str {
        match self {
            Self::Visitor => "visitor",
            Self::Operator => "operator",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SocketLabels {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MessageLabels {
    /// `visitor`, `operator` or `system`.
    pub author: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResponseLabels {
    pub status: u16,
}

pub struct Metrics {
    registry: Registry,
    pub open_sockets: Family<SocketLabels, Gauge>,
    pub messages: Family<MessageLabels, Counter>,
    pub responses: Family<ResponseLabels, Counter>,
    /// Sockets dropped because they could not keep up with their events.
    pub slow_sockets: Counter,
    /// Events the fan-out missed because it fell behind the bus.
    pub events_lost: Counter,
    /// How long writing a message takes, from the request to its commit.
    pub message_write_seconds: Histogram,
    /// Unread-reply notifications waiting, by whether their time has come: the queue depth.
    pub notifications_waiting: Family<WaitingLabels, Gauge>,
    /// Plugin hook calls by tenant, hook and outcome.
    pub plugin_calls: Family<PluginCallLabels, Counter>,
    /// Plugin compilations by tenant and outcome, and how long they took.
    pub plugin_compilations: Family<PluginCompileLabels, Counter>,
    pub plugin_compile_seconds: Histogram,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginCallLabels {
    pub tenant: String,
    pub hook: &'static str,
    /// `answered`, `deadline`, `failed` or `busy`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginCompileLabels {
    pub tenant: String,
    /// `ok` or `refused`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WaitingLabels {
    /// `due` (should be going out now) or `scheduled` (later).
    pub state: &'static str,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tandem");
        let open_sockets = Family::<SocketLabels, Gauge>::default();
        registry.register(
            "open_sockets",
            "WebSocket connections open on this node",
            open_sockets.clone(),
        );
        let messages = Family::<MessageLabels, Counter>::default();
        registry.register("messages", "Messages written", messages.clone());
        let responses = Family::<ResponseLabels, Counter>::default();
        registry.register(
            "http_responses",
            "HTTP responses by status",
            responses.clone(),
        );
        let slow_sockets = Counter::default();
        registry.register(
            "slow_sockets_dropped",
            "Sockets closed because they fell behind their events",
            slow_sockets.clone(),
        );
        let events_lost = Counter::default();
        registry.register(
            "events_lost",
            "Events the socket fan-out missed",
            events_lost.clone(),
        );
        let message_write_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register(
            "message_write_seconds",
            "Time to write one message (validation, transaction, commit)",
            message_write_seconds.clone(),
        );
        let notifications_waiting = Family::<WaitingLabels, Gauge>::default();
        registry.register(
            "notifications_waiting",
            "Unread-reply notifications not yet delivered (read at scrape time)",
            notifications_waiting.clone(),
        );
        let plugin_calls = Family::<PluginCallLabels, Counter>::default();
        registry.register(
            "plugin_calls",
            "Plugin hook calls by tenant, hook and outcome (deadline: ran past its time limit)",
            plugin_calls.clone(),
        );
        let plugin_compilations = Family::<PluginCompileLabels, Counter>::default();
        registry.register(
            "plugin_compilations",
            "Plugin modules compiled (uploads and first uses) by tenant and outcome",
            plugin_compilations.clone(),
        );
        let plugin_compile_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 12));
        registry.register(
            "plugin_compile_seconds",
            "Time to compile and check one plugin module",
            plugin_compile_seconds.clone(),
        );
        Self {
            registry,
            open_sockets,
            messages,
            responses,
            slow_sockets,
            events_lost,
            message_write_seconds,
            notifications_waiting,
            plugin_calls,
            plugin_compilations,
            plugin_compile_seconds,
        }
    }

    pub fn socket_opened(&self, kind: SocketKind) {
        self.open_sockets
            .get_or_create(&SocketLabels { kind: kind.label() })
            .inc();
    }

    pub fn socket_closed(&self, kind: SocketKind) {
        self.open_sockets
            .get_or_create(&SocketLabels { kind: kind.label() })
            .dec();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl tandem_plugins::CallObserver for Metrics {
    fn called(
        &self,
        tenant: tandem_core::ids::TenantId,
        hook: tandem_plugins::HookName,
        outcome: tandem_plugins::CallOutcome,
        _elapsed: std::time::Duration,
    ) {
        self.plugin_calls
            .get_or_create(&PluginCallLabels {
                tenant: tenant.to_string(),
                hook: hook.as_str(),
                outcome: outcome.label(),
            })
            .inc();
    }

    fn compiled(&self, tenant: tandem_core::ids::TenantId, elapsed: std::time::Duration, ok: bool) {
        self.plugin_compilations
            .get_or_create(&PluginCompileLabels {
                tenant: tenant.to_string(),
                outcome: if ok { "ok" } else { "refused" },
            })
            .inc();
        self.plugin_compile_seconds.observe(elapsed.as_secs_f64());
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
