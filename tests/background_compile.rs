//! Background compilation: a pipeline is compiled outside the bucket cache's lock, so a
//! thread whose pipelines are cached never waits for another thread's compilation; two
//! threads needing the same new pipeline compile it once; warm-up can run on the
//! executor's worker thread (`gpu_executor_warmup_async`) and the first batch after it
//! compiles nothing. Made deterministic with the test hook `Executor::hold_compiles`,
//! which holds every compilation at its start: no timing is asserted.

mod common;

use std::ptr;

use common::c_api::{create, destroy, last_error, stats, submit};
use common::{submit_adds, Rng};
use gpu_executor::executor::WarmupItem;
use gpu_executor::ffi::*;
use gpu_executor::{Config, ElemType, Executor, KernelId};

use gpu_executor_status_t as S;

const ADD: KernelId = KernelId {
    code: 1,
    ty: ElemType::F32,
};

fn add_item(len: usize) -> WarmupItem {
    WarmupItem {
        op: ADD,
        len,
        matmul: None,
        resident: false,
    }
}

#[test]
fn cached_pipelines_run_while_another_thread_compiles() {
    let exec = Executor::new(Config::default()).expect("executor");
    // Bucket 16,384 is cached; bucket 131,072 is not.
    assert_eq!(exec.warmup(&[add_item(1000)]).expect("warm-up"), 1);
    let hold = exec.hold_compiles();
    std::thread::scope(|scope| {
        let compiling = scope.spawn(|| submit_adds(&exec, &mut Rng::new(1), &[100_000]));
        // The other thread now sits in its compilation, the pipeline marked in progress.
        hold.wait_until_blocked(1);
        // A batch whose pipeline is cached runs to the end meanwhile (before, it waited for
        // the bucket cache's lock, which the compiling thread held: this hung).
        let before = exec.stats();
        submit_adds(&exec, &mut Rng::new(2), &[1000, 3000]);
        let after = exec.stats();
        assert_eq!(after.batches, before.batches + 1);
        assert_eq!(after.pipelines_created, before.pipelines_created);
        drop(hold);
        compiling.join().expect("the compiling thread's batch");
    });
    let stats = exec.stats();
    assert_eq!(stats.pipelines_created, 2);
    assert_eq!(stats.batches, 2);
    assert_eq!(stats.compile_waits, 0);
}

#[test]
fn threads_needing_the_same_new_pipeline_compile_it_once() {
    let exec = Executor::new(Config::default()).expect("executor");
    let hold = exec.hold_compiles();
    std::thread::scope(|scope| {
        let first = scope.spawn(|| submit_adds(&exec, &mut Rng::new(3), &[100_000]));
        hold.wait_until_blocked(1);
        let second = scope.spawn(|| submit_adds(&exec, &mut Rng::new(4), &[90_000]));
        // The second thread finds the pipeline in progress and waits for it.
        while exec.stats().compile_waits == 0 {
            std::thread::yield_now();
        }
        drop(hold);
        first.join().expect("first batch");
        second.join().expect("second batch");
    });
    let stats = exec.stats();
    assert_eq!(stats.pipelines_created, 1, "compiled once");
    assert_eq!(stats.bucket_cache_misses, 1);
    assert_eq!(stats.compile_waits, 1);
    assert_eq!(stats.batches, 2);
}

#[test]
fn a_batch_runs_while_an_async_warmup_compiles() {
    let exec = Executor::new(Config::default()).expect("executor");
    exec.warmup(&[add_item(1000)]).expect("warm-up");
    let hold = exec.hold_compiles();
    exec.warmup_async(&[add_item(100_000), add_item(1 << 20)])
        .expect("queued");
    hold.wait_until_blocked(1);
    assert_eq!(exec.stats().pending_warmups, 1);
    assert_eq!(
        exec.wait_warmups(Some(std::time::Duration::ZERO))
            .expect("no error"),
        None,
        "still compiling"
    );
    submit_adds(&exec, &mut Rng::new(5), &[1000]);
    drop(hold);
    assert_eq!(exec.wait_warmups(None).expect("no error"), Some(2));
    let stats = exec.stats();
    assert_eq!(stats.pending_warmups, 0);
    assert_eq!(stats.async_warmups_completed, 1);
    assert_eq!(stats.pipelines_created, 3);
}

/// The plan of tasks the C tests warm up: three buckets of ADD, MUL at i32, SUM.
fn plan() -> Vec<gpu_task_t> {
    let describe = |op: gpu_op_t, flags: u32, length: usize| gpu_task_t {
        op: op as u32,
        flags,
        inputs: [ptr::null(); 4],
        output: ptr::null_mut(),
        length,
        params: [0; 4],
    };
    vec![
        describe(gpu_op_t::GPU_OP_VECTOR_ADD, 0, 1000),
        describe(gpu_op_t::GPU_OP_VECTOR_ADD, 0, 100_000),
        describe(gpu_op_t::GPU_OP_VECTOR_ADD, 0, 1 << 20),
        describe(
            gpu_op_t::GPU_OP_MUL,
            gpu_dtype_t::GPU_DTYPE_I32 as u32,
            5000,
        ),
        describe(gpu_op_t::GPU_OP_SUM, 0, 3000),
    ]
}

#[test]
fn after_an_async_warmup_the_first_batch_compiles_nothing() {
    let exec = create(ptr::null());
    let plan = plan();
    let status = unsafe { gpu_executor_warmup_async(exec, plan.as_ptr(), plan.len()) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    let mut compiled = 0;
    let status = unsafe { gpu_executor_warmup_wait(exec, u64::MAX, &mut compiled) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    assert_eq!(compiled, 5);
    let warmed = stats(exec);
    assert_eq!(warmed.pending_warmups, 0);
    assert_eq!(warmed.async_warmups_completed, 1);
    assert_eq!(warmed.pipelines_created, 5);

    // A first batch of the same shapes: nothing compiled, results right.
    let mut rng = Rng::new(6);
    let sizes = [1000usize, 100_000, 1 << 20];
    let inputs: Vec<(Vec<f32>, Vec<f32>)> =
        sizes.iter().map(|&n| (rng.vec(n), rng.vec(n))).collect();
    let mut outputs: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0f32; n]).collect();
    let tasks: Vec<gpu_task_t> = inputs
        .iter()
        .zip(outputs.iter_mut())
        .map(|((a, b), o)| common::c_api::task(a, b, o))
        .collect();
    assert_eq!(submit(exec, &tasks), S::GPU_EXECUTOR_OK, "{}", last_error());
    for ((a, b), o) in inputs.iter().zip(&outputs) {
        let want: Vec<f32> = a.iter().zip(b).map(|(x, y)| x + y).collect();
        common::assert_matches(o, &want, "ADD after async warm-up");
    }
    let after = stats(exec);
    assert_eq!(after.pipelines_created, warmed.pipelines_created);
    assert_eq!(after.bucket_cache_misses, warmed.bucket_cache_misses);
    // Nothing more pending: OK at once, with nothing new compiled.
    let status = unsafe { gpu_executor_warmup_wait(exec, 0, &mut compiled) };
    assert_eq!(status, S::GPU_EXECUTOR_OK);
    assert_eq!(compiled, 0);
    destroy(exec);
}

#[test]
fn async_warmup_checks_its_tasks_at_once() {
    let exec = create(ptr::null());
    let mut plan = plan();
    plan[1].op = 9999;
    let status = unsafe { gpu_executor_warmup_async(exec, plan.as_ptr(), plan.len()) };
    assert_eq!(status, S::GPU_EXECUTOR_UNKNOWN_OP);
    let status = unsafe { gpu_executor_warmup_async(exec, ptr::null(), 3) };
    assert_eq!(status, S::GPU_EXECUTOR_NULL_POINTER);
    let status = unsafe { gpu_executor_warmup_async(ptr::null_mut(), plan.as_ptr(), 1) };
    assert_eq!(status, S::GPU_EXECUTOR_NULL_POINTER);
    let status = unsafe { gpu_executor_warmup_wait(ptr::null_mut(), 0, ptr::null_mut()) };
    assert_eq!(status, S::GPU_EXECUTOR_NULL_POINTER);
    // Nothing was queued.
    assert_eq!(stats(exec).async_warmups_completed, 0);
    let status = unsafe { gpu_executor_warmup_wait(exec, 0, ptr::null_mut()) };
    assert_eq!(status, S::GPU_EXECUTOR_OK);
    destroy(exec);
}

#[test]
fn destroy_lets_a_queued_warmup_finish() {
    let exec = create(ptr::null());
    let plan = plan();
    let status = unsafe { gpu_executor_warmup_async(exec, plan.as_ptr(), plan.len()) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    destroy(exec);
}
