//! Ordering a batch whose tasks share resident buffers.
//!
//! Tasks run in batch order as far as anyone can tell: a task that reads a region an
//! earlier task writes runs after it. The batch is cut into waves: a task's wave is one
//! past the latest wave of the tasks whose outputs it reads, so tasks that do not depend
//! on each other stay in one wave and share dispatches, and each wave is encoded after
//! the one before (wgpu puts the barriers between them). A task reading a region that a
//! later task writes has no defined value and is rejected, as are two tasks writing one
//! region; a task may write the very region it reads (in place), not part of it.

use std::ops::Range;

use crate::error::{Error, ErrorKind, Result};
use crate::task::TaskInputs;

/// One task's access to a buffer.
#[derive(Clone, Debug)]
struct Access {
    handle: u64,
    range: Range<u64>,
    task: usize,
    write: bool,
}

/// The wave of every task (0 for tasks without resident operands), or the first conflict.
///
/// Every access is listed once and sorted by buffer and start; a sweep over each buffer's
/// accesses meets only the pairs that overlap, so the work is O(n log n) plus the overlaps,
/// and batches whose tasks share no region cost a sort.
pub fn waves(tasks: &[TaskInputs]) -> Result<Vec<usize>> {
    let mut wave = vec![0; tasks.len()];
    if !tasks.iter().any(TaskInputs::touches_resident) {
        return Ok(wave);
    }
    let mut accesses: Vec<Access> = Vec::with_capacity(tasks.len() * 4);
    for (i, task) in tasks.iter().enumerate() {
        for (k, region) in task.resident.iter().enumerate() {
            if let Some(region) = region {
                let start = region.offset;
                accesses.push(Access {
                    handle: region.buffer.handle,
                    range: start..start + task.input_len(k) as u64,
                    task: i,
                    write: false,
                });
            }
        }
        if let Some(region) = &task.resident_output {
            let start = region.offset;
            accesses.push(Access {
                handle: region.buffer.handle,
                range: start..start + task.output_len() as u64,
                task: i,
                write: true,
            });
        }
    }
    accesses.retain(|a| !a.range.is_empty());
    accesses.sort_unstable_by_key(|a| (a.handle, a.range.start));
    // (reader, writer): the reader runs after the writer.
    let mut after: Vec<(usize, usize)> = Vec::new();
    let mut conflict: Option<(usize, Error)> = None;
    let mut active: Vec<usize> = Vec::new();
    for (n, x) in accesses.iter().enumerate() {
        let first_of_buffer = n == 0 || accesses[n - 1].handle != x.handle;
        if first_of_buffer {
            active.clear();
        }
        active.retain(|&p| accesses[p].range.end > x.range.start);
        for &p in &active {
            let y = &accesses[p];
            if let Some(found) = classify(x, y, &mut after) {
                // Report the conflict of the earliest task, whatever the sort met first.
                if conflict.as_ref().is_none_or(|(t, _)| found.0 < *t) {
                    conflict = Some(found);
                }
            }
        }
        active.push(n);
    }
    if let Some((_, error)) = conflict {
        return Err(error);
    }
    after.sort_unstable();
    for (reader, writer) in after {
        wave[reader] = wave[reader].max(wave[writer] + 1);
    }
    Ok(wave)
}

/// Two overlapping accesses of one buffer: an ordering (`after` gets (reader, writer)),
/// nothing (two reads, or in place on the very same region), or a conflict, with the task
/// it is reported against.
fn classify(x: &Access, y: &Access, after: &mut Vec<(usize, usize)>) -> Option<(usize, Error)> {
    let handle = x.handle;
    if !x.write && !y.write {
        return None;
    }
    if x.task == y.task {
        // One task's input and output: in place on the very same region, or a conflict.
        if x.range == y.range {
            return None;
        }
        return Some((
            x.task,
            Error::new(
                ErrorKind::Aliasing,
                format!(
                    "task {}: its output partly overlaps one of its inputs in buffer {handle:#x}; in place means the very same region",
                    x.task
                ),
            ),
        ));
    }
    let (early, late) = if x.task < y.task { (x, y) } else { (y, x) };
    match (early.write, late.write) {
        (true, true) => Some((
            late.task,
            Error::new(
                ErrorKind::Aliasing,
                format!(
                    "task {}: its output overlaps the output of task {} in buffer {handle:#x}",
                    late.task, early.task
                ),
            ),
        )),
        (false, true) => {
            let overlap =
                early.range.start.max(late.range.start)..early.range.end.min(late.range.end);
            Some((
                early.task,
                Error::new(
                    ErrorKind::Dependency,
                    format!(
                        "task {} reads elements {}..{} of buffer {handle:#x}, which the later task {} writes; put the reader after the writer or in another batch",
                        early.task, overlap.start, overlap.end, late.task
                    ),
                ),
            ))
        }
        (true, false) => {
            after.push((late.task, early.task));
            None
        }
        (false, false) => None,
    }
}
