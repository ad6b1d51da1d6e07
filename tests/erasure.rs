//! Erasing a visitor on request over the real server on both databases: their texts, files,
//! name, email, tokens, resume link and mails are gone everywhere — the database, the search
//! index, the dev mailbox and its files — while the dialog's skeleton and the counts stay, and
//! nothing of another visitor or company is touched. (Part of the `realtime_api` test binary.)

use reqwest::{Method, StatusCode};
use serde_json::json;
use tandem_testkit::TestDatabase;

use crate::support::live::{Live, PLATFORM_TOKEN};

async fn with_the_dev_mailbox(db: TestDatabase) -> Live {
    Live::with_env(db, &[("TANDEM_DEV_MAILBOX", "true")]).await
}

async fn hits(live: &Live, token: &str, q: &str) -> usize {
    let (status, found) = live
        .call(
            Method::GET,
            &format!("/api/v1/search?q={q}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    found["hits"].as_array().map_or(0, Vec::len)
}

fn mail_files(live: &Live) -> usize {
    std::fs::read_dir(live.env.dir.path().join("mailbox")).map_or(0, |dir| dir.count())
}

async fn an_erased_visitor_is_gone_everywhere_and_the_counts_stay(live: Live) {
    let acme = live.acme.clone();
    live.update_settings(&acme, json!({ "offline_timeout_secs": 1 }))
        .await;
    let ivan = live.visitor(&acme).await;
    let chat = live
        .offline_request(
            &ivan,
            "Ivan Petrov",
            "ivan@example.org",
            "My card ends in 4242",
        )
        .await;
    let olga = live.online_operator(&acme, "Olga").await;
    live.operator_says(&olga, &chat, "Thank you Ivan, refund on its way")
        .await;
    // The reply goes unread: mailed to the dev mailbox, with a resume link.
    let id = live.dev_mail_to("ivan@example.org").await;
    let shown = live.page(&format!("/dev/mailbox/{id}")).await;
    let resume: String = shown
        .split("resume_token=")
        .nth(1)
        .unwrap_or_default()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    assert!(resume.starts_with("rt_"), "{shown}");
    assert_eq!(mail_files(&live), 1);
    // Others, who must not be touched.
    let vera = live.visitor(&acme).await;
    live.visitor_says(&vera, "Vera's order 4242 too").await;
    let globex_visitor = live.visitor(&live.globex).await;
    live.visitor_says(&globex_visitor, "Globex card 4242").await;
    assert_eq!(hits(&live, &olga.token, "4242").await, 2);

    // Another company's admin, and an operator, cannot erase Ivan.
    let erase = format!("/api/v1/admin/visitors/{}/erase", ivan.id);
    let (status, _) = live
        .call(Method::POST, &erase, Some(&live.globex.admin_token), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = live
        .call(Method::POST, &erase, Some(&olga.token), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, erased) = live
        .call(Method::POST, &erase, Some(&acme.admin_token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    assert_eq!(erased["messages"], 2, "{erased}");

    // Gone: no way back in, by token or by the mailed link.
    let (status, _) = live.visitor_call(&ivan, Method::GET, "/chat", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = live.resume(&acme, &resume).await;
    assert!(!status.is_success(), "{status} {body}");
    // Gone from what operators see and search, and from the mailbox and its files.
    let (status, dialog) = live
        .call(
            Method::GET,
            &format!("/api/v1/chats/{chat}"),
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dialog}");
    let text = dialog.to_string();
    for gone in ["Ivan", "ivan@example.org", "4242", "refund"] {
        assert!(!text.contains(gone), "{gone} is still shown: {dialog}");
    }
    let messages = dialog["messages"].as_array().cloned().unwrap_or_default();
    assert_eq!(messages.len(), 2, "the skeleton stays: {dialog}");
    assert!(messages.iter().all(|m| m["body"] == ""), "{dialog}");
    assert_eq!(messages[1]["author"], "operator", "who wrote stays");
    assert_eq!(hits(&live, &olga.token, "4242").await, 1, "Vera's only");
    assert_eq!(hits(&live, &olga.token, "Petrov").await, 0);
    let page = live.page("/dev/mailbox").await;
    assert!(!page.contains("ivan@example.org"), "{page}");
    assert_eq!(mail_files(&live), 0, "the .eml file went too");
    let log = live.delivery_log(&acme).await;
    assert!(!log.is_empty());
    assert!(
        !serde_json::to_string(&log)
            .unwrap_or_default()
            .contains("ivan@"),
        "{log:?}"
    );

    // Vera and Globex keep everything.
    let (_, theirs) = live
        .visitor_call(&globex_visitor, Method::GET, "/chat", None)
        .await;
    assert_eq!(theirs["messages"][0]["body"], "Globex card 4242");
    let (_, hers) = live.visitor_call(&vera, Method::GET, "/chat", None).await;
    assert_eq!(hers["messages"][0]["body"], "Vera's order 4242 too");

    // The trail says it happened, and nothing of what was erased.
    let (_, trail) = live
        .call(
            Method::GET,
            "/api/v1/admin/audit?limit=1",
            Some(&acme.admin_token),
            None,
        )
        .await;
    let entry = &trail["entries"][0];
    assert_eq!(entry["action"], "visitor_erased");
    assert_eq!(entry["target"]["id"], ivan.id.as_str());
    assert!(!entry.to_string().contains("Ivan"), "{entry}");

    // Erasing again changes nothing more; the platform erases any company's visitor.
    let (status, again) = live
        .call(Method::POST, &erase, Some(&acme.admin_token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let platform_erase = format!(
        "/api/v1/platform/tenants/{}/visitors/{}/erase",
        live.globex.id, globex_visitor.id
    );
    let (status, by_platform) = live
        .call(Method::POST, &platform_erase, Some(PLATFORM_TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{by_platform}");
    assert_eq!(by_platform["messages"], 1);
    let wrong_tenant = format!(
        "/api/v1/platform/tenants/{}/visitors/{}/erase",
        acme.id, globex_visitor.id
    );
    let (status, _) = live
        .call(Method::POST, &wrong_tenant, Some(PLATFORM_TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

tandem_testkit::on_both_databases!(
    with_the_dev_mailbox =>
    an_erased_visitor_is_gone_everywhere_and_the_counts_stay,
);
