//! The C API called as C would: every bad input gets its own status and no crash.

mod common;

use std::ffi::{c_void, CStr};
use std::ptr;

use common::c_api::{create, last_error, stats, task, tasks};
use common::{assert_matches, poisoned, Case, Rng};
use gpu_executor::ffi::*;

use gpu_executor_status_t as S;

/// A change that makes a valid task invalid.
type Tweak = Box<dyn FnOnce(&mut gpu_task_t)>;

/// Submits one task built by `tweak` from a valid one; returns the status and whether
/// the output buffer was left untouched.
fn submit_tweaked(exec: *mut gpu_executor_t, tweak: impl FnOnce(&mut gpu_task_t)) -> (S, bool) {
    let mut rng = Rng::new(42);
    let case = Case::random(&mut rng, 1000);
    let mut out = poisoned(1000);
    let mut t = task(&case.a, &case.b, &mut out);
    tweak(&mut t);
    let status = unsafe { gpu_executor_submit_batch(exec, &t, 1) };
    (status, out.iter().all(|x| x.is_nan()))
}

#[test]
fn a_batch_through_the_c_api_matches_the_cpu() {
    let exec = create(&gpu_executor_options_default());
    let mut rng = Rng::new(9);
    let sizes = [0usize, 1, 255, 16_385, 100_000];
    let cases: Vec<Case> = sizes.iter().map(|&n| Case::random(&mut rng, n)).collect();
    let mut outs: Vec<Vec<f32>> = sizes.iter().map(|&n| poisoned(n)).collect();
    let tasks = tasks(&cases, &mut outs);
    let status = unsafe { gpu_executor_submit_batch(exec, tasks.as_ptr(), tasks.len()) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    assert_eq!(last_error(), "");
    for (o, c) in outs.iter().zip(&cases) {
        assert_matches(o, &c.expected, "ffi batch");
    }

    let stats = stats(exec);
    assert_eq!(stats.batches, 1);
    assert_eq!(stats.tasks, 5);
    assert_eq!(stats.elements, 116_641);
    assert_eq!(stats.pipelines_created, 3);
    assert_eq!(stats.strategy, gpu_strategy_t::GPU_STRATEGY_BUCKETED as u32);

    let mut count = 0usize;
    let mut sizes = [0u64; 8];
    let status = unsafe { gpu_executor_bucket_sizes(exec, sizes.as_mut_ptr(), 2, &mut count) };
    assert_eq!(status, S::GPU_EXECUTOR_OK);
    assert_eq!(count, 3);
    assert_eq!(
        &sizes[..3],
        &[16_384, 32_768, 0],
        "only `capacity` entries written"
    );

    let mut info: gpu_adapter_info_t = unsafe { std::mem::zeroed() };
    info.struct_size = std::mem::size_of::<gpu_adapter_info_t>() as u32;
    assert_eq!(
        unsafe { gpu_executor_adapter_info(exec, &mut info) },
        S::GPU_EXECUTOR_OK
    );
    let name = unsafe { CStr::from_ptr(info.name.as_ptr()) };
    assert!(!name.to_bytes().is_empty());
    assert_eq!(
        unsafe { gpu_executor_print_stats(exec) },
        S::GPU_EXECUTOR_OK
    );
    unsafe { gpu_executor_destroy(exec) };
}

#[test]
fn every_bad_task_gets_its_own_status_and_leaves_outputs_untouched() {
    let exec = create(&gpu_executor_options_default());
    let cases: Vec<(&str, S, Tweak)> = vec![
        (
            "null input",
            S::GPU_EXECUTOR_NULL_POINTER,
            Box::new(|t| t.inputs[1] = ptr::null()),
        ),
        (
            "null output",
            S::GPU_EXECUTOR_NULL_POINTER,
            Box::new(|t| t.output = ptr::null_mut()),
        ),
        ("op 0", S::GPU_EXECUTOR_UNKNOWN_OP, Box::new(|t| t.op = 0)),
        (
            "op 999",
            S::GPU_EXECUTOR_UNKNOWN_OP,
            Box::new(|t| t.op = 999),
        ),
        (
            "reserved flags",
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            Box::new(|t| t.flags = 0x8000_0000),
        ),
        (
            "unknown element type",
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            Box::new(|t| t.flags = 7),
        ),
        (
            "params",
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            Box::new(|t| t.params[3] = 7),
        ),
        (
            "third input",
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            Box::new(|t| t.inputs[2] = t.inputs[0]),
        ),
        (
            "overflow",
            S::GPU_EXECUTOR_SIZE_OVERFLOW,
            Box::new(|t| t.length = usize::MAX / 2),
        ),
        (
            "huge",
            S::GPU_EXECUTOR_SIZE_OVERFLOW,
            Box::new(|t| t.length = usize::MAX),
        ),
        (
            "misaligned",
            S::GPU_EXECUTOR_MISALIGNED_POINTER,
            Box::new(|t| t.inputs[0] = t.inputs[0].cast::<u8>().wrapping_add(1).cast::<c_void>()),
        ),
        (
            "in place",
            S::GPU_EXECUTOR_ALIASING,
            Box::new(|t| t.output = t.inputs[0] as *mut c_void),
        ),
        (
            "partial overlap",
            S::GPU_EXECUTOR_ALIASING,
            Box::new(|t| {
                t.inputs[1] = t.output.cast::<f32>().wrapping_add(500).cast_const().cast()
            }),
        ),
    ];
    for (what, expected, tweak) in cases {
        let (status, untouched) = submit_tweaked(exec, tweak);
        assert_eq!(status, expected, "{what}: {}", last_error());
        assert!(untouched, "{what}: output written on failure");
        assert!(
            last_error().contains("task 0"),
            "{what}: message names the task: {}",
            last_error()
        );
    }
    // The executor still works after rejected batches, and nothing reached the GPU.
    let (status, untouched) = submit_tweaked(exec, |_| {});
    assert_eq!(status, S::GPU_EXECUTOR_OK);
    assert!(!untouched);
    let stats = stats(exec);
    assert_eq!((stats.batches, stats.submits), (1, 1));
    unsafe { gpu_executor_destroy(exec) };
}

#[test]
fn a_bad_task_later_in_the_batch_blocks_the_whole_batch() {
    let exec = create(&gpu_executor_options_default());
    let mut rng = Rng::new(5);
    let good = Case::random(&mut rng, 64);
    let mut out0 = poisoned(64);
    let mut out1 = poisoned(64);
    let mut tasks = [
        task(&good.a, &good.b, &mut out0),
        task(&good.a, &good.b, &mut out1),
    ];
    tasks[1].op = 77;
    let status = unsafe { gpu_executor_submit_batch(exec, tasks.as_ptr(), 2) };
    assert_eq!(status, S::GPU_EXECUTOR_UNKNOWN_OP);
    assert!(last_error().contains("task 1"), "{}", last_error());
    assert!(out0.iter().chain(&out1).all(|x| x.is_nan()));
    // Two tasks writing the same output alias each other.
    let mut shared = poisoned(64);
    let p = shared.as_mut_ptr();
    let t = task(&good.a, &good.b, &mut shared);
    let mut t2 = t;
    t2.output = p.cast();
    let status = unsafe { gpu_executor_submit_batch(exec, [t, t2].as_ptr(), 2) };
    assert_eq!(status, S::GPU_EXECUTOR_ALIASING, "{}", last_error());
    unsafe { gpu_executor_destroy(exec) };
}

#[test]
fn null_handles_and_arrays_are_statuses_not_crashes() {
    let null = ptr::null_mut();
    unsafe {
        assert_eq!(
            gpu_executor_submit_batch(null, ptr::null(), 0),
            S::GPU_EXECUTOR_NULL_POINTER
        );
        assert!(last_error().contains("handle"));
        let mut stats = gpu_executor_stats_t::default();
        assert_eq!(
            gpu_executor_stats(null, &mut stats),
            S::GPU_EXECUTOR_NULL_POINTER
        );
        assert_eq!(gpu_executor_print_stats(null), S::GPU_EXECUTOR_NULL_POINTER);
        let mut count = 0;
        assert_eq!(
            gpu_executor_bucket_sizes(null, ptr::null_mut(), 0, &mut count),
            S::GPU_EXECUTOR_NULL_POINTER
        );
        gpu_executor_destroy(null);
        assert_eq!(
            gpu_executor_create(ptr::null(), ptr::null_mut()),
            S::GPU_EXECUTOR_NULL_POINTER
        );
    }
    let exec = create(&gpu_executor_options_default());
    unsafe {
        assert_eq!(
            gpu_executor_submit_batch(exec, ptr::null(), 3),
            S::GPU_EXECUTOR_NULL_POINTER
        );
        assert_eq!(
            gpu_executor_submit_batch(exec, ptr::null(), 0),
            S::GPU_EXECUTOR_OK
        );
        assert_eq!(
            gpu_executor_stats(exec, ptr::null_mut()),
            S::GPU_EXECUTOR_NULL_POINTER
        );
        let mut stats = gpu_executor_stats_t {
            struct_size: 8,
            ..Default::default()
        };
        assert_eq!(
            gpu_executor_stats(exec, &mut stats),
            S::GPU_EXECUTOR_BAD_STRUCT_SIZE
        );
        assert_eq!(stats.batches, 0, "not written on failure");
        let mut count = 0;
        assert_eq!(
            gpu_executor_bucket_sizes(exec, ptr::null_mut(), 4, &mut count),
            S::GPU_EXECUTOR_NULL_POINTER
        );
        assert_eq!(
            gpu_executor_bucket_sizes(exec, ptr::null_mut(), 0, &mut count),
            S::GPU_EXECUTOR_OK
        );
        assert_eq!(count, 0);
        // Zero-length tasks may carry NULL pointers.
        let t = gpu_task_t {
            op: gpu_op_t::GPU_OP_VECTOR_ADD as u32,
            flags: 0,
            inputs: [ptr::null(); 4],
            output: ptr::null_mut(),
            length: 0,
            params: [0; 4],
        };
        assert_eq!(gpu_executor_submit_batch(exec, &t, 1), S::GPU_EXECUTOR_OK);
        gpu_executor_destroy(exec);
    }
}

#[test]
fn bad_options_are_rejected() {
    let mut exec = ptr::null_mut();
    let check = |options: gpu_executor_options_t, expected: S| {
        let mut exec = ptr::null_mut();
        let status = unsafe { gpu_executor_create(&options, &mut exec) };
        assert_eq!(status, expected, "{}", last_error());
        assert!(exec.is_null(), "no handle on failure");
    };
    let base = gpu_executor_options_default();
    check(
        gpu_executor_options_t {
            struct_size: 12,
            ..base
        },
        S::GPU_EXECUTOR_BAD_STRUCT_SIZE,
    );
    check(
        gpu_executor_options_t {
            struct_size: 4096,
            ..base
        },
        S::GPU_EXECUTOR_BAD_STRUCT_SIZE,
    );
    check(
        gpu_executor_options_t {
            strategy: 9,
            ..base
        },
        S::GPU_EXECUTOR_INVALID_OPTION,
    );
    check(
        gpu_executor_options_t {
            backend: 17,
            ..base
        },
        S::GPU_EXECUTOR_INVALID_OPTION,
    );
    check(
        gpu_executor_options_t {
            power_preference: 3,
            ..base
        },
        S::GPU_EXECUTOR_INVALID_OPTION,
    );
    check(
        gpu_executor_options_t {
            max_chunk_elements: 63,
            ..base
        },
        S::GPU_EXECUTOR_INVALID_OPTION,
    );
    // NULL options mean the defaults.
    let status = unsafe { gpu_executor_create(ptr::null(), &mut exec) };
    assert_eq!(status, S::GPU_EXECUTOR_OK);
    unsafe { gpu_executor_destroy(exec) };
}

#[test]
fn status_strings_and_version() {
    for code in 0..=26 {
        let text = unsafe { CStr::from_ptr(gpu_executor_status_str(code)) };
        assert!(!text.to_bytes().is_empty());
        assert_ne!(text.to_bytes(), b"unknown status code", "code {code}");
    }
    let unknown = unsafe { CStr::from_ptr(gpu_executor_status_str(9999)) };
    assert_eq!(unknown.to_bytes(), b"unknown status code");
    let version = unsafe { CStr::from_ptr(gpu_executor_version()) };
    assert_eq!(
        version.to_str().ok(),
        Some(
            format!(
                "{GPU_EXECUTOR_VERSION_MAJOR}.{GPU_EXECUTOR_VERSION_MINOR}.{GPU_EXECUTOR_VERSION_PATCH}"
            )
            .as_str()
        )
    );
    assert_eq!(version.to_str().ok(), Some(env!("CARGO_PKG_VERSION")));
}

#[test]
fn one_handle_serves_several_threads() {
    struct Shared(*mut gpu_executor_t);
    // SAFETY: the handle is documented as thread-safe (internal mutex).
    unsafe impl Sync for Shared {}
    let shared = Shared(create(&gpu_executor_options_default()));
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            let shared = &shared;
            scope.spawn(move || {
                let mut rng = Rng::new(100 + t);
                for round in 0..5 {
                    let sizes = [1 + round * 1000, 20_000 + t as usize, 3];
                    let cases: Vec<Case> =
                        sizes.iter().map(|&n| Case::random(&mut rng, n)).collect();
                    let mut outs: Vec<Vec<f32>> = sizes.iter().map(|&n| poisoned(n)).collect();
                    let tasks = tasks(&cases, &mut outs);
                    let status =
                        unsafe { gpu_executor_submit_batch(shared.0, tasks.as_ptr(), tasks.len()) };
                    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
                    for (o, c) in outs.iter().zip(&cases) {
                        assert_matches(o, &c.expected, "threaded batch");
                    }
                }
            });
        }
    });
    let stats = stats(shared.0);
    assert_eq!(stats.batches, 20);
    assert_eq!(stats.tasks, 60);
    unsafe { gpu_executor_destroy(shared.0) };
}
