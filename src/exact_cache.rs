//! The exact-size cache (`va_cache`, seed item 3): for single-task batches, persistent
//! slabs sized for one exact length, reused by every later call of that length.

use crate::kernel::SlabShape;
use crate::log::{log, Level};
use crate::slab::Slab;
use crate::stats::Stats;

/// What an entry holds slabs for: the slab shape, the task's length, and the most elements
/// per slab it was cut with (see `Executor::split_for`).
pub type ExactKey = (SlabShape, usize, u64);

/// One cached length: its key, the tick it was stored at, its slabs.
type Entry = (ExactKey, u64, Vec<Slab>);

/// Least-recently-used list of lengths and their slabs; small, so a Vec beats a map.
pub struct ExactSizeCache {
    capacity: usize,
    /// Most recently used last.
    entries: Vec<Entry>,
    /// Bytes of GPU memory the cached slabs hold.
    bytes: u64,
}

fn bytes_of(slabs: &[Slab]) -> u64 {
    slabs.iter().map(Slab::bytes).sum()
}

impl ExactSizeCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Vec::new(),
            bytes: 0,
        }
    }

    /// Removes and returns the slabs cached for `len` (hit), or `None` (miss).
    pub fn take(&mut self, len: ExactKey, stats: &mut Stats) -> Option<Vec<Slab>> {
        match self.entries.iter().position(|(l, _, _)| *l == len) {
            Some(i) => {
                stats.exact_cache_hits += 1;
                let (_, _, slabs) = self.entries.remove(i);
                self.bytes -= bytes_of(&slabs);
                Some(slabs)
            }
            None => {
                stats.exact_cache_misses += 1;
                None
            }
        }
    }

    /// Stores slabs for `len` once their submission completed, stamped with `tick`;
    /// returns what is not kept (a second set for a known length, slabs that cannot be
    /// reused, the oldest entries beyond capacity), to be dropped outside the lock.
    pub fn put(
        &mut self,
        len: ExactKey,
        slabs: Vec<Slab>,
        tick: u64,
        stats: &mut Stats,
    ) -> Vec<Slab> {
        // Two concurrent batches of one length each made slabs: keep one set.
        let known = self.entries.iter().any(|(l, _, _)| *l == len);
        if known || self.capacity == 0 || !slabs.iter().all(Slab::is_reusable) {
            return slabs;
        }
        self.bytes += bytes_of(&slabs);
        self.entries.push((len, tick, slabs));
        let mut evicted = Vec::new();
        while self.entries.len() > self.capacity {
            evicted.extend(self.evict_oldest(stats));
        }
        evicted
    }

    /// The tick of the least recently used entry.
    pub fn oldest(&self) -> Option<u64> {
        self.entries.first().map(|(_, tick, _)| *tick)
    }

    /// Removes the least recently used entry, counting the eviction.
    pub fn evict_oldest(&mut self, stats: &mut Stats) -> Vec<Slab> {
        if self.entries.is_empty() {
            return Vec::new();
        }
        let ((shape, len, _), _, slabs) = self.entries.remove(0);
        let bytes = bytes_of(&slabs);
        self.bytes -= bytes;
        stats.exact_cache_evictions += 1;
        stats.evicted_bytes += bytes;
        log!(
            Level::Debug,
            "exact-size cache: evicted length {len} ({shape:?})"
        );
        slabs
    }

    /// Bytes the cached slabs hold.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Most lengths held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Every cached slab, to drop.
    pub fn into_slabs(self) -> impl Iterator<Item = Slab> {
        self.entries.into_iter().flat_map(|(_, _, slabs)| slabs)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}
