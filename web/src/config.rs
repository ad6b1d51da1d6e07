//! Settings of the `tandem` binary: defaults, then `tandem.toml` if present, then `TANDEM_*`
//! environment variables (the environment wins). Defaults make a fresh machine work as it is.

use std::net::SocketAddr;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub database_url: String,
    pub bind: SocketAddr,
    /// Base of links put in emails; `http://<bind>` when unset.
    pub public_url: Option<String>,
    /// The longest message body in characters.
    pub max_message_chars: usize,
    /// This process's name in presence rows; random when unset. Give each node its own.
    pub node_id: Option<String>,
    /// Bearer token of the platform admin API; the API is off when unset.
    pub platform_token: Option<String>,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Connections one client IP may hold open at once (0: no cap; behind a reverse proxy
    /// every client shares its IP, so let the proxy cap them).
    pub max_connections_per_ip: usize,
    /// How long a client has to send a request's headers.
    pub header_read_timeout_secs: u64,
    /// Reverse proxies (comma-separated IP addresses) whose `X-Forwarded-For` names the
    /// client; they are also exempt from the per-IP connection cap.
    pub trusted_proxies: String,
    /// Widget requests and socket messages one client IP may make per minute (bursts of a
    /// sixth of it are allowed).
    pub rate_limit_per_ip: u32,
    /// Widget requests and socket messages one visitor may make per minute.
    pub rate_limit_per_visitor: u32,
    /// New visitors one client IP may start per minute (0: no limit).
    pub new_visitors_per_ip: u32,
    /// Widget sockets one client IP may hold open (0: no cap).
    pub sockets_per_ip: usize,
    /// A socket that has sent nothing (not even a pong) for this long is dead and is dropped.
    pub socket_timeout_secs: u64,
    /// `smtp://host:port` or `smtps://user:pass@host:port`; unset: the dev mailbox.
    pub smtp_url: Option<String>,
    /// The domain whose mail reaches Tandem: unread-reply mails get a `Reply-To` of their dialog
    /// there (`reply+<token>@domain`), and answers come back in through
    /// `POST /api/v1/inbound/email`. Unset: mails have no `Reply-To`.
    pub inbound_domain: Option<String>,
    /// Where Tandem's own SMTP listener takes mail for the inbound domain (for an MX record),
    /// e.g. `0.0.0.0:2525`; unset: no listener.
    pub inbound_smtp_bind: Option<SocketAddr>,
    /// The shared secret of `POST /api/v1/inbound/email` (as `Authorization: Bearer`); the
    /// endpoint is off without it.
    pub inbound_secret: Option<String>,
    /// Show kept mail (no SMTP server) at `/dev/mailbox`, to anyone, on a loopback listener
    /// only. For a developer's machine: off unless asked for.
    pub dev_mailbox: bool,
    /// Where mail is kept when no SMTP server is configured.
    pub mailbox_dir: std::path::PathBuf,
    /// Where files sent in dialogs are kept: a directory, or `s3://bucket[/prefix]` for an
    /// S3-compatible store (every node of a cluster must use the same).
    pub files: String,
    /// The S3-compatible store's address (e.g. `http://127.0.0.1:9000` for MinIO); AWS's when
    /// unset, or `AWS_ENDPOINT`.
    pub s3_endpoint: Option<String>,
    /// Else `AWS_REGION`.
    pub s3_region: Option<String>,
    /// Else `AWS_ACCESS_KEY_ID`.
    pub s3_access_key_id: Option<String>,
    /// Else `AWS_SECRET_ACCESS_KEY`.
    pub s3_secret_access_key: Option<String>,
    /// The sender of unread-reply emails.
    pub mail_from: String,
    /// `embedded`: `serve` delivers notifications itself; `off`: run `tandem worker`.
    pub worker: WorkerMode,
    /// How long a worker holds a batch it is delivering; after that (it died) another takes it.
    pub delivery_lease_secs: u64,
    /// The apalis queue of notification jobs; installations sharing one database need their own.
    pub queue: String,
    /// How often the sweep looks for due notifications that no job delivered.
    pub sweep_every_secs: u64,
    /// The largest plugin an admin may upload, in bytes.
    pub max_plugin_bytes: usize,
    /// Failed calls in a row after which a plugin is disabled.
    pub plugin_failure_threshold: u32,
    /// The `tandem` executable that compiles uploaded plugins in a child process (unset: this
    /// one). For a process that embeds Tandem, such as the tests.
    pub plugin_compiler: Option<std::path::PathBuf>,
    /// Where compiled plugins are kept across restarts (unset: compiled at each start).
    pub plugin_cache_dir: Option<std::path::PathBuf>,
    /// How long compiling one uploaded plugin may take; past it the upload is refused.
    pub plugin_compile_secs: u64,
    /// How much memory compiling one plugin may use, in MiB; past it the upload is refused.
    pub plugin_compile_memory_mib: u64,
    /// How long a webhook receiver has to answer.
    pub webhook_timeout_secs: u64,
    /// Whether plugins' webhooks may post to loopback and private addresses. Off by default so
    /// that tenants cannot reach the services around the server; turn it on for a receiver on
    /// the same host or network.
    pub webhook_private_addresses: bool,
    /// The PostgreSQL `NOTIFY` (or Redis) channel the nodes of one installation share.
    pub bus_channel: String,
    /// Carry events between nodes over Redis pub/sub instead of PostgreSQL.
    pub redis_url: Option<String>,
    /// How often a node says it is alive; its visitors count as gone after three silent beats.
    pub heartbeat_secs: u64,
    /// Days the audit trail keeps an entry (0: for ever).
    pub audit_retention_days: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerMode {
    Embedded,
    Off,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://tandem.db?mode=rwc".into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            max_message_chars: tandem_core::limits::Limits::DEFAULT_MAX_MESSAGE_CHARS,
            node_id: None,
            platform_token: None,
            max_body_bytes: 64 * 1024,
            max_connections_per_ip: 64,
            header_read_timeout_secs: 10,
            trusted_proxies: String::new(),
            rate_limit_per_ip: 1200,
            rate_limit_per_visitor: 240,
            new_visitors_per_ip: crate::rate_limit::NEW_VISITORS_PER_IP,
            sockets_per_ip: crate::rate_limit::SOCKETS_PER_IP,
            socket_timeout_secs: 30,
            smtp_url: None,
            inbound_domain: None,
            inbound_secret: None,
            inbound_smtp_bind: None,
            dev_mailbox: false,
            mailbox_dir: "mailbox".into(),
            files: "files".into(),
            s3_endpoint: None,
            s3_region: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            mail_from: "Tandem <no-reply@localhost>".into(),
            worker: WorkerMode::Embedded,
            delivery_lease_secs: 120,
            queue: "tandem-notifications".into(),
            sweep_every_secs: 10,
            max_plugin_bytes: tandem_plugins::limits::MAX_MODULE_BYTES,
            plugin_failure_threshold: tandem_core::plugin::DEFAULT_FAILURE_THRESHOLD,
            plugin_compiler: None,
            plugin_cache_dir: None,
            plugin_compile_secs: 30,
            plugin_compile_memory_mib: 512,
            webhook_timeout_secs: 10,
            webhook_private_addresses: false,
            bus_channel: "tandem_events".into(),
            redis_url: None,
            heartbeat_secs: 10,
            audit_retention_days: 365,
        }
    }
}

impl Config {
    pub fn load() -> Result<Self, Box<figment::Error>> {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file("tandem.toml"))
            .merge(Env::prefixed("TANDEM_").ignore(&[
                "log",
                "test_postgres_url",
                "test_postgres",
                "test_redis_url",
                "test_s3_url",
                "test_s3",
            ]))
            .extract()
            .map_err(Box::new)
    }

    /// The defaults with these `TANDEM_*` settings, read as the environment's would be; for a
    /// process that embeds Tandem with settings of its own (the tests).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        for (name, value) in pairs {
            let key = name.trim_start_matches("TANDEM_").to_ascii_lowercase();
            let value: figment::value::Value = value.parse().unwrap_or_else(|never| match never {});
            figment = figment.merge((key, value));
        }
        figment.extract().map_err(Box::new)
    }

    /// The domain of the dialogs' reply addresses: the configured one, or, on a developer's
    /// machine keeping mail in the dev mailbox, `localhost` (answers are sent from the mailbox).
    pub fn reply_domain(&self) -> Option<String> {
        self.inbound_domain
            .clone()
            .filter(|d| !d.trim().is_empty())
            .or_else(|| (self.dev_mailbox && self.smtp_url.is_none()).then(|| "localhost".into()))
    }

    pub fn public_url(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{bound}"),
        }
    }
}
