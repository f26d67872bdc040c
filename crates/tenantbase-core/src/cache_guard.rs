//! What keeps a read-through cache from keeping a row older than an eviction: a read
//! from the store may be stale by the time it is cached (a request read the live row
//! just before a change committed and evicted it), and caching it would undo the
//! eviction until the entry expires. So evictions are counted, a read is cached only if
//! none was counted since it began, and that check and the insert are one step against
//! an eviction's count and removal — a read cached first and checked after would sit in
//! the cache, answering other requests, until its check.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

/// The evictions of one cache (or of caches evicted together).
#[derive(Debug, Default)]
pub(crate) struct EvictionGuard {
    /// Evictions so far. One counter for all entries: an eviction only costs the reads
    /// in flight at that moment their caching, and they are rare next to reads.
    evictions: AtomicU64,
    /// Held shared by a read's check and insert, exclusively by an eviction's count and
    /// removal, so neither sees the other half done.
    caching: RwLock<()>,
}

/// When a read from the store began, in evictions: take it before the read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadMark(u64);

impl EvictionGuard {
    pub(crate) fn mark(&self) -> ReadMark {
        ReadMark(self.evictions.load(Ordering::SeqCst))
    }

    /// Runs `insert` (the caching of a read begun at `mark`) unless an eviction was
    /// counted since. An eviction that counts later waits for it, and then removes the
    /// entry itself.
    pub(crate) fn insert_unless_evicted(&self, mark: ReadMark, insert: impl FnOnce()) {
        let _caching = self.caching.read().unwrap_or_else(PoisonError::into_inner);
        if self.evictions.load(Ordering::SeqCst) == mark.0 {
            insert();
        }
    }

    /// Counts an eviction and runs `remove`; call after the change has committed.
    pub(crate) fn evict(&self, remove: impl FnOnce()) {
        let _evicting = self.caching.write().unwrap_or_else(PoisonError::into_inner);
        self.evictions.fetch_add(1, Ordering::SeqCst);
        remove();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    use super::*;

    /// An eviction that comes while a read is being cached waits for the insert, and then
    /// removes it; a read begun before an eviction is not cached at all.
    #[test]
    fn an_eviction_waits_for_an_insert_under_way_then_undoes_it() {
        let guard = EvictionGuard::default();
        let cached = AtomicBool::new(false);
        let mark = guard.mark();
        std::thread::scope(|scope| {
            guard.insert_unless_evicted(mark, || {
                let evicting =
                    scope.spawn(|| guard.evict(|| cached.store(false, Ordering::SeqCst)));
                std::thread::sleep(Duration::from_millis(50));
                assert!(
                    !evicting.is_finished(),
                    "the eviction ran while the insert was under way"
                );
                cached.store(true, Ordering::SeqCst);
            });
        });
        assert!(
            !cached.load(Ordering::SeqCst),
            "the eviction undid the insert"
        );
        guard.insert_unless_evicted(mark, || cached.store(true, Ordering::SeqCst));
        assert!(
            !cached.load(Ordering::SeqCst),
            "a read older than an eviction"
        );
        guard.insert_unless_evicted(guard.mark(), || cached.store(true, Ordering::SeqCst));
        assert!(
            cached.load(Ordering::SeqCst),
            "a read with no eviction since"
        );
    }
}
