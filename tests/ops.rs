//! The element-wise op family through the C API: every op at every element type it
//! supports against a CPU reference, on random data with negatives, zeros, large and tiny
//! values; one mixed batch makes one submit; bad tasks get their own status.
//!
//! Exactness: integer ops are exact (with wrap-around). For f32, ADD SUB MUL MIN MAX NEG ABS
//! RELU SCALE CLAMP are bit-exact (IEEE rounds them exactly; AXPY and FMA too where the GPU
//! fuses — lavapipe does), DIV and SQRT within 2.5 ULP and the transcendental ops within
//! the bounds in `tolerance` (Vulkan's precision rules; docs/KERNELS.md has the measured
//! errors). Subnormals: the test states per adapter whether it expects them kept (lavapipe)
//! or flushed to zero (NVIDIA), and checks that.

mod common;

use std::ptr;

use common::c_api::{adapter_info, create, last_error, stats};
use common::Rng;
use gpu_executor::ffi::*;
use gpu_executor::ops::{ElemType, ELEMENTWISE};

use gpu_executor_status_t as S;

/// Whether the adapter flushes f32 subnormals to zero (inputs and results).
fn flushes_subnormals(exec: *mut gpu_executor_t) -> bool {
    let info = adapter_info(exec);
    // NVIDIA flushes (measured on an H100); lavapipe keeps them.
    info.vendor_id == 0x10de
}

/// Random f32 with every sign, zeros, huge and tiny (some subnormal) magnitudes.
fn f32_value(rng: &mut Rng) -> f32 {
    let pick = rng.next_u64() % 16;
    let unit = rng.f32() / 100.0; // [-1, 1)
    match pick {
        0 => 0.0,
        1 => -0.0,
        2 => unit * 1e30,
        3 => unit * 1e-30,
        4 => unit * 1e-40, // subnormal
        5 => unit * 1e4,
        _ => unit * 10.0,
    }
}

fn u32_value(rng: &mut Rng) -> u32 {
    match rng.next_u64() % 6 {
        0 => 0,
        1 => u32::MAX,
        2 => 0x8000_0000,
        _ => rng.next_u64() as u32,
    }
}

/// Inputs for `op` at `ty`, kept in the domain where the op is defined (LOG, SQRT, POW).
fn input(rng: &mut Rng, ty: ElemType, name: &str, k: usize) -> u32 {
    match ty {
        ElemType::F32 => {
            let mut x = f32_value(rng);
            match (name, k) {
                ("SQRT" | "LOG", _) | ("POW", 0) => x = x.abs().max(1e-30),
                ("POW", 1) => x = (rng.f32() / 25.0).clamp(-4.0, 4.0),
                ("EXP" | "TANH" | "SIGMOID", _) => x = (rng.f32() / 5.0).clamp(-20.0, 20.0),
                ("SIN" | "COS", _) => x = rng.f32() * std::f32::consts::PI / 100.0,
                _ => {}
            }
            x.to_bits()
        }
        _ => u32_value(rng),
    }
}

fn ftz(x: f32) -> f32 {
    if x.is_subnormal() {
        0.0f32.copysign(x)
    } else {
        x
    }
}

/// The CPU reference of one element, in f64 where the op is transcendental.
fn reference(name: &str, ty: ElemType, a: u32, b: u32, c: u32, s: [u32; 2]) -> u32 {
    match ty {
        ElemType::F32 => {
            let (a, b, c) = (f32::from_bits(a), f32::from_bits(b), f32::from_bits(c));
            let (s0, s1) = (f32::from_bits(s[0]), f32::from_bits(s[1]));
            let r = match name {
                "ADD" => a + b,
                "SUB" => a - b,
                "MUL" => a * b,
                "DIV" => a / b,
                "MIN" => a.min(b),
                "MAX" => a.max(b),
                "POW" => (a as f64).powf(b as f64) as f32,
                "NEG" => -a,
                "ABS" => a.abs(),
                "SQRT" => a.sqrt(),
                "EXP" => (a as f64).exp() as f32,
                "LOG" => (a as f64).ln() as f32,
                "SIN" => (a as f64).sin() as f32,
                "COS" => (a as f64).cos() as f32,
                "TANH" => (a as f64).tanh() as f32,
                "RELU" => a.max(0.0),
                "SIGMOID" => (1.0 / (1.0 + (-(a as f64)).exp())) as f32,
                "SCALE" => a * s0,
                "AXPY" => s0.mul_add(a, b),
                "CLAMP" => a.max(s0).min(s1),
                "FMA" => a.mul_add(b, c),
                "COPY" => return a.to_bits(),
                other => panic!("no reference for {other}"),
            };
            r.to_bits()
        }
        ElemType::I32 => {
            let (a, b, c) = (a as i32, b as i32, c as i32);
            let (s0, s1) = (s[0] as i32, s[1] as i32);
            let r = match name {
                "ADD" => a.wrapping_add(b),
                "SUB" => a.wrapping_sub(b),
                "MUL" => a.wrapping_mul(b),
                "DIV" if b == 0 || (a == i32::MIN && b == -1) => a,
                "DIV" => a / b,
                "MIN" => a.min(b),
                "MAX" => a.max(b),
                "NEG" => a.wrapping_neg(),
                "ABS" => a.wrapping_abs(),
                "RELU" => a.max(0),
                "SCALE" => a.wrapping_mul(s0),
                "AXPY" => s0.wrapping_mul(a).wrapping_add(b),
                "CLAMP" => a.max(s0).min(s1),
                "FMA" => a.wrapping_mul(b).wrapping_add(c),
                "COPY" => a,
                other => panic!("no i32 reference for {other}"),
            };
            r as u32
        }
        ElemType::U32 => {
            let (s0, s1) = (s[0], s[1]);
            match name {
                "ADD" => a.wrapping_add(b),
                "SUB" => a.wrapping_sub(b),
                "MUL" => a.wrapping_mul(b),
                "DIV" if b == 0 => a,
                "DIV" => a / b,
                "MIN" => a.min(b),
                "MAX" => a.max(b),
                "SCALE" => a.wrapping_mul(s0),
                "AXPY" => s0.wrapping_mul(a).wrapping_add(b),
                "CLAMP" => a.max(s0).min(s1),
                "FMA" => a.wrapping_mul(b).wrapping_add(c),
                "COPY" => a,
                other => panic!("no u32 reference for {other}"),
            }
        }
    }
}

/// AXPY and FMA rounded twice (multiply, then add), as a GPU that does not fuse computes.
fn unfused(name: &str, a: u32, b: u32, c: u32, s: [u32; 2]) -> Option<u32> {
    let (a, b, c, s0) = (
        f32::from_bits(a),
        f32::from_bits(b),
        f32::from_bits(c),
        f32::from_bits(s[0]),
    );
    match name {
        "AXPY" => Some((s0 * a + b).to_bits()),
        "FMA" => Some((a * b + c).to_bits()),
        _ => None,
    }
}

/// Ops built on min/max: for +0 and -0 either zero is a right answer.
const SIGNED_ZERO_EITHER: [&str; 4] = ["MIN", "MAX", "RELU", "CLAMP"];

/// Allowed error of f32 results: (ULPs, absolute). `None`: bit-exact.
fn tolerance(name: &str) -> Option<(u32, f32)> {
    match name {
        "DIV" | "SQRT" => Some((3, 0.0)),
        // Vulkan: exp2(x) within 3 + 2|x| ULP, exp and pow inherit it (|x| <= 29 for EXP
        // here, <= 400 for POW); results in the subnormal range may come back as zero.
        "EXP" => Some((64, f32::MIN_POSITIVE)),
        "POW" => Some((1024, f32::MIN_POSITIVE)),
        "LOG" => Some((4, 2f32.powi(-21))),
        "SIN" | "COS" => Some((4, 2f32.powi(-11))),
        "TANH" | "SIGMOID" => Some((64, 1e-5)),
        _ => None,
    }
}

fn ulps(a: f32, b: f32) -> u32 {
    let key = |x: f32| {
        let bits = x.to_bits() as i64;
        if bits < 0x8000_0000 {
            bits
        } else {
            0x8000_0000 - bits
        }
    };
    (key(a) - key(b)).unsigned_abs().min(u32::MAX as u64) as u32
}

struct Case {
    name: &'static str,
    ty: ElemType,
    arity: usize,
    inputs: [Vec<u32>; 3],
    scalars: [u32; 2],
    out: Vec<u32>,
}

fn dtype(ty: ElemType) -> u32 {
    match ty {
        ElemType::F32 => gpu_dtype_t::GPU_DTYPE_F32 as u32,
        ElemType::I32 => gpu_dtype_t::GPU_DTYPE_I32 as u32,
        ElemType::U32 => gpu_dtype_t::GPU_DTYPE_U32 as u32,
    }
}

#[test]
fn every_op_at_every_type_matches_the_cpu_in_one_mixed_batch() {
    let exec = create(ptr::null());
    let flush = flushes_subnormals(exec);
    let mut rng = Rng::new(2024);
    let mut cases: Vec<Case> = Vec::new();
    let mut tasks: Vec<gpu_task_t> = Vec::new();
    for op in ELEMENTWISE {
        for ty in op.types() {
            // Two tasks per kernel: a small one and one past the smallest bucket.
            for len in [1 + (rng.next_u64() % 3000) as usize, 20_000] {
                let inputs = [0, 1, 2].map(|k| {
                    if k < op.arity {
                        (0..len).map(|_| input(&mut rng, ty, op.name, k)).collect()
                    } else {
                        Vec::new()
                    }
                });
                let scalars = match (op.name, ty) {
                    ("CLAMP", ElemType::F32) => [(-5.0f32).to_bits(), 7.5f32.to_bits()],
                    ("CLAMP", ElemType::I32) => [(-1000i32) as u32, 123_456],
                    ("CLAMP", ElemType::U32) => [1000, 3_000_000_000],
                    (_, ElemType::F32) if op.scalars > 0 => [(-2.5f32).to_bits(), 0],
                    (_, _) if op.scalars > 0 => [7, 0],
                    _ => [0, 0],
                };
                cases.push(Case {
                    name: op.name,
                    ty,
                    arity: op.arity,
                    inputs,
                    scalars,
                    out: vec![0xDEAD_BEEF; len],
                });
            }
        }
    }
    for (case, op) in cases.iter_mut().zip(
        ELEMENTWISE
            .iter()
            .flat_map(|op| op.types().flat_map(move |_| [op, op])),
    ) {
        let mut inputs = [ptr::null(); 4];
        for (k, slot) in inputs.iter_mut().enumerate().take(case.arity) {
            *slot = case.inputs[k].as_ptr().cast();
        }
        let mut params = [0u64; 4];
        for (k, p) in params.iter_mut().enumerate().take(op.scalars) {
            *p = u64::from(case.scalars[k]);
        }
        tasks.push(gpu_task_t {
            op: op.code,
            flags: dtype(case.ty),
            inputs,
            output: case.out.as_mut_ptr().cast(),
            length: case.out.len(),
            params,
        });
    }
    let status = unsafe { gpu_executor_submit_batch(exec, tasks.as_ptr(), tasks.len()) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    let s = stats(exec);
    assert_eq!(s.submits, 1, "one submit for the whole mixed batch");
    assert_eq!(s.tasks, tasks.len() as u64);

    let mut worst: Vec<(&str, u32, f32)> = Vec::new();
    for case in &cases {
        let mut worst_ulps = 0u32;
        let mut worst_abs = 0f32;
        for i in 0..case.out.len() {
            let get = |k: usize| case.inputs[k].get(i).copied().unwrap_or(0);
            let (mut a, mut b, mut c) = (get(0), get(1), get(2));
            // COPY moves bits: nothing is flushed, NaN payloads included.
            let flush = flush && case.name != "COPY";
            if flush && case.ty == ElemType::F32 {
                let f = |x: u32| ftz(f32::from_bits(x)).to_bits();
                (a, b, c) = (f(a), f(b), f(c));
            }
            let mut want = reference(case.name, case.ty, a, b, c, case.scalars);
            if flush && case.ty == ElemType::F32 {
                want = ftz(f32::from_bits(want)).to_bits();
            }
            let got = case.out[i];
            if case.ty != ElemType::F32 {
                assert_eq!(got, want, "{} {:?} element {i}", case.name, case.ty);
                continue;
            }
            let (g, w) = (f32::from_bits(got), f32::from_bits(want));
            if got == want || (g.is_nan() && w.is_nan()) {
                continue;
            }
            // a * b + c may or may not be fused (Vulkan allows both): either rounding is right.
            if let Some(unfused) = unfused(case.name, a, b, c, case.scalars) {
                if got == unfused {
                    continue;
                }
            }
            // min/max of +0 and -0 may return either zero (IEEE minNum/maxNum).
            if SIGNED_ZERO_EITHER.contains(&case.name) && g == 0.0 && w == 0.0 {
                continue;
            }
            match tolerance(case.name) {
                None => panic!(
                    "{} f32 element {i}: got {g:e} ({got:#x}), want {w:e} ({want:#x}); inputs {:e} {:e} {:e}",
                    case.name,
                    f32::from_bits(a),
                    f32::from_bits(b),
                    f32::from_bits(c)
                ),
                Some((max_ulps, max_abs)) => {
                    let u = ulps(g, w);
                    let abs = (g - w).abs();
                    assert!(
                        u <= max_ulps || abs <= max_abs,
                        "{} f32 element {i}: got {g:e}, want {w:e}: {u} ULP, {abs:e} absolute; input {:e}",
                        case.name,
                        f32::from_bits(a)
                    );
                    // Report ULPs where the result is normal, absolute error elsewhere.
                    if w.is_normal() {
                        worst_ulps = worst_ulps.max(u);
                    } else {
                        worst_abs = worst_abs.max(abs);
                    }
                }
            }
        }
        if case.ty == ElemType::F32 && tolerance(case.name).is_some() {
            worst.push((case.name, worst_ulps, worst_abs));
        }
    }
    println!(
        "flushes subnormals: {flush}; worst f32 errors (op, ULP where the result is normal, absolute where it is not): {worst:?}"
    );
    unsafe { gpu_executor_destroy(exec) };
}

#[test]
fn bad_op_type_arity_and_params_are_rejected_untouched() {
    let exec = create(ptr::null());
    let a = vec![1.0f32; 64];
    let b = vec![2.0f32; 64];
    let mut out = vec![f32::NAN; 64];
    let base = gpu_task_t {
        op: gpu_op_t::GPU_OP_SCALE as u32,
        flags: 0,
        inputs: [a.as_ptr().cast(), ptr::null(), ptr::null(), ptr::null()],
        output: out.as_mut_ptr().cast(),
        length: 64,
        params: [u64::from(3.0f32.to_bits()), 0, 0, 0],
    };
    type Tweak = fn(&mut gpu_task_t, *const std::ffi::c_void);
    let cases: [(&str, S, Tweak); 8] = [
        ("unknown op", S::GPU_EXECUTOR_UNKNOWN_OP, |t, _| t.op = 999),
        ("op zero", S::GPU_EXECUTOR_UNKNOWN_OP, |t, _| t.op = 0),
        ("sqrt of i32", S::GPU_EXECUTOR_INVALID_ARGUMENT, |t, _| {
            t.op = gpu_op_t::GPU_OP_SQRT as u32;
            t.flags = gpu_dtype_t::GPU_DTYPE_I32 as u32;
            t.params[0] = 0;
        }),
        ("neg of u32", S::GPU_EXECUTOR_INVALID_ARGUMENT, |t, _| {
            t.op = gpu_op_t::GPU_OP_NEG as u32;
            t.flags = gpu_dtype_t::GPU_DTYPE_U32 as u32;
            t.params[0] = 0;
        }),
        (
            "second input for a unary op",
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            |t, b| t.inputs[1] = b,
        ),
        (
            "missing second input",
            S::GPU_EXECUTOR_NULL_POINTER,
            |t, _| t.op = gpu_op_t::GPU_OP_AXPY as u32,
        ),
        (
            "scalar with upper bits",
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            |t, _| t.params[0] |= 1 << 40,
        ),
        (
            "param the op does not read",
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            |t, _| t.params[1] = 1,
        ),
    ];
    for (what, expected, tweak) in cases {
        let mut t = base;
        tweak(&mut t, b.as_ptr().cast());
        let status = unsafe { gpu_executor_submit_batch(exec, &t, 1) };
        assert_eq!(status, expected, "{what}: {}", last_error());
        assert!(last_error().contains("task 0"), "{what}: {}", last_error());
        assert!(out.iter().all(|x| x.is_nan()), "{what}: output untouched");
    }
    // The untouched task is valid.
    let status = unsafe { gpu_executor_submit_batch(exec, &base, 1) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    assert!(out.iter().all(|&x| x == 3.0));
    unsafe { gpu_executor_destroy(exec) };
}

/// Kernels are cached per op, type and bucket; a resubmit compiles nothing; tasks of one
/// kernel and bucket share a dispatch, tasks of different scalars do not.
#[test]
fn pipelines_are_cached_per_kernel_and_bucket() {
    let exec = create(ptr::null());
    let a = vec![1.5f32; 5000];
    let b = vec![2.5f32; 5000];
    let mut outs = vec![vec![0f32; 5000]; 4];
    let task = |op: gpu_op_t, s: f32, out: &mut Vec<f32>| gpu_task_t {
        op: op as u32,
        flags: 0,
        inputs: [a.as_ptr().cast(), ptr::null(), ptr::null(), ptr::null()],
        output: out.as_mut_ptr().cast(),
        length: 5000,
        params: [u64::from(s.to_bits()), 0, 0, 0],
    };
    let run = |outs: &mut Vec<Vec<f32>>| {
        let [o0, o1, o2, o3] = &mut outs[..] else {
            unreachable!()
        };
        let mut add = task(gpu_op_t::GPU_OP_VECTOR_ADD, 0.0, o0);
        add.inputs[1] = b.as_ptr().cast();
        add.params[0] = 0;
        let tasks = [
            add,
            task(gpu_op_t::GPU_OP_SCALE, 2.0, o1),
            task(gpu_op_t::GPU_OP_SCALE, 2.0, o2),
            task(gpu_op_t::GPU_OP_SCALE, -1.0, o3),
        ];
        let status = unsafe { gpu_executor_submit_batch(exec, tasks.as_ptr(), tasks.len()) };
        assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    };
    run(&mut outs);
    let first = stats(exec);
    assert_eq!(first.pipelines_created, 2, "ADD and SCALE for one bucket");
    assert_eq!(
        first.dispatches, 3,
        "ADD; SCALE by 2 twice in one; SCALE by -1"
    );
    assert_eq!(first.cached_buckets, 1);
    run(&mut outs);
    let second = stats(exec);
    assert_eq!(second.pipelines_created, 2, "a resubmit compiles nothing");
    assert_eq!(
        second.bucket_cache_hits - first.bucket_cache_hits,
        2,
        "one lookup per kernel and bucket"
    );
    assert!(outs[0].iter().all(|&x| x == 4.0));
    assert!(outs[1].iter().chain(&outs[2]).all(|&x| x == 3.0));
    assert!(outs[3].iter().all(|&x| x == -1.5));
    unsafe { gpu_executor_destroy(exec) };
}
