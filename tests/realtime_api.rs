//! The realtime API end to end: the real `tandem serve`, a real HTTP client and real WebSocket
//! clients, on SQLite and PostgreSQL — the seed situations, presence, and the widget's promise
//! that a conversation never breaks.

mod audit;
mod erasure;
mod exports;
mod files;
mod operator_desk;
mod platform;
mod ratings;
mod support;
mod team;
mod tenant_deletion;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use support::live::{Live, SOCKET_TIMEOUT_SECS};

async fn offline_form_opens_the_chat_and_edits_arrive_live(live: Live) {
    let visitor = live.visitor(&live.acme).await;
    let config_path = "/config";
    let (status, config) = live
        .visitor_call(&visitor, Method::GET, config_path, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{config}");
    assert_eq!(config["operators_available"], false, "nobody is online");
    assert_eq!(config["offline_form"]["fields"][1]["name"], "email");

    // The page the visitor is on goes to the tenant's plugins; a page address that is not one
    // is refused and nothing is written.
    let (status, refused) = live
        .visitor_call(
            &visitor,
            Method::POST,
            "/offline-requests",
            Some(json!({"name": "Night Owl", "email": "owl@example.org", "message": "Hi", "page_url": "javascript:alert(1)"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused.to_string().contains("page_url"), "{refused}");
    let (_, nothing) = live
        .visitor_call(&visitor, Method::GET, "/chat", None)
        .await;
    assert_eq!(nothing["chat"], Value::Null, "{nothing}");
    let (status, created) = live
        .visitor_call(
            &visitor,
            Method::POST,
            "/offline-requests",
            Some(json!({"name": "Night Owl", "email": "owl@example.org", "message": "Is my order shipped?", "page_url": "https://shop.example/orders"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let chat_id = created["chat"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["chat"]["state"], "open", "the form closes nothing");
    assert_eq!(created["chat"]["category"], "offline");
    assert_eq!(created["chat"]["visitor"]["email"], "owl@example.org");
    let request_id = created["message"]["id"].as_str().unwrap().to_owned();
    // The request is marked as the form's, for the operators (and for trying plugins on it).
    assert_eq!(created["message"]["channel"], "offline_form");

    // An operator comes online and watches; the visitor keeps writing and corrects the request.
    let olga = live.online_operator(&live.acme, "Olga").await;
    let mut watch = live.operator_socket(&olga.token).await;
    let more = live.visitor_says(&visitor, "Order #1234, sorry").await;
    let seen = watch.expect("message.created").await;
    assert_eq!(seen["message"]["id"], more["id"]);
    assert_eq!(
        seen["message"]["channel"], "widget",
        "what follows is the chat's"
    );
    assert_eq!(seen["message"]["chat_id"], chat_id.as_str());

    let (status, edited) = live
        .visitor_call(
            &visitor,
            Method::PATCH,
            &format!("/chat/messages/{request_id}"),
            Some(json!({"body": "Is order #1234 shipped?"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let update = watch.expect("message.updated").await;
    assert_eq!(update["message"]["id"], request_id.as_str());
    assert_eq!(update["message"]["body"], "Is order #1234 shipped?");
    assert!(update["message"]["edited_at"].is_string());

    let (status, history) = live
        .call(
            Method::GET,
            &format!("/api/v1/chats/{chat_id}/messages/{request_id}/edits"),
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(history["edits"][0]["body"], "Is my order shipped?");

    // One dialog, the same for both sides.
    let (_, theirs) = live
        .visitor_call(&visitor, Method::GET, "/chat", None)
        .await;
    let ours = live.dialog(&olga.token, &chat_id).await;
    assert_eq!(theirs["messages"], ours["messages"]);
    assert_eq!(theirs["messages"].as_array().unwrap().len(), 2);

    // The visitor may not edit the operator's words.
    let reply = live.operator_says(&olga, &chat_id, "Shipped today!").await;
    let (status, body) = live
        .visitor_call(
            &visitor,
            Method::PATCH,
            &format!("/chat/messages/{}", reply["id"].as_str().unwrap()),
            Some(json!({"body": "hacked"})),
        )
        .await;
    assert!(
        status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
        "{status} {body}"
    );
}

async fn presence_moves_the_chat_between_categories_live(live: Live) {
    live.set_grace(&live.acme, 1).await;
    let olga = live.online_operator(&live.acme, "Olga").await;
    let mut watch = live.operator_socket(&olga.token).await;
    let visitor = live.visitor(&live.acme).await;
    let first = live.visitor_says(&visitor, "Hello?").await;
    let chat_id = first["chat_id"].as_str().unwrap().to_owned();
    let is_chat = |category: &'static str| {
        let chat_id = chat_id.clone();
        move |f: &serde_json::Value| {
            f["chat"]["id"] == chat_id.as_str() && f["chat"]["category"] == category
        }
    };
    assert_eq!(live.category(&olga.token, "offline").await.len(), 1);

    // The visitor leaves and returns several times; two tabs count once.
    for _ in 0..2 {
        let tab_one = live.visitor_socket(&visitor).await;
        let arrived = watch.expect_where("chat.updated", is_chat("waiting")).await;
        assert_eq!(arrived["chat"]["visitor_online"], true);
        assert_eq!(live.category(&olga.token, "waiting").await.len(), 1);

        let tab_two = live.visitor_socket(&visitor).await;
        tab_one.close().await;
        let quiet = watch.frames_within(Duration::from_millis(2500)).await;
        assert!(
            quiet.iter().all(|f| f["type"] != "chat.updated"),
            "closing one of two tabs is not leaving: {quiet:?}"
        );
        tab_two.close().await;
        let left = watch.expect_where("chat.updated", is_chat("offline")).await;
        assert_eq!(left["chat"]["visitor_online"], false);
    }

    // An operator reply makes the chat active; reads travel both ways.
    let mut tab = live.visitor_socket(&visitor).await;
    watch.expect_where("chat.updated", is_chat("waiting")).await;
    let reply = live
        .operator_says(&olga, &chat_id, "Hi, how can I help?")
        .await;
    let delivered = tab.expect("message.created").await;
    assert_eq!(delivered["message"]["id"], reply["id"]);
    assert_eq!(delivered["message"]["author"], "operator");
    watch.expect_where("chat.updated", is_chat("active")).await;
    tab.send(json!({"type": "read", "up_to": reply["id"]}))
        .await;
    let read = watch.expect("message.read").await;
    assert_eq!(read["by"], "visitor");
    assert_eq!(read["up_to"], reply["id"]);

    // The visitor writes over the socket; the resend of a client id is not a second message.
    tab.send(json!({"type": "message.send", "body": "Where is my order?", "client_id": "c-1"}))
        .await;
    tab.send(json!({"type": "message.send", "body": "Where is my order?", "client_id": "c-1"}))
        .await;
    let got = watch.expect("message.created").await;
    assert_eq!(got["message"]["client_id"], "c-1");
    tab.send(json!({"type": "ping"})).await;
    tab.expect("pong").await;
    let (_, dialog) = live
        .visitor_call(&visitor, Method::GET, "/chat", None)
        .await;
    let texts: Vec<_> = dialog["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        texts,
        ["Hello?", "Hi, how can I help?", "Where is my order?"]
    );

    // Typing reaches the other side.
    tab.send(json!({"type": "typing"})).await;
    assert_eq!(watch.expect("typing").await["by"], "visitor");
    watch
        .send(json!({"type": "typing", "chat_id": chat_id}))
        .await;
    assert_eq!(tab.expect("typing").await["by"], "operator");
}

async fn a_visitor_who_wrote_to_nobody_sees_an_operator_arrive(live: Live) {
    let visitor = live.visitor(&live.acme).await;
    let mut tab = live.visitor_socket(&visitor).await;
    assert_eq!(tab.hello["operators_available"], false);
    let first = live.visitor_says(&visitor, "Anyone there?").await;
    let olga = live.online_operator(&live.acme, "Olga").await;
    let news = tab.expect("operators.availability").await;
    assert_eq!(news["operators_available"], true);
    let waiting = live.category(&olga.token, "waiting").await;
    assert_eq!(waiting.len(), 1, "queued, and on the site: waiting");
    assert_eq!(waiting[0]["id"], first["chat_id"]);
    live.set_status(&olga, "away").await;
    let news = tab.expect("operators.availability").await;
    assert_eq!(news["operators_available"], false);
}

async fn a_socket_that_dies_silently_goes_offline_after_the_timeout(live: Live) {
    live.set_grace(&live.acme, 0).await;
    let olga = live.online_operator(&live.acme, "Olga").await;
    let mut watch = live.operator_socket(&olga.token).await;
    let visitor = live.visitor(&live.acme).await;
    let first = live.visitor_says(&visitor, "Hello").await;
    let chat_id = first["chat_id"].as_str().unwrap().to_owned();
    // A client that completes the handshake, then never reads or answers a ping again: the
    // network vanished, no close frame will ever come.
    let url = live.ws_url(&format!(
        "/api/v1/widget/{}/ws?visitor_token={}",
        visitor.key, visitor.token
    ));
    let (frozen, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    watch
        .expect_where("chat.updated", |f| {
            f["chat"]["id"] == chat_id.as_str() && f["chat"]["visitor_online"] == true
        })
        .await;
    let started = std::time::Instant::now();
    watch
        .expect_where("chat.updated", |f| {
            f["chat"]["id"] == chat_id.as_str() && f["chat"]["category"] == "offline"
        })
        .await;
    assert!(
        started.elapsed() >= Duration::from_secs(SOCKET_TIMEOUT_SECS - 1),
        "offline only once the heartbeat timed out"
    );
    drop(frozen);
}

async fn a_resume_link_brings_the_night_visitor_back_to_the_same_dialog(live: Live) {
    let visitor = live.visitor(&live.acme).await;
    let first = live
        .visitor_says(&visitor, "Can I change my delivery address?")
        .await;
    let chat_id = first["chat_id"].as_str().unwrap().to_owned();
    let olga = live.online_operator(&live.acme, "Olga").await;
    live.operator_says(&olga, &chat_id, "Yes, tell me the new one.")
        .await;

    // The email's link carries a resume token (issued here as the mailer would).
    let db = tandem_core::database::connect(live.env.db.url())
        .await
        .unwrap();
    let tandem = tandem_core::Tandem::new(db, Default::default(), Default::default());
    let tenant = live.acme.id.parse().unwrap();
    let chat = chat_id.parse().unwrap();
    let resume = tandem
        .visitors
        .issue_resume_token(tenant, chat, Duration::from_secs(3600))
        .await
        .unwrap();
    let expired = tandem
        .visitors
        .issue_resume_token(tenant, chat, Duration::ZERO)
        .await
        .unwrap();

    // Another device: the phone where the email was read.
    let (status, session) = live.resume(&live.acme, &resume).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["visitor_id"], visitor.id.as_str());
    assert_eq!(session["chat"]["id"], chat_id.as_str());
    let phone = support::live::Visitor {
        key: live.acme.widget_key.clone(),
        id: visitor.id.clone(),
        token: session["visitor_token"].as_str().unwrap().to_owned(),
    };
    let (_, dialog) = live.visitor_call(&phone, Method::GET, "/chat", None).await;
    assert_eq!(dialog["messages"].as_array().unwrap().len(), 2);
    let mut tab = live.visitor_socket(&phone).await;
    let mut watch = live.operator_socket(&olga.token).await;
    live.visitor_says(&phone, "Baker Street 221b").await;
    let seen = watch.expect("message.created").await;
    assert_eq!(
        seen["message"]["chat_id"],
        chat_id.as_str(),
        "the same dialog"
    );
    tab.expect("message.created").await;

    for bad in [expired.as_str(), "rt_forged", "garbage"] {
        let (status, body) = live.resume(&live.acme, bad).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}: {body}");
    }
    // A resume token is bound to its tenant.
    let (status, _) = live.resume(&live.globex, &resume).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn a_reconnecting_widget_loses_and_doubles_nothing(live: Live) {
    live.set_grace(&live.acme, 30).await;
    let olga = live.online_operator(&live.acme, "Olga").await;
    let visitor = live.visitor(&live.acme).await;
    let mut tab = live.visitor_socket(&visitor).await;
    tab.send(json!({"type": "message.send", "body": "First", "client_id": "k-1"}))
        .await;
    let first = tab.expect("message.created").await;
    let chat_id = first["message"]["chat_id"].as_str().unwrap().to_owned();

    // The connection drops; while it is down the operator answers twice.
    drop(tab);
    live.operator_says(&olga, &chat_id, "Reply one").await;
    live.operator_says(&olga, &chat_id, "Reply two").await;

    // The widget comes back: the same session restores, the dialog has everything, and the
    // message it was unsure about (resent with its client id) is not doubled.
    let (status, session) = live
        .call(
            Method::POST,
            &format!("/api/v1/widget/{}/session", visitor.key),
            None,
            Some(json!({"visitor_token": visitor.token})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["chat"]["id"], chat_id.as_str());
    let mut tab = live.visitor_socket(&visitor).await;
    let (status, resent) = live
        .visitor_call(
            &visitor,
            Method::POST,
            "/chat/messages",
            Some(json!({"body": "First", "client_id": "k-1"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        resent["id"], first["message"]["id"],
        "the same message, not a copy"
    );
    let (_, dialog) = live
        .visitor_call(&visitor, Method::GET, "/chat", None)
        .await;
    let bodies: Vec<_> = dialog["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(bodies, ["First", "Reply one", "Reply two"]);
    let seqs: Vec<_> = dialog["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3]);

    // Live again: new replies arrive on the new socket, and the visitor can leave an address.
    live.operator_says(&olga, &chat_id, "Reply three").await;
    assert_eq!(
        tab.expect("message.created").await["message"]["body"],
        "Reply three"
    );
    let (status, me) = live
        .visitor_call(
            &visitor,
            Method::PUT,
            "/visitor",
            Some(json!({"name": "Vera", "email": "vera@example.org"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["email"], "vera@example.org");
    let chat = live.dialog(&olga.token, &chat_id).await;
    assert_eq!(chat["chat"]["visitor"]["name"], "Vera");
    let (status, body) = live
        .visitor_call(
            &visitor,
            Method::PUT,
            "/visitor",
            Some(json!({"email": "not-an-email"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// The hosted chat hands a dialog over to the company's own site: only with a site set, only
/// the visitor's own dialog, through a link whose token resumes that dialog.
async fn the_hand_over_to_the_company_site_carries_the_dialog(live: Live) {
    let vera = live.visitor(&live.acme).await;
    let (status, body) = live
        .visitor_call(&vera, Method::POST, "/hand-over", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no site yet: {body}");

    // A site that is not a web URL is refused and changes nothing.
    for bad in [
        "javascript:alert(1)",
        "https://shop.example/\"><script>",
        "shop.example",
    ] {
        let (status, body) = live
            .call(
                Method::PUT,
                "/api/v1/admin/settings",
                Some(&live.acme.admin_token),
                Some(json!({ "site_url": bad })),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    live.update_settings(
        &live.acme,
        json!({ "site_url": "https://shop.example/help#chat" }),
    )
    .await;
    let (_, config) = live
        .call(
            Method::GET,
            &format!("/api/v1/widget/{}/config", live.acme.widget_key),
            None,
            None,
        )
        .await;
    assert_eq!(config["site_url"], "https://shop.example/help#chat");
    let (status, _) = live
        .visitor_call(&vera, Method::POST, "/hand-over", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no dialog yet");

    let first = live.visitor_says(&vera, "Hello from the hosted page").await;
    let (status, body) = live
        .visitor_call(&vera, Method::POST, "/hand-over", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = body["url"].as_str().unwrap();
    let prefix = "https://shop.example/help?tandem_resume=";
    assert!(url.starts_with(prefix) && url.ends_with("#chat"), "{url}");
    let token = &url[prefix.len()..url.len() - "#chat".len()];
    let (status, session) = live.resume(&live.acme, token).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["visitor_id"], vera.id);
    assert_eq!(session["chat"]["id"], first["chat_id"]);
    // A hand-over link is good once: a copy of it (a link sent on, a shared screen) is not.
    let (status, body) = live.resume(&live.acme, token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // Session fixation: Mallory hands her own dialog's link to Vera, whose device has a
    // conversation of its own. The link does not silently swap it: the device is asked.
    let mallory = live.visitor(&live.acme).await;
    live.visitor_says(&mallory, "Mallory's dialog").await;
    let (_, body) = live
        .visitor_call(&mallory, Method::POST, "/hand-over", None)
        .await;
    let url = body["url"].as_str().unwrap();
    let trap = &url[prefix.len()..url.len() - "#chat".len()];
    let session_url = format!("/api/v1/widget/{}/session", live.acme.widget_key);
    let (status, body) = live
        .call(
            Method::POST,
            &session_url,
            None,
            Some(json!({ "resume_token": trap, "visitor_token": vera.token })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Asking did not use the link up; the person who says yes gets it.
    let (status, body) = live
        .call(
            Method::POST,
            &session_url,
            None,
            Some(json!({ "resume_token": trap, "visitor_token": vera.token, "replace": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["visitor_id"], mallory.id);
    // The same visitor's own link on their own device keeps the device's token.
    let (_, body) = live
        .visitor_call(&vera, Method::POST, "/hand-over", None)
        .await;
    let url = body["url"].as_str().unwrap();
    let own = &url[prefix.len()..url.len() - "#chat".len()];
    let (status, body) = live
        .call(
            Method::POST,
            &session_url,
            None,
            Some(json!({ "resume_token": own, "visitor_token": vera.token })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["visitor_token"], vera.token);

    // Another company's widget knows nothing of Acme's site.
    let other = live.visitor(&live.globex).await;
    live.visitor_says(&other, "hi").await;
    let (status, _) = live
        .visitor_call(&other, Method::POST, "/hand-over", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Olga sets herself away on her phone: the workspace open on her desk shows it in its status
/// menu, her colleagues' show it too, and another tenant hears nothing.
async fn a_status_changed_elsewhere_reaches_every_workspace_of_the_tenant(live: Live) {
    let olga = live.online_operator(&live.acme, "Olga").await;
    let desk_token = live
        .login(
            &live.acme.slug,
            "olga@acme.example.com",
            "operator-password",
        )
        .await;
    let mut desk = live.operator_socket(&desk_token).await;
    let mut colleague = live.operator_socket(&live.acme.admin_token).await;
    let mut stranger = live.operator_socket(&live.globex.admin_token).await;

    live.set_status(&olga, "away").await;
    for socket in [&mut desk, &mut colleague] {
        let frame = socket.expect("operator.status").await;
        assert_eq!(frame["user_id"], olga.id.as_str(), "{frame}");
        assert_eq!(frame["status"], "away", "{frame}");
    }
    // Setting the status it already has changes nothing and says nothing.
    live.set_status(&olga, "away").await;
    let again = desk.frames_within(Duration::from_millis(300)).await;
    assert!(
        !again.iter().any(|f| f["type"] == "operator.status"),
        "{again:#?}"
    );
    let theirs = stranger.frames_within(Duration::from_millis(100)).await;
    assert!(
        !theirs.iter().any(|f| f["type"] == "operator.status"),
        "{theirs:#?}"
    );
}

tandem_testkit::on_both_databases!(
    Live::on_database =>
    a_status_changed_elsewhere_reaches_every_workspace_of_the_tenant,
    the_hand_over_to_the_company_site_carries_the_dialog,
    offline_form_opens_the_chat_and_edits_arrive_live,
    presence_moves_the_chat_between_categories_live,
    a_visitor_who_wrote_to_nobody_sees_an_operator_arrive,
    a_socket_that_dies_silently_goes_offline_after_the_timeout,
    a_resume_link_brings_the_night_visitor_back_to_the_same_dialog,
    a_reconnecting_widget_loses_and_doubles_nothing,
);
