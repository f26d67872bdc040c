//! Walks hash chains and reports the first broken link: an edited event (its hash no
//! longer matches its content), a removed one (a gap in the sequence), a removed tail
//! (the chain's recorded head is further on than its last event), an event past the
//! head that no append recorded, a head whose hash is not its last event's, or events
//! whose chain has no head. A live chain may grow while it is walked: the walk stops
//! at the head read when it began.
//!
//! Only sealed events can be verified. Events recorded but not yet sealed are reported
//! beside the verdicts (`Unsealed`), never as a break: a warning once they are older
//! than `STALE_AFTER`, which means no sealer is keeping up.

use std::fmt;
use std::time::Duration;

use chrono::Utc;
use tenantbase_domain::model::{ChainHead, Event};
use tenantbase_store::{Store, StoreResult};

const PAGE: u32 = 1000;

/// What is wrong at the first broken place of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The event's content does not hash to its stored hash: it was edited.
    HashMismatch { expected: String, found: String },
    /// The event does not point at its predecessor's hash.
    LinkMismatch { expected: String, found: String },
    /// An event is missing before this one.
    Gap { expected_seq: i64, found_seq: i64 },
    /// Events after the last one found are missing.
    MissingTail { last_seq: i64, head_seq: i64 },
    /// An event lies past the chain's head, which an append would have moved.
    PastHead { seq: i64, head_seq: i64 },
    /// The head's hash is not the last event's: the head was rewritten.
    HeadMismatch { expected: String, found: String },
    /// The chain has events but no head: its head was removed.
    NoHead,
}

/// The verdict on one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Intact {
        chain: String,
        /// Events checked (archived ones are not counted).
        events: u64,
    },
    Broken {
        chain: String,
        /// The event where the chain breaks (none for a missing tail).
        event_id: Option<String>,
        seq: i64,
        problem: Break,
    },
}

impl Verdict {
    pub fn is_intact(&self) -> bool {
        matches!(self, Verdict::Intact { .. })
    }

    pub fn chain(&self) -> &str {
        match self {
            Verdict::Intact { chain, .. } | Verdict::Broken { chain, .. } => chain,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Intact { chain, events } => write!(f, "{chain}: ok {events} events"),
            Verdict::Broken {
                chain,
                event_id,
                seq,
                problem,
            } => {
                let at = event_id.as_deref().unwrap_or("end of chain");
                write!(f, "{chain}: BROKEN at {at} (seq {seq}): ")?;
                match problem {
                    Break::HashMismatch { expected, found } => {
                        write!(
                            f,
                            "content was changed: expected hash {expected}, found {found}"
                        )
                    }
                    Break::LinkMismatch { expected, found } => {
                        write!(
                            f,
                            "link broken: expected prev_hash {expected}, found {found}"
                        )
                    }
                    Break::Gap {
                        expected_seq,
                        found_seq,
                    } => {
                        write!(
                            f,
                            "events missing: expected seq {expected_seq}, found {found_seq}"
                        )
                    }
                    Break::MissingTail { last_seq, head_seq } => {
                        write!(
                            f,
                            "events missing after seq {last_seq}: the chain head is at {head_seq}"
                        )
                    }
                    Break::PastHead { seq, head_seq } => {
                        write!(
                            f,
                            "event seq {seq} lies past the chain head at {head_seq}: no append recorded it"
                        )
                    }
                    Break::HeadMismatch { expected, found } => {
                        write!(
                            f,
                            "the chain head was changed: its hash is {found}, the last event's {expected}"
                        )
                    }
                    Break::NoHead => write!(f, "the chain has events but no head"),
                }
            }
        }
    }
}

/// Recorded events older than this should have been sealed long ago: sealers run every
/// fraction of a second in every serving process.
pub const STALE_AFTER: Duration = Duration::from_secs(60);

/// The events of a chain recorded but not yet sealed, so not yet verifiable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsealed {
    pub chain: String,
    pub count: u64,
    /// How long ago the oldest of them was recorded.
    pub oldest_age: Duration,
}

impl Unsealed {
    pub fn is_stale(&self) -> bool {
        self.oldest_age > STALE_AFTER
    }
}

impl fmt::Display for Unsealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            chain,
            count,
            oldest_age,
        } = self;
        let age = oldest_age.as_secs_f64();
        write!(
            f,
            "{chain}: {count} events not yet sealed, oldest {age:.1} s"
        )?;
        if self.is_stale() {
            write!(
                f,
                " (WARNING: older than {} s; is a sealer — serve or worker — running?)",
                STALE_AFTER.as_secs()
            )?;
        }
        Ok(())
    }
}

/// The chains (every one, or only `chain`) with events awaiting sealing.
pub async fn unsealed(store: &dyn Store, chain: Option<&str>) -> StoreResult<Vec<Unsealed>> {
    let now = Utc::now();
    Ok(store
        .unsealed_chains()
        .await?
        .into_iter()
        .filter(|unsealed| chain.is_none_or(|c| c == unsealed.chain))
        .map(|unsealed| Unsealed {
            chain: unsealed.chain,
            count: unsealed.count,
            oldest_age: (now - unsealed.oldest).to_std().unwrap_or_default(),
        })
        .collect())
}

/// Verifies every chain, or only `chain` when given: each chain with a head, and each
/// with events but no head, which is broken (walking only the heads would miss it).
pub async fn verify_chains(store: &dyn Store, chain: Option<&str>) -> StoreResult<Vec<Verdict>> {
    let wanted = |name: &str| chain.is_none_or(|c| c == name);
    let heads = store.chain_heads().await?;
    let mut verdicts = Vec::new();
    for head in heads.iter().filter(|h| wanted(&h.chain)) {
        verdicts.push(verify_chain(store, head).await?);
    }
    for headless in store.headless_chains().await? {
        if !wanted(&headless) {
            continue;
        }
        let first = store.events_after(&headless, i64::MIN, 1).await?;
        verdicts.push(Verdict::Broken {
            event_id: first.first().map(|event| event.id.to_string()),
            seq: first.first().map_or(0, |event| event.seq),
            chain: headless,
            problem: Break::NoHead,
        });
    }
    verdicts.sort_by(|a, b| a.chain().cmp(b.chain()));
    Ok(verdicts)
}

/// How many times a walk starts again from an anchor that an archive run moved meanwhile.
pub(crate) const REANCHOR_TRIES: usize = 3;

/// Verifies one chain from its anchor (the last archived event, or the start) to its head.
/// An archive run may truncate the chain meanwhile: the events up to its new anchor leave,
/// and a walk from the old anchor finds them missing. Such a gap (its first missing event
/// at or before the anchor read again) is no break: the walk starts again from there.
pub async fn verify_chain(store: &dyn Store, head: &ChainHead) -> StoreResult<Verdict> {
    let mut head = head.clone();
    for _ in 1..REANCHOR_TRIES {
        let verdict = walk_chain(store, &head).await?;
        let Verdict::Broken {
            problem: Break::Gap { expected_seq, .. },
            ..
        } = &verdict
        else {
            return Ok(verdict);
        };
        match reanchored(store, &head, *expected_seq).await? {
            Some(moved) => head = moved,
            None => return Ok(verdict),
        }
    }
    walk_chain(store, &head).await
}

/// The chain's head as it is now, if any.
pub(crate) async fn chain_head(store: &dyn Store, chain: &str) -> StoreResult<Option<ChainHead>> {
    Ok(store
        .chain_heads()
        .await?
        .into_iter()
        .find(|now| now.chain == chain))
}

/// `head` read again, if an archive run moved its anchor to `seq` or past it since.
pub(crate) async fn reanchored(
    store: &dyn Store,
    head: &ChainHead,
    seq: i64,
) -> StoreResult<Option<ChainHead>> {
    Ok(chain_head(store, &head.chain)
        .await?
        .filter(|now| now.anchor_seq >= seq && now.anchor_seq > head.anchor_seq))
}

async fn walk_chain(store: &dyn Store, head: &ChainHead) -> StoreResult<Verdict> {
    let mut walker = Walker::from_anchor(head.anchor_seq, head.anchor_hash.clone());
    let mut after = head.anchor_seq;
    let mut past_head = None;
    'walk: loop {
        let page = store.events_after(&head.chain, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for event in &page {
            if event.seq > head.head_seq {
                past_head = Some(event.seq);
                break 'walk;
            }
            if let Some((seq, problem)) = walker.step(event) {
                return Ok(Verdict::Broken {
                    chain: head.chain.clone(),
                    event_id: Some(event.id.to_string()),
                    seq,
                    problem,
                });
            }
        }
    }
    if walker.last_seq != head.head_seq {
        return Ok(Verdict::Broken {
            chain: head.chain.clone(),
            event_id: None,
            seq: walker.last_seq,
            problem: Break::MissingTail {
                last_seq: walker.last_seq,
                head_seq: head.head_seq,
            },
        });
    }
    // The head's hash too, not only its seq: a rewritten head would otherwise pass, and
    // a sealer would link the next event to a hash no event has.
    if walker.last_hash != head.head_hash {
        return Ok(Verdict::Broken {
            chain: head.chain.clone(),
            event_id: None,
            seq: walker.last_seq,
            problem: Break::HeadMismatch {
                expected: walker.last_hash,
                found: head.head_hash.clone(),
            },
        });
    }
    if let Some(seq) = past_head {
        // Appended while this ran? An append moves the head in its own transaction, so
        // the head read now reaches every event already seen.
        let now = chain_head(store, &head.chain)
            .await?
            .map_or(head.head_seq, |now| now.head_seq);
        if now < seq {
            return Ok(Verdict::Broken {
                chain: head.chain.clone(),
                event_id: None,
                seq,
                problem: Break::PastHead { seq, head_seq: now },
            });
        }
    }
    Ok(Verdict::Intact {
        chain: head.chain.clone(),
        events: walker.checked,
    })
}

/// Checks events one after another against the chain rules; shared by the live chain
/// and by archives, which are verified the same way.
#[derive(Debug, Clone)]
pub struct Walker {
    last_seq: i64,
    last_hash: String,
    checked: u64,
}

impl Walker {
    pub fn from_anchor(seq: i64, hash: String) -> Self {
        Self {
            last_seq: seq,
            last_hash: hash,
            checked: 0,
        }
    }

    /// `None` when `event` continues the chain; else its sequence number and the problem.
    pub fn step(&mut self, event: &Event) -> Option<(i64, Break)> {
        if event.seq != self.last_seq + 1 {
            return Some((
                event.seq,
                Break::Gap {
                    expected_seq: self.last_seq + 1,
                    found_seq: event.seq,
                },
            ));
        }
        if event.prev_hash != self.last_hash {
            return Some((
                event.seq,
                Break::LinkMismatch {
                    expected: self.last_hash.clone(),
                    found: event.prev_hash.clone(),
                },
            ));
        }
        let expected = event.expected_hash();
        if expected != event.hash {
            return Some((
                event.seq,
                Break::HashMismatch {
                    expected,
                    found: event.hash.clone(),
                },
            ));
        }
        self.last_seq = event.seq;
        self.last_hash = event.hash.clone();
        self.checked += 1;
        None
    }

    pub fn last_hash(&self) -> &str {
        &self.last_hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unsealed(age_secs: u64) -> Unsealed {
        Unsealed {
            chain: "platform".to_owned(),
            count: 4,
            oldest_age: Duration::from_secs(age_secs),
        }
    }

    #[test]
    fn a_fresh_backlog_is_reported_plainly() {
        let fresh = unsealed(1);
        assert!(!fresh.is_stale());
        assert_eq!(
            fresh.to_string(),
            "platform: 4 events not yet sealed, oldest 1.0 s"
        );
    }

    #[test]
    fn a_backlog_past_the_bound_is_a_warning() {
        let stale = unsealed(61);
        assert!(stale.is_stale());
        assert!(
            stale.to_string().contains("WARNING: older than 60 s"),
            "{stale}"
        );
    }
}
