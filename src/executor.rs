//! The safe core: a batch goes in, results come out.
//!
//! `submit` is `launch` then `finish`. `launch` validates every task, plans the batch (group
//! by bucket, then exact size), takes slabs from the pool or the exact-size cache, and hands
//! them to [`pipeline`], which copies the inputs into staging and submits the whole batch
//! once. `finish` waits once and copies the results out, only when the GPU reported no
//! error. Slabs return to their cache after their submission completed.
//!
//! Every method takes `&self`: the caches, the idle slabs and the counters each sit behind
//! their own lock, held only to look something up or put it back. Host copies, submits and
//! GPU waits run without any lock, so threads sharing an executor overlap, and a thread
//! checking on a ticket never waits behind another thread's batch.
//!
//! [`pipeline`]: crate::pipeline

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::adapt::{BucketAdapter, SlabUse};
use crate::arena::ResidentMemory;
use crate::async_warmup::AsyncWarmup;
use crate::bucket::Buckets;
use crate::budget::{Held, InFlight};
use crate::buffer::{BufferTable, Region, ResidentBuffer};
use crate::compiler::{CompileHold, Compiler, Key};
use crate::config::{Config, Strategy};
use crate::copy::{CopyPool, Segment};
use crate::device::Gpu;
use crate::direct::{self, DirectDispatch, DirectTable};
use crate::error::{Error, ErrorKind, Result};
use crate::exact_cache::ExactKey;
use crate::idle::IdleMemory;
use crate::kernel::{Kernel, KernelId, KernelKind, SlabShape};
use crate::log::{log, Level};
use crate::ops::{ElemType, ReductionOp};
use crate::pending::{PendingBatch, SlabSource, Waiter};
use crate::pipeline::{self, Staged};
use crate::pipeline_cache::DiskCache;
use crate::plan::{plan_bucketed_among, plan_single, plan_single_item, PlanItem, Whole};
use crate::recording::Recording;
use crate::reduce_finish::{self, FinishDispatch};
use crate::registered::{Registration, Registry};
use crate::schedule;
use crate::slab::MapRequest;
use crate::slab::Slab;
use crate::stats::Stats;
use crate::task::{Destination, Group, Operand, Task, TaskInputs};
use crate::user_kernel::{self, UserKernelDesc};

/// Largest chunk we plan, whatever the device allows: keeps `vec4` indices in `u32`.
const MAX_CHUNK_ELEMENTS: u64 = 1 << 30;
/// Copy threads used when the options leave it to us (0), at most.
const DEFAULT_MAX_COPY_THREADS: usize = 16;
/// Elements per slab for element-wise tasks of host data, and per submission of a batch
/// of host data (8 MiB of inputs for a binary op): small enough that a large batch's
/// uploads overlap its GPU work, large enough that a submit per part costs little.
const STREAM_ELEMENTS: u64 = 1 << 20;
/// Smallest chunk limit accepted from the options.
pub const MIN_CHUNK_ELEMENTS: u64 = 64;

pub struct Executor {
    /// Unique in the process: names the owner of registered kernels.
    id: u64,
    gpu: Arc<Gpu>,
    config: Config,
    chunk: u64,
    /// Threads that copy data between caller memory and staging.
    copy_pool: CopyPool,
    /// The bucket cache, compilations in progress, the persistent pipeline cache.
    compiler: Arc<Compiler>,
    /// Asynchronous warm-ups and their worker.
    warmups: AsyncWarmup,
    /// The bucket ladder batches plan with now (changed only by adaptation).
    ladder: Mutex<Arc<Buckets>>,
    /// Adaptive buckets: what the adapter has seen (`None`: adaptation off).
    adapter: Option<Mutex<BucketAdapter>>,
    /// Bytes of the adapter's device-local memory; 0 when unknown.
    device_local_bytes: u64,
    /// Idle slabs, exact-size entries and block tables, under `Config::max_idle_bytes`.
    idle: Mutex<IdleMemory>,
    /// Slab bytes of the batches in flight.
    in_flight: Arc<InFlight>,
    stats: Arc<Mutex<Stats>>,
    /// Op codes of the kernels registered here.
    registered: Mutex<Vec<u32>>,
    /// Resident buffers and the memory they come from.
    buffers: Mutex<BufferTable>,
    memory: ResidentMemory,
    /// Buffers destroyed so far: a recording re-checks its buffers only when this moved.
    destroyed: AtomicU64,
    /// Caller memory the GPU reads and writes in place.
    host_registry: Registry,
}

impl Drop for Executor {
    fn drop(&mut self) {
        // Queued warm-ups finish first, so that the last save of the pipeline cache has
        // their pipelines.
        self.warmups.shutdown();
        if let Some(disk) = &self.compiler.disk {
            disk.finish();
        }
        user_kernel::unregister_all(self.id);
        // The caller may free registered memory once the executor is gone: its imports
        // are released, and the GPU done with them, first.
        self.release_registrations(self.host_registry.take_all());
    }
}

/// How a batch's tasks are cut into slabs: the bucket ladder, and the most elements per
/// slab for element-wise tasks (`Executor::split_for`).
#[derive(Clone, Copy)]
struct SlabCut<'a> {
    buckets: &'a Buckets,
    split: u64,
}

/// A task a batch will run, as warm-up sees it (see [`Executor::warmup`]).
#[derive(Clone, Copy, Debug)]
pub struct WarmupItem {
    pub op: KernelId,
    /// Elements (a matmul's M·N).
    pub len: usize,
    /// A matmul's M and N.
    pub matmul: Option<(u32, u32)>,
    /// Whether the task writes a resident buffer directly (element-wise with every operand
    /// in buffers, or a reduction into a buffer).
    pub resident: bool,
}

/// Locks `mutex` to read it, whether or not a panic poisoned it.
fn read<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Locks `mutex`; a panic while it was held makes the executor unusable (`Poisoned`).
fn lock<T>(mutex: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    mutex.lock().map_err(|_| {
        Error::new(
            ErrorKind::Poisoned,
            "an earlier panic left this executor unusable; destroy it",
        )
    })
}

/// Largest power of two not above `n` (n > 0).
fn floor_pow2(n: u64) -> u64 {
    1 << (63 - n.leading_zeros())
}

fn chunk_limit(limits: &wgpu::Limits, requested: u64) -> Result<u64> {
    let per_binding = limits.max_storage_buffer_binding_size / 4;
    // The upload buffer holds two inputs plus the params block.
    let per_upload = limits.max_buffer_size.saturating_sub(16) / 8;
    let device_max = per_binding.min(per_upload).min(MAX_CHUNK_ELEMENTS);
    let wanted = if requested == 0 {
        device_max
    } else {
        requested.min(device_max)
    };
    if wanted < MIN_CHUNK_ELEMENTS {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("chunk limit {wanted} is below the minimum of {MIN_CHUNK_ELEMENTS} elements"),
        ));
    }
    Ok(floor_pow2(wanted))
}

fn validate(tasks: &[TaskInputs], owner: u64) -> Result<Vec<KernelKind>> {
    let mut kinds = Vec::with_capacity(tasks.len());
    for (i, task) in tasks.iter().enumerate() {
        let kind = match task.kind {
            Some(kind) => kind,
            None => task
                .op
                .kind()
                .map_err(|e| Error::new(e.kind, format!("task {i}: {}", e.message)))?,
        };
        if let KernelKind::User(info) = kind {
            if info.owner != owner {
                return Err(Error::new(
                    ErrorKind::UnknownOp,
                    format!(
                        "task {i}: op code {} was registered on another executor",
                        info.code
                    ),
                ));
            }
        }
        if task.shape() != kind.shape() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "task {i}: {} reads {} input(s), not {}",
                    kind.name(),
                    kind.arity(),
                    task.arity
                ),
            ));
        }
        for (k, input) in task.used().iter().enumerate() {
            if task.resident[k].is_none() && input.len() != task.input_len(k) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "task {i}: input {k} has {} elements, the op reads {}",
                        input.len(),
                        task.input_len(k)
                    ),
                ));
            }
        }
        kinds.push(kind);
    }
    Ok(kinds)
}

impl Executor {
    pub fn new(config: Config) -> Result<Self> {
        // Checked before the device opens: a bad option costs nothing.
        let ladder = Buckets::new(config.min_bucket_elements, config.bucket_growth)?;
        let gpu = Arc::new(Gpu::open(&config)?);
        let chunk = chunk_limit(&gpu.limits, config.max_chunk_elements)?;
        let disk = config
            .pipeline_cache_dir
            .as_deref()
            .map(|dir| DiskCache::open(&gpu.device, &gpu.info, dir, gpu.pipeline_cache));
        let compiler = Arc::new(Compiler::new(Arc::clone(&gpu), disk));
        let adapter = config
            .adaptive_buckets
            .then(|| Mutex::new(BucketAdapter::default()));
        let device_local_bytes =
            crate::host_memory::device_local_bytes_of(&gpu.device).unwrap_or(0);
        let memory = ResidentMemory::new(&gpu.device, &gpu.limits);
        let idle = IdleMemory::new(config.max_idle_bytes, config.exact_size_cache_capacity);
        let copy_pool = CopyPool::new(match config.copy_threads {
            0 => std::thread::available_parallelism()
                .map_or(1, |n| n.get().min(DEFAULT_MAX_COPY_THREADS)),
            n => n,
        });
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Self {
            id,
            gpu,
            config,
            chunk,
            copy_pool,
            compiler,
            warmups: AsyncWarmup::default(),
            ladder: Mutex::new(Arc::new(ladder)),
            adapter,
            device_local_bytes,
            idle: Mutex::new(idle),
            in_flight: Arc::default(),
            stats: Arc::default(),
            registered: Mutex::default(),
            buffers: Mutex::new(BufferTable::new(id)),
            memory,
            destroyed: AtomicU64::new(0),
            host_registry: Registry::default(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether slabs stage their data in host memory mapped once (see `host_memory`),
    /// rather than in wgpu's mapped buffers.
    pub fn host_staging(&self) -> bool {
        self.gpu.host_memory.is_some()
    }

    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.gpu.info
    }

    /// Bytes of the adapter's device-local memory (its largest `DEVICE_LOCAL` heap on
    /// Vulkan); 0 when unknown.
    pub fn device_local_bytes(&self) -> u64 {
        self.device_local_bytes
    }

    /// Elements one slab (one binding) holds at most; longer tasks are split.
    pub fn chunk_elements(&self) -> u64 {
        self.chunk
    }

    /// Counters, with the current cache sizes filled in. (Reading counters is safe even
    /// after a panic poisoned a lock, so this never fails.)
    pub fn stats(&self) -> Stats {
        let mut stats = read(&self.stats).clone();
        stats.cached_buckets = read(&self.compiler.cache).len() as u64;
        stats.compile_waits = self.compiler.waits();
        stats.pending_warmups = self.warmups.pending();
        if let Some(disk) = &self.compiler.disk {
            stats.pipeline_cache = disk.state();
            stats.pipeline_cache_loaded_bytes = disk.loaded_bytes();
            stats.pipeline_cache_saves = disk.saves();
            stats.pipeline_cache_saved_bytes = disk.saved_bytes();
        }
        let idle = read(&self.idle);
        stats.exact_cache_entries = idle.exact.len() as u64;
        stats.exact_cache_bytes = idle.exact.bytes();
        stats.pool_bytes = idle.pool.bytes();
        stats.table_bytes = idle.table_bytes();
        drop(idle);
        stats.in_flight_bytes = self.in_flight.bytes();
        let buffers = read(&self.buffers);
        stats.resident_buffers = buffers.len() as u64;
        stats.resident_bytes = buffers.bytes();
        drop(buffers);
        stats.resident_reserved_bytes = self.memory.reserved_bytes();
        let (regions, bytes) = self.host_registry.totals();
        stats.registered_host_regions = regions;
        stats.registered_host_bytes = bytes;
        stats.registered_host_operands = self.host_registry.operands();
        stats
    }

    /// Sizes of the buckets whose pipelines are cached, ascending.
    pub fn bucket_sizes(&self) -> Vec<u64> {
        read(&self.compiler.cache).bucket_sizes()
    }

    /// The bucket ladder batches plan with now.
    pub fn buckets(&self) -> Arc<Buckets> {
        Arc::clone(&read(&self.ladder))
    }

    /// Size classes (elements per array) of the idle slabs in the pool, ascending.
    pub fn pool_classes(&self) -> Vec<u64> {
        read(&self.idle).pool.classes()
    }

    /// The seed's three diagnostic lines, then one on resident buffers when any were
    /// created and one listing the registered kernels when there are any.
    pub fn stats_lines(&self) -> Vec<String> {
        let stats = self.stats();
        let sizes = self.bucket_sizes();
        let list: Vec<String> = sizes.iter().map(u64::to_string).collect();
        let mut lines = vec![
            format!(
                "[gpu] Bucket cache: {} buckets cached: [{}]",
                sizes.len(),
                list.join(", ")
            ),
            format!(
                "[gpu] va_cache: {} exact-size entries",
                stats.exact_cache_entries
            ),
            format!(
                "[gpu] Buffer pool hit rate: {:.2}%",
                stats.pool_hit_rate() * 100.0
            ),
        ];
        if stats.resident_buffers_created > 0 {
            let reused = stats.resident_pool_hits as f64
                / (stats.resident_pool_hits + stats.resident_pool_misses).max(1) as f64;
            lines.push(format!(
                "[gpu] Resident buffers: {} live ({} bytes), {} bytes reserved; memory reuse {:.2}%; {} direct dispatches",
                stats.resident_buffers,
                stats.resident_bytes,
                stats.resident_reserved_bytes,
                reused * 100.0,
                stats.direct_dispatches
            ));
        }
        let registered = self.registered_kernels();
        let memory_line = self.memory_line(&stats);
        if !registered.is_empty() {
            let codes: Vec<String> = registered.iter().map(u32::to_string).collect();
            lines.push(format!(
                "[gpu] User kernels: {} registered: [{}]; {} pipelines cached in all",
                registered.len(),
                codes.join(", "),
                read(&self.compiler.cache).pipelines()
            ));
        }
        lines.extend(memory_line);
        lines.extend(self.pipeline_cache_line(&stats));
        lines
    }

    /// The persistent pipeline cache's line, when the options name a cache directory.
    fn pipeline_cache_line(&self, stats: &Stats) -> Option<String> {
        use crate::pipeline_cache::CacheState;
        let disk = self.compiler.disk.as_ref()?;
        let Some(path) = disk.path() else {
            return Some(format!(
                "[gpu] Pipeline cache: unsupported by this backend or device ({} not used)",
                disk.dir().display()
            ));
        };
        let state = match stats.pipeline_cache {
            CacheState::Loaded => "loaded",
            CacheState::Rejected => "file rejected, started empty",
            _ => "started empty",
        };
        Some(format!(
            "[gpu] Pipeline cache: {state} ({} bytes) from {}; {} saves (last {} bytes)",
            stats.pipeline_cache_loaded_bytes,
            path.display(),
            stats.pipeline_cache_saves,
            stats.pipeline_cache_saved_bytes
        ))
    }

    /// The idle-memory line, once the cap or the in-flight budget has mattered (something
    /// was evicted or refused).
    fn memory_line(&self, stats: &Stats) -> Option<String> {
        if stats.evictions() + stats.backpressure_refusals == 0 {
            return None;
        }
        Some(format!(
            "[gpu] Idle memory: {} of {} bytes held (pool {}, va_cache {}, tables {}); evicted: pool {}, va_cache {}, tables {} ({} bytes); in flight: {} bytes, {} async batches refused",
            stats.idle_bytes(),
            self.config.max_idle_bytes,
            stats.pool_bytes,
            stats.exact_cache_bytes,
            stats.table_bytes,
            stats.pool_evictions,
            stats.exact_cache_evictions,
            stats.table_evictions,
            stats.evicted_bytes,
            stats.in_flight_bytes,
            stats.backpressure_refusals
        ))
    }

    /// Runs every task; blocks until all outputs hold their results. On error no output
    /// has been written. Waits for the GPU at most `Config::wait_timeout`.
    pub fn submit(&self, tasks: &mut [Task]) -> Result<()> {
        let inputs: Vec<TaskInputs> = tasks.iter().map(Task::inputs).collect();
        let pending = self.launch_with(&inputs, false, true)?;
        let mut outputs: Vec<&mut [u32]> = tasks.iter_mut().map(|t| &mut *t.output).collect();
        self.finish(pending, &mut outputs)
    }

    /// Validates the tasks, copies their inputs into staging memory and submits the batch
    /// without waiting for it. The inputs are no longer needed once this returns; the
    /// results are copied out by [`finish`](Self::finish). On error nothing is submitted.
    pub fn launch(&self, tasks: &[TaskInputs]) -> Result<PendingBatch> {
        self.launch_with(tasks, false, false)
    }

    /// [`launch`](Self::launch) under the in-flight budget (`Config::max_in_flight_bytes`):
    /// `OverBudget`, with nothing submitted, when this batch's slabs would take the bytes
    /// of the batches launched this way and still in flight past it (unless none is).
    pub fn launch_async(&self, tasks: &[TaskInputs]) -> Result<PendingBatch> {
        self.launch_with(tasks, true, false)
    }

    /// `blocking`: the caller waits for this batch right away (`submit`), so a large batch
    /// of host data is submitted in parts whose transfers overlap. Batches launched to run
    /// asynchronously are submitted whole: batches in flight together overlap instead, and
    /// parts would only add submits.
    fn launch_with(
        &self,
        tasks: &[TaskInputs],
        budgeted: bool,
        blocking: bool,
    ) -> Result<PendingBatch> {
        self.gpu.check_not_lost()?;
        let kinds = validate(tasks, self.id)?;
        let waves = schedule::waves(tasks)?;
        let lengths: Vec<usize> = tasks.iter().map(TaskInputs::host_output_len).collect();
        let reductions = kinds
            .iter()
            .zip(tasks)
            .map(|(kind, task)| match kind {
                KernelKind::Reduction(op) => Some((*op, task.len)),
                KernelKind::Elementwise(_) | KernelKind::Matmul | KernelKind::User(_) => None,
            })
            .collect();
        // Element-wise tasks entirely on resident buffers skip the slabs.
        let direct: Vec<bool> = tasks
            .iter()
            .map(|t| self.config.strategy == Strategy::Bucketed && direct::eligible(t))
            .collect();
        // How the planner sees each task, worked out once for the whole launch.
        let items: Vec<PlanItem<Group>> = tasks.iter().map(TaskInputs::plan_item).collect();
        let source = self.choose_source(tasks, &items, &waves, &direct);
        let total: u64 = tasks.iter().map(|t| t.len as u64).sum();
        let uploaded: u64 = tasks
            .iter()
            .map(|t| {
                (0..t.arity)
                    .map(|k| t.arrays[k].len() as u64 * 4)
                    .sum::<u64>()
            })
            .sum();
        self.check_fits(tasks, &items)?;

        let mut delta = Stats::default();
        let capture = self.gpu.capture_errors();
        let launched = self
            .acquire(source, tasks, &items, &waves, &direct, &mut delta)
            .and_then(|staged| self.admit(staged, source, budgeted, &mut delta))
            .and_then(|(mut staged, held)| {
                self.attach_finishes(&mut staged, tasks, &mut delta)?;
                let mut dispatches = self.direct_dispatches(tasks, &waves, &direct, &mut delta)?;
                // Last, so that nothing is written when an earlier step fails.
                self.write_empty_reductions(tasks);
                // The baseline stays naive: one submit per batch.
                let stream = (blocking && self.config.strategy == Strategy::Bucketed)
                    .then_some(STREAM_ELEMENTS);
                let submission = pipeline::launch(
                    &self.gpu,
                    &mut staged,
                    &mut dispatches,
                    tasks,
                    &self.copy_pool,
                    stream,
                    &mut delta,
                )?;
                Ok((staged, dispatches, submission, held))
            });
        // Every GPU error of this batch is known here, before any output can be written.
        // What the error scopes caught is the cause (an allocation that failed), what the
        // launch ran into afterwards (a buffer that is not mapped) only its consequence.
        let captured = capture.finish(&self.gpu);
        if let (Ok((staged, ..)), Ok(())) = (&launched, &captured) {
            self.adapt(staged, source, tasks.len() as u64, &mut delta)?;
        }
        lock(&self.stats)?.absorb(&delta);
        match (launched, captured) {
            (Ok((staged, direct, submission, held)), Ok(())) => {
                let (submission, done) = submission.unzip();
                Ok(PendingBatch {
                    staged,
                    direct,
                    source,
                    submission,
                    done: done.flatten(),
                    task_count: lengths.len() as u64,
                    lengths,
                    reductions,
                    total,
                    uploaded,
                    _held: held,
                })
            }
            (_, Err(error)) | (Err(error), Ok(())) => {
                self.forget_gpu_state(&error);
                Err(error)
            }
        }
    }

    /// A pooled table of at least `bytes` bytes, rather one bound to `bind`.
    fn take_table(
        &self,
        bytes: u64,
        bind: Option<&direct::BindKey>,
        delta: &mut Stats,
    ) -> Result<DirectTable> {
        let idle = lock(&self.idle)?.take_table(bytes, bind);
        Ok(match idle {
            Some(table) => table,
            None => {
                delta.buffers_created += 2;
                DirectTable::new(&self.gpu.device, bytes)
            }
        })
    }

    /// Gives finish dispatches to the reduction slabs whose tasks write buffers.
    fn attach_finishes(
        &self,
        staged: &mut [Staged],
        tasks: &[TaskInputs],
        delta: &mut Stats,
    ) -> Result<()> {
        if !tasks.iter().any(|t| {
            t.resident_output.is_some() && matches!(t.kind, Some(KernelKind::Reduction(_)))
        }) {
            return Ok(());
        }
        for s in staged.iter_mut().filter(|s| s.kernel.is_reduction()) {
            let Some(first) = s.plan.pieces.first() else {
                continue;
            };
            let op = tasks[first.task].op;
            for group in reduce_finish::groups(&s.block_tasks, tasks) {
                let kernel = self.compiler.kernel(Key::Direct(op), delta)?;
                let table = self.take_table(reduce_finish::table_bytes(&group), None, delta)?;
                s.finish.push(FinishDispatch::new(
                    &self.gpu.device,
                    kernel,
                    table,
                    s.slab.out_buffer(),
                    &group,
                    tasks,
                )?);
                delta.bind_groups_created += 1;
            }
        }
        Ok(())
    }

    /// A reduction over no elements runs nothing; its result (the op's value over nothing)
    /// is written into its buffer ahead of the batch's commands, in queue order.
    fn write_empty_reductions(&self, tasks: &[TaskInputs]) {
        for task in tasks.iter().filter(|t| t.len == 0) {
            if let (Some(KernelKind::Reduction(op)), Some(region)) =
                (task.kind, task.resident_output)
            {
                let value = op.finish(op.combine.identity(), 0).to_bits();
                let (buffer, _) = region.buffer.location();
                self.gpu
                    .queue
                    .write_buffer(buffer, region.byte_at(0), bytemuck::bytes_of(&value));
            }
        }
    }

    /// The direct dispatches of a batch, in wave order.
    fn direct_dispatches(
        &self,
        tasks: &[TaskInputs],
        waves: &[usize],
        direct: &[bool],
        delta: &mut Stats,
    ) -> Result<Vec<DirectDispatch>> {
        if !direct.contains(&true) {
            return Ok(Vec::new());
        }
        let mut dispatches = Vec::new();
        for group in direct::group(tasks, waves, direct) {
            let kernel = self.compiler.kernel(Key::Direct(group.op), delta)?;
            let bytes = direct::table_bytes(&group, tasks);
            let table = self.take_table(bytes, Some(&group.bind), delta)?;
            dispatches.push(DirectDispatch::new(
                &self.gpu.device,
                self.gpu.max_groups_x,
                kernel,
                &group,
                tasks,
                table,
                delta,
            )?);
        }
        Ok(dispatches)
    }

    /// A handle that waits for `pending` without borrowing the executor.
    pub fn waiter(&self, pending: &PendingBatch) -> Waiter {
        Waiter {
            gpu: Arc::clone(&self.gpu),
            submission: pending.submission.clone(),
            readbacks: pending
                .staged
                .iter()
                .filter_map(Staged::readback)
                .chain(pending.done.clone())
                .collect(),
        }
    }

    /// Waits for `pending` to complete (at most `Config::wait_timeout`), copies its results
    /// into `outputs` (one array per task, of that task's length) and recycles its slabs.
    /// On error no output is written and the batch is gone; its slabs are dropped, and wgpu
    /// frees their memory once the GPU no longer uses it.
    pub fn finish(&self, mut pending: PendingBatch, outputs: &mut [&mut [u32]]) -> Result<()> {
        let shapes_match = outputs.len() == pending.lengths.len()
            && outputs
                .iter()
                .zip(&pending.lengths)
                .all(|(o, &n)| o.len() == n);
        if !shapes_match {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "outputs do not match the launched tasks' count and lengths",
            ));
        }
        let mut delta = Stats::default();
        let result = self.wait_and_land(&pending, outputs, &mut delta);
        let mut stats = lock(&self.stats)?;
        stats.absorb(&delta);
        if let Err(error) = result {
            drop(stats);
            self.forget_gpu_state(&error);
            return Err(error);
        }
        stats.batches += 1;
        stats.tasks += pending.task_count;
        stats.elements += pending.total;
        stats.bytes_uploaded += pending.uploaded;
        stats.bytes_read_back += pending.lengths.iter().sum::<usize>() as u64 * 4;
        drop(stats);
        let finished = pending
            .staged
            .iter_mut()
            .flat_map(|s| std::mem::take(&mut s.finish))
            .map(|f| f.table);
        let tables = pending.direct.into_iter().map(|d| d.table).chain(finished);
        let mut delta = Stats::default();
        let evicted = lock(&self.idle)?.give_back_tables(tables, &mut delta);
        drop(evicted);
        lock(&self.stats)?.absorb(&delta);
        self.release(pending.staged, pending.source)
    }

    fn wait_and_land(
        &self,
        pending: &PendingBatch,
        outputs: &mut [&mut [u32]],
        delta: &mut Stats,
    ) -> Result<()> {
        if pending.submission.is_none() {
            // Nothing ran: only reductions over no elements, whose results are known.
            finish_reductions(&pending.reductions, Vec::new(), outputs);
            return Ok(());
        }
        let streamed = !pending.staged.is_empty() && pending.staged.iter().all(Staged::in_part);
        if streamed && self.config.wait_timeout.is_none() {
            return self.land_parts(pending, outputs, delta);
        }
        let clock = std::time::Instant::now();
        let completed = self.waiter(pending).wait(self.config.wait_timeout);
        delta.wait_ns += pipeline::elapsed_ns(clock);
        if !completed? {
            return Err(timed_out(self.config.wait_timeout));
        }
        let segments = output_segments(&pending.staged, outputs);
        let partials =
            pipeline::land(&self.gpu, &pending.staged, segments, &self.copy_pool, delta)?;
        finish_reductions(&pending.reductions, partials, outputs);
        Ok(())
    }

    /// A batch submitted in parts, waited for without a limit: each slab's results are
    /// copied out as soon as its part completed, while the GPU runs the later parts. Only
    /// device loss can fail a wait here; the parts copied out before it hold their results.
    fn land_parts(
        &self,
        pending: &PendingBatch,
        outputs: &mut [&mut [u32]],
        delta: &mut Stats,
    ) -> Result<()> {
        let segments = output_segments(&pending.staged, outputs);
        let mut partials = Vec::new();
        for (i, segments) in segments.into_iter().enumerate() {
            let slab = &pending.staged[i..=i];
            let (submission, readbacks) = slab[0].part().ok_or_else(|| {
                Error::new(ErrorKind::Gpu, "a slab of a streamed batch has no part")
            })?;
            let clock = std::time::Instant::now();
            let waiter = Waiter {
                gpu: Arc::clone(&self.gpu),
                submission: Some(submission),
                readbacks,
            };
            let completed = waiter.wait(None);
            delta.wait_ns += pipeline::elapsed_ns(clock);
            if !completed? {
                return Err(timed_out(None));
            }
            let part = pipeline::land(&self.gpu, slab, vec![segments], &self.copy_pool, delta)?;
            partials.extend(part);
        }
        finish_reductions(&pending.reductions, partials, outputs);
        Ok(())
    }

    /// Creates a resident buffer of `len` elements of `ty`, zero-filled, and returns its
    /// handle. Its memory is freed memory of its size class when there is some.
    pub fn create_buffer(&self, ty: ElemType, len: u64) -> Result<u64> {
        self.create_buffer_with(ty, len, None)
    }

    /// Creates a resident buffer holding a copy of `data` (elements of `ty`).
    pub fn create_buffer_from(&self, ty: ElemType, data: &[u32]) -> Result<u64> {
        self.create_buffer_with(ty, data.len() as u64, Some(data))
    }

    fn create_buffer_with(&self, ty: ElemType, len: u64, data: Option<&[u32]>) -> Result<u64> {
        self.gpu.check_not_lost()?;
        if len == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a buffer holds at least one element",
            ));
        }
        let bytes = len.checked_mul(4).ok_or_else(|| {
            Error::new(
                ErrorKind::SizeOverflow,
                format!("{len} elements overflow a byte count"),
            )
        })?;
        let capture = self.gpu.capture_errors();
        let allocated = self.memory.allocate(bytes);
        let (memory, outcome) = match allocated {
            Ok(found) => found,
            Err(error) => {
                let _ = capture.finish(&self.gpu);
                return Err(error);
            }
        };
        let (arena, offset) = (&memory.arena.buffer, memory.offset);
        match data {
            Some(data) => self
                .gpu
                .queue
                .write_buffer(arena, offset, bytemuck::cast_slice(data)),
            // New memory is zero already (wgpu clears it before first use); reused
            // memory is cleared in queue order, after everything that used it.
            None if outcome.reused => {
                let mut encoder =
                    self.gpu
                        .device
                        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                            label: Some("gpu_executor clear buffer"),
                        });
                encoder.clear_buffer(arena, offset, Some(bytes.next_multiple_of(4)));
                self.gpu.queue.submit([encoder.finish()]);
            }
            None => {}
        }
        if let Err(error) = capture.finish(&self.gpu) {
            // The memory may be part of an arena that failed to allocate: it must not go
            // back to the free lists, which forget everything after a GPU failure.
            drop(memory);
            self.forget_gpu_state(&error);
            return Err(error);
        }
        let mut table = lock(&self.buffers)?;
        let handle = table.next_handle()?;
        table.insert(ResidentBuffer {
            handle,
            ty,
            len,
            memory,
        });
        drop(table);
        let mut stats = lock(&self.stats)?;
        stats.resident_buffers_created += 1;
        stats.buffers_created += outcome.buffers_created;
        if outcome.reused {
            stats.resident_pool_hits += 1;
        } else {
            stats.resident_pool_misses += 1;
        }
        Ok(handle)
    }

    /// The table of live buffers, locked: for resolving many handles at once.
    pub fn buffers(&self) -> Result<MutexGuard<'_, BufferTable>> {
        lock(&self.buffers)
    }

    /// The live buffer `handle` names (`InvalidBuffer`, `ForeignBuffer` otherwise).
    pub fn buffer(&self, handle: u64) -> Result<Arc<ResidentBuffer>> {
        lock(&self.buffers)?.get(handle)
    }

    /// A region of buffer `handle` from element `offset`: an operand for a task.
    pub fn region(&self, handle: u64, offset: u64) -> Result<Region> {
        Ok(Region {
            buffer: self.buffer(handle)?,
            offset,
        })
    }

    /// Writes `data` into buffer `handle` from element `offset`. Returns once `data` is
    /// copied; batches submitted afterwards see it, batches submitted before do not.
    pub fn write_buffer(&self, handle: u64, offset: u64, data: &[u32]) -> Result<()> {
        self.gpu.check_not_lost()?;
        let region = self.region(handle, offset)?;
        region.check_bounds(data.len() as u64, "write")?;
        if data.is_empty() {
            return Ok(());
        }
        let (buffer, _) = region.buffer.location();
        let capture = self.gpu.capture_errors();
        self.gpu
            .queue
            .write_buffer(buffer, region.byte_at(0), bytemuck::cast_slice(data));
        capture.finish(&self.gpu)
    }

    /// Reads `out.len()` elements of buffer `handle` from element `offset`, after every
    /// batch submitted before. A batch of one `COPY` task.
    pub fn read_buffer(&self, handle: u64, offset: u64, out: &mut [u32]) -> Result<()> {
        let region = self.region(handle, offset)?;
        let op = KernelId {
            code: crate::ops::COPY,
            ty: region.buffer.ty,
        };
        let len = out.len();
        let mut task = [Task::with_operands(
            op,
            len,
            &mut [Operand::Resident(region)],
            &[],
            Destination::Host(out),
        )?];
        self.submit(&mut task)
    }

    /// Registers `len` bytes of host memory at `address`: from now on every host operand
    /// of a batch that lies wholly inside them is read and written by the GPU in place
    /// (DMA from and to the caller's array), with no copy through staging. Registered
    /// ranges may not overlap. `Unsupported` when the device cannot import host memory
    /// (no `VK_EXT_external_memory_host`); `InvalidArgument` for an empty or overlapping
    /// range or one larger than the device's largest buffer; the driver's refusal as
    /// `Gpu` or `OutOfMemory`.
    ///
    /// # Safety
    /// The bytes must be mapped, readable and writable memory of this process and stay so
    /// until `unregister_host_memory(address)` returned or the executor is dropped.
    pub unsafe fn register_host_memory(&self, address: usize, len: usize) -> Result<()> {
        // The caller's mistakes first, whatever the device.
        if len == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "registering 0 bytes",
            ));
        }
        let end = address
            .checked_add(len)
            .ok_or_else(|| Error::new(ErrorKind::SizeOverflow, "address + bytes wraps around"))?;
        self.gpu.check_not_lost()?;
        let import = self.gpu.host_import.as_ref().ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported,
                "this device cannot import host memory (no VK_EXT_external_memory_host); batches copy through staging instead",
            )
        })?;
        let align = import.alignment() as usize;
        let base = address - address % align;
        let top = end
            .checked_next_multiple_of(align)
            .ok_or_else(|| Error::new(ErrorKind::SizeOverflow, "address + bytes wraps around"))?;
        let size = (top - base) as u64;
        if size > self.gpu.limits.max_buffer_size {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{len} bytes: the device's largest buffer holds {}; register smaller ranges",
                    self.gpu.limits.max_buffer_size
                ),
            ));
        }
        self.host_registry.check_free(address, end)?;
        let capture = self.gpu.capture_errors();
        // SAFETY: the caller keeps the bytes valid until unregistering (contract); the
        // widened range lies in the same pages (see `HostImport`).
        let imported = unsafe {
            import.import(
                &self.gpu.device,
                base,
                size,
                "gpu_executor registered host memory",
            )
        };
        capture.finish(&self.gpu)?;
        let buffer = imported?;
        // Bindable: element-wise tasks wholly in registered memory run straight on it
        // (`direct`), the kernel reading and writing the caller's arrays over the bus.
        let bindable = size <= self.gpu.limits.max_storage_buffer_binding_size
            && self.config.strategy == Strategy::Bucketed
            && std::env::var("GPU_EXECUTOR_REGISTERED_DIRECT").as_deref() != Ok("0");
        let registration = Registration::new(address, end, base, buffer, bindable);
        self.host_registry.add(registration)
    }

    /// Unregisters the range registered at `address` (`InvalidArgument` when none starts
    /// there). Batches submitted later copy such operands through staging again. Returns
    /// once the GPU has finished every batch submitted before and the import is released,
    /// so the caller may free the memory right after.
    pub fn unregister_host_memory(&self, address: usize) -> Result<()> {
        let registration = self.host_registry.remove(address)?;
        self.release_registrations(vec![registration]);
        Ok(())
    }

    /// Releases imports taken out of the registry: waits until no batch holds one of their
    /// regions (a batch on another thread found them registered just before), destroys
    /// their buffers, and waits for the GPU to finish every submission so far, after which
    /// wgpu has freed the imported memory.
    fn release_registrations(&self, registrations: Vec<Registration>) {
        if registrations.is_empty() {
            return;
        }
        for registration in &registrations {
            while registration.in_use() {
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
            registration.buffer().destroy();
        }
        // A lost device has nothing left to wait for; its memory is freed all the same.
        let _ = self.gpu.device.poll(wgpu::PollType::Wait {
            submission_index: None,
            timeout: None,
        });
    }

    /// Turns the tasks' host operands that lie wholly inside registered host memory into
    /// regions of it, so that the GPU reads and writes them in place; a reduction's
    /// one-element result stays a host output. The C API does this for every batch it
    /// runs now (not for recordings, which outlive the call), after checking the caller's
    /// arrays against the batches in flight.
    pub fn place_registered(&self, tasks: &mut [Task]) {
        self.host_registry.place(tasks);
    }

    /// Destroys buffer `handle`: the handle is invalid at once; the memory is reused by
    /// later work only, which the GPU runs after every batch already submitted.
    pub fn destroy_buffer(&self, handle: u64) -> Result<()> {
        let removed = lock(&self.buffers)?.remove(handle)?;
        self.destroyed.fetch_add(1, Ordering::AcqRel);
        drop(removed);
        Ok(())
    }

    /// Records `tasks` — element-wise ops whose inputs and output are all in resident
    /// buffers — to be submitted later, as often as wanted (`launch_recording`). Everything
    /// but the submit is done now: the checks, the waves, the dispatches and their block
    /// tables, which go to the GPU once, here. Nothing of the tasks runs.
    pub fn record(&self, tasks: &[TaskInputs]) -> Result<Recording> {
        self.gpu.check_not_lost()?;
        validate(tasks, self.id)?;
        let waves = schedule::waves(tasks)?;
        if self.config.strategy != Strategy::Bucketed {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "recording needs the bucketed strategy",
            ));
        }
        if let Some(i) = tasks.iter().position(|t| !direct::eligible(t)) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "task {i}: only element-wise tasks whose inputs and output are all in buffers (each fitting one binding) can be recorded"
                ),
            ));
        }
        let direct = vec![true; tasks.len()];
        let mut delta = Stats::default();
        let capture = self.gpu.capture_errors();
        let built = self
            .direct_dispatches(tasks, &waves, &direct, &mut delta)
            .inspect(|dispatches| {
                // The tables go to the GPU once, now.
                let mut encoder =
                    self.gpu
                        .device
                        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                            label: Some("gpu_executor recording tables"),
                        });
                for d in dispatches {
                    d.encode_table(&mut encoder);
                }
                self.gpu.queue.submit([encoder.finish()]);
            });
        if built.is_ok() {
            delta.submits += 1;
        }
        let captured = capture.finish(&self.gpu);
        lock(&self.stats)?.absorb(&delta);
        let dispatches = match (built, captured) {
            (Ok(dispatches), Ok(())) => dispatches,
            (_, Err(error)) | (Err(error), Ok(())) => {
                self.forget_gpu_state(&error);
                return Err(error);
            }
        };
        let mut buffers: Vec<Arc<ResidentBuffer>> = tasks
            .iter()
            .flat_map(|t| t.resident.iter().flatten().chain(t.resident_output.iter()))
            .map(|r| Arc::clone(&r.buffer))
            .collect();
        buffers.sort_unstable_by_key(|b| b.handle);
        buffers.dedup_by_key(|b| b.handle);
        Ok(Recording {
            owner: self.id,
            dispatches,
            buffers,
            checked: AtomicU64::new(self.destroyed.load(Ordering::Acquire)),
            tasks: tasks.len() as u64,
            elements: tasks.iter().map(|t| t.len as u64).sum(),
        })
    }

    /// Submits a recording: its dispatches in one compute pass, one submit. The tasks read
    /// the buffers as they are now. `InvalidBuffer` if one of its buffers was destroyed
    /// since it was recorded; `InvalidArgument` for another executor's recording.
    pub fn launch_recording(&self, recording: &Recording) -> Result<PendingBatch> {
        self.gpu.check_not_lost()?;
        if recording.owner != self.id {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "the recording belongs to another executor",
            ));
        }
        let destroyed = self.destroyed.load(Ordering::Acquire);
        if !recording.checked_at(destroyed) {
            let table = lock(&self.buffers)?;
            for buffer in &recording.buffers {
                if !table
                    .get(buffer.handle)
                    .is_ok_and(|live| Arc::ptr_eq(&live, buffer))
                {
                    return Err(Error::new(
                        ErrorKind::InvalidBuffer,
                        format!(
                            "buffer {:#x} of the recording was destroyed; record the tasks again",
                            buffer.handle
                        ),
                    ));
                }
            }
            recording.checked.store(destroyed, Ordering::Release);
        }
        let clock = std::time::Instant::now();
        let capture = self.gpu.capture_errors();
        let submitted = (!recording.dispatches.is_empty()).then(|| {
            let mut encoder =
                self.gpu
                    .device
                    .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                        label: Some("gpu_executor recording"),
                    });
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("recorded dispatches"),
                    timestamp_writes: None,
                });
                for d in &recording.dispatches {
                    d.encode(&mut pass);
                }
            }
            let submission = self.gpu.queue.submit([encoder.finish()]);
            let done = MapRequest::work_done(&self.gpu.queue, &self.gpu.completion);
            (submission, done)
        });
        let captured = capture.finish(&self.gpu);
        let mut delta = Stats::default();
        if submitted.is_some() {
            let n = recording.dispatches.len() as u64;
            delta.submits += 1;
            delta.dispatches += n;
            delta.direct_dispatches += n;
        }
        delta.submit_ns += pipeline::elapsed_ns(clock);
        lock(&self.stats)?.absorb(&delta);
        if let Err(error) = captured {
            self.forget_gpu_state(&error);
            return Err(error);
        }
        let (submission, done) = submitted.unzip();
        Ok(PendingBatch {
            staged: Vec::new(),
            direct: Vec::new(),
            source: SlabSource::Pool,
            submission,
            done,
            lengths: Vec::new(),
            task_count: recording.tasks,
            reductions: Vec::new(),
            total: recording.elements,
            uploaded: 0,
            _held: Held::default(),
        })
    }

    /// Compiles now every pipeline that batches of the described tasks will need, so that
    /// their first batch compiles nothing: per task, its op at its element type for the
    /// size bucket of `len` elements (for a matmul, the class of its M×N product), and the
    /// kernel that writes resident buffers directly when `resident` (element-wise: every
    /// operand in buffers; reduction: result in a buffer). Returns the number of pipelines
    /// compiled (0 when all were cached). Under the baseline strategy nothing is cached, so
    /// nothing is compiled.
    pub fn warmup(&self, items: &[WarmupItem]) -> Result<u64> {
        let kinds = self.warmup_kinds(items)?;
        if self.config.strategy == Strategy::Baseline {
            return Ok(0);
        }
        let classes = self.warmup_classes(items, &kinds);
        let mut delta = Stats::default();
        let result = self.compiler.warm(items, &kinds, &classes, &mut delta);
        lock(&self.stats)?.absorb(&delta);
        match result {
            Ok(()) => Ok(delta.pipelines_created),
            Err(error) => {
                self.forget_gpu_state(&error);
                Err(error)
            }
        }
    }

    /// [`Executor::warmup`] on a worker thread: checks `items` now (errors are returned
    /// here), queues their compilations and returns at once. Batches run meanwhile; one
    /// that needs a pipeline being compiled waits for that compilation only. See
    /// [`Executor::wait_warmups`] and the stats' `pending_warmups`.
    pub fn warmup_async(&self, items: &[WarmupItem]) -> Result<()> {
        let kinds = self.warmup_kinds(items)?;
        if self.config.strategy == Strategy::Baseline || items.is_empty() {
            return Ok(());
        }
        let classes = self.warmup_classes(items, &kinds);
        self.warmups
            .submit(&self.compiler, &self.stats, items.to_vec(), kinds, classes)
    }

    /// The pipeline class warm-up compiles for each item: the bucket of its length on the
    /// current ladder, a matmul's shape class, 0 for a whole-array kernel of the caller's.
    fn warmup_classes(&self, items: &[WarmupItem], kinds: &[KernelKind]) -> Vec<u64> {
        let buckets = self.buckets();
        items
            .iter()
            .zip(kinds)
            .map(|(item, kind)| match kind {
                KernelKind::Matmul => {
                    let (m, n) = item.matmul.unwrap_or((1, 1));
                    crate::ops::matmul_class(m, n)
                }
                KernelKind::User(info) if !info.elementwise => 0,
                _ => buckets.bucket(item.len as u64),
            })
            .collect()
    }

    /// Waits up to `timeout` (`None`: no limit) for every asynchronous warm-up queued so
    /// far. `Ok(Some(n))`: none is pending, and they compiled `n` pipelines since the last
    /// `Ok(Some(_))`; `Ok(None)`: some still were when the time was up; `Err`: the first
    /// error one of them met since the last call that reported one.
    pub fn wait_warmups(&self, timeout: Option<Duration>) -> Result<Option<u64>> {
        self.warmups.wait(timeout)
    }

    /// Test hook: holds every pipeline compilation of this executor at its start until the
    /// returned guard is dropped (see [`CompileHold`]).
    pub fn hold_compiles(&self) -> CompileHold {
        self.compiler.hold()
    }

    /// Writes the persistent pipeline cache now if it changed (it is also written shortly
    /// after new compilations and on destroy). No-op without a cache directory.
    pub fn save_pipeline_cache(&self) {
        if let Some(disk) = &self.compiler.disk {
            disk.save_now();
        }
    }

    /// Checks warm-up items: each op known, of this executor, at a type it has.
    fn warmup_kinds(&self, items: &[WarmupItem]) -> Result<Vec<KernelKind>> {
        self.gpu.check_not_lost()?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let kind = item
                    .op
                    .kind()
                    .map_err(|e| Error::new(e.kind, format!("item {i}: {}", e.message)))?;
                match kind {
                    KernelKind::User(info) if info.owner != self.id => Err(Error::new(
                        ErrorKind::UnknownOp,
                        format!(
                            "item {i}: op code {} was registered on another executor",
                            info.code
                        ),
                    )),
                    _ => Ok(kind),
                }
            })
            .collect()
    }

    /// Gives back the memory kept for reuse that nothing uses now: idle slabs, the
    /// exact-size cache, idle block tables and destroyed buffers' memory (an arena goes
    /// back once no live buffer uses it). Pipelines and live buffers stay; batches in flight
    /// keep what they hold.
    pub fn trim(&self) -> Result<()> {
        // Taken out under the locks, dropped outside them.
        let evicted = lock(&self.idle)?.take_all();
        drop(evicted);
        self.memory.clear();
        Ok(())
    }

    /// Checks and registers a kernel of the caller's; returns its op code, valid for this
    /// executor only. Its pipelines are compiled on first use, per bucket.
    pub fn register_kernel(&self, desc: &UserKernelDesc) -> Result<u32> {
        let info = user_kernel::register(self.id, desc)?;
        log!(
            Level::Info,
            "registered kernel {:?} as op {} ({} input(s), {}, {})",
            desc.entry_point,
            info.code,
            info.arity,
            info.ty.name(),
            if info.elementwise {
                "element-wise"
            } else {
                "whole-array"
            }
        );
        lock(&self.registered)?.push(info.code);
        Ok(info.code)
    }

    /// Op codes of the kernels registered on this executor, in registration order.
    pub fn registered_kernels(&self) -> Vec<u32> {
        read(&self.registered).clone()
    }

    /// Test hook: loses the device as a driver reset would. Every later call and every
    /// batch in flight then reports `DeviceLost`.
    #[doc(hidden)]
    pub fn simulate_device_loss(&self) {
        self.gpu.simulate_loss();
    }

    fn choose_source(
        &self,
        tasks: &[TaskInputs],
        items: &[PlanItem<Group>],
        waves: &[usize],
        direct: &[bool],
    ) -> SlabSource {
        match (self.config.strategy, tasks) {
            (Strategy::Baseline, _) => SlabSource::Fresh,
            // Whole-array tasks (matmul) are sized by shape, not length: pooled.
            (Strategy::Bucketed, [task])
                if self.config.exact_size_cache
                    && items[0].whole.is_none()
                    && waves[0] == 0
                    && !direct[0] =>
            {
                SlabSource::Exact((task.shape(), task.len, self.split_for(tasks)))
            }
            (Strategy::Bucketed, _) => SlabSource::Pool,
        }
    }

    /// A whole-array task must fit one binding, and its grid the device's limits.
    fn check_fits(&self, tasks: &[TaskInputs], items: &[PlanItem<Group>]) -> Result<()> {
        let max_groups = self.gpu.limits.max_compute_workgroups_per_dimension;
        for (i, (task, item)) in tasks.iter().zip(items).enumerate() {
            // A reduction's result in a buffer is combined on the GPU from one slab's
            // partials, and written through one binding of the buffer.
            if let (Some(KernelKind::Reduction(_)), Some(region)) =
                (task.kind, task.resident_output)
            {
                if task.len as u64 > self.chunk {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        format!(
                            "task {i}: a reduction whose result goes to a buffer reads at most {} elements (one slab); this one reads {}",
                            self.chunk, task.len
                        ),
                    ));
                }
                let element = region.byte_at(0) / 4;
                if !region.buffer.memory.arena.bindable || element > u64::from(u32::MAX) {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        format!("task {i}: a reduction's result can go to a buffer that fits one binding only"),
                    ));
                }
            }
            let Some(Whole {
                footprint, class, ..
            }) = item.whole
            else {
                continue;
            };
            if footprint as u64 > self.chunk {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "task {i}: an operand of {footprint} elements exceeds the {} elements one binding holds; whole-array ops are not split",
                        self.chunk
                    ),
                ));
            }
            let matmul = matches!(task.kind, Some(KernelKind::Matmul));
            let (m, n) = (task.scalars[0] as u64, task.scalars[2] as u64);
            if matmul && m.div_ceil(class).max(n.div_ceil(class)) > u64::from(max_groups) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("task {i}: a {m}x{n} result needs more workgroups per dimension than the device's {max_groups}"),
                ));
            }
        }
        Ok(())
    }

    fn acquire(
        &self,
        source: SlabSource,
        tasks: &[TaskInputs],
        items: &[PlanItem<Group>],
        waves: &[usize],
        direct: &[bool],
        delta: &mut Stats,
    ) -> Result<Vec<Staged>> {
        // The ladder as it is now: one batch plans with one ladder.
        let buckets = &*self.buckets();
        match source {
            SlabSource::Pool => {
                // Worked out once: every wave's plan cuts its slabs the same way.
                let cut = SlabCut {
                    buckets,
                    split: self.split_for(tasks),
                };
                let last = waves.iter().copied().max().unwrap_or(0);
                if last == 0 && !direct.contains(&true) {
                    let all = (0..tasks.len()).collect();
                    return self.acquire_pooled(tasks, items, all, 0, cut, delta);
                }
                // One plan per wave, of that wave's tasks but the direct ones.
                let mut by_wave: Vec<Vec<usize>> = vec![Vec::new(); last + 1];
                for (i, &wave) in waves.iter().enumerate() {
                    if !direct[i] {
                        by_wave[wave].push(i);
                    }
                }
                let mut staged = Vec::new();
                for (wave, among) in by_wave.into_iter().enumerate() {
                    staged.extend(self.acquire_pooled(tasks, items, among, wave, cut, delta)?);
                }
                Ok(staged)
            }
            SlabSource::Exact(key) => self.acquire_exact(tasks, key, buckets, delta),
            SlabSource::Fresh => self.acquire_fresh(tasks, items, waves, buckets, delta),
        }
    }

    /// The cached pipeline of `id` for `bucket`, compiled on first use.
    fn kernel_for(&self, id: KernelId, bucket: u64, delta: &mut Stats) -> Result<Arc<Kernel>> {
        self.compiler.kernel(Key::Bucketed(id, bucket), delta)
    }

    fn new_slab(&self, shape: SlabShape, capacity: u64, delta: &mut Stats) -> Result<Slab> {
        Slab::new(
            &self.gpu.device,
            &self.compiler.factory.shared_layout(shape),
            shape,
            capacity,
            self.gpu.host_memory.as_ref(),
            delta,
        )
    }

    /// Bucketed: tasks grouped by kernel and scalars, then bucket; slabs from the pool, one
    /// pipeline lookup per group and bucket. New slabs are created outside the lock.
    fn acquire_pooled(
        &self,
        tasks: &[TaskInputs],
        items: &[PlanItem<Group>],
        among: Vec<usize>,
        wave: usize,
        cut: SlabCut<'_>,
        delta: &mut Stats,
    ) -> Result<Vec<Staged>> {
        let mut staged: Vec<Staged> = Vec::new();
        for plan in plan_bucketed_among(items, among, self.chunk, cut.split, cut.buckets) {
            let task = &tasks[plan.pieces[0].task];
            let arrays = task.shape().arity as u64 + 1;
            delta.padding_bytes += plan.capacity.saturating_sub(plan.used) * 4 * arrays;
            let kernel = match staged.last() {
                Some(prev)
                    if prev.plan.bucket == plan.bucket
                        && tasks[prev.plan.pieces[0].task].op == task.op =>
                {
                    Arc::clone(&prev.kernel)
                }
                _ => self.kernel_for(task.op, plan.bucket, delta)?,
            };
            let pooled = lock(&self.idle)?
                .pool
                .take(task.shape(), plan.capacity, delta);
            let slab = match pooled {
                Some(slab) => slab,
                None => self.new_slab(task.shape(), plan.capacity, delta)?,
            };
            staged.push(Staged::new(plan, slab, kernel, tasks, wave));
        }
        Ok(staged)
    }

    /// Most elements per slab for element-wise tasks: batches of host data only are cut
    /// into slabs of `STREAM_ELEMENTS`, so that their transfers overlap (see `pipeline`);
    /// batches touching resident buffers keep whole slabs (a reduction into a buffer is
    /// combined from one slab's partials).
    fn split_for(&self, tasks: &[TaskInputs]) -> u64 {
        if tasks.iter().any(TaskInputs::touches_resident) {
            self.chunk
        } else {
            STREAM_ELEMENTS.min(self.chunk)
        }
    }

    /// Single task with the exact-size cache: slabs sized for exactly this length (never
    /// a whole-array task, see `choose_source`).
    fn acquire_exact(
        &self,
        tasks: &[TaskInputs],
        key: ExactKey,
        buckets: &Buckets,
        delta: &mut Stats,
    ) -> Result<Vec<Staged>> {
        let task = &tasks[0];
        let bucket = buckets.bucket(task.len as u64);
        let plans = plan_single(0, task.len, self.chunk, key.2, bucket);
        let Some(first) = plans.first() else {
            return Ok(Vec::new());
        };
        let kernel = self.kernel_for(task.op, first.bucket, delta)?;
        let cached = lock(&self.idle)?.exact.take(key, delta);
        let slabs = match cached {
            Some(slabs) => slabs,
            None => plans
                .iter()
                .map(|p| self.new_slab(task.shape(), p.capacity, delta))
                .collect::<Result<_>>()?,
        };
        Ok(plans
            .into_iter()
            .zip(slabs)
            .map(|(plan, slab)| Staged::new(plan, slab, Arc::clone(&kernel), tasks, 0))
            .collect())
    }

    /// Baseline: per task, a freshly compiled pipeline and fresh slabs.
    fn acquire_fresh(
        &self,
        tasks: &[TaskInputs],
        items: &[PlanItem<Group>],
        waves: &[usize],
        buckets: &Buckets,
        delta: &mut Stats,
    ) -> Result<Vec<Staged>> {
        let mut staged = Vec::new();
        // Tasks in wave order (stable: batch order within a wave).
        let mut order: Vec<usize> = (0..tasks.len()).collect();
        order.sort_by_key(|&i| waves[i]);
        for index in order {
            let (task, item) = (&tasks[index], &items[index]);
            let bucket = buckets.bucket(task.len as u64);
            let plans = plan_single_item(index, task.len, item.whole, self.chunk, bucket);
            let Some(first) = plans.first() else {
                continue;
            };
            let kernel = Arc::new(self.compiler.factory.create_uncached(
                task.op,
                first.bucket,
                delta,
            )?);
            for plan in plans {
                // The baseline is naive wgpu code: wgpu's mapped staging.
                let slab = Slab::new(
                    &self.gpu.device,
                    &kernel.bind_group_layout,
                    task.shape(),
                    plan.capacity,
                    None,
                    delta,
                )?;
                staged.push(Staged::new(
                    plan,
                    slab,
                    Arc::clone(&kernel),
                    tasks,
                    waves[index],
                ));
            }
        }
        Ok(staged)
    }

    /// Adaptive buckets: shows the adapter a launched batch of the bucketed strategy (its
    /// pooled slabs and task count) and installs the ladder it returns, for later batches.
    fn adapt(
        &self,
        staged: &[Staged],
        source: SlabSource,
        tasks: u64,
        delta: &mut Stats,
    ) -> Result<()> {
        let Some(adapter) = &self.adapter else {
            return Ok(());
        };
        if matches!(source, SlabSource::Fresh) {
            return Ok(());
        }
        let slabs: Vec<SlabUse> = match source {
            SlabSource::Pool => staged
                .iter()
                .map(|s| SlabUse {
                    used: s.plan.used,
                    capacity: s.plan.capacity,
                })
                .collect(),
            _ => Vec::new(),
        };
        let misses = read(&self.compiler.cache).extra_buckets();
        // The ladder changes only under the adapter's lock: no change is lost.
        let mut adapter = lock(adapter)?;
        let current = self.buckets();
        if let Some(next) = adapter.observe(&current, &slabs, tasks, misses, delta) {
            *lock(&self.ladder)? = Arc::new(next);
        }
        Ok(())
    }

    /// Counts the batch's slab bytes in flight; a budgeted batch over the budget gives its
    /// slabs back, untouched, and is refused.
    fn admit(
        &self,
        staged: Vec<Staged>,
        source: SlabSource,
        budgeted: bool,
        delta: &mut Stats,
    ) -> Result<(Vec<Staged>, Held)> {
        let bytes = staged.iter().map(|s| s.slab.bytes()).sum();
        if !budgeted {
            return Ok((staged, self.in_flight.hold(bytes)));
        }
        match self.in_flight.admit(bytes, self.config.max_in_flight_bytes) {
            Ok(held) => Ok((staged, held)),
            Err(refused) => {
                delta.backpressure_refusals += 1;
                self.release(staged, source)?;
                Err(refused)
            }
        }
    }

    /// Puts slabs back where they came from; the batch's submission has completed (or it
    /// was never submitted).
    fn release(&self, staged: Vec<Staged>, source: SlabSource) -> Result<()> {
        let slabs = staged.into_iter().map(|s| s.slab);
        let mut delta = Stats::default();
        let evicted = match source {
            SlabSource::Pool => lock(&self.idle)?.give_back_slabs(slabs, &mut delta),
            SlabSource::Exact(key) => {
                let slabs: Vec<Slab> = slabs.collect();
                if slabs.is_empty() {
                    return Ok(());
                }
                lock(&self.idle)?.put_exact(key, slabs, &mut delta)
            }
            SlabSource::Fresh => return Ok(()),
        };
        // Freed outside the lock.
        drop(evicted);
        lock(&self.stats)?.absorb(&delta);
        Ok(())
    }

    /// After a GPU-side failure cached objects may be invalid: drop them all. Batches in
    /// flight keep what they hold.
    fn forget_gpu_state(&self, error: &Error) {
        if matches!(
            error.kind,
            ErrorKind::Gpu | ErrorKind::OutOfMemory | ErrorKind::DeviceLost
        ) {
            self.compiler.forget();
            let evicted = lock(&self.idle).map(|mut idle| idle.take_all());
            drop(evicted);
            self.memory.clear();
        }
    }
}

fn timed_out(limit: Option<Duration>) -> Error {
    let limit = limit.unwrap_or_default();
    Error::new(
        ErrorKind::TimedOut,
        format!(
            "the GPU did not finish the batch within the wait limit of {} ms; its results are abandoned",
            limit.as_millis()
        ),
    )
}

/// Combines each reduction's partials on the host (in f64, in block order) and writes its
/// one result; a reduction over no elements gets its identity.
fn finish_reductions(
    reductions: &[Option<(&'static ReductionOp, usize)>],
    partials: Vec<(usize, f32)>,
    outputs: &mut [&mut [u32]],
) {
    let mut combined: Vec<f64> = reductions
        .iter()
        .map(|r| r.map_or(0.0, |(op, _)| op.combine.identity()))
        .collect();
    for (task, partial) in partials {
        if let Some((op, _)) = reductions[task] {
            combined[task] = op.combine.apply(combined[task], f64::from(partial));
        }
    }
    for ((reduction, value), output) in reductions.iter().zip(combined).zip(outputs.iter_mut()) {
        if let (Some((op, len)), Some(slot)) = (reduction, output.first_mut()) {
            *slot = op.finish(value, *len).to_bits();
        }
    }
}

/// Splits the tasks' outputs into the disjoint runs each slab fills, per slab, sorted by
/// slab offset.
fn output_segments<'o>(staged: &[Staged], outputs: &'o mut [&mut [u32]]) -> Vec<Vec<Segment<'o>>> {
    // (task, task offset, len, slab, slab offset), in output order.
    // A reduction's output is combined from partials, not copied.
    // A resident output (an empty slice here) is written on the GPU.
    let mut pieces: Vec<(usize, usize, usize, usize, u64)> = staged
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.kernel.is_reduction())
        .flat_map(|(slab, s)| {
            s.plan
                .pieces
                .iter()
                .map(move |p| (p.task, p.task_offset, p.len, slab, p.slab_offset))
        })
        .filter(|p| !outputs[p.0].is_empty())
        .collect();
    pieces.sort_unstable();
    let mut per_slab: Vec<Vec<Segment<'o>>> = staged.iter().map(|_| Vec::new()).collect();
    let mut pieces = pieces.into_iter().peekable();
    for (index, output) in outputs.iter_mut().enumerate() {
        let mut rest: &'o mut [u32] = output;
        let mut consumed = 0;
        while let Some((_, offset, len, slab, slab_offset)) = pieces.next_if(|p| p.0 == index) {
            let (_, tail) = std::mem::take(&mut rest).split_at_mut(offset - consumed);
            let (segment, tail) = tail.split_at_mut(len);
            per_slab[slab].push((slab_offset, segment));
            rest = tail;
            consumed = offset + len;
        }
    }
    for segments in &mut per_slab {
        segments.sort_unstable_by_key(|(offset, _)| *offset);
    }
    per_slab
}
