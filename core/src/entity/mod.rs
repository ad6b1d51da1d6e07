//! SeaORM entities: one table each, and nothing else. Rules live in the services.

pub mod alert_digest;
pub mod alert_digest_item;
pub mod canned_reply;
pub mod chat;
pub mod chat_note;
pub mod delivery;
pub mod dev_mail;
pub mod email_template;
pub mod message;
pub mod message_edit;
pub mod operator_alert;
pub mod operator_session;
pub mod outbox;
pub mod page_view;
pub mod plugin;
pub mod plugin_log;
pub mod resume_token;
pub mod server_secret;
pub mod tenant;
pub mod user;
pub mod visitor;
pub mod visitor_connection;
pub mod visitor_token;
pub mod webhook_call;
pub mod webhook_secret;
