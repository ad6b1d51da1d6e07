//! Alerts for operators, so that no offline request and no waiting visitor goes unseen: an
//! online operator's workspace is told at once, operators who are not online get one email
//! digest an interval, and a visitor left waiting alerts once per wait. (Part of the
//! `notifications` test binary.)

use std::time::Duration;

use serde_json::json;
use tandem_core::clock::ManualClock;
use tandem_testkit::TestDatabase;
use tandem_testkit::smtp::{Received, SmtpSink};

use crate::support::live::{Live, Operator};

/// A server on a clock the test moves, mailing to a sink of the test's.
struct Night {
    live: Live,
    clock: ManualClock,
    smtp: SmtpSink,
}

impl Night {
    async fn on_database(db: TestDatabase) -> Self {
        let smtp = SmtpSink::start().await;
        let url = smtp.url();
        let (live, clock) = Live::on_manual_clock(
            db,
            &[
                ("TANDEM_SMTP_URL", &url),
                ("TANDEM_SWEEP_EVERY_SECS", "1"),
                ("TANDEM_PUBLIC_URL", "https://chat.acme.example"),
                ("TANDEM_MAIL_FROM", "Tandem <alerts@tandem.example>"),
                // The workspaces here sit quietly through turns of the sweep.
                ("TANDEM_SOCKET_TIMEOUT_SECS", "60"),
            ],
        )
        .await;
        Self { live, clock, smtp }
    }

    /// An operator of Acme who has gone home: status offline.
    async fn away_operator(&self, name: &str) -> Operator {
        let operator = self.live.online_operator(&self.live.acme, name).await;
        self.live.set_status(&operator, "offline").await;
        operator
    }

    /// Mails to `address` once `count` have come, within 10 s.
    async fn mails_to(&self, address: &str, count: usize) -> Vec<Received> {
        for _ in 0..100 {
            let mails = self.to(address);
            if mails.len() >= count {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{count} mails to {address} did not come: {:#?}",
            self.to(address)
        );
    }

    fn to(&self, address: &str) -> Vec<Received> {
        self.smtp
            .received()
            .into_iter()
            .filter(|m| m.to.iter().any(|to| to.contains(address)))
            .collect()
    }

    /// `GET /api/v1/alerts` as this operator.
    async fn pending_alerts(&self, token: &str) -> Vec<serde_json::Value> {
        let (status, body) = self
            .live
            .call(reqwest::Method::GET, "/api/v1/alerts", Some(token), None)
            .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{body}");
        body["alerts"].as_array().expect("alerts").clone()
    }

    /// Lets a few turns of the sweep pass (it runs every second), for checking that nothing
    /// more came.
    async fn sweeps(&self) {
        tokio::time::sleep(Duration::from_millis(2500)).await;
    }
}

/// The mail's text as the test reads it (quoted-printable soft breaks undone).
fn text(mail: &Received) -> String {
    mail.data
        .replace("=\r\n", "")
        .replace("=3D", "=")
        .replace("=E2=80=9C", "\u{201c}")
}

/// An operator who wants no digests gets none (and loses the one waiting for them); a colleague
/// who keeps them still gets theirs; turned on again, the next alert comes.
async fn an_operator_may_choose_no_digests(n: Night) {
    let live = &n.live;
    let boris = n.away_operator("Boris").await;
    let dasha = n.away_operator("Dasha").await;
    let choose = |token: String, enabled: bool| async move {
        let (status, me) = live
            .call(
                reqwest::Method::PUT,
                "/api/v1/operators/me/alert-digests",
                Some(&token),
                Some(json!({ "enabled": enabled })),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{me}");
        assert_eq!(me["alert_digests"], enabled, "{me}");
    };
    choose(boris.token.clone(), false).await;
    let (status, _) = live
        .call(
            reqwest::Method::PUT,
            "/api/v1/operators/me/alert-digests",
            Some(&dasha.token),
            Some(json!({ "enabled": "no" })),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST);

    let vera = live.visitor(&live.acme).await;
    live.offline_request(&vera, "Vera", "vera@example.org", "Do you ship to Oslo?")
        .await;
    n.mails_to("dasha@acme.example.com", 1).await;
    n.sweeps().await;
    assert!(
        n.to("boris@acme.example.com").is_empty(),
        "Boris chose none"
    );

    // Back on: the next interval's alert reaches him.
    choose(boris.token.clone(), true).await;
    let petr = live.visitor(&live.acme).await;
    live.offline_request(&petr, "Petr", "petr@example.org", "Open on Monday?")
        .await;
    let mail = n.mails_to("boris@acme.example.com", 1).await;
    assert!(text(&mail[0]).contains("Petr"), "{}", text(&mail[0]));
    assert!(!text(&mail[0]).contains("Vera"), "{}", text(&mail[0]));
}

async fn an_offline_request_at_night_reaches_every_operator_once(n: Night) {
    let live = &n.live;
    live.update_settings(&live.acme, json!({"alert_digest_mins": 15}))
        .await;
    let olga = live.online_operator(&live.acme, "Olga").await;
    let mut workspace = live.operator_socket(&olga.token).await;
    let boris = n.away_operator("Boris").await;
    let mut boris_tab = live.operator_socket(&boris.token).await;
    // Globex's people hear nothing of Acme's visitors.
    let gus = live.online_operator(&live.globex, "Gus").await;
    live.set_status(&gus, "offline").await;
    let mut globex_workspace = live.operator_socket(&gus.token).await;

    let vera = live.visitor(&live.acme).await;
    let chat = live
        .offline_request(&vera, "Vera", "vera@example.org", "Do you ship to Oslo?")
        .await;

    // Olga is online: the workspace sounds the alert.
    let frame = workspace.expect("operator.alert").await;
    let alert = &frame["alert"];
    assert_eq!(alert["kind"], "offline_request", "{frame}");
    assert_eq!(alert["chat_id"], chat.as_str());
    assert_eq!(alert["visitor_name"], "Vera");
    assert_eq!(alert["preview"], "Do you ship to Oslo?");
    // Boris is not online, but his open tab shows the alert as well.
    boris_tab.expect("operator.alert").await;

    // Boris (and the admin, not online either) get it by email; Olga does not.
    let boris_mail = n.mails_to("boris@acme.example.com", 1).await;
    let body = text(&boris_mail[0]);
    assert!(body.contains("Vera left an offline request"), "{body}");
    assert!(body.contains("Do you ship to Oslo?"), "{body}");
    assert!(body.contains("vera@example.org"), "{body}");
    assert!(
        body.contains(&format!("https://chat.acme.example/app#chat={chat}")),
        "{body}"
    );
    n.mails_to("admin@acme.example.com", 1).await;
    assert!(n.to("olga@acme.example.com").is_empty());

    // A second request within the interval: no second mail yet.
    let petr = live.visitor(&live.acme).await;
    let petr_chat = live
        .offline_request(
            &petr,
            "Petr",
            "petr@example.org",
            "Is the shop open on Monday?",
        )
        .await;
    workspace
        .expect_where("operator.alert", |f| {
            f["alert"]["chat_id"] == petr_chat.as_str()
        })
        .await;
    // A third, which Olga answers at once: nobody needs to be told of it any more.
    let zoya = live.visitor(&live.acme).await;
    let zoya_chat = live
        .offline_request(&zoya, "Zoya", "zoya@example.org", "Where is my parcel?")
        .await;
    live.operator_says(&olga, &zoya_chat, "On its way.").await;
    // A workspace opened now shows what still waits, newest first; Globex's shows nothing.
    let pending = n.pending_alerts(&olga.token).await;
    let chats: Vec<&str> = pending
        .iter()
        .filter_map(|a| a["chat_id"].as_str())
        .collect();
    assert_eq!(chats, [petr_chat.as_str(), chat.as_str()], "{pending:#?}");
    assert!(n.pending_alerts(&gus.token).await.is_empty());
    n.sweeps().await;
    assert_eq!(
        n.to("boris@acme.example.com").len(),
        1,
        "one mail an interval"
    );

    // When the interval is over, one digest with what still waits.
    n.clock.advance(Duration::from_secs(15 * 60));
    let boris_mail = n.mails_to("boris@acme.example.com", 2).await;
    let digest = text(&boris_mail[1]);
    assert!(digest.contains("Petr left an offline request"), "{digest}");
    assert!(!digest.contains("Vera"), "{digest}");
    assert!(!digest.contains("Zoya"), "answered: {digest}");
    n.sweeps().await;
    n.clock.advance(Duration::from_secs(15 * 60));
    n.sweeps().await;
    assert_eq!(
        n.to("boris@acme.example.com").len(),
        2,
        "nothing new: no mail"
    );

    // Globex heard nothing, by socket or by mail.
    let globex_frames = globex_workspace
        .frames_within(Duration::from_millis(200))
        .await;
    assert!(
        !globex_frames.iter().any(|f| f["type"] == "operator.alert"),
        "{globex_frames:#?}"
    );
    assert!(n.to("gus@globex.example.com").is_empty());
    assert!(n.to("admin@globex.example.com").is_empty());
}

async fn a_visitor_left_waiting_alerts_once_per_wait(n: Night) {
    let live = &n.live;
    live.update_settings(
        &live.acme,
        json!({"long_wait_alert_mins": 5, "alert_digest_mins": 0}),
    )
    .await;
    let olga = live.online_operator(&live.acme, "Olga").await;
    let mut workspace = live.operator_socket(&olga.token).await;
    let ivan = live.visitor(&live.acme).await;
    let first = live.visitor_says(&ivan, "Hello? Anyone there?").await;
    let chat = first["chat_id"].as_str().expect("a chat").to_owned();
    // Writing again does not restart the wait.
    n.clock.advance(Duration::from_secs(3 * 60));
    live.visitor_says(&ivan, "I need help with my order").await;

    n.clock.advance(Duration::from_secs(2 * 60 - 1));
    n.sweeps().await;
    let early = workspace.frames_within(Duration::from_millis(100)).await;
    assert!(
        !early.iter().any(|f| f["type"] == "operator.alert"),
        "alerted before five minutes: {early:#?}"
    );
    n.clock.advance(Duration::from_secs(1));
    let frame = workspace.expect("operator.alert").await;
    assert_eq!(frame["alert"]["kind"], "long_wait", "{frame}");
    assert_eq!(frame["alert"]["chat_id"], chat.as_str());
    assert_eq!(frame["alert"]["wait_minutes"], 5);
    assert_eq!(frame["alert"]["preview"], "I need help with my order");

    // Once per wait: more time alone brings no second alert.
    n.clock.advance(Duration::from_secs(30 * 60));
    n.sweeps().await;
    let later = workspace.frames_within(Duration::from_millis(100)).await;
    assert!(
        !later.iter().any(|f| f["type"] == "operator.alert"),
        "{later:#?}"
    );

    // An answer ends the wait; a wait answered in time alerts nobody.
    live.operator_says(&olga, &chat, "Sorry! Looking now.")
        .await;
    live.visitor_says(&ivan, "Thanks, it is order 4411").await;
    n.clock.advance(Duration::from_secs(4 * 60));
    live.operator_says(&olga, &chat, "Found it.").await;
    n.clock.advance(Duration::from_secs(10 * 60));
    n.sweeps().await;
    let answered = workspace.frames_within(Duration::from_millis(100)).await;
    assert!(
        !answered.iter().any(|f| f["type"] == "operator.alert"),
        "{answered:#?}"
    );

    // A new wait is alerted again; mail is off, so nobody is mailed.
    live.visitor_says(&ivan, "One more thing").await;
    n.clock.advance(Duration::from_secs(5 * 60));
    let again = workspace.expect("operator.alert").await;
    assert_eq!(again["alert"]["preview"], "One more thing", "{again}");
    assert!(n.smtp.received().is_empty(), "{:#?}", n.smtp.received());
}

async fn alert_settings_are_checked(n: Night) {
    let live = &n.live;
    let (status, body) = live
        .call(
            reqwest::Method::PUT,
            "/api/v1/admin/settings",
            Some(&live.acme.admin_token),
            Some(json!({"long_wait_alert_mins": 1441})),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("long_wait_alert_mins"), "{body}");
    let (_, settings) = live
        .call(
            reqwest::Method::GET,
            "/api/v1/admin/settings",
            Some(&live.acme.admin_token),
            None,
        )
        .await;
    assert_eq!(settings["long_wait_alert_mins"], 5, "unchanged: {settings}");
    assert_eq!(settings["alert_digest_mins"], 15, "{settings}");
}

tandem_testkit::on_both_databases!(
    Night::on_database =>
    an_offline_request_at_night_reaches_every_operator_once,
    a_visitor_left_waiting_alerts_once_per_wait,
    alert_settings_are_checked,
    an_operator_may_choose_no_digests,
);
