//! Size buckets and the per-bucket pipeline cache (seed items 1 and 2).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::kernel::{Kernel, KernelFactory};
use crate::log::{log, Level};
use crate::stats::Stats;

/// Smallest bucket: every task of up to this many elements shares it.
pub const MIN_BUCKET: u64 = 16_384;

/// The seed's bucket function: 16,384 for `n <= 16384`, else the next power of two.
pub fn size_bucket(n: u64) -> u64 {
    if n <= MIN_BUCKET {
        MIN_BUCKET
    } else {
        n.checked_next_power_of_two().unwrap_or(1 << 63)
    }
}

/// Lazily created pipelines, one per bucket, shared by `Arc`. A hit never compiles.
#[derive(Default)]
pub struct BucketCache {
    kernels: BTreeMap<u64, Arc<Kernel>>,
}

impl BucketCache {
    /// The bucket's kernel, created on first use.
    pub fn get_or_create(
        &mut self,
        bucket: u64,
        factory: &KernelFactory,
        stats: &mut Stats,
    ) -> Arc<Kernel> {
        if let Some(kernel) = self.kernels.get(&bucket) {
            stats.bucket_cache_hits += 1;
            return Arc::clone(kernel);
        }
        stats.bucket_cache_misses += 1;
        log!(Level::Debug, "compiling the pipeline of bucket {bucket}");
        let kernel = Arc::new(factory.create(bucket, stats));
        self.kernels.insert(bucket, Arc::clone(&kernel));
        kernel
    }

    /// Cached bucket sizes, ascending.
    pub fn bucket_sizes(&self) -> Vec<u64> {
        self.kernels.keys().copied().collect()
    }

    pub fn len(&self) -> usize {
        self.kernels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kernels.is_empty()
    }

    pub fn clear(&mut self) {
        self.kernels.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_the_seed() {
        assert_eq!(size_bucket(0), 16_384);
        assert_eq!(size_bucket(1), 16_384);
        assert_eq!(size_bucket(16_383), 16_384);
        assert_eq!(size_bucket(16_384), 16_384);
        assert_eq!(size_bucket(16_385), 32_768);
        assert_eq!(size_bucket(100_000), 131_072);
        assert_eq!(size_bucket(1 << 20), 1 << 20);
        assert_eq!(size_bucket((1 << 20) + 1), 1 << 21);
    }
}
