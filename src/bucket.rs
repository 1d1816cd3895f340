//! Size buckets and the per-bucket pipeline cache (seed items 1 and 2).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::kernel::{Kernel, KernelId};

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
