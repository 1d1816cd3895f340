//! Buffer pool: idle slabs keyed by shape and size class (seed item 5).
//!
//! A slab leaves the pool for one batch and comes back only after the submission that
//! used it has completed (the executor holds it in the batch until then), so no buffer is
//! rewritten while the GPU may still read it.

use std::collections::HashMap;

use crate::kernel::SlabShape;
use crate::slab::Slab;
use crate::stats::Stats;

#[derive(Default)]
pub struct SlabPool {
    /// (shape, capacity) → idle slabs.
    idle: HashMap<(SlabShape, u64), Vec<Slab>>,
}

impl SlabPool {
    /// An idle slab of `shape` and exactly `capacity` elements, counting the hit or miss.
    pub fn take(&mut self, shape: SlabShape, capacity: u64, stats: &mut Stats) -> Option<Slab> {
        let slab = self.idle.get_mut(&(shape, capacity)).and_then(Vec::pop);
        if slab.is_some() {
            stats.pool_hits += 1;
        } else {
            stats.pool_misses += 1;
        }
        slab
    }

    /// Returns a slab whose submission has completed.
    pub fn give_back(&mut self, slab: Slab) {
        if slab.is_reusable() {
            self.idle
                .entry((slab.shape, slab.capacity))
                .or_default()
                .push(slab);
        }
    }

    pub fn clear(&mut self) {
        self.idle.clear();
    }
}
