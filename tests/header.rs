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

/// Only the API's own names: every macro, type and function the header declares starts
/// with `GPU_`/`gpu_` (cbindgen reads the whole crate; the core's names are excluded).
#[test]
fn the_header_declares_only_prefixed_names() {
    let header = include_str!("../include/gpu_executor.h");
    for line in header.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let declared = match words.as_slice() {
            ["#define", name, ..] => Some(*name),
            ["typedef", "struct", name, ..] | ["typedef", "enum", name, ..] => Some(*name),
            _ => None,
        };
        if let Some(name) = declared {
            assert!(
                name.starts_with("GPU_") || name.starts_with("gpu_"),
                "unprefixed name in the header: {line}"
            );
        }
    }
}
