//! Test hook: makes one named entry point panic inside its panic boundary, so tests can
//! prove that every kind of entry point turns a panic into a status. Nothing arms it but a
//! test; unarmed, a checkpoint costs one relaxed atomic load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

static ARMED: AtomicBool = AtomicBool::new(false);
static TARGET: Mutex<Option<String>> = Mutex::new(None);

/// The next call of the exported function `entry` (e.g. `"gpu_executor_stats"`) panics
/// once, inside its boundary.
#[doc(hidden)]
pub fn arm_panic(entry: &str) {
    *TARGET.lock().unwrap_or_else(PoisonError::into_inner) = Some(entry.to_string());
    ARMED.store(true, Ordering::SeqCst);
}

/// Panics if a test armed `entry`.
pub(super) fn checkpoint(entry: &str) {
    if !ARMED.load(Ordering::Relaxed) {
        return;
    }
    let mut target = TARGET.lock().unwrap_or_else(PoisonError::into_inner);
    if target.as_deref() == Some(entry) {
        *target = None;
        ARMED.store(false, Ordering::SeqCst);
        drop(target);
        panic!("injected test panic in {entry}");
    }
}

/// Test hook: loses `exec`'s device as a driver reset would (see
/// `Executor::simulate_device_loss`).
///
/// # Safety
/// `exec` must come from `gpu_executor_create` and not be destroyed yet.
#[doc(hidden)]
pub unsafe fn lose_device(exec: *mut super::gpu_executor_t) {
    if let Some(handle) = exec.as_ref() {
        handle.executor.simulate_device_loss();
    }
}
