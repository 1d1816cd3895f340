//! How an executor is set up: the safe counterpart of `gpu_executor_options_t`.

/// Which graphics API to run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// Any backend compiled in; `WGPU_BACKEND` narrows it when set.
    Any,
    Vulkan,
    Metal,
    Dx12,
    Gl,
}

/// Which adapter to prefer when several match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerChoice {
    /// `WGPU_POWER_PREF` when set, else wgpu's default.
    Default,
    LowPower,
    HighPerformance,
}

/// How batches are run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// No caches: every task gets a freshly compiled pipeline, fresh buffers and bind group.
    /// The "before" of the design, kept so both can be measured in one binary.
    Baseline,
    /// Size-bucketed pipeline cache, pooled slabs, exact-size cache (the design).
    Bucketed,
}

/// Where staging memory (the host side of uploads and readbacks) comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StagingChoice {
    /// Host memory the executor maps once where the backend allows it (Vulkan), else
    /// wgpu's mapped buffers.
    Auto,
    /// wgpu's mapped buffers, mapped and unmapped around every batch (the fallback).
    Mapped,
    /// Host memory or nothing: creating the executor fails where it is not available.
    Host,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub backend: BackendChoice,
    pub power: PowerChoice,
    pub strategy: Strategy,
    /// Keep persistent buffers per exact length for single-task batches.
    pub exact_size_cache: bool,
    /// Most lengths the exact-size cache holds; the least recently used goes first.
    pub exact_size_cache_capacity: usize,
    /// Upper bound on elements per slab (one binding); 0 = what the device allows.
    /// Lowering it makes small arrays exercise the chunking path.
    pub max_chunk_elements: u64,
    /// Threads for host copies of large batches; 0 = up to 16, by available parallelism.
    pub copy_threads: usize,
    /// Most workgroups per dispatch dimension before the grid spills into y; 0 = the
    /// device's limit. Lowering it makes small slabs exercise the 2-D dispatch path.
    pub max_workgroups_per_dimension: u32,
    /// Longest a blocking submit (or an unbounded ticket wait) waits for the GPU before it
    /// gives up with `TimedOut`; `None`: no limit.
    pub wait_timeout: Option<std::time::Duration>,
    /// An adapter by its index in [`crate::device::adapters`] (within `backend`); `None`:
    /// chosen by backend and power preference.
    pub adapter_index: Option<usize>,
    /// Most bytes of GPU memory kept for reuse in idle slabs, the exact-size cache and idle
    /// block tables together; past it the least recently used go first. 0: keep nothing;
    /// `u64::MAX`: no cap.
    pub max_idle_bytes: u64,
    /// Most bytes of slab memory asynchronous batches (`Executor::launch_async`) may hold
    /// in flight; one more is refused with `OverBudget` (unless none is in flight). 0: no
    /// budget.
    pub max_in_flight_bytes: u64,
    /// Where slabs' staging memory comes from.
    pub staging: StagingChoice,
    /// Directory of the persistent pipeline cache (see `pipeline_cache`); `None`: off.
    pub pipeline_cache_dir: Option<std::path::PathBuf>,
    /// Test hook: `false` opens the device as if the adapter had no pipeline caches
    /// (`Features::PIPELINE_CACHE`), so the "unsupported" path runs on Vulkan too.
    pub pipeline_cache_feature: bool,
    /// The smallest size bucket (elements): a power of two from 64 to the chunk limit.
    pub min_bucket_elements: u64,
    /// Each bucket is this many times the one below: 2 to 16.
    pub bucket_growth: u32,
    /// Adapt the buckets to the workload (see `adapt.rs`).
    pub adaptive_buckets: bool,
}

/// `Config::max_idle_bytes` by default: a fixed figure, since wgpu does not say how much
/// memory an adapter has. It holds the steady state of the largest benchmark batch (one
/// task of 16M floats: a 320 MiB slab) and still bounds a burst's leftovers.
pub const DEFAULT_MAX_IDLE_BYTES: u64 = 512 << 20;

impl Default for Config {
    fn default() -> Self {
        Self {
            backend: BackendChoice::Any,
            power: PowerChoice::Default,
            strategy: Strategy::Bucketed,
            exact_size_cache: true,
            exact_size_cache_capacity: 16,
            max_chunk_elements: 0,
            copy_threads: 0,
            max_workgroups_per_dimension: 0,
            wait_timeout: None,
            adapter_index: None,
            max_idle_bytes: DEFAULT_MAX_IDLE_BYTES,
            max_in_flight_bytes: 0,
            staging: StagingChoice::Auto,
            pipeline_cache_dir: None,
            pipeline_cache_feature: true,
            min_bucket_elements: crate::bucket::DEFAULT_MIN_BUCKET,
            bucket_growth: crate::bucket::DEFAULT_BUCKET_GROWTH,
            adaptive_buckets: false,
        }
    }
}
