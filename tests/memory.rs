//! Giving memory back on demand: `gpu_executor_trim` releases idle slabs, the exact-size
//! cache and destroyed buffers' memory (results stay correct afterwards), and
//! `gpu_executor_drop_ticket` abandons a batch without writing its outputs.

mod common;

use std::ptr;

use common::c_api::{create, destroy, last_error, stats, submit, submit_async, task, wait};
use common::{assert_matches, poisoned, Case, Rng};
use gpu_executor::ffi::*;

use gpu_executor_status_t as S;

fn ok(status: S) {
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
}

#[test]
fn trim_releases_idle_memory_and_batches_still_run() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(11);
    let cases: Vec<Case> = [100, 20_000, 5_000]
        .iter()
        .map(|&n| Case::random(&mut rng, n))
        .collect();
    // A single-task batch fills the exact-size cache, a mixed one the slab pool.
    let mut single = poisoned(100);
    ok(submit(exec, &[task(&cases[0].a, &cases[0].b, &mut single)]));
    let mut outs: Vec<Vec<f32>> = cases.iter().map(|c| poisoned(c.a.len())).collect();
    let tasks: Vec<gpu_task_t> = cases
        .iter()
        .zip(outs.iter_mut())
        .map(|(c, o)| task(&c.a, &c.b, o))
        .collect();
    ok(submit(exec, &tasks));
    // Buffers: one kept, one destroyed (its arena piece goes idle), one big of its own.
    let data = rng.vec(1000);
    let (mut kept, mut gone, mut big) = (0, 0, 0);
    unsafe {
        ok(gpu_buffer_create_from(
            exec,
            0,
            data.as_ptr().cast(),
            1000,
            &mut kept,
        ));
        ok(gpu_buffer_create(exec, 0, 1000, &mut gone));
        ok(gpu_buffer_create(exec, 0, 8 << 20, &mut big)); // 32 MiB: a GPU buffer of its own
        ok(gpu_buffer_destroy(exec, gone));
        ok(gpu_buffer_destroy(exec, big));
    }
    let before = stats(exec);
    assert_eq!(before.exact_cache_entries, 1);
    // The shared arena (64 MiB, or less where the device's limits are smaller) and the
    // big buffer's own 32 MiB (kept for reuse).
    assert!(
        before.resident_reserved_bytes >= (32 << 20) + 4000,
        "{}",
        before.resident_reserved_bytes
    );

    ok(unsafe { gpu_executor_trim(exec) });
    let after = stats(exec);
    assert_eq!(
        after.exact_cache_entries, 0,
        "the exact-size cache is empty"
    );
    assert_eq!(
        after.cached_buckets, before.cached_buckets,
        "pipelines stay"
    );
    // The big buffer's memory is gone; the arena stays, for the live buffer in it.
    assert_eq!(
        after.resident_reserved_bytes,
        before.resident_reserved_bytes - (32 << 20)
    );
    let mut back = vec![0f32; 1000];
    ok(unsafe { gpu_buffer_read(exec, kept, 0, back.as_mut_ptr().cast(), 1000) });
    assert_eq!(back, data, "a live buffer keeps its contents");
    ok(unsafe { gpu_buffer_destroy(exec, kept) });
    ok(unsafe { gpu_executor_trim(exec) });
    assert_eq!(
        stats(exec).resident_reserved_bytes,
        0,
        "no live buffer: no buffer memory"
    );

    // Everything runs again from fresh memory.
    let misses = stats(exec).pool_misses;
    let mut outs: Vec<Vec<f32>> = cases.iter().map(|c| poisoned(c.a.len())).collect();
    let tasks: Vec<gpu_task_t> = cases
        .iter()
        .zip(outs.iter_mut())
        .map(|(c, o)| task(&c.a, &c.b, o))
        .collect();
    ok(submit(exec, &tasks));
    for (c, o) in cases.iter().zip(&outs) {
        assert_matches(o, &c.expected, "after trim");
    }
    assert!(stats(exec).pool_misses > misses, "the pool was empty");
    assert_eq!(
        unsafe { gpu_executor_trim(ptr::null_mut()) },
        S::GPU_EXECUTOR_NULL_POINTER
    );
    destroy(exec);
}

#[test]
fn a_dropped_ticket_writes_nothing_and_frees_its_outputs() {
    let exec = create(ptr::null());
    let mut rng = Rng::new(12);
    let case = Case::random(&mut rng, 50_000);
    let mut out = poisoned(50_000);
    let (status, ticket) = submit_async(exec, &[task(&case.a, &case.b, &mut out)]);
    ok(status);
    // While in flight, its output is claimed.
    let mut other = poisoned(50_000);
    let reuse = [task(&case.a, &case.b, &mut out)];
    assert_eq!(submit(exec, &reuse), S::GPU_EXECUTOR_ALIASING);
    ok(unsafe { gpu_executor_drop_ticket(exec, ticket) });
    assert_eq!(
        wait(exec, ticket, u64::MAX),
        S::GPU_EXECUTOR_UNKNOWN_TICKET,
        "spent"
    );
    assert_eq!(
        unsafe { gpu_executor_drop_ticket(exec, ticket) },
        S::GPU_EXECUTOR_UNKNOWN_TICKET
    );
    assert_eq!(
        unsafe { gpu_executor_drop_ticket(exec, 0) },
        S::GPU_EXECUTOR_UNKNOWN_TICKET
    );
    assert!(
        out.iter().all(|x| x.is_nan()),
        "a dropped batch writes nothing"
    );
    // The output is free again.
    ok(submit(exec, &[task(&case.a, &case.b, &mut out)]));
    assert_matches(&out, &case.expected, "after the drop");
    ok(submit(exec, &[task(&case.a, &case.b, &mut other)]));
    assert_eq!(
        unsafe { gpu_executor_drop_ticket(ptr::null_mut(), 1) },
        S::GPU_EXECUTOR_NULL_POINTER
    );
    destroy(exec);
}
