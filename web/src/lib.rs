//! Tandem's HTTP and WebSocket face and the `tandem` binary's building blocks.

pub mod config;
pub mod demo;
pub mod error;
pub mod presence_keeper;
pub mod routes;
pub mod startup;
