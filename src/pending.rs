//! A batch on its way through the GPU: launched, not yet copied out.

use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::pipeline::Staged;
use crate::slab::MapRequest;

/// Where a batch's slabs came from, so they go back to the same place.
pub(crate) enum SlabSource {
    Pool,
    /// The exact-size cache entry for this length.
    Exact(usize),
    /// Created for this batch only (the baseline strategy).
    Fresh,
}

/// A batch launched by [`Executor::launch`](crate::Executor::launch) whose results have not been copied out yet.
/// It holds the batch's slabs; dropping it abandons the results.
pub struct PendingBatch {
    pub(crate) staged: Vec<Staged>,
    pub(crate) source: SlabSource,
    /// `None` when the batch had nothing to run.
    pub(crate) submission: Option<wgpu::SubmissionIndex>,
    pub(crate) lengths: Vec<usize>,
    pub(crate) total: u64,
}

impl PendingBatch {
    /// Output length of each task, in launch order.
    pub fn output_lengths(&self) -> &[usize] {
        &self.lengths
    }
}

/// Waits for one pending batch on its own, without the executor.
pub struct Waiter {
    pub(crate) device: wgpu::Device,
    pub(crate) submission: Option<wgpu::SubmissionIndex>,
    pub(crate) readbacks: Vec<MapRequest>,
}

impl Waiter {
    /// Waits up to `timeout` (`None`: for ever; zero: just checks). `Ok(true)` once the
    /// batch completed, `Ok(false)` if the time ran out first.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        let Some(submission) = self.submission.clone() else {
            return Ok(true);
        };
        let poll = if timeout == Some(Duration::ZERO) {
            wgpu::PollType::Poll
        } else {
            wgpu::PollType::Wait {
                submission_index: Some(submission),
                timeout,
            }
        };
        match self.device.poll(poll) {
            Ok(_) if timeout == Some(Duration::ZERO) => {
                Ok(self.readbacks.iter().all(MapRequest::is_ready))
            }
            // The submission completed: its map callbacks may still be settling elsewhere.
            Ok(_) => self
                .readbacks
                .iter()
                .try_for_each(|r| r.settle(&self.device))
                .map(|()| true),
            Err(wgpu::PollError::Timeout) => Ok(false),
            Err(error) => Err(Error::new(
                ErrorKind::Gpu,
                format!("waiting for the GPU: {error}"),
            )),
        }
    }
}
