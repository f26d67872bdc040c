//! The sealer: links recorded events into their chains off the request path (ADR 0004).
//! A change's transaction only records its event; every process that writes runs a
//! `Sealer`, which seals each chain's recorded events in recording order every
//! `interval`. Sealers in several processes take turns on a chain (its head is locked
//! while sealing), so the chain never forks, and the window in which an event is recorded
//! but not yet sealed stays about one interval long; `audit verify` and `/metrics` (read
//! at scrape time, so a stuck sealer shows) report it.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tenantbase_domain::model::Event;
use tenantbase_store::platform::events::UnsealedChain;
use tenantbase_store::{Store, StoreResult};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Events sealed per chain in one transaction. On SQLite a sealing unit holds the one
/// writer, and every write waits while it runs: units of 500 were the tail of project
/// creates under load (p99 26–28 ms, against 15–16 ms with 100 at the same rate;
/// bench/RESULTS.md, 2026-12-06).
pub const BATCH: u32 = 100;

/// Seals every chain's events recorded before this call; returns how many it sealed, or
/// the first chain's failure once every other chain has been sealed: one chain that
/// cannot be sealed must not leave the chains after it unsealed.
pub async fn seal_all(store: &dyn Store) -> StoreResult<u64> {
    let unsealed = store.unsealed_chains().await?;
    let mut sealed = 0;
    let mut failure = None;
    for chain in &unsealed {
        match seal_chain(store, chain).await {
            Ok(count) => sealed += count,
            Err(error) => {
                // The chain is an org's id, never personal data.
                tracing::warn!(chain = %chain.chain, %error, "sealing an audit chain failed");
                failure.get_or_insert(error);
            }
        }
    }
    failure.map_or(Ok(sealed), Err)
}

/// Seals what `chain` has recorded now, so a read of it that follows sees every event
/// committed before: the org audit log's read-your-writes.
pub async fn seal_chain_now(store: &dyn Store, chain: &str) -> StoreResult<u64> {
    let unsealed = store.unsealed_chains().await?;
    match unsealed.iter().find(|unsealed| unsealed.chain == chain) {
        Some(unsealed) => seal_chain(store, unsealed).await,
        None => Ok(0),
    }
}

/// Seals `chain` in batches, as many as its recorded events at the time it was counted
/// need, so a busy chain cannot keep the sealer from the others.
async fn seal_chain(store: &dyn Store, chain: &UnsealedChain) -> StoreResult<u64> {
    let mut sealed = 0;
    for _ in 0..chain.count.div_ceil(u64::from(BATCH)) {
        let mut unit = store.begin().await?;
        let batch = unit.seal_chain(&chain.chain, BATCH).await?;
        unit.commit().await?;
        record_delays(&batch);
        sealed += batch.len() as u64;
        if batch.len() < BATCH as usize {
            break;
        }
    }
    Ok(sealed)
}

/// `audit_seal_delay_seconds`: per event, from recording to sealing.
fn record_delays(sealed: &[Event]) {
    let now = Utc::now();
    let histogram = metrics::histogram!("audit_seal_delay_seconds");
    for event in sealed {
        histogram.record(age_secs(event.occurred_at, now));
    }
}

/// Seconds from `then` to `now`; 0 for a `then` in the future (another host's clock).
pub fn age_secs(then: chrono::DateTime<Utc>, now: chrono::DateTime<Utc>) -> f64 {
    (now - then).to_std().unwrap_or_default().as_secs_f64()
}

/// Seals recorded events every `interval` until stopped.
pub struct Sealer {
    store: Arc<dyn Store>,
    interval: Duration,
}

impl Sealer {
    pub fn new(store: Arc<dyn Store>, interval: Duration) -> Self {
        Self { store, interval }
    }

    /// Runs in its own task. Stopping it seals once more, so a process that stops after
    /// its last write leaves nothing of its own unsealed.
    pub fn spawn(self) -> RunningSealer {
        let stop = CancellationToken::new();
        let task = tokio::spawn(self.run(stop.clone()));
        RunningSealer { stop, task }
    }

    async fn run(self, stop: CancellationToken) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let stopping = tokio::select! {
                () = stop.cancelled() => true,
                _ = tick.tick() => false,
            };
            if let Err(error) = seal_all(self.store.as_ref()).await {
                // The events stay recorded; the next pass (here or in another process)
                // seals them.
                tracing::warn!(%error, "sealing audit events failed");
            }
            if stopping {
                return;
            }
        }
    }
}

/// A sealer's task.
pub struct RunningSealer {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl RunningSealer {
    /// Seals what is left and ends the task.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the audit sealer task failed");
        }
    }
}
