//! Kernels side by side: element-wise ops against ADD on the four reference workloads,
//! reductions against their own upload phase, matmul's throughput, and a batch of small
//! matmuls. Host data in and out, default options, medians; input sets rotate so no batch
//! finds its data in the CPU's caches. Prints a table and, with `--json FILE`, JSON lines.
//!
//! `cargo run --release --example kernel_bench [--quick] [--matmul-only] [--json FILE]`

use std::io::Write;
use std::time::Instant;

#[path = "common/mod.rs"]
mod common;
use common::median;

use gpu_executor::ops::{self, ElemType};
use gpu_executor::{Config, Executor, KernelId, Stats, Task};

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // [0.5, 1.5): in every op's domain (LOG, SQRT, POW).
            0.5 + (x >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

fn op(code: u32) -> KernelId {
    KernelId {
        code,
        ty: ElemType::F32,
    }
}

struct Report {
    json: Option<std::fs::File>,
}

impl Report {
    fn line(&mut self, text: String, json: String) {
        println!("{text}");
        if let Some(file) = &mut self.json {
            let _ = writeln!(file, "{json}");
        }
    }
}

/// Runs `make_tasks` `iterations` times (after two warm-up runs), rotating over `sets`;
/// returns the median seconds per batch and the median delta of the stats' phases.
fn time_batches(
    exec: &Executor,
    iterations: usize,
    sets: usize,
    mut run: impl FnMut(&Executor, usize),
) -> (f64, Stats) {
    let mut times = Vec::new();
    let mut upload = Vec::new();
    let mut wait = Vec::new();
    for it in 0..iterations + 2 {
        let before = exec.stats();
        let clock = Instant::now();
        run(exec, it % sets);
        let seconds = clock.elapsed().as_secs_f64();
        let after = exec.stats();
        if it >= 2 {
            times.push(seconds);
            upload.push((after.upload_ns - before.upload_ns) as f64);
            wait.push((after.wait_ns - before.wait_ns) as f64);
        }
    }
    let phases = Stats {
        upload_ns: median(&mut upload) as u64,
        wait_ns: median(&mut wait) as u64,
        ..Stats::default()
    };
    (median(&mut times), phases)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let matmul_only = args.iter().any(|a| a == "--matmul-only");
    let json = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1))
        .map(std::fs::File::create)
        .transpose()?;
    let mut report = Report { json };
    let exec = Executor::new(Config::default())?;
    let adapter = exec.adapter_info().name.clone();
    println!("adapter: {adapter}");
    let iterations = if quick { 3 } else { 15 };
    const SETS: usize = 3;

    // Element-wise ops: GB/s counting every array moved (inputs in, output back).
    let workloads: &[(usize, usize)] = if matmul_only {
        &[]
    } else if quick {
        &[(100, 4096), (1, 1 << 20)]
    } else {
        &[
            (1000, 4096),
            (100, 100_000),
            (10, 1_000_000),
            (1, 16_000_000),
        ]
    };
    let names = ["ADD", "MUL", "SQRT", "EXP", "SCALE", "FMA", "SIGMOID"];
    println!("\nelement-wise, f32: GB/s (arrays moved / median batch time), and vs ADD");
    for &(count, n) in workloads {
        let inputs: Vec<Vec<Vec<Vec<f32>>>> = (0..SETS)
            .map(|set| {
                (0..3)
                    .map(|k| {
                        (0..count)
                            .map(|i| random(n, (set * 7 + k * 3) as u64 * 1000 + i as u64))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let mut outs: Vec<Vec<f32>> = (0..count).map(|_| vec![0f32; n]).collect();
        let mut add_gbps = 0.0;
        for name in names {
            let row = ops::ELEMENTWISE
                .iter()
                .find(|o| o.name == name)
                .ok_or("op missing")?;
            let scalars = vec![1.5f32.to_bits(); row.scalars];
            let (seconds, _) = time_batches(&exec, iterations, SETS, |exec, set| {
                let mut tasks: Vec<Task> = outs
                    .iter_mut()
                    .enumerate()
                    .map(|(i, out)| {
                        let arrays: Vec<&[u32]> = (0..row.arity)
                            .map(|k| bytemuck::cast_slice(&inputs[set][k][i][..]))
                            .collect();
                        Task::new(
                            op(row.code),
                            n,
                            &arrays,
                            &scalars,
                            bytemuck::cast_slice_mut(out),
                        )
                    })
                    .collect::<Result<_, _>>()
                    .expect("valid tasks");
                exec.submit(&mut tasks).expect("batch runs");
            });
            let bytes = (count * n * (row.arity + 1) * 4) as f64;
            let gbps = bytes / seconds / 1e9;
            if name == "ADD" {
                add_gbps = gbps;
            }
            report.line(
                format!(
                    "  {count:>5} x {n:<9} {name:<8} {:>9.1} us/batch {gbps:>7.2} GB/s  {:>5.2} x ADD",
                    seconds * 1e6,
                    gbps / add_gbps
                ),
                format!(
                    r#"{{"bench":"elementwise","adapter":{adapter:?},"count":{count},"n":{n},"op":"{name}","us_per_batch":{:.3},"gbps":{gbps:.3},"vs_add":{:.4}}}"#,
                    seconds * 1e6,
                    gbps / add_gbps
                ),
            );
        }
    }

    // Reductions: the whole batch against its own upload phase.
    println!("\nreductions, f32 SUM: batch time against the host-to-staging copy of its inputs");
    let reduce_loads: &[(usize, usize)] = if matmul_only {
        &[]
    } else if quick {
        &[(100, 4096)]
    } else {
        &[(1000, 4096), (1, 16 << 20)]
    };
    for &(count, n) in reduce_loads {
        let inputs: Vec<Vec<Vec<f32>>> = (0..SETS)
            .map(|set| {
                (0..count)
                    .map(|i| random(n, (set * count + i) as u64))
                    .collect()
            })
            .collect();
        let mut outs = vec![0f32; count];
        let (seconds, phases) = time_batches(&exec, iterations, SETS, |exec, set| {
            let mut tasks: Vec<Task> = outs
                .iter_mut()
                .enumerate()
                .map(|(i, out)| {
                    Task::new(
                        op(64),
                        n,
                        &[bytemuck::cast_slice(&inputs[set][i][..])],
                        &[],
                        bytemuck::cast_slice_mut(std::slice::from_mut(out)),
                    )
                })
                .collect::<Result<_, _>>()
                .expect("valid tasks");
            exec.submit(&mut tasks).expect("batch runs");
        });
        let upload = phases.upload_ns as f64 / 1e9;
        let gbps = (count * n * 4) as f64 / seconds / 1e9;
        report.line(
            format!(
                "  {count:>5} x SUM({n:<9}) {:>9.1} us/batch ({gbps:.2} GB/s in); upload phase {:>9.1} us: batch = {:.2} x upload",
                seconds * 1e6,
                upload * 1e6,
                seconds / upload
            ),
            format!(
                r#"{{"bench":"reduction","adapter":{adapter:?},"count":{count},"n":{n},"us_per_batch":{:.3},"upload_us":{:.3},"ratio":{:.4}}}"#,
                seconds * 1e6,
                upload * 1e6,
                seconds / upload
            ),
        );
    }

    // Matmul: TFLOP/s by the GPU wait (which includes the staging-to-device copies).
    println!("\nmatmul, f32: TFLOP/s by the batch's GPU wait and end to end");
    let sizes: &[usize] = if quick { &[256] } else { &[1024, 2048, 4096] };
    for &s in sizes {
        let a = random(s * s, 11);
        let b = random(s * s, 12);
        let mut c = vec![0f32; s * s];
        let reps = if quick { 2 } else { 5 };
        let (seconds, phases) = time_batches(&exec, reps, 1, |exec, _| {
            let dims = (s as u32, s as u32, s as u32);
            let mut tasks = [Task::matmul(&a, &b, &mut c, dims, false).expect("valid")];
            exec.submit(&mut tasks).expect("batch runs");
        });
        let flops = 2.0 * (s as f64).powi(3);
        let gpu = phases.wait_ns as f64 / 1e9;
        report.line(
            format!(
                "  {s}^3: {:>8.2} TFLOP/s by GPU wait ({:.2} ms), {:>8.2} TFLOP/s end to end ({:.2} ms)",
                flops / gpu / 1e12,
                gpu * 1e3,
                flops / seconds / 1e12,
                seconds * 1e3
            ),
            format!(
                r#"{{"bench":"matmul","adapter":{adapter:?},"size":{s},"tflops_wait":{:.4},"tflops_e2e":{:.4},"wait_ms":{:.4},"e2e_ms":{:.4}}}"#,
                flops / gpu / 1e12,
                flops / seconds / 1e12,
                gpu * 1e3,
                seconds * 1e3
            ),
        );
    }
    let count = if quick { 50 } else { 1000 };
    let mats: Vec<(Vec<f32>, Vec<f32>)> = (0..count)
        .map(|i| {
            (
                random(64 * 64, 100 + i as u64),
                random(64 * 64, 5000 + i as u64),
            )
        })
        .collect();
    let mut outs: Vec<Vec<f32>> = (0..count).map(|_| vec![0f32; 64 * 64]).collect();
    let (seconds, _) = time_batches(&exec, iterations, 1, |exec, _| {
        let mut tasks: Vec<Task> = mats
            .iter()
            .zip(outs.iter_mut())
            .map(|((a, b), c)| Task::matmul(a, b, c, (64, 64, 64), false))
            .collect::<Result<_, _>>()
            .expect("valid tasks");
        exec.submit(&mut tasks).expect("batch runs");
    });
    report.line(
        format!(
            "  {count} x 64^3 in one batch: {:.1} us/batch, {:.2} us per matmul",
            seconds * 1e6,
            seconds * 1e6 / count as f64
        ),
        format!(
            r#"{{"bench":"matmul_batch","adapter":{adapter:?},"count":{count},"us_per_batch":{:.3},"us_per_matmul":{:.4}}}"#,
            seconds * 1e6,
            seconds * 1e6 / count as f64
        ),
    );
    Ok(())
}
