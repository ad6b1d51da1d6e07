//! Unread replies reach the visitor by email, over real SMTP on loopback: once, batched,
//! threaded, with a link back into the same dialog — through SMTP outages and refusals.

mod support;

use std::sync::Arc;
use std::time::Duration;

use tandem_core::Tandem;
use tandem_core::clock::ManualClock;
use tandem_core::delivery::DeliveryStatus;
use tandem_core::message::Message;
use tandem_core::operator::OperatorActor;
use tandem_core::tenant::Tenant;
use tandem_core::visitor::{SessionRequest, VisitorActor};
use tandem_testkit::TestDatabase;
use tandem_worker::deliver::{DEFAULT_LEASE, Delivered, Deliverer, DeliverySettings};
use tandem_worker::mail::{DevMailbox, Mailer, SmtpMailer};
use tandem_worker::sweep::Sweep;

use tandem_testkit::smtp::{Mode, SmtpSink};

const TIMEOUT: Duration = Duration::from_secs(300);

struct Setup {
    tandem: Tandem,
    clock: ManualClock,
    smtp: SmtpSink,
    sweep: Sweep,
    tenant: Tenant,
    admin: OperatorActor,
    olga: OperatorActor,
    _database: TestDatabase,
}

impl Setup {
    async fn on_database(database: TestDatabase) -> Self {
        let (
            tandem,
            clock,
            support::company::Acme {
                tenant,
                admin,
                olga,
            },
        ) = support::company::acme_at_manual_time(&database).await;
        let smtp = SmtpSink::start().await;
        let mailer: Arc<dyn Mailer> = Arc::new(SmtpMailer::from_url(&smtp.url()).unwrap());
        let deliverer = Deliverer::new(
            tandem.clone(),
            mailer,
            DeliverySettings {
                public_url: "https://chat.example.com".into(),
                from: "Acme support <support@chat.example.com>".parse().unwrap(),
                lease: DEFAULT_LEASE,
            },
        );
        let sweep = Sweep::new(deliverer, Duration::from_secs(1));
        Self {
            tandem,
            clock,
            smtp,
            sweep,
            tenant,
            admin,
            olga,
            _database: database,
        }
    }

    /// The visitor follows a mail's resume link.
    async fn follow(&self, token: String) -> tandem_core::visitor::Session {
        self.tandem
            .visitors
            .start_session(
                &self.tenant,
                SessionRequest {
                    resume_token: Some(token),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
    }

    /// A visitor (with this address, if any) who asked a question and got `replies`.
    async fn answered(
        &self,
        email: Option<&str>,
        replies: &[&str],
    ) -> (VisitorActor, Vec<Message>) {
        let (visitor, question) =
            support::company::vera_asks(&self.tandem, &self.tenant, email).await;
        let mut sent = Vec::new();
        for reply in replies {
            sent.push(
                self.tandem
                    .messages
                    .send_as_operator(&self.olga, question.chat_id, reply, None)
                    .await
                    .unwrap(),
            );
            self.clock.advance(Duration::from_secs(5));
        }
        (visitor, sent)
    }
}

/// Mail to an address its owner confirmed (by following a link mailed there) quotes the
/// dialog and names the visitor; a changed address is unconfirmed again. An address gets a few
/// mails a day while unconfirmed, then nothing more that day.
async fn an_unconfirmed_address_gets_little_and_nothing_of_the_visitors(s: Setup) {
    let (visitor, _) = s
        .answered(Some("vera@example.org"), &["First answer"])
        .await;
    s.clock.advance(TIMEOUT);
    s.sweep.run_once().await;
    let first = unfold_quoted_printable(&s.smtp.received()[0].data);
    assert!(!first.contains("Do you ship to Lisbon?"), "{first}");
    let token = resume_token_in(&first);
    s.follow(token.clone()).await;
    let chat = s
        .tandem
        .messages
        .dialog_of_visitor(&visitor)
        .await
        .unwrap()
        .0
        .unwrap()
        .id;
    s.tandem
        .messages
        .send_as_operator(&s.olga, chat, "Second answer", None)
        .await
        .unwrap();
    s.clock.advance(TIMEOUT);
    s.sweep.run_once().await;
    let second = unfold_quoted_printable(&s.smtp.received()[1].data);
    assert!(second.contains("To: Vera <vera@example.org>"), "{second}");
    assert!(second.contains("Do you ship to Lisbon?"), "{second}");

    // A stranger's address typed in: unconfirmed, three mails today, then no more.
    s.tandem
        .visitors
        .update_profile(
            &visitor,
            tandem_core::visitor::ProfilePatch {
                email: Some("stranger@example.net".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    for i in 0..4 {
        s.tandem
            .messages
            .send_as_operator(&s.olga, chat, &format!("Answer {i}"), None)
            .await
            .unwrap();
        s.clock.advance(TIMEOUT);
        s.sweep.run_once().await;
    }
    let to_stranger: Vec<_> = s
        .smtp
        .received()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t.contains("stranger@example.net")))
        .collect();
    assert_eq!(to_stranger.len(), 3);
    assert!(to_stranger.iter().all(|m| !m.data.contains("Vera")));
    let log = s.tandem.deliveries.log(&s.admin, 1).await.unwrap();
    assert_eq!(log[0].status, DeliveryStatus::Skipped);
    assert!(
        log[0].reason.as_deref().unwrap().contains("unconfirmed"),
        "{:?}",
        log[0].reason
    );
    // The old link does not confirm the new address.
    s.follow(token).await;
    assert!(
        !s.tandem
            .visitors
            .get(&visitor)
            .await
            .unwrap()
            .email_confirmed
    );
}

/// Mail comes from the company: its name (or the name its admin chose) on the installation's
/// sending address.
async fn mail_comes_from_the_company(s: Setup) {
    s.answered(Some("vera@example.org"), &["First"]).await;
    s.clock.advance(TIMEOUT);
    s.sweep.run_once().await;
    let first = unfold_quoted_printable(&s.smtp.received()[0].data);
    assert!(
        first.contains("From: Acme <support@chat.example.com>"),
        "{first}"
    );
    s.tandem
        .tenants
        .update_settings(
            &s.admin,
            tandem_core::tenant::SettingsPatch {
                mail_from_name: Some("Acme Support Team".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let refused = s
        .tandem
        .tenants
        .update_settings(
            &s.admin,
            tandem_core::tenant::SettingsPatch {
                mail_from_name: Some("Acme\u{202E}troppuS".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(refused.is_err(), "invisible characters in a sender's name");
    s.answered(Some("fedor@example.org"), &["Second"]).await;
    s.clock.advance(TIMEOUT);
    s.sweep.run_once().await;
    let second = unfold_quoted_printable(&s.smtp.received()[1].data);
    assert!(
        second.contains("From: \"Acme Support Team\" <support@chat.example.com>"),
        "{second}"
    );
}

async fn an_unread_reply_is_mailed_once_batched_and_threaded(s: Setup) {
    let (visitor, replies) = s
        .answered(
            Some("vera@example.org"),
            &["Yes, we do!", "Delivery takes <3 days> & is free"],
        )
        .await;
    assert_eq!(
        s.sweep.run_once().await,
        0,
        "nothing is due before the timeout"
    );
    s.clock.advance(TIMEOUT);
    assert_eq!(s.sweep.run_once().await, 2);
    assert_eq!(s.sweep.run_once().await, 0, "settled: nothing left to do");

    let mails = s.smtp.received();
    assert_eq!(mails.len(), 1, "one email for both replies");
    let mail = &mails[0];
    assert_eq!(mail.to, ["<vera@example.org>"]);
    assert_eq!(mail.from, "<support@chat.example.com>");
    let data = &unfold_quoted_printable(&mail.data);
    assert!(
        data.contains("Subject: Olga from Acme replied to you"),
        "{data}"
    );
    // Nobody has confirmed the address yet: the name the visitor typed stays out of the mail.
    assert!(data.contains("To: vera@example.org"), "{data}");
    assert!(!data.contains("Vera"), "{data}");
    let chat = replies[0].chat_id;
    assert!(data.contains(&format!("In-Reply-To: <chat-{chat}@chat.example.com>")));
    assert!(data.contains(&format!("References: <chat-{chat}@chat.example.com>")));
    assert!(data.contains("Message-ID: <"));
    assert!(data.contains("multipart/alternative"));
    assert!(data.contains("text/plain") && data.contains("text/html"));
    assert!(data.contains("Auto-Submitted: auto-generated"));
    assert!(data.contains("Yes, we do!"));
    assert!(
        !data.contains("Do you ship to Lisbon?"),
        "the visitor's own words are not quoted to an unconfirmed address"
    );
    assert!(
        data.contains("&lt;3 days&gt; &amp; is free"),
        "escaped in HTML"
    );

    // The link brings the visitor back into the same dialog, on any device.
    let token = resume_token_in(data);
    let resumed = s.follow(token).await;
    assert_eq!(resumed.actor, visitor);
    assert_eq!(resumed.chat.unwrap().id, chat);
    // Following the link confirmed the address it was mailed to.
    assert!(
        s.tandem
            .visitors
            .get(&visitor)
            .await
            .unwrap()
            .email_confirmed
    );

    // Every mail carries a one-click way to stop them.
    let unsubscribe = "List-Unsubscribe: <https://chat.example.com/api/v1/widget/";
    assert!(data.contains(unsubscribe), "{data}");
    assert!(data.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    let start = data.find("unsubscribe?token=").unwrap() + "unsubscribe?token=".len();
    let stop_token: String = data[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();

    let (_, messages) = s.tandem.messages.dialog_of_visitor(&visitor).await.unwrap();
    assert!(messages[1..].iter().all(|m| m.emailed_at.is_some()));
    let log = s.tandem.deliveries.log(&s.admin, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, DeliveryStatus::Sent);
    assert_eq!(
        log[0].message_ids,
        replies.iter().map(|m| m.id).collect::<Vec<_>>()
    );

    // Forged or foreign links do nothing; the real one stops the next mail.
    for forged in ["us_nope", &stop_token.replace('_', "-"), "rt_whatever"] {
        assert!(
            s.tandem
                .visitors
                .unsubscribe(s.tenant.id, forged)
                .await
                .is_err(),
            "{forged}"
        );
    }
    s.tandem
        .visitors
        .unsubscribe(s.tenant.id, &stop_token)
        .await
        .unwrap();
    assert!(
        s.tandem
            .visitors
            .get(&visitor)
            .await
            .unwrap()
            .emails_stopped
    );
    s.tandem
        .messages
        .send_as_operator(&s.olga, chat, "One more thing", None)
        .await
        .unwrap();
    s.clock.advance(TIMEOUT);
    s.sweep.run_once().await;
    assert_eq!(s.smtp.received().len(), 1, "no mail after unsubscribing");
    let log = s.tandem.deliveries.log(&s.admin, 10).await.unwrap();
    assert_eq!(log[0].status, DeliveryStatus::Skipped);
    assert!(log[0].reason.as_deref().unwrap().contains("stopped"));
}

async fn replies_read_in_time_are_not_mailed(s: Setup) {
    let (visitor, replies) = s.answered(Some("vera@example.org"), &["One", "Two"]).await;
    s.tandem
        .messages
        .mark_read_by_visitor(&visitor, replies[0].id)
        .await
        .unwrap();
    s.clock.advance(TIMEOUT);
    s.sweep.run_once().await;
    let mails = s.smtp.received();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].data.contains("Two"));
    let text_part = mails[0].data.split("text/html").next().unwrap();
    assert!(
        !text_part.contains("\r\nOne\r\n"),
        "the read reply is context at most, not news"
    );
    // Everything read: nothing at all.
    let (visitor, replies) = s.answered(Some("ivan@example.org"), &["Three"]).await;
    s.tandem
        .messages
        .mark_read_by_visitor(&visitor, replies[0].id)
        .await
        .unwrap();
    s.clock.advance(TIMEOUT);
    s.sweep.run_once().await;
    assert_eq!(s.smtp.received().len(), 1);
}

async fn smtp_down_then_up_delivers_once(s: Setup) {
    s.answered(Some("vera@example.org"), &["Hello"]).await;
    s.smtp.set_mode(Mode::Down);
    s.clock.advance(TIMEOUT);
    s.sweep.run_once().await;
    assert!(s.smtp.received().is_empty());
    let log = s.tandem.deliveries.log(&s.admin, 10).await.unwrap();
    assert_eq!(log[0].status, DeliveryStatus::Failed);
    assert!(
        log[0].reason.as_deref().unwrap().contains("retrying"),
        "{log:?}"
    );

    // Up again; the retry waits for its backoff, then delivers, once.
    s.smtp.set_mode(Mode::Accept);
    assert_eq!(s.sweep.run_once().await, 0, "not before the backoff");
    s.clock.advance(Duration::from_secs(31));
    s.sweep.run_once().await;
    s.clock.advance(Duration::from_secs(3600));
    s.sweep.run_once().await;
    assert_eq!(s.smtp.received().len(), 1);
    let log = s.tandem.deliveries.log(&s.admin, 10).await.unwrap();
    assert_eq!(log[0].status, DeliveryStatus::Sent);
}

async fn a_refused_address_is_given_up_and_logged(s: Setup) {
    s.answered(Some("nobody@example.org"), &["Hello"]).await;
    s.smtp.set_mode(Mode::RefuseRecipients);
    s.clock.advance(TIMEOUT);
    s.sweep.run_once().await;
    s.clock.advance(Duration::from_secs(3600));
    assert_eq!(
        s.sweep.run_once().await,
        0,
        "a permanent failure is not retried"
    );
    let log = s.tandem.deliveries.log(&s.admin, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, DeliveryStatus::Failed);
    assert!(log[0].reason.as_deref().unwrap().contains("550"), "{log:?}");
}

async fn the_dev_mailbox_keeps_mail_in_the_database_and_as_files(s: Setup) {
    let dir = tempfile::tempdir().unwrap();
    let mailbox = Arc::new(DevMailbox::new(s.tandem.clone(), dir.path()));
    let deliverer = Deliverer::new(
        s.tandem.clone(),
        mailbox.clone(),
        DeliverySettings {
            public_url: "http://127.0.0.1:8080".into(),
            from: "Tandem <no-reply@localhost>".parse().unwrap(),
            lease: DEFAULT_LEASE,
        },
    );
    s.answered(Some("vera@example.org"), &["Hello"]).await;
    s.clock.advance(TIMEOUT);
    let due = s.tandem.outbox.due(10).await.unwrap();
    assert_eq!(
        deliverer.deliver(due[0].id).await.unwrap().delivered,
        Delivered::Sent
    );
    let kept = mailbox.list(10).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].recipient.contains("vera@example.org"));
    assert!(kept[0].eml.contains("http://127.0.0.1:8080/c/"));
    let file = dir.path().join(format!("{}.eml", kept[0].id));
    assert_eq!(std::fs::read_to_string(file).unwrap(), kept[0].eml);
    assert!(s.smtp.received().is_empty());
}

/// Long lines travel quoted-printable: undo the soft breaks (and `=3D`) to read them.
/// The token of the resume link in a mail.
fn resume_token_in(mail: &str) -> String {
    let start = mail.find("resume_token=").expect("a resume link") + "resume_token=".len();
    mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

fn unfold_quoted_printable(data: &str) -> String {
    data.replace("=\r\n", "").replace("=3D", "=")
}

/// The mail went out, then the store refused to record it (a database restarting): the
/// outcome is written once the store is back, and the mail is never sent a second time (a lost
/// completion used to leave the claim to run out and the sweep to send again).
async fn a_sent_mail_is_recorded_when_the_store_comes_back_and_never_resent(s: Setup) {
    let (_, replies) = s.answered(Some("vera@example.org"), &["Hello"]).await;
    let store = tandem_core::database::connect(s._database.url())
        .await
        .unwrap();
    let (refuse, allow) = if s._database.is_postgres() {
        (
            "CREATE FUNCTION refuse_deliveries() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'the disk is full'; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER refuse BEFORE INSERT ON deliveries \
             FOR EACH ROW EXECUTE FUNCTION refuse_deliveries();",
            "DROP TRIGGER refuse ON deliveries;",
        )
    } else {
        (
            "CREATE TRIGGER refuse BEFORE INSERT ON deliveries \
             BEGIN SELECT RAISE(ABORT, 'the disk is full'); END;",
            "DROP TRIGGER refuse;",
        )
    };
    use sea_orm::ConnectionTrait;
    store.execute_unprepared(refuse).await.unwrap();
    s.clock.advance(TIMEOUT);
    let comes_back = async {
        while s.smtp.received().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A few refused attempts, then the store is back.
        tokio::time::sleep(Duration::from_millis(400)).await;
        store.execute_unprepared(allow).await.unwrap();
    };
    tokio::join!(s.sweep.run_once(), comes_back);
    let log = s.tandem.deliveries.log(&s.admin, 10).await.unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].status, DeliveryStatus::Sent);
    let rows = s
        .tandem
        .outbox
        .rows_of_chat(s.tenant.id, replies[0].chat_id)
        .await
        .unwrap();
    assert_eq!(rows[0].status, tandem_core::outbox::OutboxStatus::Sent);
    // Long after the claim would have run out, nothing goes again.
    s.clock.advance(Duration::from_secs(3600));
    s.sweep.run_once().await;
    assert_eq!(s.smtp.received().len(), 1);
}

tandem_testkit::on_both_databases!(
    Setup::on_database =>
    an_unread_reply_is_mailed_once_batched_and_threaded,
    replies_read_in_time_are_not_mailed,
    smtp_down_then_up_delivers_once,
    a_refused_address_is_given_up_and_logged,
    the_dev_mailbox_keeps_mail_in_the_database_and_as_files,
    an_unconfirmed_address_gets_little_and_nothing_of_the_visitors,
    mail_comes_from_the_company,
    a_sent_mail_is_recorded_when_the_store_comes_back_and_never_resent,
);
