//! Batch planning: which task elements go into which slab (seed item 4).
//!
//! Plan A groups a batch's tasks by size bucket, so each bucket's cached pipeline is bound
//! once. Plan B orders each bucket's tasks by exact size, so same-size tasks sit together
//! and share one slab (one set of buffers and one bind group). A task longer than the chunk
//! limit (what one binding may hold) is split into pieces over several slabs. Only tasks of
//! one group (one kernel with the same scalars) share a slab.

use crate::bucket::Buckets;
use crate::kernel::ELEMENTS_PER_INVOCATION;

/// A contiguous run of one task's elements placed in a slab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub task: usize,
    /// First element of the run within the task.
    pub task_offset: usize,
    /// Output elements of the run.
    pub len: usize,
    /// First element of the run within the slab.
    pub slab_offset: u64,
    /// Elements the run reserves in each of the slab's arrays: `len`, or for a
    /// whole-array task (matmul) the longest of its arrays.
    pub footprint: usize,
}

/// One slab's worth of work: one dispatch with one pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlabPlan {
    /// The bucket whose pipeline runs this slab.
    pub bucket: u64,
    /// Elements the dispatch covers (pieces padded to multiples of four).
    pub used: u64,
    /// Size class of the slab to take (elements per array).
    pub capacity: u64,
    pub pieces: Vec<Piece>,
}

/// Pieces start at multiples of four elements so the kernel can use `vec4` loads.
pub fn padded(len: usize) -> u64 {
    (len as u64).div_ceil(ELEMENTS_PER_INVOCATION) * ELEMENTS_PER_INVOCATION
}

struct Packer<'b> {
    chunk: u64,
    /// Most elements of split-able (element-wise) tasks per slab: `chunk`, or less so that a
    /// large batch runs as several slabs whose transfers overlap (see `pipeline`).
    split: u64,
    slabs: Vec<SlabPlan>,
    current: Option<SlabPlan>,
    /// Group of the current slab's tasks.
    group: usize,
    /// Size classes of closed slabs: the ladder's class of their use, or (`None`) their
    /// exact use.
    classes: Option<&'b Buckets>,
}

impl Packer<'_> {
    fn close(&mut self) {
        if let Some(mut slab) = self.current.take() {
            slab.capacity = match self.classes {
                Some(buckets) => buckets.class(slab.used).min(self.chunk),
                None => slab.used,
            };
            self.slabs.push(slab);
        }
    }

    /// Places `task` (of `len` elements, in `group`, run by `bucket`'s pipeline) in
    /// chunk-sized pieces.
    fn add_task(&mut self, task: usize, len: usize, group: usize, bucket: u64) {
        if self
            .current
            .as_ref()
            .is_some_and(|s| s.bucket != bucket || self.group != group)
        {
            self.close();
        }
        self.group = group;
        let split = self.split.min(self.chunk);
        let mut task_offset = 0;
        while task_offset < len {
            let piece_len = (len - task_offset).min(split as usize);
            let need = padded(piece_len);
            if self.current.as_ref().is_some_and(|s| s.used + need > split) {
                self.close();
            }
            let slab = self.current.get_or_insert_with(|| SlabPlan {
                bucket,
                used: 0,
                capacity: 0,
                pieces: Vec::new(),
            });
            slab.pieces.push(Piece {
                task,
                task_offset,
                len: piece_len,
                slab_offset: slab.used,
                footprint: piece_len,
            });
            slab.used += need;
            task_offset += piece_len;
        }
    }

    /// Places a whole-array task (never split): `len` output elements, reserving
    /// `whole.footprint` elements per array (at most the chunk limit), run by the pipeline
    /// of `whole.class`, at most `whole.per_slab` such tasks per slab.
    fn add_whole(&mut self, task: usize, len: usize, whole: Whole, group: usize) {
        let need = padded(whole.footprint);
        let class = whole.class;
        let full = self.current.as_ref().is_some_and(|s| {
            s.bucket != class
                || self.group != group
                || s.used + need > self.chunk
                || s.pieces.len() >= whole.per_slab
        });
        if full {
            self.close();
        }
        self.group = group;
        let slab = self.current.get_or_insert_with(|| SlabPlan {
            bucket: class,
            used: 0,
            capacity: 0,
            pieces: Vec::new(),
        });
        slab.pieces.push(Piece {
            task,
            task_offset: 0,
            len,
            slab_offset: slab.used,
            footprint: whole.footprint,
        });
        slab.used += need;
    }
}

/// How a whole-array task is placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Whole {
    /// Elements reserved per array: the longest of the task's arrays.
    pub footprint: usize,
    /// Pipeline class (matmul: the tile size), in place of the size bucket.
    pub class: u64,
    /// Most such tasks in one slab (matmul: one grid layer each; user kernels: one).
    pub per_slab: usize,
}

/// Most whole-array tasks in one slab: they are the z layers of one dispatch.
pub const MAX_WHOLE_PER_SLAB: usize = 65_535;

/// One task as the planner sees it.
#[derive(Clone, Copy, Debug)]
pub struct PlanItem<G> {
    /// Tasks of one group (one kernel with the same parameters) may share a slab.
    pub group: G,
    /// Output elements (element-wise: also input elements).
    pub len: usize,
    /// For a whole-array task: how it is placed.
    pub whole: Option<Whole>,
}

/// Plans a batch for the bucketed strategy: tasks (each a group and a length) grouped by
/// group, then bucket, then exact size, packed into pooled slabs of `buckets.class(used)`
/// elements (capped at `chunk`). `chunk` must be a multiple of four.
pub fn plan_bucketed<G: Ord>(
    tasks: &[PlanItem<G>],
    chunk: u64,
    buckets: &Buckets,
) -> Vec<SlabPlan> {
    plan_bucketed_among(tasks, (0..tasks.len()).collect(), chunk, chunk, buckets)
}

/// `plan_bucketed` for the tasks of `among` only (indices into `tasks`, which the plan's
/// pieces name): one wave of a batch. Element-wise tasks fill slabs up to `split`
/// elements (at most `chunk`).
pub fn plan_bucketed_among<G: Ord>(
    tasks: &[PlanItem<G>],
    mut order: Vec<usize>,
    chunk: u64,
    split: u64,
    buckets: &Buckets,
) -> Vec<SlabPlan> {
    order.retain(|&i| tasks[i].len > 0);
    // Keys computed once: group first, then bucket, length and position.
    let key = |k: usize| (buckets.bucket(tasks[k].len as u64), tasks[k].len, k);
    order.sort_unstable_by(|&i, &j| {
        tasks[i]
            .group
            .cmp(&tasks[j].group)
            .then_with(|| key(i).cmp(&key(j)))
    });
    let mut packer = Packer {
        chunk,
        split,
        slabs: Vec::new(),
        current: None,
        group: 0,
        classes: Some(buckets),
    };
    // Groups numbered in sorted order: equal neighbours share a number.
    let mut group = 0;
    for (n, &i) in order.iter().enumerate() {
        if n > 0 && tasks[order[n - 1]].group != tasks[i].group {
            group += 1;
        }
        let item = &tasks[i];
        match item.whole {
            Some(whole) => packer.add_whole(i, item.len, whole, group),
            None => packer.add_task(i, item.len, group, buckets.bucket(item.len as u64)),
        }
    }
    packer.close();
    packer.slabs
}

/// Plans one task on its own, in slabs of exactly the size it needs, each at most `split`
/// elements, run by the pipeline of `bucket` (used by the exact-size cache).
pub fn plan_single(task: usize, len: usize, chunk: u64, split: u64, bucket: u64) -> Vec<SlabPlan> {
    plan_alone(task, len, None, chunk, split, bucket)
}

/// `plan_single` for a task that may be whole-array (see [`PlanItem::whole`]), in slabs
/// of up to `chunk` elements (the uncached baseline), run by the pipeline of `bucket`
/// (element-wise) or of the whole-array task's class.
pub fn plan_single_item(
    task: usize,
    len: usize,
    whole: Option<Whole>,
    chunk: u64,
    bucket: u64,
) -> Vec<SlabPlan> {
    plan_alone(task, len, whole, chunk, chunk, bucket)
}

fn plan_alone(
    task: usize,
    len: usize,
    whole: Option<Whole>,
    chunk: u64,
    split: u64,
    bucket: u64,
) -> Vec<SlabPlan> {
    let mut packer = Packer {
        chunk,
        split,
        slabs: Vec::new(),
        current: None,
        group: 0,
        classes: None,
    };
    match whole {
        _ if len == 0 => {}
        Some(whole) => packer.add_whole(task, len, whole, 0),
        None => packer.add_task(task, len, 0, bucket),
    }
    packer.close();
    packer.slabs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(group: u32, len: usize) -> PlanItem<u32> {
        PlanItem {
            group,
            len,
            whole: None,
        }
    }

    #[test]
    fn whole_array_tasks_are_never_split_and_reserve_their_footprint() {
        let whole = |len, footprint| PlanItem {
            group: 7u32,
            len,
            whole: Some(Whole {
                footprint,
                class: 2,
                per_slab: MAX_WHOLE_PER_SLAB,
            }),
        };
        let plan = plan_bucketed(
            &[whole(6, 10), whole(6, 10), whole(6, 10)],
            24,
            &Buckets::default(),
        );
        assert_eq!(plan.len(), 2, "two of 12 elements fit a chunk of 24");
        assert_eq!(plan[0].bucket, 2, "the class picks the pipeline");
        let offsets: Vec<u64> = plan[0].pieces.iter().map(|p| p.slab_offset).collect();
        assert_eq!(offsets, vec![0, 12]);
        assert_eq!(plan[0].pieces[0].len, 6);
        assert_eq!(plan[0].pieces[0].footprint, 10);
    }

    #[test]
    fn groups_by_bucket_then_size() {
        let plan = plan_bucketed(
            &[100, 20_000, 100, 0, 7].map(|n| item(0, n)),
            1 << 20,
            &Buckets::default(),
        );
        assert_eq!(plan.len(), 2);
        assert_eq!(plan[0].bucket, 16_384);
        let order: Vec<usize> = plan[0].pieces.iter().map(|p| p.task).collect();
        assert_eq!(order, vec![4, 0, 2]);
        assert_eq!(plan[0].pieces[1].slab_offset, 8);
        assert_eq!(plan[0].used, 8 + 100 + 100);
        assert_eq!(plan[0].capacity, 16_384);
        assert_eq!(plan[1].bucket, 32_768);
        assert_eq!(plan[1].capacity, 32_768);
    }

    #[test]
    fn groups_never_share_a_slab() {
        let plan = plan_bucketed(
            &[item(2, 100), item(1, 100), item(2, 50), item(1, 20_000)],
            1 << 20,
            &Buckets::default(),
        );
        let tasks: Vec<Vec<usize>> = plan
            .iter()
            .map(|s| s.pieces.iter().map(|p| p.task).collect())
            .collect();
        assert_eq!(tasks, vec![vec![1], vec![3], vec![2, 0]]);
    }

    #[test]
    fn long_tasks_are_chunked() {
        let plan = plan_single(0, 10_000, 4096, 4096, 16_384);
        let lens: Vec<usize> = plan.iter().map(|s| s.pieces[0].len).collect();
        assert_eq!(lens, vec![4096, 4096, 1808]);
        assert_eq!(plan[2].pieces[0].task_offset, 8192);
        assert_eq!(plan[2].capacity, 1808);
    }

    #[test]
    fn empty_tasks_plan_nothing() {
        assert!(plan_bucketed(&[item(0, 0), item(1, 0)], 4096, &Buckets::default()).is_empty());
        assert!(plan_single(0, 0, 4096, 4096, 16_384).is_empty());
    }

    #[test]
    fn the_ladder_sets_buckets_and_classes() {
        let mut buckets = Buckets::new(1024, 4).unwrap();
        let plan = plan_bucketed(&[1000, 1100, 5000].map(|n| item(0, n)), 1 << 20, &buckets);
        let got: Vec<(u64, u64)> = plan.iter().map(|s| (s.bucket, s.capacity)).collect();
        assert_eq!(got, vec![(1024, 1024), (4096, 4096), (16_384, 16_384)]);
        buckets.refine(4096);
        buckets.coarsen();
        // Pipeline rungs 1024, 16K: 1100 and 5000 share a slab of 6100 → class 16K.
        let plan = plan_bucketed(&[1000, 1100, 5000].map(|n| item(0, n)), 1 << 20, &buckets);
        let got: Vec<(u64, u64)> = plan.iter().map(|s| (s.bucket, s.capacity)).collect();
        assert_eq!(got, vec![(1024, 1024), (16_384, 16_384)]);
        // 1100 alone: class 4096 refined into steps of 768 → 1792.
        let plan = plan_bucketed(&[item(0, 1100)], 1 << 20, &buckets);
        assert_eq!(plan[0].capacity, 1792);
    }
}
