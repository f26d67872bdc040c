//! An org's own audit chain: recorded into by its unit, read back as its audit log.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::StoreResult;
use crate::platform::events::NewEvent;
use tenantbase_domain::EventId;
use tenantbase_domain::model::Event;

#[async_trait]
pub trait OrgEventsUnit: Send {
    /// Records an event for the sealer, as `EventsUnit::append_event` does. The event must
    /// belong to this org (`Invalid` otherwise).
    async fn append_event(&mut self, event: NewEvent) -> StoreResult<EventId>;
    /// Sealed events only: the audit log lists events by their place in the chain.
    async fn events(&mut self, query: &EventQuery) -> StoreResult<Vec<Event>>;
}

/// A page of an org's audit log, newest first.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub event_type: Option<String>,
    pub actor_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only events before this sequence number (the previous page's last).
    pub before_seq: Option<i64>,
    pub limit: u32,
}
