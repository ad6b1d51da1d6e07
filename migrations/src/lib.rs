//! Tandem's schema, written once with sea-query so that SQLite and PostgreSQL get the same tables.
//!
//! Times are stored as integer Unix milliseconds: SQLite keeps chrono times as text whose
//! fractional digits vary, which breaks `due_at <= now` comparisons and index order.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_foundation;
mod m20261125_000001_operator_sessions;
mod m20261125_000002_tenant_limits;
mod m20261125_000003_deliveries;
mod m20261125_000004_dev_mailbox;
mod m20261125_000005_email_templates;
mod m20261125_000006_emails_stopped;
mod m20261126_000001_plugins;
mod m20261127_000001_webhooks;
mod m20261128_000001_email_confirmation;
mod m20261128_000002_dev_mail_parts;
mod m20261128_000003_message_channel;
mod m20261128_000004_message_mail;
mod m20261128_000005_plugin_settings;
mod m20261128_000006_chat_triage;
mod m20261128_000007_recent_offline_requests;
mod m20261129_000001_operator_alerts;
mod m20261129_000002_operator_desk;
mod m20261129_000003_search;
mod m20261129_000004_visitor_context;
mod m20261129_000005_alert_digest_choice;
mod m20261129_000006_web_push;
mod m20261129_000007_chat_ratings;
mod m20261129_000008_transcripts;
mod m20261129_000009_files;
mod m20261130_000001_team;
mod m20261201_000001_audit;
mod m20261201_000002_usage;
mod m20261201_000003_retention;
mod m20261202_000001_exports;
mod m20261203_000001_delivery_recipient;
mod m20261204_000001_running_waits_by_tenant;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_foundation::Migration),
            Box::new(m20261125_000001_operator_sessions::Migration),
            Box::new(m20261125_000002_tenant_limits::Migration),
            Box::new(m20261125_000003_deliveries::Migration),
            Box::new(m20261125_000004_dev_mailbox::Migration),
            Box::new(m20261125_000005_email_templates::Migration),
            Box::new(m20261125_000006_emails_stopped::Migration),
            Box::new(m20261126_000001_plugins::Migration),
            Box::new(m20261127_000001_webhooks::Migration),
            Box::new(m20261128_000001_email_confirmation::Migration),
            Box::new(m20261128_000002_dev_mail_parts::Migration),
            Box::new(m20261128_000003_message_channel::Migration),
            Box::new(m20261128_000004_message_mail::Migration),
            Box::new(m20261128_000005_plugin_settings::Migration),
            Box::new(m20261128_000006_chat_triage::Migration),
            Box::new(m20261128_000007_recent_offline_requests::Migration),
            Box::new(m20261129_000001_operator_alerts::Migration),
            Box::new(m20261129_000002_operator_desk::Migration),
            Box::new(m20261129_000003_search::Migration),
            Box::new(m20261129_000004_visitor_context::Migration),
            Box::new(m20261129_000005_alert_digest_choice::Migration),
            Box::new(m20261129_000006_web_push::Migration),
            Box::new(m20261129_000007_chat_ratings::Migration),
            Box::new(m20261129_000008_transcripts::Migration),
            Box::new(m20261129_000009_files::Migration),
            Box::new(m20261130_000001_team::Migration),
            Box::new(m20261201_000001_audit::Migration),
            Box::new(m20261201_000002_usage::Migration),
            Box::new(m20261201_000003_retention::Migration),
            Box::new(m20261202_000001_exports::Migration),
            Box::new(m20261203_000001_delivery_recipient::Migration),
            Box::new(m20261204_000001_running_waits_by_tenant::Migration),
        ]
    }
}
