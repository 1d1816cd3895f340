//! Asynchronous batches through the C API: inputs are copied at submission, results land
//! when the ticket completes, from any thread, in any order.

mod common;

use std::ptr;

use common::c_api::{last_error, stats, task, tasks};

fn create() -> *mut gpu_executor_t {
    common::c_api::create(ptr::null())
}
use common::{assert_matches, poisoned, Case, Rng};
use gpu_executor::ffi::*;
use gpu_executor::{Config, Executor, TaskInputs};

use gpu_executor_status_t as S;

/// Submits `sizes` asynchronously; returns the ticket, the expected outputs and the output
/// buffers. The inputs are overwritten right after submission to prove they were copied.
fn submit_async(
    exec: *mut gpu_executor_t,
    rng: &mut Rng,
    sizes: &[usize],
) -> (gpu_ticket_t, Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let mut cases: Vec<Case> = sizes.iter().map(|&n| Case::random(rng, n)).collect();
    let mut outs: Vec<Vec<f32>> = sizes.iter().map(|&n| poisoned(n)).collect();
    let tasks = tasks(&cases, &mut outs);
    let mut ticket = 0;
    let status =
        unsafe { gpu_executor_submit_batch_async(exec, tasks.as_ptr(), tasks.len(), &mut ticket) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    assert_ne!(ticket, 0);
    for case in &mut cases {
        case.a.fill(f32::NAN);
        case.b.fill(f32::NAN);
    }
    let expected = cases.into_iter().map(|c| c.expected).collect();
    (ticket, expected, outs)
}

#[test]
fn results_land_when_the_ticket_completes_in_any_order() {
    let exec = create();
    let mut rng = Rng::new(77);
    let first = submit_async(exec, &mut rng, &[1000, 20_000, 0, 100_000]);
    let second = submit_async(exec, &mut rng, &[5, 16_385]);
    let third = submit_async(exec, &mut rng, &[3_000_001]);
    // Complete the last first, by polling, then the others by waiting.
    loop {
        match unsafe { gpu_executor_poll(exec, third.0) } {
            S::GPU_EXECUTOR_OK => break,
            S::GPU_EXECUTOR_NOT_READY => std::thread::yield_now(),
            other => panic!("poll: {other:?}: {}", last_error()),
        }
    }
    assert_eq!(
        unsafe { gpu_executor_wait(exec, first.0, u64::MAX) },
        S::GPU_EXECUTOR_OK
    );
    assert_eq!(
        unsafe { gpu_executor_wait(exec, second.0, 5_000_000_000) },
        S::GPU_EXECUTOR_OK
    );
    for (ticket, expected, outs) in [first, second, third] {
        for (out, want) in outs.iter().zip(&expected) {
            assert_matches(out, want, &format!("ticket {ticket}"));
        }
        // A completed ticket is spent.
        assert_eq!(
            unsafe { gpu_executor_wait(exec, ticket, 0) },
            S::GPU_EXECUTOR_UNKNOWN_TICKET
        );
    }
    let stats = stats(exec);
    assert_eq!((stats.batches, stats.tasks), (3, 7));
    unsafe { gpu_executor_destroy(exec) };
}

#[test]
fn bad_tickets_and_bad_batches_are_statuses() {
    let exec = create();
    unsafe {
        assert_eq!(
            gpu_executor_wait(exec, 0, 0),
            S::GPU_EXECUTOR_UNKNOWN_TICKET
        );
        assert_eq!(
            gpu_executor_poll(exec, 12345),
            S::GPU_EXECUTOR_UNKNOWN_TICKET
        );
        assert!(last_error().contains("12345"));
        assert_eq!(
            gpu_executor_wait(ptr::null_mut(), 1, 0),
            S::GPU_EXECUTOR_NULL_POINTER
        );
        let mut ticket = 99;
        assert_eq!(
            gpu_executor_submit_batch_async(exec, ptr::null(), 0, ptr::null_mut()),
            S::GPU_EXECUTOR_NULL_POINTER
        );
        assert_eq!(
            gpu_executor_submit_batch_async(exec, ptr::null(), 2, &mut ticket),
            S::GPU_EXECUTOR_NULL_POINTER
        );
        let a = [1.0f32; 8];
        let mut out = [f32::NAN; 8];
        let mut bad = task(&a, &a, &mut out);
        bad.op = 42;
        assert_eq!(
            gpu_executor_submit_batch_async(exec, &bad, 1, &mut ticket),
            S::GPU_EXECUTOR_UNKNOWN_OP
        );
        assert_eq!(ticket, 99, "no ticket on failure");
        // An empty batch completes at once.
        assert_eq!(
            gpu_executor_submit_batch_async(exec, ptr::null(), 0, &mut ticket),
            S::GPU_EXECUTOR_OK
        );
        assert_eq!(gpu_executor_poll(exec, ticket), S::GPU_EXECUTOR_OK);
        // Destroying with a batch in flight abandons it without harm.
        let mut rng = Rng::new(5);
        let (_ticket, _expected, _outs) = submit_async(exec, &mut rng, &[50_000]);
        gpu_executor_destroy(exec);
    }
}

#[test]
fn threads_submit_and_wait_on_one_handle() {
    struct Shared(*mut gpu_executor_t);
    // SAFETY: the handle is documented as thread-safe.
    unsafe impl Sync for Shared {}
    let shared = Shared(create());
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            let shared = &shared;
            scope.spawn(move || {
                let mut rng = Rng::new(300 + t);
                for round in 0..4 {
                    let a = submit_async(shared.0, &mut rng, &[1 + round * 777, 20_000]);
                    let b = submit_async(shared.0, &mut rng, &[70_001 + t as usize]);
                    for (ticket, expected, outs) in [b, a] {
                        let status = unsafe { gpu_executor_wait(shared.0, ticket, u64::MAX) };
                        assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
                        for (out, want) in outs.iter().zip(&expected) {
                            assert_matches(out, want, "threaded async");
                        }
                    }
                }
            });
        }
    });
    unsafe { gpu_executor_destroy(shared.0) };
}

#[test]
fn the_rust_api_launches_and_finishes_separately() {
    let exec = Executor::new(Config::default()).expect("adapter");
    let mut rng = Rng::new(8);
    let cases: Vec<Case> = [300usize, 40_000]
        .iter()
        .map(|&n| Case::random(&mut rng, n))
        .collect();
    let inputs: Vec<TaskInputs> = cases
        .iter()
        .map(|c| TaskInputs::vector_add(&c.a, &c.b))
        .collect();
    let pending = exec.launch(&inputs).expect("launch");
    assert_eq!(pending.output_lengths(), &[300, 40_000]);
    assert!(exec.waiter(&pending).wait(None).expect("wait"));
    let mut small = poisoned(300);
    let mut wrong = poisoned(7);
    let error = match exec.launch(&inputs) {
        Ok(other) => exec
            .finish(
                other,
                &mut [
                    bytemuck::cast_slice_mut(&mut small),
                    bytemuck::cast_slice_mut(&mut wrong),
                ],
            )
            .expect_err("wrong lengths"),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(error.kind, gpu_executor::ErrorKind::InvalidArgument);
    let mut big = poisoned(40_000);
    // Results arrive as 4-byte words, whatever the element type.
    exec.finish(
        pending,
        &mut [
            bytemuck::cast_slice_mut(&mut small),
            bytemuck::cast_slice_mut(&mut big),
        ],
    )
    .expect("finish");
    assert_matches(&small, &cases[0].expected, "small");
    assert_matches(&big, &cases[1].expected, "big");
}
