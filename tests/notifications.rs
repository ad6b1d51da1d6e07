//! Unread replies reach the visitor's email from the real server: the night visitor's story end
//! to end, over SMTP on loopback, and the development mailbox when no SMTP is configured.

mod operator_alerts;
mod support;
mod transcripts;
mod web_push;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tandem_testkit::TestDatabase;

use support::live::{Live, Visitor};
use tandem_testkit::smtp::{Mode, SmtpSink};

struct Mailing {
    live: Live,
    smtp: SmtpSink,
}

impl Mailing {
    async fn on_database(db: TestDatabase) -> Self {
        Self::start(db, "embedded").await
    }

    /// `serve` with TANDEM_WORKER=off: only `tandem worker` processes deliver.
    async fn without_embedded_worker(db: TestDatabase) -> Self {
        Self::start(db, "off").await
    }

    async fn start(db: TestDatabase, worker: &str) -> Self {
        let (live, smtp) = Live::with_smtp(
            db,
            &[
                ("TANDEM_MAIL_FROM", "Acme <support@acme.example>"),
                ("TANDEM_PUBLIC_URL", "https://chat.acme.example"),
                ("TANDEM_WORKER", worker),
            ],
        )
        .await;
        Self { live, smtp }
    }

    /// The mails to visitors, once `count` have come.
    async fn mails(&self, count: usize) -> Vec<String> {
        for _ in 0..100 {
            let mails = self.smtp.to_visitors();
            if mails.len() >= count {
                return mails
                    .into_iter()
                    .map(|m| m.data.replace("=\r\n", "").replace("=3D", "="))
                    .collect();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{count} mails did not arrive within 10 s");
    }
}

async fn the_night_visitor_gets_the_unread_reply_by_email_and_comes_back(m: Mailing) {
    let live = &m.live;
    let (status, _) = live
        .call(
            Method::PUT,
            "/api/v1/admin/settings",
            Some(&live.acme.admin_token),
            Some(json!({"offline_timeout_secs": 1, "presence_grace_secs": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Nobody online: the offline form.
    let visitor = live.visitor(&live.acme).await;
    let chat_id = live
        .offline_request(&visitor, "Vera", "vera@example.org", "Can I return shoes?")
        .await;

    // The visitor is on the site and reads the first reply; then leaves.
    let olga = live.online_operator(&live.acme, "Olga").await;
    let mut watch = live.operator_socket(&olga.token).await;
    let mut tab = live.visitor_socket(&visitor).await;
    let first = live
        .operator_says(&olga, &chat_id, "Yes, within 30 days.")
        .await;
    tab.expect("message.created").await;
    tab.send(json!({"type": "read", "up_to": first["id"]}))
        .await;
    watch.expect("message.read").await;
    tab.close().await;

    // A reply nobody reads goes to the visitor's email after the timeout; the read one does not.
    let second = live
        .operator_says(&olga, &chat_id, "Shall I send you a label?")
        .await;
    let emailed = watch
        .expect_where("message.updated", |f| {
            f["message"]["emailed_at"].is_string()
        })
        .await;
    assert_eq!(emailed["message"]["id"], second["id"]);
    let mails = m.mails(1).await;
    let mail = &mails[0];
    // Not confirmed yet: the name she typed stays out of the mail.
    assert!(mail.contains("To: vera@example.org"), "{mail}");
    // The company's name on the installation's sending address.
    assert!(
        mail.contains("From: \"acme Ltd\" <support@acme.example>"),
        "{mail}"
    );
    assert!(
        mail.contains("Subject: Olga from acme Ltd replied to you"),
        "{mail}"
    );
    assert!(mail.contains("Shall I send you a label?"));
    assert!(mail.contains(&format!("<chat-{chat_id}@acme.example>")));
    let link = format!(
        "https://chat.acme.example/c/{}?resume_token=",
        live.acme.widget_key
    );
    let start = mail.find(&link).expect("the resume link") + link.len();
    let token: String = mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();

    // The visitor follows the link on their phone: same dialog, online again.
    let (status, session) = live.resume(&live.acme, &token).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["chat"]["id"], chat_id.as_str());
    let phone = Visitor {
        key: live.acme.widget_key.clone(),
        id: visitor.id.clone(),
        token: session["visitor_token"].as_str().unwrap().to_owned(),
    };
    let _tab = live.visitor_socket(&phone).await;
    watch
        .expect_where("chat.updated", |f| f["chat"]["visitor_online"] == true)
        .await;
    let (_, dialog) = live.visitor_call(&phone, Method::GET, "/chat", None).await;
    let messages = dialog["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3);
    assert!(
        messages[1]["emailed_at"].is_null(),
        "read in time: never mailed"
    );
    assert!(messages[2]["emailed_at"].is_string());
    live.visitor_says(&phone, "Yes please!").await;

    // Exactly one mail, and the log says so.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(m.smtp.to_visitors().len(), 1);
    let log = live.delivery_log(&live.acme).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status"], "sent");
    assert_eq!(log[0]["recipient"], "vera@example.org");
}

async fn with_the_dev_mailbox(db: TestDatabase) -> Live {
    Live::with_env(db, &[("TANDEM_DEV_MAILBOX", "true")]).await
}

async fn without_smtp_the_dev_mailbox_keeps_the_mail(live: Live) {
    live.call(
        Method::PUT,
        "/api/v1/admin/settings",
        Some(&live.acme.admin_token),
        Some(json!({"offline_timeout_secs": 1})),
    )
    .await;
    let visitor = live.visitor(&live.acme).await;
    let chat_id = live
        .offline_request(&visitor, "Ivan", "ivan@example.org", "Hello?")
        .await;
    let olga = live.online_operator(&live.acme, "Olga").await;
    live.operator_says(&olga, &chat_id, "Hi Ivan").await;
    let id = live.dev_mail_to("ivan@example.org").await;
    // The mail decoded, as a person reads it: the reply, and the resume link as a link.
    let shown = live.page(&format!("/dev/mailbox/{id}")).await;
    assert!(shown.contains("Hi Ivan"), "{shown}");
    let link = format!(
        "<a href=\"{}/c/{}?resume_token=rt_",
        live.base, live.acme.widget_key
    );
    assert!(shown.contains(&link), "{shown}");
    assert!(
        shown.contains("sandbox=\"allow-popups"),
        "the HTML part is sandboxed"
    );
    let eml = live.page(&format!("/dev/mailbox/{id}/raw")).await;
    assert!(eml.contains("multipart/alternative"), "{eml}");
    let files: Vec<_> = std::fs::read_dir(live.env.dir.path().join("mailbox"))
        .expect("a mailbox folder")
        .collect();
    assert_eq!(files.len(), 1);
}

async fn a_tenant_template_is_checked_previewed_and_used(m: Mailing) {
    let live = &m.live;
    let admin = Some(live.acme.admin_token.as_str());
    let path = "/api/v1/admin/templates/unread-reply";
    let (status, built_in) = live.call(Method::GET, path, admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(built_in["custom"], false);
    assert!(
        built_in["subject"]
            .as_str()
            .unwrap()
            .contains("replied to you")
    );

    let template = |subject: &str, text: &str| json!({"subject": subject, "html": "<p>{{#each replies}}{{this.body}}{{/each}}</p><a href=\"{{resume_url}}\">back</a>", "text": text});
    for (bad, part) in [
        (template("{{#if}}", "x"), "subject"),
        (template("Hi", "{{visitor_nmae}}"), "text"),
    ] {
        let (status, body) = live.call(Method::PUT, path, admin, Some(bad)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["code"], "invalid_template");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(part),
            "{body}"
        );
    }
    let (_, still) = live.call(Method::GET, path, admin, None).await;
    assert_eq!(still["custom"], false, "a refused template changes nothing");

    let custom = template(
        "News from {{tenant_name}} ({{count}})",
        "{{#each replies}}{{this.body}}{{/each}} {{resume_url}}",
    );
    let (status, preview) = live
        .call(
            Method::POST,
            &format!("{path}/preview"),
            admin,
            Some(custom.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["subject"], "News from Acme (1)");
    let olga = live.online_operator(&live.acme, "Olga").await;
    let (status, _) = live
        .call(Method::PUT, path, Some(&olga.token), Some(custom.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "operators cannot change it");
    let (status, saved) = live.call(Method::PUT, path, admin, Some(custom)).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["custom"], true);

    live.call(
        Method::PUT,
        "/api/v1/admin/settings",
        admin,
        Some(json!({"offline_timeout_secs": 1})),
    )
    .await;
    let visitor = live.visitor(&live.acme).await;
    let chat_id = live
        .offline_request(&visitor, "Vera", "vera@example.org", "Hi")
        .await;
    live.operator_says(&olga, &chat_id, "Custom hello").await;
    let mails = m.mails(1).await;
    assert!(
        mails[0].contains("Subject: News from acme Ltd (1)"),
        "{}",
        mails[0]
    );
    assert!(mails[0].contains("Custom hello"));

    let (status, _) = live.call(Method::DELETE, path, admin, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, back) = live.call(Method::GET, path, admin, None).await;
    assert_eq!(back["custom"], false);
}

/// A worker killed (SIGKILL) in the middle of a delivery loses nothing: once its claim runs out,
/// another worker process sends the mail, once.
async fn a_worker_killed_mid_delivery_is_taken_over(m: Mailing) {
    let live = &m.live;
    live.call(
        Method::PUT,
        "/api/v1/admin/settings",
        Some(&live.acme.admin_token),
        Some(json!({"offline_timeout_secs": 1})),
    )
    .await;
    let visitor = live.visitor(&live.acme).await;
    let chat_id = live
        .offline_request(&visitor, "Vera", "vera@example.org", "Hello?")
        .await;
    m.smtp.set_mode(Mode::Stall);
    let olga = live.online_operator(&live.acme, "Olga").await;
    live.operator_says(&olga, &chat_id, "Answer").await;

    let worker = |smtp: &SmtpSink| {
        let mut command = live.env.tandem();
        command
            .arg("worker")
            .env("TANDEM_SMTP_URL", smtp.url())
            .env("TANDEM_DELIVERY_LEASE_SECS", "3")
            .env("TANDEM_SWEEP_EVERY_SECS", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command.spawn().expect("start tandem worker")
    };
    let mut first = worker(&m.smtp);
    for _ in 0..100 {
        if m.smtp.stalled() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        m.smtp.stalled(),
        1,
        "the first worker is stuck mid-delivery"
    );
    let pid = first.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success()
    );
    first.wait().await.unwrap();

    m.smtp.set_mode(Mode::Accept);
    let mut second = worker(&m.smtp);
    let mails = m.mails(1).await;
    assert!(mails[0].contains("Answer"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(m.smtp.to_visitors().len(), 1, "sent once");
    second.kill().await.unwrap();
    let log = live.delivery_log(&live.acme).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["status"], "sent");
}

/// Kept mail holds visitors' addresses and resume links: a server reachable from outside does
/// not show it.
async fn the_dev_mailbox_is_off_on_a_public_address(db: TestDatabase) {
    let live = Live::with_env(
        db,
        &[("TANDEM_BIND", "0.0.0.0:0"), ("TANDEM_DEV_MAILBOX", "true")],
    )
    .await;
    let response = live
        .http
        .get(live.url("/dev/mailbox"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// Behind a reverse proxy the server listens on loopback too: the mailbox is shown only when
/// someone asked for it.
async fn the_dev_mailbox_is_off_unless_enabled(live: Live) {
    let response = live
        .http
        .get(live.url("/dev/mailbox"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// The tenant's own timeout, the default five minutes, on a clock the test moves: a second
/// early nothing goes; at the timeout the reply is mailed (by the sweep, which reads the
/// domain's clock; the job queue's real-time timer would fire five real minutes later).
async fn an_unread_reply_waits_the_default_five_minutes(db: TestDatabase) {
    let smtp = SmtpSink::start().await;
    let url = smtp.url();
    let (live, clock) = Live::on_manual_clock(
        db,
        &[("TANDEM_SMTP_URL", &url), ("TANDEM_SWEEP_EVERY_SECS", "1")],
    )
    .await;
    let visitor = live.visitor(&live.acme).await;
    let chat_id = live
        .offline_request(&visitor, "Vera", "vera@example.org", "Open on Sunday?")
        .await;
    let olga = live.online_operator(&live.acme, "Olga").await;
    live.operator_says(&olga, &chat_id, "Yes, ten to four.")
        .await;
    // A colleague's note after the reply is no part of the visitor's mail.
    let (status, body) = live
        .call(
            Method::POST,
            &format!("/api/v1/chats/{chat_id}/notes"),
            Some(&live.acme.admin_token),
            Some(serde_json::json!({"body": "NOTE-7731: closed on Sundays in winter"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    clock.advance(Duration::from_secs(5 * 60 - 1));
    // Two turns of the sweep: a mail sent early would be here by now.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(smtp.to_visitors().is_empty(), "mailed before the timeout");

    clock.advance(Duration::from_secs(1));
    let mut mailed = false;
    for _ in 0..100 {
        if !smtp.to_visitors().is_empty() {
            mailed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(mailed, "mailed within 10 s of the timeout");
    let mail = &smtp.to_visitors()[0].data;
    assert!(mail.contains("Yes, ten to four."), "{mail}");
    assert!(!mail.contains("NOTE-7731"), "{mail}");
    // The mail reaches the sink a moment before its delivery is recorded.
    let mut log = Vec::new();
    for _ in 0..50 {
        log = live.delivery_log(&live.acme).await;
        if !log.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(log.len(), 1, "{log:#?}");
}

mod manual_clock {
    use super::*;

    async fn database(db: TestDatabase) -> TestDatabase {
        db
    }

    tandem_testkit::on_both_databases!(database => an_unread_reply_waits_the_default_five_minutes);
}

mod smtp {
    use super::*;
    tandem_testkit::on_both_databases!(
        Mailing::on_database =>
        the_night_visitor_gets_the_unread_reply_by_email_and_comes_back,
        a_tenant_template_is_checked_previewed_and_used,
    );
}

mod separate_workers {
    use super::*;
    tandem_testkit::on_both_databases!(
        Mailing::without_embedded_worker =>
        a_worker_killed_mid_delivery_is_taken_over,
    );
}

tandem_testkit::on_both_databases!(
    with_the_dev_mailbox =>
    without_smtp_the_dev_mailbox_keeps_the_mail,
);

mod dev_mailbox_off {
    use super::*;
    tandem_testkit::on_both_databases!(Live::on_database => the_dev_mailbox_is_off_unless_enabled);
}

mod public_address {
    use super::*;

    async fn database(db: TestDatabase) -> TestDatabase {
        db
    }

    tandem_testkit::on_both_databases!(database => the_dev_mailbox_is_off_on_a_public_address);
}
