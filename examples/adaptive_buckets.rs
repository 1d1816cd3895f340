//! Adaptive buckets on and off, on three workloads (docs/BENCHMARKS.md, "Adaptive buckets"):
//!
//! - clustered: batches of 8 `a + b` tasks of 17,000–17,400 elements, just above the
//!   16K rung: one slab uses about 138K elements of a 256K class;
//! - thrash: batches of 2 tasks of 4 ops (add, mul, sub, max) at sizes spread
//!   log-uniformly from 16K to 4M elements: every op compiles a pipeline per bucket;
//! - steady: batches of 4 tasks of exactly 16,384 elements: slabs are full, nothing to adapt.
//!
//! Each workload runs on a fresh executor with the seed's ladder, adaptation off and then
//! on, with the same data; every output is compared bit for bit between the two. Prints
//! wall time, pipelines compiled, dispatches, padding, the pool's idle bytes at the end
//! and the adaptations made.
//! `cargo run --release --example adaptive_buckets [batches]` (default 200).

use std::time::Instant;

use gpu_executor::{Config, ElemType, Executor, KernelId, Task};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn data(&mut self, n: usize) -> Vec<u32> {
        (0..n)
            .map(|_| ((self.next() >> 40) as f32 / (1u64 << 24) as f32).to_bits())
            .collect()
    }
}

/// One batch: (op code, length) per task.
type Batch = Vec<(u32, usize)>;

/// A workload: its name, how it makes a batch, and how many batches it runs.
type Workload = (&'static str, fn(&mut Rng) -> Batch, usize);

fn clustered(rng: &mut Rng) -> Batch {
    (0..8)
        .map(|_| (1, 17_000 + rng.below(401) as usize))
        .collect()
}

fn thrash(rng: &mut Rng) -> Batch {
    (0..2)
        .map(|_| {
            let op = [1, 3, 2, 6][rng.below(4) as usize];
            // 2^14 .. 2^22, log-uniform.
            let exp = 14.0 + (rng.below(8000) as f64 / 1000.0);
            (op, 2f64.powf(exp) as usize)
        })
        .collect()
}

fn steady(_: &mut Rng) -> Batch {
    vec![(1, 16_384); 4]
}

struct Outcome {
    ms: f64,
    outputs_hash: u64,
    stats: gpu_executor::Stats,
}

fn run(adaptive: bool, batches: &[Batch], seed: u64) -> Result<Outcome, gpu_executor::Error> {
    let exec = Executor::new(Config {
        adaptive_buckets: adaptive,
        ..Config::default()
    })?;
    let mut rng = Rng(seed);
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let start = Instant::now();
    for batch in batches {
        let inputs: Vec<[Vec<u32>; 2]> = batch
            .iter()
            .map(|&(_, n)| [rng.data(n), rng.data(n)])
            .collect();
        let mut outputs: Vec<Vec<u32>> = batch.iter().map(|&(_, n)| vec![0; n]).collect();
        let mut tasks = Vec::with_capacity(batch.len());
        for ((&(code, n), input), out) in batch.iter().zip(&inputs).zip(outputs.iter_mut()) {
            let id = KernelId {
                code,
                ty: ElemType::F32,
            };
            tasks.push(Task::new(id, n, &[&input[0], &input[1]], &[], out)?);
        }
        exec.submit(&mut tasks)?;
        drop(tasks);
        for out in &outputs {
            for &w in out {
                hash = (hash ^ u64::from(w)).wrapping_mul(0x100_0000_01b3);
            }
        }
    }
    Ok(Outcome {
        ms: start.elapsed().as_secs_f64() * 1e3,
        outputs_hash: hash,
        stats: exec.stats(),
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let workloads: [Workload; 3] = [
        ("clustered", clustered, count),
        ("thrash", thrash, count.div_ceil(4)),
        ("steady", steady, count),
    ];
    println!(
        "{:<10} {:>8} {:>7} {:>9} {:>10} {:>11} {:>12} {:>8} {:>8}",
        "workload",
        "adaptive",
        "batches",
        "total_ms",
        "pipelines",
        "dispatches",
        "padding_MiB",
        "pool_KiB",
        "refine/coarsen"
    );
    for (name, make, n) in workloads {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let batches: Vec<Batch> = (0..n).map(|_| make(&mut rng)).collect();
        let mut hashes = Vec::new();
        for adaptive in [false, true] {
            let o = run(adaptive, &batches, 7)?;
            let s = &o.stats;
            println!(
                "{:<10} {:>8} {:>7} {:>9.1} {:>10} {:>11} {:>12.1} {:>8} {:>8}/{}",
                name,
                if adaptive { "on" } else { "off" },
                n,
                o.ms,
                s.pipelines_created,
                s.dispatches,
                s.padding_bytes as f64 / (1 << 20) as f64,
                s.pool_bytes >> 10,
                s.bucket_refinements,
                s.bucket_coarsenings
            );
            hashes.push(o.outputs_hash);
        }
        if hashes[0] != hashes[1] {
            return Err(format!("{name}: outputs differ with adaptation").into());
        }
    }
    println!("outputs identical with and without adaptation on every workload");
    Ok(())
}
