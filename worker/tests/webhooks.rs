//! Batches that a tenant's plugin routes to webhooks: posted by the host to a real HTTP receiver
//! on loopback, signed, retried on their own schedule, posted once however often the batch is
//! routed, and every attempt in the delivery log. The plugin is stood in for by a fixed router;
//! the end-to-end tests run the real one.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tandem_core::Tandem;
use tandem_core::clock::{ManualClock, Timestamp};
use tandem_core::delivery::{
    Channel, ChosenRoutes, ChosenTemplate, DeliveryRecord, DeliveryStatus, EmailSummary,
    NotificationHooks, Route, UnreadBatch,
};
use tandem_core::ids::PluginId;
use tandem_core::operator::OperatorActor;
use tandem_core::outbox::OutboxStatus;
use tandem_core::tenant::{SettingsPatch, Tenant};
use tandem_testkit::TestDatabase;
use tandem_worker::deliver::{DEFAULT_LEASE, Deliverer, DeliverySettings};
use tandem_worker::mail::{Mailer, SmtpMailer};
use tandem_worker::sweep::Sweep;
use tandem_worker::webhook::WebhookPolicy;

use tandem_testkit::receiver::{Receiver, expected_signature};
use tandem_testkit::smtp::{Mode, SmtpSink};

const TIMEOUT: Duration = Duration::from_secs(300);

/// Stands in for a tenant's plugin: routes every batch as told, and remembers what it saw.
#[derive(Default)]
struct Router {
    routes: Mutex<Vec<Route>>,
    seen: Mutex<Vec<EmailSummary>>,
}

#[async_trait::async_trait]
impl NotificationHooks for Router {
    async fn email_template(&self, _: &UnreadBatch, _: Timestamp) -> Option<ChosenTemplate> {
        None
    }

    async fn template_failed(&self, _: &UnreadBatch, _: PluginId, _: &str) {}

    async fn routes(
        &self,
        _batch: &UnreadBatch,
        email: &EmailSummary,
        _now: Timestamp,
    ) -> Option<ChosenRoutes> {
        self.seen.lock().unwrap().push(email.clone());
        Some(ChosenRoutes {
            routes: self.routes.lock().unwrap().clone(),
            plugin: PluginId::new(),
        })
    }
}

struct Setup {
    tandem: Tandem,
    clock: ManualClock,
    smtp: SmtpSink,
    receiver: Receiver,
    router: Arc<Router>,
    sweep: Sweep,
    tenant: Tenant,
    admin: OperatorActor,
    olga: OperatorActor,
    _database: TestDatabase,
}

impl Setup {
    async fn on_database(database: TestDatabase) -> Self {
        Self::with_policy(
            database,
            WebhookPolicy {
                timeout: Duration::from_secs(5),
                // The receiver is on loopback.
                private_addresses: true,
            },
        )
        .await
    }

    async fn strict(database: TestDatabase) -> Self {
        Self::with_policy(database, WebhookPolicy::default()).await
    }

    async fn with_policy(database: TestDatabase, policy: WebhookPolicy) -> Self {
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
        let receiver = Receiver::start().await;
        tandem
            .tenants
            .update_settings(
                &admin,
                SettingsPatch {
                    webhook_urls: Some(vec![receiver.url("/team"), receiver.url("/crm")]),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let router = Arc::new(Router::default());
        let mailer: Arc<dyn Mailer> = Arc::new(SmtpMailer::from_url(&smtp.url()).unwrap());
        let deliverer = Deliverer::new(
            tandem.clone(),
            mailer,
            DeliverySettings {
                public_url: "https://chat.example.com".into(),
                from: "Acme support <support@chat.example.com>".parse().unwrap(),
                lease: DEFAULT_LEASE,
            },
        )
        .with_hooks(router.clone())
        .with_webhook_policy(policy);
        Self {
            tandem,
            clock,
            smtp,
            receiver,
            router,
            sweep: Sweep::new(deliverer, Duration::from_secs(1)),
            tenant,
            admin,
            olga,
            _database: database,
        }
    }

    fn route(&self, routes: Vec<Route>) {
        *self.router.routes.lock().unwrap() = routes;
    }

    fn webhook(&self, path: &str, body: &str) -> Route {
        Route::Webhook {
            url: self.receiver.url(path),
            body: body.into(),
        }
    }

    /// Vera asks, Olga answers, Vera leaves it unread past the timeout.
    async fn unread_reply(&self) -> tandem_core::ids::ChatId {
        let (_, question) =
            support::company::vera_asks(&self.tandem, &self.tenant, Some("vera@example.org")).await;
        self.tandem
            .messages
            .send_as_operator(&self.olga, question.chat_id, "Yes, we do!", None)
            .await
            .unwrap();
        self.clock.advance(TIMEOUT);
        question.chat_id
    }

    async fn log(&self, channel: Channel) -> Vec<DeliveryRecord> {
        let mut log: Vec<DeliveryRecord> = self
            .tandem
            .deliveries
            .log(&self.admin, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.channel == channel)
            .collect();
        log.reverse();
        log
    }
}

async fn a_routed_batch_is_mailed_and_posted_signed(s: Setup) {
    s.route(vec![
        Route::Email,
        s.webhook("/team", r#"{"text":"Vera has an unread reply"}"#),
        Route::Skip {
            reason: "no SMS gateway".into(),
        },
    ]);
    s.unread_reply().await;
    s.sweep.run_once().await;

    assert_eq!(s.smtp.received().len(), 1, "the email went as usual");
    let posts = s.receiver.requests();
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(post.method, "POST");
    assert_eq!(post.path, "/team");
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(post.body, br#"{"text":"Vera has an unread reply"}"#);
    let secret = s.tandem.deliveries.webhook_secret(&s.admin).await.unwrap();
    assert_eq!(
        post.header("x-tandem-signature"),
        Some(expected_signature(&secret, &post.body).as_str())
    );
    assert_ne!(
        post.header("x-tandem-signature"),
        Some(expected_signature("another secret", &post.body).as_str())
    );
    assert_eq!(post.header("x-tandem-attempt"), Some("1"));
    assert!(post.header("x-tandem-delivery").is_some());

    // The plugin was shown the email it was routing.
    let seen = s.router.seen.lock().unwrap().clone();
    assert_eq!(seen[0].to, "vera@example.org");
    assert!(seen[0].text.contains("Yes, we do!"), "{}", seen[0].text);

    let webhooks = s.log(Channel::Webhook).await;
    let statuses: Vec<_> = webhooks.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [DeliveryStatus::Skipped, DeliveryStatus::Sent],
        "{webhooks:?}"
    );
    assert!(
        webhooks[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("no SMS gateway")
    );
    assert_eq!(
        webhooks[1].recipient.as_deref(),
        Some(s.receiver.url("/team").as_str())
    );
    assert_eq!(s.log(Channel::Email).await[0].status, DeliveryStatus::Sent);

    // Settled: nothing is posted again.
    s.clock.advance(Duration::from_secs(3600));
    s.sweep.run_once().await;
    assert_eq!(s.receiver.requests().len(), 1);

    // A rotated secret signs the next post; the old one no longer matches.
    let rotated = s
        .tandem
        .deliveries
        .rotate_webhook_secret(&s.admin)
        .await
        .unwrap();
    assert_ne!(rotated, secret);
    s.unread_reply().await;
    s.sweep.run_once().await;
    let posts = s.receiver.requests();
    assert_eq!(posts.len(), 2);
    assert_eq!(
        posts[1].header("x-tandem-signature"),
        Some(expected_signature(&rotated, &posts[1].body).as_str())
    );
}

async fn a_failing_receiver_is_retried_on_its_own_schedule(s: Setup) {
    s.route(vec![Route::Email, s.webhook("/team", r#"{"n":1}"#)]);
    s.receiver.answer(503);
    s.unread_reply().await;
    s.sweep.run_once().await;
    assert_eq!(s.smtp.received().len(), 1, "the email does not wait");
    assert_eq!(s.receiver.requests().len(), 1);
    let log = s.log(Channel::Webhook).await;
    assert_eq!(log[0].status, DeliveryStatus::Failed);
    assert!(
        log[0].reason.as_deref().unwrap().contains("503")
            && log[0].reason.as_deref().unwrap().contains("retrying"),
        "{log:?}"
    );

    // Not before the backoff; then again, as the same delivery.
    s.sweep.run_once().await;
    assert_eq!(s.receiver.requests().len(), 1);
    s.clock.advance(Duration::from_secs(31));
    s.sweep.run_once().await;
    let posts = s.receiver.requests();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[1].header("x-tandem-attempt"), Some("2"));
    assert_eq!(
        posts[0].header("x-tandem-delivery"),
        posts[1].header("x-tandem-delivery")
    );

    s.receiver.answer(200);
    s.clock.advance(Duration::from_secs(61));
    s.sweep.run_once().await;
    s.clock.advance(Duration::from_secs(3600));
    s.sweep.run_once().await;
    assert_eq!(s.receiver.requests().len(), 3);
    let statuses: Vec<_> = s
        .log(Channel::Webhook)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses,
        [
            DeliveryStatus::Failed,
            DeliveryStatus::Failed,
            DeliveryStatus::Sent
        ]
    );
    assert_eq!(s.smtp.received().len(), 1);
}

async fn a_refusing_receiver_is_given_up_at_once(s: Setup) {
    s.route(vec![Route::Email, s.webhook("/team", "{}")]);
    s.receiver.answer(410);
    s.unread_reply().await;
    s.sweep.run_once().await;
    s.clock.advance(Duration::from_secs(3600));
    s.sweep.run_once().await;
    assert_eq!(s.receiver.requests().len(), 1);
    let log = s.log(Channel::Webhook).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, DeliveryStatus::Failed);
    assert!(
        log[0].reason.as_deref().unwrap().contains("given up"),
        "{log:?}"
    );
}

async fn a_batch_whose_email_is_retried_posts_once(s: Setup) {
    s.route(vec![Route::Email, s.webhook("/team", "{}")]);
    s.smtp.set_mode(Mode::Down);
    s.unread_reply().await;
    s.sweep.run_once().await;
    assert!(s.smtp.received().is_empty());
    assert_eq!(s.receiver.requests().len(), 1);

    // The email's retry routes the batch again: the same post is not made twice.
    s.smtp.set_mode(Mode::Accept);
    s.clock.advance(Duration::from_secs(31));
    s.sweep.run_once().await;
    s.clock.advance(Duration::from_secs(3600));
    s.sweep.run_once().await;
    assert_eq!(s.smtp.received().len(), 1);
    assert_eq!(s.receiver.requests().len(), 1);
    assert_eq!(s.router.seen.lock().unwrap().len(), 2, "routed twice");
}

async fn webhooks_only_means_no_email(s: Setup) {
    s.route(vec![s.webhook("/team", "{}"), s.webhook("/crm", "{}")]);
    let chat = s.unread_reply().await;
    s.sweep.run_once().await;
    assert!(s.smtp.received().is_empty());
    let mut paths: Vec<String> = s.receiver.requests().into_iter().map(|r| r.path).collect();
    paths.sort();
    assert_eq!(paths, ["/crm", "/team"]);
    let emails = s.log(Channel::Email).await;
    assert_eq!(emails[0].status, DeliveryStatus::Skipped);
    assert!(
        emails[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("webhooks only"),
        "{emails:?}"
    );
    let rows = s
        .tandem
        .outbox
        .rows_of_chat(s.tenant.id, chat)
        .await
        .unwrap();
    assert!(rows.iter().all(|r| r.status == OutboxStatus::Skipped));
}

async fn a_url_removed_from_the_settings_is_no_longer_posted(s: Setup) {
    s.route(vec![Route::Email, s.webhook("/team", "{}")]);
    s.receiver.answer(500);
    s.unread_reply().await;
    s.sweep.run_once().await;
    assert_eq!(s.receiver.requests().len(), 1);
    s.tandem
        .tenants
        .update_settings(
            &s.admin,
            SettingsPatch {
                webhook_urls: Some(vec![]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    s.receiver.answer(200);
    s.clock.advance(Duration::from_secs(3600));
    s.sweep.run_once().await;
    assert_eq!(s.receiver.requests().len(), 1);
    let log = s.log(Channel::Webhook).await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[1].status, DeliveryStatus::Failed);
    assert!(
        log[1]
            .reason
            .as_deref()
            .unwrap()
            .contains("no longer among the tenant's webhook URLs"),
        "{log:?}"
    );
}

tandem_testkit::on_both_databases!(
    Setup::on_database =>
    a_routed_batch_is_mailed_and_posted_signed,
    a_failing_receiver_is_retried_on_its_own_schedule,
    a_refusing_receiver_is_given_up_at_once,
    a_batch_whose_email_is_retried_posts_once,
    webhooks_only_means_no_email,
    a_url_removed_from_the_settings_is_no_longer_posted,
);

/// With the server's default policy, which keeps webhooks off its own network.
mod strict {
    use super::*;

    async fn private_addresses_are_refused_by_default(s: Setup) {
        s.route(vec![Route::Email, s.webhook("/team", "{}")]);
        s.unread_reply().await;
        s.sweep.run_once().await;
        assert_eq!(s.smtp.received().len(), 1);
        assert!(s.receiver.requests().is_empty());
        let log = s.log(Channel::Webhook).await;
        assert_eq!(log[0].status, DeliveryStatus::Failed);
        assert!(
            log[0]
                .reason
                .as_deref()
                .unwrap()
                .contains("not a public address"),
            "{log:?}"
        );
    }

    tandem_testkit::on_both_databases!(
        Setup::strict =>
        private_addresses_are_refused_by_default,
    );
}
