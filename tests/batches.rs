//! Random mixed batches against a CPU reference, for every strategy and cache setting.

mod common;

use common::{assert_matches, poisoned, Case, Rng};
use gpu_executor::{Config, Executor, Strategy, Task};

/// Sizes across buckets: empty, tiny, bucket edges, non-powers of two, and one > 1M.
const SIZES: &[usize] = &[
    0, 1, 255, 16_383, 16_384, 16_385, 100_000, 77_777, 1_234_567,
];

fn run_batch(executor: &Executor, cases: &[Case]) -> Vec<Vec<f32>> {
    let mut outputs: Vec<Vec<f32>> = cases.iter().map(|c| poisoned(c.a.len())).collect();
    let mut tasks: Vec<Task> = cases
        .iter()
        .zip(outputs.iter_mut())
        .map(|(c, out)| Task::vector_add(&c.a, &c.b, out))
        .collect();
    executor.submit(&mut tasks).expect("batch succeeds");
    outputs
}

fn executor(strategy: Strategy, exact_size_cache: bool, max_chunk_elements: u64) -> Executor {
    Executor::new(Config {
        strategy,
        exact_size_cache,
        max_chunk_elements,
        ..Config::default()
    })
    .expect("an adapter (lavapipe on CI)")
}

fn check(outputs: &[Vec<f32>], cases: &[Case], what: &str) {
    for (i, (out, case)) in outputs.iter().zip(cases).enumerate() {
        assert_matches(out, &case.expected, &format!("{what}, task {i}"));
    }
}

#[test]
fn mixed_batches_match_the_cpu_for_every_strategy() {
    let mut rng = Rng::new(0x5eed);
    let mut results = Vec::new();
    for (strategy, exact) in [
        (Strategy::Bucketed, true),
        (Strategy::Bucketed, false),
        (Strategy::Baseline, true),
        (Strategy::Baseline, false),
    ] {
        let exec = executor(strategy, exact, 0);
        // Fresh random data each round, submitted twice so cached paths run too.
        for round in 0..2 {
            let cases: Vec<Case> = SIZES.iter().map(|&n| Case::random(&mut rng, n)).collect();
            let outputs = run_batch(&exec, &cases);
            check(
                &outputs,
                &cases,
                &format!("{strategy:?} exact={exact} round {round}"),
            );
            results.push((cases, outputs));
        }
    }
    // Both strategies produce bit-identical outputs for the same inputs.
    let mut rng = Rng::new(99);
    let cases: Vec<Case> = SIZES.iter().map(|&n| Case::random(&mut rng, n)).collect();
    let bucketed = run_batch(&executor(Strategy::Bucketed, true, 0), &cases);
    let baseline = run_batch(&executor(Strategy::Baseline, false, 0), &cases);
    assert_eq!(
        bucketed
            .iter()
            .map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
        baseline
            .iter()
            .map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
    );
}

#[test]
fn single_task_batches_use_the_exact_size_cache_correctly() {
    let mut rng = Rng::new(7);
    let exec = executor(Strategy::Bucketed, true, 0);
    for &n in &[1usize, 4096, 4096, 100_000, 4096, 1_100_000] {
        let cases = vec![Case::random(&mut rng, n)];
        let outputs = run_batch(&exec, &cases);
        check(&outputs, &cases, &format!("single task of {n}"));
    }
}

#[test]
fn small_chunk_limit_splits_tasks_and_stays_correct() {
    let mut rng = Rng::new(11);
    for strategy in [Strategy::Bucketed, Strategy::Baseline] {
        for exact in [true, false] {
            let exec = executor(strategy, exact, 4096);
            assert_eq!(exec.chunk_elements(), 4096);
            let sizes = [10_000usize, 4096, 4097, 3, 100_000];
            let cases: Vec<Case> = sizes.iter().map(|&n| Case::random(&mut rng, n)).collect();
            check(
                &run_batch(&exec, &cases),
                &cases,
                &format!("{strategy:?} chunked"),
            );
            let single = vec![Case::random(&mut rng, 50_001)];
            check(
                &run_batch(&exec, &single),
                &single,
                &format!("{strategy:?} chunked single"),
            );
        }
    }
}

#[test]
fn chunk_limit_rounds_down_to_a_power_of_two() {
    let exec = executor(Strategy::Bucketed, true, 5000);
    assert_eq!(exec.chunk_elements(), 4096);
}

#[test]
fn empty_batches_and_empty_tasks_are_no_ops() {
    let exec = executor(Strategy::Bucketed, true, 0);
    exec.submit(&mut []).expect("empty batch");
    let mut rng = Rng::new(3);
    let cases = vec![Case::random(&mut rng, 0), Case::random(&mut rng, 0)];
    let outputs = run_batch(&exec, &cases);
    assert!(outputs.iter().all(Vec::is_empty));
    let stats = exec.stats();
    assert_eq!(stats.submits, 0, "no GPU work for empty tasks");
    assert_eq!(stats.batches, 2);
    assert_eq!(stats.tasks, 2);
}

#[test]
fn mismatched_lengths_are_rejected_before_any_work() {
    let exec = executor(Strategy::Bucketed, true, 0);
    let a = vec![1.0f32; 10];
    let b = vec![2.0f32; 9];
    let mut out = poisoned(10);
    let mut tasks = [Task::vector_add(&a, &b, &mut out)];
    let error = exec.submit(&mut tasks).expect_err("lengths differ");
    assert_eq!(error.kind, gpu_executor::ErrorKind::InvalidArgument);
    assert!(error.message.contains("task 0"), "{}", error.message);
    assert!(out.iter().all(|x| x.is_nan()), "output untouched");
    assert_eq!(exec.stats().submits, 0);
}

#[test]
fn host_copies_split_over_threads_stay_correct() {
    let mut rng = Rng::new(21);
    for (copy_threads, chunk) in [(7, 1 << 20), (3, 0), (1, 0)] {
        let exec = Executor::new(Config {
            copy_threads,
            max_chunk_elements: chunk,
            ..Config::default()
        })
        .expect("adapter");
        // Pieces of odd lengths straddle the per-thread ranges; several slabs when chunked.
        let sizes = [3_000_001usize, 5, 1_000_003, 77, 16_385];
        let cases: Vec<Case> = sizes.iter().map(|&n| Case::random(&mut rng, n)).collect();
        check(
            &run_batch(&exec, &cases),
            &cases,
            &format!("{copy_threads} copy threads"),
        );
        let single = vec![Case::random(&mut rng, 2_500_003)];
        check(
            &run_batch(&exec, &single),
            &single,
            &format!("{copy_threads} threads, single"),
        );
    }
}

#[test]
fn batches_of_several_million_elements_stay_correct() {
    let mut rng = Rng::new(31);
    for exact in [true, false] {
        let exec = executor(Strategy::Bucketed, exact, 0);
        // 9M elements over three buckets; odd sizes straddle copy-unit bounds.
        let sizes = [5_000_003usize, 77, 3_000_001, 1_000_003, 16_385];
        let cases: Vec<Case> = sizes.iter().map(|&n| Case::random(&mut rng, n)).collect();
        check(&run_batch(&exec, &cases), &cases, "9M elements");
        let single = vec![Case::random(&mut rng, 8_400_001)];
        check(&run_batch(&exec, &single), &single, "one task of 8.4M");
    }
}

#[test]
fn grids_beyond_the_per_dimension_limit_spill_into_y() {
    let mut rng = Rng::new(41);
    for strategy in [Strategy::Bucketed, Strategy::Baseline] {
        // 16 workgroups per dimension: every slab over 16 × 64 × 4 elements needs y > 1.
        let exec = Executor::new(Config {
            strategy,
            max_workgroups_per_dimension: 16,
            ..Config::default()
        })
        .expect("adapter");
        let sizes = [100_003usize, 4096, 4097, 1_000_001, 3];
        let cases: Vec<Case> = sizes.iter().map(|&n| Case::random(&mut rng, n)).collect();
        check(
            &run_batch(&exec, &cases),
            &cases,
            &format!("{strategy:?} 2-D grid"),
        );
    }
}
