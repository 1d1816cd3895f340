//! Buffer pool: idle slabs keyed by shape and size class (seed item 5).
//!
//! A slab leaves the pool for one batch and comes back only after the submission that
//! used it has completed (the executor holds it in the batch until then), so no buffer is
//! rewritten while the GPU may still read it. Each idle slab carries the tick it came back
//! at, so that the idle-memory cap (`idle.rs`) can free the least recently used first.

use std::collections::HashMap;

use crate::kernel::SlabShape;
use crate::slab::Slab;
use crate::stats::Stats;

#[derive(Default)]
pub struct SlabPool {
    /// (shape, capacity) → (tick, idle slab), oldest first.
    idle: HashMap<(SlabShape, u64), Vec<(u64, Slab)>>,
    /// Bytes of GPU memory the idle slabs hold.
    bytes: u64,
}

impl SlabPool {
    /// An idle slab of `shape` and exactly `capacity` elements, counting the hit or miss.
    /// The most recently returned goes out first, so the oldest stay evictable.
    pub fn take(&mut self, shape: SlabShape, capacity: u64, stats: &mut Stats) -> Option<Slab> {
        let slab = self
            .idle
            .get_mut(&(shape, capacity))
            .and_then(Vec::pop)
            .map(|(_, slab)| slab);
        match &slab {
            Some(slab) => {
                stats.pool_hits += 1;
                self.bytes -= slab.bytes();
            }
            None => stats.pool_misses += 1,
        }
        slab
    }

    /// Returns a slab whose submission has completed, stamped with `tick`; a slab that
    /// cannot be reused is handed back to be dropped.
    pub fn give_back(&mut self, slab: Slab, tick: u64) -> Option<Slab> {
        if !slab.is_reusable() {
            return Some(slab);
        }
        self.bytes += slab.bytes();
        self.idle
            .entry((slab.shape, slab.capacity))
            .or_default()
            .push((tick, slab));
        None
    }

    /// The tick of the least recently returned idle slab.
    pub fn oldest(&self) -> Option<u64> {
        self.idle
            .values()
            .filter_map(|slabs| slabs.first().map(|(tick, _)| *tick))
            .min()
    }

    /// Removes the least recently returned idle slab.
    pub fn evict_oldest(&mut self) -> Option<Slab> {
        let key = *self
            .idle
            .iter()
            .filter_map(|(key, slabs)| slabs.first().map(|(tick, _)| (*tick, key)))
            .min_by_key(|(tick, _)| *tick)?
            .1;
        let slabs = self.idle.get_mut(&key)?;
        let (_, slab) = slabs.remove(0);
        if slabs.is_empty() {
            self.idle.remove(&key);
        }
        self.bytes -= slab.bytes();
        Some(slab)
    }

    /// Size classes of the idle slabs (elements per array), ascending, once each.
    pub fn classes(&self) -> Vec<u64> {
        let mut classes: Vec<u64> = self
            .idle
            .iter()
            .filter(|(_, slabs)| !slabs.is_empty())
            .map(|(&(_, capacity), _)| capacity)
            .collect();
        classes.sort_unstable();
        classes.dedup();
        classes
    }

    /// Bytes the idle slabs hold.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Every idle slab, to drop.
    pub fn into_slabs(self) -> impl Iterator<Item = Slab> {
        self.idle.into_values().flatten().map(|(_, slab)| slab)
    }

    pub fn clear(&mut self) {
        self.idle.clear();
        self.bytes = 0;
    }
}
