//! The event log's store side: appending is part of a unit of work (`EventsUnit`), so
//! every change writes its event in the transaction that makes it; reading pages of a
//! chain and the chains' heads is `EventStore`. The events and chains themselves are
//! `tenantbase_domain::model::event`.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use tenantbase_domain::model::{Actor, ChainHead, Event, RequestMeta, Target};
use tenantbase_domain::{EventId, OrgId};

use crate::StoreResult;

/// An event to append. Its payload is redacted (secrets removed, PII masked) on append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub org_id: Option<OrgId>,
    /// Dotted type, e.g. `auth.login.succeeded`, `org.member.added`.
    pub event_type: String,
    pub actor: Actor,
    pub target: Option<Target>,
    pub request: RequestMeta,
    pub payload: serde_json::Value,
}

/// Builds the stored event for `new` at position `seq` after `prev_hash`.
pub fn seal(new: NewEvent, chain: String, seq: i64, prev_hash: String) -> Event {
    let payload = tenantbase_domain::redact::redact_payload(&new.payload).to_string();
    let mut event = Event {
        id: EventId::new(),
        chain,
        seq,
        org_id: new.org_id,
        event_type: new.event_type,
        actor_kind: new.actor.kind().to_owned(),
        actor_id: new.actor.id().map(str::to_owned),
        target_kind: new.target.as_ref().map(|t| t.kind.clone()),
        target_id: new.target.map(|t| t.id),
        ip: new.request.ip,
        user_agent: new.request.user_agent,
        request_id: new.request.request_id,
        payload,
        // Both backends keep microseconds; hashing finer time would not verify.
        occurred_at: Utc::now().trunc_subsecs(6),
        prev_hash,
        hash: String::new(),
    };
    event.hash = event.expected_hash();
    event
}

/// The event log's part of a unit of work.
#[async_trait]
pub trait EventsUnit: Send {
    /// Appends to the event's chain. Appends to one chain are serialized until commit, so
    /// concurrent units keep it a single unbroken chain.
    async fn append_event(&mut self, event: NewEvent) -> StoreResult<Event>;

    /// Removes the events of `chain` up to `through_seq` and records the last one's hash
    /// as the chain's anchor. Used once those events are safely archived.
    async fn truncate_chain(
        &mut self,
        chain: &str,
        through_seq: i64,
        through_hash: &str,
    ) -> StoreResult<u64>;
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Events of `chain` with `seq > after_seq`, in order, at most `limit`.
    async fn events_after(
        &self,
        chain: &str,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>>;

    /// Every chain's head, ordered by chain.
    async fn chain_heads(&self) -> StoreResult<Vec<ChainHead>>;
}

/// The columns of `events`, in `EventRow`'s order.
pub const EVENT_COLUMNS: &str = "id, chain, seq, org_id, event_type, actor_kind, actor_id, \
     target_kind, target_id, ip, user_agent, request_id, payload, occurred_at, prev_hash, hash";

/// A row of `events`.
#[derive(Debug, sqlx::FromRow)]
pub struct EventRow {
    pub id: uuid::Uuid,
    pub chain: String,
    pub seq: i64,
    pub org_id: Option<uuid::Uuid>,
    pub event_type: String,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub payload: String,
    pub occurred_at: DateTime<Utc>,
    pub prev_hash: String,
    pub hash: String,
}

impl From<EventRow> for Event {
    fn from(row: EventRow) -> Self {
        Self {
            id: EventId::from_uuid(row.id),
            chain: row.chain,
            seq: row.seq,
            org_id: row.org_id.map(OrgId::from_uuid),
            event_type: row.event_type,
            actor_kind: row.actor_kind,
            actor_id: row.actor_id,
            target_kind: row.target_kind,
            target_id: row.target_id,
            ip: row.ip,
            user_agent: row.user_agent,
            request_id: row.request_id,
            payload: row.payload,
            occurred_at: row.occurred_at,
            prev_hash: row.prev_hash,
            hash: row.hash,
        }
    }
}

/// A row of `audit_chains`.
#[derive(Debug, sqlx::FromRow)]
pub struct ChainHeadRow {
    pub chain: String,
    pub head_seq: i64,
    pub head_hash: String,
    pub anchor_seq: i64,
    pub anchor_hash: String,
}

impl From<ChainHeadRow> for ChainHead {
    fn from(row: ChainHeadRow) -> Self {
        Self {
            chain: row.chain,
            head_seq: row.head_seq,
            head_hash: row.head_hash,
            anchor_seq: row.anchor_seq,
            anchor_hash: row.anchor_hash,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tenantbase_domain::model::GENESIS_HASH;

    use super::*;

    fn sample() -> Event {
        let new = NewEvent {
            org_id: Some(OrgId::new()),
            event_type: "org.member.added".to_owned(),
            actor: Actor::User("usr_1".to_owned()),
            target: Some(Target {
                kind: "user".to_owned(),
                id: "usr_2".to_owned(),
            }),
            request: RequestMeta::default(),
            payload: json!({"roles": ["admin"], "password": "nope"}),
        };
        seal(new, "org_x".to_owned(), 1, GENESIS_HASH.to_owned())
    }

    #[test]
    fn sealing_redacts_and_hashes() {
        let event = sample();
        assert!(!event.payload.contains("nope"));
        assert_eq!(event.hash.len(), 64);
        assert_eq!(event.hash, event.expected_hash());
    }

    #[test]
    fn any_change_changes_the_hash() {
        let event = sample();
        let mut edited = event.clone();
        edited.payload = edited.payload.replace("admin", "owner");
        assert_ne!(edited.expected_hash(), event.hash);
        let mut moved = event.clone();
        moved.seq = 2;
        assert_ne!(moved.expected_hash(), event.hash);
        let mut relinked = event.clone();
        relinked.prev_hash = "1".repeat(64);
        assert_ne!(relinked.expected_hash(), event.hash);
    }
}
