//! Warm-up: after `gpu_executor_warmup`, the first batch of the described tasks compiles
//! nothing — the counters prove it — and its results are right.

mod common;

use std::ptr;

use common::c_api::{create, destroy, last_error, stats, submit};
use common::Rng;
use gpu_executor::ffi::*;

use gpu_executor_status_t as S;

fn describe(op: gpu_op_t, flags: u32, length: usize, params: [u64; 4]) -> gpu_task_t {
    gpu_task_t {
        op: op as u32,
        flags,
        inputs: [ptr::null(); 4],
        output: ptr::null_mut(),
        length,
        params,
    }
}

#[test]
fn after_warmup_the_first_batch_compiles_nothing() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(21);
    let (m, k, n) = (70usize, 30usize, 90usize);
    let all_buffers = GPU_TASK_INPUT0_BUFFER | GPU_TASK_INPUT1_BUFFER | GPU_TASK_OUTPUT_BUFFER;
    let plan = [
        describe(gpu_op_t::GPU_OP_VECTOR_ADD, 0, 1000, [0; 4]),
        describe(gpu_op_t::GPU_OP_VECTOR_ADD, 0, 100_000, [0; 4]),
        describe(
            gpu_op_t::GPU_OP_MUL,
            gpu_dtype_t::GPU_DTYPE_I32 as u32,
            5000,
            [0; 4],
        ),
        describe(gpu_op_t::GPU_OP_SUM, 0, 3000, [0; 4]),
        describe(
            gpu_op_t::GPU_OP_MATMUL,
            0,
            m * n,
            [m as u64, k as u64, n as u64, 0],
        ),
        describe(gpu_op_t::GPU_OP_VECTOR_ADD, all_buffers, 2000, [0; 4]),
    ];
    let mut compiled = 0;
    let status = unsafe { gpu_executor_warmup(exec, plan.as_ptr(), plan.len(), &mut compiled) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    // Two ADD buckets, MUL i32, SUM, one matmul class, ADD's direct kernel.
    assert_eq!(compiled, 6);
    let mut again = 99;
    let status = unsafe { gpu_executor_warmup(exec, plan.as_ptr(), plan.len(), &mut again) };
    assert_eq!(status, S::GPU_EXECUTOR_OK);
    assert_eq!(again, 0, "all cached now");
    let before = stats(exec);

    // The real batch: the same shapes, new data.
    let a1 = rng.vec(1000);
    let b1 = rng.vec(1000);
    let a2 = rng.vec(100_000);
    let b2 = rng.vec(100_000);
    let ai: Vec<i32> = (0..5000).map(|i| i * 3 - 7000).collect();
    let bi: Vec<i32> = (0..5000).map(|i| 11 - i).collect();
    let s = rng.vec(3000);
    let ma = rng.vec(m * k);
    let mb = rng.vec(k * n);
    let (mut o1, mut o2, mut oi, mut os, mut om) = (
        vec![0f32; 1000],
        vec![0f32; 100_000],
        vec![0i32; 5000],
        [0f32],
        vec![0f32; m * n],
    );
    let host = |t: &gpu_task_t, ins: &[*const std::ffi::c_void], out: *mut std::ffi::c_void| {
        let mut t = *t;
        t.inputs[..ins.len()].copy_from_slice(ins);
        t.output = out;
        t
    };
    let tasks = [
        host(
            &plan[0],
            &[a1.as_ptr().cast(), b1.as_ptr().cast()],
            o1.as_mut_ptr().cast(),
        ),
        host(
            &plan[1],
            &[a2.as_ptr().cast(), b2.as_ptr().cast()],
            o2.as_mut_ptr().cast(),
        ),
        host(
            &plan[2],
            &[ai.as_ptr().cast(), bi.as_ptr().cast()],
            oi.as_mut_ptr().cast(),
        ),
        host(&plan[3], &[s.as_ptr().cast()], os.as_mut_ptr().cast()),
        host(
            &plan[4],
            &[ma.as_ptr().cast(), mb.as_ptr().cast()],
            om.as_mut_ptr().cast(),
        ),
    ];
    assert_eq!(submit(exec, &tasks), S::GPU_EXECUTOR_OK, "{}", last_error());
    // And the resident ADD.
    let mut buffers = [0; 3];
    for (buffer, data) in buffers.iter_mut().zip([&a1[..], &b1[..], &o1[..]]) {
        let status = unsafe { gpu_buffer_create_from(exec, 0, data.as_ptr().cast(), 1000, buffer) };
        assert_eq!(status, S::GPU_EXECUTOR_OK);
    }
    let regions = buffers.map(|b| gpu_region_t {
        buffer: b,
        offset: 0,
    });
    let mut resident = plan[5];
    resident.length = 1000;
    resident.inputs[0] = (&regions[0] as *const gpu_region_t).cast();
    resident.inputs[1] = (&regions[1] as *const gpu_region_t).cast();
    resident.output = (&regions[2] as *const gpu_region_t).cast_mut().cast();
    assert_eq!(
        submit(exec, &[resident]),
        S::GPU_EXECUTOR_OK,
        "{}",
        last_error()
    );

    let after = stats(exec);
    assert_eq!(
        after.pipelines_created, before.pipelines_created,
        "nothing compiled"
    );
    assert_eq!(after.bucket_cache_misses, before.bucket_cache_misses);
    // The results are right.
    assert!(o1
        .iter()
        .zip(a1.iter().zip(&b1))
        .all(|(o, (x, y))| *o == x + y));
    assert!(o2
        .iter()
        .zip(a2.iter().zip(&b2))
        .all(|(o, (x, y))| *o == x + y));
    assert!(oi
        .iter()
        .zip(ai.iter().zip(&bi))
        .all(|(o, (x, y))| *o == x.wrapping_mul(*y)));
    let sum: f64 = s.iter().map(|&v| f64::from(v)).sum();
    let magnitude: f64 = s.iter().map(|&v| f64::from(v).abs()).sum();
    assert!((f64::from(os[0]) - sum).abs() <= 1e-5 * magnitude);
    let c00: f64 = (0..k)
        .map(|p| f64::from(ma[p]) * f64::from(mb[p * n]))
        .sum();
    assert!((f64::from(om[0]) - c00).abs() <= 1e-3 * c00.abs().max(1.0));
    destroy(exec);
}

#[test]
fn bad_warmup_descriptions_get_their_status() {
    let exec = create(ptr::null());
    let bad_op = [describe(gpu_op_t::GPU_OP_VECTOR_ADD, 0, 10, [0; 4])].map(|mut t| {
        t.op = 999;
        t
    });
    let bad_type = [describe(
        gpu_op_t::GPU_OP_EXP,
        gpu_dtype_t::GPU_DTYPE_I32 as u32,
        10,
        [0; 4],
    )];
    unsafe {
        assert_eq!(
            gpu_executor_warmup(exec, bad_op.as_ptr(), 1, ptr::null_mut()),
            S::GPU_EXECUTOR_UNKNOWN_OP
        );
        assert_eq!(
            gpu_executor_warmup(exec, bad_type.as_ptr(), 1, ptr::null_mut()),
            S::GPU_EXECUTOR_INVALID_ARGUMENT
        );
        assert_eq!(
            gpu_executor_warmup(exec, ptr::null(), 1, ptr::null_mut()),
            S::GPU_EXECUTOR_NULL_POINTER
        );
        assert_eq!(
            gpu_executor_warmup(exec, ptr::null(), 0, ptr::null_mut()),
            S::GPU_EXECUTOR_OK
        );
        assert_eq!(
            gpu_executor_warmup(ptr::null_mut(), ptr::null(), 0, ptr::null_mut()),
            S::GPU_EXECUTOR_NULL_POINTER
        );
    }
    assert_eq!(
        stats(exec).pipelines_created,
        0,
        "nothing compiled for bad descriptions"
    );
    destroy(exec);
}
