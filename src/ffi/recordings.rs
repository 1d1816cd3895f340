//! Recorded batches at the C boundary: record once, submit many times.

use super::api::{fail, fail_with, flights, status_of, task_array, with_handle};
use super::last_error;
use super::status::{gpu_executor_status_t, gpu_executor_status_t as S};
use super::tickets::{Claim, InFlight, OutputPointers};
use super::types::{gpu_executor_t, gpu_recording_t, gpu_task_t, gpu_ticket_t};
use crate::{Task, TaskInputs};

/// Checks a recording pointer.
///
/// # Safety
/// `recording` must be NULL or come from `gpu_executor_record` and not be destroyed yet.
unsafe fn recording_ref<'a>(recording: *const gpu_recording_t) -> Result<&'a gpu_recording_t, S> {
    recording
        .as_ref()
        .ok_or_else(|| fail(S::GPU_EXECUTOR_NULL_POINTER, "recording is NULL"))
}

/// Records a batch to be submitted later, as often as wanted, for the cost of one submit:
/// the tasks are checked, ordered and planned now, and their dispatch tables go to the GPU
/// now; each `gpu_recording_submit` then encodes the recorded dispatches and submits them,
/// however many tasks there are. Nothing of the tasks runs here.
///
/// - `tasks`: `count` tasks as for `gpu_executor_submit_batch`, read during the call only.
///   Every task must be a built-in element-wise op whose inputs and output are all buffer
///   regions (`GPU_TASK_INPUTk_BUFFER`, `GPU_TASK_OUTPUT_BUFFER`), each buffer fitting one
///   storage binding; the batch rules of docs/BUFFERS.md apply (a task may read what an
///   earlier one writes).
/// - `out`: receives the recording; untouched on failure. It holds its buffers' memory
///   until destroyed (a buffer destroyed meanwhile is not reused, but submitting the
///   recording then fails with `INVALID_BUFFER`).
///
/// Errors: as `gpu_executor_submit_batch`'s checks, plus `INVALID_ARGUMENT` for a task that
/// cannot be recorded (any host operand, a reduction, matmul or registered kernel) or an
/// executor with `GPU_STRATEGY_BASELINE`, and `NULL_POINTER` for `out`. Thread-safe.
///
/// # Safety
/// Every pointer must be NULL or valid as described; `exec` must come from
/// `gpu_executor_create` and not be destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_record(
    exec: *mut gpu_executor_t,
    tasks: *const gpu_task_t,
    count: usize,
    out: *mut *mut gpu_recording_t,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_executor_record", |handle| {
            if out.is_null() {
                return Err(fail(S::GPU_EXECUTOR_NULL_POINTER, "out is NULL"));
            }
            let tasks = task_array(&handle.executor, tasks, count)?;
            let inputs: Vec<TaskInputs> = tasks.iter().map(Task::inputs).collect();
            let recording = handle.executor.record(&inputs).map_err(fail_with)?;
            *out = Box::into_raw(Box::new(gpu_recording_t { recording }));
            Ok(())
        }))
    })
}

/// Runs a recording and blocks until its tasks are done: one submit, its dispatches in
/// one compute pass. The tasks read and write the buffers as they are at this call, in
/// order with every other batch and buffer operation (docs/BUFFERS.md).
///
/// Errors: `NULL_POINTER`, `INVALID_ARGUMENT` (a recording of another executor),
/// `INVALID_BUFFER` (one of its buffers was destroyed), `GPU_ERROR`, `OUT_OF_MEMORY`,
/// `DEVICE_LOST`, `TIMED_OUT`, `POISONED`. Thread-safe: one recording may be submitted
/// from several threads at once.
///
/// # Safety
/// `exec` must come from `gpu_executor_create` and `recording` from `gpu_executor_record`
/// on it, neither destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn gpu_recording_submit(
    exec: *mut gpu_executor_t,
    recording: *const gpu_recording_t,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_recording_submit", |handle| {
            let recording = recording_ref(recording)?;
            let executor = &handle.executor;
            let pending = executor
                .launch_recording(&recording.recording)
                .map_err(fail_with)?;
            executor.finish(pending, &mut []).map_err(fail_with)
        }))
    })
}

/// Submits a recording without waiting: `*ticket` completes through `gpu_executor_wait`
/// or `gpu_executor_poll` once its tasks are done (there are no host outputs to write).
/// Several submissions of one recording may be in flight at once; they run in order.
///
/// Errors: as `gpu_recording_submit`, plus `NULL_POINTER` for `ticket`. Thread-safe.
///
/// # Safety
/// As `gpu_recording_submit`; `ticket` must be writable.
#[no_mangle]
pub unsafe extern "C" fn gpu_recording_submit_async(
    exec: *mut gpu_executor_t,
    recording: *const gpu_recording_t,
    ticket: *mut gpu_ticket_t,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_recording_submit_async", |handle| {
            let recording = recording_ref(recording)?;
            if ticket.is_null() {
                return Err(fail(S::GPU_EXECUTOR_NULL_POINTER, "ticket is NULL"));
            }
            let id = flights(handle)?
                .claim(&[])
                .map_err(|(status, message)| fail(status, message))?;
            // Until the ticket is issued, the claim is released on every way out.
            let claim = Claim::new(&handle.flights, id);
            let batch = handle
                .executor
                .launch_recording(&recording.recording)
                .map_err(fail_with)?;
            let outputs = OutputPointers::new(std::iter::empty());
            flights(handle)?.issue(id, InFlight { batch, outputs });
            std::mem::forget(claim);
            *ticket = id;
            Ok(())
        }))
    })
}

/// Destroys a recording and lets go of its buffers' memory. NULL is a no-op. Submissions
/// already made are unaffected. May be called after its executor was destroyed; no other
/// thread may be using the recording during the call.
///
/// # Safety
/// `recording` must be NULL or come from `gpu_executor_record` and not be destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn gpu_recording_destroy(recording: *mut gpu_recording_t) {
    ffi_boundary!((), {
        if !recording.is_null() {
            drop(Box::from_raw(recording));
        }
    })
}
