//! The exported functions. Each one: panic boundary, NULL checks, convert, call the core,
//! map the error. Outputs are written only on success.

use std::ffi::{c_char, CStr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::convert::{self, Rejected};
use super::fault;
use super::last_error;
use super::status::{describe_ptr, gpu_executor_status_t, gpu_executor_status_t as S};
use super::tickets::{Claim, Flights};
use super::types::*;
use super::version::VERSION_CSTR;
use crate::{Error, Executor};

pub(super) fn fail(status: S, message: impl AsRef<str>) -> S {
    last_error::set(message.as_ref());
    status
}

pub(super) fn fail_with(error: Error) -> S {
    fail(S::from(error.kind), error.message)
}

pub(super) fn rejected(Rejected(status, message): Rejected) -> S {
    fail(status, message)
}

/// Runs `f` on the handle of the exported function `entry`: NULL becomes
/// `GPU_EXECUTOR_NULL_POINTER`, a handle poisoned by an earlier panic
/// `GPU_EXECUTOR_POISONED`.
pub(super) fn with_handle<R>(
    exec: *const gpu_executor_t,
    entry: &str,
    f: impl FnOnce(&gpu_executor_t) -> Result<R, S>,
) -> Result<R, S> {
    // SAFETY: the caller passes a handle from gpu_executor_create that is not yet destroyed.
    let Some(handle) = (unsafe { exec.as_ref() }) else {
        return Err(fail(
            S::GPU_EXECUTOR_NULL_POINTER,
            "executor handle is NULL",
        ));
    };
    if handle.poisoned.load(Ordering::SeqCst) {
        return Err(fail(
            S::GPU_EXECUTOR_POISONED,
            "an earlier panic left this executor unusable; destroy it",
        ));
    }
    fault::checkpoint(entry);
    f(handle)
}

/// Locks a handle's table of batches in flight.
pub(super) fn flights(handle: &gpu_executor_t) -> Result<MutexGuard<'_, Flights>, S> {
    handle.flights.lock().map_err(|_| {
        fail(
            S::GPU_EXECUTOR_POISONED,
            "an earlier panic left this executor unusable; destroy it",
        )
    })
}

pub(super) fn status_of(result: Result<(), S>) -> S {
    result.err().unwrap_or(S::GPU_EXECUTOR_OK)
}

/// Returns the default options: any backend, default power preference, no particular
/// adapter (`GPU_ADAPTER_DEFAULT`), `GPU_STRATEGY_BUCKETED`, exact-size cache on with 16
/// entries, chunking at device limits, no wait limit, 512 MiB of idle memory kept for
/// reuse, no in-flight budget, no pipeline cache directory, the seed's buckets (16384
/// elements, then ×2) without adaptation. `struct_size` is set. Pure function; thread-safe.
#[no_mangle]
pub extern "C" fn gpu_executor_options_default() -> gpu_executor_options_t {
    ffi_boundary!(convert::default_options(), {
        fault::checkpoint("gpu_executor_options_default");
        convert::default_options()
    })
}

/// Creates an executor: picks an adapter (honouring `WGPU_BACKEND`, `WGPU_ADAPTER_NAME`,
/// `WGPU_POWER_PREF`), opens a device with the adapter's full limits and installs an error
/// handler that never aborts.
///
/// - `options`: may be NULL for defaults; otherwise read during the call only, and its
///   `struct_size` must equal `sizeof(gpu_executor_options_t)` of this or an earlier
///   version of the header (fields it lacks take their defaults).
/// - `out`: receives the new handle on success (untouched on failure). The caller owns the
///   handle and frees it with `gpu_executor_destroy`.
///
/// Errors: `NULL_POINTER` (out), `BAD_STRUCT_SIZE`, `INVALID_OPTION`, `INVALID_ARGUMENT`
/// (`min_bucket_elements` or `bucket_growth` out of range; the last error says which and
/// what is accepted), `NO_ADAPTER`, `DEVICE_REQUEST_FAILED`. Thread-safe.
///
/// # Safety
/// `options` must be NULL or point to a readable options struct; `out` must be NULL or
/// point to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_create(
    options: *const gpu_executor_options_t,
    out: *mut *mut gpu_executor_t,
) -> gpu_executor_status_t {
    ffi_boundary!({
        last_error::clear();
        fault::checkpoint("gpu_executor_create");
        if out.is_null() {
            return fail(
                S::GPU_EXECUTOR_NULL_POINTER,
                "out (gpu_executor_t **) is NULL",
            );
        }
        let options = if options.is_null() {
            convert::default_options()
        } else {
            match read_options(options) {
                Ok(options) => options,
                Err(status) => return status,
            }
        };
        let mut config = match convert::config_from(&options) {
            Ok(config) => config,
            Err(r) => return rejected(r),
        };
        // SAFETY: the options' contract: NULL or a NUL-terminated string.
        config.pipeline_cache_dir = convert::pipeline_cache_dir(options.pipeline_cache_dir);
        match Executor::new(config) {
            Ok(executor) => {
                let handle = Box::new(gpu_executor_t {
                    executor,
                    flights: Mutex::default(),
                    poisoned: AtomicBool::new(false),
                });
                *out = Box::into_raw(handle);
                S::GPU_EXECUTOR_OK
            }
            Err(error) => fail_with(error),
        }
    })
}

/// Destroys an executor and every GPU resource it holds. NULL is a no-op. Works on a
/// poisoned handle and after device loss. Batches still in flight are abandoned: their
/// outputs are never written, and wgpu frees their memory once the GPU is done with it.
///
/// The handle must not be used afterwards, and no other thread may be using it during the
/// call.
///
/// # Safety
/// `exec` must be NULL or come from `gpu_executor_create` and not be destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_destroy(exec: *mut gpu_executor_t) {
    ffi_boundary!((), {
        fault::checkpoint("gpu_executor_destroy");
        if !exec.is_null() {
            drop(Box::from_raw(exec));
        }
    })
}

/// Runs a batch of tasks and blocks until every output holds its result.
///
/// - `tasks`: `count` tasks, read during the call only; may be NULL when `count` is 0.
///   Every task is validated before any GPU work; each task's input arrays are read during
///   the call and its output written only if the whole batch succeeds (on any error no
///   output is touched, with one exception: a batch of host data over about a million
///   elements is copied out part by part as the GPU completes them, and `DEVICE_LOST`
///   during that leaves the parts already copied out holding their results).
///
/// Errors: `NULL_POINTER` (exec, tasks with count > 0, a task pointer with length > 0),
/// `UNKNOWN_OP`, `INVALID_ARGUMENT`, `SIZE_OVERFLOW`, `MISALIGNED_POINTER`, `ALIASING`
/// (an output overlapping an input or another output), `GPU_ERROR`, `OUT_OF_MEMORY`,
/// `DEVICE_LOST`, `POISONED`, `TIMED_OUT` (the GPU took longer than the options'
/// `wait_timeout_ns`; no output written); `ALIASING` also when an input or output overlaps
/// an output of a batch still in flight on this handle (an unfinished ticket, or another
/// thread's blocking batch). The last-error message names the task and the reason.
/// Thread-safe: concurrent calls on one handle overlap (one thread's copies run while
/// another's batch is on the GPU).
///
/// # Safety
/// Every pointer must be NULL or valid as described above; `exec` must come from
/// `gpu_executor_create` and not be destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_submit_batch(
    exec: *mut gpu_executor_t,
    tasks: *const gpu_task_t,
    count: usize,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_executor_submit_batch", |handle| {
            run_blocking(handle, tasks, count)
        }))
    })
}

/// Runs a caller's batch on `handle` and waits for it, its outputs claimed against every
/// batch in flight meanwhile.
///
/// # Safety
/// As `gpu_executor_submit_batch`'s contract on `tasks` and their pointers.
pub(super) unsafe fn run_blocking(
    handle: &gpu_executor_t,
    tasks: *const gpu_task_t,
    count: usize,
) -> Result<(), S> {
    let mut tasks = task_array(&handle.executor, tasks, count)?;
    let id = flights(handle)?
        .claim(&tasks)
        .map_err(|(status, message)| fail(status, message))?;
    let _claim = Claim::new(&handle.flights, id);
    // After the claim, which checks the caller's arrays against batches in flight.
    handle.executor.place_registered(&mut tasks);
    handle.executor.submit(&mut tasks).map_err(fail_with)
}

/// Converts and checks a caller's task array (NULL allowed when `count` is 0).
///
/// # Safety
/// As `gpu_executor_submit_batch`'s contract on `tasks` and their pointers.
pub(super) unsafe fn task_array<'a>(
    executor: &Executor,
    tasks: *const gpu_task_t,
    count: usize,
) -> Result<Vec<crate::Task<'a>>, S> {
    convert::tasks_from(task_slice(tasks, count)?, executor).map_err(rejected)
}

/// A caller's task array as a slice (NULL allowed when `count` is 0).
///
/// # Safety
/// `tasks` must be NULL or readable for `count` tasks for the returned lifetime.
unsafe fn task_slice<'a>(tasks: *const gpu_task_t, count: usize) -> Result<&'a [gpu_task_t], S> {
    if count == 0 {
        Ok(&[])
    } else if tasks.is_null() {
        Err(fail(
            S::GPU_EXECUTOR_NULL_POINTER,
            format!("tasks is NULL but count is {count}"),
        ))
    } else {
        Ok(std::slice::from_raw_parts(tasks, count))
    }
}

/// What warm-up needs of `count` tasks.
///
/// # Safety
/// `tasks` must be NULL or readable for `count` tasks.
unsafe fn warmup_items(
    tasks: *const gpu_task_t,
    count: usize,
) -> Result<Vec<crate::executor::WarmupItem>, S> {
    task_slice(tasks, count)?
        .iter()
        .enumerate()
        .map(|(i, t)| convert::warmup_item(i, t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(rejected)
}

/// Copies the executor's counters into `*out`.
///
/// `out->struct_size` must be set to `sizeof(gpu_executor_stats_t)` by the caller; `*out`
/// is written only on success. Errors: `NULL_POINTER`, `BAD_STRUCT_SIZE`, `POISONED`.
/// Thread-safe.
///
/// # Safety
/// Every pointer must be NULL or valid as described above; `exec` must come from
/// `gpu_executor_create` and not be destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_stats(
    exec: *mut gpu_executor_t,
    out: *mut gpu_executor_stats_t,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_executor_stats", |handle| {
            if out.is_null() {
                return Err(fail(S::GPU_EXECUTOR_NULL_POINTER, "stats out pointer is NULL"));
            }
            let size = versioned_size::<gpu_executor_stats_t>(
                "stats",
                std::ptr::read_unaligned(out.cast::<u32>()),
                &[
                    convert::STATS_SIZE_V3,
                    convert::STATS_SIZE_V4,
                    convert::STATS_SIZE_V5,
                    convert::STATS_SIZE_V6,
                    convert::STATS_SIZE_V7,
                    convert::STATS_SIZE_V8,
                ],
                "",
            )?;
            let executor = &handle.executor;
            let stats = convert::stats_to_c(executor, &executor.stats());
            // SAFETY: the caller's struct holds `size` writable bytes, a prefix of ours.
            write_prefix(&stats, out.cast::<u8>(), size);
            Ok(())
        }))
    })
}

/// Compiles now the pipelines that batches of tasks like these will need, so that the
/// first real batch compiles nothing (the stats' `bucket_cache_misses` and
/// `pipelines_created` do not move): for each task, its op at its element type for the
/// size bucket of its `length` (a matmul: the class of its M×N in `params`), and, where
/// its flags put every operand of an element-wise op or a reduction's result in buffers,
/// the kernel that works on buffers directly. Only `op`, `flags`, `length` and a matmul's
/// `params` are read; pointers are never read and nothing runs. Under
/// `GPU_STRATEGY_BASELINE` nothing is cached, so nothing is compiled.
///
/// `compiled` (may be NULL) receives the number of pipelines compiled (0 when all were
/// cached already). Errors: `NULL_POINTER` (exec, tasks with count > 0), `UNKNOWN_OP`,
/// `INVALID_ARGUMENT` (an element type the op lacks, or not a `gpu_dtype_t`), `GPU_ERROR`,
/// `OUT_OF_MEMORY`, `DEVICE_LOST`, `POISONED`. Thread-safe; batches may run meanwhile.
///
/// # Safety
/// `tasks` must be NULL or readable for `count` tasks; `compiled` NULL or writable; `exec`
/// must come from `gpu_executor_create` and not be destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_warmup(
    exec: *mut gpu_executor_t,
    tasks: *const gpu_task_t,
    count: usize,
    compiled: *mut u64,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_executor_warmup", |handle| {
            let items = warmup_items(tasks, count)?;
            let n = handle.executor.warmup(&items).map_err(fail_with)?;
            if let Some(compiled) = compiled.as_mut() {
                *compiled = n;
            }
            Ok(())
        }))
    })
}

/// `gpu_executor_warmup` on the executor's warm-up thread: checks the tasks now, queues
/// the compilations and returns at once. The thread (one per executor, started on first
/// use) compiles queued warm-ups in order; batches run meanwhile, and one that needs a
/// pipeline being compiled waits for that compilation only (never compiling it twice),
/// while batches needing other pipelines do not wait at all. Know when it is done with
/// `gpu_executor_warmup_wait`, or from the stats' `pending_warmups` (0) and
/// `async_warmups_completed`. Destroying the executor lets queued warm-ups finish first.
/// Under `GPU_STRATEGY_BASELINE`, or with `count` 0, nothing is queued.
///
/// Only `op`, `flags`, `length` and a matmul's `params` are read, during the call only.
/// Errors (returned here, nothing queued): `NULL_POINTER` (exec, tasks with count > 0),
/// `UNKNOWN_OP`, `INVALID_ARGUMENT`, `DEVICE_LOST`, `POISONED`; errors met while
/// compiling are reported by `gpu_executor_warmup_wait`. Thread-safe.
///
/// # Safety
/// `tasks` must be NULL or readable for `count` tasks; `exec` must come from
/// `gpu_executor_create` and not be destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_warmup_async(
    exec: *mut gpu_executor_t,
    tasks: *const gpu_task_t,
    count: usize,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_executor_warmup_async", |handle| {
            let items = warmup_items(tasks, count)?;
            handle.executor.warmup_async(&items).map_err(fail_with)
        }))
    })
}

/// Waits until every warm-up queued with `gpu_executor_warmup_async` on this executor has
/// finished, at most `timeout_ns` nanoseconds (`UINT64_MAX`: no limit; 0: just check).
///
/// Returns `OK` when none is pending; `compiled` (may be NULL) then receives the number of
/// pipelines they compiled since the last call that returned `OK`. `NOT_READY` (timeout 0)
/// or `TIMED_OUT`: some are still compiling; nothing is written. If a queued warm-up failed,
/// its error (`GPU_ERROR`, `OUT_OF_MEMORY`, `DEVICE_LOST`, ...) is returned once, by the
/// first call after all finished. Other errors: `NULL_POINTER`, `POISONED`. Thread-safe.
///
/// # Safety
/// `compiled` must be NULL or writable; `exec` must come from `gpu_executor_create` and
/// not be destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_warmup_wait(
    exec: *mut gpu_executor_t,
    timeout_ns: u64,
    compiled: *mut u64,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_executor_warmup_wait", |handle| {
            let timeout = match timeout_ns {
                u64::MAX => None,
                ns => Some(std::time::Duration::from_nanos(ns)),
            };
            match handle.executor.wait_warmups(timeout).map_err(fail_with)? {
                Some(n) => {
                    if let Some(compiled) = compiled.as_mut() {
                        *compiled = n;
                    }
                    Ok(())
                }
                None if timeout_ns == 0 => Err(fail(
                    S::GPU_EXECUTOR_NOT_READY,
                    "asynchronous warm-ups are still compiling",
                )),
                None => Err(fail(
                    S::GPU_EXECUTOR_TIMED_OUT,
                    format!("asynchronous warm-ups still compiling after {timeout_ns} ns"),
                )),
            }
        }))
    })
}

/// Gives back the memory the executor keeps for reuse but nothing uses now: idle slabs,
/// the exact-size cache, idle block tables, and the memory of destroyed buffers (a shared
/// arena goes back to the device once no live buffer uses it). Compiled pipelines and live
/// buffers stay; batches in flight keep what they hold; later batches allocate again what
/// they need. `resident_reserved_bytes` in the stats shows the effect on buffer memory.
///
/// Errors: `NULL_POINTER`, `POISONED`. Thread-safe.
///
/// # Safety
/// `exec` must come from `gpu_executor_create` and not be destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_trim(exec: *mut gpu_executor_t) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_executor_trim", |handle| {
            handle.executor.trim().map_err(fail_with)
        }))
    })
}

/// Lists the adapters an executor can run on with `backend` (a `gpu_backend_t`;
/// `GPU_BACKEND_ANY` lists what an executor with no backend preference chooses from: the
/// Vulkan, Metal and Direct3D 12 adapters, or the GL ones when there are none). The index
/// of an adapter in this list is what `gpu_executor_options_t.adapter_index` takes (with
/// the same `backend`); the order is the one the drivers report, stable within a process.
///
/// Writes up to `capacity` entries to `out` (NULL allowed when `capacity` is 0; each
/// entry's `struct_size` must be set to `sizeof(gpu_adapter_info_t)` by the caller, of
/// this or the earlier header without `device_local_bytes`, the same in every entry: it
/// is also the array's stride) and the number of adapters to `*count`: call once with
/// capacity 0 to size the array.
///
/// Errors: `NULL_POINTER` (count, or out with capacity > 0), `BAD_STRUCT_SIZE`,
/// `INVALID_OPTION` (backend not a `gpu_backend_t`). Nothing is written on error.
/// Thread-safe. Loads the drivers on first use, as creating an executor does.
///
/// # Safety
/// `out` must be NULL or writable for `capacity` entries; `count` must be writable.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_enumerate_adapters(
    backend: u32,
    out: *mut gpu_adapter_info_t,
    capacity: usize,
    count: *mut usize,
) -> gpu_executor_status_t {
    ffi_boundary!({
        last_error::clear();
        fault::checkpoint("gpu_executor_enumerate_adapters");
        if count.is_null() {
            return fail(S::GPU_EXECUTOR_NULL_POINTER, "count is NULL");
        }
        if out.is_null() && capacity > 0 {
            return fail(
                S::GPU_EXECUTOR_NULL_POINTER,
                format!("out is NULL but capacity is {capacity}"),
            );
        }
        let choice = match convert::backend_choice(backend) {
            Ok(choice) => choice,
            Err(r) => return rejected(r),
        };
        let adapters = crate::device::adapters(choice);
        let written = adapters.len().min(capacity);
        // The entries' size is the caller's: this header's or the earlier one's.
        let stride = match written {
            0 => 0,
            _ => match adapter_info_size(std::ptr::read_unaligned(out.cast::<u32>())) {
                Ok(size) => size,
                Err(status) => return status,
            },
        };
        let base = out.cast::<u8>();
        for i in 0..written {
            // SAFETY: out is writable for capacity entries of `stride` bytes (contract),
            // i < capacity.
            let size = std::ptr::read_unaligned(base.add(i * stride).cast::<u32>()) as usize;
            if size != stride {
                return fail(
                    S::GPU_EXECUTOR_BAD_STRUCT_SIZE,
                    format!("out[{i}].struct_size is {size}, but out[0]'s is {stride}"),
                );
            }
        }
        for (i, adapter) in adapters.iter().take(written).enumerate() {
            let memory = crate::host_memory::device_local_bytes(adapter).unwrap_or(0);
            let info = convert::adapter_info_to_c(&adapter.get_info(), memory);
            write_prefix(&info, base.add(i * stride), stride);
        }
        *count = adapters.len();
        S::GPU_EXECUTOR_OK
    })
}

/// Reads a caller's options, which may be an earlier, shorter version of the struct.
///
/// # Safety
/// `options` must point to a readable options struct of the size its `struct_size` says.
unsafe fn read_options(
    options: *const gpu_executor_options_t,
) -> Result<gpu_executor_options_t, S> {
    // Read struct_size alone first: an older caller's struct may be shorter.
    let current = std::mem::size_of::<gpu_executor_options_t>();
    let size = versioned_size::<gpu_executor_options_t>(
        "options",
        std::ptr::read_unaligned(options.cast::<u32>()),
        &[
            convert::OPTIONS_SIZE_V1,
            convert::OPTIONS_SIZE_V2,
            convert::OPTIONS_SIZE_V3,
            convert::OPTIONS_SIZE_V4,
            convert::OPTIONS_SIZE_V5,
            convert::OPTIONS_SIZE_V6,
        ],
        "; start from gpu_executor_options_default()",
    )?;
    if size == current {
        return Ok(*options);
    }
    let mut read = convert::default_options();
    // SAFETY: the caller's struct holds `size` readable bytes, a prefix of ours.
    std::ptr::copy_nonoverlapping(
        options.cast::<u8>(),
        std::ptr::addr_of_mut!(read).cast::<u8>(),
        size,
    );
    read.struct_size = current as u32;
    Ok(read)
}

/// A caller's `struct_size` for a `T`: this header's size or one of the `earlier` headers'
/// (`BAD_STRUCT_SIZE`, naming them and ending in `hint`, otherwise).
fn versioned_size<T>(what: &str, size: u32, earlier: &[usize], hint: &str) -> Result<usize, S> {
    let size = size as usize;
    let current = std::mem::size_of::<T>();
    if size == current || earlier.contains(&size) {
        return Ok(size);
    }
    Err(fail(
        S::GPU_EXECUTOR_BAD_STRUCT_SIZE,
        format!(
            "{what} struct_size is {size}, expected {current} (or {earlier:?} from an earlier header){hint}"
        ),
    ))
}

/// The size of a caller's `gpu_adapter_info_t`: this header's or the earlier one's.
fn adapter_info_size(size: u32) -> Result<usize, S> {
    versioned_size::<gpu_adapter_info_t>("adapter info", size, &[convert::ADAPTER_INFO_SIZE_V1], "")
}

/// Writes the first `size` bytes of `value` (its `struct_size` set to `size`) to `dst`.
///
/// # Safety
/// `dst` must be writable for `size` bytes, `size` at most `size_of::<T>()`, and `T`'s
/// first field a `u32` struct size.
unsafe fn write_prefix<T: Copy>(value: &T, dst: *mut u8, size: usize) {
    let mut copy = *value;
    std::ptr::write_unaligned(std::ptr::addr_of_mut!(copy).cast::<u32>(), size as u32);
    std::ptr::copy_nonoverlapping(std::ptr::addr_of!(copy).cast::<u8>(), dst, size);
}

/// Reports the sizes (in elements) of the buckets whose pipelines are cached, ascending.
///
/// Writes up to `capacity` sizes to `sizes` (which may be NULL when `capacity` is 0) and
/// the total number of cached buckets to `*count`. Call once with capacity 0 to size the
/// array. Errors: `NULL_POINTER` (exec, count, or sizes with capacity > 0), `POISONED`.
/// Thread-safe.
///
/// # Safety
/// Every pointer must be NULL or valid as described above; `exec` must come from
/// `gpu_executor_create` and not be destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_bucket_sizes(
    exec: *mut gpu_executor_t,
    sizes: *mut u64,
    capacity: usize,
    count: *mut usize,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_executor_bucket_sizes", |handle| {
            if count.is_null() || (sizes.is_null() && capacity > 0) {
                return Err(fail(
                    S::GPU_EXECUTOR_NULL_POINTER,
                    "count, or sizes with capacity > 0, is NULL",
                ));
            }
            let buckets = handle.executor.bucket_sizes();
            if capacity > 0 {
                let dst = std::slice::from_raw_parts_mut(sizes, capacity);
                for (d, s) in dst.iter_mut().zip(&buckets) {
                    *d = *s;
                }
            }
            *count = buckets.len();
            Ok(())
        }))
    })
}

/// Describes the adapter the executor runs on. `out->struct_size` must be set to
/// `sizeof(gpu_adapter_info_t)` (of this header, or of the earlier one without
/// `device_local_bytes`: the fields it has are written); `*out` is written only on
/// success.
/// Errors: `NULL_POINTER`, `BAD_STRUCT_SIZE`, `POISONED`. Thread-safe.
///
/// # Safety
/// Every pointer must be NULL or valid as described above; `exec` must come from
/// `gpu_executor_create` and not be destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_adapter_info(
    exec: *mut gpu_executor_t,
    out: *mut gpu_adapter_info_t,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_executor_adapter_info", |handle| {
            if out.is_null() {
                return Err(fail(
                    S::GPU_EXECUTOR_NULL_POINTER,
                    "adapter info out pointer is NULL",
                ));
            }
            let size = adapter_info_size(std::ptr::read_unaligned(out.cast::<u32>()))?;
            let executor = &handle.executor;
            let info =
                convert::adapter_info_to_c(executor.adapter_info(), executor.device_local_bytes());
            write_prefix(&info, out.cast::<u8>(), size);
            Ok(())
        }))
    })
}

/// Prints the diagnostic lines to standard error, as the seed does (standard output is
/// the host program's): `[gpu] Bucket cache: N buckets cached: [...]`,
/// `[gpu] va_cache: N exact-size entries`, `[gpu] Buffer pool hit rate: P%`, then, when
/// resident buffers were created, `[gpu] Resident buffers: N live (B bytes), R bytes
/// reserved; memory reuse P%; D direct dispatches`, and when kernels were registered,
/// `[gpu] User kernels: N registered: [...]; P pipelines cached in all`, and once the
/// idle-memory cap evicted something or the in-flight budget refused a batch,
/// `[gpu] Idle memory: B of C bytes held (pool P, va_cache E, tables T); evicted:`
/// `pool X, va_cache Y, tables Z (F bytes); in flight: I bytes, R async batches refused`
/// (one line). All lines go out
/// in one write. `gpu_executor_format_stats` gives the same text in a buffer, to route
/// elsewhere. A failing write (a closed stderr) is ignored. Errors: `NULL_POINTER`,
/// `POISONED`. Thread-safe.
///
/// # Safety
/// Every pointer must be NULL or valid as described above; `exec` must come from
/// `gpu_executor_create` and not be destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_print_stats(
    exec: *mut gpu_executor_t,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_executor_print_stats", |handle| {
            use std::io::Write;
            let text = stats_text(&handle.executor);
            // Diagnostics: nothing to do about a stderr that cannot be written.
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
            Ok(())
        }))
    })
}

/// The diagnostic lines, each ending in a newline.
fn stats_text(executor: &Executor) -> String {
    executor
        .stats_lines()
        .into_iter()
        .map(|line| line + "\n")
        .collect()
}

/// Formats the lines `gpu_executor_print_stats` prints (each ending in `\n`) into `buf`,
/// snprintf-style: writes at most `capacity` bytes including a terminating NUL (the text is
/// cut if it does not fit; nothing is written when `capacity` is 0, and `buf` may then be
/// NULL) and sets `*length` to the whole text's length without the NUL. A call with
/// `capacity` 0 sizes the buffer: `*length + 1` bytes hold it all.
///
/// Errors: `NULL_POINTER` (exec, length, or buf with capacity > 0), `POISONED`; `*length`
/// and `buf` are written only on success. Thread-safe.
///
/// # Safety
/// `buf` must be NULL or writable for `capacity` bytes; `length` must be writable; `exec`
/// must come from `gpu_executor_create` and not be destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_format_stats(
    exec: *mut gpu_executor_t,
    buf: *mut c_char,
    capacity: usize,
    length: *mut usize,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_executor_format_stats", |handle| {
            if length.is_null() {
                return Err(fail(S::GPU_EXECUTOR_NULL_POINTER, "length is NULL"));
            }
            if buf.is_null() && capacity > 0 {
                return Err(fail(
                    S::GPU_EXECUTOR_NULL_POINTER,
                    format!("buf is NULL but capacity is {capacity}"),
                ));
            }
            let text = stats_text(&handle.executor);
            if capacity > 0 {
                let n = text.len().min(capacity - 1);
                // SAFETY: buf is writable for capacity bytes (contract), n + 1 <= capacity.
                std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), n);
                *buf.add(n) = 0;
            }
            *length = text.len();
            Ok(())
        }))
    })
}

/// A static, NUL-terminated description of `status` ("unknown status code" for values this
/// version does not know). Never NULL; do not free. Thread-safe.
#[no_mangle]
pub extern "C" fn gpu_executor_status_str(status: i32) -> *const c_char {
    ffi_boundary!(describe_ptr(-1), {
        fault::checkpoint("gpu_executor_status_str");
        describe_ptr(status)
    })
}

/// The detail of the last failed call on this thread ("" if the last call succeeded).
/// Never NULL. The string is owned by the library and valid until the next call into the
/// library on this thread; copy it to keep it.
#[no_mangle]
pub extern "C" fn gpu_executor_last_error_message() -> *const c_char {
    ffi_boundary!(c"".as_ptr(), {
        fault::checkpoint("gpu_executor_last_error_message");
        last_error::as_ptr()
    })
}

/// The library version, e.g. "0.1.0" (equal to the `GPU_EXECUTOR_VERSION_*` macros of a
/// matching header). Static; never NULL; do not free. Thread-safe.
#[no_mangle]
pub extern "C" fn gpu_executor_version() -> *const c_char {
    ffi_boundary!(c"".as_ptr(), {
        fault::checkpoint("gpu_executor_version");
        CStr::from_bytes_with_nul(VERSION_CSTR.as_bytes()).map_or(c"".as_ptr(), CStr::as_ptr)
    })
}
