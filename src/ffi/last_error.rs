//! The thread-local last-error message behind `gpu_executor_last_error_message()`.
//!
//! Every access uses `try_with`: a call can arrive while this thread's thread-locals are
//! being destroyed (a `pthread_key` destructor, a C++ `thread_local` destructor), when
//! `with` would panic, and a panic on the error path would abort the process across the C
//! boundary. Then the message is not stored, and reading it gives `EXITING`.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// What `gpu_executor_last_error_message()` returns once this thread's storage is gone.
const EXITING: &CStr = c"no error detail: the calling thread is exiting";

/// Records `message` for this thread (interior NULs are replaced).
pub fn set(message: &str) {
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = text;
        }
    });
}

pub fn clear() {
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = CString::default();
        }
    });
}

/// Pointer to this thread's message; valid until the next library call on this thread.
pub fn as_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| slot.try_borrow().map(|s| s.as_ptr()).ok())
        .ok()
        .flatten()
        .unwrap_or(EXITING.as_ptr())
}
