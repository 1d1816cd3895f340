//! Where a batch's time goes: per-phase wall time for the four reference workloads
//! (1000 × 4096, 100 × 100K, 10 × 1M, 1 × 16M), steady state, bucketed strategy, for
//! several copy-thread settings. Iterations rotate over three sets of inputs and outputs so
//! that no batch finds its data in the CPU's caches from the previous one.
//! `cargo run --release --example batch_timing [iterations]`.

use std::time::Instant;

#[path = "common/mod.rs"]
mod common;
use common::{median, random};

use gpu_executor::{Config, Executor, Task};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let workloads = [
        (1000usize, 4096usize),
        (100, 100_000),
        (10, 1_000_000),
        (1, 16_000_000),
    ];
    let max_threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("workload        threads  us/task(median)  upload_us  submit_us  wait_us  download_us  (per batch, medians)");
    for &(count, n) in &workloads {
        const SETS: usize = 3;
        let seed = |set: usize, i: usize, k: u64| ((set * count + i) as u64) * 2 + k;
        let a: Vec<Vec<Vec<f32>>> = (0..SETS)
            .map(|set| (0..count).map(|i| random(n, seed(set, i, 1))).collect())
            .collect();
        let b: Vec<Vec<Vec<f32>>> = (0..SETS)
            .map(|set| (0..count).map(|i| random(n, seed(set, i, 2))).collect())
            .collect();
        let mut out: Vec<Vec<Vec<f32>>> = (0..SETS)
            .map(|_| (0..count).map(|_| vec![f32::NAN; n]).collect())
            .collect();
        for threads in [1usize, 4, 8, max_threads.min(16)] {
            let exec = Executor::new(Config {
                copy_threads: threads,
                ..Config::default()
            })?;
            let mut times = Vec::new();
            let mut phases: [Vec<f64>; 4] = Default::default();
            for it in 0..iterations + 2 {
                let set = it % SETS;
                let before = exec.stats();
                let clock = Instant::now();
                {
                    let mut tasks: Vec<Task> = a[set]
                        .iter()
                        .zip(&b[set])
                        .zip(out[set].iter_mut())
                        .map(|((a, b), o)| Task::vector_add(a, b, o))
                        .collect();
                    exec.submit(&mut tasks)?;
                }
                let seconds = clock.elapsed().as_secs_f64();
                let after = exec.stats();
                if it >= 2 {
                    times.push(seconds * 1e6 / count as f64);
                    let d = |x: u64, y: u64| (x - y) as f64 / 1e3;
                    phases[0].push(d(after.upload_ns, before.upload_ns));
                    phases[1].push(d(after.submit_ns, before.submit_ns));
                    phases[2].push(d(after.wait_ns, before.wait_ns));
                    phases[3].push(d(after.download_ns, before.download_ns));
                }
            }
            for set in 0..SETS {
                for (i, o) in out[set].iter().enumerate() {
                    for j in (0..n).step_by(997) {
                        if o[j] != a[set][i][j] + b[set][i][j] {
                            return Err(format!("wrong result at task {i} element {j}").into());
                        }
                    }
                }
            }
            println!(
                "{count:>5} x {n:<9} {threads:>3} {:>14.2} {:>10.0} {:>10.0} {:>8.0} {:>12.0}",
                median(&mut times),
                median(&mut phases[0]),
                median(&mut phases[1]),
                median(&mut phases[2]),
                median(&mut phases[3]),
            );
        }
    }
    Ok(())
}
