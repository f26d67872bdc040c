//! `QueueDepthReadings`: when `/metrics` last read the job queue's depth and which
//! (kind, state) pairs it has reported, held in the app state so that scrapes share one
//! reading per interval.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tenantbase_domain::model::QueueDepth;

/// How long a reading of the job queue's depth and the audit backlog stands: many
/// scrapers, or one polling in a loop, cost the database two grouped counts per this
/// interval.
const READING_TTL: Duration = Duration::from_secs(1);

/// When the job queue's depth was last read for `/metrics`, per app.
#[derive(Debug, Default)]
pub struct QueueDepthReadings {
    last: Mutex<Option<Instant>>,
    /// The pairs reported so far: one that empties reads 0 rather than its last count.
    /// The app's own (not the process's): apps sharing a process — tests — would zero
    /// each other's.
    seen: Mutex<BTreeSet<(String, &'static str)>>,
}

impl QueueDepthReadings {
    /// Whether this scrape should read the queue again. Claims the reading, so scrapes
    /// arriving meanwhile reuse the gauges instead of querying too; a failed reading is
    /// not retried before the interval ends either, so a struggling database is spared.
    pub(super) fn claim(&self) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return false;
        };
        if last.is_some_and(|at| at.elapsed() < READING_TTL) {
            return false;
        }
        *last = Some(Instant::now());
        true
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
