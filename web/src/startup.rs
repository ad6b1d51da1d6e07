//! Building the application from its configuration, and running it until a shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use sea_orm::DatabaseConnection;
use tandem_core::clock::{Clock, SystemClock};
use tandem_core::events::{BroadcastBus, EventBus};
use tandem_core::installation::NodeRole;
use tandem_core::limits::Limits;
use tandem_core::plugin::PluginStore;
use tandem_core::storage::Storage;
use tandem_core::usage::UsageMeter;
use tandem_core::{Ports, Tandem};
use tandem_migrations::MigratorTrait;
use tandem_plugins::{CompileBudget, Compiler, HostOptions, PluginHost, PluginRuntime};
use tandem_worker::preview::EmailPreviewer;
use tandem_worker::queue::JobQueue;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::secret_digest;
use crate::bookkeeping;
use crate::cluster::{ClusterBus, Link, Outgoing, PostgresLink, RedisLink};
use crate::config::{Config, WorkerMode};
use crate::housekeeping;
use crate::metrics::{Metrics, ResponseLabels};
use crate::notifications::{self, Delivery, Mail};
use crate::presence_keeper::PresenceKeeper;
use crate::rate_limit::RateLimits;
use crate::realtime::hub::Hub;
use crate::routes;
use crate::state::{AppState, TenantCache};

/// Connects to the configured database and brings its schema up to date.
pub async fn open_database(config: &Config) -> anyhow::Result<DatabaseConnection> {
    let db = tandem_core::database::connect(&config.database_url)
        .await
        .with_context(|| {
            format!(
                "cannot open the database at {}",
                redact(&config.database_url)
            )
        })?;
    tandem_migrations::Migrator::up(&db, None)
        .await
        .context("cannot migrate the database")?;
    Ok(db)
}

/// The domain services wired to this process's ports, and the bus they publish on.
pub fn tandem(db: DatabaseConnection, config: &Config) -> (Tandem, BroadcastBus) {
    let limits = Limits {
        max_message_chars: config.max_message_chars,
    };
    let bus = BroadcastBus::default();
    let ports = Ports {
        events: Arc::new(bus.clone()),
        ..Ports::default()
    };
    (Tandem::new(db, ports, limits), bus)
}

/// Everything a serving or working process runs on.
pub struct Services {
    pub tandem: Tandem,
    /// This process's own fan-out: its sockets listen here.
    pub bus: BroadcastBus,
    /// What this process publishes on: the local fan-out, and the other nodes when there are any.
    pub events: Arc<dyn EventBus>,
    /// The link to the other nodes (PostgreSQL only), to start with the process.
    pub cluster: Option<Cluster>,
    pub node_id: Arc<str>,
    pub queue: JobQueue,
    pub plugins: PluginRuntime,
    pub metrics: Arc<Metrics>,
}

/// The bus to the other nodes, not yet running.
pub struct Cluster {
    link: Link,
    outgoing: Outgoing,
}

impl Cluster {
    /// True while this node hears the other nodes.
    pub fn listening(&self) -> Arc<AtomicBool> {
        self.link.listening()
    }

    pub fn spawn(
        self,
        bus: BroadcastBus,
        tandem: Tandem,
        stop: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        self.link.spawn(self.outgoing, bus, tandem, stop)
    }
}

/// How long shutdown waits for sockets to finish closing.
const SOCKET_DRAIN: Duration = Duration::from_secs(3);

/// The mailbox to show at `/dev/mailbox`, if any, said in the log either way.
fn dev_mailbox(
    config: &Config,
    kept: Option<Arc<tandem_worker::mail::DevMailbox>>,
    listener: &TcpListener,
) -> Option<Arc<tandem_worker::mail::DevMailbox>> {
    let kept = kept?;
    let loopback = listener.local_addr().is_ok_and(|a| a.ip().is_loopback());
    match (config.dev_mailbox, loopback) {
        (true, true) => {
            tracing::warn!(
                "the dev mailbox is on: /dev/mailbox shows every tenant's mail to anyone who can reach this server"
            );
            Some(kept)
        }
        (true, false) => {
            tracing::warn!(
                "TANDEM_DEV_MAILBOX is ignored: this server does not listen on loopback"
            );
            None
        }
        (false, _) => {
            tracing::info!(
                dir = %config.mailbox_dir.display(),
                "no SMTP server: mail is kept there; TANDEM_DEV_MAILBOX=true shows it at /dev/mailbox"
            );
            None
        }
    }
}

/// Tandem's own SMTP listener for the inbound domain, when `TANDEM_INBOUND_SMTP_BIND` asks for
/// one; it runs until the process ends.
pub async fn inbound_smtp(config: &Config, tandem: &Tandem) -> anyhow::Result<Option<SocketAddr>> {
    let Some(bind) = config.inbound_smtp_bind else {
        return Ok(None);
    };
    let domain = config
        .inbound_domain
        .clone()
        .filter(|d| !d.trim().is_empty())
        .context("TANDEM_INBOUND_SMTP_BIND needs TANDEM_INBOUND_DOMAIN: the listener takes mail for that domain only")?;
    let listener = TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen for mail on {bind}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, %domain, "taking mail for the inbound domain");
    tokio::spawn(tandem_worker::inbound_smtp::serve(
        listener,
        tandem.clone(),
        domain,
    ));
    Ok(Some(addr))
}

/// The plugin host, compiling in child processes of this binary under the configured budget.
pub fn plugin_host(config: &Config) -> anyhow::Result<PluginHost> {
    let cache_dir = config.plugin_cache_dir.as_deref();
    let compiler = match &config.plugin_compiler {
        Some(binary) => Compiler::binary(binary, cache_dir),
        None => Compiler::this_binary(cache_dir)
            .context("cannot find this binary to compile plugins")?,
    };
    PluginHost::with_options(HostOptions {
        cache_dir: cache_dir.map(Path::to_path_buf),
        compiler,
        compile_budget: CompileBudget {
            time: Duration::from_secs(config.plugin_compile_secs.max(1)),
            memory_bytes: config
                .plugin_compile_memory_mib
                .max(64)
                .saturating_mul(1024 * 1024),
        },
    })
    .map_err(|e| anyhow::anyhow!("cannot start the plugin host: {e}"))
}

/// The domain services with unread replies scheduled as jobs on the notification queue and
/// tenant plugins answering the timeout and template ports.
pub async fn services(db: DatabaseConnection, config: &Config) -> anyhow::Result<Services> {
    services_with_clock(db, config, Arc::new(SystemClock)).await
}

/// [`services`] on a clock of the caller's (a test's, which it moves).
pub async fn services_with_clock(
    db: DatabaseConnection,
    config: &Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Services> {
    let queue = JobQueue::open(&config.database_url, &config.queue)
        .await
        .context("cannot open the notification queue")?;
    let limits = Limits {
        max_message_chars: config.max_message_chars,
    };
    let host = plugin_host(config)?;
    let metrics = Arc::new(Metrics::new());
    // The plugin store writes too: it shares the services' storage (one write gate on SQLite).
    let storage = Storage::new(db.clone());
    let usage = UsageMeter::default();
    let store = PluginStore::new(storage.clone(), clock.clone()).counting_into(usage.clone());
    let plugins = PluginRuntime::new(host, store)
        .with_failure_threshold(config.plugin_failure_threshold)
        .with_observer(metrics.clone());
    let node_id: Arc<str> = config
        .node_id
        .clone()
        .unwrap_or_else(|| format!("node-{}", uuid_suffix()))
        .into();
    let bus = BroadcastBus::default();
    let (events, cluster): (Arc<dyn EventBus>, _) = match link(&db, config, &node_id)? {
        Some(link) => {
            let (cluster_bus, outgoing) = ClusterBus::new(bus.clone());
            (Arc::new(cluster_bus), Some(Cluster { link, outgoing }))
        }
        None => (Arc::new(bus.clone()), None),
    };
    let files = crate::file_store::ObjectFiles::from_config(config)
        .context("cannot open the file store (TANDEM_FILES)")?;
    let ports = Ports {
        clock,
        events: events.clone(),
        scheduler: Arc::new(queue.clone()),
        timeout_policy: Arc::new(plugins.clone()),
        automation: Arc::new(plugins.clone()),
        files: Arc::new(files),
        usage,
    };
    Ok(Services {
        tandem: Tandem::new(storage, ports, limits),
        bus,
        events,
        cluster,
        node_id,
        queue,
        plugins,
        metrics,
    })
}

/// The transport to the other nodes: Redis when configured, else PostgreSQL's own; none on
/// SQLite (one node) or when `TANDEM_BUS_CHANNEL` is empty.
fn link(
    db: &DatabaseConnection,
    config: &Config,
    node_id: &Arc<str>,
) -> anyhow::Result<Option<Link>> {
    let channel = &config.bus_channel;
    if channel.is_empty() {
        return Ok(None);
    }
    let Some(postgres) = PostgresLink::new(db, channel, node_id.clone()) else {
        if config.node_id.is_some() || config.redis_url.is_some() {
            tracing::warn!(
                "SQLite serves one node: run a single `tandem serve` on this database (PostgreSQL for more)"
            );
        }
        return Ok(None);
    };
    Ok(Some(match &config.redis_url {
        Some(url) => Link::Redis(
            RedisLink::new(url, channel, node_id.clone())
                .with_context(|| format!("TANDEM_REDIS_URL is not usable: {}", redact(url)))?,
        ),
        None => Link::Postgres(postgres),
    }))
}

/// A bound, ready server.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    /// Delivers unread replies, unless the worker runs elsewhere.
    delivery: Option<Delivery>,
    bus: BroadcastBus,
    cluster: Option<Cluster>,
    heartbeat: Duration,
    closing: watch::Sender<bool>,
    max_body_bytes: usize,
    connection_limits: crate::serve::ConnectionLimits,
    proxies: crate::forwarded::TrustedProxies,
}

impl Application {
    pub async fn build(config: &Config, services: Services) -> anyhow::Result<Self> {
        let Services {
            tandem,
            bus,
            events,
            cluster,
            node_id,
            queue,
            plugins,
            metrics,
        } = services;
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let public_url = config.public_url(listener.local_addr()?);
        let proxies = crate::forwarded::TrustedProxies::parse(&config.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("TANDEM_TRUSTED_PROXIES: {e}"))?;
        let (closing, closing_rx) = watch::channel(false);
        let mail = Mail::from_config(config, &tandem)?;
        let delivery = match config.worker {
            WorkerMode::Embedded => Some(notifications::delivery(
                config,
                &tandem,
                &plugins,
                &mail,
                queue,
                &public_url,
                &node_id,
            )?),
            WorkerMode::Off => None,
        };
        let email_preview = Arc::new(EmailPreviewer::new(tandem.clone(), &public_url));
        let platform_token_digest = secret_digest(config.platform_token.as_deref());
        let platform_session_key = match &platform_token_digest {
            Some(digest) => {
                let installation = tandem.installation.platform_session_key().await?;
                Some(Arc::new(crate::platform_session::session_key(
                    &installation,
                    digest,
                )))
            }
            None => None,
        };
        let state = AppState {
            tandem,
            events,
            hub: Hub::new(metrics.clone()),
            tenants: Arc::new(TenantCache::default()),
            limits: Arc::new(
                RateLimits::new(config.rate_limit_per_ip, config.rate_limit_per_visitor)
                    .with_visitor_caps(config.new_visitors_per_ip, config.sockets_per_ip),
            ),
            metrics,
            node_id,
            public_url: public_url.into(),
            platform_token_digest,
            platform_session_key,
            inbound_secret_digest: secret_digest(config.inbound_secret.as_deref()),
            socket_timeout: Duration::from_secs(config.socket_timeout_secs.max(2)),
            max_message_chars: config.max_message_chars,
            // Kept mail holds visitors' addresses and resume links: it is shown only when asked
            // for (TANDEM_DEV_MAILBOX), and only by a server that listens on loopback.
            dev_mailbox: dev_mailbox(config, mail.dev_mailbox, &listener),
            closing: closing_rx,
            plugins,
            email_preview,
            max_plugin_bytes: config.max_plugin_bytes,
            hearing_other_nodes: cluster.as_ref().map(Cluster::listening),
            uploads: Arc::default(),
            mailbox_dir: config
                .smtp_url
                .is_none()
                .then(|| config.mailbox_dir.clone()),
            node_silent_after: Duration::from_secs(config.heartbeat_secs.max(1))
                * crate::presence_keeper::MISSED_BEATS,
            audit_retention: (config.audit_retention_days > 0)
                .then(|| Duration::from_secs(u64::from(config.audit_retention_days) * 86_400)),
        };
        Ok(Self {
            listener,
            state,
            delivery,
            bus,
            cluster,
            heartbeat: Duration::from_secs(config.heartbeat_secs.max(1)),
            closing,
            max_body_bytes: config.max_body_bytes,
            connection_limits: crate::serve::ConnectionLimits {
                per_ip: config.max_connections_per_ip,
                header_read: Duration::from_secs(config.header_read_timeout_secs.max(1)),
                exempt: proxies.clone(),
            },
            proxies,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then closes every socket with a close frame, stops
    /// accepting, finishes in-flight requests and stops the background tasks.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = self.state;
        let (stop_tx, stop_rx) = watch::channel(false);
        let keeper = PresenceKeeper::new(
            state.tandem.presence.clone(),
            state.node_id.clone(),
            self.heartbeat,
        )
        .spawn(stop_rx.clone());
        let cluster = self
            .cluster
            .map(|c| c.spawn(self.bus.clone(), state.tandem.clone(), stop_rx.clone()));
        let fan_out = tokio::spawn(state.hub.clone().run(self.bus.subscribe()));
        let housekeeping = housekeeping::spawn(state.clone(), stop_rx.clone());
        let node = (state.node_id.to_string(), NodeRole::Serve);
        let bookkeeping =
            bookkeeping::spawn(state.tandem.clone(), node, self.heartbeat, stop_rx.clone());
        let delivery = self.delivery.map(|delivery| delivery.spawn(stop_rx));
        let app = routes::router(state.clone(), self.max_body_bytes)
            .layer(from_fn_with_state(state.clone(), count_responses))
            // Outermost: every layer and handler sees the client, not the proxy.
            .layer(from_fn_with_state(
                self.proxies.clone(),
                crate::forwarded::real_client,
            ))
            .layer(
                ServiceBuilder::new()
                    .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                    .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
                        let id = request
                            .headers()
                            .get("x-request-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id = %id)
                    }))
                    .layer(PropagateRequestIdLayer::x_request_id()),
            );
        tracing::info!(node = %state.node_id, "serving");
        let closing = self.closing;
        let signal = async move {
            shutdown.await;
            // Sockets see this and close with "going away"; then the server drains.
            let _ = closing.send(true);
        };
        crate::serve::serve(self.listener, app, self.connection_limits, signal).await;
        // Sockets were told to close when shutdown began; give them the moment their closing
        // handshake takes, so that clients hear why (1001) rather than see the line drop.
        let drained = tokio::time::Instant::now() + SOCKET_DRAIN;
        while state.hub.socket_count() > 0 && tokio::time::Instant::now() < drained {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = stop_tx.send(true);
        let _ = keeper.await;
        let _ = housekeeping.await;
        if let Some(delivery) = delivery {
            // The delivery in hand finishes; what is left stays in the outbox for next time.
            let _ = delivery.await;
        }
        let _ = bookkeeping.await;
        // What the last deliveries counted.
        if let Err(e) = state.tandem.usage.flush().await {
            tracing::warn!(error = %e, "the last usage counts were not written");
        }
        if let Some(cluster) = cluster {
            let _ = cluster.await;
        }
        fan_out.abort();
        tracing::info!("stopped");
        Ok(())
    }
}

async fn count_responses(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> axum::response::Response {
    let response = next.run(request).await;
    state
        .metrics
        .responses
        .get_or_create(&ResponseLabels {
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// Takes over SIGINT and SIGTERM at once (so a signal that arrives while the server is still
/// starting is a clean shutdown, not the default kill), and resolves when one arrives.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).ok();
        let mut interrupt = signal(SignalKind::interrupt()).ok();
        async move {
            let terminated = async {
                match terminate.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let interrupted = async {
                match interrupt.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = terminated => {},
                () = interrupted => {},
            }
            tracing::info!("shutdown requested");
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested");
    }
}

fn uuid_suffix() -> String {
    tandem_core::ids::ConnectionId::new()
        .to_string()
        .chars()
        .rev()
        .take(12)
        .collect()
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact("postgres://tandem:s3cret@db:5432/tandem"),
            "postgres://tandem:***@db:5432/tandem"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(
            redact("sqlite://tandem.db?mode=rwc"),
            "sqlite://tandem.db?mode=rwc"
        );
    }
}
