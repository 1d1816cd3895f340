//! Running a batch's slabs on the GPU: copy the inputs into staging, encode every slab into
//! one command buffer, submit once; later wait once and copy the results out.
//!
//! A large batch of host data is submitted in parts of about a million elements, so that
//! the host copies part k+1 into staging while the GPU pulls, computes and returns part k.
//! That pays once staging is host memory that the GPU reads by DMA (`host_memory`); with
//! wgpu's staging in the GPU's BAR, the host's stores across PCIe were the bottleneck and
//! splitting did not reliably help (docs/BENCHMARKS.md).

use std::sync::Arc;
use std::time::Instant;

use crate::copy::{self, CopyPool, Segment};
use crate::device::Gpu;
use crate::direct::DirectDispatch;
use crate::error::{Error, ErrorKind, Result};
use crate::kernel::{Dispatch, Kernel, KernelKind, REDUCE_GROUP};
use crate::ops::REDUCE_BLOCK;
use crate::plan::{padded, SlabPlan};
use crate::reduce_finish::FinishDispatch;
use crate::slab::{dispatch_grid, Block, MapRequest, ResidentCopy, Slab, SlabIo, PARAMS_WORDS};
use crate::stats::Stats;
use crate::task::{TaskInputs, MAX_SCALARS};

/// One planned slab with its resources, from acquisition to readback.
pub struct Staged {
    pub plan: SlabPlan,
    pub slab: Slab,
    pub kernel: Arc<Kernel>,
    /// The scalars every task of this slab shares.
    pub scalars: [u32; MAX_SCALARS],
    /// A reduction's blocks (empty otherwise), and the task each one belongs to.
    pub blocks: Vec<Block>,
    pub block_tasks: Vec<usize>,
    /// The batch wave it runs in (see `schedule`).
    pub wave: usize,
    /// Its copies from and to resident buffers.
    pub io: SlabIo,
    /// A reduction slab's finish dispatches, for results that go to buffers.
    pub finish: Vec<FinishDispatch>,
    readback: Option<MapRequest>,
    /// For a batch submitted in parts: the submission of this slab's part, and a request
    /// that completes with it (for a slab without a readback request).
    part: Option<(wgpu::SubmissionIndex, Option<MapRequest>)>,
}

/// Works out how a slab meets resident buffers: which input ranges come from staging and
/// which from buffers, and which results go to buffers.
fn slab_io(plan: &SlabPlan, tasks: &[TaskInputs]) -> SlabIo {
    let mut io = SlabIo::default();
    let any_resident = plan.pieces.iter().any(|p| tasks[p.task].touches_resident());
    if !any_resident {
        io.host_output = true;
        return io;
    }
    let arity = plan.pieces.first().map_or(0, |p| tasks[p.task].arity);
    for k in 0..arity {
        let resident = plan
            .pieces
            .iter()
            .any(|p| tasks[p.task].resident[k].is_some());
        if !resident {
            continue;
        }
        let mut runs: Vec<std::ops::Range<u64>> = Vec::new();
        for p in &plan.pieces {
            let task = &tasks[p.task];
            let available = task
                .input_len(k)
                .saturating_sub(p.task_offset)
                .min(p.footprint);
            match &task.resident[k] {
                Some(region) => {
                    if available > 0 {
                        io.copies_in.push(ResidentCopy {
                            input: k,
                            buffer: region.buffer.memory.arena.buffer.clone(),
                            buffer_byte: region.byte_at(p.task_offset as u64),
                            slab_element: p.slab_offset,
                            elements: available as u64,
                        });
                    }
                }
                None => {
                    let run = p.slab_offset..p.slab_offset + padded(p.footprint);
                    match runs.last_mut() {
                        Some(last) if last.end == run.start => last.end = run.end,
                        _ => runs.push(run),
                    }
                }
            }
        }
        io.host_runs[k] = Some(runs);
    }
    for p in &plan.pieces {
        let task = &tasks[p.task];
        match &task.resident_output {
            // A reduction's partials are combined into its buffer by a finish dispatch.
            Some(_) if matches!(task.kind, Some(KernelKind::Reduction(_))) => {}
            Some(region) => io.copies_out.push(ResidentCopy {
                input: 0,
                buffer: region.buffer.memory.arena.buffer.clone(),
                buffer_byte: region.byte_at(p.task_offset as u64),
                slab_element: p.slab_offset,
                elements: p.len as u64,
            }),
            None => io.host_output = true,
        }
    }
    io
}

/// Cuts a reduction slab's pieces into blocks of at most `REDUCE_BLOCK` elements.
fn blocks_of(plan: &SlabPlan) -> (Vec<Block>, Vec<usize>) {
    let mut blocks = Vec::new();
    let mut tasks = Vec::new();
    for piece in &plan.pieces {
        let mut done = 0u64;
        while done < piece.len as u64 {
            let count = (piece.len as u64 - done).min(REDUCE_BLOCK);
            // Slabs hold at most 2^30 elements (the chunk limit), so offsets fit in u32.
            blocks.push(Block {
                first: (piece.slab_offset + done) as u32,
                count: count as u32,
            });
            tasks.push(piece.task);
            done += count;
        }
    }
    (blocks, tasks)
}

impl Staged {
    pub fn new(
        plan: SlabPlan,
        slab: Slab,
        kernel: Arc<Kernel>,
        tasks: &[TaskInputs],
        wave: usize,
    ) -> Self {
        let scalars = plan
            .pieces
            .first()
            .map_or([0; MAX_SCALARS], |p| tasks[p.task].scalars);
        let io = slab_io(&plan, tasks);
        let (blocks, block_tasks) = if kernel.is_reduction() {
            blocks_of(&plan)
        } else {
            (Vec::new(), Vec::new())
        };
        Self {
            plan,
            slab,
            kernel,
            scalars,
            blocks,
            block_tasks,
            wave,
            io,
            finish: Vec::new(),
            readback: None,
            part: None,
        }
    }

    /// The params block: the element count (in vec4s), the block count, or the products'
    /// shape, followed by the tasks' scalars.
    fn params(&self) -> Result<[u32; PARAMS_WORDS]> {
        let words = |n: u64| {
            u32::try_from(n).map_err(|_| {
                Error::new(
                    ErrorKind::SizeOverflow,
                    "slab exceeds the kernel's index range",
                )
            })
        };
        let s = self.scalars;
        Ok(match self.kernel.dispatch {
            Dispatch::PerElement { per_invocation, .. } => {
                // Up to the last piece's last element: a whole-array kernel's count is its
                // task's length, not the length padded to a multiple of four.
                let end = self
                    .plan
                    .pieces
                    .last()
                    .map_or(self.plan.used, |p| p.slab_offset + p.len as u64);
                let units = words(end.div_ceil(u64::from(per_invocation)))?;
                [units, s[0], s[1], s[2], s[3], 0, 0, 0]
            }
            Dispatch::PerBlock => [words(self.blocks.len() as u64)?, 0, 0, 0, 0, 0, 0, 0],
            Dispatch::Tiles(_) => {
                let stride = words(self.stride())?;
                let count = words(self.plan.pieces.len() as u64)?;
                [s[0], s[1], s[2], s[3], stride, count, 0, 0]
            }
        })
    }

    /// Elements between consecutive whole-array tasks of the slab.
    fn stride(&self) -> u64 {
        match self.plan.pieces.as_slice() {
            [first, second, ..] => second.slab_offset - first.slab_offset,
            _ => self.plan.used,
        }
    }

    /// Workgroups to dispatch in x, y and z.
    fn grid(&self, max_groups_x: u32) -> (u32, u32, u32) {
        match self.kernel.dispatch {
            Dispatch::PerElement {
                workgroup_size,
                per_invocation,
            } => {
                let (x, y) = dispatch_grid(
                    self.plan.used.div_ceil(u64::from(per_invocation)),
                    workgroup_size,
                    max_groups_x,
                );
                (x, y, 1)
            }
            Dispatch::PerBlock => {
                let group = u64::from(REDUCE_GROUP);
                let (x, y) =
                    dispatch_grid(self.blocks.len() as u64 * group, REDUCE_GROUP, max_groups_x);
                (x, y, 1)
            }
            Dispatch::Tiles(tile) => {
                let (m, n) = (self.scalars[0], self.scalars[2]);
                (
                    n.div_ceil(tile).max(1),
                    m.div_ceil(tile).max(1),
                    self.plan.pieces.len() as u32,
                )
            }
        }
    }

    /// Bytes the host reads back: every element, or a partial per block; none when every
    /// result goes to a resident buffer.
    fn readback_bytes(&self) -> u64 {
        if self.io.host_output {
            self.result_bytes()
        } else {
            0
        }
    }

    /// Bytes the dispatch leaves for the host: every element, or a partial per block.
    fn result_bytes(&self) -> u64 {
        let elements = if self.kernel.is_reduction() {
            self.blocks.len() as u64
        } else {
            self.plan.used
        };
        elements * 4
    }

    /// The slab's commands: copies in, its dispatch, copies out, its finish dispatches.
    fn encode(&self, encoder: &mut wgpu::CommandEncoder, max_groups_x: u32) {
        self.slab.encode(
            encoder,
            &self.kernel.pipeline,
            self.grid(max_groups_x),
            self.plan.used,
            self.result_bytes(),
            &self.io,
        );
        for finish in &self.finish {
            finish.encode(encoder);
        }
    }

    /// The readback's map request, once the slab was submitted.
    pub fn readback(&self) -> Option<MapRequest> {
        self.readback.clone()
    }

    /// Whether the slab was submitted in a part of its batch (see `launch_streamed`).
    pub fn in_part(&self) -> bool {
        self.part.is_some()
    }

    /// For a batch submitted in parts: what to wait for before this slab's results can be
    /// copied out (its part's submission and the requests that complete with it).
    pub fn part(&self) -> Option<(wgpu::SubmissionIndex, Vec<MapRequest>)> {
        let (submission, done) = self.part.as_ref()?;
        let requests = self.readback.iter().chain(done).cloned().collect();
        Some((submission.clone(), requests))
    }
}

pub fn elapsed_ns(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn command_encoder(gpu: &Gpu) -> wgpu::CommandEncoder {
    gpu.device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("gpu_executor batch"),
        })
}

/// Copies the inputs of `slabs` into their staging, with each slab's params and block table.
fn stage_inputs(
    gpu: &Gpu,
    slabs: &mut [Staged],
    inputs: &[TaskInputs],
    pool: &CopyPool,
    stats: &mut Stats,
) -> Result<()> {
    let clock = Instant::now();
    for s in slabs.iter_mut() {
        s.slab.ensure_upload_mapped(&gpu.device)?;
    }
    let mut views: Vec<(&mut Slab, &SlabPlan)> =
        slabs.iter_mut().map(|s| (&mut s.slab, &s.plan)).collect();
    copy::upload(pool, &mut views, inputs)?;
    for s in slabs.iter_mut() {
        let params = s.params()?;
        s.slab.finish_upload(params, &s.blocks)?;
    }
    stats.upload_ns += elapsed_ns(clock);
    Ok(())
}

/// Copies a batch's inputs in, encodes its slabs and direct dispatches wave by wave,
/// submits it and asks for its buffers to be mapped. Returns `None` for a batch with
/// nothing to run, else the submission and, when direct dispatches ran, a request that
/// completes with the submission.
pub fn launch(
    gpu: &Gpu,
    batch: &mut [Staged],
    direct: &mut [DirectDispatch],
    inputs: &[TaskInputs],
    pool: &CopyPool,
    stream: Option<u64>,
    stats: &mut Stats,
) -> Result<Option<(wgpu::SubmissionIndex, Option<MapRequest>)>> {
    if batch.is_empty() && direct.is_empty() {
        return Ok(None);
    }
    if let Some(group) = stream.filter(|&group| streamable(batch, direct, group)) {
        return launch_streamed(gpu, batch, inputs, pool, group, stats).map(Some);
    }
    stage_inputs(gpu, batch, inputs, pool, stats)?;

    let clock = Instant::now();
    let mut encoder = command_encoder(gpu);
    // Both lists are in wave order; each wave is encoded after the one it reads from.
    let last = batch
        .iter()
        .map(|s| s.wave)
        .chain(direct.iter().map(|d| d.wave))
        .max()
        .unwrap_or(0);
    // Every block table first: they are distinct buffers that no dispatch writes.
    for d in direct.iter() {
        d.encode_table(&mut encoder);
    }
    // Runs of direct dispatches share one compute pass, across waves too: wgpu puts a
    // barrier between two dispatches where one reads what the other writes. A slab
    // (copies, its own pass) ends a run.
    let (mut next_slab, mut next_direct, mut run_start) = (0, 0, 0);
    let flush = |encoder: &mut wgpu::CommandEncoder, run: &[DirectDispatch]| {
        if !run.is_empty() {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("direct dispatches"),
                timestamp_writes: None,
            });
            for d in run {
                d.encode(&mut pass);
            }
        }
    };
    for wave in 0..=last {
        if batch.get(next_slab).is_some_and(|s| s.wave == wave) {
            flush(&mut encoder, &direct[run_start..next_direct]);
            run_start = next_direct;
        }
        while let Some(s) = batch.get(next_slab).filter(|s| s.wave == wave) {
            s.encode(&mut encoder, gpu.max_groups_x);
            next_slab += 1;
        }
        while direct.get(next_direct).is_some_and(|d| d.wave == wave) {
            next_direct += 1;
        }
    }
    flush(&mut encoder, &direct[run_start..next_direct]);
    let submission = gpu.queue.submit([encoder.finish()]);
    for s in batch.iter_mut() {
        s.readback = s.slab.request_maps(s.readback_bytes(), &gpu.completion);
        for finish in &mut s.finish {
            finish.table.request_remap(&gpu.completion);
        }
    }
    for d in direct.iter_mut() {
        d.table.request_remap(&gpu.completion);
    }
    // Direct dispatches, slabs whose results all stay on the GPU and slabs staged in host
    // memory have no readback request to tell when they are done.
    let unread = !direct.is_empty() || batch.iter().any(|s| s.readback.is_none());
    let done = unread.then(|| MapRequest::work_done(&gpu.queue, &gpu.completion));
    stats.submits += 1;
    let finishes: usize = batch.iter().map(|s| s.finish.len()).sum();
    stats.dispatches += (batch.len() + direct.len() + finishes) as u64;
    stats.direct_dispatches += direct.len() as u64;
    stats.submit_ns += elapsed_ns(clock);
    Ok(Some((submission, done)))
}

/// Whether a batch runs as several submissions of about `group` elements each: more than
/// one group's worth of slabs of host data only, all in one wave.
fn streamable(batch: &[Staged], direct: &[DirectDispatch], group: u64) -> bool {
    batch.iter().map(|s| s.plan.used).sum::<u64>() > group
        && direct.is_empty()
        && batch.iter().all(|s| {
            s.wave == 0
                && s.io.host_output
                && s.io.copies_in.is_empty()
                && s.io.copies_out.is_empty()
                && s.io.host_runs.iter().all(Option::is_none)
                && s.finish.is_empty()
        })
}

/// `launch` for a streamable batch: consecutive slabs in groups of at least `group`
/// elements, each group copied in, encoded and submitted on its own, so that group k+1 is
/// copied in while the GPU transfers and computes group k.
fn launch_streamed(
    gpu: &Gpu,
    batch: &mut [Staged],
    inputs: &[TaskInputs],
    pool: &CopyPool,
    group: u64,
    stats: &mut Stats,
) -> Result<(wgpu::SubmissionIndex, Option<MapRequest>)> {
    let mut last = None;
    let mut rest = &mut batch[..];
    while !rest.is_empty() {
        let mut end = 0;
        let mut used = 0;
        while end < rest.len() && (end == 0 || used < group) {
            used += rest[end].plan.used;
            end += 1;
        }
        let (slabs, tail) = rest.split_at_mut(end);
        rest = tail;

        stage_inputs(gpu, slabs, inputs, pool, stats)?;

        let clock = Instant::now();
        let mut encoder = command_encoder(gpu);
        for s in slabs.iter() {
            s.encode(&mut encoder, gpu.max_groups_x);
        }
        let submission = gpu.queue.submit([encoder.finish()]);
        for s in slabs.iter_mut() {
            s.readback = s.slab.request_maps(s.readback_bytes(), &gpu.completion);
        }
        // Each part can be copied out as soon as it completed, while later parts run.
        let done = slabs
            .iter()
            .any(|s| s.readback.is_none())
            .then(|| MapRequest::work_done(&gpu.queue, &gpu.completion));
        for s in slabs.iter_mut() {
            s.part = Some((submission.clone(), done.clone()));
        }
        last = Some(submission);
        stats.submits += 1;
        stats.dispatches += slabs.len() as u64;
        stats.submit_ns += elapsed_ns(clock);
    }
    let submission =
        last.ok_or_else(|| Error::new(ErrorKind::Gpu, "a streamed batch without slabs"))?;
    // Submissions complete in order: the last one tells for slabs without a readback.
    let done = batch
        .iter()
        .any(|s| s.readback.is_none())
        .then(|| MapRequest::work_done(&gpu.queue, &gpu.completion));
    Ok((submission, done))
}

/// Checks every readback is mapped, then copies the element-wise slabs' results into their
/// segments (one list per slab; a reduction slab's is empty) and returns the reduction
/// slabs' partials as (task, partial).
pub fn land(
    gpu: &Gpu,
    staged: &[Staged],
    segments: Vec<Vec<Segment<'_>>>,
    pool: &CopyPool,
    stats: &mut Stats,
) -> Result<Vec<(usize, f32)>> {
    let clock = Instant::now();
    for s in staged.iter().filter(|s| s.io.host_output) {
        match &s.readback {
            Some(request) => request.settle(&gpu.device)?,
            // Host staging is readable once the submission completed (the caller waited).
            None if s.slab.host_staged() => {}
            None => return Err(Error::new(ErrorKind::Gpu, "readback was never requested")),
        }
    }
    let mut partials = Vec::new();
    let mut elementwise = Vec::new();
    let mut element_segments = Vec::new();
    let mut result = Ok(());
    for (s, segs) in staged.iter().zip(segments) {
        if !s.io.host_output {
            continue;
        }
        if s.kernel.is_reduction() {
            match s.slab.output_view(0..s.blocks.len() as u64) {
                Ok(view) => {
                    let values: &[f32] = bytemuck::cast_slice(&view);
                    partials.extend(s.block_tasks.iter().copied().zip(values.iter().copied()));
                }
                Err(error) => result = Err(error),
            }
        } else {
            elementwise.push((&s.slab, s.plan.used));
            element_segments.push(segs);
        }
    }
    if result.is_ok() {
        result = copy::download(pool, &elementwise, element_segments);
    }
    for s in staged.iter().filter(|s| s.io.host_output) {
        s.slab.finish_readback();
    }
    stats.download_ns += elapsed_ns(clock);
    result.map(|()| partials)
}
