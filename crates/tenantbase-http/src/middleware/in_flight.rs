//! `InFlight`: the requests this server is running, held in the app state so that the
//! completion middleware can track them and a graceful shutdown can wait for them.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

/// The requests this server is running.
#[derive(Debug, Clone)]
pub struct InFlight {
    pub(super) tasks: TaskTracker,
    pub(super) write_slots: Arc<Semaphore>,
    /// Room for the bytes of write bodies being read before their slot (`completion`).
    pub(super) body_room: Arc<Semaphore>,
}

impl InFlight {
    pub fn new(max_concurrent_writes: usize) -> Self {
        Self {
            tasks: TaskTracker::new(),
            write_slots: Arc::new(Semaphore::new(max_concurrent_writes.max(1))),
            body_room: Arc::new(Semaphore::new(super::completion::BODY_BYTES_READ)),
        }
    }

    /// Requests still running, detached writes included.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Waits until every request has ended; none may start afterwards.
    pub async fn close_and_wait(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}
