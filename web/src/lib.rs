//! Tandem's HTTP and WebSocket face and the `tandem` binary's building blocks.

pub mod auth;
pub mod bookkeeping;
pub mod cluster;
pub mod config;
pub mod cors;
pub mod demo;
pub mod error;
pub mod extract;
pub mod file_store;
pub mod forwarded;
pub mod housekeeping;
pub mod html;
pub mod metrics;
pub mod notifications;
pub mod platform_session;
pub mod plugin_cli;
pub mod plugin_new;
pub mod presence_keeper;
pub mod rate_limit;
pub mod realtime;
pub mod routes;
pub mod serve;
pub mod startup;
pub mod state;
pub mod upload_slots;
