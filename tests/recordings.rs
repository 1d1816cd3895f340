//! Recorded batches through the C API: element-wise tasks on resident buffers recorded
//! once and submitted many times, blocking and in flight, against the CPU; every
//! rejection's status.

mod common;

use std::ffi::c_void;
use std::ptr;

use common::c_api::{create, destroy, last_error, stats, wait};
use common::Rng;
use gpu_executor::ffi::*;

use gpu_executor_status_t as S;

const F32: u32 = gpu_dtype_t::GPU_DTYPE_F32 as u32;
const ALL: u32 = GPU_TASK_INPUT0_BUFFER | GPU_TASK_INPUT1_BUFFER | GPU_TASK_OUTPUT_BUFFER;

fn ok(status: S) {
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
}

fn buffer_from(exec: *mut gpu_executor_t, data: &[f32]) -> gpu_buffer_t {
    let mut b = 0;
    ok(unsafe {
        gpu_buffer_create_from(exec, F32, data.as_ptr().cast(), data.len() as u64, &mut b)
    });
    b
}

fn read(exec: *mut gpu_executor_t, b: gpu_buffer_t, n: usize) -> Vec<f32> {
    let mut out = vec![f32::NAN; n];
    ok(unsafe { gpu_buffer_read(exec, b, 0, out.as_mut_ptr().cast(), n as u64) });
    out
}

fn write(exec: *mut gpu_executor_t, b: gpu_buffer_t, data: &[f32]) {
    ok(unsafe { gpu_buffer_write(exec, b, 0, data.as_ptr().cast(), data.len() as u64) });
}

fn add_task(a: &gpu_region_t, b: &gpu_region_t, out: &mut gpu_region_t, n: usize) -> gpu_task_t {
    gpu_task_t {
        op: gpu_op_t::GPU_OP_VECTOR_ADD as u32,
        flags: ALL,
        inputs: [
            (a as *const gpu_region_t).cast(),
            (b as *const gpu_region_t).cast(),
            ptr::null(),
            ptr::null(),
        ],
        output: (out as *mut gpu_region_t).cast(),
        length: n,
        params: [0; 4],
    }
}

fn record(exec: *mut gpu_executor_t, tasks: &[gpu_task_t]) -> *mut gpu_recording_t {
    let mut rec = ptr::null_mut();
    ok(unsafe { gpu_executor_record(exec, tasks.as_ptr(), tasks.len(), &mut rec) });
    assert!(!rec.is_null());
    rec
}

#[test]
fn a_recording_runs_on_the_buffers_as_they_are_at_each_submission() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(1);
    let (count, n) = (200, 1000);
    let a: Vec<gpu_buffer_t> = (0..count).map(|_| buffer_from(exec, &rng.vec(n))).collect();
    let b: Vec<gpu_buffer_t> = (0..count).map(|_| buffer_from(exec, &rng.vec(n))).collect();
    let out: Vec<gpu_buffer_t> = (0..count)
        .map(|_| buffer_from(exec, &vec![0.0; n]))
        .collect();
    let ra: Vec<gpu_region_t> = a
        .iter()
        .map(|&x| gpu_region_t {
            buffer: x,
            offset: 0,
        })
        .collect();
    let rb: Vec<gpu_region_t> = b
        .iter()
        .map(|&x| gpu_region_t {
            buffer: x,
            offset: 0,
        })
        .collect();
    let mut ro: Vec<gpu_region_t> = out
        .iter()
        .map(|&x| gpu_region_t {
            buffer: x,
            offset: 0,
        })
        .collect();
    let tasks: Vec<gpu_task_t> = (0..count)
        .map(|i| {
            let (x, y) = (&ra[i], &rb[i]);
            add_task(x, y, &mut ro[i], n)
        })
        .collect();
    let rec = record(exec, &tasks);
    let before = stats(exec);
    for round in 0..3 {
        // New data for every round: the recording reads the buffers as they are.
        let xs: Vec<Vec<f32>> = (0..count).map(|_| rng.vec(n)).collect();
        for (buffer, data) in a.iter().zip(&xs) {
            write(exec, *buffer, data);
        }
        ok(unsafe { gpu_recording_submit(exec, rec) });
        for i in (0..count).step_by(37) {
            let y = read(exec, b[i], n);
            let want: Vec<f32> = xs[i].iter().zip(&y).map(|(p, q)| p + q).collect();
            assert_eq!(read(exec, out[i], n), want, "round {round}, task {i}");
        }
    }
    let after = stats(exec);
    // Three submissions of one dispatch each, plus one per read-back check (a COPY batch).
    let reads = 3 * 2 * count.div_ceil(37) as u64;
    assert_eq!(after.batches - before.batches, 3 + reads);
    assert_eq!(after.direct_dispatches - before.direct_dispatches, 3);
    assert_eq!(after.tasks - before.tasks, 3 * count as u64 + reads);
    // Submissions alone create nothing: no buffer, no bind group.
    let before = stats(exec);
    for _ in 0..5 {
        ok(unsafe { gpu_recording_submit(exec, rec) });
    }
    let after = stats(exec);
    assert_eq!(after.submits - before.submits, 5);
    assert_eq!(after.direct_dispatches - before.direct_dispatches, 5);
    assert_eq!(after.bind_groups_created, before.bind_groups_created);
    assert_eq!(after.buffers_created, before.buffers_created);
    unsafe { gpu_recording_destroy(rec) };
    destroy(exec);
}

#[test]
fn submissions_in_flight_run_in_order_and_chains_keep_their_waves() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(2);
    let n = 5000;
    let x = rng.vec(n);
    let y0 = rng.vec(n);
    let (bx, by, bt) = (
        buffer_from(exec, &x),
        buffer_from(exec, &y0),
        buffer_from(exec, &vec![0.0; n]),
    );
    let rx = gpu_region_t {
        buffer: bx,
        offset: 0,
    };
    let ry = gpu_region_t {
        buffer: by,
        offset: 0,
    };
    let rt = gpu_region_t {
        buffer: bt,
        offset: 0,
    };
    let (mut wt, mut wy) = (rt, ry);
    // t = x + y; y = t + x (in place on y is not allowed after y was read: write via t).
    // Each submission adds 2x to y.
    let tasks = [
        add_task(&rx, &ry, &mut wt, n),
        add_task(&rt, &rx, &mut wy, n),
    ];
    // The second task writes y, which the first reads: rejected, as in a batch.
    let mut rec = ptr::null_mut();
    let status = unsafe { gpu_executor_record(exec, tasks.as_ptr(), 2, &mut rec) };
    assert_eq!(status, S::GPU_EXECUTOR_DEPENDENCY, "{}", last_error());
    assert!(rec.is_null());
    // y = y + x in place, then t = y + x reading it: two waves.
    let (mut wy, mut wt) = (ry, rt);
    let tasks = [
        add_task(&ry, &rx, &mut wy, n),
        add_task(&ry, &rx, &mut wt, n),
    ];
    let rec = record(exec, &tasks);
    let mut tickets = Vec::new();
    for _ in 0..4 {
        let mut ticket = 0;
        ok(unsafe { gpu_recording_submit_async(exec, rec, &mut ticket) });
        tickets.push(ticket);
    }
    for ticket in tickets {
        ok(wait(exec, ticket, u64::MAX));
    }
    let mut want_y = y0.clone();
    for _ in 0..4 {
        for (w, &v) in want_y.iter_mut().zip(&x) {
            *w += v;
        }
    }
    let want_t: Vec<f32> = want_y.iter().zip(&x).map(|(p, q)| p + q).collect();
    assert_eq!(
        read(exec, by, n),
        want_y,
        "four submissions, one after the other"
    );
    assert_eq!(
        read(exec, bt, n),
        want_t,
        "the second wave read the first's result"
    );
    unsafe { gpu_recording_destroy(rec) };
    destroy(exec);
}

#[test]
fn what_cannot_be_recorded_or_submitted_gets_its_status() {
    let exec = create(ptr::null());
    let other = create(ptr::null());
    let data = vec![1f32; 64];
    let (ba, bo) = (buffer_from(exec, &data), buffer_from(exec, &data));
    let ra = gpu_region_t {
        buffer: ba,
        offset: 0,
    };
    let mut ro = gpu_region_t {
        buffer: bo,
        offset: 0,
    };
    let mut rec = ptr::null_mut();
    // A host input.
    let mut t = add_task(&ra, &ra, &mut ro, 64);
    t.flags = GPU_TASK_INPUT0_BUFFER | GPU_TASK_OUTPUT_BUFFER;
    t.inputs[1] = data.as_ptr().cast::<c_void>();
    let status = unsafe { gpu_executor_record(exec, &t, 1, &mut rec) };
    assert_eq!(status, S::GPU_EXECUTOR_INVALID_ARGUMENT);
    assert!(last_error().contains("task 0"), "{}", last_error());
    // A reduction.
    let mut sum = gpu_region_t {
        buffer: bo,
        offset: 0,
    };
    let mut t = add_task(&ra, &ra, &mut sum, 64);
    t.op = gpu_op_t::GPU_OP_SUM as u32;
    t.flags = GPU_TASK_INPUT0_BUFFER | GPU_TASK_OUTPUT_BUFFER;
    t.inputs[1] = ptr::null();
    assert_eq!(
        unsafe { gpu_executor_record(exec, &t, 1, &mut rec) },
        S::GPU_EXECUTOR_INVALID_ARGUMENT
    );
    // NULL out.
    let t = add_task(&ra, &ra, &mut ro, 64);
    assert_eq!(
        unsafe { gpu_executor_record(exec, &t, 1, ptr::null_mut()) },
        S::GPU_EXECUTOR_NULL_POINTER
    );
    assert!(rec.is_null(), "nothing written on failure");
    // The baseline strategy.
    let mut options = gpu_executor_options_default();
    options.strategy = gpu_strategy_t::GPU_STRATEGY_BASELINE as u32;
    let baseline = create(&options);
    let bb = buffer_from(baseline, &data);
    let rb = gpu_region_t {
        buffer: bb,
        offset: 0,
    };
    let mut rbo = rb;
    let t = add_task(&rb, &rb, &mut rbo, 64);
    assert_eq!(
        unsafe { gpu_executor_record(baseline, &t, 1, &mut rec) },
        S::GPU_EXECUTOR_INVALID_ARGUMENT
    );
    destroy(baseline);

    let t = add_task(&ra, &ra, &mut ro, 64);
    let rec = record(exec, &[t]);
    // Another executor's recording; NULL recording and ticket.
    assert_eq!(
        unsafe { gpu_recording_submit(other, rec) },
        S::GPU_EXECUTOR_INVALID_ARGUMENT
    );
    assert_eq!(
        unsafe { gpu_recording_submit(exec, ptr::null()) },
        S::GPU_EXECUTOR_NULL_POINTER
    );
    assert_eq!(
        unsafe { gpu_recording_submit_async(exec, rec, ptr::null_mut()) },
        S::GPU_EXECUTOR_NULL_POINTER
    );
    ok(unsafe { gpu_recording_submit(exec, rec) });
    assert_eq!(read(exec, bo, 64), vec![2.0; 64]);
    // A destroyed buffer: the recording keeps its memory but will not run on it.
    ok(unsafe { gpu_buffer_destroy(exec, ba) });
    assert_eq!(
        unsafe { gpu_recording_submit(exec, rec) },
        S::GPU_EXECUTOR_INVALID_BUFFER
    );
    assert!(last_error().contains("destroyed"), "{}", last_error());
    let mut ticket = 0;
    assert_eq!(
        unsafe { gpu_recording_submit_async(exec, rec, &mut ticket) },
        S::GPU_EXECUTOR_INVALID_BUFFER
    );
    assert_eq!(ticket, 0);
    // Destroying after the executor is safe; NULL is a no-op.
    destroy(exec);
    unsafe {
        gpu_recording_destroy(rec);
        gpu_recording_destroy(ptr::null_mut());
    }
    destroy(other);
}
