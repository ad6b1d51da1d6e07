//! A hiccup meter for benchmarks and load runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The machine's own hiccups beside a run: a thread that only sleeps 1 ms at a time, and how
/// much later than that it wakes at worst. Whatever the scheduler, other processes or the
/// hypervisor make it wait, they make every thread of the run wait too — a latency that is
/// not the code's.
pub struct Hiccups {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl Hiccups {
    pub fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let mut worst = Duration::ZERO;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    std::thread::sleep(Duration::from_millis(1));
                    worst = worst.max(t.elapsed().saturating_sub(Duration::from_millis(1)));
                }
                u64::try_from(worst.as_micros()).unwrap_or(u64::MAX)
            }
        });
        Self { stop, thread }
    }

    /// The longest oversleep seen, in µs.
    pub fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or(u64::MAX)
    }
}
