//! Defect 7: an allocation that fails for lack of memory is `OUT_OF_MEMORY`, not the
//! `GPU_ERROR` of what follows from it, and the executor stays usable.
//!
//! The failure is real, not simulated: on lavapipe GPU memory is host memory, so capping
//! the process's address space (RLIMIT_AS) makes the driver's allocation fail. Alone in its
//! test binary, since the limit is process-wide.

mod common;

use common::address_space::{mapped_bytes, set_limit as set_address_space_limit};
use common::c_api::{adapter_info, create, last_error, task};
use common::{assert_matches, poisoned, Case, Rng};
use gpu_executor::ffi::*;

use gpu_executor_status_t as S;

#[test]
fn defect_7_an_allocation_failure_is_out_of_memory() {
    let mut options = gpu_executor_options_default();
    options.exact_size_cache = 0; // every slab from the pool
    let exec = create(&options);
    let adapter_is_cpu = adapter_info(exec).device_type == gpu_device_type_t::GPU_DEVICE_CPU as u32;
    if !adapter_is_cpu {
        // GPU memory is not bounded by RLIMIT_AS on a real GPU.
        eprintln!("skipped: needs a CPU adapter (lavapipe)");
        unsafe { gpu_executor_destroy(exec) };
        return;
    }

    // 20M elements: a 32M-element slab of about 640 MB.
    let n = 20 << 20;
    let mut rng = Rng::new(7);
    let first = Case::random(&mut rng, n);
    let second = Case::random(&mut rng, n);
    let mut out1 = poisoned(n);
    let mut out2 = poisoned(n);
    // Warm up: compile the bucket's pipeline and leave one slab idle in the pool.
    let status =
        unsafe { gpu_executor_submit_batch(exec, &task(&first.a, &first.b, &mut out1), 1) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    out1.fill(f32::NAN);

    // Room for a little more than nothing: the second slab cannot be allocated.
    set_address_space_limit(mapped_bytes() + (64 << 20));
    let tasks = [
        task(&first.a, &first.b, &mut out1),
        task(&second.a, &second.b, &mut out2),
    ];
    let status = unsafe { gpu_executor_submit_batch(exec, tasks.as_ptr(), 2) };
    let message = last_error();
    set_address_space_limit(libc::RLIM_INFINITY);
    println!("{status:?}: {message}");
    assert_eq!(status, S::GPU_EXECUTOR_OUT_OF_MEMORY, "{message}");
    assert!(out1.iter().all(|x| x.is_nan()) && out2.iter().all(|x| x.is_nan()));

    // Memory is back: the same batch runs.
    let tasks = [
        task(&first.a, &first.b, &mut out1),
        task(&second.a, &second.b, &mut out2),
    ];
    let status = unsafe { gpu_executor_submit_batch(exec, tasks.as_ptr(), 2) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    assert_matches(&out1, &first.expected, "first after OOM");
    assert_matches(&out2, &second.expected, "second after OOM");
    unsafe { gpu_executor_destroy(exec) };
}
