//! Reductions through the C API: many of different lengths in one batch, one submit, each
//! against an f64 reference within the documented bound; identities over no elements; a
//! large sum's relative error measured and printed for docs/KERNELS.md.

mod common;

use std::ptr;

use common::c_api::{create, last_error, stats};
use common::Rng;
use gpu_executor::ffi::*;

use gpu_executor_status_t as S;

/// Relative error bound of a float reduction against the exact (f64) result, as
/// documented: each invocation adds 16 elements, a tree of 256 combines them, blocks are
/// combined in f64. Relative to the sum of magnitudes, so cancellation is allowed for.
const RELATIVE_BOUND: f64 = 1e-5;

fn reduce_task(op: gpu_op_t, a: &[f32], b: Option<&[f32]>, out: &mut f32) -> gpu_task_t {
    gpu_task_t {
        op: op as u32,
        flags: 0,
        inputs: [
            if a.is_empty() {
                ptr::null()
            } else {
                a.as_ptr().cast()
            },
            b.map_or(ptr::null(), |b| {
                if b.is_empty() {
                    ptr::null()
                } else {
                    b.as_ptr().cast()
                }
            }),
            ptr::null(),
            ptr::null(),
        ],
        output: (out as *mut f32).cast(),
        length: a.len(),
        params: [0; 4],
    }
}

/// The exact result in f64, and the scale errors are measured against.
fn reference(op: gpu_op_t, a: &[f32], b: &[f32]) -> (f64, f64) {
    let a64 = a.iter().map(|&x| f64::from(x));
    match op {
        gpu_op_t::GPU_OP_SUM => (a64.clone().sum(), a64.map(f64::abs).sum()),
        gpu_op_t::GPU_OP_MEAN => {
            let n = a.len() as f64;
            (
                a64.clone().sum::<f64>() / n,
                a64.map(f64::abs).sum::<f64>() / n,
            )
        }
        gpu_op_t::GPU_OP_REDUCE_MIN => (a64.fold(f64::INFINITY, f64::min), 0.0),
        gpu_op_t::GPU_OP_REDUCE_MAX => (a64.fold(f64::NEG_INFINITY, f64::max), 0.0),
        gpu_op_t::GPU_OP_DOT => {
            let products = a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y));
            (products.clone().sum(), products.map(f64::abs).sum())
        }
        gpu_op_t::GPU_OP_NORM2 => {
            let squares: f64 = a64.map(|x| x * x).sum();
            (squares.sqrt(), squares.sqrt())
        }
        other => panic!("not a reduction: {other:?}"),
    }
}

const OPS: [gpu_op_t; 6] = [
    gpu_op_t::GPU_OP_SUM,
    gpu_op_t::GPU_OP_REDUCE_MIN,
    gpu_op_t::GPU_OP_REDUCE_MAX,
    gpu_op_t::GPU_OP_MEAN,
    gpu_op_t::GPU_OP_DOT,
    gpu_op_t::GPU_OP_NORM2,
];

#[test]
fn many_reductions_of_different_lengths_in_one_batch() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(64);
    let lengths = [0usize, 1, 3, 255, 4096, 4097, 16_385, 100_000, 1_100_000];
    let mut data: Vec<(gpu_op_t, Vec<f32>, Vec<f32>)> = Vec::new();
    for op in OPS {
        for &n in &lengths {
            data.push((op, rng.vec(n), rng.vec(n)));
        }
    }
    let mut outs = vec![f32::NAN; data.len()];
    let tasks: Vec<gpu_task_t> = data
        .iter()
        .zip(outs.iter_mut())
        .map(|((op, a, b), out)| {
            let b = (*op == gpu_op_t::GPU_OP_DOT).then_some(&b[..]);
            reduce_task(*op, a, b, out)
        })
        .collect();
    // Element-wise tasks in the same batch.
    let a = rng.vec(5000);
    let b = rng.vec(5000);
    let mut sum = vec![0f32; 5000];
    let mut all = tasks.clone();
    all.push(gpu_task_t {
        op: gpu_op_t::GPU_OP_VECTOR_ADD as u32,
        flags: 0,
        inputs: [
            a.as_ptr().cast(),
            b.as_ptr().cast(),
            ptr::null(),
            ptr::null(),
        ],
        output: sum.as_mut_ptr().cast(),
        length: 5000,
        params: [0; 4],
    });
    let status = unsafe { gpu_executor_submit_batch(exec, all.as_ptr(), all.len()) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    // 7.35M elements of host data: submitted in parts of at least a million elements
    // (the last part may be smaller), so at most 8 submits and more than one.
    let submits = stats(exec).submits;
    assert!((2..=8).contains(&submits), "{submits} submits");
    for (i, x) in sum.iter().enumerate() {
        assert_eq!(x.to_bits(), (a[i] + b[i]).to_bits());
    }

    for ((op, a, b), &got) in data.iter().zip(&outs) {
        let n = a.len();
        if n == 0 {
            let want = match op {
                gpu_op_t::GPU_OP_SUM | gpu_op_t::GPU_OP_DOT | gpu_op_t::GPU_OP_NORM2 => 0.0,
                gpu_op_t::GPU_OP_REDUCE_MIN => f32::INFINITY,
                gpu_op_t::GPU_OP_REDUCE_MAX => f32::NEG_INFINITY,
                _ => f32::NAN,
            };
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{op:?} over no elements: got {got}, want {want}"
            );
            continue;
        }
        let (exact, scale) = reference(*op, a, b);
        match op {
            gpu_op_t::GPU_OP_REDUCE_MIN | gpu_op_t::GPU_OP_REDUCE_MAX => {
                assert_eq!(f64::from(got), exact, "{op:?} over {n}");
            }
            _ => {
                let error = (f64::from(got) - exact).abs() / scale.max(f64::MIN_POSITIVE);
                assert!(
                    error <= RELATIVE_BOUND,
                    "{op:?} over {n}: got {got}, want {exact}, relative error {error:e}"
                );
            }
        }
    }
    unsafe { gpu_executor_destroy(exec) };
}

/// The figure docs/KERNELS.md quotes: SUM of 16M uniform [0, 1) values against f64.
#[test]
fn sum_of_sixteen_million_uniform_values_is_accurate() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(16);
    let n = 16 << 20;
    let a: Vec<f32> = (0..n)
        .map(|_| (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
        .collect();
    let mut got = f32::NAN;
    let task = reduce_task(gpu_op_t::GPU_OP_SUM, &a, None, &mut got);
    let status = unsafe { gpu_executor_submit_batch(exec, &task, 1) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    let exact: f64 = a.iter().map(|&x| f64::from(x)).sum();
    let error = (f64::from(got) - exact).abs() / exact;
    // The naive f32 loop, for comparison.
    let naive: f32 = a.iter().sum();
    let naive_error = (f64::from(naive) - exact).abs() / exact;
    println!(
        "SUM of 16M uniform [0,1): relative error {error:.2e} (f32 rounding of the result alone: {:.2e}; a sequential f32 loop: {naive_error:.2e})",
        f64::from(f32::EPSILON) / 2.0
    );
    assert!(error <= 1e-6, "relative error {error:e}");
    unsafe { gpu_executor_destroy(exec) };
}

#[test]
fn bad_reductions_are_rejected() {
    let exec = create(ptr::null());
    let a = vec![1.0f32; 100];
    let mut out = f32::NAN;
    let mut t = reduce_task(gpu_op_t::GPU_OP_SUM, &a, None, &mut out);
    t.flags = gpu_dtype_t::GPU_DTYPE_I32 as u32;
    assert_eq!(
        unsafe { gpu_executor_submit_batch(exec, &t, 1) },
        S::GPU_EXECUTOR_INVALID_ARGUMENT,
        "reductions are float only"
    );
    let mut t = reduce_task(gpu_op_t::GPU_OP_DOT, &a, None, &mut out);
    assert_eq!(
        unsafe { gpu_executor_submit_batch(exec, &t, 1) },
        S::GPU_EXECUTOR_NULL_POINTER,
        "DOT without b"
    );
    t.inputs[1] = a.as_ptr().cast();
    t.output = a.as_ptr().cast_mut().cast();
    assert_eq!(
        unsafe { gpu_executor_submit_batch(exec, &t, 1) },
        S::GPU_EXECUTOR_ALIASING,
        "the result overlaps an input"
    );
    let mut t = reduce_task(gpu_op_t::GPU_OP_SUM, &[], None, &mut out);
    t.output = ptr::null_mut();
    assert_eq!(
        unsafe { gpu_executor_submit_batch(exec, &t, 1) },
        S::GPU_EXECUTOR_NULL_POINTER,
        "a reduction over nothing still writes its result"
    );
    assert!(out.is_nan(), "nothing written");
    unsafe { gpu_executor_destroy(exec) };
}

/// A NaN anywhere makes SUM, REDUCE_MIN and REDUCE_MAX NaN, in any block of a long task.
#[test]
fn a_nan_element_makes_the_result_nan() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(65);
    for n in [1usize, 300, 10_000] {
        for at in [0, n / 2, n - 1] {
            let mut a = rng.vec(n);
            a[at] = f32::NAN;
            for op in [
                gpu_op_t::GPU_OP_SUM,
                gpu_op_t::GPU_OP_REDUCE_MIN,
                gpu_op_t::GPU_OP_REDUCE_MAX,
            ] {
                let mut out = 0.0f32;
                let t = reduce_task(op, &a, None, &mut out);
                let status = unsafe { gpu_executor_submit_batch(exec, &t, 1) };
                assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
                assert!(out.is_nan(), "{op:?} over {n} with NaN at {at}: got {out}");
            }
        }
    }
    unsafe { gpu_executor_destroy(exec) };
}
