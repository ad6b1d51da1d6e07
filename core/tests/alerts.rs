//! Alerts for operators at the level of core: however many workers race, an alert is routed
//! once and a digest is claimed by one; a chat closed while its visitor waited starts a new
//! wait when they write again.

mod support;

use std::time::Duration;

use tandem_core::alert::{AlertClaim, AlertService, DigestFound, DigestOutcome};
use tandem_core::chat::ChatFilter;
use tandem_core::message::OfflineRequest;

use support::World;

const LEASE: Duration = Duration::from_secs(60);

/// What eight workers calling `call` at once got.
async fn eight_at_once<T, F, Fut>(w: &World, call: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(AlertService) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..8)
        .map(|_| tokio::spawn(call(w.tandem.alerts.clone())))
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

/// Eight workers at once: one routes the alert, one claims the admin's digest, and the digest
/// sent settles it (the next claim finds nothing).
async fn racing_workers_route_once_and_claim_one_digest(w: World) {
    let acme = w.company("acme").await;
    let (visitor, _) = w.visitor(&acme).await;
    w.tandem
        .messages
        .submit_offline_request(
            &visitor,
            OfflineRequest {
                name: "Vera".into(),
                email: "vera@example.org".into(),
                message: "Do you ship to Oslo?".into(),
                page_url: None,
            },
        )
        .await
        .unwrap();
    let unrouted = w.tandem.alerts.unrouted(Duration::ZERO, 10).await.unwrap();
    assert_eq!(unrouted.len(), 1);
    let alert = unrouted[0];

    let routes: Vec<_> = eight_at_once(&w, move |alerts| async move {
        alerts.claim_routing(alert, LEASE).await.unwrap()
    })
    .await
    .into_iter()
    .filter_map(|claim| match claim {
        AlertClaim::Route(claim) => Some(claim),
        _ => None,
    })
    .collect();
    assert_eq!(routes.len(), 1, "one worker routes it");
    let routed = w
        .tandem
        .alerts
        .complete_routing(&routes[0], None)
        .await
        .unwrap();
    assert!(routed.webhooks.is_empty() && routed.pushes.is_empty());
    assert!(
        w.tandem
            .alerts
            .unrouted(Duration::ZERO, 10)
            .await
            .unwrap()
            .is_empty(),
        "routed"
    );

    // The admin is not online: a digest is due at once, and only one worker gets it.
    let due = w.tandem.alerts.due_digests(10).await.unwrap();
    assert_eq!(due, vec![acme.admin.user]);
    let admin = acme.admin.user;
    let sends: Vec<_> = eight_at_once(&w, move |alerts| async move {
        alerts.claim_digest(admin, LEASE).await.unwrap()
    })
    .await
    .into_iter()
    .filter_map(|found| match found {
        DigestFound::Send(claim) => Some(claim),
        _ => None,
    })
    .collect();
    assert_eq!(sends.len(), 1, "one worker mails it");
    let claim = &sends[0];
    assert_eq!(claim.alerts.len(), 1);
    assert_eq!(claim.alerts[0].alert.preview, "Do you ship to Oslo?");
    assert_eq!(
        claim.alerts[0].visitor_email.as_deref(),
        Some("vera@example.org")
    );
    w.tandem
        .alerts
        .complete_digest(claim, DigestOutcome::Sent)
        .await
        .unwrap();
    assert!(w.tandem.alerts.due_digests(10).await.unwrap().is_empty());
    assert_eq!(
        w.tandem
            .alerts
            .claim_digest(acme.admin.user, LEASE)
            .await
            .unwrap(),
        DigestFound::Nothing
    );
}

/// A chat closed while its visitor waited: their next message starts a new wait, alerted after
/// the tenant's minutes again.
async fn a_chat_closed_unanswered_waits_anew_when_written_to(w: World) {
    let acme = w.company("acme").await;
    let olga = w.online_operator(&acme, "Olga").await;
    let (visitor, _) = w.visitor(&acme).await;
    let first = w
        .tandem
        .messages
        .send_as_visitor(&visitor, "Hello?", None)
        .await
        .unwrap();
    w.advance(Duration::from_secs(5 * 60));
    assert_eq!(w.tandem.alerts.raise_long_waits(10).await.unwrap().len(), 1);
    w.tandem.chats.close(&olga, first.chat_id).await.unwrap();

    w.advance(Duration::from_secs(60 * 60));
    w.tandem
        .messages
        .send_as_visitor(&visitor, "Back again", None)
        .await
        .unwrap();
    w.advance(Duration::from_secs(5 * 60 - 1));
    assert!(
        w.tandem
            .alerts
            .raise_long_waits(10)
            .await
            .unwrap()
            .is_empty()
    );
    w.advance(Duration::from_secs(1));
    let raised = w.tandem.alerts.raise_long_waits(10).await.unwrap();
    assert_eq!(raised.len(), 1, "the new wait is alerted");
    let AlertClaim::Route(claim) = w
        .tandem
        .alerts
        .claim_routing(raised[0], LEASE)
        .await
        .unwrap()
    else {
        panic!("the alert is routable");
    };
    assert_eq!(
        claim.alert.wait_minutes,
        Some(5),
        "counted from the new wait"
    );
    assert_eq!(claim.alert.preview, "Back again");
    // Closed while waiting, then nothing: no alert for a wait that ended.
    w.tandem.chats.close(&olga, first.chat_id).await.unwrap();
    w.advance(Duration::from_secs(60 * 60));
    assert!(
        w.tandem
            .alerts
            .raise_long_waits(10)
            .await
            .unwrap()
            .is_empty()
    );
    let open = w
        .tandem
        .chats
        .list(&olga, ChatFilter::default())
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
}

tandem_testkit::on_both_databases!(
    World::on_database =>
    racing_workers_route_once_and_claim_one_digest,
    a_chat_closed_unanswered_waits_anew_when_written_to,
);
