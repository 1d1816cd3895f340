//! Recorded batches: element-wise tasks on resident buffers, validated, ordered and
//! planned once, then submitted as often as wanted.
//!
//! Recording does everything a submission of the tasks would do up to the submit: the
//! checks, the waves, the grouping into direct dispatches, the block tables (copied to the
//! GPU once, at recording) and the bind groups. A submission of the recording then only
//! encodes its dispatches, in one compute pass, and submits: its cost no longer grows with
//! the number of tasks on the host. The recording holds its buffers' memory; a submission
//! checks that none of its buffers was destroyed since (only when some buffer of the
//! executor was).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::buffer::ResidentBuffer;
use crate::direct::DirectDispatch;

/// A recorded batch. It belongs to the executor that recorded it.
pub struct Recording {
    /// The recording executor's id.
    pub(crate) owner: u64,
    /// The dispatches, in wave order, with their tables (already on the GPU).
    pub(crate) dispatches: Vec<DirectDispatch>,
    /// Every buffer the tasks use, once each: their memory stays allocated while the
    /// recording lives.
    pub(crate) buffers: Vec<Arc<ResidentBuffer>>,
    /// The executor's count of destroyed buffers when the buffers were last found live.
    pub(crate) checked: AtomicU64,
    pub(crate) tasks: u64,
    pub(crate) elements: u64,
}

impl Recording {
    /// Tasks recorded.
    pub fn tasks(&self) -> u64 {
        self.tasks
    }

    /// Dispatches one submission runs.
    pub fn dispatches(&self) -> usize {
        self.dispatches.len()
    }

    /// Whether the buffers were checked live at the executor's destroy count `destroyed`.
    pub(crate) fn checked_at(&self, destroyed: u64) -> bool {
        self.checked.load(Ordering::Acquire) == destroyed
    }
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "recording of {} tasks in {} dispatches",
            self.tasks,
            self.dispatches.len()
        )
    }
}
