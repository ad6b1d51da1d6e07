//! A running server with two tenants, and the HTTP and WebSocket clients that drive it the way
//! the widget and the operator workspace do.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tandem_core::clock::{Clock, ManualClock, SystemClock, Timestamp};
use tandem_testkit::TestDatabase;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::in_process::InProcess;
use super::{Env, Server};

pub const PLATFORM_TOKEN: &str = "platform-secret-for-tests";
/// How long the server waits for a silent socket in these tests.
pub const SOCKET_TIMEOUT_SECS: u64 = 2;

/// A tenant as `tandem tenant create` printed it, with its admin logged in.
#[derive(Clone)]
pub struct Company {
    pub id: String,
    pub slug: String,
    pub widget_key: String,
    pub admin_email: String,
    pub admin_password: String,
    pub admin_token: String,
}

pub struct Live {
    pub env: Env,
    pub server: Node,
    /// The environment `server` was started with, for `restart`.
    vars: Vec<(String, String)>,
    /// Talks to `server`; derefs to it, so `live.call(…)` and friends reach this server.
    pub client: Client,
    pub acme: Company,
    pub globex: Company,
}

/// How a test's server runs.
enum How {
    InProcess(Arc<dyn Clock>),
    Process,
}

/// The server under test: inside the test process (most tests), or the real binary (tests of
/// what needs a process: crashes, signals).
// One per test, never copied: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Node {
    InProcess(InProcess),
    Process(Server),
}

impl Node {
    pub fn base_url(&self) -> &str {
        match self {
            Self::InProcess(node) => &node.base_url,
            Self::Process(server) => &server.base_url,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// The port Tandem's inbound SMTP listener took (served in process only).
    pub fn inbound_smtp_port(&self) -> Option<u16> {
        match self {
            Self::InProcess(node) => node.inbound_smtp.map(|addr| addr.port()),
            Self::Process(_) => None,
        }
    }

    /// What the server printed (nothing is captured from a server in process).
    pub fn stdout(&self) -> String {
        match self {
            Self::InProcess(_) => "(served in the test process)".into(),
            Self::Process(server) => server.stdout(),
        }
    }

    pub fn stderr(&self) -> String {
        match self {
            Self::InProcess(_) => String::new(),
            Self::Process(server) => server.stderr(),
        }
    }

    /// The services of a server in process, for a test to run a chore of the housekeeping's
    /// now rather than at its next round.
    pub fn tandem(&self) -> &tandem_core::Tandem {
        match self {
            Self::InProcess(node) => &node.tandem,
            Self::Process(_) => panic!("this test needs a server in process"),
        }
    }

    /// The binary, for tests that kill it.
    pub fn process(&mut self) -> &mut Server {
        match self {
            Self::Process(server) => server,
            Self::InProcess(_) => panic!("this test needs Live::process_with_env"),
        }
    }

    /// Stops as on SIGTERM; true when it stopped cleanly.
    pub async fn terminate(self) -> bool {
        match self {
            Self::InProcess(node) => node.terminate().await,
            Self::Process(server) => server.terminate().await.success(),
        }
    }
}

impl std::ops::Deref for Live {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

/// The HTTP and WebSocket calls of the widget and the workspace, against one server (a node).
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

impl Live {
    pub async fn on_database(db: TestDatabase) -> Self {
        Self::with_env(db, &[]).await
    }

    /// A server that mails through an SMTP server of the test's own, returned beside it.
    pub async fn with_smtp(
        db: TestDatabase,
        vars: &[(&str, &str)],
    ) -> (Self, tandem_testkit::smtp::SmtpSink) {
        let smtp = tandem_testkit::smtp::SmtpSink::start().await;
        let url = smtp.url();
        let mut all = vec![("TANDEM_SMTP_URL", url.as_str())];
        all.extend_from_slice(vars);
        (Self::with_env(db, &all).await, smtp)
    }

    /// Served in process, with these `TANDEM_*` settings.
    pub async fn with_env(db: TestDatabase, vars: &[(&str, &str)]) -> Self {
        Self::start(db, vars, How::InProcess(Arc::new(SystemClock))).await
    }

    /// Served in process on a clock the test moves (it starts at the real time).
    pub async fn on_manual_clock(db: TestDatabase, vars: &[(&str, &str)]) -> (Self, ManualClock) {
        Self::on_clock_at(db, vars, SystemClock.now()).await
    }

    /// Served in process on a clock the test moves, starting at `start`.
    pub async fn on_clock_at(
        db: TestDatabase,
        vars: &[(&str, &str)],
        start: Timestamp,
    ) -> (Self, ManualClock) {
        let clock = ManualClock::starting_at(start);
        let live = Self::start(db, vars, How::InProcess(Arc::new(clock.clone()))).await;
        (live, clock)
    }

    /// The real binary, for tests that crash or signal it.
    pub async fn process_with_env(db: TestDatabase, vars: &[(&str, &str)]) -> Self {
        Self::start(db, vars, How::Process).await
    }

    async fn start(db: TestDatabase, vars: &[(&str, &str)], how: How) -> Self {
        let env = Env::on_database(db).await;
        let timeout = SOCKET_TIMEOUT_SECS.to_string();
        let mut all = vec![
            ("TANDEM_PLATFORM_TOKEN", PLATFORM_TOKEN),
            ("TANDEM_SOCKET_TIMEOUT_SECS", timeout.as_str()),
        ];
        all.extend_from_slice(vars);
        let (server, acme, globex) = match how {
            How::Process => {
                let acme = create_tenant(&env, "acme").await;
                let globex = create_tenant(&env, "globex").await;
                (Node::Process(env.serve_with(&all).await), acme, globex)
            }
            How::InProcess(clock) => {
                let node = InProcess::on_clock(&env, &all, clock).await;
                let acme = create_tenant_in(&node.tandem, "acme").await;
                let globex = create_tenant_in(&node.tandem, "globex").await;
                (Node::InProcess(node), acme, globex)
            }
        };
        let client = Client::at(server.base_url());
        let vars = all
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut live = Self {
            env,
            server,
            vars,
            client,
            acme,
            globex,
        };
        for company in [&mut live.acme, &mut live.globex] {
            company.admin_token = live
                .client
                .login(&company.slug, &company.admin_email, &company.admin_password)
                .await;
        }
        live
    }
}

impl Live {
    /// The server crashes (SIGKILL) and starts again with the same settings. Give it a fixed
    /// `TANDEM_BIND` to have it back at the same address.
    pub async fn crash_and_restart(&mut self) {
        self.server.process().crash().await;
        let vars: Vec<(&str, &str)> = self
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.server = Node::Process(self.env.serve_with(&vars).await);
        self.client = Client::at(self.server.base_url());
    }
}

impl Client {
    pub fn of(server: &Server) -> Self {
        Self::at(&server.base_url)
    }

    pub fn at(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn ws_url(&self, path: &str) -> String {
        self.url(path).replacen("http://", "ws://", 1)
    }

    pub async fn login(&self, tenant: &str, email: &str, password: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"tenant": tenant, "email": email, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login: {body}");
        body["token"].as_str().expect("a token").to_owned()
    }

    /// The body of a page (HTML, text) fetched without credentials.
    pub async fn page(&self, path: &str) -> String {
        let response = self
            .http
            .get(self.url(path))
            .send()
            .await
            .expect("the server answers");
        response.text().await.expect("a body")
    }

    /// The id of the first mail to `address` in the dev mailbox, waiting up to 10 s for it.
    pub async fn dev_mail_to(&self, address: &str) -> String {
        let mut page = String::new();
        for _ in 0..100 {
            page = self.page("/dev/mailbox").await;
            if page.contains(address) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(page.contains(address), "no mail to {address}: {page}");
        let href = page
            .split("href=\"/dev/mailbox/")
            .nth(1)
            .unwrap_or_default();
        href.chars().take_while(|c| *c != '"').collect()
    }

    /// Saves a plugin's settings with `token` (an admin's).
    pub async fn save_plugin_settings(
        &self,
        token: &str,
        plugin: &str,
        settings: Value,
    ) -> (StatusCode, Value) {
        let path = format!("/api/v1/admin/plugins/{plugin}/settings");
        self.call(Method::PUT, &path, Some(token), Some(settings))
            .await
    }

    /// One JSON call; returns the status and the body (Null when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let text = response.text().await.expect("a body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{status}: the body is not JSON: {text}"))
        };
        (status, value)
    }

    /// The company's admin uploads a plugin: the status and the answer.
    pub async fn upload_plugin(&self, company: &Company, wasm: Vec<u8>) -> (StatusCode, Value) {
        self.upload_plugin_as(&company.admin_token, wasm, "application/wasm")
            .await
    }

    /// A plugin upload with `token`, sent as `content_type`.
    pub async fn upload_plugin_as(
        &self,
        token: &str,
        wasm: Vec<u8>,
        content_type: &str,
    ) -> (StatusCode, Value) {
        // A client of its own: the server answers an oversized upload before reading it all and
        // drops the connection, which a pooled client would then try to reuse.
        let response = reqwest::Client::new()
            .post(self.url("/api/v1/admin/plugins"))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(wasm)
            .send()
            .await
            .expect("the server answers");
        let status = response.status();
        let text = response.text().await.expect("a body");
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{status}: the body is not JSON: {text}"));
        (status, body)
    }

    /// The company's webhook signing secret, as its admin reads it.
    pub async fn webhook_secret(&self, company: &Company) -> String {
        let (status, body) = self
            .call(
                Method::GET,
                "/api/v1/admin/webhook-secret",
                Some(&company.admin_token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["secret"].as_str().expect("a secret").to_owned()
    }

    /// Creates an operator of the company, logs them in and sets them online.
    pub async fn online_operator(&self, company: &Company, name: &str) -> Operator {
        let email = format!(
            "{}@{}.example.com",
            name.to_lowercase().replace(' ', "."),
            company.slug
        );
        let (status, created) = self
            .call(
                Method::POST,
                "/api/v1/admin/operators",
                Some(&company.admin_token),
                Some(json!({"email": email, "name": name, "password": "operator-password"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let token = self.login(&company.slug, &email, "operator-password").await;
        let operator = Operator {
            id: created["operator"]["id"].as_str().unwrap().to_owned(),
            token,
        };
        self.set_status(&operator, "online").await;
        operator
    }

    pub async fn set_status(&self, operator: &Operator, status: &str) {
        let (code, body) = self
            .call(
                Method::PUT,
                "/api/v1/operators/me/status",
                Some(&operator.token),
                Some(json!({ "status": status })),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{body}");
    }

    /// Follows an email's (or a hand-over's) resume link: a session on a new device.
    pub async fn resume(&self, company: &Company, token: &str) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            &format!("/api/v1/widget/{}/session", company.widget_key),
            None,
            Some(json!({ "resume_token": token })),
        )
        .await
    }

    /// `/metrics`, as the platform operator reads it.
    pub async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .bearer_auth(PLATFORM_TOKEN)
            .send()
            .await
            .expect("the server answers")
            .text()
            .await
            .expect("a body")
    }

    /// A new visitor of the company's widget.
    pub async fn visitor(&self, company: &Company) -> Visitor {
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/api/v1/widget/{}/session", company.widget_key),
                None,
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Visitor {
            key: company.widget_key.clone(),
            id: body["visitor_id"].as_str().unwrap().to_owned(),
            token: body["visitor_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn visitor_call(
        &self,
        visitor: &Visitor,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let path = format!("/api/v1/widget/{}{path}", visitor.key);
        self.call(method, &path, Some(&visitor.token), body).await
    }

    /// The visitor writes through the HTTP endpoint; returns the message.
    pub async fn visitor_says(&self, visitor: &Visitor, body: &str) -> Value {
        let (status, message) = self
            .visitor_call(
                visitor,
                Method::POST,
                "/chat/messages",
                Some(json!({ "body": body })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{message}");
        message
    }

    /// The visitor sends the offline form; the chat it opened (its id).
    pub async fn offline_request(
        &self,
        visitor: &Visitor,
        name: &str,
        email: &str,
        message: &str,
    ) -> String {
        let (status, created) = self
            .visitor_call(
                visitor,
                Method::POST,
                "/offline-requests",
                Some(json!({ "name": name, "email": email, "message": message })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created["chat"]["id"].as_str().expect("a chat").to_owned()
    }

    pub async fn operator_says(&self, operator: &Operator, chat_id: &str, body: &str) -> Value {
        let (status, message) = self
            .call(
                Method::POST,
                &format!("/api/v1/chats/{chat_id}/messages"),
                Some(&operator.token),
                Some(json!({ "body": body })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{message}");
        message
    }

    /// A chat and its whole dialog, as the operator with `token` reads them.
    pub async fn dialog(&self, token: &str, chat_id: &str) -> Value {
        let (status, dialog) = self
            .call(
                Method::GET,
                &format!("/api/v1/chats/{chat_id}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{dialog}");
        dialog
    }

    /// Chats of a category as the operator sees them.
    pub async fn category(&self, token: &str, category: &str) -> Vec<Value> {
        let (status, body) = self
            .call(
                Method::GET,
                &format!("/api/v1/chats?category={category}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["chats"].as_array().unwrap().clone()
    }

    pub async fn set_grace(&self, company: &Company, secs: u64) {
        self.update_settings(company, json!({ "presence_grace_secs": secs }))
            .await;
    }

    /// The company's delivery log, newest first, as its admin reads it.
    pub async fn delivery_log(&self, company: &Company) -> Vec<Value> {
        let (status, body) = self
            .call(
                Method::GET,
                "/api/v1/admin/notifications",
                Some(&company.admin_token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["deliveries"].as_array().cloned().unwrap_or_default()
    }

    /// The company's admin changes these settings; the server must accept them.
    pub async fn update_settings(&self, company: &Company, settings: Value) {
        let (status, body) = self
            .call(
                Method::PUT,
                "/api/v1/admin/settings",
                Some(&company.admin_token),
                Some(settings),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    pub async fn visitor_socket(&self, visitor: &Visitor) -> Socket {
        let url = self.ws_url(&format!(
            "/api/v1/widget/{}/ws?visitor_token={}",
            visitor.key, visitor.token
        ));
        Socket::open(&url).await
    }

    pub async fn operator_socket(&self, token: &str) -> Socket {
        Socket::open(&self.ws_url(&format!("/api/v1/ws?token={token}"))).await
    }
}

async fn create_tenant(env: &Env, slug: &str) -> Company {
    let out = env
        .run(&[
            "tenant",
            "create",
            "--slug",
            slug,
            "--name",
            &format!("{slug} Ltd"),
            "--admin-email",
            &admin_email(slug),
        ])
        .await;
    assert!(out.status.success(), "{}", out.stderr);
    let created: Value = serde_json::from_str(&out.stdout).expect("tenant create prints JSON");
    let text = |value: &Value| value.as_str().expect("a string").to_owned();
    Company::created(
        slug,
        text(&created["tenant_id"]),
        text(&created["widget_key"]),
        text(&created["admin"]["password"]),
    )
}

/// The same, through the services of a server in process.
async fn create_tenant_in(tandem: &tandem_core::Tandem, slug: &str) -> Company {
    let created = tandem
        .tenants
        .create(
            &tandem_core::audit::PlatformActor::command_line(),
            tandem_core::tenant::NewTenant {
                slug: slug.into(),
                name: format!("{slug} Ltd"),
                admin_email: admin_email(slug),
                admin_password: None,
            },
        )
        .await
        .expect("create the tenant");
    Company::created(
        slug,
        created.tenant_id.to_string(),
        created.widget_key,
        created.admin.password,
    )
}

fn admin_email(slug: &str) -> String {
    format!("admin@{slug}.example.com")
}

impl Company {
    /// A tenant just created; its admin signs in next.
    fn created(slug: &str, id: String, widget_key: String, admin_password: String) -> Self {
        Self {
            id,
            slug: slug.to_owned(),
            widget_key,
            admin_email: admin_email(slug),
            admin_password,
            admin_token: String::new(),
        }
    }
}

pub struct Operator {
    pub id: String,
    pub token: String,
}

pub struct Visitor {
    pub key: String,
    pub id: String,
    pub token: String,
}

/// A WebSocket client that reads JSON frames.
pub struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub hello: Value,
}

impl Socket {
    pub async fn open(url: &str) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .unwrap_or_else(|e| panic!("connect {url}: {e}"));
        let mut socket = Self {
            ws,
            hello: Value::Null,
        };
        socket.hello = socket.expect("hello").await;
        socket
    }

    pub async fn send(&mut self, frame: Value) {
        self.ws
            .send(WsMessage::Text(frame.to_string().into()))
            .await
            .expect("send a frame");
    }

    /// The next frame of this type, skipping others; fails after 10 s.
    pub async fn expect(&mut self, kind: &str) -> Value {
        self.expect_where(kind, |_| true).await
    }

    /// The next frame of this type that passes `check`.
    pub async fn expect_where(&mut self, kind: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no {kind} frame within 10 s"));
            match next {
                Some(Ok(WsMessage::Text(text))) => {
                    let frame: Value = serde_json::from_str(text.as_str()).expect("JSON frame");
                    if frame["type"] == kind && check(&frame) {
                        return frame;
                    }
                }
                Some(Ok(WsMessage::Close(frame))) => {
                    panic!("closed while waiting for {kind}: {frame:?}")
                }
                Some(Ok(_)) => {}
                other => panic!("socket ended while waiting for {kind}: {other:?}"),
            }
        }
    }

    /// Frames that arrive within `within`, for checking that nothing arrives.
    pub async fn frames_within(&mut self, within: Duration) -> Vec<Value> {
        let mut frames = Vec::new();
        let deadline = tokio::time::Instant::now() + within;
        while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            if let WsMessage::Text(text) = message {
                frames.push(serde_json::from_str(text.as_str()).expect("JSON frame"));
            }
        }
        frames
    }

    /// Waits for the server to close the socket; returns the close code and reason.
    pub async fn expect_close(&mut self) -> (u16, String) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => panic!("the server did not close the socket within 10 s"),
                Ok(Some(Ok(WsMessage::Close(Some(frame))))) => {
                    return (u16::from(frame.code), frame.reason.to_string());
                }
                Ok(Some(Ok(WsMessage::Close(None)))) | Ok(None) | Ok(Some(Err(_))) => {
                    return (0, String::new());
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        // Let the close handshake finish so the server sees a clean departure.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }
}
