//! libFuzzer target: every input is one short program of C API calls (see `src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gpu_executor_fuzz::run(data));
