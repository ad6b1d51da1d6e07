//! The situations Tandem was built for, at the service level.

mod support;

use std::time::Duration;

use tandem_core::CoreError;
use tandem_core::chat::{Category, ChatState};
use tandem_core::events::DomainEvent;
use tandem_core::message::{Author, OfflineRequest};
use tandem_core::operator::OperatorStatus;

use support::{World, drain};

const NODE: &str = "node-a";

/// Fedor writes at night, nobody is online, and he leaves: his chat is open and offline.
async fn night_visitor_who_wrote_and_left_stays_open_and_offline(w: World) {
    let acme = w.company("acme").await;
    assert!(
        !w.tandem
            .operators
            .operators_available(acme.tenant.id)
            .await
            .unwrap()
    );
    let (fedor, _) = w.visitor(&acme).await;
    let conn = w.tandem.presence.connect(&fedor, NODE).await.unwrap();
    w.tandem
        .messages
        .send_as_visitor(&fedor, "Do you deliver to Kazan?", None)
        .await
        .unwrap();
    let (chat, _) = w.tandem.messages.dialog_of_visitor(&fedor).await.unwrap();
    assert_eq!(chat.unwrap().category, Category::Waiting);

    w.tandem.presence.disconnect(&fedor, conn).await.unwrap();
    w.advance(Duration::from_secs(16));
    assert_eq!(
        w.tandem
            .presence
            .expire(Duration::from_secs(30))
            .await
            .unwrap(),
        1
    );

    let (chat, messages) = w.tandem.messages.dialog_of_visitor(&fedor).await.unwrap();
    let chat = chat.unwrap();
    assert_eq!(chat.state, ChatState::Open);
    assert_eq!(chat.category, Category::Offline);
    assert!(!chat.visitor_online);
    assert!(chat.unanswered);
    assert_eq!(messages.len(), 1);
    let offline = w.in_category(&acme.admin, Category::Offline).await;
    assert_eq!(
        offline.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![chat.id]
    );
}

/// Semion queues while operators are busy, then leaves: waiting, then offline after the grace.
async fn queued_visitor_who_left_moves_to_offline_after_the_grace(w: World) {
    let acme = w.company("acme").await;
    let alice = w.online_operator(&acme, "Alice").await;
    let (semion, _) = w.visitor(&acme).await;
    let conn = w.tandem.presence.connect(&semion, NODE).await.unwrap();
    w.tandem
        .messages
        .send_as_visitor(&semion, "Hello, anyone?", None)
        .await
        .unwrap();
    let waiting = w.in_category(&alice, Category::Waiting).await;
    assert_eq!(waiting.len(), 1);

    let mut events = w.events();
    w.tandem.presence.disconnect(&semion, conn).await.unwrap();
    w.advance(Duration::from_secs(10));
    assert_eq!(
        w.tandem
            .presence
            .expire(Duration::from_secs(30))
            .await
            .unwrap(),
        0,
        "still inside the grace period"
    );
    assert!(w.tandem.presence.is_online(&semion).await.unwrap());
    w.advance(Duration::from_secs(6));
    assert_eq!(
        w.tandem
            .presence
            .expire(Duration::from_secs(30))
            .await
            .unwrap(),
        1
    );

    let offline = w.in_category(&alice, Category::Offline).await;
    assert_eq!(offline.len(), 1);
    assert_eq!(offline[0].id, waiting[0].id);
    let published = drain(&mut events);
    assert!(
        published
            .iter()
            .any(|e| matches!(e, DomainEvent::PresenceChanged { online: false, .. }))
    );
    assert!(published.iter().any(
        |e| matches!(e, DomainEvent::ChatUpdated { chat, .. } if chat.category == Category::Offline)
    ));
}

/// A visitor wrote while nobody was online and came back when the operators started: waiting.
async fn visitor_who_came_back_when_operators_started_is_waiting(w: World) {
    let acme = w.company("acme").await;
    let (visitor, _) = w.visitor(&acme).await;
    let conn = w.tandem.presence.connect(&visitor, NODE).await.unwrap();
    w.tandem
        .messages
        .send_as_visitor(&visitor, "Is the shop open tomorrow?", None)
        .await
        .unwrap();
    w.tandem.presence.disconnect(&visitor, conn).await.unwrap();
    w.advance(Duration::from_secs(60));
    w.tandem
        .presence
        .expire(Duration::from_secs(30))
        .await
        .unwrap();
    let (chat, _) = w.tandem.messages.dialog_of_visitor(&visitor).await.unwrap();
    assert_eq!(chat.unwrap().category, Category::Offline);

    // Morning: an operator starts work. That alone moves no chat.
    let mut events = w.events();
    let alice = w.online_operator(&acme, "Alice").await;
    assert!(
        w.tandem
            .operators
            .operators_available(acme.tenant.id)
            .await
            .unwrap()
    );
    assert!(drain(&mut events).iter().any(|e| matches!(
        e,
        DomainEvent::AvailabilityChanged {
            operators_available: true,
            ..
        }
    )));
    let (chat, _) = w.tandem.messages.dialog_of_visitor(&visitor).await.unwrap();
    assert_eq!(
        chat.unwrap().category,
        Category::Offline,
        "operator presence never decides a chat's category"
    );

    // The visitor comes back to the site.
    w.tandem.presence.connect(&visitor, NODE).await.unwrap();
    let waiting = w.in_category(&alice, Category::Waiting).await;
    assert_eq!(waiting.len(), 1);
    assert!(waiting[0].visitor_online);
}

/// The offline form opens the ordinary chat; the visitor adds a message and edits the first,
/// and an operator watching sees the edit and can read the earlier text.
async fn offline_form_then_more_messages_and_an_edit(w: World) {
    let acme = w.company("acme").await;
    assert!(
        !w.tandem
            .operators
            .operators_available(acme.tenant.id)
            .await
            .unwrap()
    );
    let (visitor, _) = w.visitor(&acme).await;
    w.tandem.presence.connect(&visitor, NODE).await.unwrap();
    let (chat, request) = w
        .tandem
        .messages
        .submit_offline_request(
            &visitor,
            OfflineRequest {
                name: "Fedor".into(),
                email: "fedor@example.com".into(),
                message: "Need 3 boxes".into(),
                page_url: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(chat.state, ChatState::Open);
    assert_eq!(chat.visitor.name.as_deref(), Some("Fedor"));
    assert_eq!(chat.visitor.email.as_deref(), Some("fedor@example.com"));

    w.advance(Duration::from_secs(5));
    w.tandem
        .messages
        .send_as_visitor(&visitor, "Delivery to Kazan, please", None)
        .await
        .unwrap();
    let mut events = w.events();
    w.advance(Duration::from_secs(5));
    let edited = w
        .tandem
        .messages
        .edit_as_visitor(&visitor, request.id, "Need 4 boxes")
        .await
        .unwrap();
    assert_eq!(edited.body, "Need 4 boxes");
    assert!(edited.edited_at.is_some());
    let updates: Vec<_> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            DomainEvent::MessageUpdated { message, .. } => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(updates, vec![edited.clone()]);

    let dialog = w.tandem.chats.get(&acme.admin, chat.id).await.unwrap();
    let bodies: Vec<_> = dialog
        .messages
        .iter()
        .map(|m| (m.seq, m.body.as_str()))
        .collect();
    assert_eq!(
        bodies,
        vec![(1, "Need 4 boxes"), (2, "Delivery to Kazan, please")]
    );
    let earlier = w
        .tandem
        .messages
        .earlier_texts(&acme.admin, chat.id, request.id)
        .await
        .unwrap();
    assert_eq!(earlier.len(), 1);
    assert_eq!(earlier[0].body, "Need 3 boxes");
    assert_eq!(earlier[0].written_at, request.created_at);
    // Asked through another chat of the same tenant, the message is not found.
    let (neighbour, _) = w.visitor(&acme).await;
    let hello = w
        .tandem
        .messages
        .send_as_visitor(&neighbour, "Hello", None)
        .await
        .unwrap();
    assert!(matches!(
        w.tandem
            .messages
            .earlier_texts(&acme.admin, hello.chat_id, request.id)
            .await,
        Err(tandem_core::CoreError::NotFound(_))
    ));

    // A second edit keeps both earlier texts, oldest first.
    w.advance(Duration::from_secs(5));
    w.tandem
        .messages
        .edit_as_visitor(&visitor, request.id, "Need 5 boxes")
        .await
        .unwrap();
    let earlier = w
        .tandem
        .messages
        .earlier_texts(&acme.admin, chat.id, request.id)
        .await
        .unwrap();
    assert_eq!(
        earlier.iter().map(|e| e.body.as_str()).collect::<Vec<_>>(),
        vec!["Need 3 boxes", "Need 4 boxes"]
    );
    assert_eq!(earlier[1].written_at, edited.edited_at.unwrap());
}

/// One dialog across visits: leaving and returning several times keeps the chat and its history.
async fn visitor_leaves_and_returns_many_times_in_one_dialog(w: World) {
    let acme = w.company("acme").await;
    let alice = w.online_operator(&acme, "Alice").await;
    let (visitor, _) = w.visitor(&acme).await;
    let mut chat_id = None;
    for visit in 1..=4 {
        let conn = w.tandem.presence.connect(&visitor, NODE).await.unwrap();
        let message = w
            .tandem
            .messages
            .send_as_visitor(&visitor, &format!("visit {visit}"), None)
            .await
            .unwrap();
        assert_eq!(
            *chat_id.get_or_insert(message.chat_id),
            message.chat_id,
            "always the same dialog"
        );
        let expected = if visit == 1 {
            Category::Waiting
        } else {
            Category::Active
        };
        assert_eq!(
            w.tandem
                .chats
                .get(&alice, message.chat_id)
                .await
                .unwrap()
                .chat
                .category,
            expected
        );
        w.tandem
            .messages
            .send_as_operator(&alice, message.chat_id, &format!("reply {visit}"), None)
            .await
            .unwrap();
        w.tandem.presence.disconnect(&visitor, conn).await.unwrap();
        w.advance(Duration::from_secs(20));
        w.tandem
            .presence
            .expire(Duration::from_secs(30))
            .await
            .unwrap();
        let chat = w
            .tandem
            .chats
            .get(&alice, message.chat_id)
            .await
            .unwrap()
            .chat;
        assert!(!chat.visitor_online);
        assert_eq!(
            chat.category,
            Category::Active,
            "an assigned chat stays active; presence shows on it"
        );
    }
    let (_, messages) = w.tandem.messages.dialog_of_visitor(&visitor).await.unwrap();
    assert_eq!(messages.len(), 8);
    assert!(
        messages
            .iter()
            .enumerate()
            .all(|(i, m)| m.seq == i as i64 + 1)
    );
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.author == Author::Operator)
            .count(),
        4
    );
}

/// Two tabs count once; a page change inside the grace is not a departure.
async fn two_tabs_and_a_page_change_keep_the_visitor_online(w: World) {
    let acme = w.company("acme").await;
    let (visitor, _) = w.visitor(&acme).await;
    w.tandem
        .messages
        .send_as_visitor(&visitor, "hi", None)
        .await
        .unwrap();
    let mut events = w.events();
    let tab1 = w.tandem.presence.connect(&visitor, NODE).await.unwrap();
    let tab2 = w.tandem.presence.connect(&visitor, NODE).await.unwrap();
    let arrivals = drain(&mut events)
        .into_iter()
        .filter(|e| matches!(e, DomainEvent::PresenceChanged { online: true, .. }))
        .count();
    assert_eq!(arrivals, 1, "the second tab is not a second arrival");

    w.tandem.presence.disconnect(&visitor, tab1).await.unwrap();
    w.advance(Duration::from_secs(60));
    assert_eq!(
        w.tandem
            .presence
            .expire(Duration::from_secs(120))
            .await
            .unwrap(),
        0
    );
    assert!(w.tandem.presence.is_online(&visitor).await.unwrap());

    // Page change: the last tab closes and a new page connects within the grace.
    w.tandem.presence.disconnect(&visitor, tab2).await.unwrap();
    w.advance(Duration::from_secs(3));
    w.tandem.presence.connect(&visitor, NODE).await.unwrap();
    w.advance(Duration::from_secs(60));
    assert_eq!(
        w.tandem
            .presence
            .expire(Duration::from_secs(120))
            .await
            .unwrap(),
        0
    );
    assert!(w.tandem.presence.is_online(&visitor).await.unwrap());
    assert!(
        drain(&mut events)
            .iter()
            .all(|e| !matches!(e, DomainEvent::PresenceChanged { online: false, .. }))
    );
}

/// A node that dies without closing its sockets stops heartbeating; its visitors go offline.
async fn connections_of_a_silent_node_expire(w: World) {
    let acme = w.company("acme").await;
    let (visitor, _) = w.visitor(&acme).await;
    w.tandem
        .messages
        .send_as_visitor(&visitor, "hi", None)
        .await
        .unwrap();
    w.tandem
        .presence
        .connect(&visitor, "node-dead")
        .await
        .unwrap();
    let (other, _) = w.visitor(&acme).await;
    w.tandem
        .presence
        .connect(&other, "node-alive")
        .await
        .unwrap();

    w.advance(Duration::from_secs(20));
    assert_eq!(w.tandem.presence.heartbeat("node-alive").await.unwrap(), 1);
    w.advance(Duration::from_secs(20));
    assert_eq!(
        w.tandem
            .presence
            .expire(Duration::from_secs(30))
            .await
            .unwrap(),
        1
    );
    assert!(!w.tandem.presence.is_online(&visitor).await.unwrap());
    assert!(w.tandem.presence.is_online(&other).await.unwrap());
    let (chat, _) = w.tandem.messages.dialog_of_visitor(&visitor).await.unwrap();
    assert_eq!(chat.unwrap().category, Category::Offline);
}

/// Operator availability (online and under capacity) decides the widget, never the category.
async fn operators_available_follows_status_and_load(w: World) {
    let acme = w.company("acme").await;
    let alice = w.operator(&acme, "Alice").await; // capacity 3
    assert!(
        !w.tandem
            .operators
            .operators_available(acme.tenant.id)
            .await
            .unwrap()
    );
    w.tandem
        .operators
        .set_status(&alice, OperatorStatus::Away)
        .await
        .unwrap();
    assert!(
        !w.tandem
            .operators
            .operators_available(acme.tenant.id)
            .await
            .unwrap()
    );
    w.tandem
        .operators
        .set_status(&alice, OperatorStatus::Online)
        .await
        .unwrap();
    assert!(
        w.tandem
            .operators
            .operators_available(acme.tenant.id)
            .await
            .unwrap()
    );

    let mut chats = Vec::new();
    for i in 0..3 {
        let (visitor, _) = w.visitor(&acme).await;
        let m = w
            .tandem
            .messages
            .send_as_visitor(&visitor, &format!("visitor {i}"), None)
            .await
            .unwrap();
        w.tandem
            .messages
            .send_as_operator(&alice, m.chat_id, "hello", None)
            .await
            .unwrap();
        chats.push(m.chat_id);
    }
    assert!(
        !w.tandem
            .operators
            .operators_available(acme.tenant.id)
            .await
            .unwrap(),
        "Alice is at capacity"
    );
    let mut events = w.events();
    w.tandem.chats.close(&alice, chats[0]).await.unwrap();
    assert!(
        w.tandem
            .operators
            .operators_available(acme.tenant.id)
            .await
            .unwrap()
    );
    assert!(drain(&mut events).iter().any(|e| matches!(
        e,
        DomainEvent::AvailabilityChanged {
            operators_available: true,
            ..
        }
    )));
}

/// A closed chat reopens into the queue when the visitor writes again.
async fn closed_chat_reopens_when_the_visitor_writes(w: World) {
    let acme = w.company("acme").await;
    let alice = w.online_operator(&acme, "Alice").await;
    let (visitor, _) = w.visitor(&acme).await;
    w.tandem.presence.connect(&visitor, NODE).await.unwrap();
    let first = w
        .tandem
        .messages
        .send_as_visitor(&visitor, "question", None)
        .await
        .unwrap();
    w.tandem
        .messages
        .send_as_operator(&alice, first.chat_id, "answer", None)
        .await
        .unwrap();
    let closed = w.tandem.chats.close(&alice, first.chat_id).await.unwrap();
    assert_eq!(closed.category, Category::Closed);
    assert!(matches!(
        w.tandem.chats.assign(&alice, first.chat_id, None).await,
        Err(CoreError::Conflict(_))
    ));

    let again = w
        .tandem
        .messages
        .send_as_visitor(&visitor, "one more thing", None)
        .await
        .unwrap();
    assert_eq!(again.chat_id, first.chat_id);
    let chat = w
        .tandem
        .chats
        .get(&alice, first.chat_id)
        .await
        .unwrap()
        .chat;
    assert_eq!(chat.state, ChatState::Open);
    assert_eq!(chat.category, Category::Waiting);
    assert_eq!(chat.operator_id, None);
}

/// Visitors whose widget connects while their first message is being written: whichever
/// commits first, every chat ends up online (a chat created offline beside a socket that
/// found no chat to move would stay offline while the visitor is there).
async fn a_first_message_racing_the_widget_s_socket_starts_the_chat_online(w: World) {
    let acme = w.company("acme").await;
    let mut visitors = Vec::new();
    for _ in 0..24 {
        visitors.push(w.visitor(&acme).await.0);
    }
    let races = visitors.iter().map(|visitor| {
        let tandem = w.tandem.clone();
        let visitor = *visitor;
        tokio::spawn(async move {
            let socket = tandem.presence.connect(&visitor, NODE);
            let message = tandem.messages.send_as_visitor(&visitor, "Hello?", None);
            let (socket, message) = tokio::join!(socket, message);
            socket.unwrap();
            message.unwrap();
        })
    });
    for race in races.collect::<Vec<_>>() {
        race.await.unwrap();
    }
    for visitor in &visitors {
        let (chat, _) = w.tandem.messages.dialog_of_visitor(visitor).await.unwrap();
        let chat = chat.expect("a chat");
        assert!(chat.visitor_online, "{chat:?}");
        assert_eq!(chat.category, Category::Waiting);
    }
}

tandem_testkit::on_both_databases!(
    World::on_database =>
    a_first_message_racing_the_widget_s_socket_starts_the_chat_online,
    night_visitor_who_wrote_and_left_stays_open_and_offline,
    queued_visitor_who_left_moves_to_offline_after_the_grace,
    visitor_who_came_back_when_operators_started_is_waiting,
    offline_form_then_more_messages_and_an_edit,
    visitor_leaves_and_returns_many_times_in_one_dialog,
    two_tabs_and_a_page_change_keep_the_visitor_online,
    connections_of_a_silent_node_expire,
    operators_available_follows_status_and_load,
    closed_chat_reopens_when_the_visitor_writes,
);
