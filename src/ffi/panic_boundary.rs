//! The one panic boundary every exported function sits behind.

use super::last_error;

/// Text of a caught panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// Records a caught panic as this thread's last error.
pub fn record_panic(payload: &(dyn std::any::Any + Send)) {
    last_error::set(&format!(
        "internal panic (a bug in gpu_executor): {}",
        panic_message(payload)
    ));
}

/// After a panic in a call on `exec`, its state may be half-updated: every later call
/// but destroy gets `GPU_EXECUTOR_POISONED`.
pub fn poison(exec: *const super::gpu_executor_t) {
    // SAFETY: the caller passed a handle from gpu_executor_create that is not yet
    // destroyed (the contract of every function taking one), or NULL.
    if let Some(handle) = unsafe { exec.as_ref() } {
        handle
            .poisoned
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Runs `$body` with unwinding caught: a panic becomes `$on_panic` (by default
/// `GPU_EXECUTOR_PANIC`) and a last-error message, never an abort across the C boundary.
/// With `handle exec,` the handle is also marked poisoned.
macro_rules! ffi_boundary {
    (handle $exec:expr, $body:block) => {{
        let exec_for_panic: *const $crate::ffi::gpu_executor_t = $exec;
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(value) => value,
            Err(payload) => {
                $crate::ffi::panic_boundary::record_panic(&*payload);
                $crate::ffi::panic_boundary::poison(exec_for_panic);
                $crate::ffi::gpu_executor_status_t::GPU_EXECUTOR_PANIC
            }
        }
    }};
    ($on_panic:expr, $body:block) => {{
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(value) => value,
            Err(payload) => {
                $crate::ffi::panic_boundary::record_panic(&*payload);
                $on_panic
            }
        }
    }};
    ($body:block) => {
        ffi_boundary!(
            $crate::ffi::gpu_executor_status_t::GPU_EXECUTOR_PANIC,
            $body
        )
    };
}

#[cfg(test)]
mod tests {
    use crate::ffi::gpu_executor_status_t as S;

    #[test]
    fn a_panic_becomes_a_status() {
        let status = ffi_boundary!({
            let v: Vec<u8> = Vec::new();
            if v.is_empty() {
                panic!("boom");
            }
            S::GPU_EXECUTOR_OK
        });
        assert_eq!(status, S::GPU_EXECUTOR_PANIC);
        let message = unsafe { std::ffi::CStr::from_ptr(super::last_error::as_ptr()) };
        assert!(message.to_string_lossy().contains("boom"));
    }
}
