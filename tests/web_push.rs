//! Web Push to operators' browsers: each operator opts browsers in, and an alert reaches every
//! one of the tenant's, encrypted to that browser and signed with the installation's VAPID key.
//! No real push service can be reached here: a local receiver stands in for it, and the test
//! decrypts and verifies what it got as a browser and a push service would. (Part of the
//! `notifications` test binary.)

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tandem_core::clock::Clock;
use tandem_core::clock::{ManualClock, SystemClock};
use tandem_testkit::TestDatabase;
use tandem_testkit::receiver::{Receiver, Request};

use crate::support::live::{Live, Operator};

/// A browser's side of a subscription: its key pair and authentication secret.
struct Browser {
    secret: p256::SecretKey,
    auth: [u8; 16],
    endpoint: String,
}

impl Browser {
    fn at(endpoint: String, seed: u8) -> Self {
        Self {
            secret: p256::SecretKey::from_slice(&[seed; 32]).expect("a scalar"),
            auth: [seed; 16],
            endpoint,
        }
    }

    /// What `PushSubscription.toJSON()` gives in a browser.
    fn subscription(&self) -> Value {
        let public = self.secret.public_key().to_encoded_point(false);
        json!({
            "endpoint": self.endpoint,
            "expirationTime": null,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(public.as_bytes()),
                "auth": URL_SAFE_NO_PAD.encode(self.auth),
            },
        })
    }

    /// The notification in a push, as the browser decrypts it.
    fn open(&self, push: &Request) -> Value {
        let auth = web_push_native::Auth::clone_from_slice(&self.auth);
        let clear = web_push_native::decrypt(push.body.clone(), &self.secret, &auth)
            .expect("encrypted to this browser");
        serde_json::from_slice(&clear).expect("JSON")
    }
}

struct Pushing {
    live: Live,
    clock: ManualClock,
    service: Receiver,
}

impl Pushing {
    async fn on_database(db: TestDatabase) -> Self {
        let (live, clock) = Live::on_manual_clock(
            db,
            &[
                // The push service here is on loopback.
                ("TANDEM_WEBHOOK_PRIVATE_ADDRESSES", "true"),
                ("TANDEM_SWEEP_EVERY_SECS", "1"),
                ("TANDEM_MAIL_FROM", "Tandem <alerts@tandem.example>"),
            ],
        )
        .await;
        let service = Receiver::start().await;
        service.answer(201);
        Self {
            live,
            clock,
            service,
        }
    }

    async fn opt_in(&self, operator: &str, browser: &Browser) -> Value {
        let (status, body) = self
            .live
            .call(
                Method::POST,
                "/api/v1/push/subscriptions",
                Some(operator),
                Some(browser.subscription()),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    async fn browsers_of(&self, operator: &Operator) -> Vec<Value> {
        let (status, body) = self
            .live
            .call(
                Method::GET,
                "/api/v1/push/subscriptions",
                Some(&operator.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["subscriptions"].as_array().expect("a list").clone()
    }

    /// The pushes the service got for `path`, once there are `count`, within 10 s.
    async fn pushes_to(&self, path: &str, count: usize) -> Vec<Request> {
        for _ in 0..100 {
            let got = self.to(path);
            if got.len() >= count {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{count} pushes to {path} did not come: {:?}", self.to(path));
    }

    fn to(&self, path: &str) -> Vec<Request> {
        self.service
            .requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

/// The VAPID `Authorization` of a push checked as a push service does: a JWT signed (ES256) by
/// the key browsers subscribed with, for this service's origin, not expired.
fn assert_signed(push: &Request, key: &str, audience: &str) {
    let authorization = push
        .header("authorization")
        .expect("an Authorization header");
    let (token, k) = authorization
        .strip_prefix("vapid t=")
        .and_then(|rest| rest.split_once(", k="))
        .unwrap_or_else(|| panic!("vapid t=…, k=…: {authorization}"));
    assert_eq!(k, key, "signed with the key browsers subscribe with");
    let (signed, signature) = token.rsplit_once('.').expect("a JWT");
    let (header, claims) = signed.split_once('.').expect("a JWT");
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
    };
    assert_eq!(decode(header)["alg"], "ES256");
    let claims = decode(claims);
    assert_eq!(claims["aud"], audience, "{claims}");
    let now = SystemClock.now().millis() / 1000;
    let expires = claims["exp"].as_i64().expect("exp");
    assert!(expires > now && expires <= now + 24 * 3600, "{claims}");
    assert_eq!(claims["sub"], "mailto:alerts@tandem.example");
    let public = VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(key).unwrap()).unwrap();
    let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
    public
        .verify(signed.as_bytes(), &signature)
        .expect("a valid signature");
    assert_eq!(push.header("content-encoding"), Some("aes128gcm"));
    assert_eq!(push.header("ttl"), Some("43200"));
    assert_eq!(push.header("urgency"), Some("high"));
}

async fn an_alert_reaches_every_browser_where_operators_opted_in(p: Pushing) {
    let live = &p.live;
    let olga = live.online_operator(&live.acme, "Olga").await;
    let boris = live.online_operator(&live.acme, "Boris").await;
    live.set_status(&boris, "offline").await;
    let gus = live.online_operator(&live.globex, "Gus").await;

    let (status, key) = live
        .call(Method::GET, "/api/v1/push/key", Some(&olga.token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{key}");
    let key = key["public_key"].as_str().expect("a key").to_owned();
    assert_eq!(URL_SAFE_NO_PAD.decode(&key).unwrap().len(), 65);

    let olga_laptop = Browser::at(p.service.url("/olga-laptop"), 11);
    let boris_desktop = Browser::at(p.service.url("/boris-desktop"), 12);
    let gus_laptop = Browser::at(p.service.url("/gus-laptop"), 13);
    // Boris's phone was reset: its push service no longer knows it.
    let gone = Receiver::start().await;
    gone.answer(410);
    let boris_phone = Browser::at(gone.url("/boris-phone"), 14);
    let response = live
        .client
        .http
        .post(live.url("/api/v1/push/subscriptions"))
        .bearer_auth(&olga.token)
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        )
        .json(&olga_laptop.subscription())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let olga_sub: Value = response.json().await.unwrap();
    assert!(
        olga_sub["label"].as_str().unwrap().contains("Chrome"),
        "{olga_sub}"
    );
    p.opt_in(&boris.token, &boris_desktop).await;
    p.opt_in(&boris.token, &boris_phone).await;
    p.opt_in(&gus.token, &gus_laptop).await;
    assert_eq!(p.browsers_of(&olga).await.len(), 1);
    assert_eq!(p.browsers_of(&boris).await.len(), 2);

    // Nobody opts a browser out but its own operator; another tenant's is not even found.
    let olga_id = olga_sub["id"].as_str().unwrap();
    for stranger in [&gus.token, &boris.token] {
        let (status, body) = live
            .call(
                Method::DELETE,
                &format!("/api/v1/push/subscriptions/{olga_id}"),
                Some(stranger),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
    assert_eq!(p.browsers_of(&olga).await.len(), 1);

    // The night's offline request: every browser of Acme's operators gets it, Globex's none.
    let vera = live.visitor(&live.acme).await;
    let chat = live
        .offline_request(&vera, "Vera", "vera@example.org", "Do you ship to Oslo?")
        .await;
    let audience = format!("http://{}", p.service.addr);
    for (path, browser) in [
        ("/olga-laptop", &olga_laptop),
        ("/boris-desktop", &boris_desktop),
    ] {
        let pushes = p.pushes_to(path, 1).await;
        assert_eq!(pushes.len(), 1, "{path}");
        assert_signed(&pushes[0], &key, &audience);
        assert!(
            !String::from_utf8_lossy(&pushes[0].body).contains("Oslo"),
            "the push service cannot read it"
        );
        let alert = browser.open(&pushes[0]);
        assert_eq!(alert["chat"], chat.as_str(), "{alert}");
        assert_eq!(alert["title"], "Vera left an offline request");
        assert_eq!(alert["body"], "Do you ship to Oslo?");
        assert_eq!(alert["url"], format!("/app#chat={chat}"));
    }
    // The gone phone is forgotten; Boris keeps his desktop.
    for _ in 0..100 {
        if p.browsers_of(&boris).await.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let left = p.browsers_of(&boris).await;
    assert_eq!(left.len(), 1, "{left:#?}");
    assert_eq!(left[0]["endpoint"], boris_desktop.endpoint);
    assert_eq!(
        gone.requests().len(),
        1,
        "a gone browser is not tried again"
    );

    // The push service is down for a while: the push comes once it is back, once.
    p.service.answer(503);
    let petr = live.visitor(&live.acme).await;
    let petr_chat = live
        .offline_request(&petr, "Petr", "petr@example.org", "Open on Monday?")
        .await;
    p.pushes_to("/olga-laptop", 2).await;
    p.pushes_to("/boris-desktop", 2).await;
    // The refusals answered before the service comes back.
    tokio::time::sleep(Duration::from_millis(200)).await;
    p.service.answer(201);
    p.clock.advance(Duration::from_secs(31));
    let pushes = p.pushes_to("/olga-laptop", 3).await;
    assert_eq!(olga_laptop.open(&pushes[2])["chat"], petr_chat.as_str());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    p.clock.advance(Duration::from_secs(120));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(p.to("/olga-laptop").len(), 3, "sent once when it worked");
    let mine = p.browsers_of(&olga).await;
    assert!(mine[0]["last_sent_at"].is_string(), "{mine:#?}");

    // Olga opts her laptop out: the next alert reaches Boris alone.
    let (status, body) = live
        .call(
            Method::DELETE,
            &format!("/api/v1/push/subscriptions/{olga_id}"),
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let zoya = live.visitor(&live.acme).await;
    let zoya_chat = live
        .offline_request(&zoya, "Zoya", "zoya@example.org", "Where is my parcel?")
        .await;
    // Boris's desktop had Vera's, Petr's refused and Petr's again.
    let pushes = p.pushes_to("/boris-desktop", 4).await;
    assert_eq!(boris_desktop.open(&pushes[3])["chat"], zoya_chat.as_str());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(p.to("/olga-laptop").len(), 3, "opted out");
    assert!(
        p.to("/gus-laptop").is_empty(),
        "Globex heard nothing of Acme"
    );
}

/// What no browser sends is refused with a clear error, and nothing is stored.
async fn a_subscription_is_checked(p: Pushing) {
    let live = &p.live;
    let olga = live.online_operator(&live.acme, "Olga").await;
    let endpoint = "https://fcm.googleapis.com/fcm/send/abc:def";
    let good = Browser::at(endpoint.into(), 21).subscription();
    let mut cases = Vec::new();
    for (pointer, value) in [
        ("/endpoint", json!("http://fcm.googleapis.com/fcm/send/abc")),
        ("/endpoint", json!("ftp://fcm.googleapis.com/abc")),
        // Not a push service: the server's requests are not for aiming anywhere.
        ("/endpoint", json!("https://intranet.acme.example/admin")),
        ("/endpoint", json!("https://169.254.169.254/latest")),
        (
            "/endpoint",
            json!(format!("https://fcm.googleapis.com/{}", "a".repeat(1100))),
        ),
        ("/keys/p256dh", json!("BAAA")),
        ("/keys/auth", json!("not base64!")),
        ("/keys/auth", json!(42)),
    ] {
        let mut bad = good.clone();
        *bad.pointer_mut(pointer).unwrap() = value;
        cases.push(bad);
    }
    let mut extra = good.clone();
    extra["keys"]["extra"] = json!("x");
    cases.push(extra);
    cases.push(json!({ "endpoint": "https://push.example/abc" }));
    for bad in cases {
        let (status, body) = live
            .call(
                Method::POST,
                "/api/v1/push/subscriptions",
                Some(&olga.token),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    assert!(p.browsers_of(&olga).await.is_empty());
    let (status, _) = live
        .call(Method::GET, "/api/v1/push/subscriptions", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = live
        .call(
            Method::DELETE,
            "/api/v1/push/subscriptions/not-an-id",
            Some(&olga.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The same browser opted in again (by a colleague at the same desk) moves to them.
    p.opt_in(&olga.token, &Browser::at(endpoint.into(), 21))
        .await;
    let boris = live.online_operator(&live.acme, "Boris").await;
    p.opt_in(&boris.token, &Browser::at(endpoint.into(), 22))
        .await;
    assert!(p.browsers_of(&olga).await.is_empty());
    assert_eq!(p.browsers_of(&boris).await.len(), 1);
}

tandem_testkit::on_both_databases!(
    Pushing::on_database =>
    an_alert_reaches_every_browser_where_operators_opted_in,
    a_subscription_is_checked,
);
