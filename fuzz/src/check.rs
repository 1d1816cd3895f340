//! Findings: a broken promise of the C API is a panic (libFuzzer saves the input as a
//! crash; the plain driver does the same). Defects already known to the core's authors can
//! instead be counted and reported once, with `GPU_FUZZ_KNOWN_DEFECTS=report`, so a long
//! run can look past them; by default they fail like any other finding.

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use gpu_executor::ffi::*;

use gpu_executor_status_t as S;

/// Prefix of every finding's panic message.
pub const FINDING: &str = "gpu_executor fuzz finding";

/// Reports a finding: the fuzz assertion.
#[track_caller]
pub fn finding(message: impl AsRef<str>) -> ! {
    panic!("{FINDING}: {}", message.as_ref())
}

/// Defects reported to the core's authors before this fuzzer ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known {
    /// A ticket issued by one executor is accepted by another.
    ForeignTicketAccepted = 0,
    /// A ticket whose batch failed is not spent.
    FailedTicketNotSpent = 1,
    /// `gpu_executor_wait` with a finite timeout returns PANIC when threads share a handle.
    ThreadedWaitPanic = 2,
}

impl Known {
    pub const ALL: [Known; 3] = [
        Known::ForeignTicketAccepted,
        Known::FailedTicketNotSpent,
        Known::ThreadedWaitPanic,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            Known::ForeignTicketAccepted => {
                "a ticket issued by one executor is accepted by another"
            }
            Known::FailedTicketNotSpent => "a failed ticket is not spent",
            Known::ThreadedWaitPanic => {
                "gpu_executor_wait with a finite timeout returns PANIC when threads share a handle"
            }
        }
    }
}

static KNOWN_HITS: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

fn report_known() -> bool {
    static REPORT: OnceLock<bool> = OnceLock::new();
    *REPORT.get_or_init(|| std::env::var("GPU_FUZZ_KNOWN_DEFECTS").is_ok_and(|v| v == "report"))
}

/// Whether known defects are only counted (`GPU_FUZZ_KNOWN_DEFECTS=report`).
pub fn lenient() -> bool {
    report_known()
}

/// A known defect showed up: a finding, unless they are only being counted.
#[track_caller]
pub fn known(defect: Known, detail: impl AsRef<str>) {
    if !report_known() {
        finding(format!(
            "known defect ({}): {}",
            defect.describe(),
            detail.as_ref()
        ));
    }
    if KNOWN_HITS[defect as usize].fetch_add(1, Ordering::Relaxed) == 0 {
        eprintln!(
            "gpu_executor fuzz: known defect ({}), first hit: {}",
            defect.describe(),
            detail.as_ref()
        );
    }
}

/// How often each known defect was hit (only counted in report mode).
pub fn known_hits() -> Vec<(Known, u64)> {
    Known::ALL
        .iter()
        .map(|&k| (k, KNOWN_HITS[k as usize].load(Ordering::Relaxed)))
        .collect()
}

/// This thread's last-error message.
pub fn last_error() -> String {
    // SAFETY: documented never NULL and NUL-terminated, valid until the next call.
    unsafe { CStr::from_ptr(gpu_executor_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

/// Checked calls so far, by function and status.
static TALLY: Mutex<BTreeMap<(String, String), u64>> = Mutex::new(BTreeMap::new());

fn tally(call: &str, got: S) {
    let function = call.split(['(', ' ']).next().unwrap_or(call).to_string();
    let status = format!("{got:?}").replace("GPU_EXECUTOR_", "");
    if let Ok(mut tally) = TALLY.lock() {
        *tally.entry((function, status)).or_default() += 1;
    }
}

/// How many checked calls returned each status, as (function, status, count).
pub fn tallies() -> Vec<(String, String, u64)> {
    TALLY.lock().map_or_else(
        |_| Vec::new(),
        |t| {
            t.iter()
                .map(|((f, s), n)| (f.clone(), s.clone(), *n))
                .collect()
        },
    )
}

/// Checks a status against what the documentation allows, and the last-error message
/// against the status: empty after OK, non-empty after a failure. Returns that message.
///
/// `allowed` lists the failures that apply to the call; OK is allowed only when `ok` is.
/// PANIC is never allowed.
#[track_caller]
pub fn status(call: &str, got: S, ok: bool, allowed: &[S]) -> String {
    let message = last_error();
    tally(call, got);
    if got == S::GPU_EXECUTOR_PANIC {
        finding(format!("{call}: GPU_EXECUTOR_PANIC: {message}"));
    }
    let fine = if got == S::GPU_EXECUTOR_OK {
        ok
    } else {
        allowed.contains(&got)
    };
    if !fine {
        let want = if ok { "OK or " } else { "" };
        finding(format!(
            "{call}: returned {got:?} ({message:?}); expected {want}one of {allowed:?}"
        ));
    }
    if got == S::GPU_EXECUTOR_OK && !message.is_empty() {
        finding(format!(
            "{call}: OK but the last-error message is {message:?}"
        ));
    }
    if got != S::GPU_EXECUTOR_OK && message.is_empty() {
        finding(format!("{call}: {got:?} with an empty last-error message"));
    }
    message
}
