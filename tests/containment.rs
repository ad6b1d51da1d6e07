//! What one client can hold or spend of the server, and what it cannot: password guesses,
//! half-sent requests, sockets, frames and messages. Each limit refuses the abuser with a clear
//! answer and leaves everybody else served.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tandem_testkit::TestDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use support::live::{Live, PLATFORM_TOKEN};

async fn login_status(
    live: &Live,
    tenant: &str,
    email: &str,
    password: &str,
) -> (StatusCode, Option<u64>) {
    let response = live
        .http
        .post(live.url("/api/v1/auth/login"))
        .json(&json!({"tenant": tenant, "email": email, "password": password}))
        .send()
        .await
        .expect("the server answers");
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (response.status(), retry)
}

/// Five wrong passwords, then the account is locked for a while — the right password too —
/// while other accounts sign in as usual.
async fn guessing_a_password_is_throttled(live: Live) {
    let acme = &live.acme;
    for _ in 0..6 {
        let (status, _) =
            login_status(&live, &acme.slug, &acme.admin_email, "wrong-password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    for password in ["wrong-password", acme.admin_password.as_str()] {
        let (status, retry) = login_status(&live, &acme.slug, &acme.admin_email, password).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(retry.is_some_and(|s| (1..=60).contains(&s)), "{retry:?}");
    }
    let globex = &live.globex;
    let (status, _) = login_status(
        &live,
        &globex.slug,
        &globex.admin_email,
        &globex.admin_password,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // One client guessing across accounts runs out of attempts too.
    let mut refused = false;
    for i in 0..30 {
        let (status, _) = login_status(
            &live,
            "acme",
            &format!("{i}@acme.example.com"),
            "guess-guess",
        )
        .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused = true;
            break;
        }
    }
    assert!(refused, "an IP's sign-in attempts are limited");
}

/// A client that opens connections and never finishes its headers is cut off: past its share
/// of connections at once, and after the header timeout for the rest. Others are served all
/// along.
async fn half_sent_requests_cannot_starve_the_listener(live: Live) {
    let server: SocketAddr = live
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("the server's address");
    // The slow client comes from another loopback address than the test's own requests.
    let mut slow = Vec::new();
    for _ in 0..30 {
        let socket = TcpSocket::new_v4().expect("a socket");
        socket
            .bind("127.0.0.2:0".parse().expect("an address"))
            .expect("bind 127.0.0.2");
        let mut stream = socket.connect(server).await.expect("connect");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: tandem\r\n")
            .await
            .expect("half a request");
        slow.push(stream);
    }
    let (status, _) = live.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK, "others are served");
    // The 20 allowed stay until the header timeout (2 s); the other 10 are closed at once.
    let early = futures_util::future::join_all(
        slow.iter_mut()
            .map(|stream| closed_within(stream, Duration::from_millis(500))),
    )
    .await;
    assert_eq!(
        early.iter().filter(|closed| **closed).count(),
        10,
        "{early:?}"
    );
    let later = futures_util::future::join_all(
        slow.iter_mut()
            .map(|stream| closed_within(stream, Duration::from_secs(5))),
    )
    .await;
    assert!(
        later.iter().all(|closed| *closed),
        "cut off at the timeout: {later:?}"
    );
    // A client of its own: the pooled connection idled into the same timeout.
    let response = reqwest::get(live.url("/healthz"))
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::OK);
}

/// Whether the server closes `stream` (perhaps after an error answer) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    let reading = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(within, reading).await.is_ok()
}

async fn slow_client_limits(db: TestDatabase) -> Live {
    Live::with_env(
        db,
        &[
            ("TANDEM_HEADER_READ_TIMEOUT_SECS", "2"),
            ("TANDEM_MAX_CONNECTIONS_PER_IP", "20"),
        ],
    )
    .await
}

/// Visitors writing as fast as the tenant's quota allows never make an operator's reply fail:
/// each side has its own allowance.
async fn visitors_cannot_use_up_the_operators_replies(live: Live) {
    let (status, body) = live
        .call(
            Method::PATCH,
            &format!("/api/v1/platform/tenants/{}", live.acme.id),
            Some(PLATFORM_TOKEN),
            Some(json!({"limits": {"messages_per_minute": 12}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let olga = live.online_operator(&live.acme, "Olga").await;
    let mut chats = Vec::new();
    let mut refused = 0;
    for i in 0..8 {
        let visitor = live.visitor(&live.acme).await;
        for _ in 0..2 {
            let (status, body) = live
                .visitor_call(
                    &visitor,
                    Method::POST,
                    "/chat/messages",
                    Some(json!({"body": format!("question {i}")})),
                )
                .await;
            match status {
                StatusCode::CREATED => {
                    chats.push(body["chat_id"].as_str().expect("a chat").to_owned())
                }
                StatusCode::TOO_MANY_REQUESTS => refused += 1,
                other => panic!("{other}: {body}"),
            }
        }
    }
    assert!(refused > 0, "the visitors' allowance ran out");
    chats.dedup();
    for chat in chats.iter().take(2) {
        let (status, body) = live
            .call(
                Method::POST,
                &format!("/api/v1/chats/{chat}/messages"),
                Some(&olga.token),
                Some(json!({"body": "On it."})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

/// One visitor may keep a few tabs open, not hundreds of sockets.
async fn a_visitor_cannot_hold_hundreds_of_sockets(live: Live) {
    let visitor = live.visitor(&live.acme).await;
    let url = live.ws_url(&format!(
        "/api/v1/widget/{}/ws?visitor_token={}",
        visitor.key, visitor.token
    ));
    let mut open = Vec::new();
    for _ in 0..10 {
        open.push(live.visitor_socket(&visitor).await);
    }
    match tokio_tungstenite::connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
        }
        other => panic!("the 11th socket is refused: {:?}", other.map(|_| ())),
    }
    // A closed tab frees its place.
    open.pop().expect("a socket").close().await;
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok((ws, _)) = tokio_tungstenite::connect_async(&url).await {
            reopened = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reopened.is_some(), "a place is free again");
}

/// Socket frames count against the client IP's allowance like requests do.
async fn socket_frames_count_against_the_ip_allowance(live: Live) {
    let visitor = live.visitor(&live.acme).await;
    let mut tab = live.visitor_socket(&visitor).await;
    for _ in 0..30 {
        tab.send(json!({"type": "typing"})).await;
    }
    let (code, reason) = tab.expect_close().await;
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.contains("rate limit"), "{reason}");
}

/// Text that would show other than it is (a reversed file name, a word split by invisible
/// spaces) is refused with the reason; the joiners real scripts and emoji need are kept.
async fn invisible_formatting_characters_are_refused(live: Live) {
    let visitor = live.visitor(&live.acme).await;
    for (path, body) in [
        (
            "/chat/messages",
            json!({"body": "Your invoice: invoice\u{202E}fdp.exe"}),
        ),
        (
            "/chat/messages",
            json!({"body": "Log in at pay\u{200B}pal.example"}),
        ),
    ] {
        let (status, answer) = live
            .visitor_call(&visitor, Method::POST, path, Some(body))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("invisible"),
            "{answer}"
        );
    }
    let (status, answer) = live
        .visitor_call(
            &visitor,
            Method::PUT,
            "/visitor",
            Some(json!({"name": "Shop\u{2066} Security"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = live
        .visitor_call(
            &visitor,
            Method::POST,
            "/chat/messages",
            Some(json!({"body": "سلام\u{200C}ها 👩\u{200D}💻"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

/// A long dialog comes in pages, newest first, for operators and the visitor alike.
async fn long_dialogs_come_in_pages(live: Live) {
    let olga = live.online_operator(&live.acme, "Olga").await;
    let visitor = live.visitor(&live.acme).await;
    let mut chat_id = String::new();
    for i in 1..=12 {
        let sent = live.visitor_says(&visitor, &format!("message {i}")).await;
        chat_id = sent["chat_id"].as_str().unwrap().to_owned();
    }
    let bodies = |page: &serde_json::Value| -> Vec<String> {
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["body"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, newest) = live
        .call(
            Method::GET,
            &format!("/api/v1/chats/{chat_id}?limit=5"),
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{newest}");
    assert_eq!(
        bodies(&newest),
        [
            "message 8",
            "message 9",
            "message 10",
            "message 11",
            "message 12"
        ]
    );
    assert_eq!(newest["has_more"], true);
    let first = newest["messages"][0]["seq"].as_i64().unwrap();
    let (_, older) = live
        .call(
            Method::GET,
            &format!("/api/v1/chats/{chat_id}?limit=5&before={first}"),
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(
        bodies(&older),
        [
            "message 3",
            "message 4",
            "message 5",
            "message 6",
            "message 7"
        ]
    );
    assert_eq!(older["has_more"], true);
    let (_, oldest) = live
        .call(
            Method::GET,
            &format!("/api/v1/chats/{chat_id}?limit=5&before=3"),
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(bodies(&oldest), ["message 1", "message 2"]);
    assert_eq!(oldest["has_more"], false);
    // The whole of a short dialog by default; the visitor pages the same way.
    let (_, all) = live
        .call(
            Method::GET,
            &format!("/api/v1/chats/{chat_id}"),
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(bodies(&all).len(), 12);
    assert_eq!(all["has_more"], false);
    let (_, mine) = live
        .visitor_call(&visitor, Method::GET, "/chat?limit=2&before=12", None)
        .await;
    assert_eq!(bodies(&mine), ["message 10", "message 11"]);
    assert_eq!(mine["has_more"], true);
    let (status, body) = live
        .call(
            Method::GET,
            &format!("/api/v1/chats/{chat_id}?before=x"),
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// Requests naming an unknown widget key from a page (with an `Origin`) are charged to the
/// client like any other: probing keys costs the database nothing past the allowance.
async fn unknown_widget_keys_count_against_the_ip_allowance(live: Live) {
    let mut statuses = Vec::new();
    for i in 0..20 {
        let response = live
            .http
            .get(live.url(&format!("/api/v1/widget/wk_probe{i}/config")))
            .header("origin", "https://shop.example")
            .send()
            .await
            .expect("the server answers");
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses[0], 404);
    assert!(statuses.contains(&429), "{statuses:?}");
}

/// Behind a trusted proxy each client has its own allowance, named by `X-Forwarded-For`.
async fn clients_behind_a_trusted_proxy_have_their_own_allowance(live: Live) {
    let config = format!("/api/v1/widget/{}/config", live.acme.widget_key);
    let get = |client: &'static str| {
        live.http
            .get(live.url(&config))
            .header("x-forwarded-for", client)
            .send()
    };
    let mut limited = false;
    for _ in 0..20 {
        if get("198.51.100.7").await.expect("answers").status() == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "one client runs out");
    let other = get("198.51.100.8").await.expect("answers");
    assert_eq!(
        other.status(),
        StatusCode::OK,
        "another client behind the proxy is served"
    );
}

async fn behind_a_proxy(db: TestDatabase) -> Live {
    Live::with_env(
        db,
        &[
            ("TANDEM_RATE_LIMIT_PER_IP", "60"),
            ("TANDEM_TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )
    .await
}

async fn per_ip_frame_limits(db: TestDatabase) -> Live {
    Live::with_env(
        db,
        &[
            ("TANDEM_RATE_LIMIT_PER_IP", "60"),
            ("TANDEM_RATE_LIMIT_PER_VISITOR", "100000"),
        ],
    )
    .await
}

tandem_testkit::on_both_databases!(
    Live::on_database =>
    guessing_a_password_is_throttled,
    visitors_cannot_use_up_the_operators_replies,
    a_visitor_cannot_hold_hundreds_of_sockets,
    invisible_formatting_characters_are_refused,
    long_dialogs_come_in_pages,
);

mod slow_clients {
    use super::*;
    tandem_testkit::on_both_databases!(slow_client_limits => half_sent_requests_cannot_starve_the_listener);
}

mod frames {
    use super::*;
    tandem_testkit::on_both_databases!(
        per_ip_frame_limits =>
        socket_frames_count_against_the_ip_allowance,
        unknown_widget_keys_count_against_the_ip_allowance,
    );
}

mod proxy {
    use super::*;
    tandem_testkit::on_both_databases!(behind_a_proxy => clients_behind_a_trusted_proxy_have_their_own_allowance);
}
