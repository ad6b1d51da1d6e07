//! The company these tests deliver for: Acme, its admin, and Olga, an operator online.

use tandem_core::Tandem;
use tandem_core::operator::{NewOperator, OperatorActor, OperatorStatus};
use tandem_core::tenant::{NewTenant, Tenant};

pub struct Acme {
    pub tenant: Tenant,
    pub admin: OperatorActor,
    pub olga: OperatorActor,
}

pub async fn acme(tandem: &Tandem) -> Acme {
    let created = tandem
        .tenants
        .create(
            &tandem_core::audit::PlatformActor::command_line(),
            NewTenant {
                slug: "acme".into(),
                name: "Acme".into(),
                admin_email: "admin@acme.example".into(),
                admin_password: Some("admin-password-1".into()),
            },
        )
        .await
        .unwrap();
    let (admin, _) = tandem
        .operators
        .authenticate("acme", "admin@acme.example", "admin-password-1")
        .await
        .unwrap();
    tandem
        .operators
        .create(
            &admin,
            NewOperator {
                email: "olga@acme.example".into(),
                name: "Olga".into(),
                password: Some("operator-password".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (olga, _) = tandem
        .operators
        .authenticate("acme", "olga@acme.example", "operator-password")
        .await
        .unwrap();
    tandem
        .operators
        .set_status(&olga, OperatorStatus::Online)
        .await
        .unwrap();
    let tenant = tandem.tenants.by_id(created.tenant_id).await.unwrap();
    Acme {
        tenant,
        admin,
        olga,
    }
}

/// Tandem on `database`, migrated, with time in the test's hands; and Acme in it.
#[allow(dead_code)] // the queue tests run on the real clock
pub async fn acme_at_manual_time(
    database: &tandem_testkit::TestDatabase,
) -> (Tandem, tandem_core::clock::ManualClock, Acme) {
    use tandem_migrations::MigratorTrait;
    let db = tandem_core::database::connect(database.url())
        .await
        .unwrap();
    tandem_migrations::Migrator::up(&db, None).await.unwrap();
    let clock = tandem_core::clock::ManualClock::default();
    let ports = tandem_core::Ports {
        clock: std::sync::Arc::new(clock.clone()),
        ..tandem_core::Ports::default()
    };
    let tandem = Tandem::new(db, ports, tandem_core::limits::Limits::default());
    let acme = acme(&tandem).await;
    (tandem, clock, acme)
}

/// Vera (with this address, if any) opens the widget and asks a question; returns her and it.
#[allow(dead_code)] // the queue tests have visitors of their own
pub async fn vera_asks(
    tandem: &Tandem,
    tenant: &Tenant,
    email: Option<&str>,
) -> (
    tandem_core::visitor::VisitorActor,
    tandem_core::message::Message,
) {
    use tandem_core::visitor::{ProfilePatch, SessionRequest};
    let visitor = tandem
        .visitors
        .start_session(tenant, SessionRequest::default())
        .await
        .unwrap()
        .actor;
    tandem
        .visitors
        .update_profile(
            &visitor,
            ProfilePatch {
                name: Some("Vera".into()),
                email: email.map(str::to_owned),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let question = tandem
        .messages
        .send_as_visitor(&visitor, "Do you ship to Lisbon?", None)
        .await
        .unwrap();
    (visitor, question)
}
