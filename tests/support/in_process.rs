//! Tandem served from inside the test process: the application `tandem serve` builds, on the
//! test's database, with no process to start. What needs a process (the command line,
//! signals, crashes, clusters of nodes) runs the binary instead; see [`super::Env::serve`].

use std::sync::Arc;

use tandem_core::Tandem;
use tandem_core::clock::Clock;
use tandem_web::config::Config;
use tandem_web::startup;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{BINARY, Env};

pub struct InProcess {
    pub base_url: String,
    /// The services the server runs on (tenants are created through them).
    pub tandem: Tandem,
    /// Where the inbound SMTP listener took its port, when the settings asked for one.
    pub inbound_smtp: Option<std::net::SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    running: Option<JoinHandle<anyhow::Result<()>>>,
}

impl InProcess {
    /// Serves with these `TANDEM_*` settings over the environment's own (its database, a
    /// queue and a bus channel of its own, mail kept in its directory), on `clock`.
    pub async fn on_clock(env: &Env, vars: &[(&str, &str)], clock: Arc<dyn Clock>) -> Self {
        let mailbox = env.dir.path().join("mailbox").display().to_string();
        let files = env.dir.path().join("files").display().to_string();
        let mut all = vec![
            ("TANDEM_DATABASE_URL", env.db.url()),
            ("TANDEM_BIND", "127.0.0.1:0"),
            ("TANDEM_QUEUE", env.queue()),
            ("TANDEM_BUS_CHANNEL", env.queue()),
            ("TANDEM_MAILBOX_DIR", mailbox.as_str()),
            ("TANDEM_FILES", files.as_str()),
            // Plugins compile in a child process of the real binary, as in production.
            ("TANDEM_PLUGIN_COMPILER", BINARY),
        ];
        all.extend_from_slice(vars);
        let config = Config::from_pairs(&all).expect("the test's settings are valid");
        let db = startup::open_database(&config).await.expect("the database");
        let services = startup::services_with_clock(db, &config, clock)
            .await
            .expect("the services start");
        let tandem = services.tandem.clone();
        let app = startup::Application::build(&config, services)
            .await
            .expect("the server binds");
        let inbound_smtp = startup::inbound_smtp(&config, &tandem)
            .await
            .expect("the inbound SMTP listener");
        let base_url = format!("http://{}", app.local_addr().expect("an address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let running = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Self {
            base_url,
            tandem,
            inbound_smtp,
            stop: Some(stop),
            running: Some(running),
        }
    }

    /// Shuts down as on SIGTERM (sockets are told "going away", requests drain); true when
    /// the server stopped cleanly.
    pub async fn terminate(mut self) -> bool {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.running.take() {
            Some(running) => matches!(running.await, Ok(Ok(()))),
            None => false,
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
