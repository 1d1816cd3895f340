//! The thread-local last-error message behind `gpu_executor_last_error_message()`.
//!
//! The message lives in a fixed buffer in a `const`-initialised thread-local without a
//! destructor, so it is usable at any point of a thread's life: a call can arrive while
//! the thread's thread-locals are being destroyed (a `pthread_key` destructor, a C++
//! `thread_local` destructor), where a lazily initialised slot would panic or register a
//! destructor that never runs (a leak). Longer messages are cut at a character boundary
//! and end in "…".

use std::cell::RefCell;
use std::ffi::c_char;

/// Bytes of message kept per thread, the terminating NUL included.
const CAPACITY: usize = 4096;

thread_local! {
    static LAST_ERROR: RefCell<[u8; CAPACITY]> = const { RefCell::new([0; CAPACITY]) };
}

/// What `gpu_executor_last_error_message()` returns if the slot cannot be reached.
const UNAVAILABLE: &[u8] = b"no error detail available on this thread\0";

/// `message` with NULs replaced, cut to fit `CAPACITY - 1` bytes.
fn fitted(message: &str) -> String {
    let clean = message.replace('\0', " ");
    if clean.len() < CAPACITY {
        return clean;
    }
    let ellipsis = "…";
    let mut end = CAPACITY - 1 - ellipsis.len();
    while !clean.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ellipsis}", &clean[..end])
}

/// Records `message` for this thread (interior NULs are replaced; see `CAPACITY`).
pub fn set(message: &str) {
    let text = fitted(message);
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            slot[..text.len()].copy_from_slice(text.as_bytes());
            slot[text.len()] = 0;
        }
    });
}

pub fn clear() {
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            slot[0] = 0;
        }
    });
}

/// Pointer to this thread's message; valid until the next library call on this thread.
pub fn as_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| slot.as_ptr().cast::<c_char>().cast_const())
        .unwrap_or(UNAVAILABLE.as_ptr().cast())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let long = "é".repeat(CAPACITY);
        let cut = fitted(&long);
        assert!(cut.len() < CAPACITY);
        assert!(cut.ends_with('…'));
        assert_eq!(fitted("a\0b"), "a b");
    }
}
