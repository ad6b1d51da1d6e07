//! The transcript of a conversation by email, over real SMTP on loopback and both databases:
//! the visitor asks, one mail comes with the whole dialog (and none of the operators' notes),
//! asking again while it is on its way sends nothing more, and three a day is the limit. (Part
//! of the `notifications` test binary.)

use std::collections::HashSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tandem_testkit::TestDatabase;
use tandem_testkit::smtp::{Received, SmtpSink};

use crate::support::live::Live;

const NOTE: &str = "NOTE-7731: refund approved by finance, do not promise more";

async fn with_smtp(db: TestDatabase) -> (Live, SmtpSink) {
    Live::with_smtp(db, &[("TANDEM_SWEEP_EVERY_SECS", "1")]).await
}

/// Mails to `address` once there are `count`, within 10 s.
async fn mails_to(smtp: &SmtpSink, address: &str, count: usize) -> Vec<Received> {
    for _ in 0..100 {
        let mails = to(smtp, address);
        if mails.len() >= count {
            return mails;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{count} mails to {address} did not come: {:#?}",
        to(smtp, address)
    );
}

fn to(smtp: &SmtpSink, address: &str) -> Vec<Received> {
    smtp.received()
        .into_iter()
        .filter(|m| m.to.iter().any(|to| to.contains(address)))
        .collect()
}

/// The mail's text as the test reads it (quoted-printable soft breaks undone).
fn text(mail: &Received) -> String {
    mail.data.replace("=\r\n", "").replace("=3D", "=")
}

async fn the_visitor_gets_the_whole_conversation_by_email((live, smtp): (Live, SmtpSink)) {
    let olga = live.online_operator(&live.acme, "Olga").await;
    let anna = live.visitor(&live.acme).await;
    live.visitor_says(&anna, "Where is my parcel?").await;
    let (_, dialog) = live.visitor_call(&anna, Method::GET, "/chat", None).await;
    let chat = dialog["chat"]["id"].as_str().expect("a chat").to_owned();
    live.operator_says(&olga, &chat, "On its way, since Monday.")
        .await;
    let (status, note) = live
        .call(
            Method::POST,
            &format!("/api/v1/chats/{chat}/notes"),
            Some(&olga.token),
            Some(json!({ "body": NOTE })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");

    // No address yet: nowhere to send it.
    let (status, body) = live
        .visitor_call(&anna, Method::POST, "/chat/transcript", None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let (status, body) = live
        .visitor_call(
            &anna,
            Method::PUT,
            "/visitor",
            Some(json!({ "name": "Anna", "email": "anna@example.org" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Asked twice at once (a double click): one request, one mail.
    let asks = [
        live.visitor_call(&anna, Method::POST, "/chat/transcript", None),
        live.visitor_call(&anna, Method::POST, "/chat/transcript", None),
    ];
    let mut ids = HashSet::new();
    for (status, request) in futures_util::future::join_all(asks).await {
        assert_eq!(status, StatusCode::ACCEPTED, "{request}");
        assert_eq!(request["email"], "anna@example.org");
        ids.insert(request["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1, "asked twice at once: one request");
    let mail = &mails_to(&smtp, "anna@example.org", 1).await[0];
    let body = text(mail);
    assert!(body.contains("Subject: Your conversation with"), "{body}");
    for said in [
        "Where is my parcel?",
        "On its way, since Monday.",
        "Olga",
        "Anna",
    ] {
        assert!(body.contains(said), "{said} in {body}");
    }
    assert!(
        !body.contains("NOTE-7731"),
        "a note never reaches a visitor: {body}"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        to(&smtp, "anna@example.org").len(),
        1,
        "one mail per request"
    );
    // The operators see it beside the dialog, and that it went.
    let mut seen = serde_json::Value::Null;
    for _ in 0..50 {
        seen = live.dialog(&olga.token, &chat).await["context"]["transcripts"].clone();
        if seen[0]["status"] == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen[0]["status"], "sent", "{seen:#}");
    assert_eq!(seen[0]["email"], "anna@example.org");

    // Three a day: the next is refused, with when to try again. (A request is answered with
    // itself until its mail is recorded, a moment after the SMTP server has it.)
    for _ in 0..100 {
        if ids.len() == 3 {
            break;
        }
        let (status, request) = live
            .visitor_call(&anna, Method::POST, "/chat/transcript", None)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{request}");
        ids.insert(request["id"].as_str().unwrap().to_owned());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(ids.len(), 3, "three requests in 20 s");
    mails_to(&smtp, "anna@example.org", 3).await;
    // The third one's mail is recorded before the next ask.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let response = live
        .client
        .http
        .post(live.url(&format!("/api/v1/widget/{}/chat/transcript", anna.key)))
        .bearer_auth(&anna.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .expect("Retry-After");
    assert!(wait > 23 * 3600 && wait <= 24 * 3600, "{wait}");

    // Another company's visitor (with a dialog and an address) cannot ask through Acme's widget.
    let gleb = live.visitor(&live.globex).await;
    live.visitor_says(&gleb, "Hi").await;
    let (status, body) = live
        .visitor_call(
            &gleb,
            Method::PUT,
            "/visitor",
            Some(json!({ "email": "gleb@example.org" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = live
        .call(
            Method::POST,
            &format!("/api/v1/widget/{}/chat/transcript", live.acme.widget_key),
            Some(&gleb.token),
            None,
        )
        .await;
    assert!(
        matches!(status, StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND),
        "{status}"
    );
    assert_eq!(to(&smtp, "anna@example.org").len(), 3);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(to(&smtp, "gleb@example.org").is_empty());
}

/// Anyone may type anyone's address into a widget: an address nobody confirmed gets three
/// transcripts a day, however many visitors ask.
async fn a_strangers_address_gets_three_a_day((live, smtp): (Live, SmtpSink)) {
    let mut asked = 0;
    for _ in 0..4 {
        let visitor = live.visitor(&live.acme).await;
        live.visitor_says(&visitor, "Buy cheap watches at example.net")
            .await;
        live.visitor_call(
            &visitor,
            Method::PUT,
            "/visitor",
            Some(json!({ "email": "victim@example.org" })),
        )
        .await;
        let (status, body) = live
            .visitor_call(&visitor, Method::POST, "/chat/transcript", None)
            .await;
        if asked < 3 {
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
            asked += 1;
        } else {
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        }
    }
    mails_to(&smtp, "victim@example.org", 3).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(to(&smtp, "victim@example.org").len(), 3);
}

tandem_testkit::on_both_databases!(
    with_smtp =>
    the_visitor_gets_the_whole_conversation_by_email,
    a_strangers_address_gets_three_a_day,
);
