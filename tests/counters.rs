//! Exact counter values: what each batch creates, hits and moves.

mod common;

use common::Rng;
use gpu_executor::{Config, Executor, Strategy};

fn submit(exec: &Executor, rng: &mut Rng, sizes: &[usize]) {
    common::submit_adds(exec, rng, sizes);
}

fn new(strategy: Strategy) -> Executor {
    Executor::new(Config {
        strategy,
        ..Config::default()
    })
    .expect("adapter")
}

/// Three buckets: 16K (1000, 5000), 32K (20000), 128K (100000).
const THREE_BUCKETS: &[usize] = &[1000, 20_000, 100_000, 5000];

#[test]
fn a_batch_over_three_buckets_compiles_three_pipelines_once() {
    let mut rng = Rng::new(1);
    let exec = new(Strategy::Bucketed);
    submit(&exec, &mut rng, THREE_BUCKETS);
    let s = exec.stats();
    assert_eq!(s.pipelines_created, 3);
    assert_eq!(s.bucket_cache_misses, 3);
    assert_eq!(s.bucket_cache_hits, 0);
    assert_eq!(s.cached_buckets, 3);
    assert_eq!(exec.bucket_sizes(), vec![16_384, 32_768, 131_072]);
    // One slab per bucket: six buffers and one bind group each, all pool misses.
    assert_eq!(s.pool_misses, 3);
    assert_eq!(s.pool_hits, 0);
    assert_eq!(s.buffers_created, 18);
    assert_eq!(s.bind_groups_created, 3);
    assert_eq!(s.submits, 1);
    assert_eq!(s.dispatches, 3);
    let elements: u64 = THREE_BUCKETS.iter().map(|&n| n as u64).sum();
    assert_eq!(s.elements, elements);
    assert_eq!(s.bytes_uploaded, 8 * elements);
    assert_eq!(s.bytes_read_back, 4 * elements);

    // Resubmitting the same shape creates nothing: every lookup hits.
    submit(&exec, &mut rng, THREE_BUCKETS);
    let s2 = exec.stats();
    assert_eq!(s2.pipelines_created, 3);
    assert_eq!(s2.bucket_cache_hits, 3);
    assert_eq!(s2.pool_hits, 3);
    assert_eq!(s2.buffers_created, 18);
    assert_eq!(s2.bind_groups_created, 3);
    assert_eq!(s2.submits, 2);
    assert_eq!(s2.batches, 2);
    assert_eq!(s2.tasks, 8);
    assert!((s2.pool_hit_rate() - 0.5).abs() < 1e-12);

    let lines = exec.stats_lines();
    assert_eq!(
        lines[0],
        "[gpu] Bucket cache: 3 buckets cached: [16384, 32768, 131072]"
    );
    assert_eq!(lines[1], "[gpu] va_cache: 0 exact-size entries");
    assert_eq!(lines[2], "[gpu] Buffer pool hit rate: 50.00%");
}

#[test]
fn the_exact_size_cache_hits_on_the_second_call_of_a_length() {
    let mut rng = Rng::new(2);
    let exec = new(Strategy::Bucketed);
    submit(&exec, &mut rng, &[12_345]);
    let s = exec.stats();
    assert_eq!(
        (
            s.exact_cache_hits,
            s.exact_cache_misses,
            s.exact_cache_entries
        ),
        (0, 1, 1)
    );
    assert_eq!(s.buffers_created, 6);
    submit(&exec, &mut rng, &[12_345]);
    let s = exec.stats();
    assert_eq!(
        (
            s.exact_cache_hits,
            s.exact_cache_misses,
            s.exact_cache_entries
        ),
        (1, 1, 1)
    );
    assert_eq!(
        s.buffers_created, 6,
        "the hit reuses the persistent buffers"
    );
    assert_eq!(s.bind_groups_created, 1);
    assert_eq!(s.pipelines_created, 1);
    // Another length is a miss and a second entry; the pool is never asked.
    submit(&exec, &mut rng, &[999]);
    let s = exec.stats();
    assert_eq!(
        (
            s.exact_cache_hits,
            s.exact_cache_misses,
            s.exact_cache_entries
        ),
        (1, 2, 2)
    );
    assert_eq!((s.pool_hits, s.pool_misses), (0, 0));
    assert_eq!(
        exec.stats_lines()[1],
        "[gpu] va_cache: 2 exact-size entries"
    );
}

#[test]
fn the_exact_size_cache_evicts_the_least_recently_used_length() {
    let mut rng = Rng::new(3);
    let exec = Executor::new(Config {
        exact_size_cache_capacity: 2,
        ..Config::default()
    })
    .expect("adapter");
    for n in [100, 200, 100, 300] {
        submit(&exec, &mut rng, &[n]);
    }
    let s = exec.stats();
    assert_eq!(s.exact_cache_entries, 2);
    assert_eq!(s.exact_cache_evictions, 1);
    // 200 was evicted (100 was used more recently): it misses again; 100 still hits.
    submit(&exec, &mut rng, &[100]);
    assert_eq!(exec.stats().exact_cache_hits, 2);
    submit(&exec, &mut rng, &[200]);
    assert_eq!(exec.stats().exact_cache_misses, 4);
}

#[test]
fn the_baseline_creates_everything_per_task_every_time() {
    let mut rng = Rng::new(4);
    let exec = new(Strategy::Baseline);
    submit(&exec, &mut rng, THREE_BUCKETS);
    submit(&exec, &mut rng, THREE_BUCKETS);
    let s = exec.stats();
    assert_eq!(s.pipelines_created, 8);
    assert_eq!(s.buffers_created, 48);
    assert_eq!(s.bind_groups_created, 8);
    assert_eq!((s.pool_hits, s.pool_misses), (0, 0));
    assert_eq!(s.cached_buckets, 0);
    assert_eq!(s.submits, 2, "still one submit per batch");
    assert_eq!(s.dispatches, 8);
}

#[test]
fn same_bucket_tasks_share_one_slab_and_dispatch() {
    let mut rng = Rng::new(5);
    let exec = new(Strategy::Bucketed);
    submit(&exec, &mut rng, &[4096; 100]);
    let s = exec.stats();
    // 100 × 4096 = 409,600 elements in one slab of the 512K size class.
    assert_eq!(s.pipelines_created, 1);
    assert_eq!(s.dispatches, 1);
    assert_eq!(s.buffers_created, 6);
    assert_eq!(s.submits, 1);
}

#[test]
fn large_batches_stream_in_parts_and_reuse_their_slabs() {
    let mut rng = Rng::new(6);
    let exec = new(Strategy::Bucketed);
    // 8 × 1,048,576 = 8M elements of one bucket: slabs of at most 1M elements, one submit
    // per 1M, so that each part's upload overlaps the GPU's work on the one before.
    let sizes = [1_048_576usize; 8];
    submit(&exec, &mut rng, &sizes);
    let s = exec.stats();
    assert_eq!((s.submits, s.dispatches), (8, 8));
    assert_eq!((s.pool_hits, s.pool_misses), (0, 8));
    assert_eq!(s.buffers_created, 48);
    assert_eq!(s.pipelines_created, 1);
    submit(&exec, &mut rng, &sizes);
    let s = exec.stats();
    assert_eq!((s.pool_hits, s.pool_misses), (8, 8));
    assert_eq!(s.buffers_created, 48, "the steady state creates nothing");
    assert_eq!(s.bind_groups_created, 8);
    assert_eq!(s.pipelines_created, 1);
    assert_eq!(s.submits, 16);

    // A batch of less than 1M elements over several slabs is still one submit.
    let before = exec.stats().submits;
    submit(&exec, &mut rng, THREE_BUCKETS);
    assert_eq!(exec.stats().submits, before + 1);
}
