//! One way to finish a change: its audit events appended, its transaction committed and
//! what it made stale evicted from the caches — all three, in that order, at every site.
//!
//! A use case opens a `Write` around a store unit, reads and changes through it (it
//! derefs to the unit), and ends it with `commit(change)`. A `Change` cannot be made
//! without an event, and `Write` has no other way to commit, so no site can skip the
//! event; what a change evicts follows from its kind (`Evict`), not from a line each site
//! must remember. Dropping a `Write` rolls its unit back, as dropping the unit does.
//!
//! ```no_run
//! # use tenantbase_core::write::{Change, NoCache, Write};
//! # use tenantbase_store::{OrgUnit, StoreResult, platform::events::NewEvent};
//! async fn rename(unit: Box<dyn OrgUnit>, event: NewEvent) -> StoreResult<()> {
//!     let mut write = Write::new(unit, NoCache);
//!     write.lock_org().await?;
//!     write.commit(Change::new((), event)).await
//! }
//! ```
//!
//! Skipping the event does not compile: `commit` takes a `Change`, and a `Change` takes
//! an event.
//!
//! ```compile_fail
//! # use tenantbase_core::write::{NoCache, Write};
//! # use tenantbase_store::{OrgUnit, StoreResult};
//! async fn rename(unit: Box<dyn OrgUnit>) -> StoreResult<()> {
//!     Write::new(unit, NoCache).commit().await
//! }
//! ```
//!
//! ```compile_fail
//! # use tenantbase_core::write::Change;
//! let change = Change::new(());
//! ```

use std::ops::{Deref, DerefMut};

use async_trait::async_trait;
use tenantbase_store::platform::events::NewEvent;
use tenantbase_store::{OrgUnit, StoreResult, UnitOfWork};

/// A transaction a `Write` can finish: either kind of store unit.
#[async_trait]
pub trait Unit: Send {
    /// Records a change's events, in order, and commits.
    async fn commit_with_events(self, events: Vec<NewEvent>) -> StoreResult<()>;
}

#[async_trait]
impl Unit for Box<dyn OrgUnit> {
    async fn commit_with_events(self, events: Vec<NewEvent>) -> StoreResult<()> {
        OrgUnit::commit_with_events(self, events).await
    }
}

#[async_trait]
impl Unit for Box<dyn UnitOfWork> {
    async fn commit_with_events(self, events: Vec<NewEvent>) -> StoreResult<()> {
        UnitOfWork::commit_with_events(self, events).await
    }
}

/// A cache (or a view of one) that knows what a change of kind `S` makes stale in it.
pub trait Evict<S> {
    /// Called once the change has committed, so a concurrent read cannot cache the row
    /// the change replaced after it was evicted.
    fn evict(&self, stale: S);
}

/// For writers that keep no cache of their own (jobs, key set-up): nothing to evict here.
/// The serving processes' caches catch up within their time to live.
#[derive(Debug, Clone, Copy)]
pub struct NoCache;

impl<S> Evict<S> for NoCache {
    fn evict(&self, _: S) {}
}

/// A change ready to commit: its events, in order (at least one), and its kind `S`,
/// which says what it makes stale.
#[derive(Debug)]
pub struct Change<S> {
    events: Vec<NewEvent>,
    stale: S,
}

impl<S> Change<S> {
    pub fn new(stale: S, event: NewEvent) -> Self {
        Self {
            events: vec![event],
            stale,
        }
    }

    /// One more event of the same change, appended after the ones before.
    pub fn and(mut self, event: NewEvent) -> Self {
        self.events.push(event);
        self
    }

    /// The same change, with what it makes stale changed by `f` (a change that grew).
    pub fn map_stale<T>(self, f: impl FnOnce(S) -> T) -> Change<T> {
        Change {
            events: self.events,
            stale: f(self.stale),
        }
    }
}

/// An open unit whose only way to commit is with a `Change`.
#[must_use = "dropping a Write rolls its unit back; finish it with `commit`"]
pub struct Write<U, C> {
    unit: U,
    cache: C,
}

impl<U: Unit, C> Write<U, C> {
    /// `cache` is what the change will evict from.
    pub fn new(unit: U, cache: C) -> Self {
        Self { unit, cache }
    }

    /// Appends the change's events, commits, and evicts what the change made stale. An
    /// error anywhere rolls everything back and evicts nothing.
    pub async fn commit<S>(self, change: Change<S>) -> StoreResult<()>
    where
        C: Evict<S>,
    {
        self.unit.commit_with_events(change.events).await?;
        self.cache.evict(change.stale);
        Ok(())
    }
}

impl<U, C> Deref for Write<U, C> {
    type Target = U;

    fn deref(&self) -> &U {
        &self.unit
    }
}

impl<U, C> DerefMut for Write<U, C> {
    fn deref_mut(&mut self) -> &mut U {
        &mut self.unit
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tenantbase_domain::model::{Actor, RequestMeta};
    use tenantbase_store::StoreError;

    use super::*;

    /// What a fake unit saw, in order.
    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl Log {
        fn push(&self, entry: impl Into<String>) {
            self.0.lock().expect("not poisoned").push(entry.into());
        }

        fn entries(&self) -> Vec<String> {
            self.0.lock().expect("not poisoned").clone()
        }
    }

    struct FakeUnit<'l> {
        log: &'l Log,
        fail_commit: bool,
    }

    #[async_trait]
    impl Unit for FakeUnit<'_> {
        async fn commit_with_events(self, events: Vec<NewEvent>) -> StoreResult<()> {
            let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
            self.log.push(format!("append {}", types.join(", ")));
            if self.fail_commit {
                return Err(StoreError::Invalid("gone".to_owned()));
            }
            self.log.push("commit");
            Ok(())
        }
    }

    impl Evict<&'static str> for &Log {
        fn evict(&self, stale: &'static str) {
            self.push(format!("evict {stale}"));
        }
    }

    fn event(event_type: &str) -> NewEvent {
        NewEvent {
            org_id: None,
            event_type: event_type.to_owned(),
            actor: Actor::System,
            target: None,
            request: RequestMeta::default(),
            payload: serde_json::json!({}),
        }
    }

    #[tokio::test]
    async fn events_then_commit_then_eviction() {
        let log = Log::default();
        let unit = FakeUnit {
            log: &log,
            fail_commit: false,
        };
        let change = Change::new("members", event("a.one")).and(event("a.two"));
        Write::new(unit, &log)
            .commit(change)
            .await
            .expect("commits");
        assert_eq!(
            log.entries(),
            ["append a.one, a.two", "commit", "evict members"]
        );
    }

    #[tokio::test]
    async fn a_failed_commit_evicts_nothing() {
        let log = Log::default();
        let unit = FakeUnit {
            log: &log,
            fail_commit: true,
        };
        let outcome = Write::new(unit, &log)
            .commit(Change::new("members", event("a.one")))
            .await;
        assert!(outcome.is_err());
        assert_eq!(log.entries(), ["append a.one"]);
    }

    #[tokio::test]
    async fn dropping_a_write_appends_and_commits_nothing() {
        let log = Log::default();
        let write = Write::new(
            FakeUnit {
                log: &log,
                fail_commit: false,
            },
            &log,
        );
        drop(write);
        assert!(log.entries().is_empty());
    }
}
