//! Things held open per key — connections and SMTP sessions per IP, sockets per visitor — each
//! place given back when its guard is dropped, whatever ends the connection.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// How many are open per key.
pub struct OpenCounts<K: Hash + Eq>(Arc<Mutex<HashMap<K, usize>>>);

impl<K: Hash + Eq> Clone for OpenCounts<K> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<K: Hash + Eq> Default for OpenCounts<K> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

/// One open thing; dropping it frees its place.
pub struct Held<K: Hash + Eq + Clone> {
    counts: OpenCounts<K>,
    key: K,
}

impl<K: Hash + Eq + Clone> OpenCounts<K> {
    /// A place for one more under `key`, unless `cap` are open already (`cap` 0: no cap).
    pub fn take(&self, key: K, cap: usize) -> Option<Held<K>> {
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(key.clone()).or_default();
        if cap > 0 && *count >= cap {
            if *count == 0 {
                open.remove(&key);
            }
            return None;
        }
        *count += 1;
        Some(Held {
            counts: self.clone(),
            key,
        })
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl<K: Hash + Eq + Clone> Drop for Held<K> {
    fn drop(&mut self) {
        let mut open = self.counts.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_holds_at_most_its_cap_and_closing_frees_a_place() {
        let open = OpenCounts::default();
        let held: Vec<_> = (0..3)
            .map(|_| open.take("a", 3).expect("a place"))
            .collect();
        assert!(open.take("a", 3).is_none());
        assert!(open.take("b", 3).is_some());
        drop(held);
        let again = open.take("a", 3).expect("places freed");
        drop(again);
        assert_eq!(open.keys(), 0, "nothing kept for closed keys");
    }
}
