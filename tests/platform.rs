//! The platform operator's side over the real server on both databases: signing in to the
//! console with the platform token, each tenant's use counted as the work happens, the
//! installation's nodes and queues, a tenant's plugins' health, and the trail naming the
//! console. (Part of the `realtime_api` test binary.)

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::live::{Live, PLATFORM_TOKEN};

/// The console's browser: it sends back the cookie the server set.
struct Console {
    http: reqwest::Client,
    cookie: Option<String>,
}

impl Console {
    fn request(&self, live: &Live, method: Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, live.url(path));
        match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        }
    }
}

async fn get(console: &Console, live: &Live, path: &str) -> (StatusCode, Value) {
    let response = console
        .request(live, Method::GET, path)
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The usage report's count of `metric` today for `tenant` (0 when it has none).
fn today(report: &Value, tenant: &str, metric: &str) -> u64 {
    report["tenants"]
        .as_array()
        .and_then(|all| all.iter().find(|t| t["tenant_id"] == tenant))
        .and_then(|t| t["counts"][metric]["today"].as_u64())
        .unwrap_or(0)
}

async fn the_console_signs_in_with_the_token_and_sees_use_as_it_happens(live: Live) {
    let mut console = Console {
        http: reqwest::Client::new(),
        cookie: None,
    };
    let (status, _) = get(&console, &live, "/api/v1/platform/usage").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "not signed in");
    let sign_in = |token: &str| {
        live.http
            .post(live.url("/api/v1/platform/session"))
            .json(&json!({ "token": token }))
            .send()
    };
    let refused = sign_in("not-the-token").await.expect("an answer");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let signed_in = sign_in(PLATFORM_TOKEN).await.expect("an answer");
    assert_eq!(signed_in.status(), StatusCode::NO_CONTENT);
    let cookie = signed_in
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(cookie.starts_with("tandem_platform="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(PLATFORM_TOKEN),
        "the token itself is not in the cookie"
    );
    console.cookie = cookie.split(';').next().map(str::to_owned);

    // The installation: this node beats; nothing waits in the queues.
    let (status, health) = get(&console, &live, "/api/v1/platform/health").await;
    assert_eq!(status, StatusCode::OK, "{health}");
    let nodes = health["nodes"].as_array().cloned().unwrap_or_default();
    assert!(
        nodes
            .iter()
            .any(|n| n["alive"] == true && n["role"] == "serve"),
        "{health}"
    );
    assert_eq!(health["notifications"]["due"], 0);
    assert_eq!(health["webhooks"]["waiting"], 0);
    assert!(
        health["database_bytes"].as_u64().unwrap_or(0) > 0,
        "{health}"
    );

    // A visitor writes twice and is answered once: Acme's use moves, Globex's does not.
    let olga = live.online_operator(&live.acme, "Olga").await;
    let visitor = live.visitor(&live.acme).await;
    let socket = live.visitor_socket(&visitor).await;
    let first = live.visitor_says(&visitor, "Hello?").await;
    live.visitor_says(&visitor, "Anyone there?").await;
    let chat = first["chat_id"].as_str().expect("a chat");
    live.operator_says(&olga, chat, "Yes, hello!").await;
    let (status, report) = get(&console, &live, "/api/v1/platform/usage").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let acme = live.acme.id.as_str();
    assert_eq!(today(&report, acme, "visitor_messages"), 2, "{report}");
    assert_eq!(today(&report, acme, "operator_replies"), 1, "{report}");
    assert_eq!(today(&report, acme, "chats_started"), 1, "{report}");
    assert_eq!(today(&report, acme, "new_visitors"), 1, "{report}");
    let acme_usage = report["tenants"]
        .as_array()
        .and_then(|all| all.iter().find(|t| t["tenant_id"] == acme))
        .cloned()
        .unwrap_or_default();
    assert_eq!(acme_usage["open_sockets"], 1, "{report}");
    assert_eq!(acme_usage["counts"]["visitor_messages"]["days_30"], 2);
    assert_eq!(today(&report, &live.globex.id, "visitor_messages"), 0);

    // Written to the database within seconds, the counts stay the same.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (_, again) = get(&console, &live, "/api/v1/platform/usage").await;
    assert_eq!(today(&again, acme, "visitor_messages"), 2, "{again}");
    assert_eq!(today(&again, acme, "operator_replies"), 1, "{again}");
    socket.close().await;

    // A tenant's plugins: none yet; an unknown tenant is not found.
    let (status, plugins) = get(
        &console,
        &live,
        &format!("/api/v1/platform/tenants/{acme}/plugins"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(plugins["plugins"], json!([]));
    let (status, _) = get(
        &console,
        &live,
        "/api/v1/platform/tenants/00000000-0000-7000-8000-000000000000/plugins",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A change from the console is the console's in the trail, with its address.
    let response = console
        .request(
            &live,
            Method::PATCH,
            &format!("/api/v1/platform/tenants/{acme}"),
        )
        .json(&json!({ "limits": { "plugins": 3 } }))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), StatusCode::OK);
    let (_, trail) = get(
        &console,
        &live,
        &format!("/api/v1/platform/audit?tenant={acme}&limit=1"),
    )
    .await;
    assert_eq!(trail["entries"][0]["action"], "limits_changed");
    assert_eq!(trail["entries"][0]["actor"]["label"], "platform console");
    assert_eq!(trail["entries"][0]["actor"]["ip"], "127.0.0.1");

    // Signing out clears the console's cookie; a forged or stretched one is refused.
    let response = console
        .request(&live, Method::DELETE, "/api/v1/platform/session")
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        cleared.starts_with("tandem_platform=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let good = console.cookie.clone().unwrap_or_default();
    let (until, signature) = good
        .trim_start_matches("tandem_platform=")
        .split_once('.')
        .unwrap_or_default();
    let stretched = format!(
        "tandem_platform={}.{signature}",
        until.parse::<i64>().unwrap_or(0) + 86_400_000
    );
    console.cookie = Some(stretched);
    let (status, _) = get(&console, &live, "/api/v1/platform/usage").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A tenant's admin cookie is no platform session.
    let (status, _) = live
        .call(
            Method::GET,
            "/api/v1/platform/usage",
            Some(&live.acme.admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

tandem_testkit::on_both_databases!(
    Live::on_database =>
    the_console_signs_in_with_the_token_and_sees_use_as_it_happens,
);
