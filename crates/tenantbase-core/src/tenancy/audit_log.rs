//! An org's own view of its audit chain: filtered pages, newest first, and verification.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tenantbase_domain::id::{ApiKeyId, UserId};
use tenantbase_domain::model::{ChainKey, Event};
use tenantbase_domain::page::{Cursor, InvalidCursor, Page, PageQuery};
use tenantbase_store::org::events::EventQuery;
use utoipa::IntoParams;

use super::access::OrgAccess;
use super::{Tenancy, TenancyError};
use crate::audit::seal::seal_chain_now;
use crate::audit::verify::{Verdict, verify_chains};

/// Which events to list; `PageQuery` says which page (its cursor holds the `seq` of the
/// previous page's last event).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditListing {
    /// Only events of this type, e.g. `project.created`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// Only events by this actor (`usr_…`, `key_…`).
    #[serde(rename = "actor")]
    #[param(rename = "actor")]
    pub actor_id: Option<String>,
    #[serde(default, deserialize_with = "super::four_digit_year")]
    pub since: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "super::four_digit_year")]
    pub until: Option<DateTime<Utc>>,
}

impl Tenancy {
    /// A page of the org's events and the cursor of the next one. It includes every event
    /// committed before the request: the org's recorded events are sealed first.
    pub async fn audit_events(
        &self,
        access: &OrgAccess,
        page: &PageQuery,
        listing: AuditListing,
    ) -> Result<Page<Event>, TenancyError> {
        // Events fall in `[since, until)`: an empty window is a mistake, not a quiet list.
        if let (Some(since), Some(until)) = (listing.since, listing.until)
            && since >= until
        {
            return Err(TenancyError::invalid("until", "must be later than since"));
        }
        // The ids events name their actors by, in their one spelling: anything else is a
        // mistake to report, not a filter that quietly matches nothing.
        let actor_id = listing
            .actor_id
            .map(|actor| {
                actor
                    .parse::<UserId>()
                    .map(|id| id.to_string())
                    .or_else(|_| actor.parse::<ApiKeyId>().map(|id| id.to_string()))
                    .map_err(|_| {
                        TenancyError::invalid(
                            "actor",
                            "is not a user's id (`usr_…`) or an API key's (`key_…`)",
                        )
                    })
            })
            .transpose()?;
        let before_seq: Option<i64> = page.cursor.as_ref().map(Cursor::decode).transpose()?;
        if before_seq.is_some_and(|seq| seq <= 0) {
            return Err(InvalidCursor.into());
        }
        let query = EventQuery {
            event_type: listing.event_type,
            actor_id,
            since: listing.since,
            until: listing.until,
            before_seq,
            limit: page.limit.fetch(),
        };
        let chain = ChainKey::Org(access.org_id()).as_string();
        seal_chain_now(self.store.as_ref(), &chain).await?;
        let events = self
            .store
            .read_org(access.scope())
            .await?
            .events(&query)
            .await?;
        Ok(Page::of(events, page.limit, |last| last.seq))
    }

    /// Verifies the org's chain from its anchor to its head, after sealing what it has
    /// recorded.
    pub async fn verify_audit(&self, access: &OrgAccess) -> Result<Verdict, TenancyError> {
        let chain = ChainKey::Org(access.org_id()).as_string();
        seal_chain_now(self.store.as_ref(), &chain).await?;
        let verdicts = verify_chains(self.store.as_ref(), Some(&chain)).await?;
        Ok(verdicts
            .into_iter()
            .next()
            .unwrap_or(Verdict::Intact { chain, events: 0 }))
    }
}
