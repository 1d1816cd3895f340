//! Generates the C header with cbindgen into OUT_DIR (compared with the checked-in
//! `include/gpu_executor.h` by a test), and writes it into `include/` when
//! `GPU_EXECUTOR_REGEN_HEADER=1`.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=GPU_EXECUTOR_REGEN_HEADER");

    // The shared library's SONAME carries the major version (0.x: libgpu_executor.so.0).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libgpu_executor.so.{major}");
    }

    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml must parse");
    let bindings = match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => bindings,
        Err(error) => {
            // A syntax error in the crate is reported by rustc itself, more clearly.
            println!("cargo:warning=cbindgen could not generate the header: {error}");
            return;
        }
    };
    bindings.write_to_file(out_dir.join("gpu_executor.h"));
    if std::env::var("GPU_EXECUTOR_REGEN_HEADER").as_deref() == Ok("1") {
        bindings.write_to_file(crate_dir.join("include/gpu_executor.h"));
    }
}
