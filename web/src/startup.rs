//! Building the application from its configuration, and running it until a shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use sea_orm::DatabaseConnection;
use tandem_core::limits::Limits;
use tandem_core::{Ports, Tandem};
use tandem_migrations::MigratorTrait;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::presence_keeper::PresenceKeeper;
use crate::routes;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub tandem: Tandem,
}

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

pub fn tandem(db: DatabaseConnection, config: &Config) -> Tandem {
    let limits = Limits {
        max_message_chars: config.max_message_chars,
    };
    Tandem::new(db, Ports::default(), limits)
}

/// A bound, ready server.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    node_id: Arc<str>,
}

impl Application {
    pub async fn build(config: &Config, tandem: Tandem) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let node_id: Arc<str> = config
            .node_id
            .clone()
            .unwrap_or_else(|| format!("node-{}", uuid_suffix()))
            .into();
        Ok(Self {
            listener,
            state: AppState { tandem },
            node_id,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then stops accepting, finishes in-flight requests and
    /// stops the background tasks.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let keeper = PresenceKeeper::new(self.state.tandem.presence.clone(), self.node_id.clone())
            .spawn(stop_rx);
        let app = routes::router(self.state).layer(TraceLayer::new_for_http());
        tracing::info!(node = %self.node_id, "serving");
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .context("server failed")?;
        let _ = stop_tx.send(true);
        let _ = keeper.await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
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
