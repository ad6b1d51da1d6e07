//! One world per test: a fresh database (SQLite or PostgreSQL), a clock the test moves, the
//! event bus to watch, and a scheduler that records what it was asked to schedule.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tandem_core::chat::{Category, Chat, ChatFilter};
use tandem_core::clock::ManualClock;
use tandem_core::events::{BroadcastBus, DomainEvent};
use tandem_core::limits::Limits;
use tandem_core::operator::{NewOperator, OperatorActor, OperatorStatus, Role};
use tandem_core::outbox::{
    JobRow, NotificationScheduler, OfflineTimeoutPolicy, OutboxEntry, ScheduleError,
    TenantTimeoutSetting,
};
use tandem_core::tenant::{NewTenant, Tenant};
use tandem_core::visitor::{SessionRequest, VisitorActor};
use tandem_core::{Ports, Tandem};
use tandem_migrations::MigratorTrait;
use tandem_testkit::TestDatabase;
use tokio::sync::broadcast::Receiver;

/// Records the entries handed to it after their commit; with `job_table` set, it queues a job
/// in the reply's transaction instead, as a row of that table (which may not exist).
#[derive(Default)]
pub struct RecordingScheduler {
    pub scheduled: Mutex<Vec<OutboxEntry>>,
    pub job_table: Mutex<Option<&'static str>>,
}

#[async_trait::async_trait]
impl NotificationScheduler for RecordingScheduler {
    async fn schedule(&self, entry: &OutboxEntry) -> Result<(), ScheduleError> {
        self.scheduled.lock().unwrap().push(entry.clone());
        Ok(())
    }

    fn enqueue_with_row(
        &self,
        _backend: sea_orm::DbBackend,
        entry: &OutboxEntry,
    ) -> Option<JobRow> {
        use sea_orm::sea_query::{Expr, IntoTableRef};
        let table = (*self.job_table.lock().unwrap())?;
        Some(JobRow {
            table: table.into_table_ref(),
            columns: vec!["outbox"],
            values: vec![Expr::val(entry.id.to_string())],
            on_conflict: None,
        })
    }
}

pub struct World {
    pub tandem: Tandem,
    pub clock: ManualClock,
    pub bus: BroadcastBus,
    pub scheduler: Arc<RecordingScheduler>,
    pub database: TestDatabase,
}

/// A tenant with its admin.
pub struct Company {
    pub tenant: Tenant,
    pub admin: OperatorActor,
    pub admin_email: String,
    pub admin_password: String,
}

impl World {
    pub async fn on_database(database: TestDatabase) -> Self {
        Self::on(database, Arc::new(TenantTimeoutSetting)).await
    }

    pub async fn on(database: TestDatabase, timeout_policy: Arc<dyn OfflineTimeoutPolicy>) -> Self {
        let db = tandem_core::database::connect(database.url())
            .await
            .expect("connect to the test database");
        tandem_migrations::Migrator::up(&db, None)
            .await
            .expect("migrate");
        let clock = ManualClock::default();
        let bus = BroadcastBus::new(10_000);
        let scheduler = Arc::new(RecordingScheduler::default());
        let ports = Ports {
            clock: Arc::new(clock.clone()),
            events: Arc::new(bus.clone()),
            scheduler: scheduler.clone(),
            timeout_policy,
            automation: Arc::new(tandem_core::automation::NoAutomation),
            ..Ports::default()
        };
        let tandem = Tandem::new(db, ports, Limits::default());
        Self {
            tandem,
            clock,
            bus,
            scheduler,
            database,
        }
    }

    /// The same database and clock, files kept in `files`.
    pub async fn with_files(self, files: Arc<dyn tandem_core::file::FileStore>) -> Self {
        let ports = Ports {
            clock: Arc::new(self.clock.clone()),
            events: Arc::new(self.bus.clone()),
            scheduler: self.scheduler.clone(),
            files,
            ..Ports::default()
        };
        let tandem = Tandem::new(self.tandem.storage().clone(), ports, Limits::default());
        Self { tandem, ..self }
    }

    /// The same database and clock, another policy (as a plugin would install).
    pub async fn with_policy(self, policy: Arc<dyn OfflineTimeoutPolicy>) -> Self {
        let ports = Ports {
            clock: Arc::new(self.clock.clone()),
            events: Arc::new(self.bus.clone()),
            scheduler: self.scheduler.clone(),
            timeout_policy: policy,
            ..Ports::default()
        };
        let tandem = Tandem::new(self.tandem.storage().clone(), ports, Limits::default());
        Self { tandem, ..self }
    }

    pub async fn company(&self, slug: &str) -> Company {
        let password = format!("{slug}-secret-pass");
        let email = format!("admin@{slug}.example.com");
        let created = self
            .tandem
            .tenants
            .create(
                &tandem_core::audit::PlatformActor::command_line(),
                NewTenant {
                    slug: slug.into(),
                    name: format!("{slug} Ltd"),
                    admin_email: email.clone(),
                    admin_password: Some(password.clone()),
                },
            )
            .await
            .expect("create tenant");
        let (admin, _) = self
            .tandem
            .operators
            .authenticate(slug, &email, &password)
            .await
            .expect("admin logs in");
        let tenant = self.tandem.tenants.by_id(created.tenant_id).await.unwrap();
        Company {
            tenant,
            admin,
            admin_email: email,
            admin_password: password,
        }
    }

    /// An operator of the company, offline until told otherwise.
    pub async fn operator(&self, company: &Company, name: &str) -> OperatorActor {
        let email = format!(
            "{}@{}.example.com",
            name.to_lowercase(),
            company.tenant.slug
        );
        let new = NewOperator {
            email: email.clone(),
            name: name.into(),
            password: Some("operator-password".into()),
            role: Some(Role::Operator),
            capacity: Some(3),
        };
        self.tandem
            .operators
            .create(&company.admin, new)
            .await
            .expect("create operator");
        let (actor, _) = self
            .tandem
            .operators
            .authenticate(&company.tenant.slug, &email, "operator-password")
            .await
            .unwrap();
        actor
    }

    pub async fn online_operator(&self, company: &Company, name: &str) -> OperatorActor {
        let actor = self.operator(company, name).await;
        self.tandem
            .operators
            .set_status(&actor, OperatorStatus::Online)
            .await
            .unwrap();
        actor
    }

    /// A new visitor with their token.
    pub async fn visitor(&self, company: &Company) -> (VisitorActor, String) {
        let session = self
            .tandem
            .visitors
            .start_session(&company.tenant, SessionRequest::default())
            .await
            .unwrap();
        (session.actor, session.visitor_token)
    }

    /// The actor's view of one workspace list.
    pub async fn in_category(&self, actor: &OperatorActor, category: Category) -> Vec<Chat> {
        let filter = ChatFilter {
            category: Some(category),
            ..Default::default()
        };
        self.tandem
            .chats
            .list(actor, filter)
            .await
            .expect("list chats")
    }

    pub fn events(&self) -> Receiver<DomainEvent> {
        self.bus.subscribe()
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

/// Everything published so far on a receiver.
pub fn drain(rx: &mut Receiver<DomainEvent>) -> Vec<DomainEvent> {
    let mut events = Vec::new();
    while let Ok(event) = rx.try_recv() {
        events.push(event);
    }
    events
}
