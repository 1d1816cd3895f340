//! The thread-local last-error message behind `gpu_executor_last_error_message()`.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `message` for this thread (interior NULs are replaced).
pub fn set(message: &str) {
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = text);
}

pub fn clear() {
    LAST_ERROR.with(|slot| *slot.borrow_mut() = CString::default());
}

/// Pointer to this thread's message; valid until the next library call on this thread.
pub fn as_ptr() -> *const c_char {
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}
