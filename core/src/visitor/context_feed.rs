//! How often the operators hear of one visitor's pages: at most once a second. A visitor (or a
//! script posing as one) moving between pages faster than that still costs one read and one
//! event a second, not one per page; the last page of a burst is always told.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use std::time::Instant;

use crate::ids::VisitorId;

/// At most one context event per visitor in this long.
pub const CONTEXT_EVERY: Duration = Duration::from_secs(1);
/// Visitors remembered before the old ones are forgotten.
const REMEMBERED: usize = 10_000;

#[derive(Default)]
pub(crate) struct ContextFeed {
    visitors: Mutex<HashMap<VisitorId, Told>>,
}

#[derive(Clone, Copy)]
struct Told {
    at: Instant,
    /// A later telling is already planned: it will read the newest pages.
    planned: bool,
}

/// What to do with a visitor's new page.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Tell the operators now.
    Now,
    /// Tell them after this wait (then call [`ContextFeed::told`]).
    After(Duration),
    /// A telling is planned already.
    Planned,
}

impl ContextFeed {
    pub(crate) fn turn(&self, visitor: VisitorId, now: Instant) -> Turn {
        let mut visitors = self.lock();
        if visitors.len() >= REMEMBERED {
            visitors.retain(|_, told| told.planned || now - told.at < CONTEXT_EVERY);
        }
        match visitors.get_mut(&visitor) {
            Some(told) if told.planned => Turn::Planned,
            Some(told) if now - told.at < CONTEXT_EVERY => {
                told.planned = true;
                Turn::After(CONTEXT_EVERY - (now - told.at))
            }
            _ => {
                visitors.insert(
                    visitor,
                    Told {
                        at: now,
                        planned: false,
                    },
                );
                Turn::Now
            }
        }
    }

    /// A planned telling happened.
    pub(crate) fn told(&self, visitor: VisitorId, now: Instant) {
        self.lock().insert(
            visitor,
            Told {
                at: now,
                planned: false,
            },
        );
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<VisitorId, Told>> {
        // The map holds timings only: one a panic left half-written is still usable.
        self.visitors.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(crate) type SharedFeed = Arc<ContextFeed>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_told_at_once_then_once_more() {
        let feed = ContextFeed::default();
        let vera = VisitorId::new();
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        assert_eq!(feed.turn(vera, at(0)), Turn::Now);
        assert_eq!(
            feed.turn(vera, at(300)),
            Turn::After(Duration::from_millis(700))
        );
        assert_eq!(feed.turn(vera, at(500)), Turn::Planned);
        assert_eq!(feed.turn(vera, at(900)), Turn::Planned);
        feed.told(vera, at(1000));
        assert_eq!(
            feed.turn(vera, at(1400)),
            Turn::After(Duration::from_millis(600)),
            "a second after the last telling"
        );
        feed.told(vera, at(2000));
        assert_eq!(feed.turn(vera, at(3500)), Turn::Now);
        assert_eq!(
            feed.turn(VisitorId::new(), at(3500)),
            Turn::Now,
            "each on their own"
        );
    }
}
