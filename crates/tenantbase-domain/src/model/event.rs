//! Events of the event log, which is also the audit log, and the hash chains they form —
//! one per org and one for the platform — where each event's hash covers the previous
//! hash and the event itself, so an edited, removed or reordered event breaks the chain
//! at a findable place.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{EventId, OrgId};

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
