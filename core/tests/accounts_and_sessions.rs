//! Tenants, operators and their logins; visitor sessions and resume links.

mod support;

use std::time::Duration;

use tandem_core::CoreError;
use tandem_core::audit::{Action, TrailPage};
use tandem_core::operator::{NewOperator, OperatorPatch, OperatorStatus, Role};
use tandem_core::tenant::{NewTenant, SettingsPatch};
use tandem_core::visitor::{ProfilePatch, SessionRequest};

use support::World;

async fn tenant_creation_validates_and_refuses_duplicates(w: World) {
    let created = w
        .tandem
        .tenants
        .create(
            &tandem_core::audit::PlatformActor::command_line(),
            NewTenant {
                slug: "acme".into(),
                name: "Acme".into(),
                admin_email: "boss@acme.example".into(),
                admin_password: None,
            },
        )
        .await
        .unwrap();
    assert!(created.widget_key.starts_with("wk_"));
    assert_eq!(
        created.admin.password.len(),
        20,
        "a password is generated when none is given"
    );
    let (actor, admin) = w
        .tandem
        .operators
        .authenticate("acme", "boss@acme.example", &created.admin.password)
        .await
        .unwrap();
    assert_eq!(actor.role, Role::Admin);
    assert_eq!(admin.status, OperatorStatus::Offline);

    let dup = NewTenant {
        slug: "acme".into(),
        name: "Other".into(),
        admin_email: "x@y.example".into(),
        admin_password: None,
    };
    assert!(matches!(
        w.tandem
            .tenants
            .create(&tandem_core::audit::PlatformActor::command_line(), dup)
            .await,
        Err(CoreError::Conflict(_))
    ));
    for (slug, email, password, field) in [
        ("Bad Slug", "a@b.example", None, "slug"),
        ("okslug", "nope", None, "email"),
        ("okslug", "a@b.example", Some("short"), "password"),
    ] {
        let new = NewTenant {
            slug: slug.into(),
            name: "X".into(),
            admin_email: email.into(),
            admin_password: password.map(String::from),
        };
        match w
            .tandem
            .tenants
            .create(&tandem_core::audit::PlatformActor::command_line(), new)
            .await
        {
            Err(CoreError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected invalid {field}, got {other:?}"),
        }
    }
    assert_eq!(
        w.tandem.tenants.count().await.unwrap(),
        1,
        "refused creations left nothing behind"
    );
}

async fn logins_fail_alike_and_deactivation_is_immediate(w: World) {
    let acme = w.company("acme").await;
    let alice = w.operator(&acme, "Alice").await;
    let denied = |r: Result<_, CoreError>| assert!(matches!(r, Err(CoreError::Unauthorized(_))));
    denied(
        w.tandem
            .operators
            .authenticate("acme", "alice@acme.example.com", "wrong-password")
            .await
            .map(|_| ()),
    );
    denied(
        w.tandem
            .operators
            .authenticate("acme", "nobody@acme.example.com", "operator-password")
            .await
            .map(|_| ()),
    );
    denied(
        w.tandem
            .operators
            .authenticate("nope", "alice@acme.example.com", "operator-password")
            .await
            .map(|_| ()),
    );
    denied(
        w.tandem
            .operators
            .authenticate("acme", "not an email", "operator-password")
            .await
            .map(|_| ()),
    );

    assert!(
        w.tandem
            .operators
            .actor(acme.tenant.id, alice.user)
            .await
            .is_ok()
    );
    w.tandem
        .operators
        .set_status(&alice, OperatorStatus::Online)
        .await
        .unwrap();
    let updated = w
        .tandem
        .operators
        .update(
            &acme.admin,
            alice.user,
            OperatorPatch {
                active: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!updated.active);
    assert_eq!(updated.status, OperatorStatus::Offline);
    denied(
        w.tandem
            .operators
            .actor(acme.tenant.id, alice.user)
            .await
            .map(|_| ()),
    );
    denied(
        w.tandem
            .operators
            .authenticate("acme", "alice@acme.example.com", "operator-password")
            .await
            .map(|_| ()),
    );
    assert!(
        !w.tandem
            .operators
            .operators_available(acme.tenant.id)
            .await
            .unwrap()
    );
}

async fn admin_only_actions_and_the_last_admin(w: World) {
    let acme = w.company("acme").await;
    let alice = w.operator(&acme, "Alice").await;
    let not_allowed =
        |r: Result<_, CoreError>| assert!(matches!(r, Err(CoreError::NotAllowed(_))), "{r:?}");
    not_allowed(
        w.tandem
            .operators
            .create(
                &alice,
                NewOperator {
                    email: "x@acme.example.com".into(),
                    name: "X".into(),
                    ..Default::default()
                },
            )
            .await
            .map(|_| ()),
    );
    not_allowed(
        w.tandem
            .operators
            .update(
                &alice,
                alice.user,
                OperatorPatch {
                    role: Some(Role::Admin),
                    ..Default::default()
                },
            )
            .await
            .map(|_| ()),
    );
    not_allowed(
        w.tandem
            .tenants
            .update_settings(
                &alice,
                SettingsPatch {
                    offline_timeout_secs: Some(10),
                    ..Default::default()
                },
            )
            .await
            .map(|_| ()),
    );

    let last_admin = OperatorPatch {
        role: Some(Role::Operator),
        ..Default::default()
    };
    assert!(matches!(
        w.tandem
            .operators
            .update(&acme.admin, acme.admin.user, last_admin.clone())
            .await,
        Err(CoreError::Conflict(_))
    ));
    w.tandem
        .operators
        .update(
            &acme.admin,
            alice.user,
            OperatorPatch {
                role: Some(Role::Admin),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    w.tandem
        .operators
        .update(&acme.admin, acme.admin.user, last_admin)
        .await
        .unwrap();

    let dup = NewOperator {
        email: "alice@acme.example.com".into(),
        name: "Alice 2".into(),
        ..Default::default()
    };
    let alice_admin = w
        .tandem
        .operators
        .actor(acme.tenant.id, alice.user)
        .await
        .unwrap();
    assert!(matches!(
        w.tandem.operators.create(&alice_admin, dup).await,
        Err(CoreError::Conflict(_))
    ));
    let bad_capacity = NewOperator {
        email: "c@acme.example.com".into(),
        name: "C".into(),
        capacity: Some(0),
        ..Default::default()
    };
    assert!(matches!(
        w.tandem.operators.create(&alice_admin, bad_capacity).await,
        Err(CoreError::Invalid {
            field: "capacity",
            ..
        })
    ));
}

async fn settings_update_is_validated_and_all_or_nothing(w: World) {
    let acme = w.company("acme").await;
    let good = SettingsPatch {
        offline_timeout_secs: Some(120),
        presence_grace_secs: Some(5),
        ..Default::default()
    };
    let s = w
        .tandem
        .tenants
        .update_settings(&acme.admin, good)
        .await
        .unwrap();
    assert_eq!((s.offline_timeout_secs, s.presence_grace_secs), (120, 5));
    let half_bad = SettingsPatch {
        offline_timeout_secs: Some(60),
        presence_grace_secs: Some(999_999),
        ..Default::default()
    };
    assert!(matches!(
        w.tandem
            .tenants
            .update_settings(&acme.admin, half_bad)
            .await,
        Err(CoreError::Invalid {
            field: "presence_grace_secs",
            ..
        })
    ));
    let s = w.tandem.tenants.settings(acme.tenant.id).await.unwrap();
    assert_eq!(
        (s.offline_timeout_secs, s.presence_grace_secs),
        (120, 5),
        "nothing of the refused patch was kept"
    );
}

async fn visitor_sessions_restore_and_resume_links_bring_the_visitor_back(w: World) {
    let acme = w.company("acme").await;
    let (fedor, token) = w.visitor(&acme).await;
    let q = w
        .tandem
        .messages
        .send_as_visitor(&fedor, "hello", None)
        .await
        .unwrap();

    // Same device: the stored token restores the visitor and the chat.
    let again = w
        .tandem
        .visitors
        .start_session(
            &acme.tenant,
            SessionRequest {
                visitor_token: Some(token.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(again.actor, fedor);
    assert_eq!(again.visitor_token, token);
    assert_eq!(again.chat.unwrap().id, q.chat_id);

    // Another device, through the email link: same visitor and dialog, a token of its own.
    let link = w
        .tandem
        .visitors
        .issue_resume_token(
            acme.tenant.id,
            q.chat_id,
            Duration::from_secs(30 * 24 * 3600),
        )
        .await
        .unwrap();
    let phone = w
        .tandem
        .visitors
        .start_session(
            &acme.tenant,
            SessionRequest {
                resume_token: Some(link.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(phone.actor, fedor);
    assert_ne!(phone.visitor_token, token);
    assert_eq!(phone.chat.unwrap().id, q.chat_id);
    assert_eq!(
        w.tandem
            .visitors
            .authenticate(acme.tenant.id, &phone.visitor_token)
            .await
            .unwrap(),
        fedor
    );
    assert_eq!(
        w.tandem
            .visitors
            .authenticate(acme.tenant.id, &token)
            .await
            .unwrap(),
        fedor,
        "the first device keeps working"
    );

    // Links expire.
    w.advance(Duration::from_secs(30 * 24 * 3600));
    let expired = w
        .tandem
        .visitors
        .start_session(
            &acme.tenant,
            SessionRequest {
                resume_token: Some(link),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(expired, Err(CoreError::Unauthorized(_))));
    for forged in ["vt_forged", "rt_forged", "", "garbage token"] {
        let r = w
            .tandem
            .visitors
            .start_session(
                &acme.tenant,
                SessionRequest {
                    visitor_token: Some(forged.into()),
                    ..Default::default()
                },
            )
            .await;
        assert!(matches!(r, Err(CoreError::Unauthorized(_))), "{forged:?}");
    }

    // Profile: validated, and a refused change keeps what was there.
    let p = w
        .tandem
        .visitors
        .update_profile(
            &fedor,
            ProfilePatch {
                name: Some("Fedor".into()),
                email: Some("fedor@example.com".into()),
                locale: Some("ru-RU".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (p.name.as_deref(), p.email.as_deref(), p.locale.as_deref()),
        (Some("Fedor"), Some("fedor@example.com"), Some("ru-RU"))
    );
    assert!(
        w.tandem
            .visitors
            .update_profile(
                &fedor,
                ProfilePatch {
                    email: Some("broken".into()),
                    name: Some("Other".into()),
                    ..Default::default()
                }
            )
            .await
            .is_err()
    );
    assert!(
        w.tandem
            .visitors
            .update_profile(
                &fedor,
                ProfilePatch {
                    locale: Some("not a locale!".into()),
                    ..Default::default()
                }
            )
            .await
            .is_err()
    );
    let p = w.tandem.visitors.get(&fedor).await.unwrap();
    assert_eq!(
        (p.name.as_deref(), p.email.as_deref()),
        (Some("Fedor"), Some("fedor@example.com"))
    );
}

async fn session_tokens_expire_revoke_and_follow_the_account(w: World) {
    let acme = w.company("acme").await;
    let ops = &w.tandem.operators;
    let login = ops
        .login("acme", &acme.admin_email, &acme.admin_password)
        .await
        .unwrap();
    assert!(login.token.starts_with("ot_"));
    assert_eq!(
        ops.authenticate_token(&login.token).await.unwrap(),
        acme.admin
    );
    for forged in ["", "ot_", "ot_AAAA", "vt_whatever", "not a token at all"] {
        assert!(matches!(
            ops.authenticate_token(forged).await,
            Err(CoreError::Unauthorized(_))
        ));
    }
    assert!(matches!(
        ops.login("acme", &acme.admin_email, "wrong-password").await,
        Err(CoreError::Unauthorized(_))
    ));

    // Logout ends this session only, and twice is fine.
    let other = ops
        .login("acme", &acme.admin_email, &acme.admin_password)
        .await
        .unwrap();
    ops.logout(&login.token).await.unwrap();
    ops.logout(&login.token).await.unwrap();
    assert!(ops.authenticate_token(&login.token).await.is_err());
    assert!(ops.authenticate_token(&other.token).await.is_ok());

    // Sessions expire on their own.
    w.advance(tandem_core::operator::SESSION_LIFETIME + Duration::from_secs(1));
    assert!(ops.authenticate_token(&other.token).await.is_err());

    // Deactivation ends an operator's sessions at once; suspension pauses the tenant's.
    let anna = w.operator(&acme, "Anna").await;
    let anna_login = ops
        .login("acme", "anna@acme.example.com", "operator-password")
        .await
        .unwrap();
    assert_eq!(
        ops.authenticate_token(&anna_login.token).await.unwrap(),
        anna
    );
    let admin = ops
        .login("acme", &acme.admin_email, &acme.admin_password)
        .await
        .unwrap();
    w.tandem
        .tenants
        .set_suspended(
            &tandem_core::audit::PlatformActor::command_line(),
            acme.tenant.id,
            true,
        )
        .await
        .unwrap();
    assert!(matches!(
        ops.authenticate_token(&admin.token).await,
        Err(CoreError::TenantSuspended)
    ));
    w.tandem
        .tenants
        .set_suspended(
            &tandem_core::audit::PlatformActor::command_line(),
            acme.tenant.id,
            false,
        )
        .await
        .unwrap();
    ops.update(
        &acme.admin,
        anna.user,
        OperatorPatch {
            active: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(ops.authenticate_token(&anna_login.token).await.is_err());
    ops.update(
        &acme.admin,
        anna.user,
        OperatorPatch {
            active: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        ops.authenticate_token(&anna_login.token).await.is_err(),
        "reactivation does not bring old sessions back"
    );
}

/// The trail keeps what is younger than the retention and loses what is older, whichever
/// company it belongs to; a failed change leaves no entry.
async fn the_audit_trail_keeps_entries_for_the_retention_only(w: World) {
    let acme = w.company("acme").await;
    let globex = w.company("globex").await;
    let page = TrailPage {
        limit: 100,
        before: None,
    };
    let timeout = |secs| SettingsPatch {
        offline_timeout_secs: Some(secs),
        ..Default::default()
    };
    w.tandem
        .tenants
        .update_settings(&acme.admin, timeout(60))
        .await
        .unwrap();
    assert!(
        w.tandem
            .tenants
            .update_settings(&acme.admin, timeout(0))
            .await
            .is_err()
    );
    w.clock.advance(Duration::from_secs(10 * 86_400));
    w.tandem
        .tenants
        .update_settings(&globex.admin, timeout(90))
        .await
        .unwrap();
    let actions = |entries: Vec<tandem_core::audit::AuditEntry>| {
        entries.into_iter().map(|e| e.action).collect::<Vec<_>>()
    };
    let acme_trail = w
        .tandem
        .audit
        .tenant_trail(&acme.admin, page)
        .await
        .unwrap();
    assert_eq!(
        actions(acme_trail),
        [Action::SettingsChanged, Action::TenantCreated]
    );

    // Five days' retention: the two creations and Acme's change, ten days old, go.
    let removed = w
        .tandem
        .audit
        .prune(Duration::from_secs(5 * 86_400))
        .await
        .unwrap();
    assert_eq!(removed, 3);
    let acme_trail = w
        .tandem
        .audit
        .tenant_trail(&acme.admin, page)
        .await
        .unwrap();
    assert!(acme_trail.is_empty());
    let everyone = w.tandem.audit.platform_trail(None, page).await.unwrap();
    assert_eq!(actions(everyone), [Action::SettingsChanged]);
    let operator = w.operator(&globex, "Gleb").await;
    assert!(matches!(
        w.tandem.audit.tenant_trail(&operator, page).await,
        Err(CoreError::NotAllowed(_))
    ));
}

tandem_testkit::on_both_databases!(
    World::on_database =>
    the_audit_trail_keeps_entries_for_the_retention_only,
    tenant_creation_validates_and_refuses_duplicates,
    logins_fail_alike_and_deactivation_is_immediate,
    admin_only_actions_and_the_last_admin,
    settings_update_is_validated_and_all_or_nothing,
    visitor_sessions_restore_and_resume_links_bring_the_visitor_back,
    session_tokens_expire_revoke_and_follow_the_account,
);
