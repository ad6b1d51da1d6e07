//! The end of a conversation, over the real server on both databases: an operator closes the
//! chat, its visitor rates it once per close, operators see the rating live, the admin's CSAT
//! counts it per week and per operator, and nothing of it reaches another company. (Part of the
//! `realtime_api` test binary.)

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tandem_core::clock::{ManualClock, Timestamp};
use tandem_testkit::TestDatabase;

use crate::support::live::{Live, Operator, Visitor};

/// Wednesday 2026-11-25, 12:00 UTC, on a clock the test moves: the weeks of the CSAT report do
/// not turn during the test.
async fn on_a_wednesday(db: TestDatabase) -> (Live, ManualClock) {
    Live::on_clock_at(db, &[], Timestamp::from_millis(1_795_608_000_000)).await
}

async fn rate(live: &Live, visitor: &Visitor, body: Value) -> (StatusCode, Value) {
    live.visitor_call(visitor, Method::POST, "/chat/rating", Some(body))
        .await
}

async fn operator_does(live: &Live, operator: &Operator, chat: &str, action: &str) -> Value {
    let (status, body) = live
        .call(
            Method::POST,
            &format!("/api/v1/chats/{chat}/{action}"),
            Some(&operator.token),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{action}: {body}");
    body
}

async fn csat(live: &Live, token: &str, query: &str) -> (StatusCode, Value) {
    live.call(
        Method::GET,
        &format!("/api/v1/admin/csat{query}"),
        Some(token),
        None,
    )
    .await
}

async fn a_closed_conversation_is_rated_once_per_close((live, clock): (Live, ManualClock)) {
    let olga = live.online_operator(&live.acme, "Olga").await;
    let anna = live.visitor(&live.acme).await;
    live.visitor_says(&anna, "Where is my parcel?").await;
    let (_, dialog) = live.visitor_call(&anna, Method::GET, "/chat", None).await;
    let chat = dialog["chat"]["id"].as_str().expect("a chat").to_owned();
    operator_does(&live, &olga, &chat, "assign").await;
    live.operator_says(&olga, &chat, "On its way, since Monday.")
        .await;

    // Not while the conversation goes on.
    let (status, body) = rate(&live, &anna, json!({ "rating": "good" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let mut widget = live.visitor_socket(&anna).await;
    let mut workspace = live.operator_socket(&olga.token).await;
    let mut globex = live.operator_socket(&live.globex.admin_token).await;
    let closed = operator_does(&live, &olga, &chat, "close").await;
    assert_eq!(closed["state"], "closed", "{closed}");
    assert!(closed["closed_at"].is_string(), "{closed}");
    let seen = widget
        .expect_where("chat.updated", |f| f["chat"]["state"] == "closed")
        .await;
    assert!(seen["chat"]["rating"].is_null(), "{seen}");
    assert_eq!(seen["chat"]["closed_at"], closed["closed_at"]);

    // What no widget sends is refused, and changes nothing.
    for bad in [
        json!({ "rating": "meh" }),
        json!({ "rating": "good", "comment": "x".repeat(1001) }),
        json!({ "rating": "good", "comment": "evil \u{202e}txt.exe" }),
        json!({ "rating": "good", "stars": 5 }),
        json!({}),
    ] {
        let (status, body) = rate(&live, &anna, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }

    let (status, rated) = rate(
        &live,
        &anna,
        json!({ "rating": "good", "comment": "  Quick and kind.  " }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rated}");
    assert_eq!(rated["rating"]["rating"], "good", "{rated}");
    assert_eq!(rated["rating"]["comment"], "Quick and kind.");
    assert!(rated["rating"]["rated_at"].as_str() >= rated["closed_at"].as_str());
    let seen = workspace
        .expect_where("chat.updated", |f| !f["chat"]["rating"].is_null())
        .await;
    assert_eq!(seen["chat"]["rating"]["rating"], "good", "{seen}");
    // The context beside the dialog lists it at once.
    let told = workspace
        .expect_where("visitor.context", |f| {
            f["context"]["ratings"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
        })
        .await;
    assert_eq!(told["context"]["ratings"][0]["comment"], "Quick and kind.");
    let ours = live.dialog(&olga.token, &chat).await;
    assert_eq!(ours["chat"]["rating"]["comment"], "Quick and kind.");
    assert_eq!(ours["chat"]["rating"]["closed_at"], closed["closed_at"]);
    let heard = globex.frames_within(Duration::from_millis(300)).await;
    assert!(
        !heard.iter().any(|f| f["type"] == "chat.updated"),
        "Globex hears nothing of Acme's chats: {heard:#?}"
    );
    // Once per close, however many tabs try.
    let (status, body) = rate(&live, &anna, json!({ "rating": "bad" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Writing again reopens the conversation (and lets it go: nobody has it); closed again, it
    // may be rated again, and the rating counts for Olga, who answered last.
    clock.advance(Duration::from_secs(3600));
    live.visitor_says(&anna, "It came. But the box was wet.")
        .await;
    let (status, _) = rate(&live, &anna, json!({ "rating": "bad" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "open again");
    clock.advance(Duration::from_secs(60));
    operator_does(&live, &olga, &chat, "close").await;
    let (status, rated) = rate(&live, &anna, json!({ "rating": "bad" })).await;
    assert_eq!(status, StatusCode::OK, "{rated}");
    assert!(rated["rating"]["comment"].is_null(), "{rated}");
    // Beside the dialog, the operators see how she rated each close, newest first.
    let ours = live.dialog(&olga.token, &chat).await;
    let past: Vec<(&str, &Value)> = ours["context"]["ratings"]
        .as_array()
        .expect("ratings in the context")
        .iter()
        .map(|r| (r["rating"].as_str().unwrap(), &r["comment"]))
        .collect();
    assert_eq!(
        past,
        [("bad", &Value::Null), ("good", &json!("Quick and kind."))],
        "{ours:#}"
    );

    // A chat nobody was assigned: the rating counts as "Not assigned".
    let boris = live.online_operator(&live.acme, "Boris").await;
    let petr = live.visitor(&live.acme).await;
    live.visitor_says(&petr, "Hello?").await;
    let (_, dialog) = live.visitor_call(&petr, Method::GET, "/chat", None).await;
    let petr_chat = dialog["chat"]["id"].as_str().unwrap().to_owned();
    operator_does(&live, &boris, &petr_chat, "close").await;
    let (status, _) = rate(&live, &petr, json!({ "rating": "good" })).await;
    assert_eq!(status, StatusCode::OK);

    // The admin's CSAT: this week and per operator; Globex's is empty; operators see none.
    let (status, report) = csat(&live, &live.acme.admin_token, "?weeks=4").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (&report["good"], &report["bad"], &report["score"]),
        (&json!(2), &json!(1), &json!(67)),
        "{report:#}"
    );
    let weeks = report["weeks"].as_array().unwrap();
    assert_eq!(weeks.len(), 4);
    assert_eq!(weeks[3]["good"], 2, "this week, last: {report:#}");
    assert_eq!(weeks[0]["good"], 0);
    assert!(weeks[0]["score"].is_null());
    let operators: Vec<(&str, u64, u64)> = report["operators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap(),
                o["good"].as_u64().unwrap(),
                o["bad"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(operators, [("Olga", 1, 1), ("Not assigned", 1, 0)]);
    let (status, theirs) = csat(&live, &live.globex.admin_token, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((&theirs["good"], &theirs["bad"]), (&json!(0), &json!(0)));
    assert!(theirs["operators"].as_array().unwrap().is_empty());
    assert_eq!(theirs["weeks"].as_array().unwrap().len(), 8, "the default");
    let (status, _) = csat(&live, &olga.token, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for query in ["?weeks=0", "?weeks=53", "?weeks=many"] {
        let (status, body) = csat(&live, &live.acme.admin_token, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_query", "{body}");
    }

    // Another company's visitor cannot rate through Acme's widget.
    let gleb = live.visitor(&live.globex).await;
    live.visitor_says(&gleb, "Hi").await;
    let (status, body) = live
        .call(
            Method::POST,
            &format!("/api/v1/widget/{}/chat/rating", live.acme.widget_key),
            Some(&gleb.token),
            Some(json!({ "rating": "bad" })),
        )
        .await;
    assert!(
        matches!(status, StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND),
        "{status}: {body}"
    );
    let (_, report) = csat(&live, &live.acme.admin_token, "?weeks=4").await;
    assert_eq!(report["bad"], 1, "unchanged");
}

tandem_testkit::on_both_databases!(
    on_a_wednesday =>
    a_closed_conversation_is_rated_once_per_close,
);
