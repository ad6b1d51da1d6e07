//! Tandem's domain: tenants, operators, visitors, chats, messages, presence and the unread-reply
//! outbox, as services over SeaORM. Nothing here knows of HTTP, job queues, wasm or SMTP: those
//! reach the domain through the ports in [`services::Ports`].

pub mod alert;
pub mod audit;
pub mod automation;
pub mod canned;
pub mod chat;
mod claim;
pub mod clock;
pub mod database;
pub mod delivery;
pub mod dev_mail;
pub mod email;
pub mod entity;
pub mod error;
pub mod events;
pub mod export;
pub mod file;
pub mod held;
pub mod ids;
pub mod inbound;
pub mod input_rules;
pub mod installation;
pub mod limits;
pub mod message;
pub mod note;
pub mod operator;
pub mod outbox;
pub mod plugin;
pub mod presence;
pub mod push;
pub mod rating;
pub mod reply_time;
pub mod search;
pub mod secret;
pub mod server_key;
pub mod services;
pub mod storage;
pub mod tenant;
pub mod text;
pub mod transcript;
pub mod usage;
pub mod visitor;

pub use error::{CoreError, CoreResult};
pub use services::{Ports, Tandem};
