//! Log messages reach a host's callback, filtered by level. One test: the sink is global.

use std::ffi::{c_char, c_void, CStr};
use std::ptr;
use std::sync::Mutex;

use gpu_executor::ffi::*;

static MESSAGES: Mutex<Vec<(u32, String)>> = Mutex::new(Vec::new());

unsafe extern "C" fn collect(level: u32, message: *const c_char, userdata: *mut c_void) {
    let text = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    assert_eq!(userdata as usize, 0xC0FFEE, "userdata passed through");
    if let Ok(mut messages) = MESSAGES.lock() {
        messages.push((level, text));
    }
}

fn create_and_destroy() {
    let mut exec = ptr::null_mut();
    let status = unsafe { gpu_executor_create(ptr::null(), &mut exec) };
    assert_eq!(status, gpu_executor_status_t::GPU_EXECUTOR_OK);
    unsafe { gpu_executor_destroy(exec) };
}

fn take() -> Vec<(u32, String)> {
    std::mem::take(&mut *MESSAGES.lock().expect("not poisoned"))
}

#[test]
fn messages_go_to_the_callback_filtered_by_level() {
    let userdata = 0xC0FFEE as *mut c_void;
    let ok = gpu_executor_status_t::GPU_EXECUTOR_OK;
    assert_eq!(
        unsafe { gpu_executor_set_log_callback(Some(collect), userdata) },
        ok
    );
    assert_eq!(
        gpu_executor_set_log_level(gpu_log_level_t::GPU_LOG_INFO as u32),
        ok
    );
    create_and_destroy();
    let messages = take();
    let adapter = messages
        .iter()
        .find(|(_, m)| m.starts_with("adapter "))
        .expect("the adapter choice is logged at info");
    assert_eq!(adapter.0, gpu_log_level_t::GPU_LOG_INFO as u32);
    assert!(messages
        .iter()
        .all(|(level, _)| *level <= gpu_log_level_t::GPU_LOG_INFO as u32));

    // Below the threshold nothing arrives.
    assert_eq!(
        gpu_executor_set_log_level(gpu_log_level_t::GPU_LOG_ERROR as u32),
        ok
    );
    create_and_destroy();
    assert!(take().is_empty());

    assert_eq!(
        gpu_executor_set_log_level(5),
        gpu_executor_status_t::GPU_EXECUTOR_INVALID_ARGUMENT
    );

    // NULL restores stderr: the callback hears nothing more.
    assert_eq!(
        gpu_executor_set_log_level(gpu_log_level_t::GPU_LOG_DEBUG as u32),
        ok
    );
    assert_eq!(
        unsafe { gpu_executor_set_log_callback(None, ptr::null_mut()) },
        ok
    );
    create_and_destroy();
    assert!(take().is_empty());
    assert_eq!(
        gpu_executor_set_log_level(gpu_log_level_t::GPU_LOG_WARN as u32),
        ok
    );
}
