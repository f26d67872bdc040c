//! An org's own view of its audit chain: filtered pages, newest first, and verification.

use chrono::{DateTime, Utc};
use tenantbase_domain::model::{ChainKey, Event};
use tenantbase_store::org::events::EventQuery;

use super::access::OrgAccess;
use super::{FieldProblem, Tenancy, TenancyError};
use crate::audit::verify::{Verdict, verify_chains};

#[derive(Debug, Clone, Default)]
pub struct AuditListing {
    pub event_type: Option<String>,
    pub actor_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// The `seq` of the previous page's last event, as text.
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

impl Tenancy {
    /// A page of the org's events and the cursor of the next one.
    pub async fn audit_events(
        &self,
        access: &OrgAccess,
        listing: AuditListing,
    ) -> Result<(Vec<Event>, Option<String>), TenancyError> {
        let limit = listing.limit.unwrap_or(50);
        let mut problems = Vec::new();
        if !(1..=100).contains(&limit) {
            problems.push(FieldProblem::new("limit", "must be between 1 and 100"));
        }
        let before_seq = match listing.cursor.as_deref().map(str::parse::<i64>) {
            None => None,
            Some(Ok(seq)) if seq > 0 => Some(seq),
            Some(_) => {
                problems.push(FieldProblem::new("cursor", "is not a cursor of this list"));
                None
            }
        };
        if !problems.is_empty() {
            return Err(TenancyError::Invalid(problems));
        }
        let query = EventQuery {
            event_type: listing.event_type,
            actor_id: listing.actor_id,
            since: listing.since,
            until: listing.until,
            before_seq,
            limit: limit + 1,
        };
        let mut events = self
            .store
            .read_org(access.scope())
            .await?
            .events(&query)
            .await?;
        let more = events.len() > limit as usize;
        events.truncate(limit as usize);
        let next = events.last().filter(|_| more).map(|e| e.seq.to_string());
        Ok((events, next))
    }

    /// Verifies the org's chain from its anchor to its head.
    pub async fn verify_audit(&self, access: &OrgAccess) -> Result<Verdict, TenancyError> {
        let chain = ChainKey::Org(access.org_id()).as_string();
        let verdicts = verify_chains(self.store.as_ref(), Some(&chain)).await?;
        Ok(verdicts
            .into_iter()
            .next()
            .unwrap_or(Verdict::Intact { chain, events: 0 }))
    }
}
