//! Host copies between the caller's arrays and mapped staging memory, split over threads.
//!
//! One thread's memcpy (about 8-10 GB/s) bounds large batches, so a slab's element range
//! is cut into contiguous parts, each copied by its own scoped thread through its own
//! mapped view. Small slabs are copied inline: a thread costs more than it saves.

use std::ops::Range;

use crate::error::Result;
use crate::plan::SlabPlan;
use crate::slab::{MapRequest, Slab};
use crate::task::TaskInputs;

/// Below this many bytes per part, another thread does not pay for itself.
const MIN_BYTES_PER_THREAD: u64 = 2 << 20;

/// How many parts to copy `bytes` in, given the thread budget.
fn parts_for(bytes: u64, max_threads: usize) -> usize {
    let by_size = (bytes / MIN_BYTES_PER_THREAD).max(1);
    (max_threads.max(1) as u64).min(by_size) as usize
}

/// Splits `[0, used)` into `parts` contiguous ranges whose bounds are multiples of four
/// elements (16 bytes, so every mapped view starts at a legal offset).
fn split_ranges(used: u64, parts: usize) -> Vec<Range<u64>> {
    let quads = used.div_ceil(4);
    let parts = (parts as u64).clamp(1, quads.max(1));
    (0..parts)
        .map(|k| (quads * k / parts * 4)..(quads * (k + 1) / parts * 4).min(used))
        .filter(|r| !r.is_empty())
        .collect()
}

/// Runs one closure per item, on scoped threads when there is more than one.
fn run_parts<T: Send>(items: Vec<T>, work: impl Fn(T) -> Result<()> + Sync) -> Result<()> {
    if items.len() <= 1 {
        return items.into_iter().try_for_each(&work);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .into_iter()
            .map(|item| scope.spawn(|| work(item)))
            .collect();
        let mut result = Ok(());
        for handle in handles {
            match handle.join() {
                Ok(r) => result = result.and(r),
                Err(payload) => std::panic::resume_unwind(payload),
            }
        }
        result
    })
}

/// Copies every piece's inputs into the slab's mapped upload buffer, then unmaps it.
pub fn upload(
    slab: &mut Slab,
    plan: &SlabPlan,
    inputs: &[TaskInputs],
    max_threads: usize,
) -> Result<()> {
    slab.ensure_upload_mapped()?;
    // A slab holds tasks of one op, so the first piece tells how many inputs there are.
    let arity = plan.pieces.first().map_or(0, |p| inputs[p.task].arity);
    let parts = parts_for(plan.used * 4 * arity as u64, max_threads);
    let mut jobs = Vec::new();
    for range in split_ranges(plan.used, parts) {
        let views = (0..arity)
            .map(|k| slab.input_view(k, range.clone()))
            .collect::<Result<Vec<_>>>()?;
        jobs.push((range, views));
    }
    run_parts(jobs, |(range, mut views)| {
        for p in &plan.pieces {
            let start = p.slab_offset.max(range.start);
            let end = (p.slab_offset + p.len as u64).min(range.end);
            if start >= end {
                continue;
            }
            let src = p.task_offset + (start - p.slab_offset) as usize;
            let len = (end - start) as usize;
            let dst = (start - range.start) as usize * 4;
            for (view, array) in views.iter_mut().zip(inputs[p.task].used()) {
                let data: &[u8] = bytemuck::cast_slice(&array[src..src + len]);
                view.slice(dst..dst + data.len()).copy_from_slice(data);
            }
        }
        Ok(())
    })?;
    slab.finish_upload(plan.used)
}

/// Where one run of output elements goes: slab element offset and caller memory.
pub type Segment<'o> = (u64, &'o mut [f32]);

/// Copies the slab's mapped output into `segments` (sorted by offset, disjoint), then
/// unmaps the readback buffer.
pub fn download(
    slab: &Slab,
    used: u64,
    request: &MapRequest,
    segments: Vec<Segment<'_>>,
    max_threads: usize,
) -> Result<()> {
    let view = slab.output_view(used, request)?;
    let bytes: &[u8] = &view;
    let ranges = split_ranges(used, parts_for(used * 4, max_threads));
    let jobs = assign_segments(segments, &ranges);
    let result = run_parts(jobs, |job| {
        for (offset, dst) in job {
            let start = offset as usize * 4;
            let len = dst.len() * 4;
            bytemuck::cast_slice_mut::<f32, u8>(dst).copy_from_slice(&bytes[start..start + len]);
        }
        Ok(())
    });
    drop(view);
    slab.finish_readback();
    result
}

/// Cuts segments at range bounds so each range's thread gets only its own elements.
fn assign_segments<'o>(segments: Vec<Segment<'o>>, ranges: &[Range<u64>]) -> Vec<Vec<Segment<'o>>> {
    let mut jobs: Vec<Vec<Segment<'o>>> = ranges.iter().map(|_| Vec::new()).collect();
    let mut k = 0;
    for (mut offset, mut seg) in segments {
        while !seg.is_empty() {
            while k + 1 < ranges.len() && offset >= ranges[k].end {
                k += 1;
            }
            let room = (ranges[k].end.saturating_sub(offset) as usize).max(1);
            if seg.len() <= room || k + 1 == ranges.len() {
                jobs[k].push((offset, seg));
                break;
            }
            let (head, tail) = seg.split_at_mut(room);
            jobs[k].push((offset, head));
            offset += room as u64;
            seg = tail;
        }
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_aligned_and_cover_everything() {
        let r = split_ranges(1003, 4);
        assert_eq!(r.first().map(|r| r.start), Some(0));
        assert_eq!(r.last().map(|r| r.end), Some(1003));
        for w in r.windows(2) {
            assert_eq!(w[0].end, w[1].start);
            assert_eq!(w[0].end % 4, 0);
        }
        assert_eq!(split_ranges(3, 8), vec![0..3]);
    }

    #[test]
    fn thread_count_follows_size() {
        assert_eq!(parts_for(1 << 20, 8), 1);
        assert_eq!(parts_for(64 << 20, 8), 8);
        assert_eq!(parts_for(6 << 20, 8), 3);
        assert_eq!(parts_for(64 << 20, 0), 1);
    }

    #[test]
    fn segments_are_cut_at_range_bounds() {
        let mut a = [0.0f32; 10];
        let mut b = [0.0f32; 6];
        let ranges = vec![0..8, 8..16, 16..20];
        let jobs = assign_segments(vec![(0, &mut a[..]), (12, &mut b[..])], &ranges);
        let shape: Vec<Vec<(u64, usize)>> = jobs
            .iter()
            .map(|j| j.iter().map(|(o, s)| (*o, s.len())).collect())
            .collect();
        assert_eq!(
            shape,
            vec![vec![(0, 8)], vec![(8, 2), (12, 4)], vec![(16, 2)]]
        );
    }
}
