//! Panic safety: a panic inside any kind of entry point (forced through a test hook)
//! becomes a status, never an abort; the handle it happened on is POISONED until destroyed.
//! Alone in its test binary, since the hook is process-wide.

mod common;

use std::ptr;

use common::c_api::{
    blank_adapter_info, create, destroy, last_error, poll, submit, submit_async, task, wait,
};
use common::{assert_matches, poisoned, Case, Rng};
use gpu_executor::ffi::*;

use gpu_executor_status_t as S;

#[test]
fn a_panic_in_any_entry_point_is_a_status_and_poisons_only_its_handle() {
    let mut rng = Rng::new(13);
    let c = Case::random(&mut rng, 500);
    let wgsl = std::ffi::CString::new(
        "@group(0) @binding(1) var<storage, read> a: array<f32>;
         @group(0) @binding(3) var<storage, read_write> o: array<f32>;
         @compute @workgroup_size(1) fn main() { o[0] = a[0]; }",
    )
    .expect("no NUL");
    let handle_calls: [(&str, &dyn Fn(*mut gpu_executor_t) -> S); 8] = [
        ("gpu_executor_submit_batch", &|e| {
            let mut out = poisoned(500);
            submit(e, &[task(&c.a, &c.b, &mut out)])
        }),
        ("gpu_executor_submit_batch_async", &|e| {
            let mut out = poisoned(500);
            let (status, ticket) = submit_async(e, &[task(&c.a, &c.b, &mut out)]);
            if status == S::GPU_EXECUTOR_OK {
                assert_eq!(wait(e, ticket, u64::MAX), S::GPU_EXECUTOR_OK);
            }
            status
        }),
        ("gpu_executor_wait", &|e| {
            let mut out = poisoned(500);
            let (_, ticket) = submit_async(e, &[task(&c.a, &c.b, &mut out)]);
            // A poisoned handle abandons the ticket (its output is never written); destroy
            // frees it.
            wait(e, ticket, u64::MAX)
        }),
        ("gpu_executor_poll", &|e| {
            let mut out = poisoned(500);
            let (_, ticket) = submit_async(e, &[task(&c.a, &c.b, &mut out)]);
            loop {
                match poll(e, ticket) {
                    S::GPU_EXECUTOR_NOT_READY => continue,
                    s => break s,
                }
            }
        }),
        ("gpu_executor_stats", &|e| {
            let mut s = gpu_executor_stats_t {
                struct_size: std::mem::size_of::<gpu_executor_stats_t>() as u32,
                ..Default::default()
            };
            unsafe { gpu_executor_stats(e, &mut s) }
        }),
        ("gpu_executor_bucket_sizes", &|e| {
            let mut n = 0usize;
            unsafe { gpu_executor_bucket_sizes(e, ptr::null_mut(), 0, &mut n) }
        }),
        ("gpu_executor_print_stats", &|e| unsafe {
            gpu_executor_print_stats(e)
        }),
        ("gpu_executor_register_kernel", &|e| {
            let mut desc = gpu_kernel_desc_default();
            desc.source = wgsl.as_ptr();
            let mut op = 0;
            unsafe { gpu_executor_register_kernel(e, &desc, &mut op) }
        }),
    ];
    let bystander = create(ptr::null());
    for (name, call) in handle_calls {
        let exec = create(ptr::null());
        fault::arm_panic(name);
        assert_eq!(call(exec), S::GPU_EXECUTOR_PANIC, "{name}");
        assert!(last_error().contains("injected test panic"), "{name}");
        assert_eq!(call(exec), S::GPU_EXECUTOR_POISONED, "{name} afterwards");
        let mut out = poisoned(500);
        assert_eq!(
            submit(exec, &[task(&c.a, &c.b, &mut out)]),
            S::GPU_EXECUTOR_POISONED
        );
        destroy(exec);
        // Another handle is unaffected.
        assert_eq!(
            submit(bystander, &[task(&c.a, &c.b, &mut out)]),
            S::GPU_EXECUTOR_OK
        );
        assert_matches(&out, &c.expected, name);
    }
    let mut info = blank_adapter_info();
    fault::arm_panic("gpu_executor_adapter_info");
    assert_eq!(
        unsafe { gpu_executor_adapter_info(bystander, &mut info) },
        S::GPU_EXECUTOR_PANIC
    );
    destroy(bystander);

    // Entry points without a handle.
    fault::arm_panic("gpu_executor_create");
    let mut exec = ptr::null_mut();
    assert_eq!(
        unsafe { gpu_executor_create(ptr::null(), &mut exec) },
        S::GPU_EXECUTOR_PANIC
    );
    assert!(exec.is_null());
    fault::arm_panic("gpu_executor_set_log_level");
    assert_eq!(gpu_executor_set_log_level(2), S::GPU_EXECUTOR_PANIC);
    fault::arm_panic("gpu_executor_set_log_callback");
    assert_eq!(
        unsafe { gpu_executor_set_log_callback(None, ptr::null_mut()) },
        S::GPU_EXECUTOR_PANIC
    );
    fault::arm_panic("gpu_executor_status_str");
    let text = unsafe { std::ffi::CStr::from_ptr(gpu_executor_status_str(0)) };
    assert_eq!(text.to_str(), Ok("unknown status code"));
    fault::arm_panic("gpu_executor_version");
    let text = unsafe { std::ffi::CStr::from_ptr(gpu_executor_version()) };
    assert_eq!(text.to_str(), Ok(""));
    fault::arm_panic("gpu_kernel_desc_default");
    let desc = gpu_kernel_desc_default();
    assert_eq!(
        desc.struct_size as usize,
        std::mem::size_of::<gpu_kernel_desc_t>()
    );
    fault::arm_panic("gpu_executor_options_default");
    let options = gpu_executor_options_default();
    assert_eq!(
        options.struct_size as usize,
        std::mem::size_of::<gpu_executor_options_t>()
    );
    fault::arm_panic("gpu_executor_last_error_message");
    let text = unsafe { std::ffi::CStr::from_ptr(gpu_executor_last_error_message()) };
    assert_eq!(text.to_str(), Ok(""));
    // destroy: a panic there leaks the handle instead of crashing.
    let exec = create(ptr::null());
    fault::arm_panic("gpu_executor_destroy");
    destroy(exec);
    destroy(exec);
}
