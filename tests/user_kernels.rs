//! Kernels the caller registers: run mixed with built-ins in one batch, counted in the same
//! caches; every registration error is INVALID_KERNEL with the line named; op codes are
//! valid on their executor only.

mod common;

use std::ptr;

use common::c_api::{create, last_error, register_kernel as register, stats};
use common::kernels::{POLY, REVERSE};
use common::Rng;
use gpu_executor::ffi::*;

use gpu_executor_status_t as S;

#[test]
fn a_user_kernel_runs_mixed_with_built_ins_and_is_cached_per_bucket() {
    let exec = create(ptr::null());
    let (status, poly) = register(exec, POLY, "poly", |d| {
        d.num_inputs = 2;
        d.params_size = 4;
    });
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    assert!(poly >= 0x1000_0000);
    let (status, reverse) = register(exec, REVERSE, "main", |d| {
        d.dtype = gpu_dtype_t::GPU_DTYPE_U32 as u32;
        d.elementwise = 0;
    });
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    assert_ne!(poly, reverse);

    let mut rng = Rng::new(256);
    let s = 1.5f32;
    // Two buckets of POLY (1000 and 40,000 elements), a reversal, and a built-in ADD.
    let lens = [1000usize, 40_000];
    let a: Vec<Vec<f32>> = lens.iter().map(|&n| rng.vec(n)).collect();
    let b: Vec<Vec<f32>> = lens.iter().map(|&n| rng.vec(n)).collect();
    let mut outs: Vec<Vec<f32>> = lens.iter().map(|&n| vec![f32::NAN; n]).collect();
    let ints: Vec<u32> = (0..5000).map(|_| rng.next_u64() as u32).collect();
    let mut reversed = vec![0u32; 5000];
    let mut sum = vec![f32::NAN; 1000];
    let mut tasks: Vec<gpu_task_t> = (0..2)
        .map(|i| gpu_task_t {
            op: poly,
            flags: 0,
            inputs: [
                a[i].as_ptr().cast(),
                b[i].as_ptr().cast(),
                ptr::null(),
                ptr::null(),
            ],
            output: outs[i].as_mut_ptr().cast(),
            length: lens[i],
            params: [u64::from(s.to_bits()), 0, 0, 0],
        })
        .collect();
    tasks.push(gpu_task_t {
        op: reverse,
        flags: gpu_dtype_t::GPU_DTYPE_U32 as u32,
        inputs: [ints.as_ptr().cast(), ptr::null(), ptr::null(), ptr::null()],
        output: reversed.as_mut_ptr().cast(),
        length: ints.len(),
        params: [0; 4],
    });
    tasks.push(gpu_task_t {
        op: gpu_op_t::GPU_OP_VECTOR_ADD as u32,
        flags: 0,
        inputs: [
            a[0].as_ptr().cast(),
            b[0].as_ptr().cast(),
            ptr::null(),
            ptr::null(),
        ],
        output: sum.as_mut_ptr().cast(),
        length: 1000,
        params: [0; 4],
    });
    let before = stats(exec);
    let status = unsafe { gpu_executor_submit_batch(exec, tasks.as_ptr(), tasks.len()) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    let after = stats(exec);
    assert_eq!(after.submits - before.submits, 1, "one submit");
    assert_eq!(
        after.pipelines_created - before.pipelines_created,
        4,
        "POLY over two buckets, the reversal, ADD"
    );
    for i in 0..2 {
        for (k, out) in outs[i].iter().enumerate() {
            let want = a[i][k] * a[i][k] * s + b[i][k];
            // The GPU may fuse the multiply and add.
            let fused = (a[i][k] * a[i][k]).mul_add(s, b[i][k]);
            assert!(
                out.to_bits() == want.to_bits() || out.to_bits() == fused.to_bits(),
                "POLY task {i} element {k}: {out} vs {want}"
            );
        }
    }
    let want: Vec<u32> = ints.iter().rev().copied().collect();
    assert_eq!(reversed, want);
    for k in 0..1000 {
        assert_eq!(sum[k].to_bits(), (a[0][k] + b[0][k]).to_bits());
    }
    let status = unsafe { gpu_executor_submit_batch(exec, tasks.as_ptr(), tasks.len()) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    assert_eq!(
        stats(exec).pipelines_created,
        after.pipelines_created,
        "a resubmit compiles nothing"
    );
    unsafe { gpu_executor_destroy(exec) };
}

/// What is wrong, the source, the entry point, the description's edit, and a part of
/// the message the error must carry.
type Case = (
    &'static str,
    String,
    &'static str,
    Box<dyn FnOnce(&mut gpu_kernel_desc_t)>,
    &'static str,
);

#[test]
fn every_registration_error_is_invalid_kernel_naming_the_line() {
    let exec = create(ptr::null());
    let syntax = POLY.replace("out[i] = a[i]", "out[i] = = a[i]");
    let cases: Vec<Case> = vec![
        (
            "syntax error",
            syntax,
            "poly",
            Box::new(|d| d.num_inputs = 2),
            "kernel.wgsl:13:",
        ),
        (
            "unknown identifier",
            POLY.replace("params.s", "params.t"),
            "poly",
            Box::new(|d| d.num_inputs = 2),
            "kernel.wgsl:13:",
        ),
        (
            "missing entry point",
            POLY.to_string(),
            "main",
            Box::new(|d| d.num_inputs = 2),
            "no @compute entry point named \"main\"",
        ),
        (
            "fewer inputs declared than bound",
            POLY.to_string(),
            "poly",
            Box::new(|d| d.num_inputs = 1),
            "line 5",
        ),
        (
            "more inputs declared than bound",
            POLY.to_string(),
            "poly",
            Box::new(|d| d.num_inputs = 3),
            "binds no input 2",
        ),
        (
            "output not writable",
            POLY.replace("read_write> out", "read> out"),
            "poly",
            Box::new(|d| d.num_inputs = 2),
            "kernel.wgsl:13:",
        ),
        (
            "input writable",
            POLY.replace("read> b", "read_write> b"),
            "poly",
            Box::new(|d| d.num_inputs = 2),
            "line 5",
        ),
        (
            "another group",
            POLY.replace("@group(0) @binding(2)", "@group(1) @binding(2)"),
            "poly",
            Box::new(|d| d.num_inputs = 2),
            "group 1",
        ),
        (
            "bad elements per invocation",
            POLY.to_string(),
            "poly",
            Box::new(|d| {
                d.num_inputs = 2;
                d.elements_per_invocation = 3
            }),
            "1 or 4",
        ),
        (
            "bad params size",
            POLY.to_string(),
            "poly",
            Box::new(|d| {
                d.num_inputs = 2;
                d.params_size = 6
            }),
            "multiple of 4",
        ),
        (
            "bad dtype",
            POLY.to_string(),
            "poly",
            Box::new(|d| {
                d.num_inputs = 2;
                d.dtype = 9
            }),
            "gpu_dtype_t",
        ),
    ];
    for (what, source, entry, edit, needle) in cases {
        let (status, op) = register(exec, &source, entry, edit);
        assert_eq!(
            status,
            S::GPU_EXECUTOR_INVALID_KERNEL,
            "{what}: {}",
            last_error()
        );
        assert_eq!(op, 0, "{what}: op_out untouched");
        assert!(
            last_error().contains(needle),
            "{what}: message should contain {needle:?}: {}",
            last_error()
        );
    }
    let mut bad = gpu_kernel_desc_default();
    bad.struct_size -= 4;
    let mut op = 0;
    assert_eq!(
        unsafe { gpu_executor_register_kernel(exec, &bad, &mut op) },
        S::GPU_EXECUTOR_BAD_STRUCT_SIZE
    );
    let good = gpu_kernel_desc_default();
    assert_eq!(
        unsafe { gpu_executor_register_kernel(exec, &good, &mut op) },
        S::GPU_EXECUTOR_NULL_POINTER,
        "no source"
    );
    assert_eq!(
        stats(exec).pipelines_created,
        0,
        "nothing registered or compiled"
    );
    unsafe { gpu_executor_destroy(exec) };
}

#[test]
fn op_codes_belong_to_their_executor_and_tasks_are_checked() {
    let a_exec = create(ptr::null());
    let b_exec = create(ptr::null());
    let (status, poly) = register(a_exec, POLY, "poly", |d| {
        d.num_inputs = 2;
        d.params_size = 4;
    });
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    let x = vec![1.0f32; 100];
    let mut out = vec![f32::NAN; 100];
    let task = gpu_task_t {
        op: poly,
        flags: 0,
        inputs: [
            x.as_ptr().cast(),
            x.as_ptr().cast(),
            ptr::null(),
            ptr::null(),
        ],
        output: out.as_mut_ptr().cast(),
        length: 100,
        params: [u64::from(2.0f32.to_bits()), 0, 0, 0],
    };
    assert_eq!(
        unsafe { gpu_executor_submit_batch(b_exec, &task, 1) },
        S::GPU_EXECUTOR_UNKNOWN_OP,
        "another executor's op code"
    );
    let mut wrong_type = task;
    wrong_type.flags = gpu_dtype_t::GPU_DTYPE_I32 as u32;
    assert_eq!(
        unsafe { gpu_executor_submit_batch(a_exec, &wrong_type, 1) },
        S::GPU_EXECUTOR_INVALID_ARGUMENT
    );
    let mut extra_param = task;
    extra_param.params[1] = 1;
    assert_eq!(
        unsafe { gpu_executor_submit_batch(a_exec, &extra_param, 1) },
        S::GPU_EXECUTOR_INVALID_ARGUMENT
    );
    assert!(out.iter().all(|v| v.is_nan()));
    assert_eq!(
        unsafe { gpu_executor_submit_batch(a_exec, &task, 1) },
        S::GPU_EXECUTOR_OK,
        "{}",
        last_error()
    );
    assert!(out.iter().all(|&v| v == 3.0));
    unsafe { gpu_executor_destroy(a_exec) };
    // Once its executor is gone the code names nothing.
    assert_eq!(
        unsafe { gpu_executor_submit_batch(b_exec, &task, 1) },
        S::GPU_EXECUTOR_UNKNOWN_OP
    );
    unsafe { gpu_executor_destroy(b_exec) };

    // A whole-array kernel is never split: beyond one binding it is rejected.
    let mut options = gpu_executor_options_default();
    options.max_chunk_elements = 4096;
    let exec = create(&options);
    let (status, reverse) = register(exec, REVERSE, "main", |d| {
        d.dtype = gpu_dtype_t::GPU_DTYPE_U32 as u32;
        d.elementwise = 0;
    });
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    let ints = vec![7u32; 5000];
    let mut back = vec![0u32; 5000];
    let t = gpu_task_t {
        op: reverse,
        flags: gpu_dtype_t::GPU_DTYPE_U32 as u32,
        inputs: [ints.as_ptr().cast(), ptr::null(), ptr::null(), ptr::null()],
        output: back.as_mut_ptr().cast(),
        length: 5000,
        params: [0; 4],
    };
    assert_eq!(
        unsafe { gpu_executor_submit_batch(exec, &t, 1) },
        S::GPU_EXECUTOR_INVALID_ARGUMENT,
        "{}",
        last_error()
    );
    assert!(back.iter().all(|&v| v == 0));
    unsafe { gpu_executor_destroy(exec) };
}

#[test]
fn a_whole_array_kernel_sees_its_task_length_as_the_count() {
    // The count is the task's length, not the length padded to a multiple of four that the
    // slab reserves: REVERSE reads a[count - 1 - i], so a padded count would read padding.
    let exec = create(ptr::null());
    let (status, reverse) = register(exec, REVERSE, "main", |d| {
        d.dtype = gpu_dtype_t::GPU_DTYPE_U32 as u32;
        d.elementwise = 0;
    });
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    let mut rng = Rng::new(77);
    for n in [1usize, 2, 3, 5, 4999, 4097] {
        let ints: Vec<u32> = (0..n).map(|_| rng.next_u64() as u32 | 1).collect();
        let mut back = vec![0u32; n];
        let t = gpu_task_t {
            op: reverse,
            flags: gpu_dtype_t::GPU_DTYPE_U32 as u32,
            inputs: [ints.as_ptr().cast(), ptr::null(), ptr::null(), ptr::null()],
            output: back.as_mut_ptr().cast(),
            length: n,
            params: [0; 4],
        };
        let status = unsafe { gpu_executor_submit_batch(exec, &t, 1) };
        assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
        let want: Vec<u32> = ints.iter().rev().copied().collect();
        assert_eq!(back, want, "length {n}");
    }
    unsafe { gpu_executor_destroy(exec) };
}
