//! Several `tandem serve` and `tandem worker` processes on one PostgreSQL, as a SaaS operator
//! runs them behind a load balancer: a visitor on one node and an operator on another chat as
//! if on one server; a node killed outright takes its visitors offline within the heartbeat
//! timeout; a worker killed leaves its notifications to the other, mailed once; a rolling
//! restart loses nothing; a file sent through one node is served by the other (files in an
//! S3-compatible bucket). PostgreSQL only: SQLite serves one node. The first runs again with
//! the events over Redis.

mod support;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tandem_testkit::TestDatabase;
use tokio::process::Child;

use support::Server;
use support::live::{Client, Live, Node};
use tandem_testkit::smtp::SmtpSink;

/// Nodes beat every second, so a dead node's visitors go offline within about 3 s.
const HEARTBEAT_SECS: &str = "1";

struct Cluster {
    /// Node A, with the tenants; `live` talks to it.
    live: Live,
    /// Node B.
    b: Server,
    smtp: SmtpSink,
    workers: Vec<Child>,
}

impl Cluster {
    fn vars(smtp: &SmtpSink) -> Vec<(String, String)> {
        [
            ("TANDEM_WORKER", "off".to_owned()),
            ("TANDEM_HEARTBEAT_SECS", HEARTBEAT_SECS.to_owned()),
            ("TANDEM_SMTP_URL", smtp.url()),
            ("TANDEM_SWEEP_EVERY_SECS", "1".to_owned()),
            ("TANDEM_PUBLIC_URL", "https://chat.example.com".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    async fn start(db: TestDatabase, extra: &[(&str, &str)]) -> Self {
        let smtp = SmtpSink::start().await;
        let mut vars = Self::vars(&smtp);
        vars.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let borrowed: Vec<(&str, &str)> =
            vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let live = Live::process_with_env(db, &borrowed).await;
        let b = live.env.serve_with(&borrowed).await;
        let mut cluster = Self {
            live,
            b,
            smtp,
            workers: Vec::new(),
        };
        for _ in 0..2 {
            let worker = cluster.worker();
            cluster.workers.push(worker);
        }
        cluster.wait_ready(&cluster.b.base_url.clone()).await;
        cluster
    }

    fn worker(&self) -> Child {
        let mut command = self.live.env.tandem();
        for (k, v) in Self::vars(&self.smtp) {
            command.env(k, v);
        }
        command
            .arg("worker")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start tandem worker")
    }

    fn node_b(&self) -> Client {
        Client::of(&self.b)
    }

    /// Waits until the node at `base` hears the other nodes.
    async fn wait_ready(&self, base: &str) {
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{base}/readyz")).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{base} did not become ready");
    }
}

fn kill(child: &Child) {
    let pid = child.id().expect("running");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
}

async fn a_visitor_on_one_node_and_an_operator_on_another_chat_as_on_one(c: Cluster) {
    let (a, b) = (&c.live.client, c.node_b());
    let acme = &c.live.acme;
    let olga = b.online_operator(acme, "Olga").await;
    let mut desk = b.operator_socket(&olga.token).await;
    let visitor = a.visitor(acme).await;
    let mut tab = a.visitor_socket(&visitor).await;
    assert_eq!(
        tab.hello["operators_available"], true,
        "B's operator counts on A"
    );

    // Visitor → operator, in order, across nodes.
    for (i, body) in ["Hello?", "Anyone there?", "I need help with my order"]
        .iter()
        .enumerate()
    {
        tab.send(json!({"type": "message.send", "body": body, "client_id": format!("c-{i}")}))
            .await;
    }
    let mut chat_id = String::new();
    for body in ["Hello?", "Anyone there?", "I need help with my order"] {
        let got = desk.expect("message.created").await;
        assert_eq!(got["message"]["body"], body);
        chat_id = got["message"]["chat_id"].as_str().unwrap().to_owned();
    }

    // Operator → visitor, read marks back, and an edit.
    let reply = b.operator_says(&olga, &chat_id, "Hi! Looking now.").await;
    let delivered = tab
        .expect_where("message.created", |f| f["message"]["author"] == "operator")
        .await;
    assert_eq!(delivered["message"]["id"], reply["id"]);
    tab.send(json!({"type": "read", "up_to": reply["id"]}))
        .await;
    let read = desk.expect("message.read").await;
    assert_eq!(read["up_to"], reply["id"]);
    let first = a.visitor_call(&visitor, Method::GET, "/chat", None).await.1["messages"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, edited) = a
        .visitor_call(
            &visitor,
            Method::PATCH,
            &format!("/chat/messages/{first}"),
            Some(json!({"body": "Hello? (order 1042)"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let updated = desk.expect("message.updated").await;
    assert_eq!(updated["message"]["body"], "Hello? (order 1042)");

    // A message too long for a NOTIFY payload travels by id and arrives whole.
    let long = "Подробности заказа. ".repeat(200);
    b.operator_says(&olga, &chat_id, &long).await;
    let got = tab
        .expect_where("message.created", |f| f["message"]["author"] == "operator")
        .await;
    assert_eq!(got["message"]["body"], long.trim());

    // Typing crosses too.
    tab.send(json!({"type": "typing"})).await;
    assert_eq!(desk.expect("typing").await["by"], "visitor");

    // Both nodes show one history.
    let (_, on_a) = a.visitor_call(&visitor, Method::GET, "/chat", None).await;
    let on_b = b.dialog(&olga.token, &chat_id).await;
    let bodies = |v: &Value| -> Vec<String> {
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["body"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(bodies(&on_a), bodies(&on_b));
    assert_eq!(bodies(&on_a).len(), 5);

    // The operator steps away on B: the widget on A hears nobody is there.
    b.set_status(&olga, "away").await;
    let news = tab.expect("operators.availability").await;
    assert_eq!(news["operators_available"], false);
}

async fn a_killed_node_takes_its_visitors_offline(mut c: Cluster) {
    c.live.set_grace(&c.live.acme, 0).await;
    let b = c.node_b();
    let acme = c.live.acme.clone();
    let olga = c.live.online_operator(&acme, "Olga").await;
    let mut desk = c.live.operator_socket(&olga.token).await;
    let visitor = b.visitor(&acme).await;
    let first = b.visitor_says(&visitor, "Hello from node B").await;
    let chat_id = first["chat_id"].as_str().unwrap().to_owned();
    let _tab = b.visitor_socket(&visitor).await;
    let online = desk
        .expect_where("chat.updated", |f| {
            f["chat"]["id"] == chat_id.as_str() && f["chat"]["visitor_online"] == true
        })
        .await;
    assert_eq!(online["chat"]["category"], "waiting");

    // Node B dies without a word: no close frames, no cleanup.
    let started = tokio::time::Instant::now();
    c.b.kill();
    let gone = desk
        .expect_where("chat.updated", |f| {
            f["chat"]["id"] == chat_id.as_str() && f["chat"]["visitor_online"] == false
        })
        .await;
    assert_eq!(gone["chat"]["category"], "offline");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "offline within the heartbeat timeout, not after {:?}",
        started.elapsed()
    );
    drop(c.workers.drain(..));
}

async fn a_worker_killed_leaves_its_mail_to_the_other_once(mut c: Cluster) {
    let acme = c.live.acme.clone();
    c.live
        .update_settings(
            &acme,
            json!({"offline_timeout_secs": 2, "presence_grace_secs": 0}),
        )
        .await;
    let olga = c.live.online_operator(&acme, "Olga").await;
    let mut chats = Vec::new();
    for i in 0..6 {
        let visitor = c.live.visitor(&acme).await;
        let (status, body) = c
            .live
            .visitor_call(
                &visitor,
                Method::PUT,
                "/visitor",
                Some(json!({"name": format!("V{i}"), "email": format!("v{i}@example.org")})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let asked = c.live.visitor_says(&visitor, "Hello?").await;
        chats.push(asked["chat_id"].as_str().unwrap().to_owned());
    }
    for chat in &chats {
        c.live
            .operator_says(&olga, chat, "Here is your answer.")
            .await;
    }
    // One worker dies before the replies are due; the other mails each visitor once.
    let doomed = c.workers.remove(0);
    kill(&doomed);
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let received = c.smtp.received();
        if received.len() >= 6 || tokio::time::Instant::now() >= until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Give a duplicate the chance to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut to: Vec<String> = c.smtp.received().into_iter().flat_map(|m| m.to).collect();
    to.sort();
    let expected: Vec<String> = (0..6).map(|i| format!("v{i}@example.org")).collect();
    assert_eq!(
        to.iter()
            .map(|t| t.trim_matches(['<', '>']))
            .collect::<Vec<_>>(),
        expected,
        "each visitor mailed exactly once"
    );
}

async fn a_rolling_restart_loses_nothing(mut c: Cluster) {
    let acme = c.live.acme.clone();
    let olga = c.live.online_operator(&acme, "Olga").await;
    let visitor = c.live.visitor(&acme).await;
    let first = c.live.visitor_says(&visitor, "message 0").await;
    let chat_id = first["chat_id"].as_str().unwrap().to_owned();
    let mut sent = vec!["message 0".to_owned()];

    // Restart B while writing through A, then A while writing through B.
    let vars = Cluster::vars(&c.smtp);
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let b_client = c.node_b();
    let stopping = std::mem::replace(&mut c.b, c.live.env.serve_with(&borrowed).await);
    c.wait_ready(&c.b.base_url.clone()).await;
    let status = stopping.terminate().await;
    assert!(status.success(), "{status}");
    drop(b_client);
    for i in 1..=5 {
        let body = format!("message {i}");
        c.live.visitor_says(&visitor, &body).await;
        sent.push(body);
    }
    let b = c.node_b();
    let replacement_a = c.live.env.serve_with(&borrowed).await;
    c.wait_ready(&replacement_a.base_url.clone()).await;
    let old_a = std::mem::replace(&mut c.live.server, Node::Process(replacement_a));
    c.live.client = Client::at(c.live.server.base_url());
    assert!(old_a.terminate().await);
    for i in 6..=10 {
        let body = format!("message {i}");
        b.visitor_says(&visitor, &body).await;
        sent.push(body);
    }
    let dialog = c.live.dialog(&olga.token, &chat_id).await;
    let bodies: Vec<String> = dialog["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(bodies, sent);
}

/// Files a visitor sends through node A are served by node B, and the other way round: both
/// keep them in one S3-compatible bucket.
async fn a_file_sent_through_one_node_is_served_by_the_other(c: Cluster) {
    let (a, b) = (&c.live.client, c.node_b());
    let acme = &c.live.acme;
    let olga = b.online_operator(acme, "Olga").await;
    let visitor = a.visitor(acme).await;
    let photo = {
        let image = image::RgbImage::from_fn(900, 600, |x, y| image::Rgb([x as u8, y as u8, 90]));
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let sent: Value = a
        .http
        .post(a.url(&format!("/api/v1/widget/{}/chat/files", visitor.key)))
        .query(&[("name", "photo.png")])
        .bearer_auth(&visitor.token)
        .body(photo.clone())
        .send()
        .await
        .expect("node A answers")
        .json()
        .await
        .expect("the message");
    let file = sent["attachment"]["id"]
        .as_str()
        .expect("a file")
        .to_owned();
    let chat = sent["chat_id"].as_str().unwrap().to_owned();
    for (path, expected) in [
        (format!("/api/v1/files/{file}"), Some(photo.as_slice())),
        (format!("/api/v1/files/{file}/thumbnail"), None),
    ] {
        let response = b
            .http
            .get(b.url(&path))
            .bearer_auth(&olga.token)
            .send()
            .await
            .expect("node B answers");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let bytes = response.bytes().await.unwrap();
        if let Some(expected) = expected {
            assert_eq!(bytes.as_ref(), expected);
        }
    }
    let reply: Value = b
        .http
        .post(b.url(&format!("/api/v1/chats/{chat}/files")))
        .query(&[("name", "label.pdf")])
        .bearer_auth(&olga.token)
        .body(b"%PDF-1.4\n%%EOF\n".to_vec())
        .send()
        .await
        .expect("node B answers")
        .json()
        .await
        .expect("the message");
    let label = reply["attachment"]["id"].as_str().expect("a file");
    let response = a
        .http
        .get(a.url(&format!("/api/v1/widget/{}/files/{label}", visitor.key)))
        .bearer_auth(&visitor.token)
        .send()
        .await
        .expect("node A answers");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.bytes().await.unwrap().as_ref(),
        b"%PDF-1.4\n%%EOF\n"
    );
}

/// The cluster keeping its files in a bucket of its own on the S3-compatible server.
async fn on_s3(db: TestDatabase) -> Option<Cluster> {
    let bucket = tandem_testkit::s3::Bucket::create().await?;
    let vars = bucket.vars();
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Some(Cluster::start(db, &borrowed).await)
}

async fn on_postgres(db: TestDatabase) -> Option<Cluster> {
    Some(Cluster::start(db, &[]).await)
}

/// The same cluster with the events going through Redis (`TANDEM_REDIS_URL`).
async fn over_redis(db: TestDatabase) -> Option<Cluster> {
    let url = std::env::var("TANDEM_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    Some(Cluster::start(db, &[("TANDEM_REDIS_URL", url.as_str())]).await)
}

/// Runs each test on a fresh cluster made by `setup` when PostgreSQL is configured.
macro_rules! on_postgres {
    ($setup:ident => $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let Some(db) = TestDatabase::postgres().await else {
                    eprintln!("TANDEM_TEST_POSTGRES_URL is not set: skipped");
                    return;
                };
                if let Some(cluster) = super::$setup(db).await {
                    super::$test(cluster).await;
                }
            }
        )*
    };
}

mod postgres {
    use super::*;

    on_postgres!(
        on_postgres =>
        a_visitor_on_one_node_and_an_operator_on_another_chat_as_on_one,
        a_killed_node_takes_its_visitors_offline,
        a_worker_killed_leaves_its_mail_to_the_other_once,
        a_rolling_restart_loses_nothing,
    );
}

mod s3 {
    use super::*;

    on_postgres!(
        on_s3 =>
        a_file_sent_through_one_node_is_served_by_the_other,
    );
}

mod redis {
    use super::*;

    on_postgres!(
        over_redis =>
        a_visitor_on_one_node_and_an_operator_on_another_chat_as_on_one,
    );
}
