//! `QueueDepthReadings`: when `/metrics` last read the database — the job queue's depth
//! and the audit backlog — and which (kind, state) pairs it has reported, held in the app
//! state so that scrapes share one reading per interval.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tenantbase_domain::model::QueueDepth;

/// How long after a reading of the job queue's depth and the audit backlog ends that it
/// stands: many scrapers, or one polling in a loop, cost the database two grouped counts
/// per this interval, one reading at a time.
const READING_TTL: Duration = Duration::from_secs(1);

/// When the database was last read for `/metrics`, per app.
#[derive(Debug, Default)]
pub struct QueueDepthReadings {
    /// When the last reading ended.
    last: Mutex<Option<Instant>>,
    /// A reading is under way: a database slow to answer (a stuck sealer's backlog is
    /// slowest to count) gets one count at a time, not one per scrape.
    reading: AtomicBool,
    /// The pairs reported so far: one that empties reads 0 rather than its last count.
    /// The app's own (not the process's): apps sharing a process — tests — would zero
    /// each other's.
    seen: Mutex<BTreeSet<(String, &'static str)>>,
}

/// The right to read the database for this scrape; dropping it ends the reading.
pub(super) struct Reading<'r>(&'r QueueDepthReadings);

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        if let Ok(mut last) = self.0.last.lock() {
            *last = Some(Instant::now());
        }
        self.0.reading.store(false, Ordering::Release);
    }
}

impl QueueDepthReadings {
    /// Whether this scrape should read the database again: not while another scrape
    /// reads, nor within the interval after the last reading ended (scrapes meanwhile
    /// reuse the gauges); a failed reading is not retried sooner either, so a struggling
    /// database is spared.
    pub(super) fn claim(&self) -> Option<Reading<'_>> {
        if self.reading.swap(true, Ordering::AcqRel) {
            return None;
        }
        let fresh = self.last.lock().map_or(true, |last| {
            last.is_some_and(|at| at.elapsed() < READING_TTL)
        });
        if fresh {
            self.reading.store(false, Ordering::Release);
            return None;
        }
        Some(Reading(self))
    }

    /// Sets `jobs_queue_depth{kind,state}` from a reading; pairs that emptied since the
    /// last one read 0.
    pub(super) fn record(&self, depths: Vec<QueueDepth>) {
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        for (kind, job_state) in seen.iter() {
            metrics::gauge!("jobs_queue_depth", "kind" => kind.clone(), "state" => *job_state)
                .set(0.0);
        }
        for depth in depths {
            let key = (depth.kind, depth.state.as_str());
            metrics::gauge!("jobs_queue_depth", "kind" => key.0.clone(), "state" => key.1)
                .set(depth.count as f64);
            seen.insert(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_reading_at_a_time_and_none_soon_after_one_ended() {
        let readings = QueueDepthReadings::default();
        let first = readings.claim().expect("the first scrape reads");
        assert!(readings.claim().is_none(), "not while another reads");
        drop(first);
        assert!(
            readings.claim().is_none(),
            "not within the interval after it ended"
        );
    }
}
