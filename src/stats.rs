//! Counters the executor keeps; the C API copies them out as `gpu_executor_stats_t`.

/// Monotonic counters since the executor was created, plus current cache sizes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub batches: u64,
    pub tasks: u64,
    pub elements: u64,
    pub pipelines_created: u64,
    pub bucket_cache_hits: u64,
    pub bucket_cache_misses: u64,
    pub cached_buckets: u64,
    pub exact_cache_entries: u64,
    pub exact_cache_hits: u64,
    pub exact_cache_misses: u64,
    pub exact_cache_evictions: u64,
    pub pool_hits: u64,
    pub pool_misses: u64,
    pub buffers_created: u64,
    pub bind_groups_created: u64,
    pub bytes_uploaded: u64,
    pub bytes_read_back: u64,
    pub submits: u64,
    pub dispatches: u64,
    /// Wall time spent, summed over batches, in the phases of a batch: copying inputs into
    /// staging, encoding and submitting, waiting for the GPU, copying results out.
    pub upload_ns: u64,
    pub submit_ns: u64,
    pub wait_ns: u64,
    pub download_ns: u64,
    /// Resident buffers: created, and how their memory was found (freed memory of the
    /// same size class, or new).
    pub resident_buffers_created: u64,
    pub resident_pool_hits: u64,
    pub resident_pool_misses: u64,
    /// Current figures, filled in when the counters are read: live buffers, the bytes they
    /// hold, and the GPU memory reserved for resident buffers.
    pub resident_buffers: u64,
    pub resident_bytes: u64,
    pub resident_reserved_bytes: u64,
    /// Dispatches that ran element-wise tasks straight on resident buffers.
    pub direct_dispatches: u64,
    /// Idle memory (see `idle.rs`): idle slabs evicted from the pool, idle block tables
    /// evicted, and the bytes every eviction (the exact-size cache's included) freed.
    pub pool_evictions: u64,
    pub table_evictions: u64,
    pub evicted_bytes: u64,
    /// Asynchronous batches refused for the in-flight budget.
    pub backpressure_refusals: u64,
    /// Current figures, filled in when the counters are read: bytes held by idle slabs in
    /// the pool, by the exact-size cache, by idle block tables, and by batches in flight.
    pub pool_bytes: u64,
    pub exact_cache_bytes: u64,
    pub table_bytes: u64,
    pub in_flight_bytes: u64,
    /// Lookups that waited for another thread's compilation of the same pipeline (now).
    pub compile_waits: u64,
    /// Asynchronous warm-ups finished.
    pub async_warmups_completed: u64,
    /// Asynchronous warm-ups queued and not finished (now).
    pub pending_warmups: u64,
    /// The persistent pipeline cache's state (now).
    pub pipeline_cache: crate::pipeline_cache::CacheState,
    /// Bytes of pipeline data loaded from the cache file at creation.
    pub pipeline_cache_loaded_bytes: u64,
    /// Cache files written.
    pub pipeline_cache_saves: u64,
    /// Size of the last cache file written.
    pub pipeline_cache_saved_bytes: u64,
    /// Adaptive buckets (see `adapt.rs`): bytes of pooled slabs' GPU arrays that no task
    /// element filled ((class − used) × 4 × arrays, summed over slabs taken), slab classes
    /// refined, and steps the pipeline buckets coarsened.
    pub padding_bytes: u64,
    pub bucket_refinements: u64,
    pub bucket_coarsenings: u64,
    /// Registered host memory (see `registered.rs`), current figures filled in when the
    /// counters are read: ranges and caller bytes registered now, and operands found in
    /// registered memory so far (moved by the GPU in place, no staging copy).
    pub registered_host_regions: u64,
    pub registered_host_bytes: u64,
    pub registered_host_operands: u64,
}

impl Stats {
    /// Adds the counters of `delta` (one call's work) to these; the cache sizes, which
    /// are filled in when the counters are read, are left alone.
    pub fn absorb(&mut self, delta: &Stats) {
        let Stats {
            batches,
            tasks,
            elements,
            pipelines_created,
            bucket_cache_hits,
            bucket_cache_misses,
            cached_buckets: _,
            exact_cache_entries: _,
            exact_cache_hits,
            exact_cache_misses,
            exact_cache_evictions,
            pool_hits,
            pool_misses,
            buffers_created,
            bind_groups_created,
            bytes_uploaded,
            bytes_read_back,
            submits,
            dispatches,
            upload_ns,
            submit_ns,
            wait_ns,
            download_ns,
            resident_buffers_created,
            resident_pool_hits,
            resident_pool_misses,
            resident_buffers: _,
            resident_bytes: _,
            resident_reserved_bytes: _,
            direct_dispatches,
            pool_evictions,
            table_evictions,
            evicted_bytes,
            backpressure_refusals,
            pool_bytes: _,
            exact_cache_bytes: _,
            table_bytes: _,
            in_flight_bytes: _,
            compile_waits: _,
            async_warmups_completed,
            pending_warmups: _,
            pipeline_cache: _,
            pipeline_cache_loaded_bytes: _,
            pipeline_cache_saves: _,
            pipeline_cache_saved_bytes: _,
            padding_bytes,
            bucket_refinements,
            bucket_coarsenings,
            registered_host_regions: _,
            registered_host_bytes: _,
            registered_host_operands: _,
        } = delta;
        self.async_warmups_completed += async_warmups_completed;
        self.batches += batches;
        self.tasks += tasks;
        self.elements += elements;
        self.pipelines_created += pipelines_created;
        self.bucket_cache_hits += bucket_cache_hits;
        self.bucket_cache_misses += bucket_cache_misses;
        self.exact_cache_hits += exact_cache_hits;
        self.exact_cache_misses += exact_cache_misses;
        self.exact_cache_evictions += exact_cache_evictions;
        self.pool_hits += pool_hits;
        self.pool_misses += pool_misses;
        self.buffers_created += buffers_created;
        self.bind_groups_created += bind_groups_created;
        self.bytes_uploaded += bytes_uploaded;
        self.bytes_read_back += bytes_read_back;
        self.submits += submits;
        self.dispatches += dispatches;
        self.upload_ns += upload_ns;
        self.submit_ns += submit_ns;
        self.wait_ns += wait_ns;
        self.download_ns += download_ns;
        self.resident_buffers_created += resident_buffers_created;
        self.resident_pool_hits += resident_pool_hits;
        self.resident_pool_misses += resident_pool_misses;
        self.direct_dispatches += direct_dispatches;
        self.pool_evictions += pool_evictions;
        self.table_evictions += table_evictions;
        self.evicted_bytes += evicted_bytes;
        self.backpressure_refusals += backpressure_refusals;
        self.padding_bytes += padding_bytes;
        self.bucket_refinements += bucket_refinements;
        self.bucket_coarsenings += bucket_coarsenings;
    }

    /// Bytes held in idle memory: the pool, the exact-size cache and idle tables.
    pub fn idle_bytes(&self) -> u64 {
        self.pool_bytes + self.exact_cache_bytes + self.table_bytes
    }

    /// Evictions of every kind.
    pub fn evictions(&self) -> u64 {
        self.pool_evictions + self.exact_cache_evictions + self.table_evictions
    }

    /// Share of slab requests the buffer pool served without allocating, in [0, 1].
    pub fn pool_hit_rate(&self) -> f64 {
        let total = self.pool_hits + self.pool_misses;
        if total == 0 {
            0.0
        } else {
            self.pool_hits as f64 / total as f64
        }
    }
}
