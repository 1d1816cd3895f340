//! Registering host memory at the C boundary: caller arrays the GPU moves in place.

use std::ffi::c_void;

use super::api::{fail, fail_with, status_of, with_handle};
use super::last_error;
use super::status::{gpu_executor_status_t, gpu_executor_status_t as S};
use super::types::gpu_executor_t;

/// Registers `bytes` bytes of host memory at `ptr` with the executor, so that the GPU reads
/// and writes arrays inside it in place: every later batch's host input or output (not a
/// reduction's one-element result) that lies wholly inside a registered range is moved by
/// the GPU's DMA straight from or to the caller's memory, with no copy through the
/// executor's staging. Register arrays that many batches reuse (registering pins the pages,
/// which costs about as much as copying them once); tasks stay exactly as they are.
///
/// - Memory: any readable and writable memory of the process (`malloc`, `mmap`, a
///   `std::vector`'s data); it need not be aligned: the executor imports the whole pages the
///   range touches (page-aligned ranges avoid pinning neighbouring data's pages too).
///   Registered ranges may not overlap each other.
/// - Results: an output in registered memory is written by the GPU while the batch runs,
///   not copied out when it completes. It holds its results once the batch's call (or
///   ticket wait) returned `OK`; after `TIMED_OUT` the GPU may still write it when the batch
///   completes. As for any array, a batch may not use an array that an asynchronous batch
///   still in flight writes (`ALIASING`), and the caller must not write an input or read an
///   output while a batch that uses it is in flight.
///
/// Errors: `NULL_POINTER` (exec, ptr), `INVALID_ARGUMENT` (`bytes` 0, a range overlapping
/// one registered already, or larger than the device's largest buffer; nothing
/// registered), `SIZE_OVERFLOW` (`ptr + bytes` wraps), `UNSUPPORTED` (the device cannot
/// import host memory: a backend other than Vulkan, a driver without
/// `VK_EXT_external_memory_host`, or `GPU_EXECUTOR_HOST_IMPORT=0` in the environment;
/// batches still run, copying through staging), `GPU_ERROR` or `OUT_OF_MEMORY` (the driver
/// refused to import it), `DEVICE_LOST`, `POISONED`.
///
/// Thread-safe; batches on other threads see the range from their next call on.
///
/// # Safety
/// `exec` must come from `gpu_executor_create` and not be destroyed yet. The `bytes` bytes at
/// `ptr` must stay allocated (readable and writable) until
/// `gpu_executor_unregister_host_memory(exec, ptr)` or `gpu_executor_destroy(exec)` returned:
/// freeing registered memory first lets the GPU read or write memory the process reuses.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_register_host_memory(
    exec: *mut gpu_executor_t,
    ptr: *const c_void,
    bytes: u64,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_executor_register_host_memory", |handle| {
            if ptr.is_null() {
                return Err(fail(S::GPU_EXECUTOR_NULL_POINTER, "ptr is NULL"));
            }
            let len = usize::try_from(bytes).map_err(|_| {
                fail(S::GPU_EXECUTOR_SIZE_OVERFLOW, "bytes exceeds the address space")
            })?;
            // SAFETY: the caller keeps the memory valid until unregistering (contract).
            unsafe { handle.executor.register_host_memory(ptr as usize, len) }
                .map_err(fail_with)
        }))
    })
}

/// Unregisters the host memory registered at `ptr` (the same pointer given to
/// `gpu_executor_register_host_memory`). Batches submitted afterwards copy arrays there
/// through staging again. Blocks until the GPU has finished every batch submitted before
/// (on any thread) and the memory is released: once it returns the caller may free it.
///
/// Errors: `NULL_POINTER` (exec, ptr), `INVALID_ARGUMENT` (no registered range starts at
/// `ptr`), `POISONED`.
///
/// Thread-safe. A batch that another thread is launching at the same moment with arrays in
/// the range completes first.
///
/// # Safety
/// `exec` must come from `gpu_executor_create` and not be destroyed yet. `ptr` is only
/// compared, never read.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_unregister_host_memory(
    exec: *mut gpu_executor_t,
    ptr: *const c_void,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_executor_unregister_host_memory", |handle| {
            if ptr.is_null() {
                return Err(fail(S::GPU_EXECUTOR_NULL_POINTER, "ptr is NULL"));
            }
            handle
                .executor
                .unregister_host_memory(ptr as usize)
                .map_err(fail_with)
        }))
    })
}
