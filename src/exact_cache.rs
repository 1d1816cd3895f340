//! The exact-size cache (`va_cache`, seed item 3): for single-task batches, persistent
//! slabs sized for one exact length, reused by every later call of that length.

use crate::kernel::SlabShape;
use crate::log::{log, Level};
use crate::slab::Slab;
use crate::stats::Stats;

/// Least-recently-used list of ((shape, length), slabs); small, so a Vec beats a map.
pub struct ExactSizeCache {
    capacity: usize,
    /// Most recently used last.
    entries: Vec<((SlabShape, usize), Vec<Slab>)>,
}

impl ExactSizeCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Vec::new(),
        }
    }

    /// Removes and returns the slabs cached for `len` (hit), or `None` (miss).
    pub fn take(&mut self, len: (SlabShape, usize), stats: &mut Stats) -> Option<Vec<Slab>> {
        match self.entries.iter().position(|(l, _)| *l == len) {
            Some(i) => {
                stats.exact_cache_hits += 1;
                Some(self.entries.remove(i).1)
            }
            None => {
                stats.exact_cache_misses += 1;
                None
            }
        }
    }

    /// Stores slabs for `len` once their submission completed, evicting the oldest entry
    /// beyond capacity.
    pub fn put(&mut self, len: (SlabShape, usize), slabs: Vec<Slab>, stats: &mut Stats) {
        // Two concurrent batches of one length each made slabs: keep one set.
        let known = self.entries.iter().any(|(l, _)| *l == len);
        if known || self.capacity == 0 || !slabs.iter().all(Slab::is_reusable) {
            return;
        }
        self.entries.push((len, slabs));
        while self.entries.len() > self.capacity {
            let (evicted, _) = self.entries.remove(0);
            stats.exact_cache_evictions += 1;
            log!(
                Level::Debug,
                "exact-size cache full: evicted length {} ({:?})",
                evicted.1,
                evicted.0
            );
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}
