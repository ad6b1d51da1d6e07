//! Tandem's background work: unread replies reach the visitor. When an outbox row falls due,
//! the [`deliver::Deliverer`] claims the chat's unread replies from core, renders one email for
//! them, sends it through a [`mail::Mailer`] and records the outcome. Webhook posts that a tenant's
//! plugin routes the batch to are stored with that outcome and posted, signed, by
//! [`webhook::WebhookPoster`], each with its own retries. Alerts for operators are routed the same
//! way, and mailed to operators who are not online as digests ([`alerts`]) and pushed to the browsers
//! where operators opted in ([`push`]).

pub mod alerts;
pub mod deliver;
mod digest_mail;
mod due_second;
pub mod export;
pub mod inbound;
pub mod inbound_smtp;
pub mod mail;
pub mod preview;
pub mod push;
pub mod queue;
pub mod sweep;
pub mod templates;
pub mod transcript;
pub mod webhook;
