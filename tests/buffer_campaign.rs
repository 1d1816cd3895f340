//! A random campaign over the buffer API against a CPU model: thousands of creates,
//! writes, reads, destroys and batches of element-wise tasks on random regions — valid
//! ones and hostile ones (destroyed, foreign and zero handles, regions past the end, wrong
//! element types, reads of what a later task writes, overlapping writers). Every call's
//! status is checked against the model's expectation, every read against the model's
//! contents, and a rejected call must leave every buffer as it was.
//!
//! GPU_EXECUTOR_BUFFER_CAMPAIGN_STEPS sets the number of steps (default 1,500).

mod common;

use std::ffi::c_void;
use std::ptr;

use common::c_api::{create, destroy, last_error};
use common::Rng;
use gpu_executor::ffi::*;

use gpu_executor_status_t as S;

const F32: u32 = gpu_dtype_t::GPU_DTYPE_F32 as u32;
const I32: u32 = gpu_dtype_t::GPU_DTYPE_I32 as u32;

/// What the model knows of one buffer.
struct Model {
    handle: gpu_buffer_t,
    dtype: u32,
    data: Vec<f32>,
    live: bool,
}

/// One task of a random batch, as the model sees it.
#[derive(Clone, Copy, Debug)]
struct Spec {
    op: u32,
    /// (buffer index, offset) of input 0, input 1 (ADD and MUL), output.
    a: (usize, u64),
    b: (usize, u64),
    out: (usize, u64),
    len: usize,
}

fn arity(op: u32) -> usize {
    match op {
        x if x == gpu_op_t::GPU_OP_VECTOR_ADD as u32 || x == gpu_op_t::GPU_OP_MUL as u32 => 2,
        _ => 1,
    }
}

/// The ops, all exact in f32 on every adapter: ADD, MUL, SCALE by 2, COPY.
fn apply(op: u32, a: f32, b: f32) -> f32 {
    match op {
        x if x == gpu_op_t::GPU_OP_VECTOR_ADD as u32 => a + b,
        x if x == gpu_op_t::GPU_OP_MUL as u32 => a * b,
        x if x == gpu_op_t::GPU_OP_SCALE as u32 => a * 2.0,
        _ => a,
    }
}

fn pick(rng: &mut Rng, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

/// Values whose sums and products stay exact enough to compare bit for bit: small
/// multiples of 1/4.
fn value(rng: &mut Rng) -> f32 {
    (pick(rng, 64) as f32 - 32.0) / 4.0
}

/// The status a batch must get, or `OK`: the first problem in the order the library
/// checks them is not pinned down, so the campaign accepts any of `allowed`.
fn expected(buffers: &[Model], specs: &[Spec]) -> Vec<S> {
    let mut problems = Vec::new();
    let region_ok = |(i, offset): (usize, u64), len: usize, problems: &mut Vec<S>| {
        let m: &Model = &buffers[i];
        if !m.live {
            problems.push(S::GPU_EXECUTOR_INVALID_BUFFER);
            return;
        }
        // Both may apply; the library names one of them.
        if offset + len as u64 > m.data.len() as u64 {
            problems.push(S::GPU_EXECUTOR_OUT_OF_BOUNDS);
        }
        if m.dtype != F32 {
            problems.push(S::GPU_EXECUTOR_TYPE_MISMATCH);
        }
    };
    for s in specs {
        region_ok(s.a, s.len, &mut problems);
        if arity(s.op) == 2 {
            region_ok(s.b, s.len, &mut problems);
        }
        region_ok(s.out, s.len, &mut problems);
    }
    // Ordering rules, only meaningful among valid regions.
    let overlap = |x: (usize, u64), y: (usize, u64), len_x: usize, len_y: usize| {
        x.0 == y.0 && x.1 < y.1 + len_y as u64 && y.1 < x.1 + len_x as u64 && len_x > 0 && len_y > 0
    };
    for (j, later) in specs.iter().enumerate() {
        for (i, earlier) in specs[..j].iter().enumerate() {
            let reads = [
                Some(earlier.a),
                (arity(earlier.op) == 2).then_some(earlier.b),
            ];
            if reads
                .iter()
                .flatten()
                .any(|&r| overlap(r, later.out, earlier.len, later.len))
            {
                problems.push(S::GPU_EXECUTOR_DEPENDENCY);
            }
            if overlap(earlier.out, later.out, earlier.len, later.len) {
                problems.push(S::GPU_EXECUTOR_ALIASING);
            }
            let _ = i;
        }
        let reads = [Some(later.a), (arity(later.op) == 2).then_some(later.b)];
        for r in reads.iter().flatten() {
            if overlap(*r, later.out, later.len, later.len) && *r != later.out {
                problems.push(S::GPU_EXECUTOR_ALIASING);
            }
        }
    }
    if problems.is_empty() {
        vec![S::GPU_EXECUTOR_OK]
    } else {
        problems
    }
}

#[test]
fn random_buffer_traffic_matches_a_cpu_model() {
    let steps: usize = std::env::var("GPU_EXECUTOR_BUFFER_CAMPAIGN_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_500);
    let exec = create(ptr::null());
    let other = create(ptr::null());
    let mut foreign = 0;
    let zeros = [0f32; 4];
    assert_eq!(
        unsafe { gpu_buffer_create_from(other, F32, zeros.as_ptr().cast(), 4, &mut foreign) },
        S::GPU_EXECUTOR_OK
    );
    let mut rng = Rng::new(0xB0FF);
    let mut buffers: Vec<Model> = Vec::new();
    let mut counts = [0usize; 6];
    for step in 0..steps {
        let live: Vec<usize> = (0..buffers.len()).filter(|&i| buffers[i].live).collect();
        let action = if live.len() < 3 {
            0
        } else {
            pick(&mut rng, 10)
        };
        match action {
            // Create: zero-filled or from data, sometimes int32.
            0 | 1 => {
                let len = 1 + pick(&mut rng, 3000);
                let dtype = if pick(&mut rng, 8) == 0 { I32 } else { F32 };
                let mut handle = 0;
                let data: Vec<f32> = if pick(&mut rng, 2) == 0 {
                    (0..len).map(|_| value(&mut rng)).collect()
                } else {
                    vec![0.0; len]
                };
                let status = if data.iter().all(|&v| v == 0.0) && pick(&mut rng, 2) == 0 {
                    unsafe { gpu_buffer_create(exec, dtype, len as u64, &mut handle) }
                } else {
                    unsafe {
                        gpu_buffer_create_from(
                            exec,
                            dtype,
                            data.as_ptr().cast(),
                            len as u64,
                            &mut handle,
                        )
                    }
                };
                assert_eq!(status, S::GPU_EXECUTOR_OK, "step {step}: {}", last_error());
                // An int32 buffer made from float bits: the model keeps bits, not values.
                buffers.push(Model {
                    handle,
                    dtype,
                    data,
                    live: true,
                });
                counts[0] += 1;
            }
            // Destroy, sometimes twice.
            2 => {
                let i = if pick(&mut rng, 4) == 0 && buffers.iter().any(|m| !m.live) {
                    (0..buffers.len())
                        .find(|&i| !buffers[i].live)
                        .unwrap_or(live[0])
                } else {
                    live[pick(&mut rng, live.len())]
                };
                let status = unsafe { gpu_buffer_destroy(exec, buffers[i].handle) };
                let want = if buffers[i].live {
                    S::GPU_EXECUTOR_OK
                } else {
                    S::GPU_EXECUTOR_INVALID_BUFFER
                };
                assert_eq!(status, want, "step {step}: destroy: {}", last_error());
                buffers[i].live = false;
                counts[1] += 1;
            }
            // Write a region, sometimes past the end or into a dead buffer.
            3 | 4 => {
                let i = pick(&mut rng, buffers.len());
                let n = buffers[i].data.len();
                let offset = pick(&mut rng, n + 4) as u64;
                let len = 1 + pick(&mut rng, n.max(2) / 2);
                let data: Vec<f32> = (0..len).map(|_| value(&mut rng)).collect();
                let status = unsafe {
                    gpu_buffer_write(
                        exec,
                        buffers[i].handle,
                        offset,
                        data.as_ptr().cast(),
                        len as u64,
                    )
                };
                let fits = offset as usize + len <= n;
                let want = match (buffers[i].live, fits) {
                    (false, _) => S::GPU_EXECUTOR_INVALID_BUFFER,
                    (true, false) => S::GPU_EXECUTOR_OUT_OF_BOUNDS,
                    (true, true) => S::GPU_EXECUTOR_OK,
                };
                assert_eq!(status, want, "step {step}: write: {}", last_error());
                if want == S::GPU_EXECUTOR_OK {
                    buffers[i].data[offset as usize..offset as usize + len].copy_from_slice(&data);
                }
                counts[2] += 1;
            }
            // A batch of 1 to 6 tasks on random regions; some invalid.
            5..=7 => {
                let ops = [
                    gpu_op_t::GPU_OP_VECTOR_ADD as u32,
                    gpu_op_t::GPU_OP_MUL as u32,
                    gpu_op_t::GPU_OP_SCALE as u32,
                    gpu_op_t::GPU_OP_COPY as u32,
                ];
                let count = 1 + pick(&mut rng, 6);
                let mut specs = Vec::new();
                for _ in 0..count {
                    let op = ops[pick(&mut rng, ops.len())];
                    // Mostly live float buffers; now and then any buffer.
                    let choose = |rng: &mut Rng| {
                        if pick(rng, 12) == 0 {
                            pick(rng, buffers.len())
                        } else {
                            let floats: Vec<usize> = live
                                .iter()
                                .copied()
                                .filter(|&i| buffers[i].dtype == F32)
                                .collect();
                            if floats.is_empty() {
                                live[0]
                            } else {
                                floats[pick(rng, floats.len())]
                            }
                        }
                    };
                    let (a, b, out) = (choose(&mut rng), choose(&mut rng), choose(&mut rng));
                    let shortest = [a, b, out]
                        .iter()
                        .map(|&i| buffers[i].data.len())
                        .min()
                        .unwrap_or(1);
                    let len = 1 + pick(&mut rng, shortest.min(1500));
                    let offset = |i: usize, rng: &mut Rng| {
                        let n = buffers[i].data.len();
                        // Now and then past the end.
                        if pick(rng, 20) == 0 {
                            n as u64
                        } else {
                            pick(rng, n.saturating_sub(len) + 1) as u64
                        }
                    };
                    let spec = Spec {
                        op,
                        a: (a, offset(a, &mut rng)),
                        b: (b, offset(b, &mut rng)),
                        out: (out, offset(out, &mut rng)),
                        len,
                    };
                    specs.push(spec);
                }
                let allowed = expected(&buffers, &specs);
                let regions: Vec<[gpu_region_t; 3]> = specs
                    .iter()
                    .map(|s| {
                        let r = |(i, offset): (usize, u64)| gpu_region_t {
                            buffer: buffers[i].handle,
                            offset,
                        };
                        [r(s.a), r(s.b), r(s.out)]
                    })
                    .collect();
                let tasks: Vec<gpu_task_t> = specs
                    .iter()
                    .zip(&regions)
                    .map(|(s, r)| {
                        let two = arity(s.op) == 2;
                        let at = |k: usize| (&r[k] as *const gpu_region_t).cast::<c_void>();
                        gpu_task_t {
                            op: s.op,
                            flags: GPU_TASK_INPUT0_BUFFER
                                | if two { GPU_TASK_INPUT1_BUFFER } else { 0 }
                                | GPU_TASK_OUTPUT_BUFFER,
                            inputs: [
                                at(0),
                                if two { at(1) } else { ptr::null() },
                                ptr::null(),
                                ptr::null(),
                            ],
                            output: at(2).cast_mut(),
                            length: s.len,
                            params: if s.op == gpu_op_t::GPU_OP_SCALE as u32 {
                                [u64::from(2f32.to_bits()), 0, 0, 0]
                            } else {
                                [0; 4]
                            },
                        }
                    })
                    .collect();
                let status =
                    unsafe { gpu_executor_submit_batch(exec, tasks.as_ptr(), tasks.len()) };
                assert!(
                    allowed.contains(&status),
                    "step {step}: batch {specs:?}: got {status:?}, expected one of {allowed:?}: {}",
                    last_error()
                );
                if status == S::GPU_EXECUTOR_OK {
                    counts[5] += 1;
                    // Run the batch on the model, in order.
                    for s in &specs {
                        let get = |(i, o): (usize, u64), k: usize| buffers[i].data[o as usize + k];
                        let result: Vec<f32> = (0..s.len)
                            .map(|k| {
                                let b = if arity(s.op) == 2 { get(s.b, k) } else { 0.0 };
                                apply(s.op, get(s.a, k), b)
                            })
                            .collect();
                        let (i, o) = s.out;
                        buffers[i].data[o as usize..o as usize + s.len].copy_from_slice(&result);
                    }
                }
                counts[3] += 1;
            }
            // Read a whole live buffer (or a bad handle) and compare with the model.
            _ => {
                let i = pick(&mut rng, buffers.len());
                let n = buffers[i].data.len();
                let mut out = vec![f32::NAN; n];
                let handle = match pick(&mut rng, 16) {
                    0 => foreign,
                    1 => 0,
                    _ => buffers[i].handle,
                };
                let status =
                    unsafe { gpu_buffer_read(exec, handle, 0, out.as_mut_ptr().cast(), n as u64) };
                let want = if handle == foreign {
                    S::GPU_EXECUTOR_FOREIGN_BUFFER
                } else if handle == 0 || !buffers[i].live {
                    S::GPU_EXECUTOR_INVALID_BUFFER
                } else {
                    S::GPU_EXECUTOR_OK
                };
                assert_eq!(status, want, "step {step}: read: {}", last_error());
                if want == S::GPU_EXECUTOR_OK {
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
                    assert_eq!(
                        bits(&out),
                        bits(&buffers[i].data),
                        "step {step}: buffer {i} differs from the model"
                    );
                } else {
                    assert!(
                        out.iter().all(|x| x.is_nan()),
                        "step {step}: a failed read wrote"
                    );
                }
                counts[4] += 1;
            }
        }
    }
    // Finally every live buffer must equal the model.
    for (i, m) in buffers.iter().enumerate().filter(|(_, m)| m.live) {
        let mut out = vec![0f32; m.data.len()];
        let status = unsafe {
            gpu_buffer_read(exec, m.handle, 0, out.as_mut_ptr().cast(), out.len() as u64)
        };
        assert_eq!(status, S::GPU_EXECUTOR_OK);
        assert!(
            out.iter()
                .zip(&m.data)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "buffer {i} differs from the model at the end"
        );
    }
    println!(
        "buffer campaign: {steps} steps: {} creates, {} destroys, {} writes, {} batches ({} ran, the rest rejected), {} reads",
        counts[0], counts[1], counts[2], counts[3], counts[5], counts[4]
    );
    destroy(other);
    destroy(exec);
}
