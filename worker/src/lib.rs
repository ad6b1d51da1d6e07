//! Tandem's background work: unread replies reach the visitor. When an outbox row falls due,
//! the [`deliver::Deliverer`] claims the chat's unread replies from core, renders one email for
//! them, sends it through a [`mail::Mailer`] and records the outcome.

pub mod deliver;
pub mod mail;
pub mod queue;
pub mod sweep;
pub mod templates;
