//! Adaptive buckets: the executor watches padding waste and pipeline thrash and changes
//! the bucket ladder (`bucket.rs`) between batches, by two rules, both deterministic
//! (counted in slabs and compilations, never in time).
//!
//! - **Refine (padding).** For each rung `r` of the ladder, the pooled slabs whose class
//!   is `r` are counted with the elements they use. Every `WINDOW_SLABS` such slabs, if
//!   more than a third of their capacity went unused (tasks cluster just above the rung
//!   below), the class range of `r` is cut into `REFINE_STEPS` equal steps: later slabs
//!   there take the smallest step that fits. A refined rung stays refined.
//! - **Coarsen (thrash).** A compilation of a pipeline for a kernel that already has one
//!   for another bucket is a *bucket miss*: bucket granularity, not a new op, caused it.
//!   Every `WINDOW_MISSES` bucket misses, if the tasks run since the last check are fewer
//!   than `TASKS_PER_MISS` per miss, pipeline buckets move one step apart (every 2nd rung,
//!   then 4th, then 8th: `MAX_COARSENING` steps at most). Pipelines already compiled for
//!   the remaining rungs serve again; tasks of more sizes share slabs and dispatches.
//!
//! Neither changes results: a bucket only chooses the pipeline (its workgroup size) and
//! which tasks share a slab, a class only the slab's size.

use std::collections::BTreeMap;

use crate::bucket::Buckets;
use crate::log::{log, Level};
use crate::stats::Stats;

/// Slabs of one class between two padding checks.
pub const WINDOW_SLABS: u64 = 16;
/// Bucket misses between two thrash checks.
pub const WINDOW_MISSES: u64 = 8;
/// Tasks per bucket miss below which buckets are too fine.
pub const TASKS_PER_MISS: u64 = 4;

/// What the adapter has seen since its last checks.
#[derive(Default)]
pub struct BucketAdapter {
    /// Rung → (slabs, elements used, elements of capacity) since its last check.
    classes: BTreeMap<u64, (u64, u64, u64)>,
    /// Bucket misses at the last thrash check (the bucket cache's running figure).
    misses_seen: u64,
    /// Tasks run since the last thrash check.
    tasks: u64,
}

/// One pooled slab as the adapter sees it.
#[derive(Clone, Copy, Debug)]
pub struct SlabUse {
    pub used: u64,
    pub capacity: u64,
}

impl BucketAdapter {
    /// Takes in one batch: its pooled slabs, its task count, and the bucket cache's bucket
    /// misses so far (`BucketCache::extra_buckets`). Returns the changed ladder, if a rule
    /// fired (counted in `stats`).
    pub fn observe(
        &mut self,
        buckets: &Buckets,
        slabs: &[SlabUse],
        tasks: u64,
        misses: u64,
        stats: &mut Stats,
    ) -> Option<Buckets> {
        let mut next: Option<Buckets> = None;
        for slab in slabs {
            let rung = buckets.base_class(slab.used);
            // Only slabs of an unrefined class of their own rung (not cut by the chunk).
            if buckets.is_refined(rung) || slab.capacity != rung {
                continue;
            }
            let entry = self.classes.entry(rung).or_default();
            entry.0 += 1;
            entry.1 += slab.used;
            entry.2 += slab.capacity;
            if entry.0 < WINDOW_SLABS {
                continue;
            }
            let (_, used, capacity) = std::mem::take(entry);
            if 3 * (capacity - used) > capacity {
                let ladder = next.get_or_insert_with(|| buckets.clone());
                if ladder.refine(rung) {
                    stats.bucket_refinements += 1;
                    self.classes.remove(&rung);
                    log!(
                        Level::Info,
                        "adaptive buckets: slabs of class {rung} left {} of {capacity} elements unused; refining it",
                        capacity - used
                    );
                }
            }
        }
        self.tasks += tasks;
        // The cache may have been cleared (after a GPU error): count from there.
        self.misses_seen = self.misses_seen.min(misses);
        let new_misses = misses - self.misses_seen;
        if new_misses >= WINDOW_MISSES {
            let thrash = self.tasks < TASKS_PER_MISS * new_misses;
            if thrash {
                let ladder = next.get_or_insert_with(|| buckets.clone());
                if ladder.coarsen() {
                    stats.bucket_coarsenings += 1;
                    log!(
                        Level::Info,
                        "adaptive buckets: {new_misses} pipelines compiled for new buckets served {} tasks; coarsening to step {}",
                        self.tasks,
                        ladder.coarsening()
                    );
                }
            }
            self.misses_seen = misses;
            self.tasks = 0;
        }
        next.filter(|n| n != buckets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slab(used: u64, capacity: u64) -> SlabUse {
        SlabUse { used, capacity }
    }

    #[test]
    fn padding_refines_after_a_window_of_wasteful_slabs() {
        let mut adapter = BucketAdapter::default();
        let mut stats = Stats::default();
        let b = Buckets::default();
        let wasteful = vec![slab(17_000, 32_768); WINDOW_SLABS as usize - 1];
        assert!(adapter.observe(&b, &wasteful, 15, 0, &mut stats).is_none());
        let next = adapter
            .observe(&b, &[slab(17_000, 32_768)], 1, 0, &mut stats)
            .unwrap();
        assert!(next.is_refined(32_768));
        assert_eq!(next.class(17_000), 20_480);
        assert_eq!(stats.bucket_refinements, 1);
    }

    #[test]
    fn well_filled_slabs_leave_the_ladder_alone() {
        let mut adapter = BucketAdapter::default();
        let mut stats = Stats::default();
        let b = Buckets::default();
        // A third unused exactly is not more than a third.
        let slabs = vec![slab(24_576, 32_768); 4 * WINDOW_SLABS as usize];
        assert!(adapter.observe(&b, &slabs, 64, 0, &mut stats).is_none());
        assert_eq!(stats.bucket_refinements, 0);
    }

    #[test]
    fn thrash_coarsens_and_busy_pipelines_do_not() {
        let mut adapter = BucketAdapter::default();
        let mut stats = Stats::default();
        let b = Buckets::default();
        // 8 misses serving 31 tasks: thrash.
        assert!(adapter.observe(&b, &[], 31, 7, &mut stats).is_none());
        let next = adapter.observe(&b, &[], 0, 8, &mut stats).unwrap();
        assert_eq!(next.coarsening(), 1);
        // 8 more misses serving 32 tasks: fine.
        assert!(adapter.observe(&next, &[], 32, 16, &mut stats).is_none());
        assert_eq!(stats.bucket_coarsenings, 1);
    }
}
