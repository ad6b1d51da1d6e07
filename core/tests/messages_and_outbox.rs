//! Sending, idempotency, assignment rules, read marks and the unread-reply outbox.

mod support;

use std::sync::Arc;
use std::time::Duration;

use tandem_core::CoreError;
use tandem_core::chat::{Category, ChatFilter};
use tandem_core::events::DomainEvent;
use tandem_core::message::OfflineRequest;
use tandem_core::message::{Author, Reader};
use tandem_core::outbox::{DialogContext, OfflineTimeoutPolicy, OutboxStatus};
use tandem_core::tenant::{LimitsPatch, SettingsPatch};

use support::{World, drain};

/// An operator reply assigns the chat and, in the same transaction, writes an outbox row due
/// after the tenant's timeout, which is handed to the scheduler.
async fn operator_reply_writes_the_outbox_row_and_schedules_it(w: World) {
    let acme = w.company("acme").await;
    let alice = w.online_operator(&acme, "Alice").await;
    let (visitor, _) = w.visitor(&acme).await;
    let question = w
        .tandem
        .messages
        .send_as_visitor(&visitor, "Where is my order?", None)
        .await
        .unwrap();

    let mut events = w.events();
    let now = w.clock.clone();
    let reply = w
        .tandem
        .messages
        .send_as_operator(&alice, question.chat_id, "Let me check", None)
        .await
        .unwrap();
    assert_eq!(reply.author, Author::Operator);
    assert_eq!(reply.operator_id, Some(alice.user));
    assert_eq!(reply.seq, 2);

    let rows = w
        .tandem
        .outbox
        .rows_of_chat(acme.tenant.id, question.chat_id)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].message_id, reply.id);
    assert_eq!(rows[0].status, OutboxStatus::Pending);
    use tandem_core::clock::Clock;
    assert_eq!(
        rows[0].due_at,
        now.now().saturating_add(Duration::from_secs(300)).millis()
    );
    let scheduled = w.scheduler.scheduled.lock().unwrap().clone();
    assert_eq!(scheduled.len(), 1);
    assert_eq!(scheduled[0].message, reply.id);
    assert_eq!(scheduled[0].id, rows[0].id);

    let chat = w
        .tandem
        .chats
        .get(&alice, question.chat_id)
        .await
        .unwrap()
        .chat;
    assert_eq!(chat.operator_id, Some(alice.user));
    assert_eq!(chat.category, Category::Active);
    assert!(!chat.unanswered);
    let published = drain(&mut events);
    assert!(published.iter().any(
        |e| matches!(e, DomainEvent::MessageCreated { message, .. } if message.id == reply.id)
    ));
    assert!(published.iter().any(
        |e| matches!(e, DomainEvent::ChatUpdated { chat, .. } if chat.category == Category::Active)
    ));

    // A new timeout applies to the very next reply (the settings kept for the message paths
    // are dropped when they change).
    w.tandem
        .tenants
        .update_settings(
            &acme.admin,
            SettingsPatch {
                offline_timeout_secs: Some(60),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let again = w
        .tandem
        .messages
        .send_as_operator(&alice, question.chat_id, "Found it", None)
        .await
        .unwrap();
    let rows = w
        .tandem
        .outbox
        .rows_of_chat(acme.tenant.id, question.chat_id)
        .await
        .unwrap();
    let row = rows.iter().find(|r| r.message_id == again.id).unwrap();
    assert_eq!(
        row.due_at,
        now.now().saturating_add(Duration::from_secs(60)).millis()
    );

    // Not due yet; due after the timeouts.
    assert!(w.tandem.outbox.due(100).await.unwrap().is_empty());
    w.advance(Duration::from_secs(300));
    assert_eq!(w.tandem.outbox.due(100).await.unwrap().len(), 2);
}

/// Reading a reply before its time settles its outbox row: nothing is due any more.
async fn reading_a_reply_settles_its_notification(w: World) {
    let acme = w.company("acme").await;
    let alice = w.online_operator(&acme, "Alice").await;
    let (visitor, _) = w.visitor(&acme).await;
    let q = w
        .tandem
        .messages
        .send_as_visitor(&visitor, "hi", None)
        .await
        .unwrap();
    let r1 = w
        .tandem
        .messages
        .send_as_operator(&alice, q.chat_id, "first", None)
        .await
        .unwrap();
    let r2 = w
        .tandem
        .messages
        .send_as_operator(&alice, q.chat_id, "second", None)
        .await
        .unwrap();
    let r3 = w
        .tandem
        .messages
        .send_as_operator(&alice, q.chat_id, "third", None)
        .await
        .unwrap();

    let mut events = w.events();
    w.tandem
        .messages
        .mark_read_by_visitor(&visitor, r2.id)
        .await
        .unwrap();
    let published = drain(&mut events);
    assert!(
        matches!(published.as_slice(), [DomainEvent::MessageRead { up_to, by: Reader::Visitor, .. }] if *up_to == r2.id)
    );
    // Marking again changes nothing and says nothing.
    w.tandem
        .messages
        .mark_read_by_visitor(&visitor, r2.id)
        .await
        .unwrap();
    assert!(drain(&mut events).is_empty());

    let (_, messages) = w.tandem.messages.dialog_of_visitor(&visitor).await.unwrap();
    let read: Vec<_> = messages
        .iter()
        .map(|m| (m.body.as_str(), m.read_by_visitor_at.is_some()))
        .collect();
    assert_eq!(
        read,
        vec![
            ("hi", false),
            ("first", true),
            ("second", true),
            ("third", false)
        ]
    );

    w.advance(Duration::from_secs(301));
    let due = w.tandem.outbox.due(100).await.unwrap();
    assert_eq!(
        due.iter().map(|e| e.message).collect::<Vec<_>>(),
        vec![r3.id]
    );
    let statuses: Vec<_> = w
        .tandem
        .outbox
        .rows_of_chat(acme.tenant.id, q.chat_id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.message_id, r.status))
        .collect();
    assert!(statuses.contains(&(r1.id, OutboxStatus::Read)));
    assert!(statuses.contains(&(r2.id, OutboxStatus::Read)));
    assert!(statuses.contains(&(r3.id, OutboxStatus::Pending)));

    // Operators mark the visitor's messages read.
    w.tandem
        .messages
        .mark_read_by_operator(&alice, q.chat_id, q.id)
        .await
        .unwrap();
    let dialog = w.tandem.chats.get(&alice, q.chat_id).await.unwrap();
    assert!(dialog.messages[0].read_by_operator_at.is_some());
}

/// The timeout comes from the policy port (plugins replace it), clamped to 1 s – 7 days.
async fn the_timeout_policy_decides_when_the_notification_is_due(w: World) {
    struct ShortForRussian;
    #[async_trait::async_trait]
    impl OfflineTimeoutPolicy for ShortForRussian {
        async fn offline_timeout(&self, ctx: &DialogContext) -> Duration {
            match ctx.visitor_locale.as_deref() {
                Some("ru") => Duration::from_secs(30),
                _ => Duration::from_secs(u64::MAX / 2),
            }
        }
    }
    let w = w.with_policy(Arc::new(ShortForRussian)).await;
    let acme = w.company("acme").await;
    let alice = w.online_operator(&acme, "Alice").await;
    let (ru, _) = w.visitor(&acme).await;
    w.tandem
        .visitors
        .update_profile(
            &ru,
            tandem_core::visitor::ProfilePatch {
                locale: Some("ru".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (en, _) = w.visitor(&acme).await;
    let q_ru = w
        .tandem
        .messages
        .send_as_visitor(&ru, "привет", None)
        .await
        .unwrap();
    let q_en = w
        .tandem
        .messages
        .send_as_visitor(&en, "hello", None)
        .await
        .unwrap();
    w.tandem
        .messages
        .send_as_operator(&alice, q_ru.chat_id, "здравствуйте", None)
        .await
        .unwrap();
    w.tandem
        .messages
        .send_as_operator(&alice, q_en.chat_id, "hi", None)
        .await
        .unwrap();
    let scheduled = w.scheduler.scheduled.lock().unwrap().clone();
    let start = scheduled[0].due_at.saturating_sub(Duration::from_secs(30));
    assert_eq!(
        scheduled[1].due_at.since(start),
        Duration::from_secs(7 * 24 * 3600),
        "clamped to 7 days"
    );
}

/// Resending a client id returns the first message; nobody else may reuse it.
async fn sends_are_idempotent_by_client_id(w: World) {
    let acme = w.company("acme").await;
    let alice = w.online_operator(&acme, "Alice").await;
    let (visitor, _) = w.visitor(&acme).await;
    let a = w
        .tandem
        .messages
        .send_as_visitor(&visitor, "hello", Some("c-1"))
        .await
        .unwrap();
    let b = w
        .tandem
        .messages
        .send_as_visitor(&visitor, "hello", Some("c-1"))
        .await
        .unwrap();
    assert_eq!(a, b);
    let r1 = w
        .tandem
        .messages
        .send_as_operator(&alice, a.chat_id, "hi there", Some("op-1"))
        .await
        .unwrap();
    let r2 = w
        .tandem
        .messages
        .send_as_operator(&alice, a.chat_id, "hi there", Some("op-1"))
        .await
        .unwrap();
    assert_eq!(r1, r2);
    assert_eq!(
        w.tandem
            .outbox
            .rows_of_chat(acme.tenant.id, a.chat_id)
            .await
            .unwrap()
            .len(),
        1,
        "one notification, not two"
    );
    assert!(matches!(
        w.tandem
            .messages
            .send_as_visitor(&visitor, "x", Some("op-1"))
            .await,
        Err(CoreError::Conflict(_))
    ));
    let (_, messages) = w.tandem.messages.dialog_of_visitor(&visitor).await.unwrap();
    assert_eq!(messages.len(), 2);
}

/// Many sends at once into one chat: every one lands, numbered without gaps or repeats.
async fn concurrent_sends_are_numbered_in_order(w: World) {
    let acme = w.company("acme").await;
    let alice = w.online_operator(&acme, "Alice").await;
    let (visitor, _) = w.visitor(&acme).await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let tandem = w.tandem.clone();
        tasks.push(tokio::spawn(async move {
            tandem
                .messages
                .send_as_visitor(&visitor, &format!("m{i}"), Some(&format!("c{i}")))
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let (chat, _) = w.tandem.messages.dialog_of_visitor(&visitor).await.unwrap();
    let chat = chat.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let tandem = w.tandem.clone();
        tasks.push(tokio::spawn(async move {
            tandem
                .messages
                .send_as_operator(&alice, chat.id, &format!("r{i}"), None)
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let (_, messages) = w.tandem.messages.dialog_of_visitor(&visitor).await.unwrap();
    assert_eq!(
        messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=20).collect::<Vec<_>>()
    );
    let chats = w
        .tandem
        .chats
        .list(&alice, ChatFilter::default())
        .await
        .unwrap();
    assert_eq!(
        chats.len(),
        1,
        "one dialog per visitor, even when the first messages race"
    );
}

/// A chat assigned to Alice takes replies from Alice and admins only; a refused reply changes
/// nothing.
async fn only_the_assignee_or_an_admin_may_write_to_an_assigned_chat(w: World) {
    let acme = w.company("acme").await;
    let alice = w.online_operator(&acme, "Alice").await;
    let bob = w.online_operator(&acme, "Bob").await;
    let (visitor, _) = w.visitor(&acme).await;
    let q = w
        .tandem
        .messages
        .send_as_visitor(&visitor, "help", None)
        .await
        .unwrap();
    w.tandem
        .messages
        .send_as_operator(&alice, q.chat_id, "on it", None)
        .await
        .unwrap();

    let mut events = w.events();
    let refused = w
        .tandem
        .messages
        .send_as_operator(&bob, q.chat_id, "me too", None)
        .await;
    assert!(
        matches!(refused, Err(CoreError::NotAllowed(_))),
        "{refused:?}"
    );
    assert!(matches!(
        w.tandem.chats.close(&bob, q.chat_id).await,
        Err(CoreError::NotAllowed(_))
    ));
    assert!(matches!(
        w.tandem.chats.assign(&bob, q.chat_id, None).await,
        Err(CoreError::NotAllowed(_))
    ));
    assert!(drain(&mut events).is_empty());
    let (_, messages) = w.tandem.messages.dialog_of_visitor(&visitor).await.unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(
        w.tandem
            .outbox
            .rows_of_chat(acme.tenant.id, q.chat_id)
            .await
            .unwrap()
            .len(),
        1
    );

    w.tandem
        .messages
        .send_as_operator(&acme.admin, q.chat_id, "admin here", None)
        .await
        .unwrap();
    // Alice hands the chat to Bob; now he may write.
    let chat = w
        .tandem
        .chats
        .assign(&alice, q.chat_id, Some(bob.user))
        .await
        .unwrap();
    assert_eq!(chat.operator_id, Some(bob.user));
    w.tandem
        .messages
        .send_as_operator(&bob, q.chat_id, "Bob here", None)
        .await
        .unwrap();
    let mine = w
        .tandem
        .chats
        .list(
            &bob,
            ChatFilter {
                mine: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    let released = w.tandem.chats.release(&bob, q.chat_id).await.unwrap();
    assert_eq!(
        released.category,
        Category::Offline,
        "back in the queue; the visitor never opened the widget"
    );
}

/// Visitors edit only their own messages; every bad input is refused and changes nothing.
async fn bad_input_is_refused_and_changes_nothing(w: World) {
    let acme = w.company("acme").await;
    let alice = w.online_operator(&acme, "Alice").await;
    let (visitor, _) = w.visitor(&acme).await;
    let q = w
        .tandem
        .messages
        .send_as_visitor(&visitor, "original", None)
        .await
        .unwrap();
    let r = w
        .tandem
        .messages
        .send_as_operator(&alice, q.chat_id, "reply", None)
        .await
        .unwrap();
    let mut events = w.events();

    let invalid = |result: Result<_, CoreError>, field: &str| match result {
        Err(CoreError::Invalid { field: f, .. }) => assert_eq!(f, field),
        other => panic!("expected invalid {field}, got {other:?}"),
    };
    invalid(
        w.tandem
            .messages
            .send_as_visitor(&visitor, "   ", None)
            .await
            .map(|_| ()),
        "body",
    );
    invalid(
        w.tandem
            .messages
            .send_as_visitor(&visitor, &"x".repeat(10_001), None)
            .await
            .map(|_| ()),
        "body",
    );
    invalid(
        w.tandem
            .messages
            .send_as_visitor(&visitor, "ok", Some("bad id with spaces"))
            .await
            .map(|_| ()),
        "client_id",
    );
    invalid(
        w.tandem
            .messages
            .send_as_operator(&alice, q.chat_id, "", None)
            .await
            .map(|_| ()),
        "body",
    );
    invalid(
        w.tandem
            .messages
            .edit_as_visitor(&visitor, q.id, "\u{0}")
            .await
            .map(|_| ()),
        "body",
    );
    let offline = tandem_core::message::OfflineRequest {
        name: "Fedor".into(),
        email: "not-an-email".into(),
        message: "hi".into(),
        page_url: None,
    };
    invalid(
        w.tandem
            .messages
            .submit_offline_request(&visitor, offline)
            .await
            .map(|_| ()),
        "email",
    );
    let offline = tandem_core::message::OfflineRequest {
        name: "".into(),
        email: "f@example.com".into(),
        message: "hi".into(),
        page_url: None,
    };
    invalid(
        w.tandem
            .messages
            .submit_offline_request(&visitor, offline)
            .await
            .map(|_| ()),
        "name",
    );
    let offline = tandem_core::message::OfflineRequest {
        name: "Fedor".into(),
        email: "f@example.com".into(),
        message: " ".into(),
        page_url: None,
    };
    invalid(
        w.tandem
            .messages
            .submit_offline_request(&visitor, offline)
            .await
            .map(|_| ()),
        "body",
    );
    assert_eq!(
        w.tandem.visitors.get(&visitor).await.unwrap().email,
        None,
        "a refused offline form records nothing"
    );

    assert!(matches!(
        w.tandem
            .messages
            .edit_as_visitor(&visitor, r.id, "hijack")
            .await,
        Err(CoreError::NotAllowed(_))
    ));
    let unknown = tandem_core::ids::MessageId::new();
    assert!(matches!(
        w.tandem
            .messages
            .edit_as_visitor(&visitor, unknown, "x")
            .await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        w.tandem
            .messages
            .mark_read_by_visitor(&visitor, unknown)
            .await,
        Err(CoreError::NotFound(_))
    ));
    let unknown_chat = tandem_core::ids::ChatId::new();
    assert!(matches!(
        w.tandem
            .messages
            .send_as_operator(&alice, unknown_chat, "x", None)
            .await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        w.tandem.chats.get(&alice, unknown_chat).await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        w.tandem
            .chats
            .assign(&alice, q.chat_id, Some(tandem_core::ids::UserId::new()))
            .await,
        Err(CoreError::NotFound(_))
    ));
    // Another visitor of the same tenant cannot touch this dialog either.
    let (other, _) = w.visitor(&acme).await;
    assert!(matches!(
        w.tandem
            .messages
            .edit_as_visitor(&other, q.id, "mine now")
            .await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        w.tandem.messages.mark_read_by_visitor(&other, r.id).await,
        Err(CoreError::NotFound(_))
    ));

    assert!(
        drain(&mut events).is_empty(),
        "refused calls publish nothing"
    );
    let (_, messages) = w.tandem.messages.dialog_of_visitor(&visitor).await.unwrap();
    assert_eq!(
        messages.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        vec!["original", "reply"]
    );
    assert!(
        messages
            .iter()
            .all(|m| m.edited_at.is_none() && m.read_by_visitor_at.is_none())
    );
}

/// The tenant's messages a minute is charged wherever a message is written: the widget and the
/// offline form alike (the form used to skip it). Visitors and operators have an allowance
/// each; a refused message writes nothing; the allowance refills with time; a resend is free.
async fn every_message_is_charged_to_the_tenant_s_quota(w: World) {
    let acme = w.company("acme").await;
    let globex = w.company("globex").await;
    let olga = w.online_operator(&acme, "Olga").await;
    let twelve_a_minute = LimitsPatch {
        messages_per_minute: Some(12),
        ..LimitsPatch::default()
    };
    w.tandem
        .tenants
        .set_limits(
            &tandem_core::audit::PlatformActor::command_line(),
            acme.tenant.id,
            twelve_a_minute,
        )
        .await
        .unwrap();
    let offline = |name: &str| OfflineRequest {
        name: name.into(),
        email: format!("{}@example.org", name.to_lowercase()),
        message: "Call me back, please.".into(),
        page_url: None,
    };
    let messages = &w.tandem.messages;

    // Twelve a minute lets two through at once.
    let (anna, _) = w.visitor(&acme).await;
    let first = messages
        .send_as_visitor(&anna, "Hello?", Some("c-1"))
        .await
        .unwrap();
    let (boris, _) = w.visitor(&acme).await;
    messages
        .submit_offline_request(&boris, offline("Boris"))
        .await
        .unwrap();
    let (clara, _) = w.visitor(&acme).await;
    let refused = messages
        .submit_offline_request(&clara, offline("Clara"))
        .await
        .expect_err("over the quota");
    assert!(
        matches!(
            refused,
            CoreError::RateLimited {
                retry_after_secs: 5
            }
        ),
        "{refused:?}"
    );
    let clara_now = w.tandem.visitors.get(&clara).await.unwrap();
    assert_eq!(
        (clara_now.name, clara_now.email),
        (None, None),
        "nothing written"
    );
    assert!(
        messages
            .dialog_of_visitor(&clara)
            .await
            .unwrap()
            .0
            .is_none()
    );
    // Resending what was written costs nothing.
    let again = messages
        .send_as_visitor(&anna, "Hello?", Some("c-1"))
        .await
        .unwrap();
    assert_eq!(again.id, first.id);

    // The operators' allowance is their own, and another tenant's quota is its own.
    messages
        .send_as_operator(&olga, first.chat_id, "Hi Anna!", None)
        .await
        .expect("visitors cannot use up the replies");
    let (gleb, _) = w.visitor(&globex).await;
    messages.send_as_visitor(&gleb, "Hi", None).await.unwrap();

    // One more every five seconds.
    w.advance(Duration::from_secs(5));
    messages
        .submit_offline_request(&clara, offline("Clara"))
        .await
        .expect("refilled");
    assert!(matches!(
        messages.send_as_visitor(&anna, "Still there?", None).await,
        Err(CoreError::RateLimited { .. })
    ));

    // A raised limit applies at once.
    let more = LimitsPatch {
        messages_per_minute: Some(600),
        ..LimitsPatch::default()
    };
    w.tandem
        .tenants
        .set_limits(
            &tandem_core::audit::PlatformActor::command_line(),
            acme.tenant.id,
            more,
        )
        .await
        .unwrap();
    messages
        .send_as_visitor(&anna, "Still there?", None)
        .await
        .expect("the new limit");
}

/// A tenant's retention: a dialog closed longer ago than it loses its texts (its messages stay,
/// empty); a younger one, an open one and another tenant's (which keeps everything) keep
/// theirs; an erased dialog is not erased again until it is reopened and closed.
async fn closed_dialogs_past_the_retention_are_erased(w: World) {
    let acme = w.company("acme").await;
    let globex = w.company("globex").await;
    let olga = w.operator(&acme, "Olga").await;
    let gleb = w.operator(&globex, "Gleb").await;
    let thirty_days = SettingsPatch {
        retention_days: Some(30),
        ..Default::default()
    };
    w.tandem
        .tenants
        .update_settings(&acme.admin, thirty_days)
        .await
        .unwrap();
    let says = |visitor, text: &'static str| {
        let w = &w;
        async move {
            w.tandem
                .messages
                .send_as_visitor(visitor, text, None)
                .await
                .unwrap()
        }
    };
    let (old, _) = w.visitor(&acme).await;
    let first = says(&old, "my old secret").await;
    w.tandem.chats.close(&olga, first.chat_id).await.unwrap();
    let (theirs, _) = w.visitor(&globex).await;
    let kept = says(&theirs, "Globex keeps everything").await;
    w.tandem.chats.close(&gleb, kept.chat_id).await.unwrap();
    w.clock.advance(Duration::from_secs(20 * 86_400));
    let (young, _) = w.visitor(&acme).await;
    let recent = says(&young, "closed last fortnight").await;
    w.tandem.chats.close(&olga, recent.chat_id).await.unwrap();
    let (open, _) = w.visitor(&acme).await;
    says(&open, "still talking").await;
    w.clock.advance(Duration::from_secs(15 * 86_400));

    let done = w.tandem.visitors.apply_retention().await.unwrap();
    assert_eq!(done.dialogs, 1);
    let bodies = |visitor| {
        let w = &w;
        async move {
            let (_, messages) = w.tandem.messages.dialog_of_visitor(visitor).await.unwrap();
            messages.into_iter().map(|m| m.body).collect::<Vec<_>>()
        }
    };
    assert_eq!(bodies(&old).await, [""], "the skeleton stays, empty");
    assert_eq!(bodies(&young).await, ["closed last fortnight"]);
    assert_eq!(bodies(&open).await, ["still talking"]);
    assert_eq!(bodies(&theirs).await, ["Globex keeps everything"]);
    assert_eq!(
        w.tandem.visitors.apply_retention().await.unwrap().dialogs,
        0
    );

    // Reopened by the visitor and closed again, it is erased again after the retention.
    w.clock.advance(Duration::from_secs(86_400));
    says(&old, "back again").await;
    w.tandem.chats.close(&olga, first.chat_id).await.unwrap();
    assert_eq!(
        w.tandem.visitors.apply_retention().await.unwrap().dialogs,
        0
    );
    w.clock.advance(Duration::from_secs(31 * 86_400));
    let done = w.tandem.visitors.apply_retention().await.unwrap();
    assert_eq!(done.dialogs, 2, "the old dialog again, and the fortnight's");
    assert_eq!(bodies(&old).await, ["", ""]);
}

/// A queue in the data's own database takes a reply's job in the reply's transaction: nothing
/// is left to schedule after the commit. One that refuses it (its table gone) costs the reply
/// nothing: the reply is written once, without the job, and its job is scheduled after.
async fn a_reply_s_job_is_queued_in_its_transaction_or_after_it(w: World) {
    use sea_orm::ConnectionTrait;
    let acme = w.company("acme").await;
    let alice = w.online_operator(&acme, "Alice").await;
    let (visitor, _) = w.visitor(&acme).await;
    let question = w
        .tandem
        .messages
        .send_as_visitor(&visitor, "Where is my order?", None)
        .await
        .unwrap();
    let db = tandem_core::database::connect(w.database.url())
        .await
        .unwrap();
    db.execute_unprepared("CREATE TABLE test_jobs (outbox VARCHAR(64) NOT NULL)")
        .await
        .unwrap();

    *w.scheduler.job_table.lock().unwrap() = Some("test_jobs");
    w.tandem
        .messages
        .send_as_operator(&alice, question.chat_id, "Let me check", None)
        .await
        .unwrap();
    let rows = w
        .tandem
        .outbox
        .rows_of_chat(acme.tenant.id, question.chat_id)
        .await
        .unwrap();
    let jobs = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT outbox FROM test_jobs",
        ))
        .await
        .unwrap();
    let queued: Vec<String> = jobs
        .iter()
        .map(|row| row.try_get("", "outbox").unwrap())
        .collect();
    assert_eq!(queued, [rows[0].id.to_string()]);
    assert!(w.scheduler.scheduled.lock().unwrap().is_empty());

    *w.scheduler.job_table.lock().unwrap() = Some("no_such_jobs");
    let reply = w
        .tandem
        .messages
        .send_as_operator(&alice, question.chat_id, "Found it", None)
        .await
        .expect("the reply lands without its job's row");
    let scheduled = w.scheduler.scheduled.lock().unwrap().clone();
    assert_eq!(scheduled.len(), 1);
    assert_eq!(scheduled[0].message, reply.id);
    let (_, messages) = w.tandem.messages.dialog_of_visitor(&visitor).await.unwrap();
    let bodies: Vec<_> = messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["Where is my order?", "Let me check", "Found it"]);
    assert_eq!(reply.seq, 3, "the refused pass left no trace");
    let rows = w
        .tandem
        .outbox
        .rows_of_chat(acme.tenant.id, question.chat_id)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
}

/// The rows waiting for a time in a window, as a second's job reads them: in the order of their
/// times (the same time by id), a page at a time, each once, none outside the window.
async fn the_rows_due_in_a_window_come_in_order_a_page_at_a_time(w: World) {
    use tandem_core::clock::Clock;
    let acme = w.company("acme").await;
    let alice = w.online_operator(&acme, "Alice").await;
    let start = w.clock.now();
    let reply = async |after: Duration| {
        w.advance(after);
        let (visitor, _) = w.visitor(&acme).await;
        let question = w
            .tandem
            .messages
            .send_as_visitor(&visitor, "Hello?", None)
            .await
            .unwrap();
        w.tandem
            .messages
            .send_as_operator(&alice, question.chat_id, "Hi", None)
            .await
            .unwrap();
    };
    // Three due at the window's start, one half-way, one just past it.
    for after in [0, 0, 0, 500, 500] {
        reply(Duration::from_millis(after)).await;
    }
    let from = start.saturating_add(Duration::from_secs(300));
    let window = (from, from.saturating_add(Duration::from_secs(1)));
    let mut read = Vec::new();
    let mut after = None;
    loop {
        let page = w
            .tandem
            .outbox
            .scheduled_within(window, after.as_ref(), 2)
            .await
            .unwrap();
        assert!(page.len() <= 2);
        after = page.last().cloned();
        read.extend(page);
        if after.is_none() {
            break;
        }
    }
    let times: Vec<i64> = read
        .iter()
        .map(|e| e.due_at.since(from).as_millis() as i64)
        .collect();
    assert_eq!(times, [0, 0, 0, 500], "in order, the last outside");
    let ids: Vec<_> = read.iter().map(|e| e.id).collect();
    let mut tied = ids[..3].to_vec();
    tied.sort();
    assert_eq!(ids[..3], tied[..], "the same time by id");
}

/// A visitor's message that commits while an operator's reply waits for the chat's row starts a
/// wait the reply then answers: the reply ends it, as it ends a wait begun before it. (On
/// PostgreSQL a reply written as one statement reads the waits as they were when it began.)
async fn a_wait_begun_while_a_reply_waits_for_the_chat_is_answered_by_it(w: World) {
    use sea_orm::sea_query::Expr;
    use sea_orm::{
        ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
        QueryFilter, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
    };
    use tandem_core::clock::Clock;
    use tandem_core::entity::{chat, reply_wait};

    let acme = w.company("acme").await;
    let alice = w.online_operator(&acme, "Alice").await;
    let (visitor, _) = w.visitor(&acme).await;
    let question = w
        .tandem
        .messages
        .send_as_visitor(&visitor, "Do you ship to Oslo?", None)
        .await
        .unwrap();
    let chat_id = question.chat_id;
    // Alice takes the chat; nobody waits now.
    w.tandem
        .messages
        .send_as_operator(&alice, chat_id, "We do.", None)
        .await
        .unwrap();
    w.advance(Duration::from_secs(30));
    let started = w.clock.now().millis() - 1_000;

    // The visitor's next message, as its transaction leaves the chat, held uncommitted.
    let db = tandem_core::database::connect(w.database.url())
        .await
        .unwrap();
    let backend = db.get_database_backend();
    let visitor_writes = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await
        .unwrap();
    chat::Entity::update_many()
        .col_expr(chat::Column::WaitingSince, Expr::value(started))
        .col_expr(chat::Column::Unanswered, Expr::value(true))
        .filter(chat::Column::Id.eq(chat_id))
        .exec(&visitor_writes)
        .await
        .unwrap();
    let wait = reply_wait::ActiveModel {
        id: Set(tandem_core::ids::ReplyWaitId::new()),
        tenant_id: Set(acme.tenant.id),
        chat_id: Set(chat_id),
        started_at: Set(started),
        staffed: Set(true),
        ended_at: Set(None),
        answered_by: Set(None),
    }
    .insert(&visitor_writes)
    .await
    .unwrap();

    let reply = tokio::spawn({
        let tandem = w.tandem.clone();
        async move {
            tandem
                .messages
                .send_as_operator(&alice, chat_id, "It takes two days.", None)
                .await
        }
    });
    if backend == DbBackend::Postgres {
        // Until the reply's write waits for the row the visitor's transaction holds.
        let blocked = Statement::from_string(
            backend,
            "SELECT count(*) FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))",
        );
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let row = visitor_writes
                    .query_one_raw(blocked.clone())
                    .await
                    .unwrap()
                    .unwrap();
                if row.try_get_by_index::<i64>(0).unwrap() > 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the reply waits for the chat's row");
    }
    visitor_writes.commit().await.unwrap();
    reply.await.unwrap().unwrap();

    let wait = reply_wait::Entity::find_by_id(wait.id)
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(wait.answered_by, Some(alice.user), "the reply answered it");
    assert_eq!(wait.ended_at, Some(w.clock.now().millis()));
    let chat = chat::Entity::find_by_id(chat_id)
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(chat.waiting_since, None);
    assert!(!chat.unanswered);
}

tandem_testkit::on_both_databases!(
    World::on_database =>
    a_wait_begun_while_a_reply_waits_for_the_chat_is_answered_by_it,
    the_rows_due_in_a_window_come_in_order_a_page_at_a_time,
    a_reply_s_job_is_queued_in_its_transaction_or_after_it,
    closed_dialogs_past_the_retention_are_erased,
    operator_reply_writes_the_outbox_row_and_schedules_it,
    reading_a_reply_settles_its_notification,
    the_timeout_policy_decides_when_the_notification_is_due,
    sends_are_idempotent_by_client_id,
    concurrent_sends_are_numbered_in_order,
    only_the_assignee_or_an_admin_may_write_to_an_assigned_chat,
    bad_input_is_refused_and_changes_nothing,
    every_message_is_charged_to_the_tenant_s_quota,
);
