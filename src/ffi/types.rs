//! `#[repr(C)]` types of the public API. Enum-like fields are plain `uint32_t` so that any
//! value a C caller writes is defined behaviour; the library validates them.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void};

/// Opaque executor handle. Create with `gpu_executor_create`, free with
/// `gpu_executor_destroy`. Safe to share between threads: calls on one handle from several
/// threads run concurrently (internal locks are held only briefly, never across host copies
/// or GPU waits).
pub struct gpu_executor_t {
    pub(crate) executor: crate::Executor,
    /// Outstanding asynchronous batches and the output ranges of every batch in flight.
    pub(crate) flights: std::sync::Mutex<super::tickets::Flights>,
    /// Set when a panic was caught in a call on this handle: every later call but
    /// `gpu_executor_destroy` returns `GPU_EXECUTOR_POISONED`.
    pub(crate) poisoned: std::sync::atomic::AtomicBool,
}

/// Opaque handle of a batch recorded by `gpu_executor_record`: validated and planned once,
/// submitted with `gpu_recording_submit` as often as wanted. Free with
/// `gpu_recording_destroy`. It belongs to the executor that recorded it.
pub struct gpu_recording_t {
    pub(crate) recording: crate::Recording,
}

/// Identifies one asynchronous batch until it completes. Unique within the process (a
/// ticket of another executor is `UNKNOWN_TICKET`, never someone else's batch). Never 0.
pub type gpu_ticket_t = u64;

/// Values of `gpu_task_t.op`: the element-wise ops, then the reductions. Zero is deliberately invalid so a zeroed
/// task is rejected. `a`, `b`, `c` are `inputs[0..3]`, `s0`, `s1` the scalars in
/// `params[0..2]` (the element type's 32-bit pattern in the low half; see `gpu_param_f32`),
/// every array `length` elements of the task's element type (`flags`, `gpu_dtype_t`).
/// docs/KERNELS.md gives each op's exact definition and accuracy per type.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum gpu_op_t {
    /// `out = a + b` (also `GPU_OP_ADD`). f32, i32, u32 (integers wrap).
    GPU_OP_VECTOR_ADD = 1,
    /// `out = a - b`. f32, i32, u32.
    GPU_OP_SUB = 2,
    /// `out = a * b`. f32, i32, u32.
    GPU_OP_MUL = 3,
    /// `out = a / b`. f32, i32, u32 (integer division by 0 gives `a`).
    GPU_OP_DIV = 4,
    /// `out = min(a, b)`. f32, i32, u32.
    GPU_OP_MIN = 5,
    /// `out = max(a, b)`. f32, i32, u32.
    GPU_OP_MAX = 6,
    /// `out = pow(a, b)`. f32.
    GPU_OP_POW = 7,
    /// `out = -a`. f32, i32.
    GPU_OP_NEG = 8,
    /// `out = |a|`. f32, i32.
    GPU_OP_ABS = 9,
    /// `out = sqrt(a)`. f32.
    GPU_OP_SQRT = 10,
    /// `out = exp(a)`. f32.
    GPU_OP_EXP = 11,
    /// `out = log(a)` (natural). f32.
    GPU_OP_LOG = 12,
    /// `out = sin(a)`. f32.
    GPU_OP_SIN = 13,
    /// `out = cos(a)`. f32.
    GPU_OP_COS = 14,
    /// `out = tanh(a)`. f32.
    GPU_OP_TANH = 15,
    /// `out = max(a, 0)`. f32, i32.
    GPU_OP_RELU = 16,
    /// `out = 1 / (1 + exp(-a))`. f32.
    GPU_OP_SIGMOID = 17,
    /// `out = a * s0`. f32, i32, u32.
    GPU_OP_SCALE = 18,
    /// `out = s0 * a + b`. f32, i32, u32.
    GPU_OP_AXPY = 19,
    /// `out = min(max(a, s0), s1)`. f32, i32, u32.
    GPU_OP_CLAMP = 20,
    /// `out = a * b + c` (fused where the GPU fuses). f32, i32, u32.
    GPU_OP_FMA = 21,
    /// `out = a`: copies between buffers, or between a buffer and the host. f32, i32, u32.
    GPU_OP_COPY = 22,
    /// Reductions: one `float` result in `output[0]` over `length` elements of `a` (and
    /// `b`); `float` only. Summed per block of 4,096 elements on the GPU (a tree in
    /// workgroup memory), the blocks combined in double precision on the host.
    /// `output[0] = sum(a)`; 0 over no elements.
    GPU_OP_SUM = 64,
    /// `output[0] = min(a)`; +infinity over no elements; NaN if any element is NaN.
    GPU_OP_REDUCE_MIN = 65,
    /// `output[0] = max(a)`; -infinity over no elements; NaN if any element is NaN.
    GPU_OP_REDUCE_MAX = 66,
    /// `output[0] = sum(a) / length`; NaN over no elements.
    GPU_OP_MEAN = 67,
    /// `output[0] = sum(a * b)`; 0 over no elements.
    GPU_OP_DOT = 68,
    /// `output[0] = sqrt(sum(a * a))`; 0 over no elements.
    GPU_OP_NORM2 = 69,
    /// Matrix multiply, `float` only: `output[M×N] = inputs[0][M×K] · inputs[1][K×N]`,
    /// row-major, with M, K, N in `params[0..3]` and `length` = M·N. With
    /// `GPU_TASK_TRANSPOSE_B` in `flags`, `inputs[1]` is stored N×K. Tiled in workgroup
    /// memory (128×128, 64×64 or 16×16 tiles by shape); a product is never split (every operand must fit one binding), and products
    /// of one shape in one batch share a dispatch.
    GPU_OP_MATMUL = 128,
}

/// `GPU_OP_VECTOR_ADD` under the name of its family.
pub const GPU_OP_ADD: u32 = 1;

/// Element types of a task, in the low bits of `gpu_task_t.flags` (`GPU_TASK_DTYPE_MASK`).
/// Zero is `float`, so a task written for 0.1 keeps its meaning.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum gpu_dtype_t {
    /// `float` (32-bit IEEE 754).
    GPU_DTYPE_F32 = 0,
    /// `int32_t`.
    GPU_DTYPE_I32 = 1,
    /// `uint32_t`.
    GPU_DTYPE_U32 = 2,
}

/// The bits of `gpu_task_t.flags` that hold its `gpu_dtype_t`; every other bit is reserved
/// and must be 0 (but `GPU_TASK_TRANSPOSE_B` for `GPU_OP_MATMUL`).
pub const GPU_TASK_DTYPE_MASK: u32 = 0xF;

/// Op codes of registered kernels (`gpu_executor_register_kernel`) are at least this; the
/// built-in ops are below it.
/// (A literal, so that cbindgen can write it; a test keeps it equal to the core's.)
pub const GPU_USER_OP_BASE: u32 = 0x1000_0000;

/// `GPU_OP_MATMUL` only: `inputs[1]` is B transposed (N×K, row-major).
pub const GPU_TASK_TRANSPOSE_B: u32 = 0x10;

/// A device-resident buffer: an array of one element type that lives on the GPU between
/// tasks and batches, owned by the executor that created it (`gpu_buffer_create`). A
/// handle is a number, not a pointer: a destroyed buffer's handle is never reused, so
/// passing one is an error (`GPU_EXECUTOR_INVALID_BUFFER`), never undefined behaviour; a
/// handle of another executor is `GPU_EXECUTOR_FOREIGN_BUFFER`. 0 is never a buffer.
pub type gpu_buffer_t = u64;

/// A run of a buffer's elements used as a task operand: from element `offset`, as many
/// elements as the operand has (the task's `length` for element-wise ops).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct gpu_region_t {
    /// The buffer, from `gpu_buffer_create` on the executor that runs the task.
    pub buffer: gpu_buffer_t,
    /// First element of the region.
    pub offset: u64,
}

/// In `gpu_task_t.flags`: `inputs[0]` points to a `gpu_region_t` (read during the call
/// only) instead of host memory. Shift by `k` for input `k`: `GPU_TASK_INPUT0_BUFFER << k`.
pub const GPU_TASK_INPUT0_BUFFER: u32 = 0x100;
/// In `gpu_task_t.flags`: `inputs[1]` points to a `gpu_region_t`.
pub const GPU_TASK_INPUT1_BUFFER: u32 = 0x200;
/// In `gpu_task_t.flags`: `inputs[2]` points to a `gpu_region_t`.
pub const GPU_TASK_INPUT2_BUFFER: u32 = 0x400;
/// In `gpu_task_t.flags`: `output` points to a `gpu_region_t` (read during the call only):
/// the result stays on the GPU. A reduction writing a buffer reads at most one slab's worth
/// of elements (`max_chunk_elements`, by default what the device allows in one binding),
/// and its blocks are combined on the GPU (in `float`, compensated) instead of on the host
/// (in `double`).
pub const GPU_TASK_OUTPUT_BUFFER: u32 = 0x1000;

/// Values of `gpu_executor_options_t.backend` and `gpu_adapter_info_t.backend`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum gpu_backend_t {
    /// Any compiled-in backend (`WGPU_BACKEND` narrows it when set); GL only as a fallback.
    GPU_BACKEND_ANY = 0,
    /// Vulkan.
    GPU_BACKEND_VULKAN = 1,
    /// Metal.
    GPU_BACKEND_METAL = 2,
    /// Direct3D 12.
    GPU_BACKEND_DX12 = 3,
    /// OpenGL (ES).
    GPU_BACKEND_GL = 4,
    /// Only in `gpu_adapter_info_t`: a backend this header does not name.
    GPU_BACKEND_OTHER = 255,
}

/// Values of `gpu_executor_options_t.power_preference`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum gpu_power_preference_t {
    /// `WGPU_POWER_PREF` when set, else wgpu's default.
    GPU_POWER_DEFAULT = 0,
    /// Prefer a low-power adapter (an integrated GPU).
    GPU_POWER_LOW = 1,
    /// Prefer a high-performance adapter (a discrete GPU).
    GPU_POWER_HIGH_PERFORMANCE = 2,
}

/// Values of `gpu_executor_options_t.strategy`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum gpu_strategy_t {
    /// No caches: pipeline, layout, buffers and bind group created per task (for comparison).
    GPU_STRATEGY_BASELINE = 0,
    /// Size-bucketed pipeline cache, buffer pool and exact-size cache (the default).
    GPU_STRATEGY_BUCKETED = 1,
}

/// Values of `gpu_adapter_info_t.device_type`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum gpu_device_type_t {
    /// None of the others, or unknown.
    GPU_DEVICE_OTHER = 0,
    /// A GPU sharing the host's memory.
    GPU_DEVICE_INTEGRATED = 1,
    /// A GPU with memory of its own.
    GPU_DEVICE_DISCRETE = 2,
    /// A virtual GPU, as in a virtual machine.
    GPU_DEVICE_VIRTUAL = 3,
    /// A software rasterizer such as Mesa's lavapipe.
    GPU_DEVICE_CPU = 4,
}

/// Executor options. Always start from `gpu_executor_options_default()`, which sets
/// `struct_size`; fields are only ever appended, and `struct_size` tells the library which
/// version of the struct the caller was compiled against.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct gpu_executor_options_t {
    /// `sizeof(gpu_executor_options_t)`.
    pub struct_size: u32,
    /// A `gpu_backend_t` value.
    pub backend: u32,
    /// A `gpu_power_preference_t` value.
    pub power_preference: u32,
    /// A `gpu_strategy_t` value; default `GPU_STRATEGY_BUCKETED`.
    pub strategy: u32,
    /// Nonzero: single-task batches keep persistent buffers per exact length (default 1).
    pub exact_size_cache: u32,
    /// Most lengths the exact-size cache keeps; the least recently used is evicted (default 16).
    pub exact_size_cache_capacity: u32,
    /// Most elements per slab (per GPU binding); longer tasks are split. 0 (default) = what
    /// the device allows; otherwise at least 64, rounded down to a power of two.
    pub max_chunk_elements: u64,
    /// Threads that copy a batch's data to and from staging memory; 0 (default) = up to 16,
    /// by the machine's available parallelism; 1 = the calling thread only. Each executor
    /// starts its own threads at creation and keeps them until it is destroyed.
    pub copy_threads: u32,
    /// Longest, in nanoseconds, that `gpu_executor_submit_batch` and
    /// `gpu_executor_wait(..., UINT64_MAX)` wait for the GPU before returning
    /// `GPU_EXECUTOR_TIMED_OUT`; 0 (default) = no limit. The last field added: a caller
    /// compiled against the earlier, shorter struct (without it) still works, with no limit.
    pub wait_timeout_ns: u64,
    /// The adapter to run on, by its index in the list `gpu_executor_enumerate_adapters`
    /// gives for the same `backend`; `GPU_ADAPTER_DEFAULT` (the default) chooses by
    /// backend, power preference and `WGPU_ADAPTER_NAME`. An index past the list's end is
    /// `GPU_EXECUTOR_NO_ADAPTER`. Appended after `wait_timeout_ns`; the earlier, shorter
    /// structs are still accepted.
    pub adapter_index: u32,
    /// Most bytes of GPU memory kept for reuse while no batch uses it: idle slabs of the
    /// buffer pool, the exact-size cache's entries and idle block tables, together. Past
    /// it the least recently returned are freed (counted in the stats' `pool_evictions`,
    /// `exact_cache_evictions`, `table_evictions`). Default 512 MiB (536870912), a fixed
    /// figure since wgpu does not report an adapter's memory; 0 keeps nothing (every batch
    /// allocates afresh); `UINT64_MAX`: no cap. Memory of batches in flight and of resident
    /// buffers is not counted (see `max_in_flight_bytes`, `gpu_executor_trim`). Appended
    /// after `adapter_index`, with `max_in_flight_bytes`; the earlier, shorter structs are
    /// still accepted and get the defaults.
    pub max_idle_bytes: u64,
    /// Most bytes of slab memory that batches submitted with
    /// `gpu_executor_submit_batch_async` may hold while in flight (from submission until
    /// their ticket is waited for, polled to completion or dropped). A batch that would
    /// pass it is refused with `GPU_EXECUTOR_OVER_BUDGET`, nothing submitted, unless no
    /// asynchronous batch is in flight (a lone batch always runs). It does not wait: a
    /// batch's memory comes back only when its ticket is spent, which may be up to the
    /// calling thread itself. Blocking batches are not limited (each finishes within its
    /// call) but count in the stats' `in_flight_bytes`. 0 (default): no budget.
    pub max_in_flight_bytes: u64,
    /// A `gpu_staging_t` value: where the host side of uploads and readbacks lives.
    /// `GPU_STAGING_AUTO` (default): host memory the library maps once, where the backend
    /// allows it (Vulkan), else wgpu's mapped buffers. The environment variable
    /// `GPU_EXECUTOR_STAGING` (`mapped`, `host`) overrides `GPU_STAGING_AUTO`. Appended
    /// after `max_in_flight_bytes`; the earlier, shorter structs are still accepted and get
    /// the default.
    pub staging: u32,
    /// Directory of the persistent pipeline cache: a NUL-terminated path, read (and copied)
    /// during `gpu_executor_create` only; created if missing. NULL (default) or "": off.
    /// Where the backend has pipeline caches (Vulkan), the executor starts from the file
    /// there made for its adapter, driver and library version, compiles every pipeline
    /// through it, and writes it back shortly after new compilations and on destroy
    /// (atomically: processes may share the directory). A file that is truncated, corrupt
    /// or another adapter's, driver's or version's is ignored with a warning. Elsewhere
    /// the option is accepted and the stats' `pipeline_cache_state` is
    /// `GPU_PIPELINE_CACHE_UNSUPPORTED`. Appended after `staging`; the earlier,
    /// shorter structs are still accepted (the cache is then off).
    pub pipeline_cache_dir: *const c_char,
    /// The smallest size bucket, in elements: every task of up to this many elements
    /// shares its pipeline and slab class. A power of two from 64 to 2^30; default 16384
    /// (the seed's). Anything else: `GPU_EXECUTOR_INVALID_ARGUMENT` from
    /// `gpu_executor_create`, before any device is opened. (Above the chunk limit is
    /// allowed: slabs are capped at `max_chunk_elements` whatever their bucket.)
    /// (This and the fields below were appended with adaptive buckets; the earlier,
    /// shorter structs are still accepted and get the defaults.)
    pub min_bucket_elements: u64,
    /// Each size bucket is this many times the one below: an integer from 2 to 16; default
    /// 2 (the seed's powers of two). Anything else: `GPU_EXECUTOR_INVALID_ARGUMENT`.
    pub bucket_growth: u32,
    /// Nonzero: the executor adapts its buckets to the workload between batches (default
    /// 0: off). Slab classes where slabs leave more than a third of their memory unused
    /// are cut into finer steps; pipeline buckets move further apart when compilations for
    /// new buckets serve few tasks. Results never change; the stats' `padding_bytes`,
    /// `bucket_refinements` and `bucket_coarsenings` tell what it did (docs/BUCKETS.md).
    pub adaptive_buckets: u32,
}

/// Values of `gpu_executor_options_t.staging`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum gpu_staging_t {
    /// Host memory mapped once where the backend allows it, else wgpu's mapped buffers.
    GPU_STAGING_AUTO = 0,
    /// wgpu's mapped buffers, mapped and unmapped around every batch (the fallback).
    GPU_STAGING_MAPPED = 1,
    /// Host memory mapped once, or `gpu_executor_create` fails with
    /// `GPU_EXECUTOR_DEVICE_REQUEST_FAILED` where the backend does not allow it.
    GPU_STAGING_HOST = 2,
}

/// Values of `gpu_executor_stats_t.pipeline_cache_state`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum gpu_pipeline_cache_state_t {
    /// No `pipeline_cache_dir` in the options.
    GPU_PIPELINE_CACHE_OFF = 0,
    /// A directory was given, but this backend or device has no pipeline caches.
    GPU_PIPELINE_CACHE_UNSUPPORTED = 1,
    /// No usable file for this adapter, driver and version yet (or it could not be read):
    /// started empty; the file is written after the first compilations.
    GPU_PIPELINE_CACHE_EMPTY = 2,
    /// Started from the file (`pipeline_cache_loaded_bytes` of pipeline data).
    GPU_PIPELINE_CACHE_LOADED = 3,
    /// A file was there but failed a check (truncated, corrupt, made for another adapter,
    /// driver or library version): ignored with a warning, started empty; the next save
    /// replaces it.
    GPU_PIPELINE_CACHE_REJECTED = 4,
}

/// `gpu_executor_options_t.adapter_index`: no particular adapter.
pub const GPU_ADAPTER_DEFAULT: u32 = 0xFFFF_FFFF;

/// One task of a batch. Inputs the op does not read must be NULL, and params it does not
/// read 0, so that later ops can give them meaning without breaking the ABI.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct gpu_task_t {
    /// A `gpu_op_t` value.
    pub op: u32,
    /// The element type, a `gpu_dtype_t` (0: `float`), in the bits of
    /// `GPU_TASK_DTYPE_MASK`; `GPU_TASK_TRANSPOSE_B` for a matmul; `GPU_TASK_INPUTk_BUFFER`
    /// and `GPU_TASK_OUTPUT_BUFFER` for operands in buffers; every other bit is reserved
    /// and must be 0.
    pub flags: u32,
    /// Input arrays: the op reads the first 1 to 3 (`length` elements of the element type
    /// each, 4-byte aligned); the rest must be NULL. Read during the call only; may alias
    /// each other. With `GPU_TASK_INPUTk_BUFFER` set, `inputs[k]` points to a
    /// `gpu_region_t` instead.
    pub inputs: [*const c_void; 4],
    /// Output array (`length` elements of the element type; one for a reduction). Written
    /// only when the batch succeeds. Must not overlap any input or any other task's output.
    /// With `GPU_TASK_OUTPUT_BUFFER` set, it points to a `gpu_region_t` instead: a task may
    /// read a region an earlier task of the batch writes (the batch runs them in order), but
    /// not one a later task writes (`GPU_EXECUTOR_DEPENDENCY`); two tasks may not write
    /// overlapping regions, and a task may write the very region it reads (in place) but
    /// not part of it (`GPU_EXECUTOR_ALIASING`).
    pub output: *mut c_void,
    /// Element count of each input (and of the output of an element-wise op); M·N for a
    /// matmul. 0 is a valid no-op (pointers may then be NULL; a reduction still writes).
    pub length: usize,
    /// The op's scalars (`GPU_OP_SCALE`, `GPU_OP_AXPY`: `s0`; `GPU_OP_CLAMP`: `s0`, `s1`),
    /// each the element type's 32-bit pattern in the low half (`gpu_param_f32(x)` for a
    /// float); `GPU_OP_MATMUL`: M, K, N. Params the op does not read must be 0.
    pub params: [u64; 4],
}

/// Counters since the executor was created. Set `struct_size = sizeof(gpu_executor_stats_t)`
/// before calling `gpu_executor_stats`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct gpu_executor_stats_t {
    /// `sizeof(gpu_executor_stats_t)`, set by the caller.
    pub struct_size: u32,
    /// A `gpu_strategy_t` value: the strategy this executor runs.
    pub strategy: u32,
    /// Successful batches.
    pub batches: u64,
    /// Tasks of the successful batches.
    pub tasks: u64,
    /// Elements of the successful batches' tasks.
    pub elements: u64,
    /// Compute pipelines compiled (bucket-cache misses, or one per task under BASELINE).
    pub pipelines_created: u64,
    /// Pipeline lookups served from the bucket cache.
    pub bucket_cache_hits: u64,
    /// Pipeline lookups that compiled a pipeline for a new bucket.
    pub bucket_cache_misses: u64,
    /// Buckets whose pipeline is cached now; sizes via `gpu_executor_bucket_sizes`.
    pub cached_buckets: u64,
    /// Exact-size cache (`va_cache`): lengths held now.
    pub exact_cache_entries: u64,
    /// Exact-size cache lookups that hit.
    pub exact_cache_hits: u64,
    /// Exact-size cache lookups that missed.
    pub exact_cache_misses: u64,
    /// Lengths evicted from the exact-size cache.
    pub exact_cache_evictions: u64,
    /// Buffer pool: slab requests served from idle slabs.
    pub pool_hits: u64,
    /// Buffer pool: slab requests that needed new buffers.
    pub pool_misses: u64,
    /// GPU buffers created.
    pub buffers_created: u64,
    /// Bind groups created.
    pub bind_groups_created: u64,
    /// Caller data moved to the GPU: 8 bytes per `float` element of `a + b`.
    pub bytes_uploaded: u64,
    /// Results moved back: 4 bytes per `float` element of `a + b`.
    pub bytes_read_back: u64,
    /// Queue submissions.
    pub submits: u64,
    /// Compute dispatches.
    pub dispatches: u64,
    /// `pool_hits / (pool_hits + pool_misses)`, 0 when there were none.
    pub pool_hit_rate: f64,
    /// Nanoseconds spent, summed over batches, copying inputs into staging memory.
    pub upload_ns: u64,
    /// Nanoseconds spent, summed over batches, encoding and submitting.
    pub submit_ns: u64,
    /// Nanoseconds spent, summed over batches, waiting for the GPU.
    pub wait_ns: u64,
    /// Nanoseconds spent, summed over batches, copying results out.
    pub download_ns: u64,
    /// Resident buffers alive now. (This and the fields below were appended with resident buffers; a caller
    /// compiled against the earlier, shorter struct gets the fields it knows.)
    pub resident_buffers: u64,
    /// Bytes the live resident buffers hold (their element counts × 4).
    pub resident_bytes: u64,
    /// GPU memory reserved for resident buffers: their size classes, in shared arenas
    /// (64 MiB or the device's binding limit) or buffers of their own, live or pooled
    /// (`gpu_executor_trim` gives the pooled memory back).
    pub resident_reserved_bytes: u64,
    /// Resident buffers created.
    pub resident_buffers_created: u64,
    /// Resident buffers whose memory was a destroyed buffer's, of the same size class.
    pub resident_pool_hits: u64,
    /// Resident buffers that needed memory never used before.
    pub resident_pool_misses: u64,
    /// Dispatches that ran element-wise tasks straight on resident buffers (no staging).
    pub direct_dispatches: u64,
    /// Bytes of GPU memory held now, for reuse, by idle slabs of the buffer pool, the
    /// exact-size cache and idle block tables together: at most the options'
    /// `max_idle_bytes`. (This and the fields below were appended with the idle-memory cap;
    /// a caller compiled against the earlier, shorter struct gets the fields it knows.)
    pub idle_bytes: u64,
    /// Of `idle_bytes`: idle slabs in the buffer pool.
    pub pool_bytes: u64,
    /// Of `idle_bytes`: slabs of the exact-size cache.
    pub exact_cache_bytes: u64,
    /// Of `idle_bytes`: idle block tables (direct dispatches, reductions into buffers).
    pub table_bytes: u64,
    /// Idle slabs the buffer pool freed to stay under `max_idle_bytes`.
    pub pool_evictions: u64,
    /// Idle block tables freed to stay under `max_idle_bytes`.
    pub table_evictions: u64,
    /// Bytes freed by every eviction (pool, exact-size cache, tables).
    pub evicted_bytes: u64,
    /// Slab bytes held now by batches in flight (launched, results not copied out yet,
    /// ticket not dropped), blocking and asynchronous.
    pub in_flight_bytes: u64,
    /// Asynchronous submits refused with `GPU_EXECUTOR_OVER_BUDGET`.
    pub backpressure_refusals: u64,
    /// 1 when slabs stage their data in host memory mapped once, 0 when in wgpu's mapped
    /// buffers (see `gpu_executor_options_t.staging`).
    pub host_staging: u64,
    /// A `gpu_pipeline_cache_state_t` value: the persistent pipeline cache's state. (This
    /// and the fields below were appended with the pipeline cache and background
    /// compilation; a caller compiled against the earlier, shorter struct gets the fields
    /// it knows.)
    pub pipeline_cache_state: u32,
    /// Asynchronous warm-ups (`gpu_executor_warmup_async`) queued and not finished now.
    pub pending_warmups: u32,
    /// Bytes of pipeline data the executor started from (0 unless
    /// `GPU_PIPELINE_CACHE_LOADED`).
    pub pipeline_cache_loaded_bytes: u64,
    /// Pipeline cache files written (an unchanged cache is not rewritten).
    pub pipeline_cache_saves: u64,
    /// Size in bytes of the last pipeline cache file written (0 before the first).
    pub pipeline_cache_saved_bytes: u64,
    /// Pipeline lookups that waited for another thread's compilation of the same pipeline
    /// (the pipeline is compiled once; lookups of other pipelines never wait for it).
    pub compile_waits: u64,
    /// Asynchronous warm-ups finished (successfully or not).
    pub async_warmups_completed: u64,
    /// Bytes of the pooled slabs' GPU arrays that no task element filled, summed over the
    /// slabs batches took: (slab class − elements used) × 4 × arrays (inputs and output).
    /// The cost of coarse size classes. (This and the fields below were appended with
    /// adaptive buckets; a caller compiled against the earlier, shorter struct gets the
    /// fields it knows.)
    pub padding_bytes: u64,
    /// Slab size classes that adaptive buckets cut into finer steps.
    pub bucket_refinements: u64,
    /// Steps adaptive buckets moved the pipeline buckets apart (at most 3).
    pub bucket_coarsenings: u64,
    /// Host memory ranges registered now (`gpu_executor_register_host_memory`). (This and
    /// the fields below were appended with host memory registration; a caller compiled
    /// against the earlier, shorter struct gets the fields it knows.)
    pub registered_host_regions: u64,
    /// Bytes of those ranges, as the caller gave them.
    pub registered_host_bytes: u64,
    /// Task operands (inputs and outputs) found wholly inside registered memory so far:
    /// the GPU read or wrote them in place, with no copy through staging.
    pub registered_host_operands: u64,
}

/// Which adapter an executor runs on. Set `struct_size` before calling
/// `gpu_executor_adapter_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct gpu_adapter_info_t {
    /// `sizeof(gpu_adapter_info_t)`, set by the caller.
    pub struct_size: u32,
    /// A `gpu_backend_t` value.
    pub backend: u32,
    /// A `gpu_device_type_t` value.
    pub device_type: u32,
    /// The adapter's vendor id as the backend reports it (the PCI vendor id where there is
    /// one).
    pub vendor_id: u32,
    /// The adapter's device id as the backend reports it (the PCI device id where there is
    /// one).
    pub device_id: u32,
    /// The adapter's name, NUL-terminated, truncated to fit.
    pub name: [c_char; 256],
    /// The driver's name, NUL-terminated, truncated to fit.
    pub driver: [c_char; 256],
    /// The driver's version or other details, NUL-terminated, truncated to fit.
    pub driver_info: [c_char; 256],
    /// Bytes of the adapter's device-local memory where the backend reports it: on Vulkan
    /// the largest memory heap flagged `DEVICE_LOCAL` (a GPU's own memory; on an
    /// integrated GPU or lavapipe, the share of system memory the driver offers). 0 when
    /// unknown (other backends). Appended after `driver_info`: a caller compiled against
    /// the earlier, shorter struct (without it) is still accepted and gets the fields it
    /// knows.
    pub device_local_bytes: u64,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_user_op_base_is_the_cores() {
        assert_eq!(super::GPU_USER_OP_BASE, crate::user_kernel::USER_OP_BASE);
    }
}
