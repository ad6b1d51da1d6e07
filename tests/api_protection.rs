//! What the API does with everything it should refuse: other tenants' ids and tokens, bad input
//! of every kind, floods, suspended tenants, deactivated operators — and how it shuts down.

mod support;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use support::live::{Live, PLATFORM_TOKEN};

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}

async fn tenants_cannot_reach_each_other(live: Live) {
    let olga = live.online_operator(&live.acme, "Olga").await;
    let visitor = live.visitor(&live.acme).await;
    let first = live.visitor_says(&visitor, "Private matter").await;
    let chat_id = first["chat_id"].as_str().unwrap().to_owned();
    let message_id = first["id"].as_str().unwrap().to_owned();

    let boris = live.online_operator(&live.globex, "Boris").await;
    let mut spy = live.operator_socket(&boris.token).await;
    let stranger = live.visitor(&live.globex).await;
    let mut stranger_tab = live.visitor_socket(&stranger).await;

    let attempts = [
        (Method::GET, format!("/api/v1/chats/{chat_id}"), None),
        (
            Method::POST,
            format!("/api/v1/chats/{chat_id}/messages"),
            Some(json!({"body": "hi"})),
        ),
        (
            Method::POST,
            format!("/api/v1/chats/{chat_id}/assign"),
            None,
        ),
        (Method::POST, format!("/api/v1/chats/{chat_id}/close"), None),
        (
            Method::POST,
            format!("/api/v1/chats/{chat_id}/read"),
            Some(json!({"up_to": message_id})),
        ),
        (
            Method::GET,
            format!("/api/v1/chats/{chat_id}/messages/{message_id}/edits"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/admin/operators/{}", olga.id),
            Some(json!({"active": false})),
        ),
    ];
    for (method, path, body) in attempts {
        let (status, answer) = live
            .call(method.clone(), &path, Some(&live.globex.admin_token), body)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
        assert_eq!(code(&answer), "not_found");
    }
    assert!(live.category(&boris.token, "offline").await.is_empty());

    // A visitor token works with its own tenant's widget key only.
    let foreign = support::live::Visitor {
        key: live.acme.widget_key.clone(),
        id: stranger.id.clone(),
        token: stranger.token.clone(),
    };
    for (method, path) in [(Method::GET, "/chat"), (Method::POST, "/chat/messages")] {
        let (status, answer) = live
            .visitor_call(&foreign, method, path, Some(json!({"body": "x"})))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {answer}");
    }
    // A visitor cannot edit or read another visitor's messages, even in their own tenant.
    let neighbour = live.visitor(&live.acme).await;
    let (status, _) = live
        .visitor_call(
            &neighbour,
            Method::PATCH,
            &format!("/chat/messages/{message_id}"),
            Some(json!({"body": "mine now"})),
        )
        .await;
    assert!(matches!(
        status,
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN
    ));

    // Nothing of acme's reaches globex's sockets.
    live.operator_says(&olga, &chat_id, "Answer").await;
    live.visitor_says(&visitor, "Thanks").await;
    live.set_status(&olga, "away").await;
    let leaked = spy.frames_within(Duration::from_secs(1)).await;
    assert!(leaked.is_empty(), "globex saw acme's events: {leaked:?}");
    let leaked = stranger_tab.frames_within(Duration::from_millis(200)).await;
    assert!(
        leaked.is_empty(),
        "a globex visitor saw acme's events: {leaked:?}"
    );
}

async fn bad_input_gets_a_clear_error_and_changes_nothing(live: Live) {
    let visitor = live.visitor(&live.acme).await;
    let key = &live.acme.widget_key;
    let send = format!("/api/v1/widget/{key}/chat/messages");
    let raw = |body: &'static str, content_type: &'static str| {
        live.http
            .post(live.url(&send))
            .bearer_auth(&visitor.token)
            .header("content-type", content_type)
            .body(body)
    };
    let cases = [
        (raw("{\"body\": ", "application/json"), 400, "invalid_json"),
        (
            raw("{\"body\": 42}", "application/json"),
            400,
            "invalid_input",
        ),
        (
            raw("{\"body\": \"hi\", \"extra\": 1}", "application/json"),
            400,
            "invalid_input",
        ),
        (
            raw("body=hi", "application/x-www-form-urlencoded"),
            415,
            "unsupported_media_type",
        ),
        (
            raw("{\"body\": \"   \"}", "application/json"),
            400,
            "invalid_input",
        ),
    ];
    for (request, status, expected) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status);
        let body: Value = response.json().await.expect("a JSON error");
        assert_eq!(code(&body), expected, "{body}");
    }
    let too_long = "x".repeat(10_001);
    let (status, body) = live
        .visitor_call(
            &visitor,
            Method::POST,
            "/chat/messages",
            Some(json!({"body": too_long})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // The server answers 413 without reading the rest and drops the connection: send it on a
    // connection of its own, so the next calls do not reuse a closing one.
    let huge = "x".repeat(200_000);
    let response = reqwest::Client::new()
        .post(live.url(&send))
        .bearer_auth(&visitor.token)
        .json(&json!({ "body": huge }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.expect("a JSON error");
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(code(&body), "payload_too_large");
    let (_, dialog) = live
        .visitor_call(&visitor, Method::GET, "/chat", None)
        .await;
    assert_eq!(
        dialog["chat"],
        Value::Null,
        "no refused input opened a chat"
    );

    // Unknown and malformed ids, keys and tokens.
    let token = live.acme.admin_token.clone();
    for (path, status) in [
        ("/api/v1/chats/not-an-id", 404),
        ("/api/v1/chats/0190f2c4-0000-7000-8000-000000000000", 404),
        ("/api/v1/widget/wk_nope/config", 404),
        ("/api/v1/chats?category=sideways", 400),
    ] {
        let (got, body) = live.call(Method::GET, path, Some(&token), None).await;
        assert_eq!(got.as_u16(), status, "{path}: {body}");
        assert!(body["error"]["message"].is_string());
    }
    for bad in ["", "ot_forged", "Bearer", "vt_wrongkind"] {
        let (status, body) = live
            .call(Method::GET, "/api/v1/chats", Some(bad), None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad:?}: {body}");
    }
    let (status, _) = live.call(Method::GET, "/api/v1/chats", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let olga = live.online_operator(&live.acme, "Olga").await;
    let (status, body) = live
        .call(
            Method::GET,
            "/api/v1/admin/settings",
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = live
        .call(
            Method::PUT,
            "/api/v1/admin/settings",
            Some(&token),
            Some(json!({"offline_timeout_secs": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = live
        .call(Method::DELETE, "/api/v1/chats", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(code(&body), "method_not_allowed");
    let (status, body) = live
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"tenant": "acme", "email": live.acme.admin_email, "password": "wrong"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // Sockets: bad frames get an error frame; binary frames close the socket.
    let mut tab = live.visitor_socket(&visitor).await;
    tab.send(json!({"type": "launch.missiles"})).await;
    assert_eq!(tab.expect("error").await["error"]["code"], "invalid_frame");
    tab.send(json!({"type": "message.send", "body": "", "client_id": "c-9"}))
        .await;
    let refused = tab.expect("error").await;
    assert_eq!(refused["client_id"], "c-9");
    assert_eq!(refused["error"]["code"], "invalid_input");
    let bad_socket = format!("/api/v1/widget/{key}/ws?visitor_token=vt_forged");
    let refused = tokio_tungstenite::connect_async(live.ws_url(&bad_socket)).await;
    assert!(refused.is_err(), "a forged token opens no socket");
}

async fn floods_are_rate_limited(live: Live) {
    let visitor = live.visitor(&live.acme).await;
    let mut limited = None;
    for i in 0..30 {
        let response = live
            .http
            .post(live.url(&format!("/api/v1/widget/{}/chat/messages", visitor.key)))
            .bearer_auth(&visitor.token)
            .json(&json!({"body": format!("spam {i}")}))
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let limited = limited.expect("a flood is cut off");
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let body: Value = limited.json().await.unwrap();
    assert_eq!(code(&body), "rate_limited");

    // A flooding socket is told, then closed with a reason.
    let other = live.visitor(&live.acme).await;
    let mut tab = live.visitor_socket(&other).await;
    for i in 0..60 {
        tab.send(json!({"type": "message.send", "body": format!("flood {i}")}))
            .await;
    }
    let (code, reason) = tab.expect_close().await;
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.contains("rate limit"));
}

async fn suspension_and_deactivation_end_access_at_once(live: Live) {
    let olga = live.online_operator(&live.acme, "Olga").await;
    let mut olga_socket = live.operator_socket(&olga.token).await;
    let (status, body) = live
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/operators/{}", olga.id),
            Some(&live.acme.admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (code_, _) = olga_socket.expect_close().await;
    assert_eq!(code_, 4003);
    let (status, _) = live
        .call(Method::GET, "/api/v1/chats", Some(&olga.token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The platform API: off without its token, then suspension.
    let (status, _) = live
        .call(Method::GET, "/api/v1/platform/tenants", Some("wrong"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, list) = live
        .call(
            Method::GET,
            "/api/v1/platform/tenants",
            Some(PLATFORM_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["tenants"].as_array().unwrap().len(), 2);
    let (status, created) = live
        .call(
            Method::POST,
            "/api/v1/platform/tenants",
            Some(PLATFORM_TOKEN),
            Some(json!({"slug": "initech", "name": "Initech", "admin_email": "bill@initech.example"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(created["widget_key"].as_str().unwrap().starts_with("wk_"));
    assert_eq!(created["admin"]["password"].as_str().unwrap().len(), 20);

    let visitor = live.visitor(&live.acme).await;
    let mut tab = live.visitor_socket(&visitor).await;
    let (status, body) = live
        .call(
            Method::PATCH,
            &format!("/api/v1/platform/tenants/{}", live.acme.id),
            Some(PLATFORM_TOKEN),
            Some(json!({"suspended": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(tab.expect_close().await.0, 4003);
    let (status, body) = live
        .visitor_call(&visitor, Method::GET, "/config", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(code(&body), "tenant_suspended");
    let (status, _) = live
        .call(
            Method::GET,
            "/api/v1/chats",
            Some(&live.acme.admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Nothing was deleted: lifting the suspension brings everything back.
    live.call(
        Method::PATCH,
        &format!("/api/v1/platform/tenants/{}", live.acme.id),
        Some(PLATFORM_TOKEN),
        Some(json!({"suspended": false})),
    )
    .await;
    let (status, _) = live
        .visitor_call(&visitor, Method::GET, "/chat", None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// A socket lives no longer than its session, acts with the role its operator has now, and
/// opens with the session cookie only from the workspace's own origin.
async fn operator_sockets_follow_their_session_role_and_origin(live: Live) {
    let olga = live.online_operator(&live.acme, "Olga").await;
    let anna = live.online_operator(&live.acme, "Anna").await;
    let (status, body) = live
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/operators/{}", anna.id),
            Some(&live.acme.admin_token),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Olga's chat: an admin may answer it, an operator may not.
    let visitor = live.visitor(&live.acme).await;
    let question = live.visitor_says(&visitor, "Hello?").await;
    let chat_id = question["chat_id"].as_str().unwrap().to_owned();
    live.operator_says(&olga, &chat_id, "Hi, Olga here").await;
    let mut anna_socket = live.operator_socket(&anna.token).await;
    anna_socket
        .send(json!({"type": "message.send", "chat_id": chat_id, "body": "Anna, admin", "client_id": "a1"}))
        .await;
    anna_socket
        .expect_where("message.created", |f| f["message"]["body"] == "Anna, admin")
        .await;
    let (status, body) = live
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/operators/{}", anna.id),
            Some(&live.acme.admin_token),
            Some(json!({"role": "operator"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    anna_socket
        .send(json!({"type": "message.send", "chat_id": chat_id, "body": "Anna, demoted", "client_id": "a2"}))
        .await;
    let refused = anna_socket.expect("error").await;
    assert_eq!(refused["error"]["code"], "not_allowed", "{refused}");

    // Logging out closes the socket of that session.
    let mut olga_socket = live.operator_socket(&olga.token).await;
    let (status, _) = live
        .call(Method::POST, "/api/v1/auth/logout", Some(&olga.token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (code_, reason) = olga_socket.expect_close().await;
    assert_eq!(code_, 4003, "{reason}");

    // The session cookie opens the socket from the workspace's origin only.
    let ws_url = live.ws_url("/api/v1/ws");
    let own_origin = live.base.clone();
    for (origin, allowed) in [("https://evil.example", false), (own_origin.as_str(), true)] {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = ws_url.as_str().into_client_request().unwrap();
        request.headers_mut().insert(
            "cookie",
            format!("tandem_session={}", anna.token).parse().unwrap(),
        );
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        match tokio_tungstenite::connect_async(request).await {
            Ok(_) => assert!(allowed, "{origin} may not open the socket"),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert!(!allowed, "{origin}: {}", response.status());
                assert_eq!(response.status(), 403);
            }
            Err(e) => panic!("{origin}: {e}"),
        }
    }
}

async fn widget_origins_are_enforced_when_listed(live: Live) {
    let visitor = live.visitor(&live.acme).await;
    let config = live.url(&format!("/api/v1/widget/{}/config", visitor.key));
    let any = live
        .http
        .get(&config)
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(any.status(), StatusCode::OK);
    assert_eq!(
        any.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    live.call(
        Method::PUT,
        "/api/v1/admin/settings",
        Some(&live.acme.admin_token),
        Some(json!({"allowed_origins": ["https://acme.example"]})),
    )
    .await;
    let preflight = live
        .http
        .request(
            Method::OPTIONS,
            live.url(&format!("/api/v1/widget/{}/chat/messages", visitor.key)),
        )
        .header("origin", "https://acme.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://acme.example"
    );
    let foreign = live
        .http
        .get(&config)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert!(
        foreign
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

async fn shutdown_closes_sockets_with_a_close_frame(live: Live) {
    let Live {
        server,
        acme,
        client,
        ..
    } = live;
    let http = client.http;
    let session: Value = http
        .post(server.url(&format!("/api/v1/widget/{}/session", acme.widget_key)))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = server.url(&format!(
        "/api/v1/widget/{}/ws?visitor_token={}",
        acme.widget_key,
        session["visitor_token"].as_str().unwrap()
    ));
    let mut tab = support::live::Socket::open(&url.replacen("http://", "ws://", 1)).await;
    let closed = tokio::spawn(async move { tab.expect_close().await });
    assert!(server.terminate().await, "a clean stop");
    assert_eq!(closed.await.unwrap().0, 1001, "going away");
}

async fn the_api_document_describes_every_route(live: Live) {
    let (_, doc) = live
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    // The document and the router come from one table; this proves each documented route is
    // served (not the unknown-path answer) with the method the document names.
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 40, "{} paths documented", paths.len());
    let placeholder_id = "0190f2c4-0000-7000-8000-000000000000";
    // Off unless TANDEM_INBOUND_SECRET is set, and then it answers as an unknown path does (on
    // purpose); tests/replies_by_email.rs serves it.
    let off_here = ["/api/v1/inbound/email"];
    for (path, item) in paths
        .iter()
        .filter(|(path, _)| !off_here.contains(&path.as_str()))
    {
        let concrete = path
            .replace("{key}", &live.acme.widget_key)
            .replace("{id}", placeholder_id)
            .replace("{message_id}", placeholder_id);
        for method in item.as_object().expect("a path item").keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = live
                .http
                .request(method.clone(), live.url(&concrete))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body = response.text().await.unwrap();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(
                !(status == StatusCode::NOT_FOUND && body.contains("path not found")),
                "{method} {path} is documented but not served"
            );
        }
    }
    for undocumented in ["/api/v1/nowhere", "/api/v1/chats/{id}/nowhere"] {
        assert!(doc["paths"][undocumented].is_null());
        let (status, body) = live
            .call(
                Method::GET,
                &undocumented.replace("{id}", placeholder_id),
                None,
                None,
            )
            .await;
        assert_eq!(
            (status, body["error"]["message"].as_str()),
            (StatusCode::NOT_FOUND, Some("path not found"))
        );
    }
    let schemas = &doc["components"]["schemas"];
    for name in ["Chat", "Message", "ErrorBody", "TenantSettings"] {
        assert!(schemas[name].is_object(), "schema {name} missing");
    }
    // Every text rule the handlers enforce is stated where it applies (a renamed field would
    // lose its rule silently otherwise).
    for (schema, property, rule) in tandem_web::routes::openapi::TEXT_RULES {
        let field = &schemas[*schema]["properties"][*property];
        let text = if field["items"].is_object() {
            &field["items"]
        } else {
            field
        };
        assert!(
            text["maxLength"].is_u64(),
            "{schema}.{property} has no stated length: {field}"
        );
        if !rule.pattern.is_empty() {
            assert_eq!(text["pattern"], rule.pattern, "{schema}.{property}");
        }
    }
    assert_eq!(
        schemas["SendBody"]["properties"]["body"]["maxLength"], 10_000,
        "the server's own message limit"
    );
    // Page sizes outside the documented range are refused, not cut.
    let admin = Some(live.acme.admin_token.as_str());
    for (path, token) in [
        ("/api/v1/chats?limit=0", admin),
        ("/api/v1/chats?limit=501", admin),
        ("/api/v1/admin/notifications?limit=501", admin),
        ("/api/v1/admin/notifications?limit=-1", admin),
    ] {
        let (status, body) = live.call(Method::GET, path, token, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"]["code"], "invalid_query", "{path}");
    }
    let (status, _) = live
        .call(Method::GET, "/api/v1/chats?limit=500", admin, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    // The documented Message shape is what the server sends.
    let visitor = live.visitor(&live.acme).await;
    let message = live.visitor_says(&visitor, "hello").await;
    let documented: Vec<&String> = schemas["Message"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    let sent: Vec<&String> = message.as_object().unwrap().keys().collect();
    let mut documented_sorted = documented.clone();
    documented_sorted.sort();
    let mut sent_sorted = sent.clone();
    sent_sorted.sort();
    assert_eq!(documented_sorted, sent_sorted);

    let _tab = live.visitor_socket(&visitor).await;
    let olga = live.online_operator(&live.acme, "Olga").await;
    live.operator_says(&olga, message["chat_id"].as_str().unwrap(), "Hi")
        .await;
    // Per-tenant figures: the platform operator's only.
    let anonymous = live.http.get(live.url("/metrics")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let metrics = live.metrics().await;
    assert!(
        metrics.contains("tandem_messages_total{author=\"visitor\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tandem_open_sockets{kind=\"visitor\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tandem_notifications_waiting{state=\"scheduled\"} 1"),
        "{metrics}"
    );
}

async fn platform_limits_are_enforced(live: Live) {
    let tenant = format!("/api/v1/platform/tenants/{}", live.acme.id);
    for bad in [
        json!({"limits": {"operators": 0}}),
        json!({"limits": {"operators": 2, "seats": 3}}),
        json!({"limits": {"messages_per_minute": "many"}}),
    ] {
        let (status, body) = live
            .call(
                Method::PATCH,
                &tenant,
                Some(PLATFORM_TOKEN),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, updated) = live
        .call(
            Method::PATCH,
            &tenant,
            Some(PLATFORM_TOKEN),
            Some(json!({"limits": {"operators": 2, "messages_per_minute": 12}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["limits"]["operators"], 2);
    assert_eq!(
        updated["limits"]["plugins"], 10,
        "untouched fields keep their value"
    );

    // The admin and one operator fill the two seats.
    live.online_operator(&live.acme, "Olga").await;
    let (status, body) = live
        .call(
            Method::POST,
            "/api/v1/admin/operators",
            Some(&live.acme.admin_token),
            Some(json!({"email": "third@acme.example.com", "name": "Third"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "limit_reached");
    let (_, list) = live
        .call(
            Method::GET,
            "/api/v1/admin/operators",
            Some(&live.acme.admin_token),
            None,
        )
        .await;
    assert_eq!(
        list["operators"].as_array().unwrap().len(),
        2,
        "nothing was created"
    );

    // Twelve messages a minute, two at once: the third is refused.
    let visitor = live.visitor(&live.acme).await;
    live.visitor_says(&visitor, "one").await;
    live.visitor_says(&visitor, "two").await;
    let (status, body) = live
        .visitor_call(
            &visitor,
            Method::POST,
            "/chat/messages",
            Some(json!({"body": "three"})),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Another tenant's quota is its own.
    let other = live.visitor(&live.globex).await;
    live.visitor_says(&other, "hello").await;
}

async fn the_hosted_chat_page_is_served_locked_down(live: Live) {
    let page = live
        .http
        .get(live.url(&format!("/c/{}?resume_token=rt_x", live.acme.widget_key)))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(
        headers["referrer-policy"], "no-referrer",
        "the token stays private"
    );
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"));
    assert!(page.text().await.unwrap().contains("/static/widget.js"));
    let script = live
        .http
        .get(live.url("/static/widget.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    let etag = script.headers()["etag"].clone();
    assert!(script.text().await.unwrap().contains("resume_token"));
    // Served gzipped to browsers that take it, and not again to one that has it.
    let gzipped = live
        .http
        .get(live.url("/static/widget.js"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    let plain_length = include_str!("../web/static/widget.js").len();
    assert!(gzipped.bytes().await.unwrap().len() < plain_length / 2);
    let again = live
        .http
        .get(live.url("/static/widget.js"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    // The workspace, the console and the demo site are locked down the same way.
    for path in [
        "/app",
        "/admin",
        &format!("/demo?key={}", live.acme.widget_key),
    ] {
        let page = live.http.get(live.url(path)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        let policy = page.headers()["content-security-policy"].to_str().unwrap();
        assert!(
            policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
    }
    // A tenant's demo page shows only its own widget; an unknown key finds nothing.
    let demo = live
        .page(&format!("/demo?key={}", live.acme.widget_key))
        .await;
    assert!(demo.contains(&live.acme.widget_key) && !demo.contains(&live.globex.widget_key));
    for missing in [
        "/c/wk_nope",
        "/demo?key=wk_nope",
        "/static/../Cargo.toml",
        "/static/secret.js",
    ] {
        let response = live.http.get(live.url(missing)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{missing}");
    }
}

async fn flood_limits(db: tandem_testkit::TestDatabase) -> Live {
    Live::with_env(db, &[("TANDEM_RATE_LIMIT_PER_VISITOR", "60")]).await
}

mod limits {
    use super::*;
    tandem_testkit::on_both_databases!(flood_limits => floods_are_rate_limited);
}

tandem_testkit::on_both_databases!(
    Live::on_database =>
    tenants_cannot_reach_each_other,
    bad_input_gets_a_clear_error_and_changes_nothing,
    suspension_and_deactivation_end_access_at_once,
    platform_limits_are_enforced,
    the_hosted_chat_page_is_served_locked_down,
    widget_origins_are_enforced_when_listed,
    operator_sockets_follow_their_session_role_and_origin,
    shutdown_closes_sockets_with_a_close_frame,
    the_api_document_describes_every_route,
);
