//! Size buckets and the per-bucket pipeline cache (seed items 1 and 2).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::kernel::{Kernel, KernelId};

/// The seed's smallest bucket: every task of up to this many elements shares it.
pub const DEFAULT_MIN_BUCKET: u64 = 16_384;
/// The seed's growth factor: each bucket is twice the one below.
pub const DEFAULT_BUCKET_GROWTH: u32 = 2;
/// Smallest minimum bucket accepted from the options.
pub const MIN_BUCKET_FLOOR: u64 = 64;
/// Largest minimum bucket accepted from the options: the largest chunk ever planned.
pub const MAX_MIN_BUCKET: u64 = 1 << 30;
/// Largest growth factor accepted from the options.
pub const MAX_BUCKET_GROWTH: u32 = 16;
/// Most coarsening steps: pipeline buckets on every 2nd, 4th or 8th rung of the ladder.
pub const MAX_COARSENING: u32 = 3;
/// A refined slab class range is cut into this many equal steps.
pub const REFINE_STEPS: u64 = 4;

/// The bucket ladder: `min`, `min·g`, `min·g²`, … (`g` the growth factor).
///
/// It gives two things. A task's *bucket* picks its pipeline and which tasks may share a
/// slab: the smallest rung at least its length, on the ladder that uses every
/// `2^coarsening`-th rung. A slab's *class* (the pool's size class, elements per array)
/// is the smallest rung at least the elements it uses, or, where that rung `r` was
/// refined, the smallest of `REFINE_STEPS` equal steps from the rung below (0 below `min`)
/// up to `r`. Neither changes what a task computes: only which pipeline (workgroup size)
/// runs it and how much memory its slab has. See `adapt.rs` for when the ladder changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buckets {
    min: u64,
    growth: u64,
    coarsening: u32,
    /// Rungs whose slab class range is cut into `REFINE_STEPS` steps.
    refined: BTreeSet<u64>,
}

impl Default for Buckets {
    /// The seed's ladder: 16,384, then powers of two.
    fn default() -> Self {
        Self {
            min: DEFAULT_MIN_BUCKET,
            growth: u64::from(DEFAULT_BUCKET_GROWTH),
            coarsening: 0,
            refined: BTreeSet::new(),
        }
    }
}

impl Buckets {
    /// The ladder from `min` by `growth`, checked: `min` a power of two from 64 to 2^30,
    /// `growth` an integer from 2 to 16. (A minimum above the chunk limit is allowed:
    /// slabs are capped at the chunk limit whatever their bucket, as with the defaults.)
    pub fn new(min: u64, growth: u32) -> Result<Self> {
        if !min.is_power_of_two() || !(MIN_BUCKET_FLOOR..=MAX_MIN_BUCKET).contains(&min) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "min_bucket_elements {min} must be a power of two from {MIN_BUCKET_FLOOR} to {MAX_MIN_BUCKET}"
                ),
            ));
        }
        if !(2..=MAX_BUCKET_GROWTH).contains(&growth) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("bucket_growth {growth} must be an integer from 2 to {MAX_BUCKET_GROWTH}"),
            ));
        }
        Ok(Self {
            min,
            growth: u64::from(growth),
            ..Self::default()
        })
    }

    /// The smallest rung of the ladder by `growth` that is at least `n` (`u64::MAX` past
    /// the last rung that fits).
    fn rung(&self, n: u64, growth: u64) -> u64 {
        let mut rung = self.min;
        while rung < n {
            match rung.checked_mul(growth) {
                Some(next) => rung = next,
                None => return u64::MAX,
            }
        }
        rung
    }

    /// The growth between pipeline buckets: `growth^(2^coarsening)`.
    fn pipeline_growth(&self) -> u64 {
        (0..self.coarsening).fold(self.growth, |g, _| g.saturating_mul(g))
    }

    /// The bucket of a task of `n` elements: which pipeline runs it.
    pub fn bucket(&self, n: u64) -> u64 {
        self.rung(n, self.pipeline_growth())
    }

    /// The rung of the (fine) ladder at least `n`: the unrefined slab class.
    pub fn base_class(&self, n: u64) -> u64 {
        self.rung(n, self.growth)
    }

    /// The size class of a slab that uses `used` elements (before the chunk cap).
    pub fn class(&self, used: u64) -> u64 {
        let rung = self.base_class(used);
        if !self.refined.contains(&rung) {
            return rung;
        }
        let below = self.below(rung);
        let step = (rung - below) / REFINE_STEPS;
        below + (used.saturating_sub(below)).div_ceil(step) * step
    }

    /// The rung below `rung` (0 below the minimum).
    fn below(&self, rung: u64) -> u64 {
        if rung <= self.min {
            0
        } else {
            rung / self.growth
        }
    }

    pub fn min(&self) -> u64 {
        self.min
    }

    pub fn growth(&self) -> u64 {
        self.growth
    }

    pub fn coarsening(&self) -> u32 {
        self.coarsening
    }

    pub fn is_refined(&self, rung: u64) -> bool {
        self.refined.contains(&rung)
    }

    /// Cuts the class range of `rung` into `REFINE_STEPS` steps; false when it already
    /// was (or cannot be: the last rung).
    pub fn refine(&mut self, rung: u64) -> bool {
        rung != u64::MAX && self.refined.insert(rung)
    }

    /// Puts pipeline buckets one step further apart; false at `MAX_COARSENING`.
    pub fn coarsen(&mut self) -> bool {
        if self.coarsening >= MAX_COARSENING {
            return false;
        }
        self.coarsening += 1;
        true
    }

    /// The refined rungs, ascending.
    pub fn refined(&self) -> impl Iterator<Item = u64> + '_ {
        self.refined.iter().copied()
    }
}

/// Lazily created pipelines, one per (kernel, bucket), shared by `Arc`. A hit never
/// compiles; [`crate::compiler`] fills it.
#[derive(Default)]
pub struct BucketCache {
    kernels: BTreeMap<(KernelId, u64), Arc<Kernel>>,
    /// Direct kernels (element-wise ops on resident buffers): one per op, any size.
    direct: BTreeMap<KernelId, Arc<Kernel>>,
}

impl BucketCache {
    /// The cached pipeline of `id` for `bucket`, if any. (Misses are compiled outside this
    /// cache's lock: see [`crate::compiler`].)
    pub fn get(&self, id: KernelId, bucket: u64) -> Option<Arc<Kernel>> {
        self.kernels.get(&(id, bucket)).cloned()
    }

    pub fn insert(&mut self, id: KernelId, bucket: u64, kernel: Arc<Kernel>) {
        self.kernels.insert((id, bucket), kernel);
    }

    /// The cached direct kernel of `id` (element-wise ops on resident buffers: one per op,
    /// any size), if any.
    pub fn get_direct(&self, id: KernelId) -> Option<Arc<Kernel>> {
        self.direct.get(&id).cloned()
    }

    pub fn insert_direct(&mut self, id: KernelId, kernel: Arc<Kernel>) {
        self.direct.insert(id, kernel);
    }

    /// Sizes of the buckets with at least one cached pipeline, ascending.
    pub fn bucket_sizes(&self) -> Vec<u64> {
        let mut sizes: Vec<u64> = self.kernels.keys().map(|&(_, b)| b).collect();
        sizes.sort_unstable();
        sizes.dedup();
        sizes
    }

    /// Number of buckets with at least one cached pipeline.
    pub fn len(&self) -> usize {
        self.bucket_sizes().len()
    }

    /// Cached pipelines beyond the first of each kernel: those that bucket granularity,
    /// not a new op, made the executor compile (the adaptation's thrash signal).
    pub fn extra_buckets(&self) -> u64 {
        let mut ids: Vec<KernelId> = self.kernels.keys().map(|&(id, _)| id).collect();
        ids.dedup();
        (self.kernels.len() - ids.len()) as u64
    }

    /// Number of cached pipelines (kernel and bucket pairs).
    pub fn pipelines(&self) -> usize {
        self.kernels.len() + self.direct.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kernels.is_empty() && self.direct.is_empty()
    }

    pub fn clear(&mut self) {
        self.kernels.clear();
        self.direct.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_the_seed() {
        let b = Buckets::default();
        for (n, want) in [
            (0, 16_384),
            (1, 16_384),
            (16_383, 16_384),
            (16_384, 16_384),
            (16_385, 32_768),
            (100_000, 131_072),
            (1 << 20, 1 << 20),
            ((1 << 20) + 1, 1 << 21),
        ] {
            assert_eq!(b.bucket(n), want, "bucket of {n}");
            assert_eq!(b.class(n), want, "class of {n}");
        }
    }

    #[test]
    fn min_and_growth_set_the_ladder() {
        let b = Buckets::new(1024, 4).unwrap();
        assert_eq!(b.bucket(1), 1024);
        assert_eq!(b.bucket(1025), 4096);
        assert_eq!(b.bucket(4097), 16_384);
        assert_eq!(b.bucket(100_000), 262_144);
        let b = Buckets::new(64, 3).unwrap();
        assert_eq!(b.bucket(65), 192);
        assert_eq!(b.bucket(577), 1728);
    }

    #[test]
    fn bad_options_are_refused() {
        for (min, growth) in [
            (0, 2),
            (63, 2),
            (96, 2),
            (32, 2),
            (1 << 31, 2),
            (64, 0),
            (64, 1),
            (64, 17),
        ] {
            let e = Buckets::new(min, growth).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{min} {growth}");
        }
        assert!(Buckets::new(1 << 30, 16).is_ok());
    }

    #[test]
    fn refined_classes_step_by_quarters_and_coarse_buckets_skip_rungs() {
        let mut b = Buckets::default();
        assert!(b.refine(32_768));
        assert!(!b.refine(32_768));
        assert_eq!(b.class(16_388), 20_480);
        assert_eq!(b.class(20_480), 20_480);
        assert_eq!(b.class(20_484), 24_576);
        assert_eq!(b.class(32_768), 32_768);
        assert_eq!(b.class(40_000), 65_536, "other rungs stay");
        assert!(b.refine(16_384));
        assert_eq!(b.class(100), 4096);
        assert_eq!(b.bucket(16_388), 32_768, "refinement leaves buckets alone");
        assert!(b.coarsen());
        assert_eq!(b.bucket(16_385), 65_536);
        assert_eq!(b.bucket(70_000), 262_144);
        assert!(b.coarsen() && b.coarsen());
        assert!(!b.coarsen(), "three steps at most");
        assert_eq!(b.bucket(16_385), 16_384 << 8);
        assert_eq!(b.class(40_000), 65_536, "coarsening leaves classes alone");
    }
}
