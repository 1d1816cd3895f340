//! Registered host memory (`gpu_executor_register_host_memory`): arrays the GPU reads and
//! writes in place. The same batches run with their arrays registered and not registered
//! give bit-identical results, equal to the CPU's where the CPU's order is the GPU's;
//! the counters say exactly which operands were moved in place; every bad call gets its
//! status. Lavapipe offers `VK_EXT_external_memory_host`, so the import is real here.

mod common;

use std::ffi::c_void;
use std::ptr;

use common::c_api::{
    create, destroy, last_error, register_kernel, stats, submit, submit_async, wait,
};
use common::kernels::{POLY, REVERSE};
use common::{assert_matches, Rng};
use gpu_executor::ffi::*;

use gpu_executor_status_t as S;

fn register(exec: *mut gpu_executor_t, memory: &[f32]) -> S {
    unsafe {
        gpu_executor_register_host_memory(
            exec,
            memory.as_ptr().cast(),
            std::mem::size_of_val(memory) as u64,
        )
    }
}

fn unregister(exec: *mut gpu_executor_t, memory: &[f32]) -> S {
    unsafe { gpu_executor_unregister_host_memory(exec, memory.as_ptr().cast()) }
}

fn op_task(op: gpu_op_t, inputs: &[&[f32]], out: &mut [f32], length: usize) -> gpu_task_t {
    let mut pointers: [*const c_void; 4] = [ptr::null(); 4];
    for (slot, input) in pointers.iter_mut().zip(inputs) {
        *slot = input.as_ptr().cast();
    }
    gpu_task_t {
        op: op as u32,
        flags: 0,
        inputs: pointers,
        output: out.as_mut_ptr().cast(),
        length,
        params: [0; 4],
    }
}

/// Where the arrays of [`mixed_batch`] live in one block of memory.
struct Layout {
    sizes: [usize; 4],
}

const M: usize = 33;
const K: usize = 17;
const N: usize = 29;

impl Layout {
    /// Offsets (elements) of: add a, add b, add out, sum input, matmul A, B, C, and the
    /// total.
    fn offsets(&self) -> ([usize; 7], usize) {
        let [n_add, n_sum, _, _] = self.sizes;
        let lens = [n_add, n_add, n_add, n_sum, M * K, K * N, M * N];
        let mut offsets = [0; 7];
        let mut at = 3; // not page-aligned: registration widens the range to pages
        for (o, len) in offsets.iter_mut().zip(lens) {
            *o = at;
            at += len + 5;
        }
        (offsets, at)
    }
}

/// What one run of the batch produced: the add output, a host add output, the sum, C.
type Outputs = (Vec<u32>, Vec<u32>, u32, Vec<u32>);

/// Runs one batch over arrays in `block` (filled from `seed`): `a + b` wholly in the block,
/// `a + host_b` into a host output, a sum over an array in the block (its one result on
/// the host), and a matmul wholly in the block. With `registered`, the block is registered
/// first and unregistered after.
fn mixed_batch(exec: *mut gpu_executor_t, layout: &Layout, seed: u64, registered: bool) -> Outputs {
    let mut rng = Rng::new(seed);
    let (offsets, total) = layout.offsets();
    let mut block = rng.vec(total);
    let n_add = layout.sizes[0];
    let n_sum = layout.sizes[1];
    let host_b = rng.vec(n_add);
    let mut host_out = vec![f32::NAN; n_add];
    let mut sum = [f32::NAN];
    block[offsets[2]..offsets[2] + n_add].fill(f32::NAN);
    block[offsets[6]..offsets[6] + M * N].fill(f32::NAN);
    let a = block[offsets[0]..offsets[0] + n_add].to_vec();
    let b = block[offsets[1]..offsets[1] + n_add].to_vec();
    if registered {
        assert_eq!(
            register(exec, &block),
            S::GPU_EXECUTOR_OK,
            "{}",
            last_error()
        );
    }
    {
        let (head, rest) = block.split_at_mut(offsets[2]);
        let (add_out, rest) = rest.split_at_mut(n_add);
        let tail_at = offsets[3] - offsets[2] - n_add;
        let (_, rest) = rest.split_at_mut(tail_at);
        let (sum_in, rest) = rest.split_at_mut(n_sum);
        let (_, rest) = rest.split_at_mut(offsets[4] - offsets[3] - n_sum);
        let (mat_a, rest) = rest.split_at_mut(M * K);
        let (_, rest) = rest.split_at_mut(offsets[5] - offsets[4] - M * K);
        let (mat_b, rest) = rest.split_at_mut(K * N);
        let (_, rest) = rest.split_at_mut(offsets[6] - offsets[5] - K * N);
        let (mat_c, _) = rest.split_at_mut(M * N);
        let add_a = &head[offsets[0]..offsets[0] + n_add];
        let add_b = &head[offsets[1]..offsets[1] + n_add];
        let mut matmul = op_task(gpu_op_t::GPU_OP_MATMUL, &[mat_a, mat_b], mat_c, M * N);
        matmul.params = [M as u64, K as u64, N as u64, 0];
        let tasks = [
            op_task(gpu_op_t::GPU_OP_VECTOR_ADD, &[add_a, add_b], add_out, n_add),
            op_task(
                gpu_op_t::GPU_OP_VECTOR_ADD,
                &[add_a, &host_b],
                &mut host_out,
                n_add,
            ),
            op_task(gpu_op_t::GPU_OP_SUM, &[sum_in], &mut sum, n_sum),
            matmul,
        ];
        assert_eq!(submit(exec, &tasks), S::GPU_EXECUTOR_OK, "{}", last_error());
    }
    if registered {
        assert_eq!(
            unregister(exec, &block),
            S::GPU_EXECUTOR_OK,
            "{}",
            last_error()
        );
    }
    let expected: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
    let add_out = &block[offsets[2]..offsets[2] + n_add];
    assert_matches(add_out, &expected, "a + b in registered memory");
    let expected: Vec<f32> = a.iter().zip(&host_b).map(|(x, y)| x + y).collect();
    assert_matches(&host_out, &expected, "a + host b");
    let c = &block[offsets[6]..offsets[6] + M * N];
    let mat_a = &block[offsets[4]..offsets[4] + M * K];
    let mat_b = &block[offsets[5]..offsets[5] + K * N];
    for i in 0..M {
        for j in 0..N {
            let want: f64 = (0..K)
                .map(|k| f64::from(mat_a[i * K + k]) * f64::from(mat_b[k * N + j]))
                .sum();
            let got = f64::from(c[i * N + j]);
            assert!(
                (got - want).abs() <= 1e-3 * want.abs().max(100.0),
                "C[{i},{j}]: {got} vs {want}"
            );
        }
    }
    let sum_in = &block[offsets[3]..offsets[3] + n_sum];
    let want: f64 = sum_in.iter().map(|&x| f64::from(x)).sum();
    assert!(
        (f64::from(sum[0]) - want).abs() <= 1e-2 * (n_sum as f64),
        "sum {} vs {want}",
        sum[0]
    );
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
    (bits(add_out), bits(&host_out), sum[0].to_bits(), bits(c))
}

#[test]
fn registered_arrays_give_the_results_copied_arrays_give() {
    let exec = create(ptr::null());
    let info = common::c_api::adapter_info(exec);
    assert_eq!(info.backend, gpu_backend_t::GPU_BACKEND_VULKAN as u32);
    for sizes in [[1usize, 7, 0, 0], [4096, 100_003, 0, 0], [250_001, 3, 0, 0]] {
        let layout = Layout { sizes };
        let before = stats(exec);
        let copied = mixed_batch(exec, &layout, 7, false);
        let after_copied = stats(exec);
        assert_eq!(
            after_copied.registered_host_operands,
            before.registered_host_operands
        );
        let in_place = mixed_batch(exec, &layout, 7, true);
        let after = stats(exec);
        assert!(
            copied == in_place,
            "sizes {sizes:?}: registered and copied arrays disagree"
        );
        // In place: the add's three arrays, the first input of the second add, the sum's
        // input (its result stays a host output), the matmul's three arrays.
        assert_eq!(
            after.registered_host_operands - after_copied.registered_host_operands,
            8
        );
        assert_eq!(after.registered_host_regions, 0);
        assert_eq!(after.registered_host_bytes, 0);
        // Nothing of the registered arrays went through staging: only the host b.
        let uploaded = after.bytes_uploaded - after_copied.bytes_uploaded;
        assert_eq!(uploaded, 4 * sizes[0] as u64, "sizes {sizes:?}");
    }
    destroy(exec);
}

#[test]
fn tasks_wholly_in_registered_memory_run_straight_on_it() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(3);
    let n = 50_000;
    let mut memory = rng.vec(3 * n);
    let (a, rest) = memory.split_at_mut(n);
    let (b, out) = rest.split_at_mut(n);
    out.fill(f32::NAN);
    let expected: Vec<f32> = a.iter().zip(b.iter()).map(|(x, y)| x + y).collect();
    let whole = unsafe { std::slice::from_raw_parts(a.as_ptr(), 3 * n) };
    assert_eq!(
        register(exec, whole),
        S::GPU_EXECUTOR_OK,
        "{}",
        last_error()
    );
    let s = stats(exec);
    assert_eq!(
        (s.registered_host_regions, s.registered_host_bytes),
        (1, 12 * n as u64)
    );
    let tasks = [op_task(gpu_op_t::GPU_OP_VECTOR_ADD, &[a, b], out, n)];
    assert_eq!(submit(exec, &tasks), S::GPU_EXECUTOR_OK, "{}", last_error());
    let s = stats(exec);
    assert_eq!(s.registered_host_operands, 3);
    assert_eq!(s.bytes_uploaded, 0);
    assert_eq!(s.bytes_read_back, 0);
    assert_eq!(s.direct_dispatches, 1);
    assert_eq!(unregister(exec, whole), S::GPU_EXECUTOR_OK);
    assert_matches(out, &expected, "direct dispatch on registered memory");
    destroy(exec);
}

#[test]
fn asynchronous_batches_write_registered_outputs_by_their_wait() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(11);
    let n = 70_001;
    let a = rng.vec(n);
    let b = rng.vec(n);
    let mut outs: Vec<Vec<f32>> = (0..4).map(|_| vec![f32::NAN; n]).collect();
    for out in &outs {
        assert_eq!(register(exec, out), S::GPU_EXECUTOR_OK, "{}", last_error());
    }
    let expected: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
    let tickets: Vec<gpu_ticket_t> = outs
        .iter_mut()
        .map(|out| {
            let (status, ticket) = submit_async(
                exec,
                &[op_task(gpu_op_t::GPU_OP_VECTOR_ADD, &[&a, &b], out, n)],
            );
            assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
            ticket
        })
        .collect();
    for ticket in tickets {
        assert_eq!(
            wait(exec, ticket, u64::MAX),
            S::GPU_EXECUTOR_OK,
            "{}",
            last_error()
        );
    }
    for out in &outs {
        assert_matches(out, &expected, "registered output of an asynchronous batch");
        assert_eq!(unregister(exec, out), S::GPU_EXECUTOR_OK);
    }
    assert_eq!(stats(exec).registered_host_operands, 4);
    destroy(exec);
}

#[test]
fn unregistering_waits_for_batches_in_flight() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(5);
    let n = 300_000;
    let a = rng.vec(n);
    let b = rng.vec(n);
    let mut out = vec![f32::NAN; n];
    assert_eq!(register(exec, &out), S::GPU_EXECUTOR_OK);
    let (status, ticket) = submit_async(
        exec,
        &[op_task(gpu_op_t::GPU_OP_VECTOR_ADD, &[&a, &b], &mut out, n)],
    );
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    // The GPU has finished writing `out` once this returns, ticket or not.
    assert_eq!(unregister(exec, &out), S::GPU_EXECUTOR_OK);
    let expected: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
    assert_matches(&out, &expected, "output written before unregister returned");
    assert_eq!(wait(exec, ticket, u64::MAX), S::GPU_EXECUTOR_OK);
    assert_matches(&out, &expected, "and still after the wait");
    // Unregistered: the next batch copies through staging.
    let mut again = vec![f32::NAN; n];
    let before = stats(exec).registered_host_operands;
    let tasks = [op_task(
        gpu_op_t::GPU_OP_VECTOR_ADD,
        &[&a, &b],
        &mut again,
        n,
    )];
    assert_eq!(submit(exec, &tasks), S::GPU_EXECUTOR_OK);
    assert_eq!(stats(exec).registered_host_operands, before);
    assert_matches(&again, &expected, "after unregistering");
    destroy(exec);
}

#[test]
fn arrays_an_asynchronous_batch_still_writes_are_refused_registered_or_not() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(13);
    let n = 40_000;
    let a = rng.vec(n);
    let mut out = vec![f32::NAN; n];
    let mut other = vec![f32::NAN; n];
    // An unregistered output in flight, then registered: a batch reading it must wait for
    // the ticket, whose results land there when it is waited.
    let (status, first) = submit_async(
        exec,
        &[op_task(gpu_op_t::GPU_OP_VECTOR_ADD, &[&a, &a], &mut out, n)],
    );
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    assert_eq!(register(exec, &out), S::GPU_EXECUTOR_OK);
    let reader = [op_task(
        gpu_op_t::GPU_OP_VECTOR_ADD,
        &[&out, &a],
        &mut other,
        n,
    )];
    assert_eq!(submit(exec, &reader), S::GPU_EXECUTOR_ALIASING);
    assert_eq!(wait(exec, first, u64::MAX), S::GPU_EXECUTOR_OK);
    let doubled: Vec<f32> = a.iter().map(|x| x + x).collect();
    assert_matches(&out, &doubled, "the first batch's results");
    // A registered output in flight: the same rule.
    let (status, second) = submit_async(
        exec,
        &[op_task(gpu_op_t::GPU_OP_VECTOR_ADD, &[&a, &a], &mut out, n)],
    );
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    let reader = [op_task(
        gpu_op_t::GPU_OP_VECTOR_ADD,
        &[&out, &a],
        &mut other,
        n,
    )];
    assert_eq!(submit(exec, &reader), S::GPU_EXECUTOR_ALIASING);
    assert_eq!(wait(exec, second, u64::MAX), S::GPU_EXECUTOR_OK);
    assert_eq!(
        submit(exec, &reader),
        S::GPU_EXECUTOR_OK,
        "{}",
        last_error()
    );
    let tripled: Vec<f32> = doubled.iter().zip(&a).map(|(x, y)| x + y).collect();
    assert_matches(&other, &tripled, "a reader after the wait");
    assert_matches(&out, &doubled, "the registered output");
    assert_eq!(stats(exec).registered_host_operands, 2);
    assert_eq!(unregister(exec, &out), S::GPU_EXECUTOR_OK);
    destroy(exec);
}

#[test]
fn destroying_the_executor_releases_registered_memory() {
    for _ in 0..3 {
        let exec = create(ptr::null());
        let mut rng = Rng::new(8);
        let a = rng.vec(10_000);
        let mut out = vec![f32::NAN; 10_000];
        assert_eq!(register(exec, &a), S::GPU_EXECUTOR_OK);
        assert_eq!(register(exec, &out), S::GPU_EXECUTOR_OK);
        let (status, _ticket) = submit_async(
            exec,
            &[op_task(
                gpu_op_t::GPU_OP_VECTOR_ADD,
                &[&a, &a],
                &mut out,
                10_000,
            )],
        );
        assert_eq!(status, S::GPU_EXECUTOR_OK);
        // Destroyed with both registered and the ticket never waited: the GPU finished
        // and the imports are gone before this returns, so the memory may be freed.
        destroy(exec);
        let expected: Vec<f32> = a.iter().map(|x| x + x).collect();
        assert_matches(&out, &expected, "written before destroy returned");
    }
}

#[test]
fn bad_registrations_get_their_status_and_change_nothing() {
    let exec = create(ptr::null());
    let memory = vec![1.0f32; 4096];
    let p = memory.as_ptr().cast::<c_void>();
    let call = |exec, p, bytes| unsafe { gpu_executor_register_host_memory(exec, p, bytes) };
    assert_eq!(call(ptr::null_mut(), p, 64), S::GPU_EXECUTOR_NULL_POINTER);
    assert_eq!(call(exec, ptr::null(), 64), S::GPU_EXECUTOR_NULL_POINTER);
    assert_eq!(call(exec, p, 0), S::GPU_EXECUTOR_INVALID_ARGUMENT);
    let near_end = usize::MAX - 15;
    assert_eq!(
        call(exec, near_end as *const c_void, 64),
        S::GPU_EXECUTOR_SIZE_OVERFLOW
    );
    assert_eq!(call(exec, p, u64::MAX), S::GPU_EXECUTOR_SIZE_OVERFLOW);
    assert_eq!(
        call(exec, p, 4096 * 4),
        S::GPU_EXECUTOR_OK,
        "{}",
        last_error()
    );
    // Overlaps: the same range, inside it, straddling either end.
    let at = |i: usize| memory[i..].as_ptr().cast::<c_void>();
    assert_eq!(call(exec, p, 4096 * 4), S::GPU_EXECUTOR_INVALID_ARGUMENT);
    assert_eq!(call(exec, at(100), 40), S::GPU_EXECUTOR_INVALID_ARGUMENT);
    assert!(last_error().contains("overlap"), "{}", last_error());
    let before = unsafe { p.cast::<u8>().sub(64) }.cast::<c_void>();
    assert_eq!(call(exec, before, 128), S::GPU_EXECUTOR_INVALID_ARGUMENT);
    assert_eq!(call(exec, at(4095), 64), S::GPU_EXECUTOR_INVALID_ARGUMENT);
    assert_eq!(stats(exec).registered_host_regions, 1);
    // Unregistering: only the start of a registered range, once.
    let unreg = |exec, p| unsafe { gpu_executor_unregister_host_memory(exec, p) };
    assert_eq!(unreg(ptr::null_mut(), p), S::GPU_EXECUTOR_NULL_POINTER);
    assert_eq!(unreg(exec, ptr::null()), S::GPU_EXECUTOR_NULL_POINTER);
    assert_eq!(unreg(exec, at(1)), S::GPU_EXECUTOR_INVALID_ARGUMENT);
    assert_eq!(unreg(exec, p), S::GPU_EXECUTOR_OK);
    assert_eq!(unreg(exec, p), S::GPU_EXECUTOR_INVALID_ARGUMENT);
    // Two ranges side by side in the same pages are separate registrations.
    assert_eq!(
        call(exec, p, 2048 * 4),
        S::GPU_EXECUTOR_OK,
        "{}",
        last_error()
    );
    assert_eq!(
        call(exec, at(2048), 2048 * 4),
        S::GPU_EXECUTOR_OK,
        "{}",
        last_error()
    );
    assert_eq!(stats(exec).registered_host_regions, 2);
    assert_eq!(stats(exec).registered_host_bytes, 4096 * 4);
    destroy(exec);
}

#[test]
fn an_array_straddling_two_registrations_is_copied() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(21);
    let n = 1000;
    let memory = rng.vec(2 * n);
    let (first, second) = memory.split_at(n);
    assert_eq!(register(exec, first), S::GPU_EXECUTOR_OK);
    assert_eq!(register(exec, second), S::GPU_EXECUTOR_OK);
    let straddling = &memory[n / 2..n / 2 + n];
    let mut out = vec![f32::NAN; n];
    let tasks = [op_task(
        gpu_op_t::GPU_OP_VECTOR_ADD,
        &[straddling, first],
        &mut out,
        n,
    )];
    assert_eq!(submit(exec, &tasks), S::GPU_EXECUTOR_OK, "{}", last_error());
    let expected: Vec<f32> = straddling.iter().zip(first).map(|(x, y)| x + y).collect();
    assert_matches(&out, &expected, "straddling input");
    // Only `first` was found registered.
    assert_eq!(stats(exec).registered_host_operands, 1);
    destroy(exec);
}

#[test]
fn user_kernels_read_and_write_registered_memory() {
    let exec = create(ptr::null());
    let (status, poly) = register_kernel(exec, POLY, "poly", |d| {
        d.num_inputs = 2;
        d.params_size = 4;
    });
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    // Whole-array, over the arrays' bits as u32.
    let (status, reverse) = register_kernel(exec, REVERSE, "main", |d| {
        d.dtype = gpu_dtype_t::GPU_DTYPE_U32 as u32;
        d.elementwise = 0;
    });
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    let mut rng = Rng::new(31);
    let n = 30_001;
    let mut memory = rng.vec(4 * n);
    let run = |memory: &mut [f32], registered: bool| -> (Vec<u32>, Vec<u32>) {
        memory[2 * n..].fill(f32::NAN);
        if registered {
            assert_eq!(
                register(exec, memory),
                S::GPU_EXECUTOR_OK,
                "{}",
                last_error()
            );
        }
        let (inputs, outputs) = memory.split_at_mut(2 * n);
        let (a, b) = inputs.split_at(n);
        let (poly_out, reverse_out) = outputs.split_at_mut(n);
        let mut t0 = op_task(gpu_op_t::GPU_OP_VECTOR_ADD, &[a, b], poly_out, n);
        t0.op = poly;
        t0.params[0] = u64::from(1.5f32.to_bits());
        let mut t1 = op_task(gpu_op_t::GPU_OP_VECTOR_ADD, &[a], reverse_out, n);
        t1.op = reverse;
        t1.flags = gpu_dtype_t::GPU_DTYPE_U32 as u32;
        assert_eq!(
            submit(exec, &[t0, t1]),
            S::GPU_EXECUTOR_OK,
            "{}",
            last_error()
        );
        if registered {
            assert_eq!(unregister(exec, memory), S::GPU_EXECUTOR_OK);
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
        (bits(&memory[2 * n..3 * n]), bits(&memory[3 * n..]))
    };
    let copied = run(&mut memory, false);
    let in_place = run(&mut memory, true);
    assert!(copied == in_place, "registered and copied arrays disagree");
    let reversed: Vec<u32> = memory[..n].iter().rev().map(|x| x.to_bits()).collect();
    assert_eq!(in_place.1, reversed);
    let want: Vec<f32> = memory[..n]
        .iter()
        .zip(&memory[n..2 * n])
        .map(|(a, b)| a * a * 1.5 + b)
        .collect();
    let got: Vec<f32> = in_place.0.iter().map(|&x| f32::from_bits(x)).collect();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4 * w.abs().max(1.0),
            "poly[{i}]: {g} vs {w}"
        );
    }
    // Poly's three arrays and reverse's two.
    assert_eq!(stats(exec).registered_host_operands, 5);
    destroy(exec);
}
