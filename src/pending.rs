//! A batch on its way through the GPU: launched, not yet copied out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::device::Gpu;
use crate::error::{Error, ErrorKind, Result};
use crate::exact_cache::ExactKey;
use crate::ops::ReductionOp;
use crate::pipeline::Staged;
use crate::slab::MapRequest;

/// Where a batch's slabs came from, so they go back to the same place.
#[derive(Clone, Copy)]
pub(crate) enum SlabSource {
    Pool,
    /// The exact-size cache entry for this slab shape and length.
    Exact(ExactKey),
    /// Created for this batch only (the baseline strategy).
    Fresh,
}

/// A batch launched by [`Executor::launch`](crate::Executor::launch) whose results have not been copied out yet.
/// It holds the batch's slabs; dropping it abandons the results.
pub struct PendingBatch {
    pub(crate) staged: Vec<Staged>,
    /// Element-wise groups that ran straight on resident buffers, with their tables.
    pub(crate) direct: Vec<crate::direct::DirectDispatch>,
    pub(crate) source: SlabSource,
    /// `None` when the batch had nothing to run.
    pub(crate) submission: Option<wgpu::SubmissionIndex>,
    /// Completes with the submission, for batches with results that stay on the GPU.
    pub(crate) done: Option<MapRequest>,
    /// Output elements of each task that land in host memory (0 for a resident output).
    pub(crate) lengths: Vec<usize>,
    /// Tasks of the batch.
    pub(crate) task_count: u64,
    /// Each reduction task's op and input length, to combine its partials.
    pub(crate) reductions: Vec<Option<(&'static ReductionOp, usize)>>,
    /// Input elements of all tasks.
    pub(crate) total: u64,
    /// Caller bytes copied in.
    pub(crate) uploaded: u64,
    /// The batch's slab bytes, counted in flight until it is finished or dropped (kept
    /// for its `Drop`).
    pub(crate) _held: crate::budget::Held,
}

impl PendingBatch {
    /// Output length of each task, in launch order.
    pub fn output_lengths(&self) -> &[usize] {
        &self.lengths
    }
}

/// Longest a blocking wait polls before it sleeps in the driver.
const SPIN_LIMIT: Duration = Duration::from_micros(200);

/// Waits for one pending batch on its own, without borrowing the executor.
pub struct Waiter {
    pub(crate) gpu: Arc<Gpu>,
    pub(crate) submission: Option<wgpu::SubmissionIndex>,
    pub(crate) readbacks: Vec<MapRequest>,
}

impl Waiter {
    /// Waits up to `timeout` (`None`: for ever; zero: just checks). `Ok(true)` once the
    /// batch completed and its results can be copied out, `Ok(false)` if the time ran out
    /// first; an error (device lost, a failed readback) when it never will.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        let Some(submission) = &self.submission else {
            return Ok(true);
        };
        let completion = &self.gpu.completion;
        match timeout {
            Some(Duration::ZERO) => {
                completion.poll_now();
                self.state()
            }
            None => {
                if self.spin() {
                    self.gpu.check_not_lost()?;
                    return Ok(true);
                }
                let waited = completion.wait_unbounded(submission);
                self.gpu.check_not_lost()?;
                waited?;
                // The submission completed: its map callbacks may still be settling elsewhere.
                for readback in &self.readbacks {
                    readback.settle(&self.gpu.device)?;
                }
                Ok(true)
            }
            Some(timeout) => {
                let deadline = Instant::now() + timeout;
                completion.wait_until(submission, deadline, || self.state())
            }
        }
    }

    /// Polls for up to `SPIN_LIMIT` until every request completed; true if they did. A
    /// blocking wait hands the thread to the kernel and back, which costs tens of
    /// microseconds on some systems: more than a small batch takes on the GPU.
    fn spin(&self) -> bool {
        if self.readbacks.is_empty() {
            return false;
        }
        let until = Instant::now() + SPIN_LIMIT;
        loop {
            self.gpu.completion.poll_now();
            if self.readbacks.iter().all(MapRequest::is_ready) {
                return true;
            }
            if self.readbacks.iter().any(MapRequest::failed) || Instant::now() >= until {
                return false;
            }
            std::thread::yield_now();
        }
    }

    /// Whether every readback is mapped, without waiting; an error once one never will be.
    fn state(&self) -> Result<bool> {
        self.gpu.check_not_lost()?;
        if self.readbacks.iter().any(MapRequest::failed) {
            return Err(Error::new(
                ErrorKind::Gpu,
                "mapping a readback buffer failed; the results are lost",
            ));
        }
        Ok(self.readbacks.iter().all(MapRequest::is_ready))
    }
}
