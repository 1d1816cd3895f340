//! A device that cannot import host memory (`GPU_EXECUTOR_HOST_IMPORT=0` opens it without
//! `VK_EXT_external_memory_host`, as on drivers that lack it): registering is
//! `UNSUPPORTED`, nothing changes, and batches over the same arrays still run, copying
//! through staging. One test in its own binary, because the variable is read per process.

mod common;

use std::ptr;

use common::c_api::{create, destroy, last_error, stats, submit, task};
use common::{assert_matches, Case, Rng};
use gpu_executor::ffi::*;

use gpu_executor_status_t as S;

#[test]
fn registering_on_a_device_without_the_extension_is_unsupported() {
    std::env::set_var("GPU_EXECUTOR_HOST_IMPORT", "0");
    let exec = create(ptr::null());
    let case = Case::random(&mut Rng::new(4), 10_000);
    let mut out = vec![f32::NAN; 10_000];
    let status = unsafe { gpu_executor_register_host_memory(exec, case.a.as_ptr().cast(), 40_000) };
    assert_eq!(status, S::GPU_EXECUTOR_UNSUPPORTED);
    assert!(
        last_error().contains("VK_EXT_external_memory_host"),
        "{}",
        last_error()
    );
    // The caller's mistakes are reported as such whatever the device.
    let status = unsafe { gpu_executor_register_host_memory(exec, ptr::null(), 40_000) };
    assert_eq!(status, S::GPU_EXECUTOR_NULL_POINTER);
    let status = unsafe { gpu_executor_register_host_memory(exec, case.a.as_ptr().cast(), 0) };
    assert_eq!(status, S::GPU_EXECUTOR_INVALID_ARGUMENT);
    let near_end = (usize::MAX - 15) as *const std::ffi::c_void;
    let status = unsafe { gpu_executor_register_host_memory(exec, near_end, 64) };
    assert_eq!(status, S::GPU_EXECUTOR_SIZE_OVERFLOW);
    let status = unsafe { gpu_executor_unregister_host_memory(exec, case.a.as_ptr().cast()) };
    assert_eq!(status, S::GPU_EXECUTOR_INVALID_ARGUMENT);
    assert_eq!(
        submit(exec, &[task(&case.a, &case.b, &mut out)]),
        S::GPU_EXECUTOR_OK
    );
    assert_matches(&out, &case.expected, "a batch on the copying path");
    let s = stats(exec);
    assert_eq!(
        (s.registered_host_regions, s.registered_host_operands),
        (0, 0)
    );
    assert_eq!(s.bytes_uploaded, 80_000);
    destroy(exec);
}
