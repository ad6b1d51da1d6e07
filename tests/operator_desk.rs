//! What an operator works with beside the dialog, over the real binary on both databases:
//! internal notes that no visitor path carries, previews and unread counts in the lists, and
//! the company's canned replies. (Part of the `realtime_api` test binary.)

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::live::Live;

const NOTE: &str = "NOTE-7731: refund approved by finance, do not promise more";

/// Boris leaves a note in Olga's chat. Olga and Boris see it live and in the dialog, after the
/// message it followed; the visitor's socket, the widget's dialog and the chat the visitor is
/// shown carry nothing of it; Globex can neither read nor write Acme's notes; bad notes are
/// refused and change nothing.
async fn a_note_reaches_operators_and_no_visitor_path(live: Live) {
    let olga = live.online_operator(&live.acme, "Olga").await;
    let boris = live.online_operator(&live.acme, "Boris").await;
    let anna = live.visitor(&live.acme).await;
    live.visitor_says(&anna, "Can I get a refund?").await;
    let (_, dialog) = live.visitor_call(&anna, Method::GET, "/chat", None).await;
    let chat = dialog["chat"]["id"].as_str().expect("a chat").to_owned();
    live.operator_says(&olga, &chat, "Let me check.").await;

    let mut visitor_socket = live.visitor_socket(&anna).await;
    let mut olga_socket = live.operator_socket(&olga.token).await;
    let mut stranger = live.operator_socket(&live.globex.admin_token).await;

    let notes_path = format!("/api/v1/chats/{chat}/notes");
    let (status, note) = live
        .call(
            Method::POST,
            &notes_path,
            Some(&boris.token),
            Some(json!({ "body": NOTE })),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a colleague's chat takes notes: {note}"
    );
    assert_eq!(note["after_seq"], 2, "{note}");
    assert_eq!(note["author_id"], boris.id.as_str());
    let seen = olga_socket.expect("note.added").await;
    assert_eq!(seen["note"]["body"], NOTE);

    let ours = live.dialog(&olga.token, &chat).await;
    assert_eq!(ours["notes"], json!([note]), "{ours:#}");
    assert_eq!(
        ours["messages"].as_array().unwrap().len(),
        2,
        "a note is no message"
    );
    assert_eq!(ours["chat"]["last_message"]["preview"], "Let me check.");

    // Nothing of it on any visitor path.
    let to_visitor = visitor_socket
        .frames_within(Duration::from_millis(500))
        .await;
    assert!(
        !format!("{to_visitor:?}").contains("NOTE-7731"),
        "{to_visitor:#?}"
    );
    let (_, theirs) = live.visitor_call(&anna, Method::GET, "/chat", None).await;
    assert!(!theirs.to_string().contains("NOTE-7731"), "{theirs:#}");
    assert!(theirs.get("notes").is_none());
    // The chat as the visitor is shown it: not the company's own marks.
    for internal in ["tags", "priority", "operator_id", "unread", "last_message"] {
        assert!(
            theirs["chat"].get(internal).is_none(),
            "{internal}: {theirs:#}"
        );
    }
    // Not to another company.
    let theirs = stranger.frames_within(Duration::from_millis(100)).await;
    assert!(
        !theirs.iter().any(|f| f["type"] == "note.added"),
        "{theirs:#?}"
    );

    // Globex cannot write into, or read, Acme's dialog.
    let (status, _) = live
        .call(
            Method::POST,
            &notes_path,
            Some(&live.globex.admin_token),
            Some(json!({ "body": "x" })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = live
        .call(
            Method::GET,
            &format!("/api/v1/chats/{chat}"),
            Some(&live.globex.admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Refused, and nothing written.
    let too_long = "x".repeat(tandem_core::limits::Limits::DEFAULT_MAX_MESSAGE_CHARS + 1);
    for (token, body, expected) in [
        (
            Some(olga.token.as_str()),
            json!({ "body": "   " }),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(olga.token.as_str()),
            json!({ "body": too_long }),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(olga.token.as_str()),
            json!({ "text": "wrong field" }),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some(anna.token.as_str()),
            json!({ "body": "a visitor's" }),
            StatusCode::UNAUTHORIZED,
        ),
        (
            None,
            json!({ "body": "nobody's" }),
            StatusCode::UNAUTHORIZED,
        ),
    ] {
        let (status, answer) = live
            .call(Method::POST, &notes_path, token, Some(body))
            .await;
        assert_eq!(status, expected, "{answer}");
    }
    let (status, _) = live
        .call(
            Method::POST,
            "/api/v1/chats/00000000-0000-0000-0000-000000000000/notes",
            Some(&olga.token),
            Some(json!({ "body": "where?" })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let after = live.dialog(&olga.token, &chat).await;
    assert_eq!(after["notes"].as_array().unwrap().len(), 1, "{after:#}");

    // The next message goes after the note; a page of older messages brings the notes among them.
    live.visitor_says(&anna, "Thanks!").await;
    let (status, older) = live
        .call(
            Method::GET,
            &format!("/api/v1/chats/{chat}?before=3"),
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{older}");
    assert_eq!(older["notes"], json!([note]), "{older:#}");
    let (_, oldest) = live
        .call(
            Method::GET,
            &format!("/api/v1/chats/{chat}?before=2"),
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(
        oldest["notes"],
        json!([]),
        "it follows message 2: {oldest:#}"
    );
}

/// The lists show each chat's newest message and how many of the visitor's messages nobody
/// has read: reading, editing and answering keep both true, and every workspace hears of it.
async fn lists_show_the_last_message_and_the_unread_count(live: Live) {
    let olga = live.online_operator(&live.acme, "Olga").await;
    let mut watch = live.operator_socket(&olga.token).await;
    let anna = live.visitor(&live.acme).await;
    let first = live.visitor_says(&anna, "Hello?").await;
    let long = "é".repeat(200);
    let second = live.visitor_says(&anna, &long).await;
    let chat = first["chat_id"].as_str().unwrap().to_owned();

    let listed = |chats: Vec<Value>| {
        chats
            .into_iter()
            .find(|c| c["id"] == chat.as_str())
            .expect("listed")
    };
    let queued = listed(live.category(&olga.token, "offline").await);
    assert_eq!(queued["unread"], 2, "{queued:#}");
    assert_eq!(queued["last_message"]["author"], "visitor");
    assert_eq!(queued["last_message"]["seq"], 2);
    assert_eq!(
        queued["last_message"]["preview"],
        format!("{}…", "é".repeat(160)).as_str(),
        "cut on a character boundary"
    );

    // Read up to the first: one left, and the workspaces are told.
    let read_path = format!("/api/v1/chats/{chat}/read");
    let (status, _) = live
        .call(
            Method::POST,
            &read_path,
            Some(&olga.token),
            Some(json!({ "up_to": first["id"] })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let updated = watch
        .expect_where("chat.updated", |f| {
            f["chat"]["id"] == chat.as_str() && f["chat"]["last_message"]["seq"] == 2
        })
        .await;
    assert_eq!(updated["chat"]["unread"], 1, "{updated:#}");
    // Reading the same again changes nothing.
    live.call(
        Method::POST,
        &read_path,
        Some(&olga.token),
        Some(json!({ "up_to": first["id"] })),
    )
    .await;
    assert_eq!(
        listed(live.category(&olga.token, "offline").await)["unread"],
        1
    );

    // The visitor corrects their last message: the preview follows. An edit of an earlier one
    // leaves it.
    let edit = |id: &Value| format!("/chat/messages/{}", id.as_str().unwrap());
    let (status, _) = live
        .visitor_call(
            &anna,
            Method::PATCH,
            &edit(&second["id"]),
            Some(json!({ "body": "Hello, anyone?" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = live
        .visitor_call(
            &anna,
            Method::PATCH,
            &edit(&first["id"]),
            Some(json!({ "body": "Hi" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let queued = listed(live.category(&olga.token, "offline").await);
    assert_eq!(queued["last_message"]["preview"], "Hello, anyone?");

    let (status, _) = live
        .call(
            Method::POST,
            &read_path,
            Some(&olga.token),
            Some(json!({ "up_to": second["id"] })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    live.operator_says(&olga, &chat, "Here!").await;
    let active = listed(live.category(&olga.token, "active").await);
    assert_eq!(active["unread"], 0, "{active:#}");
    assert_eq!(active["last_message"]["author"], "operator");
    assert_eq!(active["last_message"]["preview"], "Here!");
    assert_eq!(active["last_message"]["seq"], 3);
}

/// Acme's admin keeps canned replies; Acme's operators read them and may not change them;
/// Globex sees none of them and can touch none; bad ones are refused and change nothing.
async fn canned_replies_are_the_companys_own(live: Live) {
    let olga = live.online_operator(&live.acme, "Olga").await;
    let admin = live.acme.admin_token.as_str();
    let create = |token: &str, shortcut: &str, body: &str| {
        let token = token.to_owned();
        let body = json!({ "shortcut": shortcut, "body": body });
        let live = &live;
        async move {
            live.call(
                Method::POST,
                "/api/v1/admin/canned-replies",
                Some(&token),
                Some(body),
            )
            .await
        }
    };
    let (status, hello) = create(admin, "/Hello", "Hi {name|there}, I'm {operator}.").await;
    assert_eq!(status, StatusCode::CREATED, "{hello}");
    assert_eq!(hello["shortcut"], "hello", "lowered, without its slash");
    let (status, _) = create(admin, "refund-policy", "Refunds take 5 days.").await;
    assert_eq!(status, StatusCode::CREATED);

    let list = |token: String| {
        let live = &live;
        async move {
            let (status, body) = live
                .call(Method::GET, "/api/v1/canned-replies", Some(&token), None)
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["canned_replies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["shortcut"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(olga.token.clone()).await, ["hello", "refund-policy"]);
    assert!(list(live.globex.admin_token.clone()).await.is_empty());

    // Refused, and nothing changes.
    for (token, shortcut, body, expected) in [
        (
            olga.token.as_str(),
            "mine",
            "An operator's",
            StatusCode::FORBIDDEN,
        ),
        (admin, "hello", "Taken", StatusCode::CONFLICT),
        (admin, "two words", "Bad shortcut", StatusCode::BAD_REQUEST),
        (admin, "", "Empty shortcut", StatusCode::BAD_REQUEST),
        (admin, "blank", "  ", StatusCode::BAD_REQUEST),
    ] {
        let (status, answer) = create(token, shortcut, body).await;
        assert_eq!(status, expected, "{shortcut}: {answer}");
    }
    let path = format!(
        "/api/v1/admin/canned-replies/{}",
        hello["id"].as_str().unwrap()
    );
    let change = json!({ "shortcut": "hi", "body": "Hello {name}!" });
    for token in [live.globex.admin_token.as_str()] {
        let (status, _) = live
            .call(Method::PUT, &path, Some(token), Some(change.clone()))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "another company's");
        let (status, _) = live.call(Method::DELETE, &path, Some(token), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, _) = live
        .call(Method::PUT, &path, Some(&olga.token), Some(change.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = live
        .call(
            Method::PUT,
            &path,
            Some(admin),
            Some(json!({ "shortcut": "refund-policy", "body": "x" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "another reply's shortcut");
    assert_eq!(list(olga.token.clone()).await, ["hello", "refund-policy"]);

    let (status, changed) = live
        .call(Method::PUT, &path, Some(admin), Some(change))
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["body"], "Hello {name}!");
    assert_eq!(list(olga.token.clone()).await, ["hi", "refund-policy"]);
    let (status, _) = live.call(Method::DELETE, &path, Some(admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = live.call(Method::DELETE, &path, Some(admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(list(olga.token.clone()).await, ["refund-policy"]);
}

/// An operator finds a dialog by a word of any of its messages (the start of a word is enough,
/// in any script), by the visitor's name or address; an edit is found by its new words only;
/// Globex's search never reaches Acme's dialogs; text with no word finds nothing, and a query
/// too long is refused.
async fn search_finds_dialogs_within_the_company(live: Live) {
    let olga = live.online_operator(&live.acme, "Olga").await;
    let vera = live.visitor(&live.acme).await;
    let (status, _) = live
        .visitor_call(
            &vera,
            Method::PUT,
            "/visitor",
            Some(json!({"name": "Vera Kuznetsova", "email": "vera@example.org"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let asked = live.visitor_says(&vera, "My parcel number is 88231").await;
    let chat = asked["chat_id"].as_str().unwrap().to_owned();
    live.operator_says(&olga, &chat, "Found your parcel, it left today")
        .await;
    live.visitor_says(&vera, "Спасибо! Где посылка сейчас?")
        .await;
    let gus = live.visitor(&live.globex).await;
    live.visitor_says(&gus, "parcel 88231 is mine too, Kuznetsova")
        .await;

    let search = |token: String, q: &str| {
        let path = format!("/api/v1/search?q={}", urlencoding(q));
        let live = &live;
        async move {
            let (status, body) = live.call(Method::GET, &path, Some(&token), None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["hits"].as_array().unwrap().clone()
        }
    };
    let acme = |q: &str| search(olga.token.clone(), q);

    let hits = acme("parc").await;
    assert_eq!(hits.len(), 2, "{hits:#?}");
    assert_eq!(hits[0]["message"]["author"], "operator", "newest first");
    assert_eq!(hits[1]["message"]["seq"], 1);
    assert_eq!(hits[1]["chat"]["id"], chat.as_str());
    assert_eq!(hits[1]["message"]["snippet"], "My parcel number is 88231");
    assert_eq!(hits[1]["message"]["highlights"], json!([[3, 9]]));

    let hits = acme("ПОСЫЛ").await;
    assert_eq!(hits.len(), 1, "{hits:#?}");
    assert_eq!(hits[0]["message"]["seq"], 3);

    for q in ["kuznets", "vera@example.org", "Vera K"] {
        let hits = acme(q).await;
        assert_eq!(hits.len(), 1, "{q}: {hits:#?}");
        assert_eq!(hits[0]["chat"]["id"], chat.as_str(), "{q}");
        assert_eq!(hits[0]["message"], Value::Null, "{q}: the visitor matched");
    }

    // Each company finds its own.
    let theirs = search(live.globex.admin_token.clone(), "88231").await;
    assert_eq!(theirs.len(), 1, "{theirs:#?}");
    assert_ne!(theirs[0]["chat"]["id"], chat.as_str());
    let kuz = search(live.globex.admin_token.clone(), "Kuznetsova").await;
    assert!(
        kuz.iter().all(|h| h["message"] != Value::Null),
        "Acme's visitor is not Globex's: {kuz:#?}"
    );
    assert_eq!(acme("88231").await.len(), 1);

    // An edit is found by what it says now.
    let (status, _) = live
        .visitor_call(
            &vera,
            Method::PATCH,
            &format!("/chat/messages/{}", asked["id"].as_str().unwrap()),
            Some(json!({"body": "My parcel number is 99120"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(acme("88231").await.is_empty());
    assert_eq!(acme("9912").await.len(), 1);

    assert!(acme("  ?!  ").await.is_empty(), "no word, nothing found");
    let (status, _) = live
        .call(
            Method::GET,
            &format!("/api/v1/search?q={}", "a".repeat(201)),
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = live
        .call(Method::GET, "/api/v1/search?q=parcel", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = live
        .call(
            Method::GET,
            "/api/v1/search?q=parcel",
            Some(&vera.token),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a visitor's token searches nothing"
    );
}

fn urlencoding(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Beside the dialog the operators see where the visitor is: each page the widget reports, live,
/// with where the visit came from and the visitor's time zone; a reload is no new page, an
/// address that is not one is refused and changes nothing; a visit after leaving counts anew;
/// neither the visitor nor another company hears any of it.
async fn the_context_follows_the_visitor_through_the_site(live: Live) {
    live.set_grace(&live.acme, 0).await;
    let olga = live.online_operator(&live.acme, "Olga").await;
    let vera = live.visitor(&live.acme).await;
    let mut widget = live.visitor_socket(&vera).await;
    let asked = live.visitor_says(&vera, "Is the blue one in stock?").await;
    let chat = asked["chat_id"].as_str().unwrap().to_owned();
    let mut watch = live.operator_socket(&olga.token).await;
    let mut stranger = live.operator_socket(&live.globex.admin_token).await;

    let page = |url: &str, title: &str, referrer: &str| json!({"type": "page", "url": url, "title": title, "referrer": referrer, "time_zone": "Europe/Berlin"});
    widget
        .send(page(
            "https://shop.example/",
            "Shop",
            "https://www.google.com/search?q=umbrella",
        ))
        .await;
    let told = watch.expect("visitor.context").await;
    assert_eq!(told["chat_id"], chat.as_str());
    let context = &told["context"];
    assert_eq!(
        context["current_page"]["url"], "https://shop.example/",
        "{told:#}"
    );
    assert_eq!(context["current_page"]["title"], "Shop");
    assert_eq!(
        context["referrer"],
        "https://www.google.com/search?q=umbrella"
    );
    assert_eq!(context["time_zone"], "Europe/Berlin");
    assert_eq!(context["visits"], 1);
    assert_eq!(context["online"], true);

    widget
        .send(page(
            "https://shop.example/pricing",
            "Pricing",
            "https://shop.example/",
        ))
        .await;
    let told = watch.expect("visitor.context").await;
    let context = &told["context"];
    assert_eq!(
        context["current_page"]["url"],
        "https://shop.example/pricing"
    );
    let pages: Vec<&str> = context["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        pages,
        ["https://shop.example/pricing", "https://shop.example/"],
        "newest first"
    );
    assert_eq!(
        context["referrer"], "https://www.google.com/search?q=umbrella",
        "the visit came from where its first page said"
    );

    // A reload is no new page; an address that is not one is refused.
    widget
        .send(page("https://shop.example/pricing", "Pricing", ""))
        .await;
    widget
        .send(json!({"type": "page", "url": "javascript:alert(1)"}))
        .await;
    let refused = widget.expect("error").await;
    assert!(refused.to_string().contains("page_url"), "{refused}");
    let quiet = watch.frames_within(Duration::from_millis(300)).await;
    assert!(
        !quiet.iter().any(|f| f["type"] == "visitor.context"),
        "{quiet:#?}"
    );
    let dialog = live.dialog(&olga.token, &chat).await;
    assert_eq!(
        dialog["context"]["pages"].as_array().unwrap().len(),
        2,
        "{dialog:#}"
    );
    assert_eq!(
        dialog["context"]["current_page"]["url"],
        "https://shop.example/pricing"
    );
    // The same page retitled by the site's script: the title follows, no new page.
    widget
        .send(page(
            "https://shop.example/pricing",
            "Pricing: winter sale",
            "",
        ))
        .await;
    let told = watch.expect("visitor.context").await;
    assert_eq!(
        told["context"]["current_page"]["title"],
        "Pricing: winter sale"
    );
    assert_eq!(told["context"]["pages"].as_array().unwrap().len(), 2);

    // Nobody else hears of it: not the visitor, not Globex.
    let theirs = stranger.frames_within(Duration::from_millis(100)).await;
    assert!(
        !theirs.iter().any(|f| f["type"] == "visitor.context"),
        "{theirs:#?}"
    );
    let own = widget.frames_within(Duration::from_millis(100)).await;
    assert!(
        !own.iter().any(|f| f["type"] == "visitor.context"),
        "{own:#?}"
    );
    let (_, mine) = live.visitor_call(&vera, Method::GET, "/chat", None).await;
    assert!(!mine.to_string().contains("shop.example"), "{mine:#}");

    // She leaves and comes back: a second visit, with no page yet.
    widget.close().await;
    watch
        .expect_where("chat.updated", |f| {
            f["chat"]["id"] == chat.as_str() && f["chat"]["visitor_online"] == false
        })
        .await;
    let mut widget = live.visitor_socket(&vera).await;
    watch
        .expect_where("chat.updated", |f| {
            f["chat"]["id"] == chat.as_str() && f["chat"]["visitor_online"] == true
        })
        .await;
    let dialog = live.dialog(&olga.token, &chat).await;
    assert_eq!(dialog["context"]["visits"], 2, "{dialog:#}");
    assert_eq!(dialog["context"]["pages"], json!([]));
    assert_eq!(dialog["context"]["current_page"], Value::Null);
    widget
        .send(page(
            "https://shop.example/cart",
            "Cart",
            "https://shop.example/",
        ))
        .await;
    let told = watch.expect("visitor.context").await;
    assert_eq!(
        told["context"]["current_page"]["url"],
        "https://shop.example/cart"
    );
    assert_eq!(
        told["context"]["referrer"],
        Value::Null,
        "the site itself is not where a visit came from"
    );

    // A burst of pages is told once a second at most, the last page always.
    for path in ["a", "b", "c", "d"] {
        let url = format!("https://shop.example/{path}");
        widget.send(page(&url, path, "")).await;
    }
    let burst = watch.frames_within(Duration::from_millis(2500)).await;
    let told: Vec<&Value> = burst
        .iter()
        .filter(|f| f["type"] == "visitor.context")
        .collect();
    assert!((1..=2).contains(&told.len()), "{told:#?}");
    assert_eq!(
        told.last().unwrap()["context"]["current_page"]["url"],
        "https://shop.example/d"
    );
}

tandem_testkit::on_both_databases!(
    Live::on_database =>
    a_note_reaches_operators_and_no_visitor_path,
    lists_show_the_last_message_and_the_unread_count,
    canned_replies_are_the_companys_own,
    search_finds_dialogs_within_the_company,
    the_context_follows_the_visitor_through_the_site,
);
