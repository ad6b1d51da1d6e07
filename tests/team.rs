//! Who answers, as a visitor sees it, over the real server on both databases: operators' photos
//! (an operator sets their own, an admin anyone's; only images, made small and new; served to
//! the company's widget and to no other company) and the "typically replies in" line computed
//! from the company's real waits. (Part of the `realtime_api` test binary.)

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tandem_core::clock::ManualClock;
use tandem_testkit::TestDatabase;

use crate::files::{chat_of, download, files_on_disk, header, png};
use crate::support::live::{Live, Operator};

async fn put_photo(
    live: &Live,
    token: &str,
    operator: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let response = live
        .http
        .put(live.url(&format!("/api/v1/operators/{operator}/avatar")))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn config(live: &Live, key: &str) -> Value {
    let (status, config) = live
        .call(
            Method::GET,
            &format!("/api/v1/widget/{key}/config"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{config}");
    config
}

fn widget_photo(key: &str, operator: &str, avatar: &str) -> String {
    format!("/api/v1/widget/{key}/operators/{operator}/avatars/{avatar}")
}

async fn operators_set_photos_that_the_widget_shows(live: Live) {
    let olga = live.online_operator(&live.acme, "Olga").await;
    let boris = live.online_operator(&live.acme, "Boris Petrov").await;
    let key = live.acme.widget_key.clone();

    // Her own photo: the middle square of what she sent, small, a new JPEG.
    let (status, me) = put_photo(&live, &olga.token, &olga.id, png(900, 600)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let avatar = me["avatar"].as_str().expect("a photo id").to_owned();
    let (status, headers, bytes) = download(
        &live,
        &format!("/api/v1/operators/{}/avatars/{avatar}", olga.id),
        Some(&boris.token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "content-type"), "image/jpeg");
    assert!(header(&headers, "cache-control").contains("immutable"));
    let seen = image::load_from_memory(&bytes).expect("an image");
    assert_eq!((seen.width(), seen.height()), (160, 160));
    assert_eq!(files_on_disk(&live), 1);

    // The widget shows it without a visitor's token; another company's widget does not.
    let (status, headers, public) =
        download(&live, &widget_photo(&key, &olga.id, &avatar), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(public, bytes);
    assert!(header(&headers, "cache-control").starts_with("public"));
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    let foreign = widget_photo(&live.globex.widget_key, &olga.id, &avatar);
    let (status, _, _) = download(&live, &foreign, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = download(
        &live,
        &format!("/api/v1/operators/{}/avatars/{avatar}", olga.id),
        Some(&live.globex.admin_token),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A colleague's photo is the admin's to change, not another operator's nor another
    // company's admin's.
    let (status, body) = put_photo(&live, &boris.token, &olga.id, png(200, 200)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = put_photo(&live, &live.globex.admin_token, &olga.id, png(200, 200)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    for (token, expected) in [
        (&boris.token, StatusCode::FORBIDDEN),
        (&live.globex.admin_token, StatusCode::NOT_FOUND),
    ] {
        let (status, body) = live
            .call(
                Method::DELETE,
                &format!("/api/v1/operators/{}/avatar", olga.id),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, expected, "{body}");
    }
    let (status, body) = put_photo(&live, &live.acme.admin_token, &boris.id, png(300, 300)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let boris_avatar = body["avatar"].as_str().expect("a photo id").to_owned();

    // Only images, whole, and not too large; a refusal changes nothing.
    let pdf = b"%PDF-1.4\n1 0 obj\n<< >>\nendobj\n%%EOF\n".to_vec();
    let mut cut = png(400, 400);
    cut.truncate(cut.len() / 2);
    for (bytes, expected, code) in [
        (
            pdf,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file_type_not_allowed",
        ),
        (
            b"<svg onload=alert(1)>".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file_type_not_allowed",
        ),
        (cut, StatusCode::UNSUPPORTED_MEDIA_TYPE, "file_unreadable"),
        (Vec::new(), StatusCode::BAD_REQUEST, "file_empty"),
        (
            vec![0xff; 9 * 1024 * 1024],
            StatusCode::PAYLOAD_TOO_LARGE,
            "file_too_large",
        ),
    ] {
        let (status, body) = put_photo(&live, &olga.token, &olga.id, bytes).await;
        assert_eq!(status, expected, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    let (_, me) = live
        .call(Method::GET, "/api/v1/auth/me", Some(&olga.token), None)
        .await;
    assert_eq!(me["avatar"], avatar.as_str(), "{me}");
    assert_eq!(files_on_disk(&live), 2, "Olga's and Boris's");

    // The widget's header shows the team, online first, with their photos.
    let team = config(&live, &key).await["team"].clone();
    let team = team.as_array().expect("the team");
    let olga_shown = team
        .iter()
        .find(|op| op["id"] == olga.id.as_str())
        .expect("Olga");
    assert_eq!(olga_shown["name"], "Olga");
    assert_eq!(olga_shown["avatar"], avatar.as_str());
    let boris_shown = team
        .iter()
        .find(|op| op["id"] == boris.id.as_str())
        .expect("Boris");
    assert_eq!(boris_shown["avatar"], boris_avatar.as_str());
    let (_, admin) = live
        .call(
            Method::GET,
            "/api/v1/auth/me",
            Some(&live.acme.admin_token),
            None,
        )
        .await;
    assert_eq!(team.len(), 3, "{team:?}");
    assert_eq!(
        team[2]["id"], admin["id"],
        "the offline admin after those online"
    );
    let globex_team = config(&live, &live.globex.widget_key).await["team"].clone();
    assert!(!globex_team.to_string().contains(&olga.id), "{globex_team}");

    // A company may keep its team out of the header: nobody's name is sent before a reply.
    live.update_settings(&live.acme, json!({ "branding": { "show_team": false } }))
        .await;
    let hidden = config(&live, &key).await;
    assert_eq!(hidden["team"], json!([]), "{hidden}");
    assert_eq!(hidden["branding"]["show_team"], false);
    live.update_settings(&live.acme, json!({ "branding": { "show_team": true } }))
        .await;
    assert_eq!(
        config(&live, &key).await["team"].as_array().map(Vec::len),
        Some(3)
    );

    // Beside her replies too.
    let anna = live.visitor(&live.acme).await;
    live.visitor_says(&anna, "Hello?").await;
    let chat = chat_of(&live, &anna).await;
    live.operator_says(&olga, &chat, "Hello, Anna!").await;
    let (_, dialog) = live.visitor_call(&anna, Method::GET, "/chat", None).await;
    assert_eq!(
        dialog["operators"][0]["avatar"],
        avatar.as_str(),
        "{dialog}"
    );

    // A new photo has a new address: the old one is gone, bytes and all.
    let (status, me) = put_photo(&live, &olga.token, &olga.id, png(120, 200)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let newer = me["avatar"].as_str().expect("a photo id").to_owned();
    assert_ne!(newer, avatar);
    let (status, _, _) = download(&live, &widget_photo(&key, &olga.id, &avatar), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, bytes) = download(&live, &widget_photo(&key, &olga.id, &newer), None).await;
    assert_eq!(status, StatusCode::OK);
    let seen = image::load_from_memory(&bytes).expect("an image");
    assert_eq!((seen.width(), seen.height()), (120, 120), "not blown up");
    assert_eq!(files_on_disk(&live), 2);

    // Removed: initials again, and nothing left in the store.
    let (status, me) = live
        .call(
            Method::DELETE,
            &format!("/api/v1/operators/{}/avatar", olga.id),
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert!(me["avatar"].is_null(), "{me}");
    let (status, _, _) = download(&live, &widget_photo(&key, &olga.id, &newer), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(files_on_disk(&live), 1, "Boris's");
}

/// A visitor writes, waits `minutes`, and Olga answers.
async fn answered_after(live: &Live, clock: &ManualClock, olga: &Operator, minutes: u64) {
    let visitor = live.visitor(&live.acme).await;
    live.visitor_says(&visitor, "Anyone there?").await;
    let chat = chat_of(live, &visitor).await;
    clock.advance(Duration::from_secs(minutes * 60));
    live.operator_says(olga, &chat, "Here I am.").await;
}

/// The figure a widget loading now gets (each process keeps it five minutes).
async fn typical_reply_later(live: &Live, clock: &ManualClock) -> Value {
    clock.advance(Duration::from_secs(6 * 60));
    config(live, &live.acme.widget_key).await["typical_reply"].clone()
}

async fn the_typical_reply_time_comes_from_real_waits((live, clock): (Live, ManualClock)) {
    let olga = live.online_operator(&live.acme, "Olga").await;
    assert!(config(&live, &live.acme.widget_key).await["typical_reply"].is_null());

    // Four answered waits are not enough to say anything.
    for minutes in [1, 2, 4, 5] {
        answered_after(&live, &clock, &olga, minutes).await;
    }
    assert!(typical_reply_later(&live, &clock).await.is_null());

    // A visitor who writes twice waits once: from their first message to the answer.
    let eva = live.visitor(&live.acme).await;
    live.visitor_says(&eva, "Hello").await;
    let chat = chat_of(&live, &eva).await;
    clock.advance(Duration::from_secs(60));
    live.visitor_says(&eva, "Are you there?").await;
    clock.advance(Duration::from_secs(120));
    live.operator_says(&olga, &chat, "Yes!").await;
    // A second reply answers nothing more.
    clock.advance(Duration::from_secs(600));
    live.operator_says(&olga, &chat, "Anything else?").await;
    assert_eq!(
        typical_reply_later(&live, &clock).await,
        json!({ "seconds": 180, "waits": 5 }),
        "the median of 1, 2, 3, 4 and 5 minutes"
    );

    // A wait that began while nobody was online says nothing of how fast the team answers
    // while it is there; nor does one a close ended unanswered.
    live.set_status(&olga, "away").await;
    let night = live.visitor(&live.acme).await;
    live.visitor_says(&night, "Hello at night").await;
    let night_chat = chat_of(&live, &night).await;
    clock.advance(Duration::from_secs(8 * 3600));
    live.set_status(&olga, "online").await;
    live.operator_says(&olga, &night_chat, "Good morning!")
        .await;
    let dropped = live.visitor(&live.acme).await;
    live.visitor_says(&dropped, "Never mind").await;
    let dropped_chat = chat_of(&live, &dropped).await;
    clock.advance(Duration::from_secs(3600));
    let (status, body) = live
        .call(
            Method::POST,
            &format!("/api/v1/chats/{dropped_chat}/close"),
            Some(&olga.token),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        typical_reply_later(&live, &clock).await,
        json!({ "seconds": 180, "waits": 5 })
    );

    // Another company's widget knows nothing of Acme's waits.
    assert!(config(&live, &live.globex.widget_key).await["typical_reply"].is_null());

    // Waits older than 30 days no longer count.
    clock.advance(Duration::from_secs(31 * 24 * 3600));
    assert!(typical_reply_later(&live, &clock).await.is_null());
}

async fn on_a_clock(db: TestDatabase) -> (Live, ManualClock) {
    Live::on_manual_clock(db, &[]).await
}

tandem_testkit::on_both_databases!(
    Live::on_database =>
    operators_set_photos_that_the_widget_shows,
);

mod clocked {
    use super::*;

    tandem_testkit::on_both_databases!(
        on_a_clock =>
        the_typical_reply_time_comes_from_real_waits,
    );
}
