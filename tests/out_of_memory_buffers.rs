//! A resident buffer whose memory cannot be allocated is `OUT_OF_MEMORY`, and the memory
//! that failed is never handed out again: the next buffers work.
//!
//! Real failures, as in tests/out_of_memory.rs: on lavapipe GPU memory is host memory, so
//! capping the process's address space (RLIMIT_AS) makes the driver's allocation fail.
//! Alone in its test binary, since the limit is process-wide.

mod common;

use std::ptr;

use common::address_space::{mapped_bytes, set_limit as set_address_space_limit};
use common::c_api::{adapter_info, create, last_error};
use common::Rng;
use gpu_executor::ffi::*;

use gpu_executor_status_t as S;

fn create_from(exec: *mut gpu_executor_t, data: &[f32]) -> (S, gpu_buffer_t) {
    let mut b = 0;
    let status =
        unsafe { gpu_buffer_create_from(exec, 0, data.as_ptr().cast(), data.len() as u64, &mut b) };
    (status, b)
}

#[test]
fn a_buffer_that_cannot_be_allocated_is_out_of_memory_and_the_next_ones_work() {
    let exec = create(ptr::null());
    if adapter_info(exec).device_type != gpu_device_type_t::GPU_DEVICE_CPU as u32 {
        // GPU memory is not bounded by RLIMIT_AS on a real GPU.
        eprintln!("skipped: needs a CPU adapter (lavapipe)");
        unsafe { gpu_executor_destroy(exec) };
        return;
    }
    let mut rng = Rng::new(3);
    let small = rng.vec(1000);
    let big = vec![1f32; 64 << 20]; // 256 MiB: a GPU buffer of its own

    // No room for the first arena (64 MiB) nor for the big buffer.
    set_address_space_limit(mapped_bytes() + (16 << 20));
    let (first, handle) = create_from(exec, &small);
    let first_message = last_error();
    let (second, _) = create_from(exec, &big);
    let second_message = last_error();
    set_address_space_limit(libc::RLIM_INFINITY);
    assert_eq!(first, S::GPU_EXECUTOR_OUT_OF_MEMORY, "{first_message}");
    assert_eq!(handle, 0, "no handle on failure");
    assert_eq!(second, S::GPU_EXECUTOR_OUT_OF_MEMORY, "{second_message}");

    // Memory is back: new buffers (new arenas, not the ones that failed) hold their data.
    for data in [&small, &big] {
        let (status, b) = create_from(exec, data);
        assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
        let mut out = vec![f32::NAN; data.len()];
        let status =
            unsafe { gpu_buffer_read(exec, b, 0, out.as_mut_ptr().cast(), data.len() as u64) };
        assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
        assert!(
            out == *data,
            "a buffer after the failure reads back what was written"
        );
    }
    unsafe { gpu_executor_destroy(exec) };
}
