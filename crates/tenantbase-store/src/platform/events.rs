//! The event log's store side. A unit of work records its events (`EventsUnit`), so every
//! change writes its event in the transaction that makes it; a sealer later links the
//! recorded events of a chain into it, in order, in a unit of its own (`seal_chain`), so
//! writers never queue on a chain's head (ADR 0004). Reading pages of a chain, the
//! chains' heads and what awaits sealing is `EventStore`. The events and chains themselves
//! are `tenantbase_domain::model::event`.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use tenantbase_domain::model::{Actor, ChainHead, ChainKey, Event, RequestMeta, Target};
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

/// A recorded event not yet sealed into its chain: everything an `Event` holds but its
/// place (`seq`) and hashes, which only the sealer can know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    pub id: EventId,
    pub chain: String,
    pub org_id: Option<OrgId>,
    pub event_type: String,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// The redacted payload as it will be hashed.
    pub payload: String,
    pub occurred_at: DateTime<Utc>,
}

impl PendingEvent {
    /// Records `new` now: redacted, with its id, chain and time fixed.
    pub fn record(new: NewEvent) -> Self {
        let payload = tenantbase_domain::redact::redact_payload(&new.payload).to_string();
        Self {
            id: EventId::new(),
            chain: ChainKey::for_org(new.org_id).as_string(),
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
        }
    }

    /// The stored event at position `seq` after `prev_hash`.
    pub fn seal(&self, seq: i64, prev_hash: String) -> Event {
        let mut event = self.clone().placed(seq, prev_hash, String::new());
        event.hash = event.expected_hash();
        event
    }

    fn placed(self, seq: i64, prev_hash: String, hash: String) -> Event {
        Event {
            id: self.id,
            chain: self.chain,
            seq,
            org_id: self.org_id,
            event_type: self.event_type,
            actor_kind: self.actor_kind,
            actor_id: self.actor_id,
            target_kind: self.target_kind,
            target_id: self.target_id,
            ip: self.ip,
            user_agent: self.user_agent,
            request_id: self.request_id,
            payload: self.payload,
            occurred_at: self.occurred_at,
            prev_hash,
            hash,
        }
    }
}

/// The events of one chain recorded but not yet sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsealedChain {
    pub chain: String,
    pub count: u64,
    /// When the oldest of them was recorded.
    pub oldest: DateTime<Utc>,
}

/// The event log's part of a unit of work.
#[async_trait]
pub trait EventsUnit: Send {
    /// Records the event in this unit; once committed, a sealer links it into its chain.
    /// Takes no lock on the chain, so concurrent units into one chain do not queue.
    async fn append_event(&mut self, event: NewEvent) -> StoreResult<EventId>;

    /// Seals up to `limit` of `chain`'s recorded events, oldest recorded first, after its
    /// head, and returns them. Holds the chain's head until commit, so two sealers of one
    /// chain take turns and never fork it.
    async fn seal_chain(&mut self, chain: &str, limit: u32) -> StoreResult<Vec<Event>>;

    /// Removes the events of `chain` up to `through_seq` and records the last one's hash
    /// as the chain's anchor, if the anchor is still at `from_seq` (where the archive of
    /// those events started); returns how many went, or `None` when another run moved the
    /// anchor meanwhile (nothing changes). Used once those events are safely archived.
    async fn truncate_chain(
        &mut self,
        chain: &str,
        from_seq: i64,
        through_seq: i64,
        through_hash: &str,
    ) -> StoreResult<Option<u64>>;
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Sealed events of `chain` with `seq > after_seq`, in order, at most `limit`.
    async fn events_after(
        &self,
        chain: &str,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>>;

    /// Every chain's head, ordered by chain.
    async fn chain_heads(&self) -> StoreResult<Vec<ChainHead>>;

    /// The chains with sealed events but no head, ordered by chain: sealing always
    /// writes the head first, so only a removed head row leaves one.
    async fn headless_chains(&self) -> StoreResult<Vec<String>>;

    /// The chains with events awaiting sealing, ordered by chain.
    async fn unsealed_chains(&self) -> StoreResult<Vec<UnsealedChain>>;
}

/// The columns an event has from the moment it is recorded, in `RecordedRow`'s order.
pub const RECORDED_COLUMNS: &str = "id, chain, org_id, event_type, actor_kind, actor_id, \
     target_kind, target_id, ip, user_agent, request_id, payload, occurred_at";

/// The columns of `events`.
pub const EVENT_COLUMNS: &str = "id, chain, seq, org_id, event_type, actor_kind, actor_id, \
     target_kind, target_id, ip, user_agent, request_id, payload, occurred_at, prev_hash, hash";

/// The columns of an event that `events` and `pending_events` share.
#[derive(Debug, sqlx::FromRow)]
pub struct RecordedRow {
    pub id: uuid::Uuid,
    pub chain: String,
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
}

impl From<RecordedRow> for PendingEvent {
    fn from(row: RecordedRow) -> Self {
        Self {
            id: EventId::from_uuid(row.id),
            chain: row.chain,
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
        }
    }
}

/// A row of `events`.
#[derive(Debug, sqlx::FromRow)]
pub struct EventRow {
    #[sqlx(flatten)]
    pub recorded: RecordedRow,
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
}

impl From<EventRow> for Event {
    fn from(row: EventRow) -> Self {
        // As stored, not re-hashed: verification compares the stored hash.
        PendingEvent::from(row.recorded).placed(row.seq, row.prev_hash, row.hash)
    }
}

/// A row of `pending_events`: `pending_no` is the order of recording.
#[derive(Debug, sqlx::FromRow)]
pub struct PendingRow {
    pub pending_no: i64,
    #[sqlx(flatten)]
    pub recorded: RecordedRow,
}

/// A row of the unsealed summary, one per chain.
#[derive(Debug, sqlx::FromRow)]
pub struct UnsealedRow {
    pub chain: String,
    pub count: i64,
    pub oldest: DateTime<Utc>,
}

impl From<UnsealedRow> for UnsealedChain {
    fn from(row: UnsealedRow) -> Self {
        Self {
            chain: row.chain,
            count: u64::try_from(row.count).unwrap_or_default(),
            oldest: row.oldest,
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
        PendingEvent::record(new).seal(1, GENESIS_HASH.to_owned())
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
