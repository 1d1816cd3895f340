//! `gpu_executor_register_kernel`: the caller's own WGSL as an op of one executor.

use std::ffi::{c_char, CStr};

use super::api::{fail, fail_with, status_of, with_handle};
use super::fault;
use super::last_error;
use super::status::{gpu_executor_status_t, gpu_executor_status_t as S};
use super::types::gpu_executor_t;
use crate::ops::ElemType;
use crate::user_kernel::{UserKernelDesc, MAX_USER_PARAMS};

/// Describes a kernel to register. Start from `gpu_kernel_desc_default()`, which sets
/// `struct_size`; fields are only ever appended.
///
/// The kernel's bindings (all in group 0; docs/KERNELS.md has a full example):
/// - binding 0, optional: `var<uniform>` params. Its first `u32` is the number of
///   invocations with work (element count / `elements_per_invocation`, rounded up), then
///   `params_size / 4` words: the low 32 bits of the task's `params[0]`, `params[1]`, ….
/// - bindings 1, 2, 4: the inputs `a`, `b`, `c` (`num_inputs` of them), each
///   `var<storage, read>` `array<T>` (or `array<vec4<T>>` with 4 elements per invocation).
/// - binding 3: the output, `var<storage, read_write>`.
///
/// The grid is one-dimensional in invocations but spills into y beyond the device's
/// per-dimension workgroup limit: compute the index as
/// `gid.x + gid.y * num_workgroups.x * WORKGROUP_SIZE` and check it against the count.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct gpu_kernel_desc_t {
    /// `sizeof(gpu_kernel_desc_t)`.
    pub struct_size: u32,
    /// The WGSL source, NUL-terminated UTF-8. Read during the call only.
    pub source: *const c_char,
    /// The `@compute` entry point's name, NUL-terminated; NULL means "main".
    pub entry_point: *const c_char,
    /// Input arrays, 1 to 3 (bindings 1, 2, 4).
    pub num_inputs: u32,
    /// A `gpu_dtype_t`: the element type of every array (tasks must name the same).
    pub dtype: u32,
    /// 1 or 4: elements one invocation handles (with 4, arrays are packed at multiples of
    /// four elements and the kernel may read them as `vec4`).
    pub elements_per_invocation: u32,
    /// Nonzero (default): element-wise; tasks of this kernel share dispatches and are
    /// split at the binding limit like the built-ins. Zero: whole-array; each task is one
    /// dispatch over its whole arrays, never split (too large gives `INVALID_ARGUMENT`).
    pub elementwise: u32,
    /// Bytes of task params the kernel reads after the count word: 0 to 16, a multiple of 4.
    pub params_size: u32,
}

fn default_desc() -> gpu_kernel_desc_t {
    gpu_kernel_desc_t {
        struct_size: std::mem::size_of::<gpu_kernel_desc_t>() as u32,
        source: std::ptr::null(),
        entry_point: std::ptr::null(),
        num_inputs: 1,
        dtype: 0,
        elements_per_invocation: 1,
        elementwise: 1,
        params_size: 0,
    }
}

/// A kernel description with `struct_size` set and the defaults: one input, `float`, one
/// element per invocation, element-wise, no params, entry point "main", no source. Pure
/// function; thread-safe.
#[no_mangle]
pub extern "C" fn gpu_kernel_desc_default() -> gpu_kernel_desc_t {
    ffi_boundary!(default_desc(), {
        fault::checkpoint("gpu_kernel_desc_default");
        default_desc()
    })
}

fn text<'a>(what: &str, p: *const c_char) -> Result<Option<&'a str>, S> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller passes a NUL-terminated string (documented).
    let text = unsafe { CStr::from_ptr(p) };
    text.to_str().map(Some).map_err(|_| {
        fail(
            S::GPU_EXECUTOR_INVALID_KERNEL,
            format!("{what} is not valid UTF-8"),
        )
    })
}

/// Checks a caller's description and turns it into the core's.
fn desc_from(desc: &gpu_kernel_desc_t) -> Result<UserKernelDesc, S> {
    let source = text("source", desc.source)?
        .ok_or_else(|| fail(S::GPU_EXECUTOR_NULL_POINTER, "desc->source is NULL"))?;
    let entry_point = text("entry_point", desc.entry_point)?.unwrap_or("main");
    let ty = match desc.dtype {
        0 => ElemType::F32,
        1 => ElemType::I32,
        2 => ElemType::U32,
        other => {
            return Err(fail(
                S::GPU_EXECUTOR_INVALID_KERNEL,
                format!("dtype {other} is not a gpu_dtype_t"),
            ))
        }
    };
    if desc.params_size % 4 != 0 || desc.params_size as usize > MAX_USER_PARAMS * 4 {
        return Err(fail(
            S::GPU_EXECUTOR_INVALID_KERNEL,
            format!(
                "params_size is {}; it must be a multiple of 4 from 0 to {}",
                desc.params_size,
                MAX_USER_PARAMS * 4
            ),
        ));
    }
    Ok(UserKernelDesc {
        source: source.to_string(),
        entry_point: entry_point.to_string(),
        num_inputs: desc.num_inputs as usize,
        ty,
        elements_per_invocation: desc.elements_per_invocation,
        elementwise: desc.elementwise != 0,
        params_words: desc.params_size as usize / 4,
    })
}

/// Registers the caller's WGSL kernel on `exec` and writes its op code (for
/// `gpu_task_t.op`) to `*op_out`. The code is valid for this executor only (another
/// executor's tasks get `UNKNOWN_OP`) and until it is destroyed; codes are never reused.
///
/// The source is parsed and validated now: a syntax or validation error, a missing
/// `@compute` entry point, or bindings that do not match the description (see
/// `gpu_kernel_desc_t`) give `GPU_EXECUTOR_INVALID_KERNEL` with the compiler's message,
/// including line and column, and register nothing. Pipelines are compiled lazily, per
/// size bucket, through the same cache as the built-in ops, and counted in the same stats.
///
/// Tasks of a registered op: `flags` names the kernel's `dtype`; `inputs[0..num_inputs]`
/// and the output hold `length` elements; `params[k]` for `k < params_size / 4` hold 32-bit
/// words (the upper halves 0), the rest 0.
///
/// - `desc`: read during the call only; `struct_size` must be `sizeof(gpu_kernel_desc_t)`.
/// - `op_out`: written only on success.
///
/// Errors: `NULL_POINTER` (exec, desc, desc->source, op_out), `BAD_STRUCT_SIZE`,
/// `INVALID_KERNEL`, `POISONED`. Thread-safe.
///
/// # Safety
/// `exec` must come from `gpu_executor_create` and not be destroyed yet; `desc` must be
/// NULL or point to a readable description whose strings are NUL-terminated; `op_out`
/// must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_register_kernel(
    exec: *mut gpu_executor_t,
    desc: *const gpu_kernel_desc_t,
    op_out: *mut u32,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_executor_register_kernel", |handle| {
            if desc.is_null() || op_out.is_null() {
                return Err(fail(
                    S::GPU_EXECUTOR_NULL_POINTER,
                    "desc or op_out is NULL",
                ));
            }
            let size = std::ptr::read_unaligned(desc.cast::<u32>());
            let expected = std::mem::size_of::<gpu_kernel_desc_t>() as u32;
            if size != expected {
                return Err(fail(
                    S::GPU_EXECUTOR_BAD_STRUCT_SIZE,
                    format!("desc struct_size is {size}, expected {expected}; start from gpu_kernel_desc_default()"),
                ));
            }
            let core = desc_from(&*desc)?;
            let code = handle.executor.register_kernel(&core).map_err(fail_with)?;
            *op_out = code;
            Ok(())
        }))
    })
}
