//! The C boundary and nothing else: the only code that touches C pointers.
//!
//! Every exported function runs inside `ffi_boundary!` (`panic_boundary.rs`), turns pointers
//! into slices once, calls the safe core, and maps its error to a status code plus a
//! thread-local message.

#[macro_use]
mod panic_boundary;
mod api;
mod async_batch;
mod buffers;
mod convert;
#[doc(hidden)]
pub mod fault;
mod host_registration;
mod kernels;
mod last_error;
mod log;
mod recordings;
mod status;
mod tickets;
mod types;
mod version;

pub use api::*;
pub use async_batch::*;
pub use buffers::*;
pub use host_registration::*;
pub use kernels::*;
pub use log::*;
pub use recordings::*;
pub use status::gpu_executor_status_t;
pub use types::*;
pub use version::*;
