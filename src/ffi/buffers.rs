//! Resident buffers at the C boundary: create, write, read, destroy, describe.
//!
//! Reads and asynchronous writes are batches of one `GPU_OP_COPY` task, so they share the
//! batches' checks, tickets and ordering.

use std::ffi::c_void;

use super::api::{fail, fail_with, run_blocking, status_of, with_handle};
use super::async_batch::run_async;
use super::last_error;
use super::status::{gpu_executor_status_t, gpu_executor_status_t as S};
use super::types::*;
use crate::ops::{ElemType, COPY};

fn dtype_of(dtype: u32) -> Result<ElemType, S> {
    match dtype {
        0 => Ok(ElemType::F32),
        1 => Ok(ElemType::I32),
        2 => Ok(ElemType::U32),
        v => Err(fail(
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            format!("dtype {v} is not a gpu_dtype_t"),
        )),
    }
}

fn dtype_code(ty: ElemType) -> u32 {
    match ty {
        ElemType::F32 => gpu_dtype_t::GPU_DTYPE_F32 as u32,
        ElemType::I32 => gpu_dtype_t::GPU_DTYPE_I32 as u32,
        ElemType::U32 => gpu_dtype_t::GPU_DTYPE_U32 as u32,
    }
}

/// `count` as a slice length whose bytes fit the address space.
fn length(count: u64) -> Result<usize, S> {
    usize::try_from(count)
        .ok()
        .filter(|&n| n <= isize::MAX as usize / 4)
        .ok_or_else(|| {
            fail(
                S::GPU_EXECUTOR_SIZE_OVERFLOW,
                format!("{count} elements overflow the address space"),
            )
        })
}

/// Checks a caller's data pointer for `count` elements (NULL allowed when 0).
fn check_data(data: *const c_void, count: usize) -> Result<(), S> {
    if count == 0 {
        return Ok(());
    }
    if data.is_null() {
        return Err(fail(
            S::GPU_EXECUTOR_NULL_POINTER,
            format!("data is NULL but count is {count}"),
        ));
    }
    if data as usize % 4 != 0 {
        return Err(fail(
            S::GPU_EXECUTOR_MISALIGNED_POINTER,
            "data is not 4-byte aligned",
        ));
    }
    if (data as usize).checked_add(count * 4).is_none() {
        return Err(fail(
            S::GPU_EXECUTOR_SIZE_OVERFLOW,
            "data + count wraps around the address space",
        ));
    }
    Ok(())
}

/// A `GPU_OP_COPY` task of `count` elements between a region of `buffer` and host memory.
fn copy_task(
    exec: &gpu_executor_t,
    buffer: gpu_buffer_t,
    region: &gpu_region_t,
    host: *mut c_void,
    count: usize,
    to_buffer: bool,
) -> Result<gpu_task_t, S> {
    let ty = exec.executor.buffer(buffer).map_err(fail_with)?.ty;
    let region_ptr = (region as *const gpu_region_t).cast::<c_void>();
    let (input, output, flags) = if to_buffer {
        (
            host.cast_const(),
            region_ptr.cast_mut(),
            GPU_TASK_OUTPUT_BUFFER,
        )
    } else {
        (region_ptr, host, GPU_TASK_INPUT0_BUFFER)
    };
    Ok(gpu_task_t {
        op: COPY,
        flags: dtype_code(ty) | flags,
        inputs: [input, std::ptr::null(), std::ptr::null(), std::ptr::null()],
        output,
        length: count,
        params: [0; 4],
    })
}

/// Creates a buffer of `count` elements of `dtype` (a `gpu_dtype_t`), zero-filled, owned
/// by `exec`, and writes its handle to `*out`.
///
/// Its memory comes from a pool of size classes (powers of two from 256 bytes): memory of
/// destroyed buffers is reused. It counts in the stats' `resident_*` fields until
/// destroyed, and lives at most as long as the executor.
///
/// Errors: `NULL_POINTER` (exec, out), `INVALID_ARGUMENT` (dtype not a `gpu_dtype_t`,
/// count 0), `SIZE_OVERFLOW` (more than the device allows in one buffer), `OUT_OF_MEMORY`,
/// `DEVICE_LOST`, `POISONED`. `*out` is written only on success. Thread-safe.
///
/// # Safety
/// `exec` must come from `gpu_executor_create` and not be destroyed yet; `out` must be
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn gpu_buffer_create(
    exec: *mut gpu_executor_t,
    dtype: u32,
    count: u64,
    out: *mut gpu_buffer_t,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_buffer_create", |handle| {
            if out.is_null() {
                return Err(fail(S::GPU_EXECUTOR_NULL_POINTER, "out is NULL"));
            }
            let ty = dtype_of(dtype)?;
            *out = handle
                .executor
                .create_buffer(ty, count)
                .map_err(fail_with)?;
            Ok(())
        }))
    })
}

/// Creates a buffer holding a copy of `count` elements of `dtype` read from `data`, and
/// writes its handle to `*out`. `data` is read during the call only.
///
/// Errors: as `gpu_buffer_create`, plus `NULL_POINTER` (data) and `MISALIGNED_POINTER`
/// (data not 4-byte aligned). Thread-safe.
///
/// # Safety
/// `data` must be readable for `count` elements; otherwise as `gpu_buffer_create`.
#[no_mangle]
pub unsafe extern "C" fn gpu_buffer_create_from(
    exec: *mut gpu_executor_t,
    dtype: u32,
    data: *const c_void,
    count: u64,
    out: *mut gpu_buffer_t,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_buffer_create_from", |handle| {
            if out.is_null() {
                return Err(fail(S::GPU_EXECUTOR_NULL_POINTER, "out is NULL"));
            }
            let ty = dtype_of(dtype)?;
            let n = length(count)?;
            if n == 0 {
                return Err(fail(
                    S::GPU_EXECUTOR_INVALID_ARGUMENT,
                    "a buffer holds at least one element",
                ));
            }
            check_data(data, n)?;
            // SAFETY: checked non-NULL, aligned and non-wrapping; the caller guarantees
            // it is readable for `count` elements.
            let values = std::slice::from_raw_parts(data.cast::<u32>(), n);
            *out = handle
                .executor
                .create_buffer_from(ty, values)
                .map_err(fail_with)?;
            Ok(())
        }))
    })
}

/// Writes `count` elements from `data` into `buffer` from element `offset`.
///
/// Returns once `data` has been copied (it may be reused at once); the GPU applies the
/// write in call order: batches submitted afterwards (on any thread) see it, batches
/// submitted before — even if still running — do not.
///
/// Errors: `NULL_POINTER`, `MISALIGNED_POINTER`, `INVALID_BUFFER`, `FOREIGN_BUFFER`,
/// `OUT_OF_BOUNDS` (offset + count past the end), `SIZE_OVERFLOW`, `GPU_ERROR`,
/// `DEVICE_LOST`, `POISONED`. On error nothing is written. Thread-safe.
///
/// # Safety
/// `data` must be readable for `count` elements; `exec` must come from
/// `gpu_executor_create` and not be destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn gpu_buffer_write(
    exec: *mut gpu_executor_t,
    buffer: gpu_buffer_t,
    offset: u64,
    data: *const c_void,
    count: u64,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_buffer_write", |handle| {
            let n = length(count)?;
            check_data(data, n)?;
            let values: &[u32] = if n == 0 {
                &[]
            } else {
                // SAFETY: checked non-NULL, aligned and non-wrapping; readable per contract.
                std::slice::from_raw_parts(data.cast::<u32>(), n)
            };
            handle
                .executor
                .write_buffer(buffer, offset, values)
                .map_err(fail_with)
        }))
    })
}

/// Reads `count` elements of `buffer` from element `offset` into `data`, after every batch
/// and write submitted before the call; blocks until they are there.
///
/// Errors: as `gpu_buffer_write`, plus `ALIASING` (data overlaps an output of a batch in
/// flight), `TIMED_OUT`. On error `data` is untouched. Thread-safe.
///
/// # Safety
/// `data` must be writable for `count` elements; `exec` must come from
/// `gpu_executor_create` and not be destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn gpu_buffer_read(
    exec: *mut gpu_executor_t,
    buffer: gpu_buffer_t,
    offset: u64,
    data: *mut c_void,
    count: u64,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_buffer_read", |handle| {
            let n = length(count)?;
            check_data(data, n)?;
            let region = gpu_region_t { buffer, offset };
            let task = copy_task(handle, buffer, &region, data, n, false)?;
            run_blocking(handle, &task, 1)
        }))
    })
}

/// Starts reading `count` elements of `buffer` from element `offset` into `data` and
/// returns at once with a ticket; `gpu_executor_wait` / `gpu_executor_poll` on it write
/// `data` (which must stay valid and untouched until then), as for
/// `gpu_executor_submit_batch_async`. The read sees every batch and write submitted before
/// the call.
///
/// Errors: as `gpu_buffer_read`, plus `NULL_POINTER` (ticket). Thread-safe.
///
/// # Safety
/// `data` must stay writable for `count` elements until the ticket completes; otherwise as
/// `gpu_buffer_read`.
#[no_mangle]
pub unsafe extern "C" fn gpu_buffer_read_async(
    exec: *mut gpu_executor_t,
    buffer: gpu_buffer_t,
    offset: u64,
    data: *mut c_void,
    count: u64,
    ticket: *mut gpu_ticket_t,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_buffer_read_async", |handle| {
            if ticket.is_null() {
                return Err(fail(S::GPU_EXECUTOR_NULL_POINTER, "ticket is NULL"));
            }
            let n = length(count)?;
            check_data(data, n)?;
            let region = gpu_region_t { buffer, offset };
            let task = copy_task(handle, buffer, &region, data, n, false)?;
            *ticket = run_async(handle, &task, 1)?;
            Ok(())
        }))
    })
}

/// Starts writing `count` elements from `data` into `buffer` from element `offset` and
/// returns a ticket that completes once the GPU has applied the write. `data` is copied
/// during the call (it may be reused at once). Later batches see the write (it is ordered
/// like a batch submitted at this call).
///
/// Errors: as `gpu_buffer_write`, plus `NULL_POINTER` (ticket) and `ALIASING` (data
/// overlaps an output of a batch in flight). Thread-safe.
///
/// # Safety
/// `data` must be readable for `count` elements during the call; otherwise as
/// `gpu_buffer_write`.
#[no_mangle]
pub unsafe extern "C" fn gpu_buffer_write_async(
    exec: *mut gpu_executor_t,
    buffer: gpu_buffer_t,
    offset: u64,
    data: *const c_void,
    count: u64,
    ticket: *mut gpu_ticket_t,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_buffer_write_async", |handle| {
            if ticket.is_null() {
                return Err(fail(S::GPU_EXECUTOR_NULL_POINTER, "ticket is NULL"));
            }
            let n = length(count)?;
            check_data(data, n)?;
            let region = gpu_region_t { buffer, offset };
            let task = copy_task(handle, buffer, &region, data.cast_mut(), n, true)?;
            *ticket = run_async(handle, &task, 1)?;
            Ok(())
        }))
    })
}

/// Destroys `buffer`. Its handle is invalid from now on (`INVALID_BUFFER`, never another
/// buffer). Batches already submitted that use it are unaffected: the GPU runs them before
/// any later use of the memory, which returns to the pool at once.
///
/// Errors: `NULL_POINTER` (exec), `INVALID_BUFFER` (destroyed already, or never created),
/// `FOREIGN_BUFFER`, `POISONED`. Thread-safe.
///
/// # Safety
/// `exec` must come from `gpu_executor_create` and not be destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn gpu_buffer_destroy(
    exec: *mut gpu_executor_t,
    buffer: gpu_buffer_t,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_buffer_destroy", |handle| {
            handle
                .executor
                .destroy_buffer(buffer)
                .map_err(fail_with)
        }))
    })
}

/// Describes `buffer`: its `gpu_dtype_t` into `*dtype` and its element count into
/// `*count`; either pointer may be NULL.
///
/// Errors: `NULL_POINTER` (exec), `INVALID_BUFFER`, `FOREIGN_BUFFER`, `POISONED`; nothing
/// is written on error. Thread-safe.
///
/// # Safety
/// `exec` must come from `gpu_executor_create` and not be destroyed yet; `dtype` and
/// `count` must each be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn gpu_buffer_info(
    exec: *mut gpu_executor_t,
    buffer: gpu_buffer_t,
    dtype: *mut u32,
    count: *mut u64,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_buffer_info", |handle| {
            let found = handle.executor.buffer(buffer).map_err(fail_with)?;
            if let Some(dtype) = dtype.as_mut() {
                *dtype = dtype_code(found.ty);
            }
            if let Some(count) = count.as_mut() {
                *count = found.len;
            }
            Ok(())
        }))
    })
}
