//! Status codes: explicit values, only ever appended to.

use std::ffi::c_char;

use crate::error::ErrorKind;

/// Result of every fallible call. `GPU_EXECUTOR_OK` is zero; every other value names one
/// kind of failure, and `gpu_executor_last_error_message()` gives the detail.
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum gpu_executor_status_t {
    /// Success.
    GPU_EXECUTOR_OK = 0,
    /// A required pointer argument (handle, array, task input/output) was NULL.
    GPU_EXECUTOR_NULL_POINTER = 1,
    /// A malformed argument: lengths disagree, nonzero reserved fields, unused inputs set.
    GPU_EXECUTOR_INVALID_ARGUMENT = 2,
    /// A task's op code is not a known `gpu_op_t`.
    GPU_EXECUTOR_UNKNOWN_OP = 3,
    /// An options or out-struct's `struct_size` does not match this library's.
    GPU_EXECUTOR_BAD_STRUCT_SIZE = 4,
    /// An element count whose size in bytes overflows the address space.
    GPU_EXECUTOR_SIZE_OVERFLOW = 5,
    /// A task's output overlaps an input or another task's output, or a task reads or
    /// writes memory that a batch still in flight on this handle will write.
    GPU_EXECUTOR_ALIASING = 6,
    /// No adapter matched the requested backend, power preference or `WGPU_ADAPTER_NAME`.
    GPU_EXECUTOR_NO_ADAPTER = 7,
    /// The adapter refused to create a device.
    GPU_EXECUTOR_DEVICE_REQUEST_FAILED = 8,
    /// wgpu reported a validation or internal error; the message holds its text.
    GPU_EXECUTOR_GPU_ERROR = 9,
    /// GPU or host memory ran out.
    GPU_EXECUTOR_OUT_OF_MEMORY = 10,
    /// The device was lost; destroy the executor and create a new one.
    GPU_EXECUTOR_DEVICE_LOST = 11,
    /// A bug inside the library panicked; the panic was caught at the boundary.
    GPU_EXECUTOR_PANIC = 12,
    /// A task pointer is not aligned to its element type.
    GPU_EXECUTOR_MISALIGNED_POINTER = 13,
    /// An options field holds a value outside its enum.
    GPU_EXECUTOR_INVALID_OPTION = 14,
    /// An earlier panic left this executor unusable; destroy it.
    GPU_EXECUTOR_POISONED = 15,
    /// The ticket's batch has not completed yet (poll, or wait that timed out); try again.
    GPU_EXECUTOR_NOT_READY = 16,
    /// The ticket was never issued by this executor, or was already spent (completed,
    /// successfully or not).
    GPU_EXECUTOR_UNKNOWN_TICKET = 17,
    /// The GPU did not finish within `gpu_executor_options_t.wait_timeout_ns`. A blocking
    /// batch's results are abandoned (no output written); a ticket stays valid.
    GPU_EXECUTOR_TIMED_OUT = 18,
    /// `gpu_executor_register_kernel`: the WGSL does not compile, has no such compute entry
    /// point, or its bindings do not match the description; the message has the compiler's
    /// text with line and column. Nothing was registered.
    GPU_EXECUTOR_INVALID_KERNEL = 19,
    /// A `gpu_buffer_t` that this executor never created, or that was destroyed (handles
    /// are never reused, so a stale one is always caught). Nothing was written.
    GPU_EXECUTOR_INVALID_BUFFER = 20,
    /// A `gpu_buffer_t` created by another executor. Nothing was written.
    GPU_EXECUTOR_FOREIGN_BUFFER = 21,
    /// A buffer region (offset + the elements read or written) reaches past the buffer's
    /// end. Nothing was written.
    GPU_EXECUTOR_OUT_OF_BOUNDS = 22,
    /// A buffer's element type is not the task's (or the call's). Nothing was written.
    GPU_EXECUTOR_TYPE_MISMATCH = 23,
    /// A task reads a buffer region that a later task of the same batch writes: tasks
    /// run in batch order, so the read would have no defined value. The message names both
    /// tasks. Nothing ran.
    GPU_EXECUTOR_DEPENDENCY = 24,
    /// `gpu_executor_submit_batch_async`: the batch would take the memory of asynchronous
    /// batches in flight past `gpu_executor_options_t.max_in_flight_bytes`. Nothing was
    /// submitted and the ticket was not written; wait for (or drop) an earlier ticket, then
    /// submit again.
    GPU_EXECUTOR_OVER_BUDGET = 25,
    /// The device or backend cannot do what was asked: `gpu_executor_register_host_memory`
    /// on a device without `VK_EXT_external_memory_host` (every backend but Vulkan, and
    /// Vulkan drivers that lack it). Nothing changed; batches still run, with copies.
    GPU_EXECUTOR_UNSUPPORTED = 26,
}

use gpu_executor_status_t as S;

impl From<ErrorKind> for gpu_executor_status_t {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidArgument => S::GPU_EXECUTOR_INVALID_ARGUMENT,
            ErrorKind::UnknownOp => S::GPU_EXECUTOR_UNKNOWN_OP,
            ErrorKind::SizeOverflow => S::GPU_EXECUTOR_SIZE_OVERFLOW,
            ErrorKind::Aliasing => S::GPU_EXECUTOR_ALIASING,
            ErrorKind::NoAdapter => S::GPU_EXECUTOR_NO_ADAPTER,
            ErrorKind::DeviceRequestFailed => S::GPU_EXECUTOR_DEVICE_REQUEST_FAILED,
            ErrorKind::Gpu => S::GPU_EXECUTOR_GPU_ERROR,
            ErrorKind::OutOfMemory => S::GPU_EXECUTOR_OUT_OF_MEMORY,
            ErrorKind::DeviceLost => S::GPU_EXECUTOR_DEVICE_LOST,
            ErrorKind::Poisoned => S::GPU_EXECUTOR_POISONED,
            ErrorKind::TimedOut => S::GPU_EXECUTOR_TIMED_OUT,
            ErrorKind::InvalidKernel => S::GPU_EXECUTOR_INVALID_KERNEL,
            ErrorKind::InvalidBuffer => S::GPU_EXECUTOR_INVALID_BUFFER,
            ErrorKind::ForeignBuffer => S::GPU_EXECUTOR_FOREIGN_BUFFER,
            ErrorKind::OutOfBounds => S::GPU_EXECUTOR_OUT_OF_BOUNDS,
            ErrorKind::TypeMismatch => S::GPU_EXECUTOR_TYPE_MISMATCH,
            ErrorKind::Dependency => S::GPU_EXECUTOR_DEPENDENCY,
            ErrorKind::Unsupported => S::GPU_EXECUTOR_UNSUPPORTED,
            ErrorKind::OverBudget => S::GPU_EXECUTOR_OVER_BUDGET,
        }
    }
}

/// NUL-terminated static description of a status code.
pub fn describe(code: i32) -> &'static [u8] {
    match code {
        0 => b"ok\0",
        1 => b"null pointer\0",
        2 => b"invalid argument\0",
        3 => b"unknown op code\0",
        4 => b"struct_size mismatch\0",
        5 => b"size overflow\0",
        6 => b"output aliases another buffer\0",
        7 => b"no matching GPU adapter\0",
        8 => b"device request failed\0",
        9 => b"GPU error\0",
        10 => b"out of memory\0",
        11 => b"device lost\0",
        12 => b"internal panic\0",
        13 => b"misaligned pointer\0",
        14 => b"invalid option value\0",
        15 => b"executor poisoned by an earlier panic\0",
        16 => b"not ready\0",
        17 => b"unknown ticket\0",
        18 => b"timed out waiting for the GPU\0",
        19 => b"invalid kernel\0",
        20 => b"invalid or destroyed buffer\0",
        21 => b"buffer of another executor\0",
        22 => b"buffer region out of bounds\0",
        23 => b"buffer element type mismatch\0",
        24 => b"task reads what a later task writes\0",
        25 => b"over the in-flight memory budget\0",
        26 => b"not supported by this device or backend\0",
        _ => b"unknown status code\0",
    }
}

pub fn describe_ptr(code: i32) -> *const c_char {
    describe(code).as_ptr().cast()
}
