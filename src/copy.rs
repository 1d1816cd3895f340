//! Host copies between the caller's arrays and mapped staging memory, spread over a
//! persistent pool of copy threads.
//!
//! One thread's memcpy (about 8-10 GB/s) bounds large batches. Each slab's element range is
//! cut into units of about 256 KiB of output, every unit copied through its own mapped view,
//! and the units of all slabs of a batch run in parallel on the executor's rayon pool, which
//! lives as long as the executor so no batch pays for starting threads.

use std::ops::Range;

use rayon::prelude::*;

use crate::error::Result;
use crate::plan::SlabPlan;
use crate::slab::Slab;
use crate::task::TaskInputs;

/// Output bytes per copy unit: big enough to amortise a view and a hand-over to a copy
/// thread, small enough that one slab's copies spread over many threads.
const UNIT_BYTES: u64 = 1 << 18;
/// Output bytes up to which a slab is copied on the calling thread in one unit.
const SERIAL_BYTES: u64 = 1 << 20;

/// Where copies run: the calling thread, or a pool of worker threads.
pub struct CopyPool(Option<rayon::ThreadPool>);

impl CopyPool {
    /// A pool of `threads` workers; with one thread (or if threads cannot start) copies
    /// run on the calling thread.
    pub fn new(threads: usize) -> Self {
        if threads <= 1 {
            return Self(None);
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("gpu_executor copy {i}"))
            .build()
            .ok();
        Self(pool)
    }

    /// Runs `work` on every unit, in parallel when there is a pool and several units.
    fn run<U: Send>(
        &self,
        units: Vec<U>,
        work: impl Fn(U) -> Result<()> + Sync + Send,
    ) -> Result<()> {
        match &self.0 {
            Some(pool) if units.len() > 1 => {
                pool.install(|| units.into_par_iter().try_for_each(work))
            }
            _ => units.into_iter().try_for_each(work),
        }
    }
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

/// A slab's copy units: one for a slab of at most `SERIAL_BYTES` of output (handing
/// small copies to other threads costs more than it saves), else units of `UNIT_BYTES`.
fn unit_ranges(used: u64) -> Vec<Range<u64>> {
    let bytes = used * 4;
    if bytes <= SERIAL_BYTES {
        return split_ranges(used, 1);
    }
    split_ranges(used, bytes.div_ceil(UNIT_BYTES) as usize)
}

/// Copies every piece's inputs into the slabs' upload staging. The caller has checked the
/// staging is mapped and finishes the upload afterwards.
pub fn upload(
    pool: &CopyPool,
    slabs: &mut [(&mut Slab, &SlabPlan)],
    inputs: &[TaskInputs],
) -> Result<()> {
    let mut units = Vec::new();
    for (slab, plan) in slabs.iter_mut() {
        let plan: &SlabPlan = plan;
        // A slab holds tasks of one op, so the first piece tells how many inputs there are.
        let arity = plan.pieces.first().map_or(0, |p| inputs[p.task].arity);
        let ranges = unit_ranges(plan.used);
        let views = slab.upload_views(arity, &ranges)?;
        units.extend(ranges.into_iter().zip(views).map(|(r, v)| (plan, r, v)));
    }
    pool.run(units, |(plan, range, mut views)| {
        // Pieces are in slab order: skip to the first one that reaches this unit.
        let first = plan
            .pieces
            .partition_point(|p| p.slab_offset + p.footprint as u64 <= range.start);
        for p in &plan.pieces[first..] {
            if p.slab_offset >= range.end {
                break;
            }
            // Each array fills its own length of the piece's footprint: all of it for
            // element-wise tasks, A and B of their own sizes for a matmul.
            for (view, array) in views.iter_mut().zip(inputs[p.task].used()) {
                let available = array.len().saturating_sub(p.task_offset).min(p.footprint);
                let start = p.slab_offset.max(range.start);
                let end = (p.slab_offset + available as u64).min(range.end);
                if start >= end {
                    continue;
                }
                let src = p.task_offset + (start - p.slab_offset) as usize;
                let len = (end - start) as usize;
                let dst = (start - range.start) as usize * 4;
                view.write(dst, bytemuck::cast_slice(&array[src..src + len]));
            }
        }
        Ok(())
    })
}

/// Where one run of output elements goes: slab element offset and caller memory.
pub type Segment<'o> = (u64, &'o mut [u32]);

/// Copies each slab's mapped output into its `segments` (per slab: sorted by offset,
/// disjoint). The caller has checked the readbacks are mapped and unmaps them afterwards.
pub fn download(
    pool: &CopyPool,
    slabs: &[(&Slab, u64)],
    segments: Vec<Vec<Segment<'_>>>,
) -> Result<()> {
    let mut units = Vec::new();
    for (i, ((_, used), segments)) in slabs.iter().zip(segments).enumerate() {
        let ranges = unit_ranges(*used);
        let jobs = assign_segments(segments, &ranges);
        units.extend(ranges.into_iter().zip(jobs).map(|(r, job)| (i, r, job)));
    }
    pool.run(units, |(i, range, job)| {
        let view = slabs[i].0.output_view(range.clone())?;
        for (offset, dst) in job {
            let start = (offset - range.start) as usize * 4;
            let len = dst.len() * 4;
            bytemuck::cast_slice_mut::<u32, u8>(dst).copy_from_slice(&view[start..start + len]);
        }
        Ok(())
    })
}

/// Cuts segments at range bounds so each range's unit gets only its own elements.
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
    fn units_are_about_a_quarter_mebibyte() {
        assert_eq!(unit_ranges(100), vec![0..100]);
        // Up to 1 MiB of output (256Ki elements): one unit, on the calling thread.
        assert_eq!(unit_ranges(1 << 18), vec![0..1 << 18]);
        assert_eq!(unit_ranges((1 << 18) + 4).len(), 5);
        assert_eq!(unit_ranges(1 << 20).len(), 16);
    }

    #[test]
    fn segments_are_cut_at_range_bounds() {
        let mut a = [0u32; 10];
        let mut b = [0u32; 6];
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
