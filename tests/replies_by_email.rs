//! The conversation goes on by email: a visitor's answer to an unread-reply mail comes back in
//! through `POST /api/v1/inbound/email` and lands, once, in the same dialog, live for
//! operators; what must not become a message is refused and changes nothing.

mod support;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tandem_testkit::TestDatabase;

use support::live::{Live, PLATFORM_TOKEN};
use tandem_testkit::smtp::SmtpSink;

const SECRET: &str = "inbound-secret-for-tests";

struct Replying {
    live: Live,
    smtp: SmtpSink,
}

impl Replying {
    async fn on_database(db: TestDatabase) -> Self {
        Self::with(db, &[]).await
    }

    /// With Tandem's own SMTP listener for the inbound domain, on the port it took (bound on
    /// port 0: a port picked beforehand can be taken by another test before Tandem binds it).
    async fn with_smtp_listener(db: TestDatabase) -> (Self, u16) {
        let replying = Self::with(db, &[("TANDEM_INBOUND_SMTP_BIND", "127.0.0.1:0")]).await;
        let port = replying
            .live
            .server
            .inbound_smtp_port()
            .expect("the inbound SMTP listener is bound");
        (replying, port)
    }

    async fn with(db: TestDatabase, extra: &[(&str, &str)]) -> Self {
        let mut vars = vec![
            ("TANDEM_MAIL_FROM", "Acme <support@acme.example>"),
            ("TANDEM_INBOUND_DOMAIN", "in.acme.example"),
            ("TANDEM_INBOUND_SECRET", SECRET),
        ];
        vars.extend_from_slice(extra);
        let (live, smtp) = Live::with_smtp(db, &vars).await;
        Self { live, smtp }
    }

    /// Vera asks, Olga answers while she is away: the chat, and the address of its mail's
    /// Reply-To.
    async fn answered_by_mail(&self) -> (String, String, support::live::Operator) {
        let live = &self.live;
        live.update_settings(
            &live.acme,
            json!({"offline_timeout_secs": 1, "presence_grace_secs": 0}),
        )
        .await;
        let olga = live.online_operator(&live.acme, "Olga").await;
        let vera = live.visitor(&live.acme).await;
        let (status, _) = live
            .visitor_call(
                &vera,
                Method::PUT,
                "/visitor",
                Some(json!({"name": "Vera", "email": "vera@example.org"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let question = live.visitor_says(&vera, "Do you have it in blue?").await;
        let chat_id = question["chat_id"].as_str().unwrap().to_owned();
        live.operator_says(&olga, &chat_id, "It ships today.").await;
        let mail = self.first_mail().await;
        let start = mail.find("Reply-To:").expect("a Reply-To");
        let header = &mail[start..mail[start..].find("\r\n").map_or(mail.len(), |e| start + e)];
        let at = header.find("reply+").expect("the dialog's address");
        let address: String = header[at..]
            .chars()
            .take_while(|c| *c != '>' && !c.is_whitespace())
            .collect();
        assert!(address.ends_with("@in.acme.example"), "{header}");
        (chat_id, address, olga)
    }

    async fn first_mail(&self) -> String {
        for _ in 0..150 {
            if let Some(mail) = self.smtp.to_visitors().into_iter().next() {
                return mail.data;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no mail within 15 s");
    }

    async fn post(&self, raw: &str, secret: &str) -> (StatusCode, Value) {
        let response = self
            .live
            .http
            .post(self.live.url("/api/v1/inbound/email"))
            .bearer_auth(secret)
            .header("content-type", "message/rfc822")
            .body(raw.to_owned())
            .send()
            .await
            .expect("the server answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// A reply as a mail client sends it: new text above the quoted mail.
fn reply(from: &str, to: &str, headers: &str, text: &str) -> String {
    format!(
        "From: Vera <{from}>\r\nTo: {to}\r\nSubject: Re: Olga from acme Ltd replied to you\r\n\
         Message-ID: <{}@mail.example.org>\r\n{headers}Content-Type: text/plain; charset=utf-8\r\n\r\n\
         {text}\r\n\r\nOn Tue, Nov 24, 2026 at 10:02 AM acme Ltd <{to}> wrote:\r\n> It ships today.\r\n",
        text.len()
    )
}

async fn a_reply_by_email_lands_once_in_the_same_dialog(r: Replying) {
    let live = &r.live;
    let (chat_id, address, olga) = r.answered_by_mail().await;

    // Her answer comes back in: one visitor message, by email, live for Olga.
    let mut watch = live.operator_socket(&olga.token).await;
    let answer = reply(
        "vera@example.org",
        &address,
        "",
        "Yes please, the blue one.",
    );
    let (status, body) = r.post(&answer, SECRET).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["message"]["body"], "Yes please, the blue one.");
    assert_eq!(body["message"]["channel"], "email");
    assert_eq!(body["message"]["author"], "visitor");
    // The quoted mail is cut from the message and kept for operators to expand.
    let quoted = body["message"]["quoted"].as_str().unwrap_or_default();
    assert!(
        quoted.contains("wrote:") && quoted.ends_with("> It ships today."),
        "{body}"
    );
    assert!(
        !quoted.contains("rp_"),
        "the dialog's reply address is a key: {quoted}"
    );
    assert!(body["message"]["mail_from"].is_null(), "{body}");
    let live_frame = watch
        .expect_where("message.created", |f| f["message"]["channel"] == "email")
        .await;
    assert_eq!(live_frame["message"]["chat_id"], chat_id.as_str());
    // The same mail delivered again is the same message.
    let (status, again) = r.post(&answer, SECRET).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(again["message"]["id"], body["message"]["id"]);

    // What must not become a message is refused, and the dialog does not change.
    let refusals = [
        (
            reply("vera@example.org", &address, "", "x"),
            "wrong-secret",
            StatusCode::UNAUTHORIZED,
        ),
        (
            reply("mallory@example.net", &address, "", "Hi from Mallory"),
            SECRET,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            reply(
                "vera@example.org",
                "reply+rp_0000000000000000000000000000000000000000@in.acme.example",
                "",
                "Guess",
            ),
            SECRET,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            reply(
                "vera@example.org",
                &address,
                "Auto-Submitted: auto-replied\r\n",
                "I am away",
            ),
            SECRET,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            reply("vera@example.org", &address, "", ""),
            SECRET,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!(
                "{}{}",
                reply("vera@example.org", &address, "", "big"),
                "x".repeat(1024 * 1024)
            ),
            SECRET,
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "not a mail at all".to_owned(),
            SECRET,
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (raw, secret, expected) in refusals {
        let (status, body) = r.post(&raw, secret).await;
        assert_eq!(status, expected, "{body}");
    }
    // The refusals of mail to a real dialog are lines of its delivery log (a forged address
    // names no dialog, and no tenant hears of it).
    let log = live.delivery_log(&live.acme).await;
    let refused: Vec<&str> = log
        .iter()
        .filter_map(|d| d["reason"].as_str())
        .filter(|r| r.starts_with("a reply by email was refused"))
        .collect();
    assert_eq!(refused.len(), 3, "{log:#?}");
    assert!(
        refused.iter().any(|r| r.contains("only the visitor")),
        "{refused:?}"
    );
    let dialog = live.dialog(&olga.token, &chat_id).await;
    let bodies: Vec<&str> = dialog["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert_eq!(
        bodies,
        [
            "Do you have it in blue?",
            "It ships today.",
            "Yes please, the blue one."
        ]
    );

    // A tenant that takes replies from any sender takes Mallory's, and says who wrote.
    live.update_settings(&live.acme, json!({"replies_from_any_sender": true}))
        .await;
    let forwarded = reply("mallory@example.net", &address, "", "Colleague here: blue.");
    let (status, body) = r.post(&forwarded, SECRET).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["message"]["mail_from"], "mallory@example.net");
    assert_eq!(body["message"]["body"], "Colleague here: blue.");

    // Replies by email count against the company's messages a minute like any other: past
    // it the relay is told to come back later, and nothing is written.
    let tenant = format!("/api/v1/platform/tenants/{}", live.acme.id);
    let limits = |per_minute: u32| {
        let body = json!({"limits": {"messages_per_minute": per_minute}});
        live.call(Method::PATCH, &tenant, Some(PLATFORM_TOKEN), Some(body))
    };
    assert_eq!(limits(6).await.0, StatusCode::OK);
    let within = reply("vera@example.org", &address, "", "One more thing.");
    let (status, body) = r.post(&within, SECRET).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let over = reply("vera@example.org", &address, "", "And another.");
    let (status, body) = r.post(&over, SECRET).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let dialog = live.dialog(&olga.token, &chat_id).await;
    let last = dialog["messages"].as_array().unwrap().last().cloned();
    assert_eq!(
        last.map(|m| m["body"].clone()),
        Some(json!("One more thing."))
    );
    assert_eq!(limits(6_000).await.0, StatusCode::OK);

    // A flood (a mail loop, a script) is cut off: 20 answers an hour per dialog.
    let mut last = StatusCode::ACCEPTED;
    for i in 0..25 {
        let answer = reply(
            "vera@example.org",
            &address,
            "",
            &format!("Answer number {i}"),
        );
        let (status, _) = r
            .post(
                &answer.replace("Message-ID: <", &format!("Message-ID: <flood{i}-")),
                SECRET,
            )
            .await;
        last = status;
        if status != StatusCode::ACCEPTED {
            break;
        }
    }
    assert_eq!(last, StatusCode::UNPROCESSABLE_ENTITY);
    let dialog = live.dialog(&olga.token, &chat_id).await;
    let by_email = dialog["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["channel"] == "email")
        .count();
    assert_eq!(by_email, 20);
}

/// Through Tandem's own SMTP listener, as an MX would deliver it: the reply lands in the
/// dialog; mail for any other address is refused at RCPT.
async fn a_reply_over_smtp_lands_in_the_same_dialog((r, port): (Replying, u16)) {
    use lettre::address::Envelope;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
    let live = &r.live;
    let (chat_id, address, olga) = r.answered_by_mail().await;
    let mx = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .build();
    let envelope = Envelope::new(
        Some("vera@example.org".parse().unwrap()),
        vec![address.parse().unwrap()],
    )
    .unwrap();
    let answer = reply("vera@example.org", &address, "", "Blue, by SMTP.");
    mx.send_raw(&envelope, answer.as_bytes())
        .await
        .expect("the listener takes the reply");
    let dialog = live.dialog(&olga.token, &chat_id).await;
    let last = dialog["messages"]
        .as_array()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(last["body"], "Blue, by SMTP.");
    assert_eq!(last["channel"], "email");
    // Anyone else's mail is not taken.
    let stranger = Envelope::new(
        Some("vera@example.org".parse().unwrap()),
        vec!["postmaster@in.acme.example".parse().unwrap()],
    )
    .unwrap();
    assert!(mx.send_raw(&stranger, answer.as_bytes()).await.is_err());
    let forged = Envelope::new(
        Some("mallory@example.net".parse().unwrap()),
        vec![address.parse().unwrap()],
    )
    .unwrap();
    let mallory = reply("mallory@example.net", &address, "", "Hi from Mallory");
    assert!(mx.send_raw(&forged, mallory.as_bytes()).await.is_err());
    let dialog = live.dialog(&olga.token, &chat_id).await;
    assert_eq!(dialog["messages"].as_array().unwrap().len(), 3);
}

tandem_testkit::on_both_databases!(
    Replying::on_database =>
    a_reply_by_email_lands_once_in_the_same_dialog,
);

mod smtp_listener {
    use super::*;
    tandem_testkit::on_both_databases!(
        Replying::with_smtp_listener => a_reply_over_smtp_lands_in_the_same_dialog
    );
}
