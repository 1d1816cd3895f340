//! The checked-in header must equal what cbindgen generates from the current source.

#[test]
fn checked_in_header_is_fresh() {
    let generated = include_str!(concat!(env!("OUT_DIR"), "/gpu_executor.h"));
    let checked_in = include_str!("../include/gpu_executor.h");
    assert!(
        generated == checked_in,
        "include/gpu_executor.h is stale: run `GPU_EXECUTOR_REGEN_HEADER=1 cargo build` and commit it"
    );
}
