//! Streams a chain's events as JSON Lines or CSV, page by page, so an export of any size
//! uses constant memory.

use std::io::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tenantbase_domain::model::Event;
use tenantbase_store::Store;

use crate::csv_cells::guarded;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] tenantbase_store::StoreError),
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// One exported event: the stored fields, with the payload as `P` — parsed JSON for JSON
/// Lines, the stored JSON text for CSV (which has no nesting).
#[derive(Debug, Serialize)]
pub struct ExportedEvent<'a, P> {
    pub id: String,
    pub chain: &'a str,
    pub seq: i64,
    pub org_id: Option<String>,
    pub event_type: &'a str,
    pub actor_kind: &'a str,
    pub actor_id: Option<&'a str>,
    pub target_kind: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub payload: P,
    pub occurred_at: String,
    pub prev_hash: &'a str,
    pub hash: &'a str,
}

impl<'a, P> ExportedEvent<'a, P> {
    pub fn new(e: &'a Event, payload: P) -> Self {
        Self {
            id: e.id.to_string(),
            chain: &e.chain,
            seq: e.seq,
            org_id: e.org_id.map(|o| o.to_string()),
            event_type: &e.event_type,
            actor_kind: &e.actor_kind,
            actor_id: e.actor_id.as_deref(),
            target_kind: e.target_kind.as_deref(),
            target_id: e.target_id.as_deref(),
            ip: e.ip.as_deref(),
            user_agent: e.user_agent.as_deref(),
            request_id: e.request_id.as_deref(),
            payload,
            occurred_at: e.occurred_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            prev_hash: &e.prev_hash,
            hash: &e.hash,
        }
    }
}

/// Writes the events of `chain` that occurred in `[since, until)` to `out`; returns how many.
pub async fn export_chain(
    store: &dyn Store,
    chain: &str,
    format: Format,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    out: impl Write,
) -> Result<u64, ExportError> {
    let mut sink = Sink::new(format, out);
    let mut after = 0;
    let mut written = 0;
    loop {
        let page = store.events_after(chain, after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for event in &page {
            let in_range = since.is_none_or(|s| event.occurred_at >= s)
                && until.is_none_or(|u| event.occurred_at < u);
            if in_range {
                sink.write(event)?;
                written += 1;
            }
        }
    }
    sink.finish()?;
    Ok(written)
}

enum Sink<W: Write> {
    Jsonl(W),
    Csv(Box<csv::Writer<W>>),
}

impl<W: Write> Sink<W> {
    fn new(format: Format, out: W) -> Self {
        match format {
            Format::Jsonl => Sink::Jsonl(out),
            Format::Csv => Sink::Csv(Box::new(csv::Writer::from_writer(out))),
        }
    }

    fn write(&mut self, event: &Event) -> Result<(), ExportError> {
        match self {
            Sink::Jsonl(out) => {
                let payload: serde_json::Value =
                    serde_json::from_str(&event.payload).unwrap_or_default();
                serde_json::to_writer(&mut *out, &ExportedEvent::new(event, payload))
                    .map_err(std::io::Error::from)?;
                out.write_all(b"\n")?;
            }
            Sink::Csv(out) => {
                // The cells a client chose (its user agent, above all) are kept from
                // running as formulas; the payload is JSON text, which starts with `{`.
                let [actor_id, target_id, user_agent, request_id] = [
                    &event.actor_id,
                    &event.target_id,
                    &event.user_agent,
                    &event.request_id,
                ]
                .map(|cell| cell.as_deref().map(guarded));
                let mut row = ExportedEvent::new(event, event.payload.as_str());
                row.actor_id = actor_id.as_deref();
                row.target_id = target_id.as_deref();
                row.user_agent = user_agent.as_deref();
                row.request_id = request_id.as_deref();
                out.serialize(row)?;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<(), ExportError> {
        match self {
            Sink::Jsonl(mut out) => out.flush()?,
            Sink::Csv(mut out) => out.flush()?,
        }
        Ok(())
    }
}
