//! Matrix multiply through the C API: odd shapes against an f64 CPU reference, a batch of
//! mixed shapes in one submit, same-shaped products sharing a dispatch, transposed B, and
//! bad dimensions.

mod common;

use std::ptr;

use common::c_api::{create, last_error, stats};
use common::Rng;
use gpu_executor::ffi::*;

use gpu_executor_status_t as S;

struct Product {
    m: usize,
    k: usize,
    n: usize,
    transpose_b: bool,
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
}

impl Product {
    fn random(rng: &mut Rng, (m, k, n): (usize, usize, usize), transpose_b: bool) -> Self {
        Self {
            m,
            k,
            n,
            transpose_b,
            a: rng.vec(m * k).iter().map(|x| x / 100.0).collect(),
            b: rng.vec(k * n).iter().map(|x| x / 100.0).collect(),
            c: vec![f32::NAN; m * n],
        }
    }

    fn task(&mut self) -> gpu_task_t {
        gpu_task_t {
            op: gpu_op_t::GPU_OP_MATMUL as u32,
            flags: if self.transpose_b {
                GPU_TASK_TRANSPOSE_B
            } else {
                0
            },
            inputs: [
                self.a.as_ptr().cast(),
                self.b.as_ptr().cast(),
                ptr::null(),
                ptr::null(),
            ],
            output: self.c.as_mut_ptr().cast(),
            length: self.m * self.n,
            params: [self.m as u64, self.k as u64, self.n as u64, 0],
        }
    }

    fn b_at(&self, kk: usize, j: usize) -> f64 {
        let v = if self.transpose_b {
            self.b[j * self.k + kk]
        } else {
            self.b[kk * self.n + j]
        };
        f64::from(v)
    }

    /// Every element within `4 * K` rounding errors of the sum of magnitudes (the f32
    /// accumulation bound, generously).
    fn check(&self) {
        for i in 0..self.m {
            for j in 0..self.n {
                let (mut exact, mut magnitude) = (0f64, 0f64);
                for kk in 0..self.k {
                    let p = f64::from(self.a[i * self.k + kk]) * self.b_at(kk, j);
                    exact += p;
                    magnitude += p.abs();
                }
                let got = f64::from(self.c[i * self.n + j]);
                let bound = 4.0 * self.k as f64 * f64::from(f32::EPSILON) * magnitude + 1e-30;
                assert!(
                    (got - exact).abs() <= bound,
                    "{}x{}x{} ({}) C[{i}][{j}] = {got}, want {exact} (bound {bound:e})",
                    self.m,
                    self.k,
                    self.n,
                    if self.transpose_b {
                        "B transposed"
                    } else {
                        "B"
                    }
                );
            }
        }
    }
}

#[test]
fn odd_shapes_in_one_batch_match_the_cpu() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(128);
    let shapes = [
        (1, 1, 1),
        (17, 33, 65),
        (1, 4096, 1),
        (1000, 1, 1000),
        (256, 256, 256),
        (3, 5000, 7),
        (64, 64, 64),
        (65, 17, 130),
        (130, 70, 257),
        (300, 33, 129),
    ];
    let mut products: Vec<Product> = shapes
        .iter()
        .enumerate()
        .map(|(i, &s)| Product::random(&mut rng, s, i % 3 == 1))
        .collect();
    let tasks: Vec<gpu_task_t> = products.iter_mut().map(Product::task).collect();
    let status = unsafe { gpu_executor_submit_batch(exec, tasks.as_ptr(), tasks.len()) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    assert_eq!(stats(exec).submits, 1);
    for p in &products {
        p.check();
    }
    unsafe { gpu_executor_destroy(exec) };
}

#[test]
fn same_shaped_products_share_a_dispatch_and_pipelines_are_reused() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(129);
    let mut products: Vec<Product> = (0..40)
        .map(|i| Product::random(&mut rng, (64, 64, 64), i % 2 == 0))
        .collect();
    // Two shapes, each in both transposition states: four groups, four dispatches.
    let mut small: Vec<Product> = (0..6)
        .map(|i| Product::random(&mut rng, (5, 9, 3), i % 2 == 0))
        .collect();
    let tasks: Vec<gpu_task_t> = products
        .iter_mut()
        .chain(small.iter_mut())
        .map(Product::task)
        .collect();
    let status = unsafe { gpu_executor_submit_batch(exec, tasks.as_ptr(), tasks.len()) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    let first = stats(exec);
    assert_eq!(first.dispatches, 4);
    assert_eq!(
        first.pipelines_created, 2,
        "one per shape class (64 and 16 tiles)"
    );
    for p in products.iter().chain(&small) {
        p.check();
    }
    let status = unsafe { gpu_executor_submit_batch(exec, tasks.as_ptr(), tasks.len()) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    assert_eq!(
        stats(exec).pipelines_created,
        2,
        "a resubmit compiles nothing"
    );
    unsafe { gpu_executor_destroy(exec) };
}

#[test]
fn bad_matmuls_are_rejected() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(130);
    let mut p = Product::random(&mut rng, (4, 5, 6), false);
    let base = p.task();
    type Tweak = fn(&mut gpu_task_t);
    let cases: [(&str, S, Tweak); 6] = [
        ("length is not M*N", S::GPU_EXECUTOR_INVALID_ARGUMENT, |t| {
            t.length = 23
        }),
        ("i32 matmul", S::GPU_EXECUTOR_INVALID_ARGUMENT, |t| {
            t.flags = gpu_dtype_t::GPU_DTYPE_I32 as u32
        }),
        ("params[3]", S::GPU_EXECUTOR_INVALID_ARGUMENT, |t| {
            t.params[3] = 1
        }),
        (
            "dimension over 32 bits",
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            |t| t.params[1] = 1 << 33,
        ),
        (
            "overflowing dimensions",
            S::GPU_EXECUTOR_SIZE_OVERFLOW,
            |t| {
                t.params = [u32::MAX as u64, u32::MAX as u64, u32::MAX as u64, 0];
                t.length = usize::MAX;
            },
        ),
        ("result overlaps A", S::GPU_EXECUTOR_ALIASING, |t| {
            t.output = t.inputs[0].cast_mut()
        }),
    ];
    for (what, expected, tweak) in cases {
        let mut t = base;
        tweak(&mut t);
        let status = unsafe { gpu_executor_submit_batch(exec, &t, 1) };
        assert_eq!(status, expected, "{what}: {}", last_error());
        assert!(p.c.iter().all(|x| x.is_nan()), "{what}: output untouched");
    }
    let status = unsafe { gpu_executor_submit_batch(exec, &base, 1) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    p.check();
    unsafe { gpu_executor_destroy(exec) };

    // An operand larger than one binding: matmuls are never split.
    let mut options = gpu_executor_options_default();
    options.max_chunk_elements = 4096;
    let exec = create(&options);
    let mut big = Product::random(&mut rng, (100, 100, 100), false);
    let status = unsafe { gpu_executor_submit_batch(exec, &big.task(), 1) };
    assert_eq!(status, S::GPU_EXECUTOR_INVALID_ARGUMENT, "{}", last_error());
    assert!(last_error().contains("not split"), "{}", last_error());
    assert!(big.c.iter().all(|x| x.is_nan()));
    unsafe { gpu_executor_destroy(exec) };
}
