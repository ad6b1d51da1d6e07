//! The audit trail over the real server on both databases: every change an admin, an operator
//! or the platform makes is in it with who, when, from where and what changed, secrets
//! redacted; a company reads only its own trail, the platform all of them; a refused change
//! leaves nothing. (Part of the `realtime_api` test binary.)

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::files::png;
use crate::support::live::{Company, Live, PLATFORM_TOKEN};

const SLACK_HOOK: &str = "https://hooks.slack.com/services/T0/B0/kept-out-of-the-trail";

async fn trail(live: &Live, token: &str, query: &str) -> (StatusCode, Vec<Value>) {
    let (status, body) = live
        .call(
            Method::GET,
            &format!("/api/v1/admin/audit{query}"),
            Some(token),
            None,
        )
        .await;
    let entries = body["entries"].as_array().cloned().unwrap_or_default();
    (status, entries)
}

async fn platform_trail(live: &Live, query: &str) -> Vec<Value> {
    let (status, body) = live
        .call(
            Method::GET,
            &format!("/api/v1/platform/audit{query}"),
            Some(PLATFORM_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["entries"].as_array().cloned().unwrap_or_default()
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default())
        .collect()
}

/// The admin's call, which must succeed.
async fn admin(
    live: &Live,
    company: &Company,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let (status, answer) = live
        .call(method, path, Some(&company.admin_token), body)
        .await;
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

async fn platform(live: &Live, method: Method, path: &str, body: Value) -> Value {
    let (status, answer) = live
        .call(method, path, Some(PLATFORM_TOKEN), Some(body))
        .await;
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

async fn every_change_is_in_its_company_s_trail_and_no_other(live: Live) {
    let acme = live.acme.clone();
    let settings = "/api/v1/admin/settings";
    admin(
        &live,
        &acme,
        Method::PUT,
        settings,
        Some(json!({
            "offline_timeout_secs": 120,
            "webhook_urls": [SLACK_HOOK],
        })),
    )
    .await;
    // Saved again unchanged: nothing happened, nothing is recorded.
    admin(
        &live,
        &acme,
        Method::PUT,
        settings,
        Some(json!({ "offline_timeout_secs": 120 })),
    )
    .await;
    // Refused: nothing changes, nothing is recorded.
    let (status, _) = live
        .call(
            Method::PUT,
            settings,
            Some(&acme.admin_token),
            Some(json!({ "offline_timeout_secs": 0 })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let template = "/api/v1/admin/templates/unread-reply";
    let sources = json!({
        "subject": "News from {{tenant_name}}",
        "html": "<p>{{#each replies}}{{this.body}}{{/each}}</p><a href=\"{{resume_url}}\">back</a>",
        "text": "{{#each replies}}{{this.body}}{{/each}} {{resume_url}}",
    });
    admin(&live, &acme, Method::PUT, template, Some(sources)).await;
    admin(&live, &acme, Method::DELETE, template, None).await;
    // Nothing left to reset: not recorded again.
    admin(&live, &acme, Method::DELETE, template, None).await;

    let created = admin(
        &live,
        &acme,
        Method::POST,
        "/api/v1/admin/operators",
        Some(json!({
            "email": "olga@acme.example.com", "name": "Olga", "password": "operator-password",
        })),
    )
    .await;
    let olga = created["operator"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    admin(
        &live,
        &acme,
        Method::PATCH,
        &format!("/api/v1/admin/operators/{olga}"),
        Some(json!({ "capacity": 8 })),
    )
    .await;
    // Olga changes her own photo: an operator's own change, from her account.
    let olga_token = live
        .login(&acme.slug, "olga@acme.example.com", "operator-password")
        .await;
    let response = live
        .http
        .put(live.url(&format!("/api/v1/operators/{olga}/avatar")))
        .bearer_auth(&olga_token)
        .header("content-type", "application/octet-stream")
        .body(png(200, 200))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::OK);
    let (status, _) = trail(&live, &olga_token, "").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an operator does not read the trail"
    );
    admin(
        &live,
        &acme,
        Method::DELETE,
        &format!("/api/v1/admin/operators/{olga}"),
        None,
    )
    .await;

    let canned = admin(
        &live,
        &acme,
        Method::POST,
        "/api/v1/admin/canned-replies",
        Some(json!({
            "shortcut": "hello", "body": "Hello there!",
        })),
    )
    .await;
    let canned = format!(
        "/api/v1/admin/canned-replies/{}",
        canned["id"].as_str().expect("an id")
    );
    admin(
        &live,
        &acme,
        Method::PUT,
        &canned,
        Some(json!({ "shortcut": "hello", "body": "Hi!" })),
    )
    .await;
    admin(&live, &acme, Method::DELETE, &canned, None).await;
    let rotated = admin(
        &live,
        &acme,
        Method::POST,
        "/api/v1/admin/webhook-secret/rotate",
        None,
    )
    .await;

    let tenant = format!("/api/v1/platform/tenants/{}", acme.id);
    platform(
        &live,
        Method::PATCH,
        &tenant,
        json!({ "limits": { "operators": 7 } }),
    )
    .await;
    platform(&live, Method::PATCH, &tenant, json!({ "suspended": true })).await;
    let (status, _) = trail(&live, &acme.admin_token, "").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a suspended company's admin is refused"
    );
    platform(&live, Method::PATCH, &tenant, json!({ "suspended": false })).await;
    // Globex changes something of its own.
    admin(
        &live,
        &live.globex,
        Method::PUT,
        settings,
        Some(json!({ "presence_grace_secs": 30 })),
    )
    .await;

    let (status, entries) = trail(&live, &acme.admin_token, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        actions(&entries),
        [
            "tenant_resumed",
            "tenant_suspended",
            "limits_changed",
            "webhook_secret_rotated",
            "canned_reply_deleted",
            "canned_reply_changed",
            "canned_reply_created",
            "operator_changed",
            "photo_changed",
            "operator_changed",
            "operator_created",
            "email_template_reset",
            "email_template_saved",
            "settings_changed",
            "tenant_created",
        ],
        "newest first: {entries:#?}"
    );
    let by_action = |action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("{action} in {entries:#?}"))
            .clone()
    };

    // Who, from where, what.
    let changed = by_action("settings_changed");
    assert_eq!(changed["tenant_id"], acme.id.as_str());
    assert_eq!(changed["actor"]["kind"], "admin");
    assert_eq!(changed["actor"]["label"], acme.admin_email.as_str());
    assert_eq!(changed["actor"]["ip"], "127.0.0.1");
    assert!(
        changed["at"]
            .as_str()
            .is_some_and(|at| at.starts_with("20")),
        "{changed}"
    );
    assert_eq!(
        changed["before"],
        json!({ "offline_timeout_secs": 300, "webhook_urls": [] }),
        "only what changed"
    );
    assert_eq!(
        changed["after"],
        json!({ "offline_timeout_secs": 120, "webhook_urls": ["https://hooks.slack.com/…"] }),
        "a webhook's URL is its secret: only its host is kept"
    );
    let photo = by_action("photo_changed");
    assert_eq!(photo["actor"]["kind"], "operator");
    assert_eq!(photo["actor"]["id"], olga.as_str());
    assert_eq!(photo["target"]["id"], olga.as_str());
    assert_eq!(photo["before"]["photo"], Value::Null);
    let deactivated = &entries[7];
    assert_eq!(deactivated["target"]["label"], "Olga");
    assert_eq!(deactivated["before"], json!({ "active": true }));
    assert_eq!(deactivated["after"], json!({ "active": false }));
    assert_eq!(entries[9]["after"], json!({ "capacity": 8 }));
    let olga_created = by_action("operator_created");
    assert_eq!(olga_created["before"], Value::Null);
    assert_eq!(olga_created["after"]["email"], "olga@acme.example.com");
    assert_eq!(
        by_action("canned_reply_changed")["after"],
        json!({ "body": "Hi!" })
    );
    assert_eq!(by_action("canned_reply_deleted")["before"]["body"], "Hi!");
    assert_eq!(
        by_action("email_template_reset")["before"]["subject"],
        "News from {{tenant_name}}"
    );
    let limits = by_action("limits_changed");
    assert_eq!(limits["actor"]["kind"], "platform");
    assert_eq!(limits["actor"]["label"], "platform API");
    assert_eq!(
        limits["actor"]["ip"],
        Value::Null,
        "the platform's address is its own"
    );
    assert_eq!(limits["after"], json!({ "operators": 7 }));
    assert_eq!(
        by_action("tenant_suspended")["after"],
        json!({ "suspended": true })
    );
    assert_eq!(
        by_action("tenant_created")["actor"]["label"],
        "command line"
    );

    // No secret in it: not the rotated webhook secret, not a password, not the hook's path.
    let text = serde_json::to_string(&entries).expect("JSON");
    for secret in [
        rotated["secret"].as_str().expect("a secret"),
        "operator-password",
        "kept-out-of-the-trail",
    ] {
        assert!(!text.contains(secret), "{secret} is in the trail: {text}");
    }

    // Globex reads its own trail only; the platform reads everyone's, or one company's.
    let (_, theirs) = trail(&live, &live.globex.admin_token, "").await;
    assert_eq!(actions(&theirs), ["settings_changed", "tenant_created"]);
    assert!(
        theirs
            .iter()
            .all(|e| e["tenant_id"] == live.globex.id.as_str())
    );
    let all = platform_trail(&live, "").await;
    assert_eq!(
        all.len(),
        entries.len() + theirs.len(),
        "both companies' entries"
    );
    let acme_only = platform_trail(&live, &format!("?tenant={}", acme.id)).await;
    assert_eq!(acme_only.len(), entries.len());
    assert_eq!(
        acme_only[2]["actor"]["ip"], "127.0.0.1",
        "the platform sees its own address"
    );
    assert_eq!(acme_only[3..], entries[3..]);

    // Pages, newest first: the next starts after the last one seen.
    let (_, first) = trail(&live, &acme.admin_token, "?limit=4").await;
    assert_eq!(first, entries[..4]);
    let last = first[3]["id"].as_str().expect("an id");
    let (_, next) = trail(&live, &acme.admin_token, &format!("?limit=4&before={last}")).await;
    assert_eq!(next, entries[4..8]);
    for bad in ["?limit=0", "?limit=501", "?before=nonsense"] {
        let (status, _) = trail(&live, &acme.admin_token, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    // The trail is read-only.
    let (status, _) = live
        .call(
            Method::DELETE,
            "/api/v1/admin/audit",
            Some(&acme.admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

tandem_testkit::on_both_databases!(
    Live::on_database =>
    every_change_is_in_its_company_s_trail_and_no_other,
);
