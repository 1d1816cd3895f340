//! The safe core: a batch goes in, results come out.
//!
//! `submit` is `launch` then `finish`. `launch` validates every task, plans the batch (group
//! by bucket, then exact size), takes slabs from the pool or the exact-size cache, and hands
//! them to [`pipeline`], which copies the inputs into staging and submits the whole batch
//! once. `finish` waits once and copies the results out, only when the GPU reported no
//! error. Slabs return to their cache after their submission completed.
//!
//! [`pipeline`]: crate::pipeline

use std::sync::Arc;

use crate::bucket::BucketCache;
use crate::config::{Config, Strategy};
use crate::copy::{CopyPool, Segment};
use crate::device::Gpu;
use crate::error::{Error, ErrorKind, Result};
use crate::exact_cache::ExactSizeCache;
use crate::kernel::KernelFactory;
use crate::pending::{PendingBatch, SlabSource, Waiter};
use crate::pipeline::{self, Staged};
use crate::plan::{plan_bucketed, plan_single};
use crate::pool::SlabPool;
use crate::slab::Slab;
use crate::stats::Stats;
use crate::task::{Task, TaskInputs};

/// Largest chunk we plan, whatever the device allows: keeps `vec4` indices in `u32`.
const MAX_CHUNK_ELEMENTS: u64 = 1 << 30;
/// Copy threads used when the options leave it to us (0), at most.
const DEFAULT_MAX_COPY_THREADS: usize = 16;
/// Smallest chunk limit accepted from the options.
pub const MIN_CHUNK_ELEMENTS: u64 = 64;

pub struct Executor {
    gpu: Gpu,
    config: Config,
    chunk: u64,
    /// Threads that copy data between caller memory and staging.
    copy_pool: CopyPool,
    kernels: KernelFactory,
    buckets: BucketCache,
    pool: SlabPool,
    exact: ExactSizeCache,
    stats: Stats,
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

fn validate(tasks: &[TaskInputs]) -> Result<()> {
    for (i, task) in tasks.iter().enumerate() {
        for (k, input) in task.used().iter().enumerate() {
            if input.len() != task.len {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "task {i}: input {k} has {} elements but the output has {}",
                        input.len(),
                        task.len
                    ),
                ));
            }
        }
    }
    Ok(())
}

impl Executor {
    pub fn new(config: Config) -> Result<Self> {
        let gpu = Gpu::open(&config)?;
        let chunk = chunk_limit(&gpu.limits, config.max_chunk_elements)?;
        let kernels = KernelFactory::new(&gpu.device);
        let exact = ExactSizeCache::new(config.exact_size_cache_capacity);
        let copy_pool = CopyPool::new(match config.copy_threads {
            0 => std::thread::available_parallelism()
                .map_or(1, |n| n.get().min(DEFAULT_MAX_COPY_THREADS)),
            n => n,
        });
        Ok(Self {
            gpu,
            config,
            chunk,
            copy_pool,
            kernels,
            buckets: BucketCache::default(),
            pool: SlabPool::default(),
            exact,
            stats: Stats::default(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.gpu.info
    }

    /// Elements one slab (one binding) holds at most; longer tasks are split.
    pub fn chunk_elements(&self) -> u64 {
        self.chunk
    }

    /// Counters, with the current cache sizes filled in.
    pub fn stats(&self) -> Stats {
        let mut stats = self.stats.clone();
        stats.cached_buckets = self.buckets.len() as u64;
        stats.exact_cache_entries = self.exact.len() as u64;
        stats
    }

    /// Sizes of the buckets whose pipelines are cached, ascending.
    pub fn bucket_sizes(&self) -> Vec<u64> {
        self.buckets.bucket_sizes()
    }

    /// The seed's three diagnostic lines.
    pub fn stats_lines(&self) -> [String; 3] {
        let stats = self.stats();
        let sizes = self.bucket_sizes();
        let list: Vec<String> = sizes.iter().map(u64::to_string).collect();
        [
            format!(
                "[gpu] Bucket cache: {} buckets cached: [{}]",
                sizes.len(),
                list.join(", ")
            ),
            format!("[gpu] va_cache: {} exact-size entries", self.exact.len()),
            format!(
                "[gpu] Buffer pool hit rate: {:.2}%",
                stats.pool_hit_rate() * 100.0
            ),
        ]
    }

    /// Runs every task; blocks until all outputs hold their results. On error no output
    /// has been written.
    pub fn submit(&mut self, tasks: &mut [Task]) -> Result<()> {
        let inputs: Vec<TaskInputs> = tasks.iter().map(Task::inputs).collect();
        let pending = self.launch(&inputs)?;
        let mut outputs: Vec<&mut [f32]> = tasks.iter_mut().map(|t| &mut *t.output).collect();
        self.finish(pending, &mut outputs)
    }

    /// Validates the tasks, copies their inputs into staging memory and submits the batch
    /// without waiting for it. The inputs are no longer needed once this returns; the
    /// results are copied out by [`finish`](Self::finish). On error nothing is submitted.
    pub fn launch(&mut self, tasks: &[TaskInputs]) -> Result<PendingBatch> {
        self.gpu.check_not_lost()?;
        validate(tasks)?;
        let lengths: Vec<usize> = tasks.iter().map(|t| t.len).collect();
        let source = self.choose_source(&lengths);
        let total: u64 = lengths.iter().map(|&n| n as u64).sum();

        let capture = self.gpu.capture_errors();
        let mut staged = match source {
            SlabSource::Pool => self.acquire_pooled(&lengths),
            SlabSource::Exact(len) => self.acquire_exact(len),
            SlabSource::Fresh => self.acquire_fresh(&lengths),
        };
        let launched = pipeline::launch(
            &self.gpu,
            &mut staged,
            tasks,
            &self.copy_pool,
            &mut self.stats,
        );
        // Every GPU error of this batch is known here, before any output can be written.
        match (launched, capture.finish(&self.gpu)) {
            (Ok(submission), Ok(())) => Ok(PendingBatch {
                staged,
                source,
                submission,
                lengths,
                total,
            }),
            (Err(error), _) | (_, Err(error)) => {
                self.forget_gpu_state(&error);
                Err(error)
            }
        }
    }

    /// A handle that waits for `pending` without borrowing the executor, so other threads
    /// can use the executor meanwhile.
    pub fn waiter(&self, pending: &PendingBatch) -> Waiter {
        Waiter {
            device: self.gpu.device.clone(),
            submission: pending.submission.clone(),
            readbacks: pending.staged.iter().filter_map(Staged::readback).collect(),
        }
    }

    /// Waits for `pending` to complete, copies its results into `outputs` (one array per
    /// task, of that task's length) and recycles its slabs. On error no output is written.
    pub fn finish(&mut self, pending: PendingBatch, outputs: &mut [&mut [f32]]) -> Result<()> {
        let PendingBatch {
            staged,
            source,
            submission,
            lengths,
            total,
        } = pending;
        let shapes_match = outputs.len() == lengths.len()
            && outputs.iter().zip(&lengths).all(|(o, &n)| o.len() == n);
        if !shapes_match {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "outputs do not match the launched tasks' count and lengths",
            ));
        }
        let result = submission.map_or(Ok(()), |submission| {
            pipeline::wait(&self.gpu, submission, &mut self.stats).and_then(|()| {
                let segments = output_segments(&staged, outputs);
                pipeline::land(
                    &self.gpu,
                    &staged,
                    segments,
                    &self.copy_pool,
                    &mut self.stats,
                )
            })
        });
        if let Err(error) = result {
            self.forget_gpu_state(&error);
            return Err(error);
        }
        self.release(staged, source);

        self.stats.batches += 1;
        self.stats.tasks += lengths.len() as u64;
        self.stats.elements += total;
        self.stats.bytes_uploaded += total * 8;
        self.stats.bytes_read_back += total * 4;
        Ok(())
    }

    fn choose_source(&self, lengths: &[usize]) -> SlabSource {
        match self.config.strategy {
            Strategy::Baseline => SlabSource::Fresh,
            Strategy::Bucketed if self.config.exact_size_cache && lengths.len() == 1 => {
                SlabSource::Exact(lengths[0])
            }
            Strategy::Bucketed => SlabSource::Pool,
        }
    }

    /// Bucketed: tasks grouped by bucket, slabs from the pool, one lookup per bucket.
    fn acquire_pooled(&mut self, lengths: &[usize]) -> Vec<Staged> {
        let mut staged: Vec<Staged> = Vec::new();
        for plan in plan_bucketed(lengths, self.chunk) {
            let kernel = match staged.last() {
                Some(prev) if prev.plan.bucket == plan.bucket => Arc::clone(&prev.kernel),
                _ => self
                    .buckets
                    .get_or_create(plan.bucket, &self.kernels, &mut self.stats),
            };
            let slab = match self.pool.take(plan.capacity, &mut self.stats) {
                Some(slab) => slab,
                None => Slab::new(
                    &self.gpu.device,
                    self.kernels.shared_layout(),
                    plan.capacity,
                    &mut self.stats,
                ),
            };
            staged.push(Staged::new(plan, slab, kernel));
        }
        staged
    }

    /// Single task with the exact-size cache: slabs sized for exactly this length.
    fn acquire_exact(&mut self, len: usize) -> Vec<Staged> {
        let plans = plan_single(0, len, self.chunk);
        let Some(first) = plans.first() else {
            return Vec::new();
        };
        let kernel = self
            .buckets
            .get_or_create(first.bucket, &self.kernels, &mut self.stats);
        let slabs = self.exact.take(len, &mut self.stats).unwrap_or_else(|| {
            plans
                .iter()
                .map(|p| {
                    Slab::new(
                        &self.gpu.device,
                        self.kernels.shared_layout(),
                        p.capacity,
                        &mut self.stats,
                    )
                })
                .collect()
        });
        plans
            .into_iter()
            .zip(slabs)
            .map(|(plan, slab)| Staged::new(plan, slab, Arc::clone(&kernel)))
            .collect()
    }

    /// Baseline: per task, a freshly compiled pipeline and fresh slabs.
    fn acquire_fresh(&mut self, lengths: &[usize]) -> Vec<Staged> {
        let mut staged = Vec::new();
        for (task, &len) in lengths.iter().enumerate() {
            let plans = plan_single(task, len, self.chunk);
            let Some(first) = plans.first() else {
                continue;
            };
            let kernel = Arc::new(self.kernels.create_uncached(first.bucket, &mut self.stats));
            for plan in plans {
                let slab = Slab::new(
                    &self.gpu.device,
                    &kernel.bind_group_layout,
                    plan.capacity,
                    &mut self.stats,
                );
                staged.push(Staged::new(plan, slab, Arc::clone(&kernel)));
            }
        }
        staged
    }

    /// Puts slabs back where they came from; the batch's submission has completed.
    fn release(&mut self, staged: Vec<Staged>, source: SlabSource) {
        let slabs = staged.into_iter().map(|s| s.slab);
        match source {
            SlabSource::Pool => slabs.for_each(|slab| self.pool.give_back(slab)),
            SlabSource::Exact(len) => {
                let slabs: Vec<Slab> = slabs.collect();
                if !slabs.is_empty() {
                    self.exact.put(len, slabs, &mut self.stats);
                }
            }
            SlabSource::Fresh => {}
        }
    }

    /// After a GPU-side failure cached objects may be invalid: drop them all.
    fn forget_gpu_state(&mut self, error: &Error) {
        if matches!(
            error.kind,
            ErrorKind::Gpu | ErrorKind::OutOfMemory | ErrorKind::DeviceLost
        ) {
            self.buckets.clear();
            self.pool.clear();
            self.exact.clear();
        }
    }
}

/// Splits the tasks' outputs into the disjoint runs each slab fills, per slab, sorted by
/// slab offset.
fn output_segments<'o>(staged: &[Staged], outputs: &'o mut [&mut [f32]]) -> Vec<Vec<Segment<'o>>> {
    // (task, task offset, len, slab, slab offset), in output order.
    let mut pieces: Vec<(usize, usize, usize, usize, u64)> = staged
        .iter()
        .enumerate()
        .flat_map(|(slab, s)| {
            s.plan
                .pieces
                .iter()
                .map(move |p| (p.task, p.task_offset, p.len, slab, p.slab_offset))
        })
        .collect();
    pieces.sort_unstable();
    let mut per_slab: Vec<Vec<Segment<'o>>> = staged.iter().map(|_| Vec::new()).collect();
    let mut pieces = pieces.into_iter().peekable();
    for (index, output) in outputs.iter_mut().enumerate() {
        let mut rest: &'o mut [f32] = output;
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
