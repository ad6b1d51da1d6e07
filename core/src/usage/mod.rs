//! What each tenant uses — messages, new chats and visitors, mails and webhooks sent and
//! failed, plugin failures — counted as the work happens: each process adds to counters in
//! memory after the work commits, and writes them to `usage_days` (one row per tenant, day and
//! metric) every few seconds. Reports sum those rows, never the messages themselves.

mod meter;
mod metric;
mod service;

pub use meter::UsageMeter;
pub use metric::Metric;
pub use service::{TenantUsage, UsageService, Windows};
