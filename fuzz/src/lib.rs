//! Fuzzes gpu_executor's C API. [`run`] reads one input as a short program of C calls
//! (batches, asynchronous batches and their tickets, options, stats, NULL arguments,
//! threads sharing a handle) over memory it owns, and checks every result against the
//! documentation and the CPU. A broken promise panics with [`FINDING`] in its message.
//!
//! Creating an executor costs about 100 ms on lavapipe, so batches run on two long-lived
//! executors (defaults, and small chunks with a tiny exact-size cache); options are fuzzed
//! mostly through values the library must reject before opening a device, with an
//! occasional real create/destroy.
//!
//! Every ticket an input issues is completed before the input ends (or its executor is
//! destroyed first), so outputs always outlive their tickets, and an input replays alone.

mod batch;
mod check;
mod input;
mod ops;
mod threads;

use std::collections::HashSet;
use std::sync::Mutex;

use gpu_executor::ffi::*;

pub use check::{known_hits, lenient, tallies, Known, FINDING};
pub use input::Rng;

use batch::Batch;
use input::Input;

use gpu_executor_status_t as S;

/// At most this many calls per input, so one input stays short.
const MAX_OPS: usize = 24;
/// Inputs between two real executor creations (each costs ~100 ms on lavapipe).
const RUNS_PER_CREATE: u64 = 256;

/// One of the long-lived executors.
struct Exec {
    handle: *mut gpu_executor_t,
    options: gpu_executor_options_t,
    /// Every ticket it issued: a new one must differ from all of them.
    issued: HashSet<u64>,
    /// Counters never go down.
    last_batches: u64,
    /// A call on it returned PANIC (report mode only): POISONED may follow.
    panicked: bool,
}

impl Exec {
    fn create(options: gpu_executor_options_t) -> Exec {
        let mut handle = std::ptr::null_mut();
        // SAFETY: valid options and out pointer.
        let status = unsafe { gpu_executor_create(&options, &mut handle) };
        if status != S::GPU_EXECUTOR_OK || handle.is_null() {
            // Not a finding: the fuzzer cannot run without a device.
            panic!(
                "cannot create the executor to fuzz: {status:?}: {}",
                check::last_error()
            );
        }
        Exec {
            handle,
            options,
            issued: HashSet::new(),
            last_batches: 0,
            panicked: false,
        }
    }
}

/// State that outlives one input: the executors and when one was last created.
struct Shared {
    execs: [Exec; 2],
    /// The adapter's backend: creating with it (or ANY) must succeed.
    backend: u32,
    runs: u64,
    last_create: Option<u64>,
}

// SAFETY: executor handles are documented thread-safe; Shared sits behind a Mutex.
unsafe impl Send for Shared {}

impl Shared {
    fn start() -> Shared {
        if check::lenient() {
            // libFuzzer's hook aborts on any panic, even one the library catches and turns
            // into GPU_EXECUTOR_PANIC; report mode must see that status. Findings still
            // abort: libfuzzer-sys aborts when a panic leaves the fuzz target.
            std::panic::set_hook(Box::new(|info| eprintln!("gpu_executor fuzz: {info}")));
        }
        let defaults = gpu_executor_options_default();
        let small_chunks = gpu_executor_options_t {
            exact_size_cache_capacity: 2,
            max_chunk_elements: 1024,
            copy_threads: 2,
            ..defaults
        };
        let execs = [Exec::create(defaults), Exec::create(small_chunks)];
        // SAFETY: zeroed is a valid gpu_adapter_info_t (integers and char arrays).
        let mut info: gpu_adapter_info_t = unsafe { std::mem::zeroed() };
        info.struct_size = std::mem::size_of::<gpu_adapter_info_t>() as u32;
        // SAFETY: live handle, valid out pointer.
        let status = unsafe { gpu_executor_adapter_info(execs[0].handle, &mut info) };
        check::status("gpu_executor_adapter_info", status, true, &[]);
        Shared {
            execs,
            backend: info.backend,
            runs: 0,
            last_create: None,
        }
    }

    /// Replaces a poisoned executor (report mode, after a known PANIC).
    fn replace(&mut self, e: usize) {
        let options = self.execs[e].options;
        // SAFETY: no other thread uses it now; its tickets are dropped by the caller.
        unsafe { gpu_executor_destroy(self.execs[e].handle) };
        self.execs[e] = Exec::create(options);
    }
}

static SHARED: Mutex<Option<Shared>> = Mutex::new(None);

/// A batch submitted asynchronously, waiting for its ticket to complete.
struct Pending {
    ticket: u64,
    batch: Batch,
    /// A PANIC touched this ticket: its outputs are not checked any more.
    tainted: bool,
}

/// One input's run.
struct Session<'a, 'd> {
    input: Input<'d>,
    shared: &'a mut Shared,
    /// Tickets in flight and spent, per long-lived executor.
    pending: [Vec<Pending>; 2],
    spent: [Vec<u64>; 2],
    log_level_changed: bool,
}

/// Runs one fuzz input. Panics (with [`FINDING`]) when the library breaks a promise.
pub fn run(data: &[u8]) {
    let mut guard = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    let shared = guard.get_or_insert_with(Shared::start);
    shared.runs += 1;
    let mut session = Session {
        input: Input::new(data),
        shared,
        pending: [Vec::new(), Vec::new()],
        spent: [Vec::new(), Vec::new()],
        log_level_changed: false,
    };
    let mut ops = 0;
    while !session.input.is_empty() && ops < MAX_OPS {
        session.step();
        ops += 1;
    }
    session.finish();
}

impl Session<'_, '_> {
    fn step(&mut self) {
        match self.input.u8() % 32 {
            0..=9 | 29..=30 => self.op_batch(),
            10..=16 => self.op_submit_async(),
            17..=20 => self.op_wait(false),
            21..=22 => self.op_wait(true),
            23 => self.op_create(),
            24 => self.op_stats(),
            25 => self.op_bucket_sizes(),
            26 => self.op_adapter_info(),
            27 => self.op_misc(),
            28 => self.op_threads(),
            _ => self.op_ticket_probe(),
        }
    }

    /// Completes every ticket still in flight, so its outputs can be freed.
    fn finish(&mut self) {
        for e in 0..2 {
            while let Some(p) = self.pending[e].pop() {
                let handle = self.shared.execs[e].handle;
                // SAFETY: live handle; p's outputs are alive.
                let status = unsafe { gpu_executor_wait(handle, p.ticket, u64::MAX) };
                let mut allowed = vec![];
                if p.tainted {
                    allowed.push(S::GPU_EXECUTOR_UNKNOWN_TICKET);
                }
                if self.poisoned_allowed(e, status) {
                    self.pending[e].clear();
                    continue;
                }
                check::status("gpu_executor_wait(UINT64_MAX)", status, true, &allowed);
                if status == S::GPU_EXECUTOR_OK && !p.tainted {
                    p.batch
                        .expect_results("gpu_executor_wait(UINT64_MAX) at the end");
                }
            }
        }
        if self.log_level_changed {
            gpu_executor_set_log_level(2); // GPU_LOG_WARN, the default
        }
    }

    /// In report mode, after a known PANIC, POISONED is expected: the executor is replaced
    /// (its tickets are abandoned) and true returned.
    fn poisoned_allowed(&mut self, e: usize, status: S) -> bool {
        if status == S::GPU_EXECUTOR_POISONED && self.shared.execs[e].panicked {
            check::last_error();
            self.shared.replace(e);
            self.pending[e].clear();
            self.spent[e].clear();
            return true;
        }
        false
    }

    /// A long-lived executor, by index.
    fn pick_exec(&mut self) -> usize {
        usize::from(self.input.u8() & 1)
    }
}
