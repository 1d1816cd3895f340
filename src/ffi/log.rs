//! `gpu_executor_set_log_callback` / `gpu_executor_set_log_level`: the C side of
//! [`crate::log`].

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use super::fault;
use super::last_error;
use super::status::gpu_executor_status_t;
use crate::log::{self, Level};

/// Values of a log message's level and of `gpu_executor_set_log_level`'s threshold.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum gpu_log_level_t {
    /// As a threshold: no messages at all.
    GPU_LOG_OFF = 0,
    /// Failures no call can report: a lost device, a helper thread that could not start.
    GPU_LOG_ERROR = 1,
    /// Problems the library survives, such as a wgpu error outside a batch (the default
    /// threshold).
    GPU_LOG_WARN = 2,
    /// Milestones: the adapter an executor was created on, a kernel registered.
    GPU_LOG_INFO = 3,
    /// Details: pipelines compiled, slabs created, cache evictions.
    GPU_LOG_DEBUG = 4,
}

/// Receives one log message: its `gpu_log_level_t` level, a NUL-terminated message valid
/// only during the call, and the `userdata` given to `gpu_executor_set_log_callback`.
#[allow(non_camel_case_types)]
pub type gpu_log_callback_t =
    Option<unsafe extern "C" fn(level: u32, message: *const c_char, userdata: *mut c_void)>;

/// The caller's callback and its userdata, shared with whatever thread logs.
struct CSink {
    callback: unsafe extern "C" fn(u32, *const c_char, *mut c_void),
    userdata: *mut c_void,
}

// SAFETY: the caller promises (documented) that the callback is thread-safe and that
// userdata may be used from any thread.
unsafe impl Send for CSink {}
unsafe impl Sync for CSink {}

impl CSink {
    fn deliver(&self, level: Level, message: &str) {
        let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
        // SAFETY: a valid function pointer from the caller and a NUL-terminated string that
        // outlives the call.
        unsafe { (self.callback)(level as u32, text.as_ptr(), self.userdata) };
    }
}

/// Routes the library's log messages (adapter chosen, pipelines compiled, caches growing,
/// errors raised outside a batch, device loss) to `callback` instead of stderr. Pass NULL to
/// restore stderr. Process-wide: applies to every executor.
///
/// The callback may be called from any thread that calls into the library, possibly while
/// an executor's internal lock is held: it must be thread-safe and must not call back into
/// gpu_executor (a message it causes anyway goes to stderr). `userdata` is passed through
/// untouched. This call returns only once no call of the previous callback is still running
/// on any thread, so the previous callback's `userdata` may be freed as soon as it returns.
/// Messages are filtered by the threshold (`gpu_executor_set_log_level`, default from the
/// `GPU_EXECUTOR_LOG` environment variable, else `GPU_LOG_WARN`).
/// Errors: `INVALID_ARGUMENT` when called from inside the callback (it would wait for
/// itself); otherwise `GPU_EXECUTOR_OK`. Thread-safe.
///
/// # Safety
/// `callback` must be NULL or a valid function that stays callable until replaced.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_set_log_callback(
    callback: gpu_log_callback_t,
    userdata: *mut c_void,
) -> gpu_executor_status_t {
    ffi_boundary!({
        last_error::clear();
        fault::checkpoint("gpu_executor_set_log_callback");
        let sink = callback.map(|callback| {
            let sink = CSink { callback, userdata };
            Arc::new(move |level: Level, message: &str| sink.deliver(level, message)) as log::Sink
        });
        match log::set_sink(sink) {
            Ok(()) => gpu_executor_status_t::GPU_EXECUTOR_OK,
            Err(log::ReplacedFromSink) => {
                last_error::set("the log callback cannot be replaced from inside the callback");
                gpu_executor_status_t::GPU_EXECUTOR_INVALID_ARGUMENT
            }
        }
    })
}

/// Sets the most verbose `gpu_log_level_t` that is emitted (`GPU_LOG_OFF` silences the
/// library). Overrides `GPU_EXECUTOR_LOG`. Process-wide and thread-safe.
/// Errors: `INVALID_ARGUMENT` for a value outside `gpu_log_level_t`.
#[no_mangle]
pub extern "C" fn gpu_executor_set_log_level(level: u32) -> gpu_executor_status_t {
    ffi_boundary!({
        last_error::clear();
        fault::checkpoint("gpu_executor_set_log_level");
        match u8::try_from(level).ok().and_then(Level::from_u8) {
            Some(level) => {
                log::set_threshold(level);
                gpu_executor_status_t::GPU_EXECUTOR_OK
            }
            None => {
                last_error::set(&format!("log level {level} is not a gpu_log_level_t"));
                gpu_executor_status_t::GPU_EXECUTOR_INVALID_ARGUMENT
            }
        }
    })
}
