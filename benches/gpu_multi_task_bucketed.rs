//! BUCKETED strategy (size-bucketed pipeline cache, pooled slabs, exact-size cache) on the
//! seed's workloads, with BASELINE interleaved batch by batch in the same process so that
//! the comparison table comes from one run (`GPU_BENCH_INTERLEAVE=0` runs BUCKETED alone).
//! See `benches/common/mod.rs` for the workloads and environment variables, and
//! docs/BENCHMARKS.md for results.
//!
//! `cargo bench --bench gpu_multi_task_bucketed [workload-or-group ...]`

mod common;

fn main() {
    common::main(common::Options::from_env(
        "gpu_multi_task_bucketed",
        gpu_executor::Strategy::Bucketed,
        true,
    ));
}
