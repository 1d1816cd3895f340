//! BASELINE strategy (no caches: pipeline, buffers and bind group created per task) on the
//! seed's workloads. Runs BASELINE alone by default, next to the timed CPU reference;
//! `GPU_BENCH_INTERLEAVE=1` runs BUCKETED interleaved as well. See `benches/common/mod.rs`
//! for the workloads and environment variables, and docs/BENCHMARKS.md for results.
//!
//! `cargo bench --bench gpu_multi_task_baseline [workload-or-group ...]`

mod common;

fn main() {
    common::main(common::Options::from_env(
        "gpu_multi_task_baseline",
        gpu_executor::Strategy::Baseline,
        false,
    ));
}
