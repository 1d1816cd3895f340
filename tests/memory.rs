//! Giving memory back on demand: `gpu_executor_trim` releases idle slabs, the exact-size
//! cache and destroyed buffers' memory (results stay correct afterwards), and
//! `gpu_executor_drop_ticket` abandons a batch without writing its outputs. Bounded memory:
//! the `max_idle_bytes` cap over idle slabs, exact-size entries and tables (least recently
//! used evicted first), and the `max_in_flight_bytes` budget of asynchronous batches.

mod common;

use std::ptr;

use common::c_api::{create, destroy, last_error, stats, submit, submit_async, task, tasks, wait};
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

/// Options with the given idle cap and in-flight budget.
fn capped(max_idle_bytes: u64, max_in_flight_bytes: u64) -> gpu_executor_options_t {
    gpu_executor_options_t {
        max_idle_bytes,
        max_in_flight_bytes,
        ..gpu_executor_options_default()
    }
}

/// The parts of the idle figure add up, and the whole stays under the cap.
fn check_idle(s: &gpu_executor_stats_t, cap: u64, what: &str) {
    assert_eq!(
        s.idle_bytes,
        s.pool_bytes + s.exact_cache_bytes + s.table_bytes,
        "{what}"
    );
    assert!(
        s.idle_bytes <= cap,
        "{what}: {} idle bytes > cap {cap}",
        s.idle_bytes
    );
}

#[test]
fn the_options_default_to_a_512_mib_cap_and_no_budget() {
    let o = gpu_executor_options_default();
    assert_eq!(o.max_idle_bytes, 512 << 20);
    assert_eq!(o.max_in_flight_bytes, 0);
}

#[test]
fn idle_bytes_stay_under_a_small_cap_through_many_sizes_and_an_async_burst() {
    const CAP: u64 = 4 << 20;
    let exec = create(&capped(CAP, 0));
    let mut rng = Rng::new(21);
    // Many distinct sizes, across buckets, single- (exact-size cache) and multi-task
    // (pool) batches, each checked against the CPU.
    for round in 0..40 {
        let count = 1 + (rng.next_u64() % 4) as usize;
        let cases: Vec<Case> = (0..count)
            .map(|_| {
                let n = 1 + (rng.next_u64() % 200_000) as usize;
                Case::random(&mut rng, n)
            })
            .collect();
        let mut outs: Vec<Vec<f32>> = cases.iter().map(|c| poisoned(c.a.len())).collect();
        ok(submit(exec, &tasks(&cases, &mut outs)));
        for (c, o) in cases.iter().zip(&outs) {
            assert_matches(o, &c.expected, &format!("round {round}"));
        }
        check_idle(&stats(exec), CAP, &format!("after round {round}"));
    }
    let before_burst = stats(exec);
    assert!(before_burst.pool_evictions + before_burst.exact_cache_evictions > 0);
    // A burst of asynchronous batches: all in flight at once (nothing idle is taken from
    // the cap while they are), then waited for one by one.
    let cases: Vec<Vec<Case>> = (0..12)
        .map(|_| (0..2).map(|_| Case::random(&mut rng, 100_000)).collect())
        .collect();
    let mut outs: Vec<Vec<Vec<f32>>> = cases
        .iter()
        .map(|b| b.iter().map(|c| poisoned(c.a.len())).collect())
        .collect();
    let mut tickets = Vec::new();
    for (batch, out) in cases.iter().zip(outs.iter_mut()) {
        let (status, ticket) = submit_async(exec, &tasks(batch, out));
        ok(status);
        tickets.push(ticket);
        check_idle(&stats(exec), CAP, "while submitting the burst");
    }
    let peak = stats(exec).in_flight_bytes;
    assert!(peak > CAP, "the burst holds {peak} bytes in flight");
    for (i, ticket) in tickets.into_iter().enumerate() {
        ok(wait(exec, ticket, u64::MAX));
        check_idle(&stats(exec), CAP, &format!("after waiting for batch {i}"));
    }
    for (batch, out) in cases.iter().zip(&outs) {
        for (c, o) in batch.iter().zip(out) {
            assert_matches(o, &c.expected, "burst");
        }
    }
    let after = stats(exec);
    assert_eq!(after.in_flight_bytes, 0, "nothing in flight");
    assert!(after.pool_evictions > before_burst.pool_evictions);
    assert!(
        after.evicted_bytes >= peak - CAP,
        "the burst's slabs beyond the cap were freed"
    );
    destroy(exec);
}

/// Submits one single-task batch of `n` elements (the exact-size cache's path), checked.
fn single(exec: *mut gpu_executor_t, rng: &mut Rng, n: usize) {
    let case = Case::random(rng, n);
    let mut out = poisoned(n);
    ok(submit(exec, &[task(&case.a, &case.b, &mut out)]));
    assert_matches(&out, &case.expected, &format!("length {n}"));
}

#[test]
fn the_cap_evicts_the_least_recently_used_exact_size_entry() {
    let mut rng = Rng::new(22);
    let lengths = [10_000, 10_004, 10_008];
    // What each length's entry holds, measured with no cap.
    let free = create(&capped(u64::MAX, 0));
    let mut sizes = Vec::new();
    let mut held = 0;
    for &n in &lengths {
        single(free, &mut rng, n);
        let now = stats(free).exact_cache_bytes;
        sizes.push(now - held);
        held = now;
    }
    assert_eq!(stats(free).exact_cache_evictions, 0);
    destroy(free);

    // A cap one byte short of all three: the least recently used goes.
    let cap = sizes.iter().sum::<u64>() - 1;
    let exec = create(&capped(cap, 0));
    for &n in &lengths {
        single(exec, &mut rng, n);
    }
    let s = stats(exec);
    assert_eq!(s.exact_cache_evictions, 1);
    assert_eq!(s.exact_cache_entries, 2);
    assert_eq!(s.evicted_bytes, sizes[0], "the first length went");
    assert_eq!(s.exact_cache_bytes, sizes[1] + sizes[2]);
    // The first length again misses, and evicts the second (now the oldest).
    single(exec, &mut rng, lengths[0]);
    let s = stats(exec);
    assert_eq!((s.exact_cache_misses, s.exact_cache_hits), (4, 0));
    assert_eq!(s.exact_cache_evictions, 2);
    assert_eq!(s.evicted_bytes, sizes[0] + sizes[1]);
    // The third still hits; then the second misses and evicts the first.
    single(exec, &mut rng, lengths[2]);
    single(exec, &mut rng, lengths[1]);
    let s = stats(exec);
    assert_eq!((s.exact_cache_misses, s.exact_cache_hits), (5, 1));
    assert_eq!(s.exact_cache_evictions, 3);
    assert_eq!(s.evicted_bytes, 2 * sizes[0] + sizes[1]);
    assert_eq!(s.exact_cache_bytes, sizes[1] + sizes[2]);
    check_idle(&s, cap, "end");
    assert_eq!(s.pool_evictions, 0);
    destroy(exec);
}

#[test]
fn a_cap_of_zero_keeps_nothing_idle() {
    let exec = create(&capped(0, 0));
    let mut rng = Rng::new(23);
    for round in 0..3 {
        single(exec, &mut rng, 5_000);
        let cases: Vec<Case> = [300, 40_000]
            .iter()
            .map(|&n| Case::random(&mut rng, n))
            .collect();
        let mut outs: Vec<Vec<f32>> = cases.iter().map(|c| poisoned(c.a.len())).collect();
        ok(submit(exec, &tasks(&cases, &mut outs)));
        for (c, o) in cases.iter().zip(&outs) {
            assert_matches(o, &c.expected, &format!("round {round}"));
        }
        let s = stats(exec);
        assert_eq!(s.idle_bytes, 0);
        // Every slab made is freed as its batch finishes: nothing is ever reused.
        assert_eq!(s.pool_hits, 0);
        assert_eq!(s.pool_evictions, s.pool_misses);
        assert_eq!(s.exact_cache_evictions, round + 1);
        assert_eq!(s.exact_cache_misses, round + 1);
    }
    destroy(exec);
}

#[test]
fn no_cap_evicts_nothing() {
    let exec = create(&capped(u64::MAX, 0));
    let mut rng = Rng::new(24);
    for n in [1_000, 30_000, 300_000, 1_000, 30_000] {
        single(exec, &mut rng, n);
    }
    let s = stats(exec);
    assert_eq!(
        s.exact_cache_evictions + s.pool_evictions + s.table_evictions,
        0
    );
    assert_eq!(s.evicted_bytes, 0);
    assert_eq!(s.exact_cache_entries, 3);
    destroy(exec);
}

#[test]
fn async_batches_past_the_in_flight_budget_are_refused_and_admitted_once_a_ticket_is_spent() {
    let mut rng = Rng::new(25);
    let n = 20_000;
    let cases: Vec<Case> = (0..6).map(|_| Case::random(&mut rng, n)).collect();
    // One batch's slab bytes, measured.
    let probe = create(&capped(u64::MAX, 0));
    let mut out = poisoned(n);
    let (status, ticket) = submit_async(probe, &[task(&cases[0].a, &cases[0].b, &mut out)]);
    ok(status);
    let per_batch = stats(probe).in_flight_bytes;
    assert!(per_batch >= 3 * 4 * n as u64, "{per_batch}");
    ok(wait(probe, ticket, u64::MAX));
    assert_eq!(stats(probe).in_flight_bytes, 0);
    destroy(probe);

    let exec = create(&capped(u64::MAX, 3 * per_batch));
    let mut outs: Vec<Vec<f32>> = cases.iter().map(|_| poisoned(n)).collect();
    let mut tickets = Vec::new();
    for i in 0..3 {
        let (status, ticket) = submit_async(exec, &[task(&cases[i].a, &cases[i].b, &mut outs[i])]);
        ok(status);
        tickets.push(ticket);
    }
    assert_eq!(stats(exec).in_flight_bytes, 3 * per_batch);
    // A fourth would pass the budget: refused at once, in this very thread, which holds
    // the tickets whose memory it would wait for.
    let mut ticket = 12345;
    let status = unsafe {
        let t = [task(&cases[3].a, &cases[3].b, &mut outs[3])];
        gpu_executor_submit_batch_async(exec, t.as_ptr(), 1, &mut ticket)
    };
    assert_eq!(status, S::GPU_EXECUTOR_OVER_BUDGET);
    assert!(
        last_error().contains("max_in_flight_bytes"),
        "{}",
        last_error()
    );
    assert_eq!(ticket, 12345, "no ticket written");
    assert!(outs[3].iter().all(|x| x.is_nan()), "nothing written");
    let s = stats(exec);
    assert_eq!(s.backpressure_refusals, 1);
    assert_eq!(
        s.in_flight_bytes,
        3 * per_batch,
        "the refused batch holds nothing"
    );
    // Blocking batches are not limited (and its output, refused above, is free).
    ok(submit(
        exec,
        &[task(&cases[3].a, &cases[3].b, &mut outs[3])],
    ));
    assert_matches(&outs[3], &cases[3].expected, "blocking past the budget");
    // Spending a ticket (waiting, or dropping it) makes room for one more.
    ok(wait(exec, tickets.remove(0), u64::MAX));
    let (status, ticket) = submit_async(exec, &[task(&cases[4].a, &cases[4].b, &mut outs[4])]);
    ok(status);
    tickets.push(ticket);
    assert_eq!(
        submit_async(exec, &[task(&cases[5].a, &cases[5].b, &mut outs[5])]).0,
        S::GPU_EXECUTOR_OVER_BUDGET
    );
    ok(unsafe { gpu_executor_drop_ticket(exec, tickets.remove(0)) });
    assert_eq!(stats(exec).in_flight_bytes, 2 * per_batch);
    let (status, ticket) = submit_async(exec, &[task(&cases[5].a, &cases[5].b, &mut outs[5])]);
    ok(status);
    tickets.push(ticket);
    for t in tickets {
        ok(wait(exec, t, u64::MAX));
    }
    for i in [0, 2, 4, 5] {
        assert_matches(&outs[i], &cases[i].expected, &format!("batch {i}"));
    }
    assert!(
        outs[1].iter().all(|x| x.is_nan()),
        "the dropped batch wrote nothing"
    );
    let s = stats(exec);
    assert_eq!(s.backpressure_refusals, 2);
    assert_eq!(s.in_flight_bytes, 0);
    destroy(exec);
}

#[test]
fn a_lone_batch_runs_whatever_the_budget() {
    let mut rng = Rng::new(26);
    let exec = create(&capped(u64::MAX, 1));
    let cases: Vec<Case> = (0..2).map(|_| Case::random(&mut rng, 5_000)).collect();
    let mut outs: Vec<Vec<f32>> = cases.iter().map(|_| poisoned(5_000)).collect();
    for round in 0..2 {
        let (status, first) = submit_async(exec, &[task(&cases[0].a, &cases[0].b, &mut outs[0])]);
        ok(status);
        let (status, _) = submit_async(exec, &[task(&cases[1].a, &cases[1].b, &mut outs[1])]);
        assert_eq!(status, S::GPU_EXECUTOR_OVER_BUDGET, "round {round}");
        ok(wait(exec, first, u64::MAX));
        assert_matches(&outs[0], &cases[0].expected, "lone batch");
    }
    assert_eq!(stats(exec).backpressure_refusals, 2);
    destroy(exec);
}

#[test]
fn earlier_option_and_stats_structs_are_accepted() {
    // A caller compiled before the cap: its struct ends at `max_idle_bytes`. What lies
    // beyond is not read (a cap of 0 there would keep nothing idle).
    let mut options = capped(0, 1);
    options.struct_size = std::mem::offset_of!(gpu_executor_options_t, max_idle_bytes) as u32;
    let exec = create(&options);
    let mut rng = Rng::new(27);
    single(exec, &mut rng, 1_000);
    let s = stats(exec);
    assert!(s.exact_cache_bytes > 0, "the default cap keeps the entry");
    let mut outs = [poisoned(10), poisoned(10)];
    let case = Case::random(&mut rng, 10);
    let (status, first) = submit_async(exec, &[task(&case.a, &case.b, &mut outs[0])]);
    ok(status);
    let (status, second) = submit_async(exec, &[task(&case.a, &case.b, &mut outs[1])]);
    ok(status); // no budget by default
    ok(wait(exec, first, u64::MAX));
    ok(wait(exec, second, u64::MAX));
    // A struct size of no version is refused.
    let mut exec2 = ptr::null_mut();
    options.struct_size += 8;
    assert_eq!(
        unsafe { gpu_executor_create(&options, &mut exec2) },
        S::GPU_EXECUTOR_BAD_STRUCT_SIZE
    );
    assert!(exec2.is_null());

    // Stats: the struct before the idle-memory counters gets its prefix only.
    let v4 = std::mem::offset_of!(gpu_executor_stats_t, idle_bytes);
    let mut old = gpu_executor_stats_t {
        struct_size: v4 as u32,
        idle_bytes: 77,
        backpressure_refusals: 77,
        ..Default::default()
    };
    ok(unsafe { gpu_executor_stats(exec, &mut old) });
    assert_eq!((old.idle_bytes, old.backpressure_refusals), (77, 77));
    assert_eq!(old.batches, 3);
    old.struct_size = v4 as u32 + 8;
    assert_eq!(
        unsafe { gpu_executor_stats(exec, &mut old) },
        S::GPU_EXECUTOR_BAD_STRUCT_SIZE
    );
    destroy(exec);
}

#[test]
fn the_memory_line_follows_the_seed_lines_once_something_was_evicted() {
    let exec = create(&capped(0, 0));
    let text = |exec| {
        let mut len = 0usize;
        ok(unsafe { gpu_executor_format_stats(exec, ptr::null_mut(), 0, &mut len) });
        let mut buf = vec![0u8; len + 1];
        ok(unsafe {
            gpu_executor_format_stats(exec, buf.as_mut_ptr().cast(), buf.len(), &mut len)
        });
        String::from_utf8(buf[..len].to_vec()).expect("utf-8")
    };
    assert_eq!(text(exec).lines().count(), 3, "nothing evicted yet");
    let mut rng = Rng::new(28);
    single(exec, &mut rng, 1_000);
    let s = stats(exec);
    let all = text(exec);
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 4, "{all}");
    assert_eq!(lines[0], "[gpu] Bucket cache: 1 buckets cached: [16384]");
    assert_eq!(lines[1], "[gpu] va_cache: 0 exact-size entries");
    assert_eq!(lines[2], "[gpu] Buffer pool hit rate: 0.00%");
    assert_eq!(
        lines[3],
        format!(
            "[gpu] Idle memory: 0 of 0 bytes held (pool 0, va_cache 0, tables 0); evicted: pool 0, va_cache 1, tables 0 ({} bytes); in flight: 0 bytes, 0 async batches refused",
            s.evicted_bytes
        )
    );
    destroy(exec);
}

#[test]
fn evictions_for_the_entry_limit_count_their_bytes_too() {
    let options = gpu_executor_options_t {
        exact_size_cache_capacity: 1,
        ..capped(u64::MAX, 0)
    };
    let exec = create(&options);
    let mut rng = Rng::new(29);
    single(exec, &mut rng, 3_000);
    let first = stats(exec).exact_cache_bytes;
    single(exec, &mut rng, 3_004);
    let s = stats(exec);
    assert_eq!((s.exact_cache_evictions, s.exact_cache_entries), (1, 1));
    assert_eq!(s.evicted_bytes, first);
    assert_eq!(s.idle_bytes, s.exact_cache_bytes);
    destroy(exec);
}
