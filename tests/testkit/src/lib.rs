//! What the tests of every crate share: a fresh database per test on SQLite and on PostgreSQL
//! ([`on_both_databases!`] runs a test on each), an SMTP server that keeps what it receives, an
//! HTTP receiver for webhooks, the plugins `scripts/build-plugins` builds, and a hiccup meter for
//! the benchmarks.

pub mod guests;
pub mod hiccups;
pub mod receiver;
pub mod s3;
pub mod smtp;
#[cfg(target_os = "linux")]
pub mod sockets;
pub mod test_db;

pub use test_db::TestDatabase;
