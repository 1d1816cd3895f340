//! Version constants; a test keeps them equal to Cargo.toml.

/// Major version of the header, equal to the library's (`gpu_executor_version()`) and to
/// the SONAME's number (`libgpu_executor.so.0`).
pub const GPU_EXECUTOR_VERSION_MAJOR: u32 = 0;
/// Minor version of the header.
pub const GPU_EXECUTOR_VERSION_MINOR: u32 = 1;
/// Patch version of the header.
pub const GPU_EXECUTOR_VERSION_PATCH: u32 = 0;

/// NUL-terminated version string returned by `gpu_executor_version()`.
pub(crate) const VERSION_CSTR: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macros_match_cargo_toml() {
        let parse = |s: &str| s.parse::<u32>().ok();
        assert_eq!(
            parse(env!("CARGO_PKG_VERSION_MAJOR")),
            Some(GPU_EXECUTOR_VERSION_MAJOR)
        );
        assert_eq!(
            parse(env!("CARGO_PKG_VERSION_MINOR")),
            Some(GPU_EXECUTOR_VERSION_MINOR)
        );
        assert_eq!(
            parse(env!("CARGO_PKG_VERSION_PATCH")),
            Some(GPU_EXECUTOR_VERSION_PATCH)
        );
    }
}
