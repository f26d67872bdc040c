//! `QueueDepthReadings`: when `/metrics` last read the job queue's depth, held in the app
//! state so that scrapes share one reading per interval.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a reading of the job queue's depth stands: a scraper polling every second
/// (or many scrapers) costs the database one grouped count per this interval.
const QUEUE_DEPTH_TTL: Duration = Duration::from_secs(5);

/// When the job queue's depth was last read for `/metrics`, per app.
#[derive(Debug, Default)]
pub struct QueueDepthReadings {
    last: Mutex<Option<Instant>>,
}

impl QueueDepthReadings {
    /// Whether this scrape should read the queue again. Claims the reading, so scrapes
    /// arriving meanwhile reuse the gauges instead of querying too; a failed reading is
    /// not retried before the interval ends either, so a struggling database is spared.
    pub(super) fn claim(&self) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return false;
        };
        if last.is_some_and(|at| at.elapsed() < QUEUE_DEPTH_TTL) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}
