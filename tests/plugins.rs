//! Tenant plugins through the real server: uploaded over the admin API, validated, run for
//! their own tenant only, and contained when they misbehave — the visitor still gets their mail.

use tandem_testkit::guests;
mod support;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tandem_core::clock::Timestamp;
use tandem_testkit::TestDatabase;

use guests::{compiled_cache_dir, guest, guest_path};
use support::live::{Company, Live, Operator, Visitor};
use tandem_testkit::receiver::{Receiver, expected_signature};
use tandem_testkit::smtp::SmtpSink;

struct Plugged {
    live: Live,
    smtp: SmtpSink,
}

impl Plugged {
    async fn on_database(db: TestDatabase) -> Self {
        // Rust plugins compile in well under a second; the costly one takes minutes.
        Self::compiling_for(db, "5").await
    }

    /// For JavaScript plugins, which take seconds to compile (once: the cache is shared).
    async fn for_javascript(db: TestDatabase) -> Self {
        Self::compiling_for(db, "120").await
    }

    async fn compiling_for(db: TestDatabase, compile_secs: &str) -> Self {
        let cache = compiled_cache_dir();
        let (live, smtp) = Live::with_smtp(
            db,
            &[
                ("TANDEM_PUBLIC_URL", "https://chat.example.com"),
                ("TANDEM_SWEEP_EVERY_SECS", "1"),
                ("TANDEM_MAX_PLUGIN_BYTES", "16000000"),
                ("TANDEM_PLUGIN_COMPILE_SECS", compile_secs),
                ("TANDEM_PLUGIN_CACHE_DIR", &cache),
                // The tests' webhook receiver listens on loopback.
                ("TANDEM_WEBHOOK_PRIVATE_ADDRESSES", "true"),
                // Workspaces here wait quietly for alerts while plugins run.
                ("TANDEM_SOCKET_TIMEOUT_SECS", "60"),
            ],
        )
        .await;
        Self { live, smtp }
    }

    async fn upload(
        &self,
        company: &Company,
        wasm: Vec<u8>,
        content_type: &str,
    ) -> (StatusCode, Value) {
        self.upload_as(&company.admin_token, wasm, content_type)
            .await
    }

    /// Acme's admin installs the hostile test plugin; its id.
    async fn install_hostile(&self, company: &Company) -> String {
        self.install(company, "hostile").await
    }

    /// Uploads the built plugin `module` for `company`; its id.
    async fn install(&self, company: &Company, module: &str) -> String {
        let (status, plugin) = self
            .upload(company, guest(module), "application/wasm")
            .await;
        assert_eq!(status, StatusCode::CREATED, "{plugin}");
        plugin["id"].as_str().expect("an id").to_owned()
    }

    async fn upload_as(
        &self,
        token: &str,
        wasm: Vec<u8>,
        content_type: &str,
    ) -> (StatusCode, Value) {
        self.live.upload_plugin_as(token, wasm, content_type).await
    }

    /// Sends only the headers of an upload of `length` bytes, and returns the status and the
    /// answer: a server that waits for the body never answers.
    async fn announce_upload(&self, company: &Company, length: usize) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let url = reqwest::Url::parse(&self.live.url("/")).expect("the server's URL");
        let address = format!(
            "{}:{}",
            url.host_str().expect("a host"),
            url.port().expect("a port")
        );
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let head = format!(
            "POST /api/v1/admin/plugins HTTP/1.1\r\nHost: tandem\r\n\
             Authorization: Bearer {}\r\nContent-Type: application/wasm\r\n\
             Content-Length: {length}\r\n\r\n",
            company.admin_token
        );
        stream.write_all(head.as_bytes()).await.expect("write");
        let mut answer = Vec::new();
        let mut chunk = [0u8; 4096];
        let read = async {
            // Enough to hold the status line and the error document.
            while !String::from_utf8_lossy(&answer).contains("}") {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => answer.extend_from_slice(&chunk[..n]),
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("the server answers without the body");
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, answer)
    }

    /// A visitor with a name and an address who asks; an operator answers while they are away.
    async fn unread_reply(&self, company: &Company, operator: &Operator, name: &str) -> String {
        let live = &self.live;
        let visitor: Visitor = live.visitor(company).await;
        let (status, body) = live
            .visitor_call(
                &visitor,
                Method::PUT,
                "/visitor",
                Some(
                    json!({"name": name, "email": format!("{}@example.org", name.to_lowercase())}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let question = live.visitor_says(&visitor, "Where is my order?").await;
        let chat_id = question["chat_id"].as_str().expect("a chat").to_owned();
        live.operator_says(operator, &chat_id, "It ships today.")
            .await;
        chat_id
    }

    async fn mails_to(&self, address: &str, within: Duration) -> Vec<String> {
        let until = tokio::time::Instant::now() + within;
        loop {
            let mails: Vec<String> = self
                .smtp
                .received()
                .into_iter()
                .filter(|m| m.to.iter().any(|t| t.contains(address)))
                .map(|m| m.data)
                .collect();
            if !mails.is_empty() || tokio::time::Instant::now() >= until {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether a line of the plugin's log matches; prints the log when none does.
    async fn log_has(&self, company: &Company, id: &str, matches: impl Fn(&Value) -> bool) -> bool {
        let log = self
            .admin_get(company, &format!("/api/v1/admin/plugins/{id}/logs"))
            .await;
        let found = log["lines"].as_array().expect("lines").iter().any(matches);
        if !found {
            eprintln!("the log: {log:#}");
        }
        found
    }

    /// An admin's GET that must succeed.
    async fn admin_get(&self, company: &Company, path: &str) -> Value {
        let (status, body) = self
            .live
            .call(Method::GET, path, Some(&company.admin_token), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    async fn delivery_log(&self, company: &Company) -> Vec<Value> {
        let log = self.admin_get(company, "/api/v1/admin/notifications").await;
        log["deliveries"].as_array().expect("a list").clone()
    }

    async fn plugin(&self, company: &Company, id: &str) -> Value {
        let list = self.admin_get(company, "/api/v1/admin/plugins").await;
        list["plugins"]
            .as_array()
            .expect("a list")
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    }
}

async fn a_plugin_changes_its_own_tenants_timeout_and_template_only(p: Plugged) {
    let live = &p.live;
    for company in [&live.acme, &live.globex] {
        live.update_settings(
            company,
            json!({"offline_timeout_secs": 300, "presence_grace_secs": 0}),
        )
        .await;
    }
    // The URLs plugins may post to are the admin's to allow.
    let (status, body) = live
        .call(
            Method::PUT,
            "/api/v1/admin/settings",
            Some(&live.acme.admin_token),
            Some(json!({"webhook_urls": ["https://hooks.acme.example/tandem", "ftp://nope"]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = live
        .call(
            Method::PUT,
            "/api/v1/admin/settings",
            Some(&live.acme.admin_token),
            Some(json!({"webhook_urls": ["https://hooks.acme.example/tandem"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["webhook_urls"],
        json!(["https://hooks.acme.example/tandem"])
    );
    // The hostile plugin, called for a well-behaved visitor, says 1 s and "Hostile says hello".
    let (status, plugin) = p
        .upload(&live.acme, guest("hostile"), "application/wasm")
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plugin}");
    assert_eq!(plugin["name"], "hostile");
    assert_eq!(plugin["enabled"], true);
    assert_eq!(
        plugin["hooks"],
        json!([
            "availability",
            "chat_closed",
            "email_template",
            "offline_request",
            "offline_timeout",
            "operator_alert",
            "route_notification"
        ])
    );
    assert_eq!(plugin["world"], "0.2.0");
    let id = plugin["id"].as_str().expect("an id").to_owned();

    // Globex cannot see, change or read Acme's plugin.
    let (status, list) = live
        .call(
            Method::GET,
            "/api/v1/admin/plugins",
            Some(&live.globex.admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["plugins"], json!([]));
    for (method, path, body) in [
        (
            Method::PATCH,
            format!("/api/v1/admin/plugins/{id}"),
            Some(json!({"enabled": false})),
        ),
        (Method::DELETE, format!("/api/v1/admin/plugins/{id}"), None),
        (
            Method::GET,
            format!("/api/v1/admin/plugins/{id}/logs"),
            None,
        ),
    ] {
        let (status, _) = live
            .call(method, &path, Some(&live.globex.admin_token), body)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }

    let olga = live.online_operator(&live.acme, "Olga").await;
    let gus = live.online_operator(&live.globex, "Gus").await;
    p.unread_reply(&live.acme, &olga, "Fedor").await;
    p.unread_reply(&live.globex, &gus, "Semion").await;

    // Acme's plugin cut the 5 minutes to 1 s and chose the template.
    let mails = p
        .mails_to("fedor@example.org", Duration::from_secs(15))
        .await;
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].contains("Subject: Hostile says hello"),
        "{}",
        mails[0]
    );
    // Globex has no plugin: its visitor waits the tenant's 5 minutes.
    assert!(
        p.mails_to("semion@example.org", Duration::from_secs(2))
            .await
            .is_empty()
    );

    assert!(
        p.log_has(&live.acme, &id, |l| l["level"] == "output"
            && mentions(l, "offline timeout for"))
            .await
    );
}

async fn a_looping_plugin_falls_back_is_logged_and_disabled(p: Plugged) {
    looping_plugin_falls_back_is_logged_and_disabled(p, "hostile").await;
}

/// Hostile JavaScript, through the server as hostile Rust: the same fallbacks, log and
/// auto-disable.
async fn a_looping_javascript_plugin_falls_back_is_logged_and_disabled(p: Plugged) {
    looping_plugin_falls_back_is_logged_and_disabled(p, "hostile_js").await;
}

async fn looping_plugin_falls_back_is_logged_and_disabled(p: Plugged, hostile: &str) {
    let live = &p.live;
    live.update_settings(
        &live.acme,
        json!({"offline_timeout_secs": 300, "presence_grace_secs": 0}),
    )
    .await;
    let id = p.install(&live.acme, hostile).await;
    let olga = live.online_operator(&live.acme, "Olga").await;

    // Each reply to "loop" runs the hook into its 50 ms deadline: the default (300 s) applies
    // and the reply still goes out — just not after 1 s.
    for _ in 0..4 {
        p.unread_reply(&live.acme, &olga, "loop").await;
    }
    let plugin = p.plugin(&live.acme, &id).await;
    assert_eq!(plugin["enabled"], true, "{plugin}");
    assert_eq!(plugin["consecutive_failures"], 4, "{plugin}");
    // The platform sees them: the plugin's health (never its settings) and the tenant's use.
    let platform = Some(support::live::PLATFORM_TOKEN);
    let path = format!("/api/v1/platform/tenants/{}/plugins", live.acme.id);
    let (status, health) = live.call(Method::GET, &path, platform, None).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    let seen = &health["plugins"][0];
    assert_eq!(seen["consecutive_failures"], 4, "{health}");
    assert_eq!(
        seen["last_errors"].as_array().map(Vec::len),
        Some(3),
        "{health}"
    );
    assert!(mentions(&seen["last_errors"][0], "time limit"), "{health}");
    assert!(seen.get("settings").is_none(), "{health}");
    let (_, usage) = live
        .call(Method::GET, "/api/v1/platform/usage", platform, None)
        .await;
    let acme = usage["tenants"]
        .as_array()
        .and_then(|all| all.iter().find(|t| t["tenant_id"] == live.acme.id.as_str()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(acme["counts"]["plugin_failures"]["today"], 4, "{usage}");
    // A good call ends the run of failures.
    p.unread_reply(&live.acme, &olga, "Vera").await;
    assert_eq!(p.plugin(&live.acme, &id).await["consecutive_failures"], 0);
    // Filling 64 MiB can take longer than 50 ms on a busy machine: with a generous time limit
    // it is the memory limit that stops each call.
    let (status, body) = live
        .call(
            Method::PATCH,
            &format!("/api/v1/platform/tenants/{}", live.acme.id),
            Some(support::live::PLATFORM_TOKEN),
            Some(json!({"limits": {"plugin_timeout_ms": 1000}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for _ in 0..5 {
        p.unread_reply(&live.acme, &olga, "grow").await;
    }
    let plugin = p.plugin(&live.acme, &id).await;
    assert_eq!(plugin["enabled"], false, "{plugin}");
    let reason = plugin["disabled_reason"].as_str().expect("a reason");
    assert!(reason.contains("5 failed calls in a row"), "{reason}");
    assert!(reason.contains("memory limit"), "{reason}");
    assert!(
        p.mails_to("loop@example.org", Duration::from_secs(2))
            .await
            .is_empty()
    );

    assert!(
        p.log_has(&live.acme, &id, |l| mentions(
            l,
            "ran past its time limit of 50 ms; the default was used"
        ))
        .await
    );

    // Disabled, it no longer runs; enabled again by the admin, it does.
    p.unread_reply(&live.acme, &olga, "Anna").await;
    assert!(
        p.mails_to("anna@example.org", Duration::from_secs(3))
            .await
            .is_empty()
    );
    let (status, plugin) = live
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/plugins/{id}"),
            Some(&live.acme.admin_token),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{plugin}");
    assert_eq!(plugin["disabled_reason"], Value::Null);
    p.unread_reply(&live.acme, &olga, "Boris").await;
    assert_eq!(
        p.mails_to("boris@example.org", Duration::from_secs(15))
            .await
            .len(),
        1
    );
}

async fn a_template_that_does_not_render_still_mails_and_is_logged(p: Plugged) {
    let live = &p.live;
    let id = p.install_hostile(&live.acme).await;
    let olga = live.online_operator(&live.acme, "Olga").await;
    p.unread_reply(&live.acme, &olga, "badtemplate").await;

    // The timeout hook said 1 s; the template failed, so the built-in one carried the mail.
    let mails = p
        .mails_to("badtemplate@example.org", Duration::from_secs(15))
        .await;
    assert_eq!(mails.len(), 1);
    assert!(!mails[0].contains("Hostile says hello"), "{}", mails[0]);
    assert!(mails[0].contains("It ships today."));
    assert!(
        p.log_has(&live.acme, &id, |l| l["hook"] == "email_template"
            && mentions(l, "does not render"))
            .await
    );
}

async fn uploads_that_are_not_plugins_are_refused_and_change_nothing(p: Plugged) {
    let live = &p.live;
    let cases: Vec<(Vec<u8>, &str, StatusCode, &str)> = vec![
        (
            b"not wasm at all".to_vec(),
            "application/wasm",
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a WebAssembly component",
        ),
        (
            b"\0asm\x0d\0\x01\0".to_vec(),
            "application/octet-stream",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/wasm",
        ),
    ];
    for (wasm, content_type, expected, reason) in cases {
        let (status, body) = p.upload(&live.acme, wasm, content_type).await;
        assert_eq!(status, expected, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(reason)),
            "{body}"
        );
    }
    // Far too large: refused from its announced length, before the body is sent at all.
    let (status, answer) = p.announce_upload(&live.acme, 17 * 1024 * 1024).await;
    assert_eq!(status, 413, "{answer}");
    // Operators are not admins. (A small body: refused before it is read, a large one would
    // meet a closed connection.)
    let olga = live.online_operator(&live.acme, "Olga").await;
    let (status, _) = p
        .upload_as(&olga.token, b"\0asm".to_vec(), "application/wasm")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, list) = live
        .call(
            Method::GET,
            "/api/v1/admin/plugins",
            Some(&live.acme.admin_token),
            None,
        )
        .await;
    assert_eq!(list["plugins"], json!([]));
}

async fn authors_check_and_run_plugins_from_the_command_line(p: Plugged) {
    let env = &p.live.env;
    let out = env
        .run(&["plugin", "check", &guest_path("business_hours")])
        .await;
    assert!(out.status.success(), "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(
        report["manifest"]["hooks"],
        json!(["availability", "offline_request", "offline_timeout"])
    );
    assert_eq!(report["manifest"]["world"], "0.2.0");

    let tuesday_10am_moscow = json!({
        "tenant_id": "t", "tenant_slug": "acme", "chat_id": "c",
        "visitor": {"id": "v"}, "tenant_timeout_secs": 300, "now_ms": 1_795_503_600_000_i64,
    });
    let run = |hook: &'static str, input: String, settings: Option<Value>| {
        let mut args = vec![
            "plugin".to_owned(),
            "run".to_owned(),
            guest_path("business_hours"),
            hook.to_owned(),
            "--input".to_owned(),
            input,
        ];
        if let Some(settings) = settings {
            args.extend(["--settings".to_owned(), settings.to_string()]);
        }
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            env.run(&args).await
        }
    };
    // The schema's defaults, unless settings are given; settings the schema refuses are
    // refused here as the server would.
    let out = run("offline_timeout", tuesday_10am_moscow.to_string(), None).await;
    assert!(out.status.success(), "{}", out.stderr);
    let answer: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(answer["answer"], 120);
    let mut settings = json!({
        "time_zone": "America/New_York", "opens": 9, "closes": 17,
        "working_days": ["mon", "tue", "wed", "thu", "fri"],
        "working_timeout_minutes": 5, "off_hours_timeout_minutes": 60,
        "closed_message": "Closed until nine, New York time.",
    });
    let out = run(
        "offline_timeout",
        tuesday_10am_moscow.to_string(),
        Some(settings.clone()),
    )
    .await;
    assert!(out.status.success(), "{}", out.stderr);
    let answer: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(answer["answer"], 3600, "02:00 in New York");
    settings["opens"] = json!(30);
    let out = run(
        "offline_timeout",
        tuesday_10am_moscow.to_string(),
        Some(settings),
    )
    .await;
    assert!(!out.status.success());
    assert!(out.stderr.contains("/opens"), "{}", out.stderr);

    // Each hook has a fixture to start from.
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../plugins/fixtures/availability.json"
    );
    let out = env
        .run(&[
            "plugin",
            "run",
            &guest_path("business_hours"),
            "availability",
            "--fixture",
            fixture,
        ])
        .await;
    assert!(out.status.success(), "{}", out.stderr);
    let answer: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(
        answer["answer"],
        Value::Null,
        "open on Tuesday morning in Moscow"
    );

    let looping = json!({
        "tenant_id": "t", "tenant_slug": "acme", "chat_id": "c",
        "visitor": {"id": "v", "name": "loop"}, "tenant_timeout_secs": 300, "now_ms": 0,
    });
    let out = env
        .run(&[
            "plugin",
            "run",
            &guest_path("hostile"),
            "offline_timeout",
            "--input",
            &looping.to_string(),
        ])
        .await;
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("ran past its time limit of 50 ms"),
        "{}",
        out.stderr
    );

    let out = env.run(&["plugin", "check", "/etc/hostname"]).await;
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("is not a valid plugin"),
        "{}",
        out.stderr
    );
}

async fn the_channel_router_posts_to_a_real_receiver_signed(p: Plugged) {
    router_posts_to_a_real_receiver_signed(p, "channel_router").await;
}

/// An offline request at night: the channel router posts the alert, signed, to the team's chat
/// and the operators are alerted as well; a plugin that would send it where the tenant did not
/// allow is refused, and the operators are alerted as if it had no opinion.
async fn alerts_go_where_a_plugin_routes_them_signed(p: Plugged) {
    alerts_routed_signed(p, "channel_router").await;
}

/// The JavaScript channel router routes alerts as the Rust one does.
async fn the_javascript_router_routes_alerts_like_the_rust_one(p: Plugged) {
    alerts_routed_signed(p, "channel_router_js").await;
}

async fn alerts_routed_signed(p: Plugged, router: &str) {
    let live = &p.live;
    let receiver = Receiver::start().await;
    for (company, path) in [(&live.acme, "/acme"), (&live.globex, "/globex")] {
        live.update_settings(company, json!({"webhook_urls": [receiver.url(path)]}))
            .await;
    }
    p.install(&live.acme, router).await;
    let hostile = p.install_hostile(&live.globex).await;
    let mut acme_desk = live.operator_socket(&live.acme.admin_token).await;
    let vera = live.visitor(&live.acme).await;
    let chat = live
        .offline_request(&vera, "Vera", "vera@example.org", "Do you ship to Oslo?")
        .await;
    // The router keeps Tandem's own alert beside the post.
    let alert = acme_desk.expect("operator.alert").await;
    assert_eq!(alert["alert"]["chat_id"], chat.as_str());
    let posts = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    let post = &posts[0];
    assert_eq!(post.path, "/acme");
    let body: Value = serde_json::from_slice(&post.body).expect("a JSON body");
    assert_eq!(body["chat_id"], chat.as_str());
    assert_eq!(
        body["text"],
        format!(
            "Vera left an offline request: \"Do you ship to Oslo?\" https://chat.example.com/app#chat={chat}"
        )
    );
    let secret = live.webhook_secret(&live.acme).await;
    assert_eq!(
        post.header("x-tandem-signature"),
        Some(expected_signature(&secret, &post.body).as_str())
    );

    // Globex's hostile plugin would post its alert to a cloud metadata address.
    let mut globex_desk = live.operator_socket(&live.globex.admin_token).await;
    let stealer = live.visitor(&live.globex).await;
    let stolen = live
        .offline_request(&stealer, "stealer", "stealer@example.org", "Hello?")
        .await;
    let alert = globex_desk.expect("operator.alert").await;
    assert_eq!(
        alert["alert"]["chat_id"],
        stolen.as_str(),
        "alerted all the same"
    );
    // The refusal is the plugin's failure, in its log.
    let refused = |l: &Value| mentions(l, "not among the tenant's webhook URLs");
    assert!(p.log_has(&live.globex, &hostile, refused).await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let posts = receiver.requests();
    assert_eq!(posts.len(), 1, "nothing posted for Globex: {posts:?}");
}

/// The JavaScript twin of the channel router, through the server as the Rust one.
async fn the_javascript_channel_router_posts_like_the_rust_one(p: Plugged) {
    router_posts_to_a_real_receiver_signed(p, "channel_router_js").await;
}

async fn router_posts_to_a_real_receiver_signed(p: Plugged, router: &str) {
    let live = &p.live;
    let receiver = Receiver::start().await;
    let quiet = json!({"offline_timeout_secs": 300, "presence_grace_secs": 0});
    for (company, path) in [(&live.acme, "/acme"), (&live.globex, "/globex")] {
        p.live.update_settings(company, quiet.clone()).await;
        p.live
            .update_settings(company, json!({"webhook_urls": [receiver.url(path)]}))
            .await;
        // Hostile first, for its 1 s timeout; it has no opinion on routes.
        let (status, body) = p
            .upload(company, guest("hostile"), "application/wasm")
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // Only Acme routes its batches to its team's chat.
    let (status, body) = p
        .upload(&live.acme, guest(router), "application/wasm")
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let olga = live.online_operator(&live.acme, "Olga").await;
    let gus = live.online_operator(&live.globex, "Gus").await;
    let chat = p.unread_reply(&live.acme, &olga, "Fedor").await;
    let semion_chat = p.unread_reply(&live.globex, &gus, "Semion").await;
    // A colleague's note in Fedor's dialog goes to neither the plugin nor the visitor.
    let (status, body) = live
        .call(
            Method::POST,
            &format!("/api/v1/chats/{chat}/notes"),
            Some(&olga.token),
            Some(json!({"body": "NOTE-7731: he called twice"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let fedor_mails = p
        .mails_to("fedor@example.org", Duration::from_secs(15))
        .await;
    assert_eq!(fedor_mails.len(), 1, "the router keeps the email");
    assert!(!fedor_mails[0].contains("NOTE-7731"), "{}", fedor_mails[0]);
    assert_eq!(
        p.mails_to("semion@example.org", Duration::from_secs(15))
            .await
            .len(),
        1
    );
    let posts = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    let post = &posts[0];
    assert_eq!(post.path, "/acme", "Globex's batch is not routed");
    let body: Value = serde_json::from_slice(&post.body).expect("a JSON body");
    assert_eq!(body["chat_id"], chat.as_str());
    assert!(
        body["text"].as_str().is_some_and(|t| t.contains("Fedor")),
        "{body}"
    );
    // The signature checks out with Acme's secret, and with no other tenant's.
    let secret = live.webhook_secret(&live.acme).await;
    let secret = secret.as_str();
    assert_eq!(
        post.header("x-tandem-signature"),
        Some(expected_signature(secret, &post.body).as_str())
    );
    let (_, theirs) = live
        .call(
            Method::GET,
            "/api/v1/admin/webhook-secret",
            Some(&live.globex.admin_token),
            None,
        )
        .await;
    assert_ne!(theirs["secret"].as_str(), Some(secret));
    let (status, _) = live
        .call(
            Method::GET,
            "/api/v1/admin/webhook-secret",
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "operators do not see it");

    // The delivery log shows both channels.
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let log = p.delivery_log(&live.acme).await;
        let sent = |channel: &str| {
            log.iter()
                .any(|l| l["channel"] == channel && l["status"] == "sent")
        };
        if sent("email") && sent("webhook") {
            let hook = log.iter().find(|l| l["channel"] == "webhook").unwrap();
            assert_eq!(hook["recipient"], receiver.url("/acme").as_str());
            break;
        }
        assert!(tokio::time::Instant::now() < until, "{log:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        p.delivery_log(&live.globex)
            .await
            .iter()
            .all(|l| l["channel"] == "email")
    );

    // Closing the dialog sums it up in the team's chat, signed the same way; Globex's close
    // posts nothing.
    let (status, body) = live
        .call(
            Method::POST,
            &format!("/api/v1/chats/{chat}/close"),
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = live
        .call(
            Method::POST,
            &format!("/api/v1/chats/{semion_chat}/close"),
            Some(&gus.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let posts = receiver.wait_for(2, Duration::from_secs(15)).await;
    assert_eq!(posts.len(), 2, "{posts:?}");
    let summary = &posts[1];
    assert_eq!(summary.path, "/acme");
    let body: Value = serde_json::from_slice(&summary.body).expect("a JSON body");
    assert_eq!(
        body["text"],
        format!("Olga closed chat {chat} after 2 messages (not rated).").as_str()
    );
    assert_eq!(
        summary.header("x-tandem-signature"),
        Some(expected_signature(secret, &summary.body).as_str())
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.requests().len(), 2, "nothing for Globex's close");
    for post in receiver.requests() {
        let text = String::from_utf8_lossy(&post.body);
        assert!(
            !text.contains("NOTE-7731"),
            "a note reached the plugin: {text}"
        );
    }
}

async fn routes_a_tenant_did_not_allow_are_refused_and_the_mail_goes(p: Plugged) {
    let live = &p.live;
    let receiver = Receiver::start().await;
    p.live
        .update_settings(
            &live.acme,
            json!({"offline_timeout_secs": 300, "presence_grace_secs": 0,
               "webhook_urls": [receiver.url("/team")]}),
        )
        .await;
    let id = p.install_hostile(&live.acme).await;
    let olga = live.online_operator(&live.acme, "Olga").await;
    // One routes to the cloud's metadata service, the other mails a stranger.
    p.unread_reply(&live.acme, &olga, "stealer").await;
    p.unread_reply(&live.acme, &olga, "spammer").await;

    for visitor in ["stealer@example.org", "spammer@example.org"] {
        assert_eq!(
            p.mails_to(visitor, Duration::from_secs(15)).await.len(),
            1,
            "{visitor} still gets the default email"
        );
    }
    assert!(
        p.mails_to("elsewhere.example", Duration::from_secs(1))
            .await
            .is_empty()
    );
    assert!(receiver.requests().is_empty());
    assert!(
        p.delivery_log(&live.acme)
            .await
            .iter()
            .all(|l| l["channel"] == "email")
    );
    for refusal in [
        "which is not among the tenant's webhook URLs",
        "which is not the visitor's address",
    ] {
        assert!(
            p.log_has(&live.acme, &id, |l| l["hook"] == "route_notification"
                && mentions(l, refusal))
                .await,
            "{refusal}"
        );
    }
    // Each refusal counted against the plugin (its timeout calls, which succeed, reset the run).
    let plugin = p.plugin(&live.acme, &id).await;
    assert!(
        plugin["consecutive_failures"].as_u64() >= Some(1),
        "{plugin}"
    );
}

/// Templates that recurse, explode, nest past the parser's stack or print raw visitor HTML
/// would abort (or stall) a server that rendered them: each is refused, counted as the plugin's
/// failure, and the visitor gets the built-in mail. The server is still up for the next one.
async fn plugin_templates_that_would_crash_the_server_fall_back_and_count(p: Plugged) {
    let live = &p.live;
    let id = p.install_hostile(&live.acme).await;
    let olga = live.online_operator(&live.acme, "Olga").await;
    for how in ["partials", "eachbomb", "deepif", "rawhtml"] {
        p.unread_reply(&live.acme, &olga, how).await;
        let address = format!("{how}@example.org");
        let mails = p.mails_to(&address, Duration::from_secs(15)).await;
        assert_eq!(mails.len(), 1, "{how}");
        assert!(mails[0].contains("It ships today."), "{how}: {}", mails[0]);
        assert!(!mails[0].contains("Hostile says hello"), "{how}");
    }
    assert!(
        p.log_has(&live.acme, &id, |l| l["hook"] == "email_template"
            && mentions(
                l,
                "inline partials ({{* }}, {{#* }}) are not allowed"
            ))
        .await
    );
    assert!(
        p.log_has(&live.acme, &id, |l| mentions(l, "triple stash"))
            .await
    );
    // Each refusal is one of the plugin's failures (its other hooks answered in between).
    let log = p
        .admin_get(&live.acme, &format!("/api/v1/admin/plugins/{id}/logs"))
        .await;
    let refused = log["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .filter(|l| l["hook"] == "email_template" && l["level"] == "error")
        .count();
    assert_eq!(refused, 4, "{log:#}");
    let (status, _) = live.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
}

/// A guest blocked inside a WASI call (a clock's pollable) is out of reach of the epoch
/// deadline; the host's own timeout stops it, counts it, and the defaults carry the mail.
async fn a_plugin_sleeping_inside_wasi_is_cut_off_and_counted(p: Plugged) {
    let live = &p.live;
    live.update_settings(
        &live.acme,
        json!({"offline_timeout_secs": 1, "presence_grace_secs": 0}),
    )
    .await;
    let id = p.install_hostile(&live.acme).await;
    let olga = live.online_operator(&live.acme, "Olga").await;
    p.unread_reply(&live.acme, &olga, "sleep").await;
    let mails = p
        .mails_to("sleep@example.org", Duration::from_secs(20))
        .await;
    assert_eq!(mails.len(), 1);
    assert!(!mails[0].contains("Hostile says hello"), "{}", mails[0]);
    // The timeout hook, the template hook and the routing hook each ran into the deadline.
    assert!(
        p.log_has(&live.acme, &id, |l| l["hook"] == "offline_timeout"
            && mentions(l, "ran past its time limit of 50 ms"))
            .await
    );
    let plugin = p.plugin(&live.acme, &id).await;
    assert_eq!(plugin["consecutive_failures"], 3, "{plugin}");
    // The platform operator sees it per tenant.
    let metrics = live.metrics().await;
    let deadline = format!(
        "tandem_plugin_calls_total{{tenant=\"{}\",hook=\"offline_timeout\",outcome=\"deadline\"}} 1",
        live.acme.id
    );
    assert!(metrics.contains(&deadline), "{metrics}");
    let compiled = format!(
        "tandem_plugin_compilations_total{{tenant=\"{}\",outcome=\"ok\"}} 1",
        live.acme.id
    );
    assert!(metrics.contains(&compiled), "{metrics}");
}

/// An upload whose manifest call never returns, or whose code costs too much to compile, is
/// refused with the reason, within its budget, and nothing is stored.
async fn uploads_that_hang_or_cost_too_much_to_compile_are_refused(p: Plugged) {
    let live = &p.live;
    let (status, body) = p
        .upload(&live.acme, guest("sleepy"), "application/wasm")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().expect("a message");
    assert!(message.contains("ran past its time limit"), "{message}");

    let (status, body) = p
        .upload(
            &live.acme,
            guests::expensive_to_compile(),
            "application/wasm",
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().expect("a message");
    assert!(message.contains("too expensive to compile"), "{message}");

    let list = p.admin_get(&live.acme, "/api/v1/admin/plugins").await;
    assert_eq!(list["plugins"], json!([]));
    let (status, _) = live.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
}

/// An author starts a plugin with `tandem plugin new`, in Rust or in JavaScript: it builds as it
/// is, passes the upload's checks, and its hook answers from its settings.
#[tokio::test]
async fn a_plugin_started_with_plugin_new_builds_checks_and_runs() {
    for lang in ["rust", "js"] {
        let dir = tempfile::tempdir().expect("a temp dir");
        let wasm = scaffold_and_build(lang, dir.path());
        let wasm = wasm.to_str().expect("a path");
        let report = tandem_json(&["plugin", "check", wasm]);
        assert_eq!(report["manifest"]["name"], "welcome-note", "{lang}");
        assert_eq!(report["manifest"]["hooks"], json!(["offline_request"]));
        let fixture = dir
            .path()
            .join("welcome-note/fixtures/offline_request.json");
        let fixture = fixture.to_str().expect("a path");
        let run = [
            "plugin",
            "run",
            wasm,
            "offline_request",
            "--fixture",
            fixture,
        ];
        let answer = tandem_json(&run);
        assert_eq!(
            answer["answer"]["auto_reply"], "Thank you, Fedor. We will answer by email soon.",
            "{lang}"
        );
        let settings = r#"{"auto_reply": "Hi {name}, back at nine."}"#;
        let answer = tandem_json(&[&run[..], &["--settings", settings]].concat());
        assert_eq!(
            answer["answer"]["auto_reply"], "Hi Fedor, back at nine.",
            "{lang}"
        );
    }
}

/// `tandem plugin new welcome-note --lang LANG` in `dir`, built as its README says, without the
/// network: Rust reuses the guests' compiled dependencies (the examples' lock file pins them),
/// JavaScript the componentize-js that `scripts/build-plugins` installed.
fn scaffold_and_build(lang: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["plugin", "new", "welcome-note", "--lang", lang, "--dir"])
        .arg(dir)
        .output()
        .expect("tandem runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let project = dir.join("welcome-note");
    let plugins = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins");
    let guests = guest_path("x");
    let target = std::path::Path::new(&guests)
        .ancestors()
        .nth(3)
        .expect("the guests' target folder");
    let (mut build, wasm) = if lang == "rust" {
        std::fs::copy(
            format!("{plugins}/examples/Cargo.lock"),
            project.join("Cargo.lock"),
        )
        .expect("copy");
        let mut cargo =
            std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()));
        cargo
            .args(["build", "--release", "--offline"])
            .env("CARGO_TARGET_DIR", target);
        (
            cargo,
            target.join("wasm32-wasip2/release/welcome_note.wasm"),
        )
    } else {
        std::os::unix::fs::symlink(
            format!("{plugins}/examples-js/node_modules"),
            project.join("node_modules"),
        )
        .expect("link node_modules");
        let mut npm = std::process::Command::new("npm");
        npm.args(["run", "build", "--silent"]);
        (npm, project.join("welcome-note.wasm"))
    };
    let out = build
        .current_dir(&project)
        .output()
        .expect("the build runs");
    assert!(
        out.status.success(),
        "{lang}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    wasm
}

/// `tandem ARGS`, which must succeed, and the JSON it prints.
fn tandem_json(args: &[&str]) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(args)
        .env("TANDEM_DATABASE_URL", "sqlite::memory:")
        .env("TANDEM_PLUGIN_CACHE_DIR", compiled_cache_dir())
        // A JavaScript plugin takes seconds to compile in a debug build, more on a busy machine.
        .env("TANDEM_PLUGIN_COMPILE_SECS", "120")
        .output()
        .expect("tandem runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}: {stderr}");
    serde_json::from_slice::<Value>(&out.stdout).expect("JSON")
}

/// Tuesday 2026-11-24, 10:00 in Moscow: within the business-hours example's default hours.
const TUESDAY_MORNING_MOSCOW: i64 = 1_795_503_600_000;

/// Acme runs the business-hours plugin as it was built for world 0.1.0 (hours in constants),
/// Globex today's, built for 0.2.0 with its hours in settings. Each tenant's unread reply waits
/// as its own plugin says, on a clock the test moves.
async fn plugins_of_both_worlds_run_side_by_side_each_with_its_settings(db: TestDatabase) {
    let smtp = SmtpSink::start().await;
    let url = smtp.url();
    let (live, clock) = Live::on_clock_at(
        db,
        &[("TANDEM_SMTP_URL", &url), ("TANDEM_SWEEP_EVERY_SECS", "1")],
        Timestamp::from_millis(TUESDAY_MORNING_MOSCOW),
    )
    .await;
    let p = Plugged { live, smtp };
    let live = &p.live;

    let (status, old) = p
        .upload(
            &live.acme,
            guest("business_hours_v0_1_0"),
            "application/wasm",
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{old}");
    assert_eq!(old["world"], "0.1.0");
    assert_eq!(old["settings_schema"], Value::Null);
    assert_eq!(old["settings"], json!({}));
    let (status, new) = p
        .upload(&live.globex, guest("business_hours"), "application/wasm")
        .await;
    assert_eq!(status, StatusCode::CREATED, "{new}");
    assert_eq!(new["world"], "0.2.0");
    assert_eq!(new["enabled"], true, "its defaults satisfy its schema");
    assert_eq!(new["settings"]["working_timeout_minutes"], 2);
    assert_eq!(new["settings"]["time_zone"], "Europe/Moscow");
    assert_eq!(new["settings_schema"]["properties"]["opens"]["maximum"], 23);
    let new_id = new["id"].as_str().expect("an id").to_owned();

    // Settings the schema refuses change nothing, and each problem is named by its place.
    let mut refused = new["settings"].clone();
    refused["opens"] = json!(30);
    refused["colour"] = json!("blue");
    let (status, body) = live
        .save_plugin_settings(&live.globex.admin_token, &new_id, refused)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("/opens"), "{body}");
    assert!(message.contains("colour"), "{body}");
    for bad in [json!([1, 2]), json!("text")] {
        let (status, body) = live
            .save_plugin_settings(&live.globex.admin_token, &new_id, bad)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    // Another tenant's admin cannot see or set them; a plugin without settings takes none.
    let (status, _) = live
        .save_plugin_settings(&live.acme.admin_token, &new_id, new["settings"].clone())
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let old_id = old["id"].as_str().unwrap();
    let (status, body) = live
        .save_plugin_settings(&live.acme.admin_token, old_id, json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        p.plugin(&live.globex, &new_id).await["settings"],
        new["settings"]
    );

    let mut settings = new["settings"].clone();
    settings["working_timeout_minutes"] = json!(3);
    let (status, saved) = live
        .save_plugin_settings(&live.globex.admin_token, &new_id, settings)
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["settings"]["working_timeout_minutes"], 3);
    assert!(
        p.log_has(&live.globex, &new_id, |l| mentions(l, "settings saved"))
            .await
    );
    // Globex's trail has its plugin's upload and settings, refused saves left nothing, and
    // Acme's trail has only its own plugin.
    let trail = |company: &Company| {
        let token = company.admin_token.clone();
        async move {
            let (status, body) = live
                .call(Method::GET, "/api/v1/admin/audit", Some(&token), None)
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["entries"].as_array().cloned().unwrap_or_default()
        }
    };
    let theirs = trail(&live.globex).await;
    let actions: Vec<_> = theirs
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "plugin_settings_saved",
            "plugin_installed",
            "tenant_created"
        ]
    );
    assert_eq!(theirs[0]["target"]["id"], new_id.as_str());
    assert_eq!(
        theirs[0]["before"],
        json!({ "settings": { "working_timeout_minutes": 2 } })
    );
    assert_eq!(
        theirs[0]["after"],
        json!({ "settings": { "working_timeout_minutes": 3 } })
    );
    assert_eq!(theirs[1]["after"]["sha256"], new["sha256"]);
    let ours = trail(&live.acme).await;
    assert!(ours.iter().all(|e| e["tenant_id"] == live.acme.id.as_str()));
    assert_eq!(ours[0]["target"]["id"], old["id"]);

    let olga = live.online_operator(&live.acme, "Olga").await;
    let gleb = live.online_operator(&live.globex, "Gleb").await;
    p.unread_reply(&live.acme, &olga, "Anna").await;
    p.unread_reply(&live.globex, &gleb, "Boris").await;

    let sent_within = |address: &'static str| {
        let p = &p;
        async move {
            !p.mails_to(address, Duration::from_millis(2500))
                .await
                .is_empty()
        }
    };
    clock.advance(Duration::from_secs(2 * 60 - 1));
    assert!(
        !sent_within("anna@example.org").await,
        "mailed before 2 min"
    );
    clock.advance(Duration::from_secs(1));
    assert!(
        !p.mails_to("anna@example.org", Duration::from_secs(10))
            .await
            .is_empty(),
        "the 0.1.0 plugin's 2 minutes"
    );
    assert!(
        !sent_within("boris@example.org").await,
        "Globex's settings say 3 minutes"
    );
    clock.advance(Duration::from_secs(60));
    assert!(
        !p.mails_to("boris@example.org", Duration::from_secs(10))
            .await
            .is_empty(),
        "the 0.2.0 plugin's 3 minutes, from its settings"
    );
}

/// Tuesday 2026-11-24, 23:00 in Moscow: outside the business-hours example's default hours.
const TUESDAY_NIGHT_MOSCOW: i64 = TUESDAY_MORNING_MOSCOW + 13 * 3_600_000;

/// At night by its settings, the business-hours plugin has the widget show the offline form
/// (with its message) even though an operator is online, answers an offline request at once,
/// tags it and assigns it to the operator its settings name. A plugin naming an operator the
/// tenant does not have changes nothing and hears of it.
async fn after_hours_the_widget_offers_the_form_and_requests_are_answered(db: TestDatabase) {
    let (live, _clock) =
        Live::on_clock_at(db, &[], Timestamp::from_millis(TUESDAY_NIGHT_MOSCOW)).await;
    let smtp = SmtpSink::start().await;
    let p = Plugged { live, smtp };
    let live = &p.live;
    let olga = live.online_operator(&live.acme, "Olga").await;
    let visitor = live.visitor(&live.acme).await;
    let config_path = format!("/api/v1/widget/{}/config", live.acme.widget_key);
    let (_, config) = live.call(Method::GET, &config_path, None, None).await;
    assert_eq!(
        config["operators_available"], true,
        "no plugin yet: Olga is there"
    );
    assert_eq!(config["recheck_after_secs"], Value::Null);

    let (status, plugin) = p
        .upload(&live.acme, guest("business_hours"), "application/wasm")
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plugin}");
    let mut settings = plugin["settings"].clone();
    settings["closed_message"] = json!("Closed for the night; we open at nine.");
    settings["after_hours_operator"] = json!("olga@acme.example.com");
    let id = plugin["id"].as_str().unwrap();
    let (status, body) = live
        .save_plugin_settings(&live.acme.admin_token, id, settings)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (_, config) = live.call(Method::GET, &config_path, None, None).await;
    assert_eq!(config["operators_available"], false, "{config}");
    assert_eq!(
        config["availability_message"],
        "Closed for the night; we open at nine."
    );
    assert_eq!(config["recheck_after_secs"], 60);
    // Globex has no plugin: its widget is not touched.
    let globex_config = format!("/api/v1/widget/{}/config", live.globex.widget_key);
    let (_, config) = live.call(Method::GET, &globex_config, None, None).await;
    assert_eq!(config["availability_message"], Value::Null);

    let chat_id = live
        .offline_request(
            &visitor,
            "Vera",
            "vera@example.org",
            "Do you ship to Kazan?",
        )
        .await;
    let (status, dialog) = live
        .call(
            Method::GET,
            &format!("/api/v1/chats/{chat_id}"),
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dialog}");
    let messages = dialog["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2, "{dialog:#}");
    assert_eq!(messages[0]["author"], "visitor");
    assert_eq!(messages[1]["author"], "system");
    assert_eq!(
        messages[1]["body"],
        "Thank you, we have your message. We are back at 09:00 (Europe/Moscow) and will answer by email."
    );
    let chat = &dialog["chat"];
    assert_eq!(chat["tags"], json!(["after-hours"]));
    assert_eq!(chat["operator_id"], olga.id.as_str());
    assert_eq!(chat["unanswered"], true, "a person has yet to answer");
    // The visitor sees the automatic answer in their dialog.
    let (status, own) = live
        .visitor_call(&visitor, Method::GET, "/chat", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["messages"].as_array().map(Vec::len), Some(2), "{own:#}");

    // Globex's hostile plugin assigns a request to someone Globex does not employ: the request
    // is kept as it came, nothing of the answer is applied, and the plugin's log says why.
    let id = p.install_hostile(&live.globex).await;
    let stranger = live.visitor(&live.globex).await;
    let chat_id = live
        .offline_request(&stranger, "assigner", "a@example.org", "Hello?")
        .await;
    let (_, dialog) = live
        .call(
            Method::GET,
            &format!("/api/v1/chats/{chat_id}"),
            Some(&live.globex.admin_token),
            None,
        )
        .await;
    assert_eq!(
        dialog["messages"].as_array().map(Vec::len),
        Some(1),
        "{dialog:#}"
    );
    assert_eq!(dialog["chat"]["operator_id"], Value::Null);
    assert_eq!(dialog["chat"]["tags"], json!([]));
    assert!(
        p.log_has(&live.globex, &id, |l| l["level"] == "error"
            && mentions(l, "not an active operator of this tenant"))
            .await
    );
}

/// A plugin is tried before it is enabled: Acme's business-hours plugin, uploaded and switched
/// off, runs on Acme's real recent cases — the offline request sent at night, the reply mailed
/// when it went unread, the widget now — and the trial shows what it would have answered, what
/// Tandem would have done and how long it took, with each hook's input. Nothing happens: the
/// request gets no answer, tag or operator, no mail goes, nothing is logged or counted, the
/// plugin stays off. Globex's hostile plugin is tried on Globex's cases only: an answer Tandem
/// would refuse and a call that runs out of time are shown as such, and not counted. Another
/// tenant's admin and a mere operator cannot try a plugin.
async fn a_plugin_is_tried_on_recent_cases_and_nothing_happens(db: TestDatabase) {
    let smtp = SmtpSink::start().await;
    let url = smtp.url();
    let (live, clock) = Live::on_clock_at(
        db,
        &[
            ("TANDEM_SMTP_URL", &url),
            ("TANDEM_SWEEP_EVERY_SECS", "1"),
            ("TANDEM_SOCKET_TIMEOUT_SECS", "60"),
        ],
        Timestamp::from_millis(TUESDAY_NIGHT_MOSCOW),
    )
    .await;
    let p = Plugged { live, smtp };
    let live = &p.live;
    let olga = live.online_operator(&live.acme, "Olga").await;

    // Acme's recent cases, with no plugin yet.
    let vera = live.visitor(&live.acme).await;
    let request_chat = live
        .offline_request(&vera, "Vera", "vera@example.org", "Do you ship to Kazan?")
        .await;
    let request_at = TUESDAY_NIGHT_MOSCOW;
    let anna_chat = p.unread_reply(&live.acme, &olga, "Anna").await;
    let (status, body) = live
        .call(
            Method::POST,
            &format!("/api/v1/chats/{anna_chat}/notes"),
            Some(&olga.token),
            Some(json!({"body": "NOTE-7731: she is a reseller"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    clock.advance(Duration::from_secs(5 * 60));
    assert_eq!(
        p.mails_to("anna@example.org", Duration::from_secs(10))
            .await
            .len(),
        1
    );

    let (status, plugin) = p
        .upload(&live.acme, guest("business_hours"), "application/wasm")
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plugin}");
    let id = plugin["id"].as_str().expect("an id").to_owned();
    let mut settings = plugin["settings"].clone();
    settings["after_hours_operator"] = json!("olga@acme.example.com");
    let (status, body) = live
        .save_plugin_settings(&live.acme.admin_token, &id, settings)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = live
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/plugins/{id}"),
            Some(&live.acme.admin_token),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let log_before = p
        .admin_get(&live.acme, &format!("/api/v1/admin/plugins/{id}/logs"))
        .await;
    let deliveries_before = p.delivery_log(&live.acme).await.len();

    let trial_path = format!("/api/v1/admin/plugins/{id}/trial");
    let (status, trial) = live
        .call(
            Method::POST,
            &trial_path,
            Some(&live.acme.admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{trial}");
    assert!(
        !trial.to_string().contains("NOTE-7731"),
        "a note is no plugin's input: {trial:#}"
    );
    let runs = trial["runs"].as_array().expect("runs").clone();
    let run_of = |hook: &str| {
        runs.iter()
            .find(|r| r["hook"] == hook)
            .unwrap_or_else(|| panic!("no {hook} run in {trial:#}"))
            .clone()
    };
    let request = run_of("offline_request");
    assert_eq!(request["outcome"], "answered", "{request:#}");
    assert_eq!(request["chat_id"], request_chat.as_str());
    assert_eq!(
        request["case"],
        "Offline request from Vera: “Do you ship to Kazan?”"
    );
    let effect = request["effect"].as_str().expect("an effect");
    assert!(
        effect.starts_with("answer “Thank you, we have your message."),
        "{effect}"
    );
    assert!(
        effect.ends_with("tag after-hours; assign to olga@acme.example.com"),
        "{effect}"
    );
    // The input is what the hook was told then, and what `tandem plugin run` takes.
    let input = &request["input"];
    assert_eq!(input["context"]["now_ms"], request_at);
    assert_eq!(input["context"]["chat_id"], request_chat.as_str());
    assert_eq!(input["request"]["email"], "vera@example.org");
    assert_eq!(input["request"]["message"], "Do you ship to Kazan?");
    let told: Value = serde_json::from_str(input["context"]["settings"].as_str().unwrap()).unwrap();
    assert_eq!(told["after_hours_operator"], "olga@acme.example.com");
    assert_eq!(request["answer"]["tags"], json!(["after-hours"]));
    assert!(request["elapsed_ms"].as_f64().unwrap() > 0.0);
    assert!(request["instantiation_ms"].as_f64().is_some());

    let widget = run_of("availability");
    assert_eq!(widget["outcome"], "answered", "{widget:#}");
    assert!(
        widget["effect"]
            .as_str()
            .unwrap()
            .starts_with("the widget shows the offline form, saying"),
        "{widget:#}"
    );
    assert!(
        widget["case"]
            .as_str()
            .unwrap()
            .contains("1 operator online"),
        "{widget:#}"
    );
    let timeout = run_of("offline_timeout");
    assert_eq!(timeout["chat_id"], anna_chat.as_str(), "{timeout:#}");
    assert_eq!(timeout["outcome"], "answered", "{timeout:#}");
    assert!(
        timeout["effect"]
            .as_str()
            .unwrap()
            .starts_with("mail unread replies after "),
        "{timeout:#}"
    );
    assert_eq!(
        trial["untried"],
        json!([]),
        "it implements nothing without a case"
    );

    // Nothing happened.
    let dialog = live.dialog(&olga.token, &request_chat).await;
    assert_eq!(
        dialog["messages"].as_array().map(Vec::len),
        Some(1),
        "{dialog:#}"
    );
    assert_eq!(dialog["chat"]["tags"], json!([]));
    assert_eq!(dialog["chat"]["operator_id"], Value::Null);
    let after = p.plugin(&live.acme, &id).await;
    assert_eq!(after["enabled"], false);
    assert_eq!(after["consecutive_failures"], 0);
    assert_eq!(
        p.admin_get(&live.acme, &format!("/api/v1/admin/plugins/{id}/logs"))
            .await,
        log_before
    );
    assert_eq!(p.delivery_log(&live.acme).await.len(), deliveries_before);
    assert_eq!(
        p.mails_to("anna@example.org", Duration::ZERO).await.len(),
        1
    );

    // Only Acme's admins may try Acme's plugin.
    let (status, _) = live
        .call(
            Method::POST,
            &trial_path,
            Some(&live.globex.admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = live
        .call(Method::POST, &trial_path, Some(&olga.token), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Globex's own cases, one of them the visitor the hostile plugin loops for, and a closed
    // chat whose summary it would post where Globex did not allow.
    let mut globex_workspace = live.operator_socket(&live.globex.admin_token).await;
    for name in ["assigner", "loop", "stealer"] {
        let visitor = live.visitor(&live.globex).await;
        let chat = live
            .offline_request(&visitor, name, &format!("{name}@example.org"), "Hello?")
            .await;
        if name == "stealer" {
            let (status, body) = live
                .call(
                    Method::POST,
                    &format!("/api/v1/chats/{chat}/close"),
                    Some(&live.globex.admin_token),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
    // Their alerts went out before the plugin came: only the trial calls it.
    for _ in 0..3 {
        globex_workspace.expect("operator.alert").await;
    }
    let hostile = p.install_hostile(&live.globex).await;
    let (status, trial) = live
        .call(
            Method::POST,
            &format!("/api/v1/admin/plugins/{hostile}/trial"),
            Some(&live.globex.admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{trial}");
    let requests: Vec<&Value> = trial["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter(|r| r["hook"] == "offline_request")
        .collect();
    assert_eq!(requests.len(), 3, "Globex's requests only: {trial:#}");
    let by = |name: &str| {
        requests
            .iter()
            .find(|r| r["input"]["request"]["name"] == name)
            .unwrap_or_else(|| panic!("no request of {name}"))
    };
    assert_eq!(by("assigner")["outcome"], "refused", "{trial:#}");
    assert!(
        by("assigner")["effect"]
            .as_str()
            .unwrap()
            .contains("not an active operator of this tenant"),
        "{trial:#}"
    );
    assert_eq!(by("loop")["outcome"], "failed", "{trial:#}");
    let untried: Vec<&str> = trial["untried"]
        .as_array()
        .expect("untried")
        .iter()
        .filter_map(|u| u["hook"].as_str())
        .collect();
    assert_eq!(
        untried,
        ["offline_timeout", "email_template", "route_notification"],
        "Globex delivered no unread replies: {trial:#}"
    );
    // Each request's alert too: the stealer's would go where Globex did not allow.
    let alerts: Vec<&Value> = trial["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter(|r| r["hook"] == "operator_alert")
        .collect();
    assert_eq!(alerts.len(), 3, "{trial:#}");
    let alert_of = |name: &str| {
        alerts
            .iter()
            .find(|r| r["input"]["context"]["visitor"]["name"] == name)
            .unwrap_or_else(|| panic!("no alert of {name}: {trial:#}"))
    };
    let stolen = alert_of("stealer");
    assert_eq!(stolen["outcome"], "failed", "{stolen:#}");
    assert!(
        stolen["effect"]
            .as_str()
            .unwrap()
            .contains("not among the tenant's webhook URLs"),
        "{stolen:#}"
    );
    assert_eq!(stolen["case"], "stealer left an offline request: “Hello?”");
    assert_eq!(alert_of("loop")["outcome"], "failed", "{trial:#}");
    let kept = alert_of("assigner");
    assert_eq!(kept["outcome"], "no_opinion", "{kept:#}");
    assert!(
        kept["effect"]
            .as_str()
            .unwrap()
            .starts_with("Tandem's own: alert the operators"),
        "{kept:#}"
    );
    assert!(
        kept["input"]["alert"]["workspace_url"]
            .as_str()
            .is_some_and(
                |u| u.ends_with(&format!("/app#chat={}", kept["chat_id"].as_str().unwrap()))
            ),
        "{kept:#}"
    );
    let closed = trial["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .find(|r| r["hook"] == "chat_closed")
        .unwrap_or_else(|| panic!("the closed chat was tried: {trial:#}"));
    assert_eq!(closed["outcome"], "failed", "{closed:#}");
    assert!(
        closed["effect"]
            .as_str()
            .unwrap()
            .contains("not among the tenant's webhook URLs"),
        "{closed:#}"
    );
    assert_eq!(
        closed["input"]["chat"]["closed_by"], "An operator",
        "{closed:#}"
    );
    let after = p.plugin(&live.globex, &hostile).await;
    assert_eq!(
        after["consecutive_failures"], 0,
        "a trial's failures are not counted"
    );
    assert_eq!(after["enabled"], true);
}

/// Whether a line of a plugin's log says `text`.
fn mentions(line: &Value, text: &str) -> bool {
    line["message"].as_str().is_some_and(|m| m.contains(text))
}

mod javascript {
    use super::*;

    tandem_testkit::on_both_databases!(
        Plugged::for_javascript =>
        the_javascript_channel_router_posts_like_the_rust_one,
        the_javascript_router_routes_alerts_like_the_rust_one,
        a_looping_javascript_plugin_falls_back_is_logged_and_disabled,
    );
}

mod on_a_moved_clock {
    use super::*;

    async fn database(db: TestDatabase) -> TestDatabase {
        db
    }

    tandem_testkit::on_both_databases!(
        database =>
        plugins_of_both_worlds_run_side_by_side_each_with_its_settings,
        after_hours_the_widget_offers_the_form_and_requests_are_answered,
        a_plugin_is_tried_on_recent_cases_and_nothing_happens,
    );
}

tandem_testkit::on_both_databases!(
    Plugged::on_database =>
    authors_check_and_run_plugins_from_the_command_line,
    a_plugin_changes_its_own_tenants_timeout_and_template_only,
    a_looping_plugin_falls_back_is_logged_and_disabled,
    a_template_that_does_not_render_still_mails_and_is_logged,
    uploads_that_are_not_plugins_are_refused_and_change_nothing,
    the_channel_router_posts_to_a_real_receiver_signed,
    alerts_go_where_a_plugin_routes_them_signed,
    routes_a_tenant_did_not_allow_are_refused_and_the_mail_goes,
    plugin_templates_that_would_crash_the_server_fall_back_and_count,
    a_plugin_sleeping_inside_wasi_is_cut_off_and_counted,
    uploads_that_hang_or_cost_too_much_to_compile_are_refused,
);
