//! Resident buffers through the C API: create, write, read, destroy; tasks whose operands
//! are buffer regions (element-wise on the direct path and through slabs, reductions and
//! matmul reading buffers, user kernels); chains inside one batch checked against the CPU;
//! every bad input's status with nothing written; stats; threads.

mod common;

use std::ffi::c_void;
use std::ptr;

use common::c_api::{create, destroy, last_error, stats, submit, submit_async, wait};
use common::Rng;
use gpu_executor::ffi::*;

use gpu_executor_status_t as S;

const F32: u32 = gpu_dtype_t::GPU_DTYPE_F32 as u32;
const I32: u32 = gpu_dtype_t::GPU_DTYPE_I32 as u32;

fn ok(status: S) {
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
}

fn buffer_from(exec: *mut gpu_executor_t, data: &[f32]) -> gpu_buffer_t {
    let mut b = 0;
    ok(unsafe {
        gpu_buffer_create_from(exec, F32, data.as_ptr().cast(), data.len() as u64, &mut b)
    });
    assert_ne!(b, 0);
    b
}

fn buffer_zeroed(exec: *mut gpu_executor_t, dtype: u32, n: u64) -> gpu_buffer_t {
    let mut b = 0;
    ok(unsafe { gpu_buffer_create(exec, dtype, n, &mut b) });
    b
}

fn read(exec: *mut gpu_executor_t, b: gpu_buffer_t, offset: u64, n: usize) -> Vec<f32> {
    let mut out = vec![f32::NAN; n];
    ok(unsafe { gpu_buffer_read(exec, b, offset, out.as_mut_ptr().cast(), n as u64) });
    out
}

fn region(buffer: gpu_buffer_t, offset: u64) -> gpu_region_t {
    gpu_region_t { buffer, offset }
}

/// A task of `op` over `length` elements; operands are host pointers or regions as the
/// flags say.
fn task(
    op: u32,
    flags: u32,
    inputs: &[*const c_void],
    output: *mut c_void,
    length: usize,
    params: [u64; 4],
) -> gpu_task_t {
    let mut ins = [ptr::null(); 4];
    ins[..inputs.len()].copy_from_slice(inputs);
    gpu_task_t {
        op,
        flags,
        inputs: ins,
        output,
        length,
        params,
    }
}

fn r(region: &gpu_region_t) -> *const c_void {
    (region as *const gpu_region_t).cast()
}

fn rw(region: &mut gpu_region_t) -> *mut c_void {
    (region as *mut gpu_region_t).cast()
}

const ADD: u32 = gpu_op_t::GPU_OP_VECTOR_ADD as u32;
const MUL: u32 = gpu_op_t::GPU_OP_MUL as u32;
const AXPY: u32 = gpu_op_t::GPU_OP_AXPY as u32;
const SCALE: u32 = gpu_op_t::GPU_OP_SCALE as u32;
const FMA: u32 = gpu_op_t::GPU_OP_FMA as u32;
const IN0: u32 = GPU_TASK_INPUT0_BUFFER;
const IN1: u32 = GPU_TASK_INPUT1_BUFFER;
const IN2: u32 = GPU_TASK_INPUT2_BUFFER;
const OUT: u32 = GPU_TASK_OUTPUT_BUFFER;

#[test]
fn create_write_read_destroy_round_trip() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(1);
    let data = rng.vec(10_000);
    let b = buffer_from(exec, &data);
    assert_eq!(read(exec, b, 0, data.len()), data);
    assert_eq!(read(exec, b, 1234, 100), data[1234..1334]);
    let patch = rng.vec(777);
    ok(unsafe { gpu_buffer_write(exec, b, 5000, patch.as_ptr().cast(), 777) });
    let mut want = data.clone();
    want[5000..5777].copy_from_slice(&patch);
    assert_eq!(read(exec, b, 0, want.len()), want);

    let (mut dtype, mut count) = (99, 0);
    ok(unsafe { gpu_buffer_info(exec, b, &mut dtype, &mut count) });
    assert_eq!((dtype, count), (F32, 10_000));

    // A new buffer reads as zeros, even on the memory of a destroyed one.
    ok(unsafe { gpu_buffer_destroy(exec, b) });
    let z = buffer_zeroed(exec, F32, 10_000);
    assert!(read(exec, z, 0, 10_000).iter().all(|&x| x == 0.0));
    let s = stats(exec);
    assert_eq!(s.resident_buffers, 1);
    assert_eq!(s.resident_bytes, 40_000);
    assert_eq!(s.resident_buffers_created, 2);
    assert_eq!(s.resident_pool_misses, 1);
    assert_eq!(
        s.resident_pool_hits, 1,
        "the second buffer reuses the first's memory"
    );
    destroy(exec);
}

#[test]
fn asynchronous_write_and_read_through_tickets() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(2);
    let data = rng.vec(50_000);
    let b = buffer_zeroed(exec, F32, 50_000);
    let mut ticket = 0;
    ok(unsafe { gpu_buffer_write_async(exec, b, 0, data.as_ptr().cast(), 50_000, &mut ticket) });
    assert_ne!(ticket, 0);
    ok(wait(exec, ticket, u64::MAX));
    let mut out = vec![0f32; 50_000];
    ok(unsafe { gpu_buffer_read_async(exec, b, 0, out.as_mut_ptr().cast(), 50_000, &mut ticket) });
    ok(wait(exec, ticket, u64::MAX));
    assert_eq!(out, data);
    destroy(exec);
}

/// x_{k+1} = x_k·s + y for `steps` steps in one batch, each step writing the next region
/// of one buffer (a region is written once per batch), on the CPU in the same order.
fn chain(exec: *mut gpu_executor_t, n: usize, steps: usize, seed: u64, alone: bool) {
    let mut rng = Rng::new(seed);
    let x0 = rng.vec(n);
    let y = rng.vec(n);
    let bx = buffer_zeroed(exec, F32, ((steps + 1) * n) as u64);
    ok(unsafe { gpu_buffer_write(exec, bx, 0, x0.as_ptr().cast(), n as u64) });
    let by = buffer_from(exec, &y);
    let s = 0.75f32;
    let ry = region(by, 0);
    let sources: Vec<gpu_region_t> = (0..steps).map(|k| region(bx, (k * n) as u64)).collect();
    let mut targets: Vec<gpu_region_t> = (0..steps)
        .map(|k| region(bx, ((k + 1) * n) as u64))
        .collect();
    let tasks: Vec<gpu_task_t> = (0..steps)
        .map(|k| {
            task(
                AXPY,
                IN0 | IN1 | OUT,
                &[r(&sources[k]), r(&ry)],
                rw(&mut targets[k]),
                n,
                [u64::from(s.to_bits()), 0, 0, 0],
            )
        })
        .collect();
    let before = stats(exec);
    ok(submit(exec, &tasks));
    let after = stats(exec);
    if alone {
        // (Counters are per executor: only exact when no other thread submits.)
        assert_eq!(after.submits - before.submits, 1, "a chain is one submit");
        assert_eq!(
            after.bytes_read_back - before.bytes_read_back,
            0,
            "nothing comes back"
        );
        assert_eq!(
            after.bytes_uploaded - before.bytes_uploaded,
            0,
            "nothing goes up"
        );
    }
    let mut want = x0.clone();
    for _ in 0..steps {
        for (w, &yv) in want.iter_mut().zip(&y) {
            *w = s.mul_add(*w, yv);
        }
    }
    let got = read(exec, bx, (steps * n) as u64, n);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let tolerance = 1e-5 * w.abs().max(1.0);
        assert!(
            (g - w).abs() <= tolerance,
            "chain of {steps}: element {i}: {g} vs {w}"
        );
    }
    unsafe {
        ok(gpu_buffer_destroy(exec, bx));
        ok(gpu_buffer_destroy(exec, by));
    }
}

#[test]
fn chains_of_2_5_and_20_dependent_tasks_match_the_cpu() {
    let exec = create(ptr::null());
    for (steps, n) in [(2, 10_000), (5, 70_001), (20, 4_099)] {
        chain(exec, n, steps, steps as u64, true);
    }
    let s = stats(exec);
    assert!(
        s.direct_dispatches >= 27,
        "every step ran on the direct path"
    );
    destroy(exec);
}

#[test]
fn chains_run_in_wave_order_through_slabs_too() {
    // Mixed host and buffer operands go through slabs; the order must hold there as well.
    let exec = create(ptr::null());
    let mut rng = Rng::new(3);
    let n = 3000;
    let a = rng.vec(n);
    let host_b = rng.vec(n);
    let ba = buffer_from(exec, &a);
    let t1 = buffer_zeroed(exec, F32, n as u64);
    let t2 = buffer_zeroed(exec, F32, n as u64);
    let (ra, mut r1) = (region(ba, 0), region(t1, 0));
    let r1_in = region(t1, 0);
    let mut r2 = region(t2, 0);
    let r2_in = region(t2, 0);
    let mut host_out = vec![0f32; n];
    let tasks = [
        // t1 = a + host_b
        task(
            ADD,
            IN0 | OUT,
            &[r(&ra), host_b.as_ptr().cast()],
            rw(&mut r1),
            n,
            [0; 4],
        ),
        // t2 = t1 * a
        task(
            MUL,
            IN0 | IN1 | OUT,
            &[r(&r1_in), r(&ra)],
            rw(&mut r2),
            n,
            [0; 4],
        ),
        // host_out = t2 + host_b
        task(
            ADD,
            IN0,
            &[r(&r2_in), host_b.as_ptr().cast()],
            host_out.as_mut_ptr().cast(),
            n,
            [0; 4],
        ),
    ];
    ok(submit(exec, &tasks));
    for i in 0..n {
        let t1v = a[i] + host_b[i];
        let want = t1v * a[i] + host_b[i];
        assert_eq!(host_out[i], want, "element {i}");
    }
    destroy(exec);
}

#[test]
fn many_small_resident_tasks_share_one_direct_dispatch() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(4);
    let (count, n) = (200, 1000);
    let a: Vec<Vec<f32>> = (0..count).map(|_| rng.vec(n)).collect();
    let b: Vec<Vec<f32>> = (0..count).map(|_| rng.vec(n)).collect();
    let ba: Vec<gpu_buffer_t> = a.iter().map(|v| buffer_from(exec, v)).collect();
    let bb: Vec<gpu_buffer_t> = b.iter().map(|v| buffer_from(exec, v)).collect();
    let bo: Vec<gpu_buffer_t> = (0..count)
        .map(|_| buffer_zeroed(exec, F32, n as u64))
        .collect();
    let ra: Vec<gpu_region_t> = ba.iter().map(|&x| region(x, 0)).collect();
    let rb: Vec<gpu_region_t> = bb.iter().map(|&x| region(x, 0)).collect();
    let mut ro: Vec<gpu_region_t> = bo.iter().map(|&x| region(x, 0)).collect();
    let tasks: Vec<gpu_task_t> = (0..count)
        .map(|i| {
            let out = rw(&mut ro[i]);
            task(
                ADD,
                IN0 | IN1 | OUT,
                &[r(&ra[i]), r(&rb[i])],
                out,
                n,
                [0; 4],
            )
        })
        .collect();
    let before = stats(exec);
    ok(submit(exec, &tasks));
    let after = stats(exec);
    // All 600 buffers of 4 KB sit in one arena: one dispatch for the whole batch.
    assert_eq!(after.direct_dispatches - before.direct_dispatches, 1);
    assert_eq!(after.dispatches - before.dispatches, 1);
    for i in 0..count {
        let want: Vec<f32> = a[i].iter().zip(&b[i]).map(|(x, y)| x + y).collect();
        assert_eq!(read(exec, bo[i], 0, n), want, "task {i}");
    }
    destroy(exec);
}

#[test]
fn offsets_and_sub_regions() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(5);
    let big = rng.vec(10_000);
    let bb = buffer_from(exec, &big);
    let out = buffer_zeroed(exec, F32, 10_000);
    // out[3..1003] = big[1..1001] + big[5001..6001]; out[7001..7031] = big[2..32] * 2 (host out too)
    let (r1, r2) = (region(bb, 1), region(bb, 5001));
    let mut ro = region(out, 3);
    let r3 = region(bb, 2);
    let mut ro2 = region(out, 7001);
    let mut host = vec![0f32; 30];
    let scale = task(
        SCALE,
        IN0,
        &[r(&r3)],
        host.as_mut_ptr().cast(),
        30,
        [u64::from(2f32.to_bits()), 0, 0, 0],
    );
    let tasks = [
        task(
            ADD,
            IN0 | IN1 | OUT,
            &[r(&r1), r(&r2)],
            rw(&mut ro),
            1000,
            [0; 4],
        ),
        task(
            SCALE,
            IN0 | OUT,
            &[r(&r3)],
            rw(&mut ro2),
            30,
            [u64::from(2f32.to_bits()), 0, 0, 0],
        ),
        scale,
    ];
    ok(submit(exec, &tasks));
    let got = read(exec, out, 0, 10_000);
    for i in 0..10_000 {
        let want = if (3..1003).contains(&i) {
            big[i - 2] + big[i + 4998]
        } else if (7001..7031).contains(&i) {
            big[i - 6999] * 2.0
        } else {
            0.0
        };
        assert_eq!(got[i], want, "element {i}");
    }
    for i in 0..30 {
        assert_eq!(host[i], big[2 + i] * 2.0);
    }
    destroy(exec);
}

#[test]
fn in_place_on_the_same_region_is_allowed() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(6);
    let x = rng.vec(5000);
    let bx = buffer_from(exec, &x);
    let rin = region(bx, 0);
    let mut rout = region(bx, 0);
    let t = task(
        SCALE,
        IN0 | OUT,
        &[r(&rin)],
        rw(&mut rout),
        5000,
        [u64::from(3f32.to_bits()), 0, 0, 0],
    );
    ok(submit(exec, &[t]));
    let want: Vec<f32> = x.iter().map(|v| v * 3.0).collect();
    assert_eq!(read(exec, bx, 0, 5000), want);
    destroy(exec);
}

#[test]
fn reductions_and_matmul_read_buffers_and_matmul_writes_one() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(7);
    let (m, k, n) = (33usize, 17usize, 29usize);
    let a = rng.vec(m * k);
    let b = rng.vec(k * n);
    let (ba, bb) = (buffer_from(exec, &a), buffer_from(exec, &b));
    let bc = buffer_zeroed(exec, F32, (m * n) as u64);
    let (ra, rb) = (region(ba, 0), region(bb, 0));
    let mut rc = region(bc, 0);
    let rc_in = region(bc, 0);
    let mut sum = [0f32];
    let matmul = gpu_op_t::GPU_OP_MATMUL as u32;
    let tasks = [
        task(
            matmul,
            IN0 | IN1 | OUT,
            &[r(&ra), r(&rb)],
            rw(&mut rc),
            m * n,
            [m as u64, k as u64, n as u64, 0],
        ),
        // The sum of C, in the same batch: reads what the matmul wrote.
        task(
            gpu_op_t::GPU_OP_SUM as u32,
            IN0,
            &[r(&rc_in)],
            sum.as_mut_ptr().cast(),
            m * n,
            [0; 4],
        ),
    ];
    ok(submit(exec, &tasks));
    // Within 4·K rounding errors of the sum of magnitudes (the f32 accumulation bound,
    // generously), as tests/matmul.rs checks.
    let got = read(exec, bc, 0, m * n);
    for i in 0..m {
        for j in 0..n {
            let products = (0..k).map(|p| f64::from(a[i * k + p]) * f64::from(b[p * n + j]));
            let (exact, magnitude) = products.fold((0f64, 0f64), |(s, m), p| (s + p, m + p.abs()));
            let bound = 4.0 * k as f64 * f64::from(f32::EPSILON) * magnitude + 1e-30;
            let g = f64::from(got[i * n + j]);
            assert!(
                (g - exact).abs() <= bound,
                "C[{i}][{j}] = {g}, want {exact}"
            );
        }
    }
    let total: f64 = got.iter().map(|&v| f64::from(v)).sum();
    assert!((f64::from(sum[0]) - total).abs() < 1e-3 * total.abs().max(1.0));
    destroy(exec);
}

#[test]
fn integer_buffers_and_three_input_ops() {
    let exec = create(ptr::null());
    let n = 1001usize;
    let a: Vec<i32> = (0..n as i32).map(|i| i * 7 - 3000).collect();
    let b: Vec<i32> = (0..n as i32).map(|i| 5 - i).collect();
    let c: Vec<i32> = (0..n as i32).map(|i| i * i).collect();
    let mk = |v: &[i32]| {
        let mut h = 0;
        ok(unsafe { gpu_buffer_create_from(exec, I32, v.as_ptr().cast(), v.len() as u64, &mut h) });
        h
    };
    let (ba, bb, bc) = (mk(&a), mk(&b), mk(&c));
    let bo = buffer_zeroed(exec, I32, n as u64);
    let (ra, rb, rc) = (region(ba, 0), region(bb, 0), region(bc, 0));
    let mut ro = region(bo, 0);
    let t = task(
        FMA,
        I32 | IN0 | IN1 | IN2 | OUT,
        &[r(&ra), r(&rb), r(&rc)],
        rw(&mut ro),
        n,
        [0; 4],
    );
    ok(submit(exec, &[t]));
    let mut out = vec![0i32; n];
    ok(unsafe { gpu_buffer_read(exec, bo, 0, out.as_mut_ptr().cast(), n as u64) });
    for i in 0..n {
        assert_eq!(out[i], a[i].wrapping_mul(b[i]).wrapping_add(c[i]));
    }
    destroy(exec);
}

#[test]
fn bad_buffer_inputs_get_their_own_status_and_write_nothing() {
    let exec = create(ptr::null());
    let other = create(ptr::null());
    let x = vec![1f32; 100];
    let bx = buffer_from(exec, &x);
    let foreign = buffer_from(other, &x);
    let dead = buffer_from(exec, &x);
    ok(unsafe { gpu_buffer_destroy(exec, dead) });
    let int_buf = buffer_zeroed(exec, I32, 100);
    let mut host = vec![-7f32; 100];

    let run = |flags: u32, input: gpu_region_t, len: usize, out: &mut [f32]| {
        let t = task(
            SCALE,
            flags,
            &[r(&input)],
            out.as_mut_ptr().cast(),
            len,
            [u64::from(2f32.to_bits()), 0, 0, 0],
        );
        submit(exec, &[t])
    };
    assert_eq!(
        run(IN0, region(foreign, 0), 100, &mut host),
        S::GPU_EXECUTOR_FOREIGN_BUFFER
    );
    assert_eq!(
        run(IN0, region(dead, 0), 100, &mut host),
        S::GPU_EXECUTOR_INVALID_BUFFER
    );
    assert!(last_error().contains("destroyed"), "{}", last_error());
    assert_eq!(
        run(IN0, region(0, 0), 100, &mut host),
        S::GPU_EXECUTOR_INVALID_BUFFER
    );
    assert_eq!(
        run(IN0, region(bx, 1), 100, &mut host),
        S::GPU_EXECUTOR_OUT_OF_BOUNDS
    );
    assert_eq!(
        run(IN0, region(bx, u64::MAX), 100, &mut host),
        S::GPU_EXECUTOR_OUT_OF_BOUNDS
    );
    assert_eq!(
        run(IN0, region(int_buf, 0), 100, &mut host),
        S::GPU_EXECUTOR_TYPE_MISMATCH
    );
    assert!(
        host.iter().all(|&v| v == -7.0),
        "no rejected batch wrote its host output"
    );

    // A NULL or misaligned region pointer.
    let t = task(
        SCALE,
        IN0,
        &[ptr::null()],
        host.as_mut_ptr().cast(),
        100,
        [0; 4],
    );
    assert_eq!(submit(exec, &[t]), S::GPU_EXECUTOR_NULL_POINTER);
    let raw = [0u64; 3];
    let misaligned = unsafe { raw.as_ptr().cast::<u8>().add(4) }.cast::<c_void>();
    let t = task(
        SCALE,
        IN0,
        &[misaligned],
        host.as_mut_ptr().cast(),
        100,
        [0; 4],
    );
    assert_eq!(submit(exec, &[t]), S::GPU_EXECUTOR_MISALIGNED_POINTER);
    // A buffer flag on an input the op does not read.
    let t = task(
        SCALE,
        IN1,
        &[x.as_ptr().cast()],
        host.as_mut_ptr().cast(),
        100,
        [0; 4],
    );
    assert_eq!(submit(exec, &[t]), S::GPU_EXECUTOR_INVALID_ARGUMENT);
    // Buffer calls.
    let mut out = vec![5f32; 100];
    unsafe {
        assert_eq!(
            gpu_buffer_read(exec, foreign, 0, out.as_mut_ptr().cast(), 100),
            S::GPU_EXECUTOR_FOREIGN_BUFFER
        );
        assert_eq!(
            gpu_buffer_read(exec, dead, 0, out.as_mut_ptr().cast(), 100),
            S::GPU_EXECUTOR_INVALID_BUFFER
        );
        assert_eq!(
            gpu_buffer_read(exec, bx, 50, out.as_mut_ptr().cast(), 51),
            S::GPU_EXECUTOR_OUT_OF_BOUNDS
        );
        assert_eq!(
            gpu_buffer_read(exec, bx, 0, ptr::null_mut(), 1),
            S::GPU_EXECUTOR_NULL_POINTER
        );
        assert_eq!(
            gpu_buffer_write(exec, bx, 99, x.as_ptr().cast(), 2),
            S::GPU_EXECUTOR_OUT_OF_BOUNDS
        );
        assert_eq!(
            gpu_buffer_write(exec, dead, 0, x.as_ptr().cast(), 1),
            S::GPU_EXECUTOR_INVALID_BUFFER
        );
        assert_eq!(
            gpu_buffer_destroy(exec, dead),
            S::GPU_EXECUTOR_INVALID_BUFFER
        );
        assert_eq!(
            gpu_buffer_destroy(exec, foreign),
            S::GPU_EXECUTOR_FOREIGN_BUFFER
        );
        let mut h = 0;
        assert_eq!(
            gpu_buffer_create(exec, 7, 10, &mut h),
            S::GPU_EXECUTOR_INVALID_ARGUMENT
        );
        assert_eq!(
            gpu_buffer_create(exec, F32, 0, &mut h),
            S::GPU_EXECUTOR_INVALID_ARGUMENT
        );
        assert_eq!(
            gpu_buffer_create(exec, F32, u64::MAX / 2, &mut h),
            S::GPU_EXECUTOR_SIZE_OVERFLOW
        );
        assert_eq!(
            gpu_buffer_create(exec, F32, 10, ptr::null_mut()),
            S::GPU_EXECUTOR_NULL_POINTER
        );
        assert_eq!(h, 0, "no handle written on failure");
        assert_eq!(
            gpu_buffer_info(exec, dead, ptr::null_mut(), ptr::null_mut()),
            S::GPU_EXECUTOR_INVALID_BUFFER
        );
    }
    assert!(out.iter().all(|&v| v == 5.0));
    assert_eq!(read(exec, bx, 0, 100), x, "rejected writes wrote nothing");
    destroy(other);
    destroy(exec);
}

#[test]
fn order_violations_are_rejected_before_anything_runs() {
    let exec = create(ptr::null());
    let x = vec![1f32; 64];
    let (ba, bb) = (buffer_from(exec, &x), buffer_from(exec, &x));
    let scale2 = [u64::from(2f32.to_bits()), 0, 0, 0];
    // Task 0 reads b[0..64], task 1 writes b[10..42].
    let (ra, rb) = (region(ba, 0), region(bb, 0));
    let mut wb = region(bb, 10);
    let mut wa = region(ba, 0);
    let tasks = [
        task(SCALE, IN0 | OUT, &[r(&rb)], rw(&mut wa), 64, scale2),
        task(SCALE, IN0 | OUT, &[r(&ra)], rw(&mut wb), 32, scale2),
    ];
    assert_eq!(submit(exec, &tasks), S::GPU_EXECUTOR_DEPENDENCY);
    let message = last_error();
    assert!(
        message.contains("task 0") && message.contains("task 1"),
        "{message}"
    );
    // Two writers of overlapping regions.
    let mut w1 = region(bb, 0);
    let mut w2 = region(bb, 16);
    let tasks = [
        task(SCALE, IN0 | OUT, &[r(&ra)], rw(&mut w1), 32, scale2),
        task(SCALE, IN0 | OUT, &[r(&ra)], rw(&mut w2), 32, scale2),
    ];
    assert_eq!(submit(exec, &tasks), S::GPU_EXECUTOR_ALIASING);
    // In place, twice: the first task reads what the second writes.
    let (mut w1, mut w2) = (region(ba, 0), region(ba, 0));
    let tasks = [
        task(SCALE, IN0 | OUT, &[r(&ra)], rw(&mut w1), 64, scale2),
        task(SCALE, IN0 | OUT, &[r(&ra)], rw(&mut w2), 64, scale2),
    ];
    assert_eq!(submit(exec, &tasks), S::GPU_EXECUTOR_DEPENDENCY);
    // In place on part of its own input.
    let mut part = region(ba, 1);
    let tasks = [task(SCALE, IN0 | OUT, &[r(&ra)], rw(&mut part), 32, scale2)];
    assert_eq!(submit(exec, &tasks), S::GPU_EXECUTOR_ALIASING);
    assert_eq!(read(exec, ba, 0, 64), x);
    assert_eq!(read(exec, bb, 0, 64), x);
    destroy(exec);
}

#[test]
fn a_buffer_destroyed_while_a_ticket_uses_it_keeps_its_contents_for_that_batch() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(8);
    let n = 100_000;
    let x = rng.vec(n);
    let bx = buffer_from(exec, &x);
    let rx = region(bx, 0);
    let mut out = vec![0f32; n];
    let t = task(
        SCALE,
        IN0,
        &[r(&rx)],
        out.as_mut_ptr().cast(),
        n,
        [u64::from(2f32.to_bits()), 0, 0, 0],
    );
    let (status, ticket) = submit_async(exec, &[t]);
    ok(status);
    ok(unsafe { gpu_buffer_destroy(exec, bx) });
    // The freed memory goes straight to a new buffer, overwritten at once.
    let junk = vec![9f32; n];
    let reused = buffer_from(exec, &junk);
    ok(wait(exec, ticket, u64::MAX));
    let want: Vec<f32> = x.iter().map(|v| v * 2.0).collect();
    assert_eq!(out, want);
    assert_eq!(read(exec, reused, 0, n), junk);
    assert_eq!(stats(exec).resident_pool_hits, 1);
    destroy(exec);
}

#[test]
fn four_threads_share_an_executor_each_with_its_own_buffers() {
    let exec = create(ptr::null());
    let shared = exec as usize;
    let handles: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let exec = shared as *mut gpu_executor_t;
                for round in 0..8 {
                    chain(
                        exec,
                        2000 + 100 * t + round,
                        3,
                        (t * 100 + round) as u64,
                        false,
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    let s = stats(exec);
    assert_eq!(s.resident_buffers, 0);
    assert_eq!(s.resident_buffers_created, 64);
    destroy(exec);
}

#[test]
fn reductions_write_their_results_into_buffers_and_later_tasks_read_them() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(9);
    let n = 10_000;
    let a = rng.vec(n);
    let b = rng.vec(n);
    let mut with_nan = rng.vec(n);
    with_nan[7777] = f32::NAN;
    let (ba, bb, bn) = (
        buffer_from(exec, &a),
        buffer_from(exec, &b),
        buffer_from(exec, &with_nan),
    );
    let results = buffer_zeroed(exec, F32, 16);
    let (ra, rb, rn) = (region(ba, 0), region(bb, 0), region(bn, 0));
    let mut outs: Vec<gpu_region_t> = (0..9).map(|k| region(results, k)).collect();
    let op = |o: gpu_op_t| o as u32;
    let ops = [
        (op(gpu_op_t::GPU_OP_SUM), ra, n),
        (op(gpu_op_t::GPU_OP_MEAN), ra, n),
        (op(gpu_op_t::GPU_OP_NORM2), ra, n),
        (op(gpu_op_t::GPU_OP_DOT), ra, n),
        (op(gpu_op_t::GPU_OP_REDUCE_MIN), ra, n),
        (op(gpu_op_t::GPU_OP_REDUCE_MAX), ra, n),
        (op(gpu_op_t::GPU_OP_REDUCE_MIN), rn, n),
        (op(gpu_op_t::GPU_OP_SUM), ra, 0),
        (op(gpu_op_t::GPU_OP_MEAN), ra, 0),
    ];
    let mut tasks: Vec<gpu_task_t> = ops
        .iter()
        .zip(outs.iter_mut())
        .map(|((code, input, len), out)| {
            let inputs: Vec<*const c_void> = if *code == op(gpu_op_t::GPU_OP_DOT) {
                vec![r(input), r(&rb)]
            } else {
                vec![r(input)]
            };
            let flags = if inputs.len() == 2 {
                IN0 | IN1 | OUT
            } else {
                IN0 | OUT
            };
            task(*code, flags, &inputs, rw(out), *len, [0; 4])
        })
        .collect();
    // The same sum to host memory (combined on the host in f64), and a later task that
    // reads the GPU-combined results: it must run after them.
    let mut host_sum = [0f32];
    tasks.push(task(
        op(gpu_op_t::GPU_OP_SUM),
        IN0,
        &[r(&ra)],
        host_sum.as_mut_ptr().cast(),
        n,
        [0; 4],
    ));
    let all_results = region(results, 0);
    let mut copied = vec![0f32; 9];
    tasks.push(task(
        gpu_op_t::GPU_OP_COPY as u32,
        IN0,
        &[r(&all_results)],
        copied.as_mut_ptr().cast(),
        9,
        [0; 4],
    ));
    ok(submit(exec, &tasks));
    let s = stats(exec);
    assert_eq!(
        s.submits, 1,
        "one submission (creating buffers submits nothing)"
    );
    assert_eq!(
        s.bytes_read_back,
        4 + 9 * 4,
        "only the host sum and the copy came back"
    );

    let sum: f64 = a.iter().map(|&x| f64::from(x)).sum();
    let magnitude: f64 = a.iter().map(|&x| f64::from(x).abs()).sum();
    let squares: f64 = a.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    let dot: f64 = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    let dot_magnitude: f64 = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| (f64::from(x) * f64::from(y)).abs())
        .sum();
    let min = a.iter().copied().fold(f32::INFINITY, f32::min);
    let max = a.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let got = read(exec, results, 0, 9);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
    assert_eq!(
        bits(&got),
        bits(&copied),
        "the later task read the results the finish dispatches wrote"
    );
    // Block partials are f32 tree sums (about log2(4096) roundings each): bound by the
    // sum of magnitudes.
    let close = |g: f32, want: f64, scale: f64| (f64::from(g) - want).abs() <= 1e-5 * scale + 1e-30;
    assert!(close(got[0], sum, magnitude), "SUM {} vs {sum}", got[0]);
    assert!(
        close(got[1], sum / n as f64, magnitude / n as f64),
        "MEAN {}",
        got[1]
    );
    assert!(
        close(got[2], squares.sqrt(), squares.sqrt()),
        "NORM2 {}",
        got[2]
    );
    assert!(close(got[3], dot, dot_magnitude), "DOT {} vs {dot}", got[3]);
    assert_eq!(got[4], min);
    assert_eq!(got[5], max);
    assert!(got[6].is_nan(), "a NaN wins REDUCE_MIN");
    assert_eq!(got[7], 0.0, "SUM over nothing");
    assert!(got[8].is_nan(), "MEAN over nothing");
    assert!(
        close(host_sum[0], f64::from(got[0]), magnitude),
        "host and GPU combine agree"
    );
    destroy(exec);
}

#[test]
fn a_reduction_into_a_buffer_must_fit_one_slab() {
    let mut options = gpu_executor_options_default();
    options.max_chunk_elements = 64;
    let exec = create(&options);
    let x = vec![1f32; 100];
    let bx = buffer_from(exec, &x);
    let out = buffer_zeroed(exec, F32, 1);
    let rx = region(bx, 0);
    let mut ro = region(out, 0);
    let t = task(
        gpu_op_t::GPU_OP_SUM as u32,
        IN0 | OUT,
        &[r(&rx)],
        rw(&mut ro),
        100,
        [0; 4],
    );
    assert_eq!(submit(exec, &[t]), S::GPU_EXECUTOR_INVALID_ARGUMENT);
    assert!(last_error().contains("one slab"), "{}", last_error());
    let t = task(
        gpu_op_t::GPU_OP_SUM as u32,
        IN0 | OUT,
        &[r(&rx)],
        rw(&mut ro),
        64,
        [0; 4],
    );
    ok(submit(exec, &[t]));
    assert_eq!(read(exec, out, 0, 1), vec![64.0]);
    destroy(exec);
}

#[test]
fn the_diagnostic_lines_report_resident_buffers_after_the_seeds_three() {
    let exec = gpu_executor::Executor::new(gpu_executor::Config::default()).expect("an executor");
    assert_eq!(
        exec.stats_lines().len(),
        3,
        "no buffer line before any buffer"
    );
    let handle = exec
        .create_buffer(gpu_executor::ElemType::F32, 100)
        .expect("a buffer");
    let lines = exec.stats_lines();
    assert!(lines[0].starts_with("[gpu] Bucket cache: "));
    assert!(lines[1].starts_with("[gpu] va_cache: "));
    assert!(lines[2].starts_with("[gpu] Buffer pool hit rate: "));
    assert!(
        lines[3].starts_with("[gpu] Resident buffers: 1 live (400 bytes), "),
        "{}",
        lines[3]
    );
    exec.destroy_buffer(handle).expect("destroyed");
    assert!(exec.stats_lines()[3].starts_with("[gpu] Resident buffers: 0 live (0 bytes), "));
}
