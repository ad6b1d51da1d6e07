//! How fast a tenant's operators answer. Every wait of a visitor for an answer is recorded —
//! from the message that starts it to the operator's reply that ends it, or the close that drops
//! it — and the widget's "typically replies in N minutes" is the median of the recent waits
//! that began while an operator was online.

mod typical;
mod waits;

pub use typical::{ReplyTimeService, TypicalReply};
pub(crate) use waits::{wait_answered, wait_dropped, wait_started};
