//! Errors of the safe core. The C boundary maps each kind to one status code.

use std::fmt;

/// What went wrong, coarse enough to become a C status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A task or option is malformed (mismatched lengths, bad enum value, ...).
    InvalidArgument,
    /// The op code is not one the executor knows.
    UnknownOp,
    /// An element count whose byte size does not fit in memory.
    SizeOverflow,
    /// An output overlaps an input or another output.
    Aliasing,
    /// No adapter matched the requested backend / name.
    NoAdapter,
    /// The adapter refused to create a device.
    DeviceRequestFailed,
    /// wgpu reported a validation or internal error.
    Gpu,
    /// The GPU or host ran out of memory.
    OutOfMemory,
    /// The device was lost; the executor must be destroyed.
    DeviceLost,
    /// An earlier panic left shared state unusable.
    Poisoned,
    /// The GPU did not finish within the configured wait limit.
    TimedOut,
    /// A kernel's source or description does not fit the layout (registration).
    InvalidKernel,
    /// A buffer handle that was never created here or was destroyed.
    InvalidBuffer,
    /// A buffer handle of another executor.
    ForeignBuffer,
    /// A buffer region that reaches past the buffer's end.
    OutOfBounds,
    /// A buffer whose element type is not the one the task or call needs.
    TypeMismatch,
    /// A task reads a buffer region that a later task of the same batch writes.
    Dependency,
    /// An asynchronous batch would take the bytes in flight past the budget.
    OverBudget,
    /// The device or backend cannot do what was asked (importing host memory).
    Unsupported,
}

/// An error with the detail a user needs to fix the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
