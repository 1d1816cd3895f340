//! Ordering a batch whose tasks share resident buffers.
//!
//! Tasks run in batch order as far as anyone can tell: a task that reads a region an
//! earlier task writes runs after it. The batch is cut into waves: a task's wave is one
//! past the latest wave of the tasks whose outputs it reads, so tasks that do not depend
//! on each other stay in one wave and share dispatches, and each wave is encoded after
//! the one before (wgpu puts the barriers between them). A task reading a region that a
//! later task writes has no defined value and is rejected, as are two tasks writing one
//! region; a task may write the very region it reads (in place), not part of it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use crate::error::{Error, ErrorKind, Result};
use crate::task::TaskInputs;

/// One task's access to a buffer: element range and task.
struct Access {
    range: Range<u64>,
    task: usize,
}

/// Hashes buffer handles, which are distinct numbers already: one multiply spreads them.
#[derive(Default)]
struct HandleHasher(u64);

impl Hasher for HandleHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Accesses per buffer handle.
type PerBuffer = HashMap<u64, Vec<Access>, BuildHasherDefault<HandleHasher>>;

fn overlap(a: &Range<u64>, b: &Range<u64>) -> bool {
    a.start < b.end && b.start < a.end && !a.is_empty() && !b.is_empty()
}

/// The wave of every task (0 for tasks without resident operands), or the first conflict.
pub fn waves(tasks: &[TaskInputs]) -> Result<Vec<usize>> {
    let mut wave = vec![0; tasks.len()];
    if !tasks.iter().any(TaskInputs::touches_resident) {
        return Ok(wave);
    }
    let mut reads = PerBuffer::with_capacity_and_hasher(tasks.len() * 2, Default::default());
    let mut writes = PerBuffer::with_capacity_and_hasher(tasks.len(), Default::default());
    for (i, task) in tasks.iter().enumerate() {
        let mut own_reads: Vec<(u64, Range<u64>)> = Vec::new();
        for (k, region) in task.resident.iter().enumerate() {
            let Some(region) = region else { continue };
            let handle = region.buffer.handle;
            let range = region.offset..region.offset + task.input_len(k) as u64;
            for w in writes.get(&handle).into_iter().flatten() {
                if overlap(&w.range, &range) {
                    wave[i] = wave[i].max(wave[w.task] + 1);
                }
            }
            own_reads.push((handle, range));
        }
        if let Some(region) = &task.resident_output {
            let handle = region.buffer.handle;
            let range = region.offset..region.offset + task.output_len() as u64;
            if let Some(r) = reads
                .get(&handle)
                .into_iter()
                .flatten()
                .find(|r| overlap(&r.range, &range))
            {
                return Err(Error::new(
                    ErrorKind::Dependency,
                    format!(
                        "task {} reads elements {}..{} of buffer {handle:#x}, which the later task {i} writes; put the reader after the writer or in another batch",
                        r.task, r.range.start, r.range.end
                    ),
                ));
            }
            if let Some(w) = writes
                .get(&handle)
                .into_iter()
                .flatten()
                .find(|w| overlap(&w.range, &range))
            {
                return Err(Error::new(
                    ErrorKind::Aliasing,
                    format!(
                        "task {i}: its output overlaps the output of task {} in buffer {handle:#x}",
                        w.task
                    ),
                ));
            }
            let partial = own_reads
                .iter()
                .any(|(h, r)| *h == handle && overlap(r, &range) && *r != range);
            if partial {
                return Err(Error::new(
                    ErrorKind::Aliasing,
                    format!(
                        "task {i}: its output partly overlaps one of its inputs in buffer {handle:#x}; in place means the very same region"
                    ),
                ));
            }
            writes
                .entry(handle)
                .or_default()
                .push(Access { range, task: i });
        }
        for (handle, range) in own_reads {
            reads
                .entry(handle)
                .or_default()
                .push(Access { range, task: i });
        }
    }
    Ok(wave)
}
