//! Delivering unread replies: claims, batches, outcomes and the delivery log — and the promise
//! that no reply is sent twice, however workers race.

mod support;

use std::time::Duration;

use tandem_core::CoreError;
use tandem_core::delivery::{Channel, Claim, DeliveryStatus, Outcome, UnreadBatch};
use tandem_core::events::DomainEvent;
use tandem_core::ids::ChatId;
use tandem_core::message::{Message, OfflineRequest};
use tandem_core::outbox::OutboxStatus;
use tandem_core::visitor::{ProfilePatch, VisitorActor};

use support::{Company, World, drain};

const LEASE: Duration = Duration::from_secs(60);
const TIMEOUT: Duration = Duration::from_secs(300);

/// A visitor with an address, a question, and `replies` operator answers.
async fn unread_replies(
    w: &World,
    company: &Company,
    email: Option<&str>,
    replies: &[&str],
) -> (VisitorActor, ChatId, Vec<Message>) {
    let alice = w.online_operator(company, "Alice").await;
    let (visitor, _) = w.visitor(company).await;
    if let Some(email) = email {
        w.tandem
            .visitors
            .update_profile(
                &visitor,
                ProfilePatch {
                    email: Some(email.into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let question = w
        .tandem
        .messages
        .send_as_visitor(&visitor, "Is it in stock?", None)
        .await
        .unwrap();
    let mut sent = Vec::new();
    for body in replies {
        sent.push(
            w.tandem
                .messages
                .send_as_operator(&alice, question.chat_id, body, None)
                .await
                .unwrap(),
        );
        w.advance(Duration::from_secs(10));
    }
    (visitor, question.chat_id, sent)
}

fn batch(claim: Claim) -> UnreadBatch {
    match claim {
        Claim::Batch(batch) => *batch,
        other => panic!("expected a batch, got {other:?}"),
    }
}

async fn one_claim_takes_every_unread_reply_of_the_chat(w: World) {
    let acme = w.company("acme").await;
    let (_, chat, replies) = unread_replies(
        &w,
        &acme,
        Some("eve@example.org"),
        &["Yes", "Two left", "Shall I?"],
    )
    .await;
    let first_row = w.scheduler.scheduled.lock().unwrap()[0].clone();

    // Early (apalis may fire up to a second before the time): not yet.
    assert!(matches!(
        w.tandem.deliveries.claim(first_row.id, LEASE).await.unwrap(),
        Claim::NotDue(at) if at == first_row.due_at
    ));
    w.advance(TIMEOUT);
    let batch = batch(
        w.tandem
            .deliveries
            .claim(first_row.id, LEASE)
            .await
            .unwrap(),
    );
    let ids: Vec<_> = batch.messages.iter().map(|m| m.id).collect();
    assert_eq!(ids, replies.iter().map(|m| m.id).collect::<Vec<_>>());
    assert_eq!(batch.chat, chat);
    assert_eq!(batch.visitor.email.as_deref(), Some("eve@example.org"));
    assert_eq!(batch.operator_name.as_deref(), Some("Alice"));
    assert_eq!(batch.earlier.len(), 1, "the question, as context");
    assert_eq!(batch.earlier[0].body, "Is it in stock?");
    assert_eq!(batch.attempt, 1);
    assert_eq!(batch.tenant.id, acme.tenant.id);

    // While it is held, the other rows' jobs find it busy.
    let later_row = w.scheduler.scheduled.lock().unwrap()[2].clone();
    assert_eq!(
        w.tandem
            .deliveries
            .claim(later_row.id, LEASE)
            .await
            .unwrap(),
        Claim::Busy
    );

    let mut events = w.events();
    let done = w
        .tandem
        .deliveries
        .complete(
            &batch,
            Outcome::Sent {
                channel: Channel::Email,
                recipient: "eve@example.org".into(),
            },
        )
        .await
        .unwrap();
    assert!(done.is_some());
    let updates: Vec<_> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            DomainEvent::MessageUpdated { message, .. } => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(updates.len(), 3, "operators see each reply marked emailed");
    assert!(updates.iter().all(|m| m.emailed_at.is_some()));

    // Every later job of the batch finds nothing to do.
    let scheduled = w.scheduler.scheduled.lock().unwrap().clone();
    for entry in scheduled {
        assert_eq!(
            w.tandem.deliveries.claim(entry.id, LEASE).await.unwrap(),
            Claim::Settled
        );
    }
    let rows = w
        .tandem
        .outbox
        .rows_of_chat(acme.tenant.id, chat)
        .await
        .unwrap();
    assert!(rows.iter().all(|r| r.status == OutboxStatus::Sent));
    let log = w.tandem.deliveries.log(&acme.admin, 50).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, DeliveryStatus::Sent);
    assert_eq!(log[0].recipient.as_deref(), Some("eve@example.org"));
    assert_eq!(log[0].message_ids, ids);
}

async fn replies_read_in_time_are_never_sent(w: World) {
    let acme = w.company("acme").await;
    let (visitor, _, replies) =
        unread_replies(&w, &acme, Some("eve@example.org"), &["One", "Two"]).await;
    // The visitor reads the first only.
    w.tandem
        .messages
        .mark_read_by_visitor(&visitor, replies[0].id)
        .await
        .unwrap();
    w.advance(TIMEOUT);
    let rows = w.scheduler.scheduled.lock().unwrap().clone();
    assert_eq!(
        w.tandem.deliveries.claim(rows[0].id, LEASE).await.unwrap(),
        Claim::Settled
    );
    let batch = batch(w.tandem.deliveries.claim(rows[1].id, LEASE).await.unwrap());
    assert_eq!(batch.messages.len(), 1);
    assert_eq!(batch.messages[0].id, replies[1].id);
    assert_eq!(batch.earlier.last().unwrap().id, replies[0].id);
}

async fn racing_workers_get_the_batch_once(w: World) {
    let acme = w.company("acme").await;
    unread_replies(&w, &acme, Some("eve@example.org"), &["One", "Two", "Three"]).await;
    w.advance(TIMEOUT);
    let rows = w.scheduler.scheduled.lock().unwrap().clone();
    // Eight claimers at once, on every row of the chat (jobs, retries and the sweep).
    let mut tasks = Vec::new();
    for i in 0..8 {
        let deliveries = w.tandem.deliveries.clone();
        let id = rows[i % rows.len()].id;
        tasks.push(tokio::spawn(
            async move { deliveries.claim(id, LEASE).await },
        ));
    }
    let mut batches = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Claim::Batch(b) => {
                batches += 1;
                assert_eq!(b.messages.len(), 3);
            }
            Claim::Busy | Claim::Settled => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(batches, 1, "exactly one worker delivers");
}

async fn a_dead_workers_claim_runs_out_and_is_taken_over(w: World) {
    let acme = w.company("acme").await;
    let (_, chat, _) = unread_replies(&w, &acme, Some("eve@example.org"), &["One"]).await;
    w.advance(TIMEOUT);
    let row = w.scheduler.scheduled.lock().unwrap()[0].clone();
    let lost = batch(w.tandem.deliveries.claim(row.id, LEASE).await.unwrap());
    assert!(w.tandem.outbox.due(10).await.unwrap().is_empty(), "held");

    // The worker died; once its claim has run out the sweep sees the row again.
    w.advance(LEASE + Duration::from_secs(1));
    let due = w.tandem.outbox.due(10).await.unwrap();
    assert_eq!(due.len(), 1);
    let taken = batch(w.tandem.deliveries.claim(row.id, LEASE).await.unwrap());
    assert_eq!(taken.attempt, 2);
    // The late worker's outcome no longer counts; the new one's does.
    let sent = Outcome::Sent {
        channel: Channel::Email,
        recipient: "eve@example.org".into(),
    };
    assert!(
        w.tandem
            .deliveries
            .complete(&lost, sent.clone())
            .await
            .unwrap()
            .is_none()
    );
    let recorded = w.tandem.deliveries.complete(&taken, sent).await.unwrap();
    assert!(recorded.is_some());
    let rows = w
        .tandem
        .outbox
        .rows_of_chat(acme.tenant.id, chat)
        .await
        .unwrap();
    assert_eq!(rows[0].status, OutboxStatus::Sent);
    assert_eq!(
        w.tandem
            .deliveries
            .log(&acme.admin, 50)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn failures_retry_or_give_up_and_are_logged(w: World) {
    let acme = w.company("acme").await;
    let (_, chat, _) = unread_replies(&w, &acme, Some("eve@example.org"), &["One"]).await;
    w.advance(TIMEOUT);
    let row = w.scheduler.scheduled.lock().unwrap()[0].clone();
    let first = batch(w.tandem.deliveries.claim(row.id, LEASE).await.unwrap());
    let retry_at = first.claimed_until;
    w.tandem
        .deliveries
        .complete(
            &first,
            Outcome::Retry {
                channel: Channel::Email,
                recipient: Some("eve@example.org".into()),
                reason: "SMTP: connection refused".into(),
                at: retry_at,
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        w.tandem.deliveries.claim(row.id, LEASE).await.unwrap(),
        Claim::NotDue(at) if at == retry_at
    ));
    w.advance(LEASE);
    let second = batch(w.tandem.deliveries.claim(row.id, LEASE).await.unwrap());
    assert_eq!(second.attempt, 2);
    w.tandem
        .deliveries
        .complete(
            &second,
            Outcome::Failed {
                channel: Channel::Email,
                recipient: Some("eve@example.org".into()),
                reason: "SMTP 550: no such mailbox".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        w.tandem.deliveries.claim(row.id, LEASE).await.unwrap(),
        Claim::Settled
    );
    let rows = w
        .tandem
        .outbox
        .rows_of_chat(acme.tenant.id, chat)
        .await
        .unwrap();
    assert_eq!(rows[0].status, OutboxStatus::Failed);
    let log = w.tandem.deliveries.log(&acme.admin, 50).await.unwrap();
    assert_eq!(log.len(), 2);
    assert!(log[0].reason.as_deref().unwrap().contains("550"));
    assert!(log[1].reason.as_deref().unwrap().contains("retrying"));
}

/// How a visitor gives the address they had not given.
#[derive(Clone, Copy, Debug)]
enum LeavesAddress {
    InTheirProfile,
    WithTheOfflineForm,
}

async fn skipped_for_want_of_an_address_then_given(w: &World, how: LeavesAddress) {
    let acme = w.company("acme").await;
    let (visitor, chat, replies) = unread_replies(w, &acme, None, &["One"]).await;
    w.advance(TIMEOUT);
    let row = w.scheduler.scheduled.lock().unwrap()[0].clone();
    assert!(matches!(
        w.tandem.deliveries.claim(row.id, LEASE).await.unwrap(),
        Claim::Skipped(reason) if reason.contains("no email")
    ));
    let log = w.tandem.deliveries.log(&acme.admin, 50).await.unwrap();
    assert_eq!(log[0].status, DeliveryStatus::Skipped);

    match how {
        LeavesAddress::InTheirProfile => {
            w.tandem
                .visitors
                .update_profile(
                    &visitor,
                    ProfilePatch {
                        email: Some("late@example.org".into()),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
        }
        LeavesAddress::WithTheOfflineForm => {
            w.tandem
                .messages
                .submit_offline_request(
                    &visitor,
                    OfflineRequest {
                        name: "Vera".into(),
                        email: "late@example.org".into(),
                        message: "Still waiting, write to me".into(),
                        page_url: None,
                    },
                )
                .await
                .unwrap();
        }
    }
    let scheduled = w.scheduler.scheduled.lock().unwrap().clone();
    assert_eq!(
        scheduled.len(),
        2,
        "{how:?}: rescheduled when the address arrived"
    );
    let batch = batch(
        w.tandem
            .deliveries
            .claim(scheduled[1].id, LEASE)
            .await
            .unwrap(),
    );
    assert_eq!(batch.messages[0].id, replies[0].id, "{how:?}");
    assert_eq!(batch.visitor.email.as_deref(), Some("late@example.org"));
    let rows = w
        .tandem
        .outbox
        .rows_of_chat(acme.tenant.id, chat)
        .await
        .unwrap();
    assert_eq!(rows[0].status, OutboxStatus::Sending, "{how:?}");
}

async fn a_visitor_without_an_address_gets_it_once_they_leave_one(w: World) {
    skipped_for_want_of_an_address_then_given(&w, LeavesAddress::InTheirProfile).await;
}

async fn the_offline_form_s_address_also_brings_the_skipped_replies(w: World) {
    skipped_for_want_of_an_address_then_given(&w, LeavesAddress::WithTheOfflineForm).await;
}

async fn the_delivery_log_is_the_tenants_own_and_for_admins(w: World) {
    let acme = w.company("acme").await;
    let globex = w.company("globex").await;
    unread_replies(&w, &acme, None, &["One"]).await;
    w.advance(TIMEOUT);
    let row = w.scheduler.scheduled.lock().unwrap()[0].clone();
    w.tandem.deliveries.claim(row.id, LEASE).await.unwrap();
    assert_eq!(
        w.tandem
            .deliveries
            .log(&acme.admin, 50)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        w.tandem
            .deliveries
            .log(&globex.admin, 50)
            .await
            .unwrap()
            .is_empty()
    );
    let operator = w.operator(&acme, "Bob").await;
    assert!(matches!(
        w.tandem.deliveries.log(&operator, 50).await,
        Err(CoreError::NotAllowed(_))
    ));
}

/// An export whose archive the store will not take is tried again later, then given up; one
/// whose workers kept dying is given up too; either way the company may ask again.
async fn exports_that_fail_are_retried_then_given_up(world: World) {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    use tandem_core::clock::Clock;
    use tandem_core::entity::export;
    use tandem_core::export::{ExportBuilt, ExportStatus};

    // No file store is configured: every part is refused.
    let acme = world.company("acme").await;
    let lease = Duration::from_secs(120);
    let asked = world
        .tandem
        .exports
        .request_as_admin(&acme.admin, None)
        .await
        .unwrap();
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        outcomes.push(world.tandem.exports.build(asked.id, lease).await.unwrap());
        let now = world
            .tandem
            .exports
            .get(acme.tenant.id, asked.id)
            .await
            .unwrap();
        assert_eq!(
            now.error.as_deref(),
            Some("the file store could not take the archive"),
            "in the admins' words, not the store's"
        );
        world.clock.advance(Duration::from_secs(5 * 60));
    }
    assert!(matches!(outcomes[0], ExportBuilt::Retry(_)), "{outcomes:?}");
    assert!(matches!(outcomes[1], ExportBuilt::Retry(_)), "{outcomes:?}");
    assert_eq!(outcomes[2], ExportBuilt::Failed);
    let failed = world
        .tandem
        .exports
        .get(acme.tenant.id, asked.id)
        .await
        .unwrap();
    assert_eq!(failed.status, ExportStatus::Failed);

    // Asked again; its worker died mid-build three times over (its claim ran out each time).
    let again = world
        .tandem
        .exports
        .request_as_admin(&acme.admin, None)
        .await
        .unwrap();
    let db = tandem_core::database::connect(world.database.url())
        .await
        .unwrap();
    let row = export::Entity::find_by_id(again.id)
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    let mut dead: export::ActiveModel = row.into();
    dead.status = Set(ExportStatus::Building);
    dead.attempts = Set(3);
    dead.claimed_until = Set(Some(world.clock.now().millis() - 1));
    dead.update(&db).await.unwrap();
    assert_eq!(
        world.tandem.exports.build(again.id, lease).await.unwrap(),
        ExportBuilt::Failed
    );
    assert!(
        world
            .tandem
            .exports
            .request_as_admin(&acme.admin, None)
            .await
            .is_ok()
    );
}

tandem_testkit::on_both_databases!(
    World::on_database =>
    exports_that_fail_are_retried_then_given_up,
    one_claim_takes_every_unread_reply_of_the_chat,
    replies_read_in_time_are_never_sent,
    racing_workers_get_the_batch_once,
    a_dead_workers_claim_runs_out_and_is_taken_over,
    failures_retry_or_give_up_and_are_logged,
    a_visitor_without_an_address_gets_it_once_they_leave_one,
    the_offline_form_s_address_also_brings_the_skipped_replies,
    the_delivery_log_is_the_tenants_own_and_for_admins,
);
