//! The event log, which is also the audit log: every change appends an event in the
//! transaction that makes it. Events form hash chains — one per org and one for the
//! platform — where each event's hash covers the previous hash and the event itself, so
//! an edited, removed or reordered event breaks the chain at a findable place.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tenantbase_domain::{EventId, OrgId};

use crate::StoreResult;

/// The `prev_hash` of every chain's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Which chain an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChainKey {
    /// Events with no org: sign-in attempts for unknown accounts, system work.
    Platform,
    Org(OrgId),
}

impl ChainKey {
    pub fn for_org(org_id: Option<OrgId>) -> Self {
        org_id.map_or(ChainKey::Platform, ChainKey::Org)
    }

    /// The stored form: `platform` or the org's typed id.
    pub fn as_string(&self) -> String {
        match self {
            ChainKey::Platform => "platform".to_owned(),
            ChainKey::Org(org) => org.to_string(),
        }
    }
}

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user, by typed id (`usr_…`).
    User(String),
    /// An API key, by typed id.
    ApiKey(String),
    /// tenantbase itself: jobs, schedules, the CLI.
    System,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::User(_) => "user",
            Actor::ApiKey(_) => "api_key",
            Actor::System => "system",
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Actor::User(id) | Actor::ApiKey(id) => Some(id),
            Actor::System => None,
        }
    }
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: String,
    pub id: String,
}

/// Where a request-driven event came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

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

/// A stored event. Its serde form is what archives hold, verifiable on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Event {
    pub id: EventId,
    pub chain: String,
    pub seq: i64,
    pub org_id: Option<OrgId>,
    pub event_type: String,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// The redacted payload as stored: canonical JSON text, hashed verbatim.
    pub payload: String,
    pub occurred_at: DateTime<Utc>,
    pub prev_hash: String,
    pub hash: String,
}

/// The fields of an event in a fixed order, as hashed. Field order is the struct's, so
/// the encoding does not depend on how any JSON map orders its keys.
#[derive(Serialize)]
struct Canonical<'a> {
    id: String,
    chain: &'a str,
    seq: i64,
    org_id: Option<String>,
    event_type: &'a str,
    actor_kind: &'a str,
    actor_id: Option<&'a str>,
    target_kind: Option<&'a str>,
    target_id: Option<&'a str>,
    ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    request_id: Option<&'a str>,
    payload: &'a str,
    occurred_at: String,
}

impl Event {
    /// `SHA-256(prev_hash ‖ canonical encoding)`, hex: what `hash` must be.
    pub fn expected_hash(&self) -> String {
        let canonical = Canonical {
            id: self.id.to_string(),
            chain: &self.chain,
            seq: self.seq,
            org_id: self.org_id.map(|org| org.to_string()),
            event_type: &self.event_type,
            actor_kind: &self.actor_kind,
            actor_id: self.actor_id.as_deref(),
            target_kind: self.target_kind.as_deref(),
            target_id: self.target_id.as_deref(),
            ip: self.ip.as_deref(),
            user_agent: self.user_agent.as_deref(),
            request_id: self.request_id.as_deref(),
            payload: &self.payload,
            occurred_at: self
                .occurred_at
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string(),
        };
        // Serializing plain strings and integers cannot fail.
        let encoded = serde_json::to_vec(&canonical).unwrap_or_default();
        let mut hasher = Sha256::new();
        hasher.update(self.prev_hash.as_bytes());
        hasher.update(&encoded);
        hex::encode(hasher.finalize())
    }

    /// Builds the stored event for `new` at position `seq` after `prev_hash`.
    pub fn seal(new: NewEvent, chain: String, seq: i64, prev_hash: String) -> Self {
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
}

/// A chain's head and, after archival, the anchor the remaining events continue from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub chain: String,
    pub head_seq: i64,
    pub head_hash: String,
    /// Events up to this sequence number were archived; 0 when none were.
    pub anchor_seq: i64,
    /// The hash of the last archived event (`GENESIS_HASH` when none were).
    pub anchor_hash: String,
}

/// Bounds of an event listing.
#[derive(Debug, Clone, Default)]
pub struct EventRange {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
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

#[cfg(test)]
mod tests {
    use serde_json::json;

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
        Event::seal(new, "org_x".to_owned(), 1, GENESIS_HASH.to_owned())
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
