//! Running a batch's slabs on the GPU, in waves.
//!
//! A wave is a run of slabs with one command buffer and one submit. Small batches are one
//! wave: copy in, submit, wait, copy out. Large batches are cut into several waves so the
//! host copies of wave k+1 overlap the GPU work and readback of wave k: a second thread
//! waits for each submitted wave and copies its results out while the calling thread
//! uploads the next one (host-to-device and device-to-host PCIe traffic overlap too).

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

use crate::copy::{self, Segment};
use crate::device::Gpu;
use crate::error::{Error, ErrorKind, Result};
use crate::kernel::Kernel;
use crate::plan::SlabPlan;
use crate::slab::{MapRequest, Slab};
use crate::stats::Stats;
use crate::task::TaskInputs;

/// One planned slab with its resources, from acquisition to readback.
pub struct Staged {
    pub plan: SlabPlan,
    pub slab: Slab,
    pub kernel: Arc<Kernel>,
    readback: Option<MapRequest>,
}

impl Staged {
    pub fn new(plan: SlabPlan, slab: Slab, kernel: Arc<Kernel>) -> Self {
        Self {
            plan,
            slab,
            kernel,
            readback: None,
        }
    }
}

/// Time and work counted while running; merged into `Stats` by the executor.
#[derive(Default)]
pub struct RunCounters {
    pub upload_ns: u64,
    pub submit_ns: u64,
    pub wait_ns: u64,
    pub download_ns: u64,
    pub submits: u64,
    pub dispatches: u64,
}

impl RunCounters {
    pub fn add_to(&self, stats: &mut Stats) {
        stats.upload_ns += self.upload_ns;
        stats.submit_ns += self.submit_ns;
        stats.wait_ns += self.wait_ns;
        stats.download_ns += self.download_ns;
        stats.submits += self.submits;
        stats.dispatches += self.dispatches;
    }

    fn merge(&mut self, other: &RunCounters) {
        self.upload_ns += other.upload_ns;
        self.submit_ns += other.submit_ns;
        self.wait_ns += other.wait_ns;
        self.download_ns += other.download_ns;
        self.submits += other.submits;
        self.dispatches += other.dispatches;
    }
}

fn elapsed_ns(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Copies a wave's inputs in, encodes it, submits it and asks for its buffers to be mapped.
pub fn launch(
    gpu: &Gpu,
    wave: &mut [Staged],
    inputs: &[TaskInputs],
    threads: usize,
    counters: &mut RunCounters,
) -> Result<wgpu::SubmissionIndex> {
    let clock = Instant::now();
    for s in wave.iter_mut() {
        copy::upload(&mut s.slab, &s.plan, inputs, threads)?;
    }
    counters.upload_ns += elapsed_ns(clock);

    let clock = Instant::now();
    let mut encoder = gpu
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("gpu_executor wave"),
        });
    for s in wave.iter() {
        s.slab.encode(
            &mut encoder,
            &s.kernel.pipeline,
            s.kernel.workgroup_size,
            s.plan.used,
        );
    }
    let submission = gpu.queue.submit([encoder.finish()]);
    for s in wave.iter_mut() {
        s.readback = Some(s.slab.request_maps(s.plan.used));
    }
    counters.submits += 1;
    counters.dispatches += wave.len() as u64;
    counters.submit_ns += elapsed_ns(clock);
    Ok(submission)
}

/// Blocks until `submission` (and every map callback it enables) has completed.
pub fn wait(
    gpu: &Gpu,
    submission: wgpu::SubmissionIndex,
    counters: &mut RunCounters,
) -> Result<()> {
    let clock = Instant::now();
    let result = gpu
        .device
        .poll(wgpu::PollType::Wait {
            submission_index: Some(submission),
            timeout: None,
        })
        .map(|_| ())
        .map_err(|e| Error::new(ErrorKind::Gpu, format!("waiting for the GPU: {e}")));
    counters.wait_ns += elapsed_ns(clock);
    result?;
    gpu.check_not_lost()
}

/// Checks every readback of `wave` is mapped, then copies them into their segments.
pub fn land<'o>(
    wave: &[Staged],
    segments: impl Iterator<Item = Vec<Segment<'o>>>,
    threads: usize,
    counters: &mut RunCounters,
) -> Result<()> {
    let clock = Instant::now();
    let mut requests = Vec::with_capacity(wave.len());
    for s in wave {
        let request = s
            .readback
            .as_ref()
            .ok_or_else(|| Error::new(ErrorKind::Gpu, "readback was never requested"))?;
        request.ready()?;
        requests.push(request);
    }
    let mut result = Ok(());
    for ((s, request), segments) in wave.iter().zip(requests).zip(segments) {
        result = copy::download(&s.slab, s.plan.used, request, segments, threads);
        if result.is_err() {
            break;
        }
    }
    counters.download_ns += elapsed_ns(clock);
    result
}

/// Runs waves of slabs, overlapping each wave's upload with earlier waves' readback.
/// `wave_lens` gives how many consecutive slabs form each wave. On error, outputs of
/// waves that completed before it may already be written.
pub fn run_pipelined<'o>(
    gpu: &Gpu,
    staged: &mut [Staged],
    wave_lens: &[usize],
    inputs: &[TaskInputs],
    segments: Vec<Vec<Segment<'o>>>,
    threads: usize,
    counters: &mut RunCounters,
) -> Result<()> {
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::channel::<(&[Staged], wgpu::SubmissionIndex)>();
        let lander = scope.spawn(move || {
            let mut counters = RunCounters::default();
            let mut segments = segments.into_iter();
            for (wave, submission) in receiver {
                let result = wait(gpu, submission, &mut counters).and_then(|()| {
                    land(
                        wave,
                        segments.by_ref().take(wave.len()),
                        threads,
                        &mut counters,
                    )
                });
                if result.is_err() {
                    return (result, counters);
                }
            }
            (Ok(()), counters)
        });

        let mut launched = Ok(());
        let mut rest = staged;
        for &len in wave_lens {
            let (wave, tail) = std::mem::take(&mut rest).split_at_mut(len);
            rest = tail;
            match launch(gpu, wave, inputs, threads, counters) {
                Ok(submission) => {
                    if sender.send((&*wave, submission)).is_err() {
                        break; // The lander stopped on an error; it reports it.
                    }
                }
                Err(error) => {
                    launched = Err(error);
                    break;
                }
            }
        }
        drop(sender);
        let (landed, lander_counters) = match lander.join() {
            Ok(outcome) => outcome,
            Err(payload) => std::panic::resume_unwind(payload),
        };
        counters.merge(&lander_counters);
        launched.and(landed)
    })
}
