//! Tenant isolation: nothing done with tenant B's credentials, or with ids mixed across tenants,
//! reads or changes tenant A's rows. Foreign ids are "not found", never "forbidden".

mod support;

use std::time::Duration;

use tandem_core::CoreError;
use tandem_core::chat::ChatFilter;
use tandem_core::operator::{OperatorActor, OperatorPatch};
use tandem_core::tenant::SettingsPatch;
use tandem_core::visitor::{SessionRequest, VisitorActor};

use support::{World, drain};

fn not_found<T: std::fmt::Debug>(result: Result<T, CoreError>) {
    assert!(
        matches!(result, Err(CoreError::NotFound(_))),
        "expected not found, got {result:?}"
    );
}

async fn another_tenant_can_neither_read_nor_touch_a_tenants_data(w: World) {
    let a = w.company("alpha").await;
    let b = w.company("beta").await;
    let alice = w.online_operator(&a, "Alice").await;
    let (fedor, fedor_token) = w.visitor(&a).await;
    let question = w
        .tandem
        .messages
        .send_as_visitor(&fedor, "secret order 42", None)
        .await
        .unwrap();
    let reply = w
        .tandem
        .messages
        .send_as_operator(&alice, question.chat_id, "on it", None)
        .await
        .unwrap();
    w.tandem
        .messages
        .edit_as_visitor(&fedor, question.id, "secret order 43")
        .await
        .unwrap();
    let resume = w
        .tandem
        .visitors
        .issue_resume_token(a.tenant.id, question.chat_id, Duration::from_secs(3600))
        .await
        .unwrap();
    let before = w
        .tandem
        .chats
        .get(&a.admin, question.chat_id)
        .await
        .unwrap();
    let mut events = w.events();

    // B's admin, with A's ids.
    let chat = question.chat_id;
    assert!(
        w.tandem
            .chats
            .list(&b.admin, ChatFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    not_found(w.tandem.chats.get(&b.admin, chat).await);
    not_found(
        w.tandem
            .messages
            .send_as_operator(&b.admin, chat, "hi from beta", None)
            .await,
    );
    not_found(w.tandem.chats.assign(&b.admin, chat, None).await);
    not_found(w.tandem.chats.release(&b.admin, chat).await);
    not_found(w.tandem.chats.close(&b.admin, chat).await);
    not_found(
        w.tandem
            .messages
            .mark_read_by_operator(&b.admin, chat, question.id)
            .await,
    );
    not_found(
        w.tandem
            .messages
            .earlier_texts(&b.admin, chat, question.id)
            .await,
    );
    not_found(w.tandem.operators.get(&b.admin, alice.user).await);
    not_found(
        w.tandem
            .operators
            .update(
                &b.admin,
                alice.user,
                OperatorPatch {
                    active: Some(false),
                    ..Default::default()
                },
            )
            .await,
    );
    assert!(
        w.tandem
            .operators
            .list(&b.admin)
            .await
            .unwrap()
            .iter()
            .all(|o| o.id != alice.user)
    );
    // A's admin cannot assign A's chat to B's operator.
    let (b_actor, _) = (b.admin, ());
    not_found(
        w.tandem
            .chats
            .assign(&a.admin, chat, Some(b_actor.user))
            .await,
    );

    // A's visitor credentials do not work at B, and B's widget cannot resume A's dialog.
    assert!(matches!(
        w.tandem
            .visitors
            .authenticate(b.tenant.id, &fedor_token)
            .await,
        Err(CoreError::Unauthorized(_))
    ));
    let session = SessionRequest {
        visitor_token: Some(fedor_token.clone()),
        ..Default::default()
    };
    assert!(matches!(
        w.tandem.visitors.start_session(&b.tenant, session).await,
        Err(CoreError::Unauthorized(_))
    ));
    let session = SessionRequest {
        resume_token: Some(resume.clone()),
        ..Default::default()
    };
    assert!(matches!(
        w.tandem.visitors.start_session(&b.tenant, session).await,
        Err(CoreError::Unauthorized(_))
    ));
    not_found(
        w.tandem
            .visitors
            .issue_resume_token(b.tenant.id, chat, Duration::from_secs(60))
            .await,
    );

    // Even an actor that mixes B's tenant with A's ids (a bug elsewhere) finds nothing.
    let forged_visitor = VisitorActor {
        tenant: b.tenant.id,
        visitor: fedor.visitor,
    };
    assert_eq!(
        w.tandem
            .messages
            .dialog_of_visitor(&forged_visitor)
            .await
            .unwrap()
            .0,
        None
    );
    not_found(
        w.tandem
            .messages
            .edit_as_visitor(&forged_visitor, question.id, "changed")
            .await,
    );
    not_found(
        w.tandem
            .messages
            .mark_read_by_visitor(&forged_visitor, reply.id)
            .await,
    );
    not_found(w.tandem.presence.connect(&forged_visitor, "node").await);
    not_found(w.tandem.visitors.get(&forged_visitor).await);
    let forged_operator = OperatorActor {
        tenant: b.tenant.id,
        ..alice
    };
    assert!(
        w.tandem
            .chats
            .list(&forged_operator, ChatFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    not_found(w.tandem.chats.get(&forged_operator, chat).await);
    not_found(
        w.tandem
            .messages
            .send_as_operator(&forged_operator, chat, "x", None)
            .await,
    );
    assert!(
        w.tandem
            .operators
            .actor(b.tenant.id, alice.user)
            .await
            .is_err()
    );

    // B's settings change is B's alone.
    w.tandem
        .tenants
        .update_settings(
            &b.admin,
            SettingsPatch {
                offline_timeout_secs: Some(60),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        w.tandem
            .tenants
            .settings(a.tenant.id)
            .await
            .unwrap()
            .offline_timeout_secs,
        300
    );

    // Nothing of A changed and nothing was announced.
    assert!(drain(&mut events).is_empty());
    let after = w.tandem.chats.get(&a.admin, chat).await.unwrap();
    assert_eq!(before, after);
    assert_eq!(
        w.tandem
            .outbox
            .rows_of_chat(a.tenant.id, chat)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        w.tandem
            .outbox
            .rows_of_chat(b.tenant.id, chat)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        w.tandem.presence.connect(&fedor, "node").await.is_ok(),
        "A's own visitor still works"
    );
}

async fn widget_keys_find_only_their_own_tenant(w: World) {
    let a = w.company("alpha").await;
    let b = w.company("beta").await;
    assert_eq!(
        w.tandem
            .tenants
            .by_widget_key(&a.tenant.widget_key)
            .await
            .unwrap()
            .id,
        a.tenant.id
    );
    assert_eq!(
        w.tandem
            .tenants
            .by_widget_key(&b.tenant.widget_key)
            .await
            .unwrap()
            .id,
        b.tenant.id
    );
    for bad in [
        "",
        "wk_",
        "wk_doesnotexist",
        "'; drop table tenants; --",
        &"x".repeat(10_000),
    ] {
        not_found(w.tandem.tenants.by_widget_key(bad).await);
    }
    w.tandem
        .tenants
        .set_suspended(
            &tandem_core::audit::PlatformActor::command_line(),
            a.tenant.id,
            true,
        )
        .await
        .unwrap();
    assert!(matches!(
        w.tandem.tenants.by_widget_key(&a.tenant.widget_key).await,
        Err(CoreError::TenantSuspended)
    ));
    assert!(
        w.tandem
            .tenants
            .by_widget_key(&b.tenant.widget_key)
            .await
            .is_ok()
    );
    assert!(matches!(
        w.tandem
            .operators
            .authenticate("alpha", &a.admin_email, &a.admin_password)
            .await,
        Err(CoreError::TenantSuspended)
    ));
    w.tandem
        .tenants
        .set_suspended(
            &tandem_core::audit::PlatformActor::command_line(),
            a.tenant.id,
            false,
        )
        .await
        .unwrap();
    assert!(
        w.tandem
            .tenants
            .by_widget_key(&a.tenant.widget_key)
            .await
            .is_ok(),
        "nothing was deleted"
    );
}

tandem_testkit::on_both_databases!(
    World::on_database =>
    another_tenant_can_neither_read_nor_touch_a_tenants_data,
    widget_keys_find_only_their_own_tenant
);
