//! Batches in flight on one handle: the tickets of asynchronous batches, and the output
//! ranges every batch in flight (blocking or asynchronous) will still write.
//!
//! A batch that reads or writes memory another batch in flight will write gets `ALIASING`
//! before anything runs: its inputs would be read while they change, or two batches would
//! write one array in an order nobody chose.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::status::gpu_executor_status_t as S;
use crate::{PendingBatch, Task};

/// A batch's output arrays, kept as the caller's raw pointers until the ticket completes.
pub struct OutputPointers(Vec<(*mut u32, usize)>);

// SAFETY: the caller promises (documented on gpu_executor_submit_batch_async) that each
// output stays valid and untouched until its ticket completes, from whichever thread
// completes it.
unsafe impl Send for OutputPointers {}

impl OutputPointers {
    pub fn new(outputs: impl Iterator<Item = (*mut u32, usize)>) -> Self {
        Self(outputs.collect())
    }

    /// The outputs as slices again.
    ///
    /// # Safety
    /// Every pointer must still be valid for writes of its length and unaliased.
    pub unsafe fn as_slices<'a>(&self) -> Vec<&'a mut [u32]> {
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

/// Ticket ids and blocking batches' claims come from one process-wide counter, so a ticket
/// is never valid on an executor that did not issue it. Starts at 1; 0 is never a ticket.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// One handle's batches in flight.
#[derive(Default)]
pub struct Flights {
    tickets: HashMap<u64, InFlight>,
    /// Per batch in flight (ticket or blocking claim): the byte ranges of its outputs,
    /// sorted and disjoint (they were checked against each other at submission). A few
    /// batches are in flight at a time, so a lookup is a binary search in each.
    writes: Vec<(u64, Vec<(usize, usize)>)>,
}

/// Byte range of a slice, by address.
fn span<T>(slice: &[T]) -> (usize, usize) {
    let start = slice.as_ptr() as usize;
    (start, start + std::mem::size_of_val(slice))
}

/// Whether `[start, end)` overlaps any of `ranges` (sorted, disjoint).
fn overlaps(ranges: &[(usize, usize)], (start, end): (usize, usize)) -> bool {
    // Only the last range starting before `end` can overlap.
    let i = ranges.partition_point(|&(s, _)| s < end);
    i > 0 && ranges[i - 1].1 > start
}

impl Flights {
    /// The batch in flight whose output overlaps `[start, end)`, if any.
    fn writer_of(&self, range: (usize, usize)) -> Option<u64> {
        if range.0 == range.1 {
            return None;
        }
        self.writes
            .iter()
            .find(|(_, ranges)| overlaps(ranges, range))
            .map(|(id, _)| *id)
    }

    /// Checks `tasks` against every batch in flight, then registers their outputs under a
    /// new id, which is returned. Err: the status and message for the first conflict.
    pub fn claim(&mut self, tasks: &[Task]) -> Result<u64, (S, String)> {
        if !self.writes.is_empty() {
            for (i, task) in tasks.iter().enumerate() {
                let arity = task.kind.map_or(0, |kind| kind.arity());
                let arrays = task
                    .inputs
                    .iter()
                    .take(arity)
                    .map(|a| ("an input", span(a)))
                    .chain(std::iter::once(("the output", span(&*task.output))));
                for (what, range) in arrays {
                    if let Some(owner) = self.writer_of(range) {
                        return Err((
                            S::GPU_EXECUTOR_ALIASING,
                            format!(
                                "task {i}: {what} overlaps an output of batch {owner}, which is still in flight; wait for it first"
                            ),
                        ));
                    }
                }
            }
        }
        let id = next_id();
        let mut ranges: Vec<(usize, usize)> = tasks
            .iter()
            .map(|t| span(&*t.output))
            .filter(|(start, end)| start != end)
            .collect();
        ranges.sort_unstable();
        self.writes.push((id, ranges));
        Ok(id)
    }

    /// Forgets the output ranges registered under `id`.
    pub fn release(&mut self, id: u64) {
        if let Some(i) = self.writes.iter().position(|(owner, _)| *owner == id) {
            self.writes.swap_remove(i);
        }
    }

    /// Makes the claimed batch `id` a ticket.
    pub fn issue(&mut self, id: u64, batch: InFlight) {
        self.tickets.insert(id, batch);
    }

    pub fn get(&self, ticket: u64) -> Option<&InFlight> {
        self.tickets.get(&ticket)
    }

    /// Removes the ticket and its claim: whoever takes it copies the results out (or
    /// reports its failure); its outputs are the taker's until then.
    pub fn take(&mut self, ticket: u64) -> Option<InFlight> {
        let taken = self.tickets.remove(&ticket)?;
        self.release(ticket);
        Some(taken)
    }
}

/// A blocking batch's claim, released when the call returns however it returns.
pub struct Claim<'a> {
    flights: &'a Mutex<Flights>,
    id: u64,
}

impl<'a> Claim<'a> {
    pub fn new(flights: &'a Mutex<Flights>, id: u64) -> Self {
        Self { flights, id }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut flights = self
            .flights
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        flights.release(self.id);
    }
}
