//! The statements on an org's own audit chain. Recording is the event log's (shared with
//! platform units); what is org-specific is the check that the event is this org's and
//! the audit-log page, which lists sealed events.

use async_trait::async_trait;
use sqlx::QueryBuilder;
use tenantbase_domain::model::{ChainKey, Event};
use tenantbase_domain::{EventId, OrgId};
use tenantbase_store::org::events::{EventQuery, OrgEventsUnit};
use tenantbase_store::platform::events::{EVENT_COLUMNS, EventRow, NewEvent};
use tenantbase_store::{StoreError, StoreResult};

use super::OrgTx;
use crate::dialect::Db;

#[async_trait]
impl OrgEventsUnit for OrgTx {
    async fn append_event(&mut self, event: NewEvent) -> StoreResult<EventId> {
        self.check_own(&event)?;
        crate::sql::platform::events::append_event(&mut self.tx, event).await
    }

    async fn events(&mut self, query: &EventQuery) -> StoreResult<Vec<Event>> {
        let mut b =
            QueryBuilder::<Db>::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE chain = "));
        b.push_bind(ChainKey::Org(OrgId::from_uuid(self.org_id())).as_string());
        if let Some(kind) = &query.event_type {
            b.push(" AND event_type = ").push_bind(kind.clone());
        }
        if let Some(actor) = &query.actor_id {
            b.push(" AND actor_id = ").push_bind(actor.clone());
        }
        if let Some(since) = query.since {
            b.push(" AND occurred_at >= ").push_bind(since);
        }
        if let Some(until) = query.until {
            b.push(" AND occurred_at < ").push_bind(until);
        }
        if let Some(before) = query.before_seq {
            b.push(" AND seq < ").push_bind(before);
        }
        b.push(" ORDER BY seq DESC LIMIT ")
            .push_bind(i64::from(query.limit));
        let rows: Vec<EventRow> = b.build_query_as().fetch_all(&mut *self.tx).await?;
        Ok(rows.into_iter().map(Event::from).collect())
    }
}

impl OrgTx {
    pub(super) fn check_own(&self, event: &NewEvent) -> StoreResult<()> {
        if event.org_id == Some(self.scope.org_id()) {
            return Ok(());
        }
        Err(StoreError::Invalid(
            "an org unit appends only to its org's chain".to_owned(),
        ))
    }
}
