//! gpu_executor: batches of GPU compute tasks through wgpu, behind a C ABI.
//!
//! Where a batch goes: [`ffi`] checks the C call and turns it into [`Task`]s;
//! [`Executor::submit`] (`executor.rs`) validates them, plans slabs by size bucket, takes
//! slabs and pipelines from the caches, and hands them to [`pipeline`], which copies the
//! inputs into staging, submits, waits and copies the results out.

// The C boundary.
pub mod ffi;

// The safe core.
pub mod adapt; // adaptive buckets: padding waste and pipeline thrash change the ladder
pub mod arena; // GPU memory for resident buffers
pub mod async_warmup; // warm-up on a worker thread
pub mod bucket; // size buckets and the per-bucket pipeline cache
pub mod budget; // bytes in flight and the asynchronous batches' budget
pub mod buffer; // resident buffers and their handles
pub mod compiler; // one compile per pipeline, outside the cache's lock
pub mod completion; // waiting for submissions, with or without a deadline
pub mod config; // options of an executor
pub mod copy; // host copies on the copy-thread pool
pub mod device; // adapter, device, wgpu errors as ours
pub mod direct; // element-wise tasks straight on resident buffers
pub mod error; // error kinds
pub mod exact_cache; // persistent slabs per exact length (single-task batches)
pub mod executor; // submit / launch / finish: the batch's way through
pub mod host_memory; // staging in host memory, mapped once (Vulkan; unsafe: raw Vulkan)
pub mod idle; // idle slabs, cache entries and tables under one byte cap
pub mod kernel; // WGSL kernels and their pipelines
pub mod log; // log messages and their sink
pub mod ops; // the kernel table: built-in ops, their arity and WGSL
pub mod pending; // a launched batch and its waiter
pub mod pipeline; // upload, submit, wait, download
pub mod pipeline_cache; // the persistent pipeline cache (Vulkan; unsafe: its data's origin)
pub mod plan; // tasks → slabs (group by bucket, then exact size; chunking)
pub mod pool; // idle slabs by size class
pub mod recording; // batches planned once, submitted many times
pub mod reduce_finish; // reductions whose result goes to a resident buffer
pub mod registered; // caller memory the GPU reads and writes in place
pub mod schedule; // waves: tasks ordered by the buffer regions they share
pub mod slab; // one dispatch's buffers and bind group
pub mod stats; // counters
pub mod task; // what a caller hands in
pub mod user_kernel; // WGSL kernels registered by the caller

pub use buffer::Region;
pub use config::{BackendChoice, Config, PowerChoice, StagingChoice, Strategy};
pub use error::{Error, ErrorKind, Result};
pub use executor::Executor;
pub use kernel::KernelId;
pub use ops::ElemType;
pub use pending::{PendingBatch, Waiter};
pub use recording::Recording;
pub use stats::Stats;
pub use task::{Destination, Operand, Task, TaskInputs};
