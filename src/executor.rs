//! The safe core: a batch goes in, results come out.
//!
//! `submit` validates every task, plans the batch (group by bucket, then exact size), takes
//! slabs from the pool or the exact-size cache, copies inputs into mapped staging, encodes
//! every slab into one command buffer, submits once, waits once, and copies results out only
//! when the GPU reported no error. Slabs return to their cache after the submission
//! completed.

use std::sync::Arc;
use std::time::Instant;

use crate::bucket::BucketCache;
use crate::config::{Config, Strategy};
use crate::copy::{self, Segment};
use crate::device::Gpu;
use crate::error::{Error, ErrorKind, Result};
use crate::exact_cache::ExactSizeCache;
use crate::kernel::{Kernel, KernelFactory};
use crate::plan::{plan_bucketed, plan_single, SlabPlan};
use crate::pool::SlabPool;
use crate::slab::{MapRequest, Slab};
use crate::stats::Stats;
use crate::task::Task;

/// Largest chunk we plan, whatever the device allows: keeps `vec4` indices in `u32`.
const MAX_CHUNK_ELEMENTS: u64 = 1 << 30;
/// Copy threads used when the options leave it to us (0), at most.
const DEFAULT_MAX_COPY_THREADS: usize = 8;
/// Smallest chunk limit accepted from the options.
pub const MIN_CHUNK_ELEMENTS: u64 = 64;

/// Where a batch's slabs came from, so they go back to the same place.
enum SlabSource {
    Pool,
    /// The exact-size cache entry for this length.
    Exact(usize),
    /// Created for this batch only (the baseline strategy).
    Fresh,
}

/// One planned slab with its resources, from acquisition to readback.
struct Staged {
    plan: SlabPlan,
    slab: Slab,
    kernel: Arc<Kernel>,
    readback: Option<MapRequest>,
}

pub struct Executor {
    gpu: Gpu,
    config: Config,
    chunk: u64,
    /// Threads a large slab's host copies are split over.
    copy_threads: usize,
    kernels: KernelFactory,
    buckets: BucketCache,
    pool: SlabPool,
    exact: ExactSizeCache,
    stats: Stats,
}

fn elapsed_ns(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
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

fn validate(tasks: &[Task]) -> Result<()> {
    for (i, task) in tasks.iter().enumerate() {
        for (k, input) in task.inputs.iter().take(task.op.arity()).enumerate() {
            if input.len() != task.len() {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "task {i}: input {k} has {} elements but the output has {}",
                        input.len(),
                        task.len()
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
        let copy_threads = match config.copy_threads {
            0 => std::thread::available_parallelism()
                .map_or(1, |n| n.get().min(DEFAULT_MAX_COPY_THREADS)),
            n => n,
        };
        Ok(Self {
            gpu,
            config,
            chunk,
            copy_threads,
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
        self.gpu.check_not_lost()?;
        validate(tasks)?;
        let lengths: Vec<usize> = tasks.iter().map(Task::len).collect();
        let source = self.choose_source(&lengths);

        let capture = self.gpu.capture_errors();
        let staged = self.stage_and_run(tasks, &lengths, &source);
        let gpu_result = capture.finish(&self.gpu);
        let mut staged = match (staged, gpu_result) {
            (Ok(staged), Ok(())) => staged,
            (Err(error), _) | (_, Err(error)) => {
                self.forget_gpu_state(&error);
                return Err(error);
            }
        };

        let clock = Instant::now();
        let copied = copy_outputs(&staged, tasks, self.copy_threads);
        self.stats.download_ns += elapsed_ns(clock);
        if let Err(error) = copied {
            self.forget_gpu_state(&error);
            return Err(error);
        }
        for s in &mut staged {
            s.readback = None;
        }
        self.release(staged, source);

        self.stats.batches += 1;
        self.stats.tasks += tasks.len() as u64;
        let elements: u64 = lengths.iter().map(|&n| n as u64).sum();
        self.stats.elements += elements;
        self.stats.bytes_uploaded += elements * 8;
        self.stats.bytes_read_back += elements * 4;
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

    /// Plans, acquires slabs and kernels, writes inputs, submits once and waits.
    fn stage_and_run(
        &mut self,
        tasks: &[Task],
        lengths: &[usize],
        source: &SlabSource,
    ) -> Result<Vec<Staged>> {
        let mut staged = match *source {
            SlabSource::Pool => self.acquire_pooled(lengths),
            SlabSource::Exact(len) => self.acquire_exact(len),
            SlabSource::Fresh => self.acquire_fresh(lengths),
        };
        if staged.is_empty() {
            return Ok(staged);
        }

        let threads = self.copy_threads;
        let clock = Instant::now();
        for s in &mut staged {
            copy::upload(&mut s.slab, &s.plan, tasks, threads)?;
        }
        self.stats.upload_ns += elapsed_ns(clock);
        let clock = Instant::now();

        let mut encoder = self
            .gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("gpu_executor batch"),
            });
        for s in &staged {
            s.slab.encode(
                &mut encoder,
                &s.kernel.pipeline,
                s.kernel.workgroup_size,
                s.plan.used,
            );
        }
        self.stats.dispatches += staged.len() as u64;
        let submission = self.gpu.queue.submit([encoder.finish()]);
        self.stats.submits += 1;
        for s in &mut staged {
            s.readback = Some(s.slab.request_maps(s.plan.used));
        }
        self.stats.submit_ns += elapsed_ns(clock);
        let clock = Instant::now();
        let waited = self
            .gpu
            .device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submission),
                timeout: None,
            })
            .map_err(|e| Error::new(ErrorKind::Gpu, format!("waiting for the batch: {e}")));
        self.stats.wait_ns += elapsed_ns(clock);
        waited?;
        Ok(staged)
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
            staged.push(Staged {
                plan,
                slab,
                kernel,
                readback: None,
            });
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
            .map(|(plan, slab)| Staged {
                plan,
                slab,
                kernel: Arc::clone(&kernel),
                readback: None,
            })
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
                staged.push(Staged {
                    plan,
                    slab,
                    kernel: Arc::clone(&kernel),
                    readback: None,
                });
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

/// Copies every slab's results into the tasks' outputs, after checking all readbacks
/// mapped, so that either every output is written or none is.
fn copy_outputs(staged: &[Staged], tasks: &mut [Task], threads: usize) -> Result<()> {
    let mut requests = Vec::with_capacity(staged.len());
    for s in staged {
        let request = s
            .readback
            .as_ref()
            .ok_or_else(|| Error::new(ErrorKind::Gpu, "readback was never requested"))?;
        request.ready()?;
        requests.push(request);
    }
    for ((s, request), segments) in staged
        .iter()
        .zip(requests)
        .zip(output_segments(staged, tasks))
    {
        copy::download(&s.slab, s.plan.used, request, segments, threads)?;
    }
    Ok(())
}

/// Splits the tasks' outputs into the disjoint runs each slab fills, per slab, sorted by
/// slab offset.
fn output_segments<'o>(staged: &[Staged], tasks: &'o mut [Task]) -> Vec<Vec<Segment<'o>>> {
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
    for (index, task) in tasks.iter_mut().enumerate() {
        let mut rest: &'o mut [f32] = &mut *task.output;
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
