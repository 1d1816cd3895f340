//! Tickets of asynchronous batches: the launched batch plus where its results go.

use std::collections::HashMap;

use crate::PendingBatch;

/// A batch's output arrays, kept as the caller's raw pointers until the ticket completes.
pub struct OutputPointers(Vec<(*mut f32, usize)>);

// SAFETY: the caller promises (documented on gpu_executor_submit_batch_async) that each
// output stays valid and untouched until its ticket completes, from whichever thread
// completes it.
unsafe impl Send for OutputPointers {}

impl OutputPointers {
    pub fn new(outputs: impl Iterator<Item = (*mut f32, usize)>) -> Self {
        Self(outputs.collect())
    }

    /// The outputs as slices again.
    ///
    /// # Safety
    /// Every pointer must still be valid for writes of its length and unaliased.
    pub unsafe fn as_slices<'a>(&self) -> Vec<&'a mut [f32]> {
        self.0
            .iter()
            .map(|&(ptr, len)| std::slice::from_raw_parts_mut(ptr, len))
            .collect()
    }
}

/// A batch on the GPU and its destinations.
pub struct InFlight {
    pub batch: PendingBatch,
    pub outputs: OutputPointers,
}

/// Outstanding tickets of one executor. Ids start at 1; 0 is never a ticket.
#[derive(Default)]
pub struct Tickets {
    last: u64,
    in_flight: HashMap<u64, InFlight>,
}

impl Tickets {
    pub fn issue(&mut self, batch: InFlight) -> u64 {
        self.last += 1;
        self.in_flight.insert(self.last, batch);
        self.last
    }

    pub fn get(&self, ticket: u64) -> Option<&InFlight> {
        self.in_flight.get(&ticket)
    }

    /// Removes the ticket: whoever takes it copies the results out.
    pub fn take(&mut self, ticket: u64) -> Option<InFlight> {
        self.in_flight.remove(&ticket)
    }
}
