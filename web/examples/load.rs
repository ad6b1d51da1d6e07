//! Load generator: drives a running `tandem serve` the way widgets and operator workspaces do,
//! and reports end-to-end latency (visitor send → operator socket receive), sustained
//! messages/s, and server memory per idle visitor socket.
//!
//! ```sh
//! TANDEM_PLATFORM_TOKEN=load TANDEM_RATE_LIMIT_PER_IP=100000000 \
//!   TANDEM_RATE_LIMIT_PER_VISITOR=100000000 TANDEM_MAX_CONNECTIONS_PER_IP=0 \
//!   TANDEM_SOCKETS_PER_IP=0 TANDEM_NEW_VISITORS_PER_IP=0 \
//!   cargo run --release --bin tandem -- serve &
//! cargo run --release -p tandem-web --example load -- --platform-token load \
//!   --visitors 1000 --operators 10 --rate 1000 --seconds 20 --idle 10000 --server-pid $!
//! ```
//!
//! With `--node URL` (repeatable) the sockets are spread over several nodes of one installation.
//!
//! It creates a fresh tenant through the platform API, so the server must have a platform token
//! and rate limits far above the load (one client IP sends everything).
//!
//! With `--relay` it drives the bare relay (`--example relay`) instead: the floor, the same
//! sockets and frames with nothing behind them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
struct Args {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// More nodes of the same installation (repeatable): sockets are spread over `--url` and
    /// these in turn, so that messages cross the bus between nodes.
    #[arg(long = "node")]
    nodes: Vec<String>,
    /// The server's platform token (not with `--relay`).
    #[arg(long)]
    platform_token: Option<String>,
    /// The server is the bare relay (`--example relay`): no tenant, no sign-in.
    #[arg(long)]
    relay: bool,
    /// Concurrent chats: visitors with an open socket, each writing.
    #[arg(long, default_value_t = 1000)]
    visitors: usize,
    /// Operator sockets (each receives every message of the tenant).
    #[arg(long, default_value_t = 10)]
    operators: usize,
    /// Messages per second, over all visitors.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Extra idle visitor sockets opened afterwards to measure memory per socket (0: skip).
    #[arg(long, default_value_t = 0)]
    idle: usize,
    /// The server's pid, to read its resident memory from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
}

impl Args {
    /// The node the `i`-th socket goes to.
    fn node(&self, i: usize) -> &str {
        match i % (self.nodes.len() + 1) {
            0 => &self.url,
            n => &self.nodes[n - 1],
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let http = reqwest::Client::new();
    let started = Instant::now();
    let tenant = match args.relay {
        true => None,
        false => {
            let tenant = create_tenant(&http, &args).await?;
            println!("tenant {} created", tenant.slug);
            Some(tenant)
        }
    };
    let operators = open_operators(&http, &args, tenant.as_ref()).await?;
    let widget_key = tenant.as_ref().map(|t| t.widget_key.as_str());
    let visitors = open_visitors(&http, &args, widget_key, args.visitors).await?;
    println!(
        "{} operator and {} visitor sockets open after {:.1}s",
        operators.len(),
        visitors.len(),
        started.elapsed().as_secs_f64()
    );

    let clock = Instant::now();
    let latencies = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let received = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for socket in operators {
        readers.push(tokio::spawn(read_operator(
            socket,
            clock,
            latencies.clone(),
            received.clone(),
        )));
    }

    let sent = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let per_visitor = args.rate as f64 / visitors.len().max(1) as f64;
    let interval = Duration::from_secs_f64(1.0 / per_visitor.max(0.001));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let hiccups = tandem_testkit::hiccups::Hiccups::start();
    let mut writers = Vec::new();
    for (i, socket) in visitors.into_iter().enumerate() {
        // Spread the visitors' first messages over one interval.
        let offset = interval.mul_f64(i as f64 / args.visitors.max(1) as f64);
        writers.push(tokio::spawn(write_visitor(
            socket,
            clock,
            offset,
            interval,
            deadline,
            sent.clone(),
            errors.clone(),
        )));
    }
    for w in writers {
        w.await?;
    }
    let hiccup = hiccups.stop();
    // Writers stop at the deadline; the rate is over the sending window.
    let send_secs = args.seconds as f64;
    // Let the last messages arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for r in &readers {
        r.abort();
    }

    let sent = sent.load(Ordering::Relaxed);
    let received = received.load(Ordering::Relaxed);
    let h = latencies.lock().await;
    println!("--- {} chats, {} operators", args.visitors, args.operators);
    println!(
        "sent {sent} messages in {send_secs:.1}s = {:.0} msg/s; {received} operator deliveries; {} errors",
        sent as f64 / send_secs,
        errors.load(Ordering::Relaxed)
    );
    println!(
        "visitor send -> operator receive: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.max() as f64 / 1000.0
    );
    // What this machine added on its own: see `Hiccups`.
    println!(
        "this machine's worst hiccup in the run (a thread sleeping 1 ms woke this late): {:.2} ms",
        hiccup as f64 / 1000.0
    );
    drop(h);

    if args.idle > 0 {
        let before = rss_kib(args.server_pid);
        let idle = open_visitors(&http, &args, widget_key, args.idle).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = rss_kib(args.server_pid);
        match (before, after) {
            (Some(b), Some(a)) => println!(
                "{} idle visitor sockets: server RSS {:.1} MiB -> {:.1} MiB, {:.1} KiB per socket",
                idle.len(),
                b as f64 / 1024.0,
                a as f64 / 1024.0,
                (a.saturating_sub(b)) as f64 / idle.len() as f64
            ),
            _ => println!(
                "{} idle visitor sockets open (pass --server-pid for memory)",
                idle.len()
            ),
        }
    }
    Ok(())
}

struct Tenant {
    slug: String,
    widget_key: String,
    admin_email: String,
    admin_password: String,
}

async fn create_tenant(http: &reqwest::Client, args: &Args) -> anyhow::Result<Tenant> {
    let token = args
        .platform_token
        .as_deref()
        .context("--platform-token is needed (or --relay)")?;
    let slug = format!("load-{}", std::process::id());
    let email = format!("admin@{slug}.example.com");
    let response = http
        .post(format!("{}/api/v1/platform/tenants", args.url))
        .bearer_auth(token)
        .json(&json!({"slug": slug, "name": "Load", "admin_email": email}))
        .send()
        .await
        .context("is the server running?")?;
    if !response.status().is_success() {
        bail!(
            "creating the tenant: {} {}",
            response.status(),
            response.text().await?
        );
    }
    let created: Value = response.json().await?;
    // The tenant's own cap on messages per minute must sit above the load.
    let id = created["tenant_id"].as_str().unwrap_or_default();
    let per_minute = (args.rate * 120).min(1_000_000);
    let raised = http
        .patch(format!("{}/api/v1/platform/tenants/{id}", args.url))
        .bearer_auth(token)
        .json(&json!({"limits": {"messages_per_minute": per_minute}}))
        .send()
        .await?;
    if !raised.status().is_success() {
        bail!(
            "raising the tenant's message limit: {}",
            raised.text().await?
        );
    }
    Ok(Tenant {
        slug,
        widget_key: created["widget_key"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        admin_email: email,
        admin_password: created["admin"]["password"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    })
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The operators' sockets: signed in to the tenant, or the relay's (`tenant` `None`).
async fn open_operators(
    http: &reqwest::Client,
    args: &Args,
    tenant: Option<&Tenant>,
) -> anyhow::Result<Vec<Socket>> {
    let Some(tenant) = tenant else {
        let mut sockets = Vec::new();
        for i in 0..args.operators {
            let url = format!("{}/operator", ws_base(args.node(i)));
            sockets.push(open_socket(url).await?);
        }
        return Ok(sockets);
    };
    let admin = login(
        http,
        args,
        tenant,
        &tenant.admin_email,
        &tenant.admin_password,
    )
    .await?;
    let mut sockets = Vec::new();
    for i in 0..args.operators {
        let email = format!("op{i}@{}.example.com", tenant.slug);
        let created = http
            .post(format!("{}/api/v1/admin/operators", args.url))
            .bearer_auth(&admin)
            .json(&json!({"email": email, "name": format!("Operator {i}"), "password": "load-test-password", "capacity": 100}))
            .send()
            .await?;
        if !created.status().is_success() {
            bail!("creating an operator: {}", created.text().await?);
        }
        let token = login(http, args, tenant, &email, "load-test-password").await?;
        http.put(format!("{}/api/v1/operators/me/status", args.url))
            .bearer_auth(&token)
            .json(&json!({"status": "online"}))
            .send()
            .await?;
        let url = format!("{}/api/v1/ws?token={token}", ws_base(args.node(i)));
        let socket = open_socket(url).await?;
        sockets.push(socket);
    }
    Ok(sockets)
}

async fn login(
    http: &reqwest::Client,
    args: &Args,
    tenant: &Tenant,
    email: &str,
    password: &str,
) -> anyhow::Result<String> {
    let body: Value = http
        .post(format!("{}/api/v1/auth/login", args.url))
        .json(&json!({"tenant": tenant.slug, "email": email, "password": password}))
        .send()
        .await?
        .json()
        .await?;
    body["token"]
        .as_str()
        .map(str::to_owned)
        .context("login failed")
}

/// Sessions and sockets for `count` visitors, 50 at a time; the relay's sockets when `key` (the
/// tenant's widget key) is `None`.
async fn open_visitors(
    http: &reqwest::Client,
    args: &Args,
    key: Option<&str>,
    count: usize,
) -> anyhow::Result<Vec<Socket>> {
    let mut sockets = Vec::with_capacity(count);
    let mut remaining = count;
    while remaining > 0 {
        let batch = remaining.min(50);
        let mut tasks = Vec::new();
        for k in 0..batch {
            let http = http.clone();
            let url = args.node(count - remaining + k).to_owned();
            let key = key.map(str::to_owned);
            tasks.push(tokio::spawn(async move {
                let Some(key) = key else {
                    let ws = format!("{}/visitor", ws_base(&url));
                    let mut socket = open_socket(ws).await?;
                    socket.next().await; // hello
                    return anyhow::Ok(socket);
                };
                let session: Value = http
                    .post(format!("{url}/api/v1/widget/{key}/session"))
                    .json(&json!({}))
                    .send()
                    .await?
                    .json()
                    .await?;
                let token = session["visitor_token"].as_str().context("no session")?;
                let ws = format!(
                    "{}/api/v1/widget/{key}/ws?visitor_token={token}",
                    ws_base(&url)
                );
                let mut socket = open_socket(ws).await?;
                socket.next().await; // hello
                anyhow::Ok(socket)
            }));
        }
        for task in tasks {
            sockets.push(task.await??);
        }
        remaining -= batch;
    }
    Ok(sockets)
}

async fn write_visitor(
    socket: Socket,
    clock: Instant,
    offset: Duration,
    interval: Duration,
    deadline: Instant,
    sent: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
) {
    let (mut sink, mut stream) = socket.split();
    // Drain what the server sends this visitor (their own messages echoed, errors).
    let errors_seen = errors.clone();
    let reader = tokio::spawn(async move {
        while let Some(Ok(Message::Text(text))) = stream.next().await {
            if text.as_str().contains("\"type\":\"error\"") {
                errors_seen.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if Instant::now() >= deadline {
            break;
        }
        let micros = clock.elapsed().as_micros();
        let frame = json!({"type": "message.send", "body": format!("t:{micros}")});
        if sink
            .send(Message::Text(frame.to_string().into()))
            .await
            .is_err()
        {
            errors.fetch_add(1, Ordering::Relaxed);
            break;
        }
        sent.fetch_add(1, Ordering::Relaxed);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    reader.abort();
}

async fn read_operator(
    mut socket: Socket,
    clock: Instant,
    latencies: Arc<Mutex<Histogram<u64>>>,
    received: Arc<AtomicU64>,
) {
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        if frame["type"] != "message.created" {
            continue;
        }
        let Some(sent_at) = frame["message"]["body"]
            .as_str()
            .and_then(|b| b.strip_prefix("t:"))
            .and_then(|t| t.parse::<u128>().ok())
        else {
            continue;
        };
        let now = clock.elapsed().as_micros();
        let micros = u64::try_from(now.saturating_sub(sent_at)).unwrap_or(u64::MAX);
        let _ = latencies.lock().await.record(micros);
        received.fetch_add(1, Ordering::Relaxed);
    }
}

fn ws_base(url: &str) -> String {
    url.replacen("http://", "ws://", 1)
        .replacen("https://", "wss://", 1)
}

fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A WebSocket without Nagle's algorithm, as a browser's: otherwise a frame written while the
/// last one is unacknowledged waits out the server's delayed ACK, and the figures with it.
async fn open_socket(url: String) -> anyhow::Result<Socket> {
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await?;
    Ok(socket)
}
