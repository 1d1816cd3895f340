//! The bucket ladder as options (`min_bucket_elements`, `bucket_growth`) and adaptive
//! buckets (`adaptive_buckets`): validation, exact buckets, pipelines and pool classes,
//! what adaptation does and that it never changes a result.

mod common;

use std::ptr;

use common::c_api::{create, destroy, last_error, stats};
use common::Rng;
use gpu_executor::ffi::*;
use gpu_executor::{Config, ElemType, Executor, KernelId, Task};

use gpu_executor_status_t as S;

fn executor(min: u64, growth: u32, adaptive: bool) -> Executor {
    Executor::new(Config {
        min_bucket_elements: min,
        bucket_growth: growth,
        adaptive_buckets: adaptive,
        ..Config::default()
    })
    .expect("adapter")
}

#[test]
fn every_bad_bucket_option_is_invalid_argument() {
    let cases: &[(u64, u32, &str)] = &[
        (0, 2, "min_bucket_elements 0"),
        (32, 2, "min_bucket_elements 32"),
        (63, 2, "min_bucket_elements 63"),
        (96, 2, "min_bucket_elements 96"),
        (100_000, 2, "min_bucket_elements 100000"),
        (1 << 31, 2, "min_bucket_elements 2147483648"),
        (u64::MAX, 2, "min_bucket_elements 18446744073709551615"),
        (16_384, 0, "bucket_growth 0"),
        (16_384, 1, "bucket_growth 1"),
        (16_384, 17, "bucket_growth 17"),
        (16_384, u32::MAX, "bucket_growth 4294967295"),
    ];
    for &(min, growth, what) in cases {
        let mut options = gpu_executor_options_default();
        options.min_bucket_elements = min;
        options.bucket_growth = growth;
        let mut exec = ptr::null_mut();
        let status = unsafe { gpu_executor_create(&options, &mut exec) };
        assert_eq!(status, S::GPU_EXECUTOR_INVALID_ARGUMENT, "{what}");
        assert!(exec.is_null());
        let message = last_error();
        assert!(message.contains(what), "{what}: {message}");
        let accepted = if what.starts_with("min") {
            "a power of two from 64 to 1073741824"
        } else {
            "an integer from 2 to 16"
        };
        assert!(message.contains(accepted), "{message}");
    }
    // The edges are accepted (and any nonzero adaptive_buckets means on).
    for (min, growth) in [(64, 2), (1 << 30, 16), (16_384, 3)] {
        let mut options = gpu_executor_options_default();
        options.min_bucket_elements = min;
        options.bucket_growth = growth;
        options.adaptive_buckets = 7;
        destroy(create(&options));
    }
}

#[test]
fn defaults_are_the_seeds_and_the_previous_options_struct_gets_them() {
    let options = gpu_executor_options_default();
    assert_eq!(options.min_bucket_elements, 16_384);
    assert_eq!(options.bucket_growth, 2);
    assert_eq!(options.adaptive_buckets, 0);
    assert_eq!(Config::default().min_bucket_elements, 16_384);
    assert_eq!(Config::default().bucket_growth, 2);
    assert!(!Config::default().adaptive_buckets);

    // A caller compiled against the header before the bucket options: the fields it
    // lacks (garbage here) are never read.
    let mut old = gpu_executor_options_default();
    old.struct_size = std::mem::offset_of!(gpu_executor_options_t, min_bucket_elements) as u32;
    old.min_bucket_elements = 3;
    old.bucket_growth = 99;
    let exec = create(&old);
    let mut rng = Rng::new(5);
    let cases: Vec<common::Case> = [1000, 20_000]
        .iter()
        .map(|&n| common::Case::random(&mut rng, n))
        .collect();
    let mut outputs: Vec<Vec<f32>> = cases.iter().map(|c| common::poisoned(c.a.len())).collect();
    let tasks = common::c_api::tasks(&cases, &mut outputs);
    assert_eq!(common::c_api::submit(exec, &tasks), S::GPU_EXECUTOR_OK);
    let mut sizes = [0u64; 4];
    let mut count = 0;
    let status = unsafe { gpu_executor_bucket_sizes(exec, sizes.as_mut_ptr(), 4, &mut count) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    assert_eq!(&sizes[..count], &[16_384, 32_768]);
    let s = stats(exec);
    assert_eq!(
        s.padding_bytes,
        ((16_384 - 1000) + (32_768 - 20_000)) * 4 * 3
    );
    assert_eq!((s.bucket_refinements, s.bucket_coarsenings), (0, 0));
    destroy(exec);

    // The stats struct of the previous header is filled up to where it ends.
    let exec = create(ptr::null());
    let size = std::mem::offset_of!(gpu_executor_stats_t, padding_bytes);
    let mut short = gpu_executor_stats_t {
        struct_size: size as u32,
        padding_bytes: 0xAA,
        ..Default::default()
    };
    let status = unsafe { gpu_executor_stats(exec, &mut short) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    assert_eq!(short.padding_bytes, 0xAA, "past the caller's struct");
    destroy(exec);
}

/// 1000, 1100, 5000 and 20000 elements of `a + b` in one batch.
const SPREAD: &[usize] = &[1000, 1100, 5000, 20_000];

#[test]
fn the_seed_ladder_buckets_and_classes() {
    let exec = executor(16_384, 2, false);
    common::submit_adds(&exec, &mut Rng::new(1), SPREAD);
    assert_eq!(exec.bucket_sizes(), vec![16_384, 32_768]);
    let s = exec.stats();
    assert_eq!(s.pipelines_created, 2);
    // 1000 + 1100 + 5000 share one slab of class 16K; 20000 has one of 32K.
    assert_eq!(exec.pool_classes(), vec![16_384, 32_768]);
    assert_eq!(
        s.padding_bytes,
        ((16_384 - 7100) + (32_768 - 20_000)) * 4 * 3
    );
}

#[test]
fn min_and_growth_change_buckets_pipelines_and_classes() {
    let exec = executor(1024, 4, false);
    common::submit_adds(&exec, &mut Rng::new(1), SPREAD);
    // Rungs 1024, 4096, 16384, 65536: one each.
    assert_eq!(exec.bucket_sizes(), vec![1024, 4096, 16_384, 65_536]);
    let s = exec.stats();
    assert_eq!(s.pipelines_created, 4);
    assert_eq!(s.pool_misses, 4);
    assert_eq!(exec.pool_classes(), vec![1024, 4096, 16_384, 65_536]);
    assert_eq!(
        s.padding_bytes,
        ((1024 - 1000) + (4096 - 1100) + (16_384 - 5000) + (65_536 - 20_000)) * 4 * 3
    );
    // The same batch again: all hits.
    common::submit_adds(&exec, &mut Rng::new(2), SPREAD);
    let s = exec.stats();
    assert_eq!(s.pipelines_created, 4);
    assert_eq!(s.bucket_cache_hits, 4);
    assert_eq!(s.pool_hits, 4);

    let exec = executor(64, 3, false);
    common::submit_adds(&exec, &mut Rng::new(1), &[60, 100, 600]);
    // Rungs 64, 192, 576, 1728.
    assert_eq!(exec.bucket_sizes(), vec![64, 192, 1728]);
    assert_eq!(exec.pool_classes(), vec![64, 192, 1728]);
}

/// Two tasks of 17,000 elements per batch: 34,000 used of a 64K slab, 48 % unused.
const CLUSTERED: &[usize] = &[17_000, 17_000];

#[test]
fn padding_waste_refines_the_class_after_sixteen_slabs() {
    let per_batch_before = (65_536 - 34_000) * 4 * 3;
    // Refined: (32768, 65536] in steps of 8192: 40960.
    let per_batch_after = (40_960 - 34_000) * 4 * 3;
    let exec = executor(16_384, 2, true);
    let fixed = executor(16_384, 2, false);
    let mut rng = Rng::new(9);
    for batch in 1..=20u64 {
        let seed = rng.next_u64();
        let a = common::submit_adds(&exec, &mut Rng::new(seed), CLUSTERED);
        let b = common::submit_adds(&fixed, &mut Rng::new(seed), CLUSTERED);
        assert_eq!(a, b, "batch {batch}: identical with and without adaptation");
        let s = exec.stats();
        let refined = batch >= 16;
        assert_eq!(s.bucket_refinements, u64::from(refined), "batch {batch}");
        let before = batch.min(16);
        assert_eq!(
            s.padding_bytes,
            before * per_batch_before + (batch - before) * per_batch_after,
            "batch {batch}"
        );
    }
    assert!(exec.buckets().is_refined(65_536));
    // The 64K slab from before stays idle (until evicted); the 40K one serves now.
    assert_eq!(exec.pool_classes(), vec![40_960, 65_536]);
    assert_eq!(fixed.pool_classes(), vec![65_536]);
    let s = exec.stats();
    assert_eq!((s.pool_misses, s.pool_hits), (2, 18));
    assert_eq!(s.bucket_coarsenings, 0);
    assert_eq!(s.pipelines_created, 1, "buckets are unchanged");
    assert_eq!(exec.bucket_sizes(), vec![32_768]);
    assert_eq!(fixed.stats().padding_bytes, 20 * per_batch_before);
}

#[test]
fn pipeline_thrash_coarsens_the_buckets() {
    // Each batch brings two new buckets (min 64, ×2) and two tasks.
    let batch = |i: u32| [64 * 4usize.pow(i) + 1, 128 * 4usize.pow(i) + 1];
    let exec = executor(64, 2, true);
    let fixed = executor(64, 2, false);
    for i in 0..5 {
        let seed = u64::from(i) + 100;
        let a = common::submit_adds(&exec, &mut Rng::new(seed), &batch(i));
        let b = common::submit_adds(&fixed, &mut Rng::new(seed), &batch(i));
        assert_eq!(a, b);
        // 2(i + 1) pipelines of one kernel: 2i + 1 bucket misses; the check at 8 sees
        // 9 misses serving 10 tasks (< 4 each).
        let coarsened = u64::from(i == 4);
        assert_eq!(exec.stats().bucket_coarsenings, coarsened, "batch {i}");
    }
    assert_eq!(exec.stats().pipelines_created, 10);
    assert_eq!(exec.buckets().coarsening(), 1);
    // Now every other rung: 65537 and 131073 share the bucket of 262144 (and a slab).
    let sizes = [64 * 4usize.pow(5) + 1, 128 * 4usize.pow(5) + 1];
    let a = common::submit_adds(&exec, &mut Rng::new(7), &sizes);
    let b = common::submit_adds(&fixed, &mut Rng::new(7), &sizes);
    assert_eq!(a, b);
    let s = exec.stats();
    assert_eq!(s.pipelines_created, 11);
    assert_eq!(fixed.stats().pipelines_created, 12);
    assert_eq!(exec.bucket_sizes().last(), Some(&262_144));
    assert!(!exec.bucket_sizes().contains(&131_072));
    assert!(fixed.bucket_sizes().contains(&131_072));
    assert_eq!(s.dispatches, 11, "one slab for both");
    assert_eq!(fixed.stats().dispatches, 12);
}

/// One op over random data at `len` elements as `u32` words (f32 ops).
fn run(exec: &Executor, code: u32, arrays: &[Vec<f32>], len: usize, scalars: &[u32]) -> Vec<u32> {
    let words: Vec<Vec<u32>> = arrays
        .iter()
        .map(|a| a.iter().map(|x| x.to_bits()).collect())
        .collect();
    let inputs: Vec<&[u32]> = words.iter().map(Vec::as_slice).collect();
    let id = KernelId {
        code,
        ty: ElemType::F32,
    };
    let reduction = code >= 64;
    let mut out = vec![u32::MAX; if reduction { 1 } else { len }];
    let mut tasks = [Task::new(id, len, &inputs, scalars, &mut out).expect("task")];
    exec.submit(&mut tasks).expect("batch");
    out
}

#[test]
fn adaptation_never_changes_results() {
    // Mixed batches of adds (checked against the CPU), products and sums on random data of
    // random sizes, clustered and spread, through executors with and without adaptation
    // and with other ladders: every output bit equal.
    let execs = [
        executor(16_384, 2, false),
        executor(16_384, 2, true),
        executor(64, 2, true),
        executor(1024, 5, true),
    ];
    let mut rng = Rng::new(42);
    for round in 0..24 {
        let n = 1 + rng.next_u64() as usize % 6;
        let sizes: Vec<usize> = (0..n)
            .map(|_| match rng.next_u64() % 3 {
                0 => 16_385 + rng.next_u64() as usize % 500,
                1 => 1 + rng.next_u64() as usize % 300_000,
                _ => 1 + rng.next_u64() as usize % 2000,
            })
            .collect();
        let seed = rng.next_u64();
        let first = common::submit_adds(&execs[0], &mut Rng::new(seed), &sizes);
        for exec in &execs[1..] {
            let got = common::submit_adds(exec, &mut Rng::new(seed), &sizes);
            assert_eq!(got, first, "round {round}");
        }
        let len = sizes[0];
        let a = rng.vec(len);
        let b = rng.vec(len);
        for (code, arrays) in [
            (3, vec![a.clone(), b.clone()]),
            (64, vec![a.clone()]),
            (68, vec![a, b]),
        ] {
            let want = run(&execs[0], code, &arrays, len, &[]);
            for exec in &execs[1..] {
                assert_eq!(
                    run(exec, code, &arrays, len, &[]),
                    want,
                    "op {code}, round {round}"
                );
            }
        }
    }
    let adapted: u64 = execs[1..]
        .iter()
        .map(|e| {
            let s = e.stats();
            s.bucket_refinements + s.bucket_coarsenings
        })
        .sum();
    println!("adaptations over the run: {adapted}");
}
