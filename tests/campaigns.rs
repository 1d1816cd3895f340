//! Reliability campaigns (docs/RELIABILITY.md): concurrency on shared handles, create/destroy
//! cycles, and a soak of small batches with memory and caches flat after warm-up.
//!
//! Bounded for the test command; the same tests run longer with
//! `GPU_EXECUTOR_CAMPAIGN_SECONDS` (concurrency), `GPU_EXECUTOR_CYCLES` (create/destroy) and
//! `GPU_EXECUTOR_SOAK_BATCHES` (soak), e.g. on a real GPU. Each prints what it measured.

mod common;

use std::collections::VecDeque;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::c_api::{create, last_error, stats, task};
use common::{assert_matches, poisoned, Case, Rng};
use gpu_executor::ffi::*;

use gpu_executor_status_t as S;

/// Campaigns run one at a time: they measure memory and latency.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A field of /proc/self/status, in its own unit (kB for memory).
fn proc_status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn rss_mib() -> f64 {
    proc_status("VmRSS:") as f64 / 1024.0
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[derive(Clone, Copy)]
struct Handle(*mut gpu_executor_t);
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

/// One batch a worker owns until its results are checked.
struct Batch {
    cases: Vec<Case>,
    outs: Vec<Vec<f32>>,
    ticket: gpu_ticket_t,
}

impl Batch {
    fn random(rng: &mut Rng) -> Self {
        let n = 1 + (rng.next_u64() % 6) as usize;
        let cases: Vec<Case> = (0..n)
            .map(|_| {
                let len = match rng.next_u64() % 10 {
                    0 => 0,
                    1 => 200_000 + (rng.next_u64() % 100_000) as usize,
                    _ => (rng.next_u64() % 70_000) as usize,
                };
                Case::random(rng, len)
            })
            .collect();
        let outs = cases.iter().map(|c| poisoned(c.a.len())).collect();
        Self {
            cases,
            outs,
            ticket: 0,
        }
    }

    fn tasks(&mut self) -> Vec<gpu_task_t> {
        self.cases
            .iter()
            .zip(self.outs.iter_mut())
            .map(|(c, o)| task(&c.a, &c.b, o))
            .collect()
    }

    fn check(&self) {
        for (o, c) in self.outs.iter().zip(&self.cases) {
            assert_matches(o, &c.expected, "campaign batch");
        }
    }
}

#[derive(Default)]
struct Tally {
    batches: AtomicU64,
    worst_poll_ns: AtomicU64,
    polls: AtomicU64,
}

fn worker(exec: Handle, seed: u64, until: Instant, tally: &Tally) -> u64 {
    let mut rng = Rng::new(seed);
    let mut in_flight: VecDeque<Batch> = VecDeque::new();
    let mut done = 0u64;
    let finish = |batch: Batch, rng: &mut Rng, done: &mut u64| {
        if rng.next_u64() % 2 == 0 {
            loop {
                let clock = Instant::now();
                let status = unsafe { gpu_executor_poll(exec.0, batch.ticket) };
                let ns = clock.elapsed().as_nanos() as u64;
                tally.worst_poll_ns.fetch_max(ns, Ordering::Relaxed);
                tally.polls.fetch_add(1, Ordering::Relaxed);
                match status {
                    S::GPU_EXECUTOR_OK => break,
                    S::GPU_EXECUTOR_NOT_READY => std::thread::yield_now(),
                    other => panic!("poll: {other:?}: {}", last_error()),
                }
            }
        } else {
            let timeout = [0, 100_000, 2_000_000, u64::MAX][(rng.next_u64() % 4) as usize];
            loop {
                match unsafe { gpu_executor_wait(exec.0, batch.ticket, timeout) } {
                    S::GPU_EXECUTOR_OK => break,
                    S::GPU_EXECUTOR_NOT_READY => {}
                    other => panic!("wait: {other:?}: {}", last_error()),
                }
            }
        }
        batch.check();
        *done += 1;
    };
    while Instant::now() < until {
        let mut batch = Batch::random(&mut rng);
        let tasks = batch.tasks();
        if rng.next_u64() % 2 == 0 {
            let status = unsafe { gpu_executor_submit_batch(exec.0, tasks.as_ptr(), tasks.len()) };
            assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
            batch.check();
            done += 1;
        } else {
            let status = unsafe {
                gpu_executor_submit_batch_async(
                    exec.0,
                    tasks.as_ptr(),
                    tasks.len(),
                    &mut batch.ticket,
                )
            };
            assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
            in_flight.push_back(batch);
            if in_flight.len() > 3 {
                let oldest = in_flight.pop_front().expect("in flight");
                finish(oldest, &mut rng, &mut done);
            }
        }
    }
    while let Some(batch) = in_flight.pop_front() {
        finish(batch, &mut rng, &mut done);
    }
    tally.batches.fetch_add(done, Ordering::Relaxed);
    done
}

/// 8 threads, random blocking and asynchronous batches, every output checked; threads 0-5
/// share one handle, 6 and 7 another each. Counters must add up exactly.
#[test]
fn concurrency_eight_threads_on_shared_handles() {
    let _serial = serial();
    let seconds = env_u64("GPU_EXECUTOR_CAMPAIGN_SECONDS", 8);
    let shared = Handle(create(ptr::null()));
    let own = [Handle(create(ptr::null())), Handle(create(ptr::null()))];
    let tally = Arc::new(Tally::default());
    let until = Instant::now() + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let exec = match t {
                6 => own[0],
                7 => own[1],
                _ => shared,
            };
            let tally = Arc::clone(&tally);
            std::thread::spawn(move || (t, worker(exec, 500 + t, until, &tally)))
        })
        .collect();
    let mut per_thread = [0u64; 8];
    for t in threads {
        let (i, n) = t.join().expect("worker thread");
        per_thread[i as usize] = n;
    }
    assert_eq!(
        stats(shared.0).batches,
        per_thread[..6].iter().sum::<u64>(),
        "shared handle's batch count"
    );
    assert_eq!(stats(own[0].0).batches, per_thread[6]);
    assert_eq!(stats(own[1].0).batches, per_thread[7]);
    println!(
        "concurrency: {seconds} s, 8 threads on 3 handles, {} batches checked ({per_thread:?}); worst poll {:.3} ms over {} polls",
        tally.batches.load(Ordering::Relaxed),
        tally.worst_poll_ns.load(Ordering::Relaxed) as f64 / 1e6,
        tally.polls.load(Ordering::Relaxed)
    );
    for h in [shared, own[0], own[1]] {
        unsafe { gpu_executor_destroy(h.0) };
    }
}

/// Creating and destroying executors in a loop (one checked batch each) leaves threads and
/// open files where they were and memory flat. On an H100 this failed at cycle ~29 before
/// the process shared one wgpu instance (the driver's static TLS ran out).
#[test]
fn lifecycle_create_destroy_cycles() {
    let _serial = serial();
    let cycles = env_u64("GPU_EXECUTOR_CYCLES", 1000);
    let mut rng = Rng::new(31);
    let case = Case::random(&mut rng, 64);
    let warmup = 10.min(cycles);
    let mut baseline = None;
    let clock = Instant::now();
    for cycle in 0..cycles {
        let mut exec = ptr::null_mut();
        let status = unsafe { gpu_executor_create(ptr::null(), &mut exec) };
        assert_eq!(
            status,
            S::GPU_EXECUTOR_OK,
            "cycle {cycle}: {}",
            last_error()
        );
        let mut out = poisoned(64);
        let status =
            unsafe { gpu_executor_submit_batch(exec, &task(&case.a, &case.b, &mut out), 1) };
        assert_eq!(
            status,
            S::GPU_EXECUTOR_OK,
            "cycle {cycle}: {}",
            last_error()
        );
        assert_matches(&out, &case.expected, "cycle batch");
        unsafe { gpu_executor_destroy(exec) };
        if cycle + 1 == warmup {
            baseline = Some((rss_mib(), proc_status("Threads:"), open_fds()));
        }
    }
    let (rss0, threads0, fds0) = baseline.expect("at least one cycle");
    // Wait threads of destroyed executors exit on their own; give them a moment.
    std::thread::sleep(Duration::from_millis(200));
    let (rss1, threads1, fds1) = (rss_mib(), proc_status("Threads:"), open_fds());
    println!(
        "lifecycle: {cycles} create/destroy cycles in {:.1} s; after {warmup}: RSS {rss0:.1} MiB, {threads0} threads, {fds0} fds; at the end: RSS {rss1:.1} MiB, {threads1} threads, {fds1} fds",
        clock.elapsed().as_secs_f64()
    );
    assert!(
        threads1 <= threads0,
        "threads grew: {threads0} -> {threads1}"
    );
    assert!(fds1 <= fds0, "open files grew: {fds0} -> {fds1}");
    assert!(
        rss1 - rss0 < 64.0,
        "RSS grew by {:.1} MiB over {cycles} cycles",
        rss1 - rss0
    );
}

/// Many small batches on one executor: after warm-up no new buffers, bind groups or
/// pipelines, the caches hold what they held, and RSS stays flat.
#[test]
fn soak_small_batches_keep_memory_and_caches_flat() {
    let _serial = serial();
    let total = env_u64("GPU_EXECUTOR_SOAK_BATCHES", 100_000);
    let max_seconds = env_u64("GPU_EXECUTOR_SOAK_MAX_SECONDS", 75);
    let exec = create(ptr::null());
    let mut rng = Rng::new(41);
    // A fixed mix: single tasks of four lengths (exact-size cache) and two multi-task shapes.
    let shapes: [&[usize]; 6] = [
        &[1024],
        &[4096],
        &[20_000],
        &[100_000],
        &[64, 5000, 17_000],
        &[1024; 8],
    ];
    let cases: Vec<Vec<Case>> = shapes
        .iter()
        .map(|s| s.iter().map(|&n| Case::random(&mut rng, n)).collect())
        .collect();
    let mut outs: Vec<Vec<Vec<f32>>> = shapes
        .iter()
        .map(|s| s.iter().map(|&n| poisoned(n)).collect())
        .collect();
    let warmup = 600.min(total);
    let mut after_warmup = None;
    let clock = Instant::now();
    let mut done = 0u64;
    while done < total && clock.elapsed() < Duration::from_secs(max_seconds) {
        let k = (done % shapes.len() as u64) as usize;
        let tasks: Vec<gpu_task_t> = cases[k]
            .iter()
            .zip(outs[k].iter_mut())
            .map(|(c, o)| task(&c.a, &c.b, o))
            .collect();
        let status = unsafe { gpu_executor_submit_batch(exec, tasks.as_ptr(), tasks.len()) };
        assert_eq!(status, S::GPU_EXECUTOR_OK, "batch {done}: {}", last_error());
        if done % 97 == 0 {
            for (o, c) in outs[k].iter().zip(&cases[k]) {
                assert_matches(o, &c.expected, "soak batch");
            }
        }
        for o in &mut outs[k] {
            o[0] = f32::NAN;
        }
        done += 1;
        if done == warmup {
            after_warmup = Some((rss_mib(), stats(exec)));
        }
    }
    let (rss0, s0) = after_warmup.expect("warm-up finished");
    let (rss1, s1) = (rss_mib(), stats(exec));
    println!(
        "soak: {done} batches in {:.1} s; after {warmup}: RSS {rss0:.1} MiB, {} buffers, {} pipelines, {} cached buckets, {} exact-size entries; at the end: RSS {rss1:.1} MiB, {} buffers, {} pipelines, {} cached buckets, {} exact-size entries",
        clock.elapsed().as_secs_f64(),
        s0.buffers_created,
        s0.pipelines_created,
        s0.cached_buckets,
        s0.exact_cache_entries,
        s1.buffers_created,
        s1.pipelines_created,
        s1.cached_buckets,
        s1.exact_cache_entries
    );
    assert!(done >= warmup * 2, "too few batches to judge: {done}");
    assert_eq!(s1.batches, done);
    assert_eq!(s1.buffers_created, s0.buffers_created, "no new buffers");
    assert_eq!(s1.bind_groups_created, s0.bind_groups_created);
    assert_eq!(s1.pipelines_created, s0.pipelines_created);
    assert_eq!(s1.cached_buckets, s0.cached_buckets);
    assert_eq!(s1.exact_cache_entries, s0.exact_cache_entries);
    assert!(rss1 - rss0 < 32.0, "RSS grew by {:.1} MiB", rss1 - rss0);
    unsafe { gpu_executor_destroy(exec) };
}
