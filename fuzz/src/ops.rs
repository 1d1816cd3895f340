//! The calls an input can make, each checked against the documentation.

use std::ffi::CStr;
use std::ptr;

use gpu_executor::ffi::*;

use crate::batch::{Batch, Limits, FULL};
use crate::check::{self, finding, known, Known};
use crate::input::Input;
use crate::{Pending, Session, RUNS_PER_CREATE};

use gpu_executor_status_t as S;

/// Written into `*ticket` before a call: must survive a failed submission.
const TICKET_SENTINEL: u64 = 0xFEED_FACE_CAFE_BEEF;
/// Written into `*out` before `gpu_executor_create`: must survive a failure. Never used as
/// a handle.
const HANDLE_SENTINEL: usize = 0xDEAD_0000;
/// Batches on short-lived executors and in threads stay smaller.
pub(crate) const SMALL: Limits = Limits {
    max_tasks: 3,
    max_len: 20_000,
};
/// Statuses a batch that was accepted may still end with (documented; never expected here).
pub(crate) const BATCH_ERRORS: [S; 3] = [
    S::GPU_EXECUTOR_GPU_ERROR,
    S::GPU_EXECUTOR_OUT_OF_MEMORY,
    S::GPU_EXECUTOR_DEVICE_LOST,
];

/// A wait timeout in nanoseconds: no limit, 0, short, medium, huge finite, random.
pub(crate) fn decode_timeout(input: &mut Input) -> u64 {
    match input.u8() % 8 {
        0 | 7 => u64::MAX,
        1 => 0,
        2 => input.range(1, 1_000) as u64,
        3 => input.range(1_000, 1_000_000) as u64,
        4 => input.range(1_000_000, 10_000_000) as u64,
        5 => u64::MAX - 1,
        _ => input.u64(),
    }
}

/// Runs a synchronous batch on `handle` (NULL allowed) and checks it.
pub(crate) fn sync_batch(handle: *mut gpu_executor_t, batch: &Batch, extra: &[S]) {
    // SAFETY: every pointer of the batch points into its arena (see batch.rs).
    let status = unsafe { gpu_executor_submit_batch(handle, batch.tasks_ptr(), batch.count()) };
    let mut allowed = batch.rejections.clone();
    allowed.extend_from_slice(extra);
    if handle.is_null() {
        allowed.push(S::GPU_EXECUTOR_NULL_POINTER);
    }
    let ok = batch.valid() && !handle.is_null();
    check::status("gpu_executor_submit_batch", status, ok, &allowed);
    if status == S::GPU_EXECUTOR_OK {
        batch.expect_results("gpu_executor_submit_batch OK");
    } else {
        batch.expect_untouched(&format!("gpu_executor_submit_batch {status:?}"));
    }
}

/// Submits `batch` asynchronously; returns the ticket when accepted.
pub(crate) fn submit_async(
    handle: *mut gpu_executor_t,
    batch: &Batch,
    null_ticket: bool,
    extra: &[S],
) -> Option<u64> {
    let mut ticket = TICKET_SENTINEL;
    let ticket_ptr: *mut u64 = if null_ticket {
        ptr::null_mut()
    } else {
        &mut ticket
    };
    // SAFETY: as sync_batch; ticket_ptr is NULL or points to a local.
    let status = unsafe {
        gpu_executor_submit_batch_async(handle, batch.tasks_ptr(), batch.count(), ticket_ptr)
    };
    let mut allowed = batch.rejections.clone();
    allowed.extend_from_slice(extra);
    if handle.is_null() || null_ticket {
        allowed.push(S::GPU_EXECUTOR_NULL_POINTER);
    }
    let ok = batch.valid() && !handle.is_null() && !null_ticket;
    check::status("gpu_executor_submit_batch_async", status, ok, &allowed);
    if status != S::GPU_EXECUTOR_OK {
        batch.expect_untouched(&format!("gpu_executor_submit_batch_async {status:?}"));
        if ticket != TICKET_SENTINEL {
            finding(format!(
                "gpu_executor_submit_batch_async {status:?} wrote ticket {ticket}"
            ));
        }
        return None;
    }
    if ticket == 0 || ticket == TICKET_SENTINEL {
        finding(format!(
            "gpu_executor_submit_batch_async OK but the ticket is {ticket:#x}"
        ));
    }
    Some(ticket)
}

/// Where a ticket argument came from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Origin {
    /// In flight on this executor, as far as the fuzzer knows.
    InFlight,
    /// Completed on this executor.
    Spent,
    /// Issued by the other long-lived executor.
    Foreign,
    Zero,
    Random,
}

impl Session<'_, '_> {
    /// Extra statuses allowed on executor `e` (POISONED after a known PANIC).
    pub(crate) fn extra(&self, e: usize) -> Vec<S> {
        if self.shared.execs[e].panicked {
            vec![S::GPU_EXECUTOR_POISONED]
        } else {
            vec![]
        }
    }

    /// The handle of executor `e`, or NULL once in 64 calls.
    fn handle_or_null(&mut self, e: usize) -> *mut gpu_executor_t {
        if self.input.one_in(64) {
            ptr::null_mut()
        } else {
            self.shared.execs[e].handle
        }
    }

    pub(crate) fn op_batch(&mut self) {
        let e = self.pick_exec();
        let handle = self.handle_or_null(e);
        let batch = Batch::decode(&mut self.input, FULL);
        let extra = self.extra(e);
        // Now and then the batch's memory (all of it or a window, so some arrays straddle
        // its ends) is registered first: the same oracle holds, whether the GPU moves the
        // arrays in place or through staging.
        let registered = if !handle.is_null() && extra.is_empty() && self.input.one_in(4) {
            self.register_window(handle, &batch)
        } else {
            None
        };
        sync_batch(handle, &batch, &extra);
        if let Some(start) = registered {
            // SAFETY: a live handle; the pointer is only compared.
            let status = unsafe { gpu_executor_unregister_host_memory(handle, start) };
            check::status("gpu_executor_unregister_host_memory", status, true, &[]);
            // SAFETY: as above.
            let again = unsafe { gpu_executor_unregister_host_memory(handle, start) };
            check::status(
                "gpu_executor_unregister_host_memory(again)",
                again,
                false,
                &[S::GPU_EXECUTOR_INVALID_ARGUMENT],
            );
        }
    }

    /// Registers a window of `batch`'s arena with `handle`; the window's start when it was
    /// registered. An empty window is `INVALID_ARGUMENT`, a device that cannot import host
    /// memory `UNSUPPORTED`; registering the same window twice is `INVALID_ARGUMENT`.
    fn register_window(
        &mut self,
        handle: *mut gpu_executor_t,
        batch: &Batch,
    ) -> Option<*const std::ffi::c_void> {
        let words = batch.arena.len();
        let (from, to) = match self.input.u8() % 4 {
            0 => (0, words),
            1 => (self.input.range(0, words), words),
            2 => (0, self.input.range(0, words)),
            _ => {
                let from = self.input.range(0, words);
                (from, self.input.range(from, words))
            }
        };
        let start = batch
            .arena
            .as_ptr()
            .wrapping_add(from)
            .cast::<std::ffi::c_void>();
        let bytes = ((to - from) * 4) as u64;
        // SAFETY: a live handle; the window lies in the arena, which outlives the
        // registration (unregistered by the caller before the batch is dropped).
        let status = unsafe { gpu_executor_register_host_memory(handle, start, bytes) };
        let allowed = if bytes == 0 {
            [S::GPU_EXECUTOR_INVALID_ARGUMENT]
        } else {
            [S::GPU_EXECUTOR_UNSUPPORTED]
        };
        check::status(
            "gpu_executor_register_host_memory",
            status,
            bytes > 0,
            &allowed,
        );
        if status != S::GPU_EXECUTOR_OK {
            return None;
        }
        // SAFETY: as above.
        let again = unsafe { gpu_executor_register_host_memory(handle, start, bytes) };
        check::status(
            "gpu_executor_register_host_memory(overlap)",
            again,
            false,
            &[S::GPU_EXECUTOR_INVALID_ARGUMENT],
        );
        Some(start)
    }

    pub(crate) fn op_submit_async(&mut self) {
        let e = self.pick_exec();
        let handle = self.handle_or_null(e);
        let null_ticket = self.input.one_in(32);
        let scribble = self.input.u8() % 2 == 1;
        let mut batch = Batch::decode(&mut self.input, FULL);
        let extra = self.extra(e);
        let Some(ticket) = submit_async(handle, &batch, null_ticket, &extra) else {
            return;
        };
        if scribble {
            batch.scribble(ticket ^ 0x5C5C);
        }
        self.issued(e, ticket, batch);
    }

    /// Records a new ticket of executor `e`: it must be new to `e`, and must not name a
    /// batch in flight on the other executor (else that one would have to accept it too).
    fn issued(&mut self, e: usize, ticket: u64, batch: Batch) {
        if !self.shared.execs[e].issued.insert(ticket) {
            finding(format!(
                "gpu_executor_submit_batch_async issued ticket {ticket} a second time"
            ));
        }
        if self.pending[1 - e].iter().any(|p| p.ticket == ticket) {
            known(
                Known::ForeignTicketAccepted,
                format!(
                    "executor {e} issued ticket {ticket}, which is also in flight on executor {}",
                    1 - e
                ),
            );
        }
        self.pending[e].push(Pending {
            ticket,
            batch,
            tainted: false,
        });
    }

    /// Issues empty asynchronous batches on one executor until its tickets reach one in
    /// flight on the other: ticket numbers must not coincide while both are in flight.
    pub(crate) fn op_ticket_probe(&mut self) {
        const MAX_STEPS: usize = 1 << 16;
        let a = self.pick_exec();
        let b = 1 - a;
        let empty = Batch::empty();
        let Some(target) = submit_async(self.shared.execs[a].handle, &empty, false, &[]) else {
            return;
        };
        self.issued(a, target, empty);
        let handle = self.shared.execs[b].handle;
        for _ in 0..MAX_STEPS {
            let empty = Batch::empty();
            let Some(ticket) = submit_async(handle, &empty, false, &[]) else {
                return;
            };
            self.issued(b, ticket, empty);
            if ticket >= target {
                return;
            }
            // Spend it at once: an empty batch is complete on submission.
            // SAFETY: live handle; the batch has no outputs.
            let status = unsafe { gpu_executor_poll(handle, ticket) };
            check::status("gpu_executor_poll(empty batch)", status, true, &[]);
            self.pending[b].pop();
            self.spent[b].push(ticket);
        }
    }

    /// Picks a ticket for executor `e`: one in flight, spent, the other executor's, 0 or
    /// random.
    fn pick_ticket(&mut self, e: usize) -> (u64, Origin) {
        let choice = self.input.u8() % 8;
        let index = self.input.u8() as usize;
        let other = 1 - e;
        match choice {
            0..=3 if !self.pending[e].is_empty() => {
                let p = &self.pending[e][index % self.pending[e].len()];
                (p.ticket, Origin::InFlight)
            }
            4 if !self.spent[e].is_empty() => {
                (self.spent[e][index % self.spent[e].len()], Origin::Spent)
            }
            6 => {
                let random = match index % 3 {
                    0 => u64::from(self.input.u8()),
                    1 => u64::MAX,
                    _ => self.input.u64(),
                };
                (random, Origin::Random)
            }
            7 if !self.pending[other].is_empty() || !self.spent[other].is_empty() => {
                let all: Vec<u64> = self.pending[other]
                    .iter()
                    .map(|p| p.ticket)
                    .chain(self.spent[other].iter().copied())
                    .collect();
                (all[index % all.len()], Origin::Foreign)
            }
            _ => (0, Origin::Zero),
        }
    }

    /// `gpu_executor_wait` (random timeout) or `gpu_executor_poll` on a chosen ticket.
    pub(crate) fn op_wait(&mut self, poll: bool) {
        let e = self.pick_exec();
        let handle = self.handle_or_null(e);
        let (ticket, origin) = self.pick_ticket(e);
        let timeout = if poll {
            0
        } else {
            decode_timeout(&mut self.input)
        };
        let call = if poll {
            format!("gpu_executor_poll(ticket {ticket}, {origin:?})")
        } else {
            format!("gpu_executor_wait(ticket {ticket}, {origin:?}, timeout {timeout} ns)")
        };
        // SAFETY: the outputs of every ticket in flight are alive in self.pending.
        let status = unsafe {
            if poll {
                gpu_executor_poll(handle, ticket)
            } else {
                gpu_executor_wait(handle, ticket, timeout)
            }
        };
        if handle.is_null() {
            check::status(&call, status, false, &[S::GPU_EXECUTOR_NULL_POINTER]);
            return;
        }
        if self.poisoned_allowed(e, status) {
            return;
        }
        let Some(index) = self.pending[e].iter().position(|p| p.ticket == ticket) else {
            // Not in flight on this executor: spent, foreign, 0 or never issued.
            check::status(&call, status, false, &[S::GPU_EXECUTOR_UNKNOWN_TICKET]);
            return;
        };
        let mut allowed = vec![];
        if timeout != u64::MAX {
            allowed.push(S::GPU_EXECUTOR_NOT_READY);
        }
        if BATCH_ERRORS.contains(&status) {
            // Documented, but these batches are small and valid: a finding either way.
            // SAFETY: as above.
            let again = unsafe { gpu_executor_poll(handle, ticket) };
            if again != S::GPU_EXECUTOR_UNKNOWN_TICKET {
                known(
                    Known::FailedTicketNotSpent,
                    format!("{call}: {status:?}, then poll: {again:?}"),
                );
            }
        }
        check::status(&call, status, true, &allowed);
        if origin == Origin::Foreign {
            // Both executors number their tickets alike: the other executor's ticket named
            // a batch of this one.
            known(
                Known::ForeignTicketAccepted,
                format!(
                    "{call} on executor {e}: {status:?} for a ticket of executor {}",
                    1 - e
                ),
            );
        }
        if status == S::GPU_EXECUTOR_OK {
            let p = self.pending[e].remove(index);
            if !p.tainted {
                p.batch.expect_results(&call);
            }
            self.spent[e].push(ticket);
        }
    }

    /// `gpu_executor_create` with fuzzed options: mostly rejected before any device is
    /// opened; now and then a real executor, used briefly and destroyed.
    pub(crate) fn op_create(&mut self) {
        let input = &mut self.input;
        let size = std::mem::size_of::<gpu_executor_options_t>() as u32;
        let mut o = gpu_executor_options_default();
        match input.u8() % 8 {
            5 => o.struct_size = 0,
            6 => {
                let delta = 4 * input.range(1, 8) as u32;
                o.struct_size = if input.u8().is_multiple_of(2) {
                    size + delta
                } else {
                    size - delta
                };
            }
            7 => o.struct_size = input.u32(),
            _ => {}
        }
        o.backend = match input.u8() % 16 {
            0..=9 => 0,
            10..=11 => 1,
            12 => 2,
            13 => 3,
            14 => 4,
            _ => input.u32(),
        };
        o.power_preference = match input.u8() % 8 {
            0..=4 => 0,
            5 => 1,
            6 => 2,
            _ => input.u32(),
        };
        o.strategy = match input.u8() % 8 {
            0..=4 => 1,
            5 => 0,
            _ => input.u32(),
        };
        o.exact_size_cache = match input.u8() % 4 {
            0 => 1,
            1 => 0,
            _ => input.u32(),
        };
        o.exact_size_cache_capacity = match input.u8() % 4 {
            0 => 16,
            1 => 0,
            2 => input.range(1, 4) as u32,
            _ => input.u32(),
        };
        o.max_chunk_elements = match input.u8() % 8 {
            0..=2 => 0,
            3 => input.range(1, 63) as u64,
            4 => input.range(64, 1 << 20) as u64,
            5 => u64::MAX,
            6 => (1 << 30) + input.range(0, 1 << 10) as u64 - 512,
            _ => input.u64(),
        };
        o.copy_threads = match input.u8() % 4 {
            0 => 0,
            1 => 1,
            2 => input.range(2, 8) as u32,
            _ => input.u32(),
        };
        o.min_bucket_elements = match input.u8() % 8 {
            0..=4 => 16_384,
            5 => 1 << input.range(6, 30),
            6 => input.range(0, 1 << 16) as u64,
            _ => input.u64(),
        };
        o.bucket_growth = match input.u8() % 8 {
            0..=4 => 2,
            5 => input.range(2, 16) as u32,
            _ => input.u32(),
        };
        o.adaptive_buckets = match input.u8() % 4 {
            0 => 1,
            1 => input.u32(),
            _ => 0,
        };
        o.staging = match input.u8() % 8 {
            0..=4 => 0,
            5 => 1,
            6 => 2,
            _ => input.u32(),
        };
        let null_options = input.one_in(16);
        let mut null_out = input.one_in(16);
        let wants_device = input.one_in(4);
        let force = input.u8();

        let defects = |o: &gpu_executor_options_t, null_out: bool| {
            let mut d = vec![];
            if null_out {
                d.push(S::GPU_EXECUTOR_NULL_POINTER);
            }
            if null_options {
                return d;
            }
            // The earlier headers' structs end before wait_timeout_ns, before
            // adapter_index, before max_idle_bytes, before staging, before
            // pipeline_cache_dir and before min_bucket_elements; all seven sizes are taken.
            let earlier = [
                std::mem::offset_of!(gpu_executor_options_t, wait_timeout_ns) as u32,
                std::mem::offset_of!(gpu_executor_options_t, adapter_index) as u32,
                std::mem::offset_of!(gpu_executor_options_t, max_idle_bytes) as u32,
                std::mem::offset_of!(gpu_executor_options_t, staging) as u32,
                std::mem::offset_of!(gpu_executor_options_t, pipeline_cache_dir) as u32,
                std::mem::offset_of!(gpu_executor_options_t, min_bucket_elements) as u32,
            ];
            if o.struct_size != size && !earlier.contains(&o.struct_size) {
                // The rest of the struct is not to be read.
                d.push(S::GPU_EXECUTOR_BAD_STRUCT_SIZE);
                return d;
            }
            // `staging` is read only from a struct that has it.
            let has_staging =
                o.struct_size as usize > std::mem::offset_of!(gpu_executor_options_t, staging);
            if o.backend > 4
                || o.power_preference > 2
                || o.strategy > 1
                || (1..64).contains(&o.max_chunk_elements)
                || (has_staging && o.staging > 2)
            {
                d.push(S::GPU_EXECUTOR_INVALID_OPTION);
            }
            // The bucket options are read only from a struct that has them; checked after
            // the others, before a device opens.
            let min = o.min_bucket_elements;
            let bad_min = !min.is_power_of_two() || !(64..=1 << 30).contains(&min);
            let bad_growth = !(2..=16).contains(&o.bucket_growth);
            if o.struct_size == size && (bad_min || bad_growth) {
                d.push(S::GPU_EXECUTOR_INVALID_ARGUMENT);
            }
            d
        };
        let runs = self.shared.runs;
        let may_create = self
            .shared
            .last_create
            .is_none_or(|last| runs - last >= RUNS_PER_CREATE);
        if defects(&o, null_out).is_empty() {
            if wants_device && may_create {
                // Bounded, so a create never starts thousands of threads.
                o.copy_threads %= 257;
            } else {
                // Make it one the library must reject before opening a device.
                match force % 4 {
                    _ if null_options => null_out = true,
                    0 => null_out = true,
                    1 => o.struct_size = 0,
                    2 => o.backend = 1000 + u32::from(force),
                    _ => o.max_chunk_elements = u64::from(force % 63) + 1,
                }
            }
        }
        let rejections = defects(&o, null_out);

        let mut handle: *mut gpu_executor_t = ptr::without_provenance_mut(HANDLE_SENTINEL);
        let out: *mut *mut gpu_executor_t = if null_out {
            ptr::null_mut()
        } else {
            &mut handle
        };
        let options: *const gpu_executor_options_t = if null_options { ptr::null() } else { &o };
        // SAFETY: options is NULL or a whole struct; out is NULL or a local.
        let status = unsafe { gpu_executor_create(options, out) };
        let call = format!("gpu_executor_create({:?})", (!null_options).then_some(o));
        if rejections.is_empty() {
            let backend = if null_options { 0 } else { o.backend };
            let allowed = if backend == 0 || backend == self.shared.backend {
                vec![]
            } else {
                vec![
                    S::GPU_EXECUTOR_NO_ADAPTER,
                    S::GPU_EXECUTOR_DEVICE_REQUEST_FAILED,
                ]
            };
            check::status(&call, status, true, &allowed);
            self.shared.last_create = Some(runs);
        } else {
            check::status(&call, status, false, &rejections);
        }
        if status != S::GPU_EXECUTOR_OK {
            if handle as usize != HANDLE_SENTINEL {
                finding(format!("{call}: {status:?} but *out was written"));
            }
            return;
        }
        if handle.is_null() || handle as usize == HANDLE_SENTINEL {
            finding(format!("{call}: OK but *out is {handle:?}"));
        }
        let strategy = if null_options { 1 } else { o.strategy };
        self.brief_use(handle, strategy);
    }

    /// Uses a freshly created executor briefly, then destroys it, sometimes with a ticket
    /// still in flight (its output must then never be written).
    fn brief_use(&mut self, handle: *mut gpu_executor_t, strategy: u32) {
        let stats = stats_of(handle, "new executor");
        if stats.strategy != strategy || stats.batches != 0 {
            finding(format!(
                "a new executor's stats: strategy {} (asked {strategy}), batches {}",
                stats.strategy, stats.batches
            ));
        }
        if self.input.one_in(8) {
            // SAFETY: live handle.
            let status = unsafe { gpu_executor_print_stats(handle) };
            check::status("gpu_executor_print_stats", status, true, &[]);
        }
        let batch = Batch::decode(&mut self.input, SMALL);
        sync_batch(handle, &batch, &[]);
        let batch = Batch::decode(&mut self.input, SMALL);
        let abandon = self.input.u8().is_multiple_of(2);
        let ticket = submit_async(handle, &batch, false, &[]);
        let mut done = false;
        if let Some(ticket) = ticket {
            // SAFETY: live handle; batch outlives the ticket (destroyed below first).
            let status = unsafe {
                if abandon {
                    gpu_executor_poll(handle, ticket)
                } else {
                    gpu_executor_wait(handle, ticket, u64::MAX)
                }
            };
            let allowed = if abandon {
                vec![S::GPU_EXECUTOR_NOT_READY]
            } else {
                vec![]
            };
            check::status(
                "gpu_executor_wait on a new executor",
                status,
                true,
                &allowed,
            );
            done = status == S::GPU_EXECUTOR_OK;
        }
        // SAFETY: created above, used by no other thread.
        unsafe { gpu_executor_destroy(handle) };
        if ticket.is_some() {
            if done {
                batch.expect_results("a completed ticket, after gpu_executor_destroy");
            } else {
                batch.expect_untouched("a ticket abandoned by gpu_executor_destroy");
            }
        }
    }

    pub(crate) fn op_stats(&mut self) {
        let e = self.pick_exec();
        let handle = self.handle_or_null(e);
        let size = std::mem::size_of::<gpu_executor_stats_t>() as u32;
        let struct_size = match self.input.u8() % 8 {
            6 => 0,
            7 => self.input.u32(),
            _ => size,
        };
        let null_out = self.input.one_in(32);
        let mut stats = filled_stats();
        stats.struct_size = struct_size;
        let before = stats;
        let out: *mut gpu_executor_stats_t = if null_out {
            ptr::null_mut()
        } else {
            &mut stats
        };
        // SAFETY: handle live or NULL; out NULL or a local.
        let status = unsafe { gpu_executor_stats(handle, out) };
        let mut allowed = vec![];
        if handle.is_null() || null_out {
            allowed.push(S::GPU_EXECUTOR_NULL_POINTER);
        }
        if struct_size != size {
            allowed.push(S::GPU_EXECUTOR_BAD_STRUCT_SIZE);
        }
        // OK only when no argument is wrong; POISONED too after a known PANIC.
        let ok = allowed.is_empty();
        allowed.extend(self.extra(e));
        if self.poisoned_allowed(e, status) {
            return;
        }
        check::status("gpu_executor_stats", status, ok, &allowed);
        if status != S::GPU_EXECUTOR_OK {
            if stats != before {
                finding(format!("gpu_executor_stats {status:?} wrote the struct"));
            }
            return;
        }
        self.check_stats(e, &stats);
    }

    fn check_stats(&mut self, e: usize, stats: &gpu_executor_stats_t) {
        let exec = &mut self.shared.execs[e];
        let lookups = stats.pool_hits + stats.pool_misses;
        let rate = if lookups == 0 {
            0.0
        } else {
            stats.pool_hits as f64 / lookups as f64
        };
        let fine = stats.struct_size == std::mem::size_of::<gpu_executor_stats_t>() as u32
            && stats.strategy == exec.options.strategy
            && stats.batches >= exec.last_batches
            && (stats.pool_hit_rate - rate).abs() < 1e-9
            && stats.exact_cache_entries <= u64::from(exec.options.exact_size_cache_capacity);
        if !fine {
            finding(format!(
                "gpu_executor_stats on executor {e} (earlier batches: {}): {stats:?}",
                exec.last_batches
            ));
        }
        exec.last_batches = stats.batches;
    }

    pub(crate) fn op_bucket_sizes(&mut self) {
        let e = self.pick_exec();
        let handle = self.handle_or_null(e);
        let capacity = self.input.below(9);
        let null_sizes = self.input.one_in(16);
        let null_count = self.input.one_in(32);
        const GUARD: u64 = 0xB0B0_B0B0_B0B0_B0B0;
        let mut sizes = vec![GUARD; capacity + 2];
        let mut count = usize::MAX;
        let sizes_ptr = if null_sizes {
            ptr::null_mut()
        } else {
            sizes.as_mut_ptr()
        };
        let count_ptr: *mut usize = if null_count {
            ptr::null_mut()
        } else {
            &mut count
        };
        // SAFETY: sizes holds capacity (+ 2 guard) entries or is NULL; count a local or NULL.
        let status = unsafe { gpu_executor_bucket_sizes(handle, sizes_ptr, capacity, count_ptr) };
        let mut allowed = vec![];
        if handle.is_null() || null_count || (null_sizes && capacity > 0) {
            allowed.push(S::GPU_EXECUTOR_NULL_POINTER);
        }
        // OK only when no argument is wrong; POISONED too after a known PANIC.
        let ok = allowed.is_empty();
        allowed.extend(self.extra(e));
        if self.poisoned_allowed(e, status) {
            return;
        }
        let call = format!("gpu_executor_bucket_sizes(capacity {capacity})");
        check::status(&call, status, ok, &allowed);
        if status != S::GPU_EXECUTOR_OK {
            if count != usize::MAX || sizes.iter().any(|&s| s != GUARD) {
                finding(format!("{call}: {status:?} but wrote {count} / {sizes:?}"));
            }
            return;
        }
        let written = if null_sizes { 0 } else { capacity.min(count) };
        let stats = stats_of(self.shared.execs[e].handle, "after bucket_sizes");
        let listed = &sizes[..written];
        let fine = count as u64 == stats.cached_buckets
            && listed.windows(2).all(|w| w[0] < w[1])
            && listed.iter().all(|&s| s >= 16_384 && s.is_power_of_two())
            && sizes[written..].iter().all(|&s| s == GUARD);
        if !fine {
            finding(format!(
                "{call}: count {count} (stats say {} cached), sizes {sizes:?}",
                stats.cached_buckets
            ));
        }
    }

    pub(crate) fn op_adapter_info(&mut self) {
        let e = self.pick_exec();
        let handle = self.handle_or_null(e);
        let size = std::mem::size_of::<gpu_adapter_info_t>() as u32;
        let struct_size = match self.input.u8() % 8 {
            6 => size - 4,
            7 => self.input.u32(),
            _ => size,
        };
        let null_out = self.input.one_in(32);
        // SAFETY: all-0x5A bytes are a valid gpu_adapter_info_t (integers and chars).
        let mut info: gpu_adapter_info_t = unsafe { std::mem::zeroed() };
        // SAFETY: writes one struct's bytes into it.
        unsafe { ptr::write_bytes(&mut info, 0x5A, 1) };
        info.struct_size = struct_size;
        let out: *mut gpu_adapter_info_t = if null_out { ptr::null_mut() } else { &mut info };
        // SAFETY: handle live or NULL; out NULL or a local.
        let status = unsafe { gpu_executor_adapter_info(handle, out) };
        let mut allowed = vec![];
        if handle.is_null() || null_out {
            allowed.push(S::GPU_EXECUTOR_NULL_POINTER);
        }
        if struct_size != size {
            allowed.push(S::GPU_EXECUTOR_BAD_STRUCT_SIZE);
        }
        // OK only when no argument is wrong; POISONED too after a known PANIC.
        let ok = allowed.is_empty();
        allowed.extend(self.extra(e));
        if self.poisoned_allowed(e, status) {
            return;
        }
        check::status("gpu_executor_adapter_info", status, ok, &allowed);
        let terminated = |s: &[std::ffi::c_char; 256]| s.contains(&0);
        if status != S::GPU_EXECUTOR_OK {
            let untouched = info.backend == 0x5A5A_5A5A && info.name.iter().all(|&c| c == 0x5A);
            if !untouched {
                finding(format!(
                    "gpu_executor_adapter_info {status:?} wrote the struct"
                ));
            }
            return;
        }
        let fine = terminated(&info.name)
            && terminated(&info.driver)
            && terminated(&info.driver_info)
            && info.name[0] != 0
            && (matches!(info.backend, 1..=4 | 255))
            && info.device_type <= 4;
        if !fine {
            finding(format!(
                "gpu_executor_adapter_info: backend {}, device type {}, name terminated {}",
                info.backend,
                info.device_type,
                terminated(&info.name)
            ));
        }
    }

    /// Calls that take no executor, or a NULL one.
    pub(crate) fn op_misc(&mut self) {
        match self.input.u8() % 5 {
            0 => {
                let code = match self.input.u8() % 4 {
                    0 => i32::from(self.input.u8() % 18),
                    1 => -1,
                    _ => self.input.u32() as i32,
                };
                let text = gpu_executor_status_str(code);
                if text.is_null() {
                    finding(format!("gpu_executor_status_str({code}) is NULL"));
                }
                // SAFETY: documented static and NUL-terminated.
                let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
                let unknown = text == "unknown status code";
                if text.is_empty() || unknown == (0..=17).contains(&code) {
                    finding(format!("gpu_executor_status_str({code}) is {text:?}"));
                }
            }
            1 => {
                // SAFETY: documented static and NUL-terminated.
                let version = unsafe { CStr::from_ptr(gpu_executor_version()) }.to_string_lossy();
                let parts: Vec<&str> = version.split('.').collect();
                let numeric = parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok());
                if !numeric {
                    finding(format!("gpu_executor_version() is {version:?}"));
                }
            }
            2 => {
                // INFO and DEBUG are left out: they log every batch, which slows fuzzing.
                let level = match self.input.u8() % 4 {
                    0 => 1,
                    1 => 2,
                    2 => 0,
                    _ => self.input.u32() | 8,
                };
                let status = gpu_executor_set_log_level(level);
                let call = format!("gpu_executor_set_log_level({level})");
                check::status(
                    &call,
                    status,
                    level <= 4,
                    &[S::GPU_EXECUTOR_INVALID_ARGUMENT],
                );
                self.log_level_changed = true;
            }
            3 => null_handle_call(self.input.u8()),
            _ => {
                let o = gpu_executor_options_default();
                let want = gpu_executor_options_t {
                    struct_size: std::mem::size_of::<gpu_executor_options_t>() as u32,
                    backend: 0,
                    power_preference: 0,
                    strategy: 1,
                    exact_size_cache: 1,
                    exact_size_cache_capacity: 16,
                    max_chunk_elements: 0,
                    copy_threads: 0,
                    wait_timeout_ns: 0,
                    adapter_index: GPU_ADAPTER_DEFAULT,
                    max_idle_bytes: 512 << 20,
                    max_in_flight_bytes: 0,
                    staging: 0,
                    pipeline_cache_dir: ptr::null(),
                    min_bucket_elements: 16_384,
                    bucket_growth: 2,
                    adaptive_buckets: 0,
                };
                if o != want {
                    finding(format!("gpu_executor_options_default() is {o:?}"));
                }
            }
        }
    }
}

/// One call that takes an executor, with NULL: NULL_POINTER, nothing written.
fn null_handle_call(which: u8) {
    let null = ptr::null_mut();
    let mut ticket = TICKET_SENTINEL;
    let mut stats = filled_stats();
    stats.struct_size = std::mem::size_of::<gpu_executor_stats_t>() as u32;
    let before = stats;
    let mut count = usize::MAX;
    // SAFETY: zeroed is a valid gpu_adapter_info_t.
    let mut info: gpu_adapter_info_t = unsafe { std::mem::zeroed() };
    info.struct_size = std::mem::size_of::<gpu_adapter_info_t>() as u32;
    // SAFETY: a NULL handle is documented to be rejected; the out pointers are locals.
    let (name, status) = unsafe {
        match which % 8 {
            0 => (
                "submit_batch",
                gpu_executor_submit_batch(null, ptr::null(), 0),
            ),
            1 => (
                "submit_batch_async",
                gpu_executor_submit_batch_async(null, ptr::null(), 0, &mut ticket),
            ),
            2 => ("wait", gpu_executor_wait(null, 1, 0)),
            3 => ("poll", gpu_executor_poll(null, 1)),
            4 => ("stats", gpu_executor_stats(null, &mut stats)),
            5 => (
                "bucket_sizes",
                gpu_executor_bucket_sizes(null, ptr::null_mut(), 0, &mut count),
            ),
            6 => ("adapter_info", gpu_executor_adapter_info(null, &mut info)),
            _ => ("print_stats", gpu_executor_print_stats(null)),
        }
    };
    let call = format!("gpu_executor_{name}(NULL, ...)");
    check::status(&call, status, false, &[S::GPU_EXECUTOR_NULL_POINTER]);
    if ticket != TICKET_SENTINEL || count != usize::MAX || info.name[0] != 0 || stats != before {
        finding(format!("{call} wrote its out argument"));
    }
    // SAFETY: documented no-op.
    unsafe { gpu_executor_destroy(null) };
}

/// A stats struct with every byte 0xA5 (so a write shows), struct_size left to the caller.
fn filled_stats() -> gpu_executor_stats_t {
    let mut stats = gpu_executor_stats_t::default();
    // SAFETY: all-0xA5 bytes are valid for its integer and (non-NaN) float fields.
    unsafe { ptr::write_bytes(&mut stats, 0xA5, 1) };
    stats
}

/// The stats of a live executor; a failure is a finding.
fn stats_of(handle: *mut gpu_executor_t, what: &str) -> gpu_executor_stats_t {
    let mut stats = gpu_executor_stats_t {
        struct_size: std::mem::size_of::<gpu_executor_stats_t>() as u32,
        ..Default::default()
    };
    // SAFETY: live handle, local out struct.
    let status = unsafe { gpu_executor_stats(handle, &mut stats) };
    check::status(&format!("gpu_executor_stats ({what})"), status, true, &[]);
    stats
}
