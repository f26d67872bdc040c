//! The audit sealer's window under load, read from the server's `/metrics`: while a write
//! scenario runs, the largest backlog and the oldest unsealed event the sealer found;
//! after it, how long until nothing is left unsealed, and the per-event seal delay.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use tokio_util::sync::CancellationToken;

use crate::load;

/// How often `/metrics` is read.
const EVERY: Duration = Duration::from_millis(200);
/// Longest wait for the backlog to drain after the load.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// A watch running beside a scenario.
pub struct Watch {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<(f64, f64)>,
    addr: SocketAddr,
}

/// Starts reading `/metrics` of the server at `addr` every `EVERY`.
pub fn start(addr: SocketAddr) -> Watch {
    let stop = CancellationToken::new();
    let watching = stop.clone();
    let task = tokio::spawn(async move {
        let (mut backlog, mut oldest) = (0.0_f64, 0.0_f64);
        while !watching.is_cancelled() {
            if let Some(text) = scrape(addr).await {
                backlog = backlog.max(value(&text, "audit_events_unsealed").unwrap_or(0.0));
                oldest = oldest.max(value(&text, "audit_oldest_unsealed_seconds").unwrap_or(0.0));
            }
            tokio::time::sleep(EVERY).await;
        }
        (backlog, oldest)
    });
    Watch { stop, task, addr }
}

impl Watch {
    /// Ends the watch once the load has stopped: waits for the backlog to drain and
    /// reports what was seen.
    pub async fn finish(self) -> anyhow::Result<serde_json::Value> {
        self.stop.cancel();
        let (backlog, oldest) = self.task.await?;
        let stopped = Instant::now();
        let text = loop {
            let text = scrape(self.addr).await.unwrap_or_default();
            if value(&text, "audit_events_unsealed") == Some(0.0) {
                break text;
            }
            anyhow::ensure!(
                stopped.elapsed() < DRAIN_LIMIT,
                "audit events still unsealed {DRAIN_LIMIT:?} after the load"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let count = value(&text, "audit_seal_delay_seconds_count").unwrap_or(0.0);
        let sum = value(&text, "audit_seal_delay_seconds_sum").unwrap_or(0.0);
        let ms = |secs: f64| (secs * 1000.0 * 10.0).round() / 10.0;
        Ok(serde_json::json!({
            "sealed": count,
            "unsealed_peak": backlog,
            "oldest_unsealed_peak_ms": ms(oldest),
            "drain_ms": stopped.elapsed().as_millis() as u64,
            "seal_delay_mean_ms": ms(if count > 0.0 { sum / count } else { 0.0 }),
            "seal_delay_p99_at_most_ms": p99_bucket(&text, count).map(ms),
        }))
    }
}

async fn scrape(addr: SocketAddr) -> Option<String> {
    let request = Request::get("/metrics")
        .header("host", "127.0.0.1")
        .body(Full::new(Bytes::new()))
        .ok()?;
    let (_, body) = load::once(addr, request).await?;
    String::from_utf8(body.to_vec()).ok()
}

/// The value of an unlabelled metric.
fn value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// The smallest histogram bucket bound holding 99 % of the seal delays.
fn p99_bucket(text: &str, count: f64) -> Option<f64> {
    text.lines()
        .filter_map(|line| line.strip_prefix("audit_seal_delay_seconds_bucket{le=\""))
        .filter_map(|rest| {
            let (bound, cumulative) = rest.split_once("\"} ")?;
            Some((
                bound.parse::<f64>().ok()?,
                cumulative.trim().parse::<f64>().ok()?,
            ))
        })
        .find(|(_, cumulative)| *cumulative >= 0.99 * count)
        .map(|(bound, _)| bound)
}
