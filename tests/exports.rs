//! Exports over the real server on both databases: an admin's export of the company holds
//! exactly the company's data (and nothing of another's, no secrets), one visitor's holds only
//! theirs, the platform exports any company's, and each request and download is in the trail.
//! (Part of the `realtime_api` test binary.)

use std::io::Read;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tandem_testkit::TestDatabase;

use crate::support::live::{Live, PLATFORM_TOKEN};

/// Asks for an export and waits for it to be ready; returns it.
async fn exported(live: &Live, base: &str, token: &str, body: Option<Value>) -> Value {
    let (status, asked) = live.call(Method::POST, base, Some(token), body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{asked}");
    assert_eq!(asked["status"], "pending", "{asked}");
    let id = asked["id"].as_str().expect("an id").to_owned();
    for _ in 0..300 {
        let (status, list) = live.call(Method::GET, base, Some(token), None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let export = list["exports"]
            .as_array()
            .and_then(|all| all.iter().find(|x| x["id"] == id.as_str()))
            .cloned()
            .expect("the export is listed");
        match export["status"].as_str() {
            Some("ready") => return export,
            Some("pending" | "building") => tokio::time::sleep(Duration::from_millis(100)).await,
            _ => panic!("the export did not succeed: {export}"),
        }
    }
    panic!("the export was not ready within 30 s");
}

/// Downloads an archive: its lines, parsed.
async fn download(live: &Live, path: &str, token: &str) -> Vec<Value> {
    let response = live
        .http
        .get(live.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "application/gzip");
    assert!(
        header("content-disposition").contains(".jsonl.gz"),
        "{}",
        header("content-disposition")
    );
    let gzipped = response.bytes().await.expect("the archive");
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(&gzipped[..])
        .read_to_string(&mut text)
        .expect("gzipped UTF-8");
    text.lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect()
}

fn of_type<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == kind).collect()
}

async fn exports_hold_exactly_their_company_s_or_visitor_s_data(live: Live) {
    let acme = live.acme.clone();
    let ivan = live.visitor(&acme).await;
    let chat = live
        .offline_request(
            &ivan,
            "Ivan Petrov",
            "ivan@example.org",
            "Is my order shipped?",
        )
        .await;
    let first = live.visitor_says(&ivan, "Order 1234").await;
    let (status, edited) = live
        .visitor_call(
            &ivan,
            Method::PATCH,
            &format!(
                "/chat/messages/{}",
                first["id"].as_str().unwrap_or_default()
            ),
            Some(json!({ "body": "Order 1234-B" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let olga = live.online_operator(&acme, "Olga").await;
    live.operator_says(&olga, &chat, "Shipped today, Ivan")
        .await;
    let (status, note) = live
        .call(
            Method::POST,
            &format!("/api/v1/chats/{chat}/notes"),
            Some(&olga.token),
            Some(json!({ "body": "NOTE: a loyal customer" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    let vera = live.visitor(&acme).await;
    live.visitor_says(&vera, "Vera asks about returns").await;
    let globex_visitor = live.visitor(&live.globex).await;
    live.visitor_says(&globex_visitor, "Globex secret 9999")
        .await;
    let globex_secret = live.webhook_secret(&live.globex).await;
    let acme_secret = live.webhook_secret(&acme).await;

    // Operators may not export; nobody may ask for another company's visitor.
    let (status, _) = live
        .call(
            Method::POST,
            "/api/v1/admin/exports",
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = live
        .call(
            Method::POST,
            "/api/v1/admin/exports",
            Some(&acme.admin_token),
            Some(json!({ "visitor_id": globex_visitor.id })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The company's export: everything of Acme's, nothing of Globex's, no secret.
    let export = exported(&live, "/api/v1/admin/exports", &acme.admin_token, None).await;
    assert_eq!(export["lines_done"], export["lines_total"], "{export}");
    assert_eq!(export["requested_by"], acme.admin_email.as_str());
    let id = export["id"].as_str().expect("an id");
    let path = format!("/api/v1/admin/exports/{id}/download");
    let (status, _) = live
        .call(Method::GET, &path, Some(&live.globex.admin_token), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not Globex's to take");
    let lines = download(&live, &path, &acme.admin_token).await;
    assert_eq!(
        lines.len() as u64,
        export["lines_done"].as_u64().unwrap_or(0)
    );
    assert_eq!(lines[0]["type"], "export");
    assert_eq!(lines[0]["format"], "tandem-export");
    assert_eq!(lines[0]["tenant_id"], acme.id.as_str());
    assert_eq!(lines[0]["scope"], "tenant");
    assert_eq!(of_type(&lines, "settings").len(), 1);
    let operators: Vec<&str> = of_type(&lines, "operator")
        .iter()
        .filter_map(|o| o["email"].as_str())
        .collect();
    assert!(
        operators.contains(&acme.admin_email.as_str()),
        "{operators:?}"
    );
    assert_eq!(operators.len(), 2, "the admin and Olga: {operators:?}");
    let visitors: Vec<&str> = of_type(&lines, "visitor")
        .iter()
        .filter_map(|v| v["id"].as_str())
        .collect();
    assert!(visitors.contains(&ivan.id.as_str()) && visitors.contains(&vera.id.as_str()));
    assert!(!visitors.contains(&globex_visitor.id.as_str()));
    let ivan_line = of_type(&lines, "visitor")
        .into_iter()
        .find(|v| v["id"] == ivan.id.as_str())
        .expect("Ivan");
    assert_eq!(ivan_line["email"], "ivan@example.org");
    let messages = of_type(&lines, "message");
    let order = messages
        .iter()
        .find(|m| m["id"] == first["id"])
        .expect("Ivan's edited message");
    assert_eq!(order["body"], "Order 1234-B");
    assert_eq!(
        order["edits"][0]["body"], "Order 1234",
        "its earlier version"
    );
    let in_chat: Vec<i64> = messages
        .iter()
        .filter(|m| m["chat_id"] == chat.as_str())
        .filter_map(|m| m["seq"].as_i64())
        .collect();
    assert_eq!(in_chat, vec![1, 2, 3], "a dialog's messages in order");
    assert!(
        messages
            .iter()
            .any(|m| m["body"] == "Vera asks about returns")
    );
    assert_eq!(of_type(&lines, "note")[0]["body"], "NOTE: a loyal customer");
    assert!(!of_type(&lines, "chat").is_empty());
    let text = serde_json::to_string(&lines).unwrap_or_default();
    for foreign in [
        "Globex secret",
        globex_secret.as_str(),
        globex_visitor.id.as_str(),
    ] {
        assert!(!text.contains(foreign), "{foreign} is in Acme's export");
    }
    for secret in [acme_secret.as_str(), "password_hash", "$argon2"] {
        assert!(!text.contains(secret), "{secret} is in the export");
    }

    // One visitor's export: Ivan's alone, without the company's setup or its notes.
    let export = exported(
        &live,
        "/api/v1/admin/exports",
        &acme.admin_token,
        Some(json!({ "visitor_id": ivan.id })),
    )
    .await;
    let id = export["id"].as_str().expect("an id");
    let ivans = id.to_owned();
    let lines = download(
        &live,
        &format!("/api/v1/admin/exports/{id}/download"),
        &acme.admin_token,
    )
    .await;
    assert_eq!(lines[0]["scope"], "visitor");
    assert_eq!(lines[0]["visitor_id"], ivan.id.as_str());
    let visitors = of_type(&lines, "visitor");
    assert_eq!(visitors.len(), 1);
    assert_eq!(visitors[0]["id"], ivan.id.as_str());
    let bodies: Vec<&str> = of_type(&lines, "message")
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert_eq!(
        bodies,
        vec![
            "Is my order shipped?",
            "Order 1234-B",
            "Shipped today, Ivan"
        ]
    );
    for kind in ["settings", "operator", "plugin", "note"] {
        assert!(
            of_type(&lines, kind).is_empty(),
            "no {kind} in a visitor's export"
        );
    }
    assert!(
        !serde_json::to_string(&lines)
            .unwrap_or_default()
            .contains("Vera")
    );

    // The platform exports Globex's: Globex's data only.
    let base = format!("/api/v1/platform/tenants/{}/exports", live.globex.id);
    let export = exported(&live, &base, PLATFORM_TOKEN, None).await;
    assert_eq!(export["requested_by"], "platform API");
    let id = export["id"].as_str().expect("an id");
    let lines = download(&live, &format!("{base}/{id}/download"), PLATFORM_TOKEN).await;
    let text = serde_json::to_string(&lines).unwrap_or_default();
    assert!(text.contains("Globex secret 9999"));
    for foreign in ["Ivan", "Vera", "Order 1234", ivan.id.as_str()] {
        assert!(!text.contains(foreign), "{foreign} is in Globex's export");
    }

    // One at a time per company; the trail has every request and download, each its own.
    let (status, _) = live
        .call(
            Method::POST,
            "/api/v1/admin/exports",
            Some(&acme.admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, busy) = live
        .call(
            Method::POST,
            "/api/v1/admin/exports",
            Some(&acme.admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{busy}");
    let (_, trail) = live
        .call(
            Method::GET,
            "/api/v1/admin/audit",
            Some(&acme.admin_token),
            None,
        )
        .await;
    let actions: Vec<(&str, &str)> = trail["entries"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|e| Some((e["action"].as_str()?, e["actor"]["label"].as_str()?)))
                .filter(|(action, _)| action.starts_with("export_"))
                .collect()
        })
        .unwrap_or_default();
    let admin = acme.admin_email.as_str();
    assert_eq!(
        actions,
        vec![
            ("export_requested", admin),
            ("export_downloaded", admin),
            ("export_requested", admin),
            ("export_downloaded", admin),
            ("export_requested", admin),
        ],
        "newest first"
    );
    // Erasing Ivan withdraws every archive that holds him: his own and the company's.
    let (status, _) = live
        .call(
            Method::POST,
            &format!("/api/v1/admin/visitors/{}/erase", ivan.id),
            Some(&acme.admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = live
        .call(
            Method::GET,
            "/api/v1/admin/exports",
            Some(&acme.admin_token),
            None,
        )
        .await;
    let statuses: Vec<&str> = list["exports"]
        .as_array()
        .map(|all| all.iter().filter_map(|x| x["status"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        statuses.iter().all(|s| *s == "expired" || *s == "failed"),
        "{list}"
    );
    let (status, _) = live
        .call(
            Method::GET,
            &format!("/api/v1/admin/exports/{ivans}/download"),
            Some(&acme.admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "withdrawn");
    let (_, trail) = live
        .call(
            Method::GET,
            &format!("/api/v1/platform/audit?tenant={}", live.globex.id),
            Some(PLATFORM_TOKEN),
            None,
        )
        .await;
    assert_eq!(trail["entries"][0]["action"], "export_downloaded");
    assert_eq!(trail["entries"][0]["actor"]["label"], "platform API");
}

async fn served(db: TestDatabase) -> Live {
    Live::on_database(db).await
}

tandem_testkit::on_both_databases!(
    served =>
    exports_hold_exactly_their_company_s_or_visitor_s_data,
);
