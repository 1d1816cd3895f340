//! A batch decoded from the fuzz input, over memory the fuzzer owns.
//!
//! Every pointer handed to the library points into one array (the arena) that this batch
//! owns, sized so that each pointer is valid for its task's length even when shifted by 1-3
//! bytes; pointers may overlap (aliasing) or be NULL. The only lengths that do not fit the
//! arena are the ones whose size in bytes overflows the address space, which the API
//! documents as rejected (`SIZE_OVERFLOW`) before any memory is touched.
//!
//! The oracle lists every documented rejection that applies to the batch; the library must
//! return one of them, or OK with exact CPU results when none applies.

use std::ffi::c_void;
use std::ops::Range;

use gpu_executor::ffi::*;

use crate::check::finding;
use crate::input::{Input, Rng};

use gpu_executor_status_t as S;

/// Written over every output before a call: a float (about 1.5e-30) that `a + b` never
/// produces from the arena's values, which are multiples of 2^-43.
pub const SENTINEL: u32 = 0x0DEC_0DED;

/// Lengths around the bucket, chunk and vec4 boundaries.
const EDGE_LENGTHS: [usize; 21] = [
    3, 4, 5, 63, 64, 65, 255, 256, 257, 1023, 1024, 1025, 16_383, 16_384, 16_385, 32_767, 32_768,
    32_769, 65_535, 65_536, 65_537,
];

/// Bounds on what a batch may contain.
#[derive(Clone, Copy)]
pub struct Limits {
    pub max_tasks: usize,
    /// Longest valid length (lengths are mostly far below it).
    pub max_len: usize,
}

pub const FULL: Limits = Limits {
    max_tasks: 8,
    max_len: 300_000,
};

/// Where one pointer of a task goes.
#[derive(Clone, Copy)]
enum Place {
    Null,
    /// A region of its own in the arena.
    Own,
    /// Into the region of an earlier pointer of the batch, shifted by some words.
    Reuse {
        target: usize,
        shift: isize,
    },
}

#[derive(Clone, Copy)]
struct PtrSpec {
    place: Place,
    /// Bytes added to the pointer: 1-3 make it misaligned.
    misalign: usize,
}

struct TaskSpec {
    op: u32,
    flags: u32,
    params: [u64; 4],
    /// `inputs[2]` and `inputs[3]`: NULL, or (word selector, misalignment) into the arena.
    unused: [Option<(u32, usize)>; 2],
    length: usize,
    /// `length * 4` overflows `isize`: documented SIZE_OVERFLOW, never dereferenced.
    overflow: bool,
    /// inputs[0], inputs[1], output.
    ptrs: [PtrSpec; 3],
}

pub struct Batch {
    /// The memory every pointer of `tasks` points into.
    pub arena: Vec<u32>,
    pub tasks: Vec<gpu_task_t>,
    /// Pass NULL instead of the task array.
    pub null_tasks: bool,
    /// Documented failures that apply; empty when the batch is valid and must succeed.
    pub rejections: Vec<S>,
    /// The arena as it must stay when the batch is rejected.
    pub snapshot: Vec<u32>,
    /// For a valid batch: each output's first word and its CPU results.
    pub sums: Vec<(usize, Vec<u32>)>,
}

fn decode_length(input: &mut Input, limits: Limits) -> (usize, bool) {
    let length = match input.u8() % 32 {
        0..=1 => 0,
        2..=9 => input.range(1, 16),
        10..=19 => input.range(1, 2_000),
        20..=27 => input.range(1, 70_000),
        28..=29 => EDGE_LENGTHS[input.below(EDGE_LENGTHS.len())],
        30 => input.range(70_001, 300_000),
        _ => {
            let smallest = isize::MAX as usize / 4 + 1;
            let length = match input.u8() % 5 {
                0 => usize::MAX,
                1 => usize::MAX / 4 + 1,
                2 => smallest,
                3 => 1 << 62,
                _ => smallest + input.u64() as usize % (usize::MAX - smallest),
            };
            return (length, true);
        }
    };
    (length.min(limits.max_len), false)
}

fn decode_ptr(input: &mut Input) -> PtrSpec {
    let place = match input.u8() % 32 {
        27 => Place::Null,
        28..=30 => {
            let target = input.u8() as usize;
            let shift = match input.u8() % 4 {
                0 => 0,
                1 => input.range(1, 8) as isize,
                2 => -(input.range(1, 8) as isize),
                _ => isize::from(input.u16() as i16),
            };
            Place::Reuse { target, shift }
        }
        _ => Place::Own,
    };
    let misalign = if input.one_in(32) {
        1 + input.below(3)
    } else {
        0
    };
    PtrSpec { place, misalign }
}

fn decode_task(input: &mut Input, limits: Limits) -> TaskSpec {
    // The oracle models GPU_OP_VECTOR_ADD over float; other ops (tests/ops.rs and friends
    // cover them) are replaced by codes just outside the op table.
    let op = match input.u8() % 32 {
        30 => [0, 23, 63, 70, 127, 129][input.below(6)],
        31 => match input.u32() {
            1..=22 | 64..=69 | 128 => 0,
            other => other,
        },
        _ => gpu_op_t::GPU_OP_VECTOR_ADD as u32,
    };
    // Nonzero flags are always invalid for a float add: the int32/uint32 element types
    // (1, 2) become 3, which is none.
    // The buffer-operand bits are masked out: with them the pointers would have to be
    // gpu_region_t records, which this oracle does not model.
    let flags = if input.one_in(32) {
        match input.u32() & !0x1700 {
            0..=2 => 3,
            other => other,
        }
    } else {
        0
    };
    let mut params = [0u64; 4];
    if input.one_in(32) {
        params[input.below(4)] = input.u64();
    }
    let mut unused = [None, None];
    for slot in &mut unused {
        if input.one_in(32) {
            *slot = Some((input.u32(), input.below(4)));
        }
    }
    let (length, overflow) = decode_length(input, limits);
    let ptrs = [decode_ptr(input), decode_ptr(input), decode_ptr(input)];
    TaskSpec {
        op,
        flags,
        params,
        unused,
        length,
        overflow,
        ptrs,
    }
}

// SAFETY: the task pointers point into the batch's own arena, which moves with it (its heap
// buffer does not move), and it is used by one thread at a time.
unsafe impl Send for Batch {}

/// Byte ranges `[start, end)` within the arena.
fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

impl Batch {
    /// Decodes a batch and fills its arena: normal floats, the sentinel over every output.
    pub fn decode(input: &mut Input, limits: Limits) -> Batch {
        let count = match input.u8() % 16 {
            0..=5 => 1,
            6..=9 => 2,
            10..=11 => 3,
            12 => 0,
            13 => input.range(4, limits.max_tasks),
            _ => input.range(0, limits.max_tasks),
        }
        .min(limits.max_tasks);
        let null_tasks = input.one_in(32);
        let specs: Vec<TaskSpec> = (0..count).map(|_| decode_task(input, limits)).collect();
        let seed = input.u64();

        // Lay out the regions: word offset of every pointer (None: NULL).
        let mut used = 0usize;
        let mut placed: Vec<(usize, usize)> = Vec::new(); // (first word, length) of each region
        let mut words: Vec<[Option<usize>; 3]> = Vec::with_capacity(count);
        let mut max_len = 0usize;
        for (k, spec) in specs.iter().enumerate() {
            let len = if spec.overflow { 0 } else { spec.length };
            max_len = max_len.max(len);
            let mut task_words = [None; 3];
            for (j, ptr) in spec.ptrs.iter().enumerate() {
                task_words[j] = match ptr.place {
                    Place::Null => None,
                    Place::Reuse { target, shift } if !placed.is_empty() => {
                        let (start, _) = placed[target % placed.len()];
                        Some(start.saturating_add_signed(shift).min(used))
                    }
                    Place::Own | Place::Reuse { .. } => {
                        // A gap of 0-3 words between regions, from the seed.
                        used += (seed.rotate_left((k * 3 + j) as u32) % 4) as usize;
                        let start = used;
                        used += len + 1; // + 1: room for a misalignment
                        Some(start)
                    }
                };
                if let Some(start) = task_words[j] {
                    placed.push((start, len));
                }
            }
            words.push(task_words);
        }
        // Room behind the last region, so every pointer stays valid for its length.
        let mut arena = vec![0u32; used + max_len + 2];
        let mut rng = Rng::new(seed);
        for word in arena.iter_mut() {
            *word = rng.normal_f32_bits();
        }

        let base = arena.as_mut_ptr().cast::<u8>();
        let at = |word: usize, misalign: usize| -> *mut c_void {
            // SAFETY: word <= used and misalign <= 3: inside the arena (see its size).
            unsafe { base.add(word * 4 + misalign).cast() }
        };
        let mut tasks = Vec::with_capacity(count);
        for (spec, task_words) in specs.iter().zip(&words) {
            let ptr = |j: usize| match task_words[j] {
                Some(word) => at(word, spec.ptrs[j].misalign),
                None => std::ptr::null_mut(),
            };
            let unused = |k: usize| match spec.unused[k] {
                Some((sel, misalign)) => at(sel as usize % (used + 1), misalign).cast_const(),
                None => std::ptr::null(),
            };
            tasks.push(gpu_task_t {
                op: spec.op,
                flags: spec.flags,
                inputs: [
                    ptr(0).cast_const(),
                    ptr(1).cast_const(),
                    unused(0),
                    unused(1),
                ],
                output: ptr(2),
                length: spec.length,
                params: spec.params,
            });
        }

        let mut batch = Batch {
            arena,
            tasks,
            null_tasks,
            rejections: Vec::new(),
            snapshot: Vec::new(),
            sums: Vec::new(),
        };
        batch.rejections = batch.oracle();
        batch.fill_outputs();
        if batch.rejections.is_empty() {
            batch.sums = batch.cpu_results();
        }
        batch.snapshot = batch.arena.clone();
        batch
    }

    /// A batch of no tasks: valid, nothing to compute.
    pub fn empty() -> Batch {
        Batch {
            arena: Vec::new(),
            tasks: Vec::new(),
            null_tasks: false,
            rejections: Vec::new(),
            snapshot: Vec::new(),
            sums: Vec::new(),
        }
    }

    /// The task array argument.
    pub fn tasks_ptr(&self) -> *const gpu_task_t {
        if self.null_tasks {
            std::ptr::null()
        } else {
            self.tasks.as_ptr()
        }
    }

    pub fn count(&self) -> usize {
        self.tasks.len()
    }

    pub fn valid(&self) -> bool {
        self.rejections.is_empty()
    }

    fn base(&self) -> usize {
        self.arena.as_ptr() as usize
    }

    /// Byte range of a task pointer within the arena, for a task whose size is known.
    fn span(&self, ptr: *const c_void, length: usize) -> Option<Range<usize>> {
        if ptr.is_null() || length == 0 {
            return None;
        }
        let start = ptr as usize - self.base();
        Some(start..start + length * 4)
    }

    /// Every documented rejection that applies (the library may report any one of them).
    fn oracle(&self) -> Vec<S> {
        let mut out = Vec::new();
        let mut add = |s: S| {
            if !out.contains(&s) {
                out.push(s);
            }
        };
        if self.null_tasks {
            if !self.tasks.is_empty() {
                add(S::GPU_EXECUTOR_NULL_POINTER);
            }
            // The tasks themselves are never read.
            return out;
        }
        let mut spans: Vec<(Range<usize>, bool)> = Vec::new();
        for t in &self.tasks {
            if t.op != gpu_op_t::GPU_OP_VECTOR_ADD as u32 {
                add(S::GPU_EXECUTOR_UNKNOWN_OP);
            }
            if t.flags != 0 || t.params.iter().any(|&p| p != 0) {
                add(S::GPU_EXECUTOR_INVALID_ARGUMENT);
            }
            if t.inputs[2..].iter().any(|p| !p.is_null()) {
                add(S::GPU_EXECUTOR_INVALID_ARGUMENT);
            }
            let overflow = t
                .length
                .checked_mul(4)
                .is_none_or(|b| b > isize::MAX as usize);
            if overflow {
                add(S::GPU_EXECUTOR_SIZE_OVERFLOW);
                continue;
            }
            if t.length == 0 {
                continue;
            }
            let used = [t.inputs[0], t.inputs[1], t.output.cast_const()];
            for (j, &p) in used.iter().enumerate() {
                if p.is_null() {
                    add(S::GPU_EXECUTOR_NULL_POINTER);
                } else if !(p as usize).is_multiple_of(4) {
                    add(S::GPU_EXECUTOR_MISALIGNED_POINTER);
                }
                if let Some(span) = self.span(p, t.length) {
                    spans.push((span, j == 2));
                }
            }
        }
        // An output may overlap nothing else; inputs may overlap each other.
        let aliased = spans.iter().enumerate().any(|(i, (a, a_out))| {
            spans
                .iter()
                .enumerate()
                .any(|(j, (b, b_out))| i != j && (*a_out || *b_out) && overlaps(a, b))
        });
        if aliased {
            add(S::GPU_EXECUTOR_ALIASING);
        }
        out
    }

    /// Word ranges covering each output the library could write.
    fn output_words(&self) -> Vec<Range<usize>> {
        if self.null_tasks {
            return Vec::new();
        }
        self.tasks
            .iter()
            .filter(|t| {
                t.length
                    .checked_mul(4)
                    .is_some_and(|b| b <= isize::MAX as usize)
            })
            .filter_map(|t| self.span(t.output, t.length))
            .map(|s| s.start / 4..s.end.div_ceil(4).min(self.arena.len()))
            .collect()
    }

    fn fill_outputs(&mut self) {
        for words in self.output_words() {
            self.arena[words].fill(SENTINEL);
        }
    }

    /// `out[i] = a[i] + b[i]` on the CPU, for a valid batch (aligned, disjoint outputs).
    fn cpu_results(&self) -> Vec<(usize, Vec<u32>)> {
        let word = |p: *const c_void| (p as usize - self.base()) / 4;
        self.tasks
            .iter()
            .filter(|t| t.length > 0)
            .map(|t| {
                let (a, b) = (word(t.inputs[0]), word(t.inputs[1]));
                let sums = (0..t.length)
                    .map(|i| {
                        let x = f32::from_bits(self.arena[a + i]);
                        let y = f32::from_bits(self.arena[b + i]);
                        (x + y).to_bits()
                    })
                    .collect();
                (word(t.output.cast_const()), sums)
            })
            .collect()
    }

    /// After an asynchronous submission: rewrites every word that is no output (the inputs
    /// were copied, so the caller may reuse them at once), in the arena and its snapshot.
    pub fn scribble(&mut self, seed: u64) {
        let mut is_output = vec![false; self.arena.len()];
        for (start, sums) in &self.sums {
            is_output[*start..start + sums.len()].fill(true);
        }
        let mut rng = Rng::new(seed);
        for (k, out) in is_output.iter().enumerate() {
            if !out {
                let bits = rng.normal_f32_bits();
                self.arena[k] = bits;
                self.snapshot[k] = bits;
            }
        }
    }

    /// The arena must be exactly as before the call: nothing written.
    #[track_caller]
    pub fn expect_untouched(&self, what: &str) {
        self.compare(&self.snapshot, what, "left untouched");
    }

    /// The arena must hold the CPU results in every output and nothing else changed.
    #[track_caller]
    pub fn expect_results(&self, what: &str) {
        let mut want = self.snapshot.clone();
        for (start, sums) in &self.sums {
            want[*start..start + sums.len()].copy_from_slice(sums);
        }
        self.compare(&want, what, "hold a + b");
    }

    #[track_caller]
    fn compare(&self, want: &[u32], what: &str, promise: &str) {
        let mut diffs = self
            .arena
            .iter()
            .zip(want)
            .enumerate()
            .filter(|(_, (g, w))| g != w);
        let Some((k, (&got, &wanted))) = diffs.next() else {
            return;
        };
        let more = diffs.count();
        let output = self
            .sums
            .iter()
            .position(|(start, s)| (*start..start + s.len()).contains(&k));
        let place = match output {
            Some(i) => format!("output {i}, element {}", k - self.sums[i].0),
            None => "outside any output".to_string(),
        };
        finding(format!(
            "{what}: the arrays should {promise}, but word {k} ({place}) is {got:#010x} ({}) \
             instead of {wanted:#010x} ({}), and {more} more words differ; {} tasks: {:?}",
            f32::from_bits(got),
            f32::from_bits(wanted),
            self.tasks.len(),
            self.describe()
        ));
    }

    /// The tasks, with pointers as arena byte offsets, for reports.
    pub fn describe(&self) -> Vec<String> {
        let off = |p: *const c_void| {
            if p.is_null() {
                "NULL".to_string()
            } else {
                format!("+{}", p as usize - self.base())
            }
        };
        self.tasks
            .iter()
            .map(|t| {
                format!(
                    "op {} flags {} len {} in [{}, {}, {}, {}] out {} params {:?}",
                    t.op,
                    t.flags,
                    t.length,
                    off(t.inputs[0]),
                    off(t.inputs[1]),
                    off(t.inputs[2]),
                    off(t.inputs[3]),
                    off(t.output.cast_const()),
                    t.params
                )
            })
            .collect()
    }
}
