//! Asynchronous batches: submit now, collect the results later through a ticket.

use std::time::Duration;

use super::api::{fail, fail_with, flights, status_of, task_array, with_handle};
use super::last_error;
use super::status::{gpu_executor_status_t, gpu_executor_status_t as S};
use super::tickets::{Claim, InFlight, OutputPointers};
use super::types::{gpu_executor_t, gpu_task_t, gpu_ticket_t};
use crate::{Task, TaskInputs};

/// Validates a batch, copies every input into GPU staging memory and submits it, without
/// waiting for the GPU. On success `*ticket` identifies the batch.
///
/// - `tasks`: as for `gpu_executor_submit_batch`. The task array and every input array are
///   read during the call only: they may be reused or freed as soon as it returns. Inputs
///   in registered host memory (`gpu_executor_register_host_memory`) are the exception:
///   the GPU reads them in place, so they must stay unchanged until the ticket completes.
/// - Each task's output must stay valid, and must not be read or written by the caller,
///   until the ticket completes through `gpu_executor_wait` or `gpu_executor_poll`, which
///   write the results into it (an output in registered host memory is written by the GPU
///   in place). Destroying the executor first abandons the results (registered outputs
///   are written all the same, before the destruction returns).
/// - `ticket`: receives the ticket (never 0); untouched on failure.
///
/// Errors: as `gpu_executor_submit_batch` (all checked before anything is submitted), plus
/// `NULL_POINTER` for `ticket`, and `OVER_BUDGET` when the batch's slab memory would take
/// the asynchronous batches in flight past the options' `max_in_flight_bytes` (nothing is
/// submitted and the outputs are free again; wait for or drop an earlier ticket, then
/// submit again — it never blocks, since only spending a ticket frees its memory).
/// Thread-safe; several batches may be in flight at once.
///
/// # Safety
/// Every pointer must be NULL or valid as described above; `exec` must come from
/// `gpu_executor_create` and not be destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_submit_batch_async(
    exec: *mut gpu_executor_t,
    tasks: *const gpu_task_t,
    count: usize,
    ticket: *mut gpu_ticket_t,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_executor_submit_batch_async", |handle| {
            if ticket.is_null() {
                return Err(fail(
                    S::GPU_EXECUTOR_NULL_POINTER,
                    "ticket out pointer is NULL",
                ));
            }
            *ticket = run_async(handle, tasks, count)?;
            Ok(())
        }))
    })
}

/// Launches a caller's batch on `handle` and returns its ticket.
///
/// # Safety
/// As `gpu_executor_submit_batch_async`'s contract on `tasks` and their pointers.
pub(super) unsafe fn run_async(
    handle: &gpu_executor_t,
    tasks: *const gpu_task_t,
    count: usize,
) -> Result<gpu_ticket_t, S> {
    let mut tasks = task_array(&handle.executor, tasks, count)?;
    let id = flights(handle)?
        .claim(&tasks)
        .map_err(|(status, message)| fail(status, message))?;
    // Until the ticket is issued, the claim is released on every way out.
    let claim = Claim::new(&handle.flights, id);
    // After the claim, which checks the caller's arrays against batches in flight; before
    // the output pointers are kept: a registered output is written by the GPU, not copied.
    handle.executor.place_registered(&mut tasks);
    let inputs: Vec<TaskInputs> = tasks.iter().map(Task::inputs).collect();
    let batch = handle.executor.launch_async(&inputs).map_err(fail_with)?;
    let outputs = OutputPointers::new(
        tasks
            .iter_mut()
            .map(|t| (t.output.as_mut_ptr(), t.output.len())),
    );
    let mut table = flights(handle)?;
    table.issue(id, InFlight { batch, outputs });
    std::mem::forget(claim);
    drop(table);
    Ok(id)
}

/// Waits up to `timeout_ns` nanoseconds for the ticket's batch (`UINT64_MAX`: no limit;
/// 0: only checks). When it has completed, copies its results into the outputs given at
/// submission and returns `GPU_EXECUTOR_OK`: the ticket is then spent.
///
/// Returns `NOT_READY` when the time ran out (the ticket stays valid: wait again or poll);
/// with `UINT64_MAX` and the options' `wait_timeout_ns` set, `TIMED_OUT` once that limit
/// passed (the ticket stays valid too). `UNKNOWN_TICKET` for a ticket this executor never
/// issued (another executor's included) or already spent. The batch's own error
/// (`DEVICE_LOST`, `GPU_ERROR`, …) spends the ticket: no output is written, its memory is
/// released, and waiting again gives `UNKNOWN_TICKET`. The executor stays usable by other
/// threads while this one waits, and no lock is held while waiting. Thread-safe; if several
/// threads wait on one ticket, one gets its result, the others `UNKNOWN_TICKET`.
///
/// # Safety
/// `exec` must come from `gpu_executor_create` and not be destroyed yet; the ticket's
/// outputs must still be valid (see `gpu_executor_submit_batch_async`).
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_wait(
    exec: *mut gpu_executor_t,
    ticket: gpu_ticket_t,
    timeout_ns: u64,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        let timeout = match timeout_ns {
            u64::MAX => None,
            ns => Some(Duration::from_nanos(ns)),
        };
        status_of(complete(exec, "gpu_executor_wait", ticket, timeout))
    })
}

/// `gpu_executor_wait` with a timeout of 0: `OK` (results written) if the batch has
/// completed, else `NOT_READY`. Never blocks on the GPU or behind another thread's batch:
/// it takes internal locks only briefly. Same errors and safety.
///
/// # Safety
/// As `gpu_executor_wait`.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_poll(
    exec: *mut gpu_executor_t,
    ticket: gpu_ticket_t,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(complete(exec, "gpu_executor_poll", ticket, Some(Duration::ZERO)))
    })
}

fn unknown(ticket: gpu_ticket_t) -> S {
    fail(
        S::GPU_EXECUTOR_UNKNOWN_TICKET,
        format!("ticket {ticket} is not in flight on this executor"),
    )
}

/// Waits (holding no lock), then copies the results out. Every way out but `NOT_READY` and
/// `TIMED_OUT` spends the ticket.
unsafe fn complete(
    exec: *mut gpu_executor_t,
    entry: &str,
    ticket: gpu_ticket_t,
    timeout: Option<Duration>,
) -> Result<(), S> {
    with_handle(exec, entry, |handle| {
        let executor = &handle.executor;
        let waiter = {
            let table = flights(handle)?;
            let in_flight = table.get(ticket).ok_or_else(|| unknown(ticket))?;
            executor.waiter(&in_flight.batch)
        };
        // "No limit" is bounded by the executor's wait limit, when it has one.
        let limit = timeout.or(executor.config().wait_timeout);
        match waiter.wait(limit) {
            Ok(true) => {}
            Ok(false) if timeout.is_some() => {
                return Err(fail(
                    S::GPU_EXECUTOR_NOT_READY,
                    format!("ticket {ticket} has not completed yet"),
                ))
            }
            Ok(false) => {
                return Err(fail(
                    S::GPU_EXECUTOR_TIMED_OUT,
                    format!(
                        "ticket {ticket}: the GPU did not finish within the wait limit; the ticket stays valid"
                    ),
                ))
            }
            Err(error) => {
                // The batch will never complete: spend the ticket, free what it holds.
                drop(flights(handle)?.take(ticket));
                return Err(fail_with(error));
            }
        }
        let in_flight = flights(handle)?
            .take(ticket)
            .ok_or_else(|| unknown(ticket))?;
        // SAFETY: the caller kept the outputs valid and untouched (documented contract);
        // they were checked disjoint at submission.
        let mut outputs = in_flight.outputs.as_slices();
        executor
            .finish(in_flight.batch, &mut outputs)
            .map_err(fail_with)
    })
}

/// Abandons a ticket's batch: its outputs are never written, the ticket is spent, and the
/// memory the batch holds is released (wgpu frees it once the GPU is done with it) instead
/// of waiting in the ticket until the executor is destroyed. The outputs may be reused or
/// freed as soon as this returns.
///
/// Errors: `NULL_POINTER`, `UNKNOWN_TICKET` (never issued here, or spent), `POISONED`.
/// Thread-safe.
///
/// # Safety
/// `exec` must come from `gpu_executor_create` and not be destroyed yet.
#[no_mangle]
pub unsafe extern "C" fn gpu_executor_drop_ticket(
    exec: *mut gpu_executor_t,
    ticket: gpu_ticket_t,
) -> gpu_executor_status_t {
    ffi_boundary!(handle exec, {
        last_error::clear();
        status_of(with_handle(exec, "gpu_executor_drop_ticket", |handle| {
            let in_flight = flights(handle)?.take(ticket).ok_or_else(|| unknown(ticket))?;
            drop(in_flight);
            Ok(())
        }))
    })
}
