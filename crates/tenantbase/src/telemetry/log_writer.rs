//! The log writer: one JSON object per line on stdout, written by a background thread so
//! a slow terminal or pipe never stalls a request. The queue to that thread holds
//! `log.queue_lines` lines; when it is full, new lines are dropped and counted
//! (`log_lines_dropped_total`) rather than blocking the server or growing its memory.

use std::io::{self, BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::MakeWriter;

/// The counter of lines the full queue turned away.
const DROPPED_LINES: &str = "log_lines_dropped_total";
/// The writer thread batches lines into writes of up to this many bytes (it flushes
/// whenever the queue runs dry), instead of one system call per line.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// The writer of the JSON log: a bounded queue to a background thread. Keep the guard
/// alive: dropping it flushes the log.
pub(super) fn writer(queue_lines: usize) -> (CountingDrops, WorkerGuard) {
    let (queue, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(queue_lines)
        .thread_name("tenantbase-log")
        .finish(BufWriter::with_capacity(WRITE_BUFFER_BYTES, io::stdout()));
    (CountingDrops::new(queue), guard)
}

/// Registers the dropped-lines counter with the metrics recorder, so `/metrics` shows it
/// (at 0) before the first line is dropped.
pub(crate) fn describe_metrics() {
    metrics::describe_counter!(
        DROPPED_LINES,
        "Log lines dropped because the writer fell behind (log.queue_lines)"
    );
    metrics::counter!(DROPPED_LINES).increment(0);
}

/// The queue's writer, publishing its count of dropped lines as a metric as it grows.
#[derive(Clone)]
pub(super) struct CountingDrops {
    queue: NonBlocking,
    dropped: ErrorCounter,
    /// The count last published, so an unchanged count costs one atomic read per line.
    published: Arc<AtomicU64>,
}

impl CountingDrops {
    fn new(queue: NonBlocking) -> Self {
        Self {
            dropped: queue.error_counter(),
            queue,
            published: Arc::default(),
        }
    }

    fn publish_drops(&self) {
        let dropped = self.dropped.dropped_lines() as u64;
        if dropped > self.published.fetch_max(dropped, Ordering::Relaxed) {
            metrics::counter!(DROPPED_LINES).absolute(dropped);
        }
    }
}

impl<'a> MakeWriter<'a> for CountingDrops {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line {
            queue: self.queue.make_writer(),
            owner: self,
        }
    }
}

/// One log line on its way into the queue.
pub(super) struct Line<'a> {
    queue: NonBlocking,
    owner: &'a CountingDrops,
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.queue.write(buf)?;
        self.owner.publish_drops();
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.queue.flush()
    }
}
