//! gpu_executor: batches of GPU compute tasks through wgpu, behind a C ABI.
//!
//! Where a batch goes: [`ffi`] turns the C call into [`Task`]s, then
//! [`Executor::submit`](executor::Executor::submit) (in `executor.rs`) plans, encodes,
//! submits once and copies results out.

pub mod bucket;
pub mod config;
pub mod copy;
pub mod device;
pub mod error;
pub mod exact_cache;
pub mod executor;
pub mod ffi;
pub mod kernel;
pub mod log;
pub mod pipeline;
pub mod plan;
pub mod pool;
pub mod slab;
pub mod stats;
pub mod task;

pub use config::{BackendChoice, Config, PowerChoice, Strategy};
pub use error::{Error, ErrorKind, Result};
pub use executor::{Executor, PendingBatch, Waiter};
pub use stats::Stats;
pub use task::{Op, Task, TaskInputs};
