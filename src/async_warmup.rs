//! Warm-up on a worker thread: `Executor::warmup_async` queues the pipelines a workload
//! will need and returns at once; one thread per executor (started on first use) compiles
//! them in order through the [`Compiler`], so a batch that needs one of them meanwhile
//! waits for that one compilation only, and every other batch runs. `wait` tells when the
//! queue is empty and reports what went wrong, once.

use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::compiler::Compiler;
use crate::error::{Error, ErrorKind, Result};
use crate::executor::WarmupItem;
use crate::kernel::KernelKind;
use crate::log::{log, Level};
use crate::stats::Stats;

/// One queued warm-up: its items, checked, with their kinds.
/// The items, their kinds and the bucket (pipeline class) of each.
type Job = (Vec<WarmupItem>, Vec<KernelKind>, Vec<u64>);

#[derive(Default)]
struct Progress {
    /// Warm-ups queued and not finished.
    pending: u64,
    /// Warm-ups finished (successfully or not).
    completed: u64,
    /// Pipelines they compiled since the last successful `wait`.
    compiled: u64,
    /// The first error since the last `wait` that reported one.
    error: Option<Error>,
}

#[derive(Default)]
struct Shared {
    progress: Mutex<Progress>,
    changed: Condvar,
}

impl Shared {
    fn progress(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The worker and its queue.
#[derive(Default)]
pub struct AsyncWarmup {
    shared: Arc<Shared>,
    worker: Mutex<Option<(Sender<Job>, JoinHandle<()>)>>,
}

impl AsyncWarmup {
    /// Queues a warm-up; starts the worker on first use.
    pub fn submit(
        &self,
        compiler: &Arc<Compiler>,
        stats: &Arc<Mutex<Stats>>,
        items: Vec<WarmupItem>,
        kinds: Vec<KernelKind>,
        classes: Vec<u64>,
    ) -> Result<()> {
        let mut worker = self
            .worker
            .lock()
            .map_err(|_| Error::new(ErrorKind::Poisoned, "the warm-up queue is poisoned"))?;
        if worker.is_none() {
            let (sender, receiver) = channel::<Job>();
            let (compiler, stats, shared) = (
                Arc::clone(compiler),
                Arc::clone(stats),
                Arc::clone(&self.shared),
            );
            let thread = std::thread::Builder::new()
                .name("gpu_executor warm-up".into())
                .spawn(move || {
                    for (items, kinds, classes) in receiver {
                        let mut delta = Stats::default();
                        let result = compiler.warm(&items, &kinds, &classes, &mut delta);
                        if let Err(error) = &result {
                            log!(
                                Level::Warn,
                                "asynchronous warm-up failed: {}",
                                error.message
                            );
                            if matches!(
                                error.kind,
                                ErrorKind::Gpu | ErrorKind::OutOfMemory | ErrorKind::DeviceLost
                            ) {
                                compiler.forget();
                            }
                        }
                        if let Ok(mut stats) = stats.lock() {
                            stats.absorb(&delta);
                            stats.async_warmups_completed += 1;
                        }
                        let mut progress = shared.progress();
                        progress.pending -= 1;
                        progress.completed += 1;
                        progress.compiled += delta.pipelines_created;
                        if let Err(error) = result {
                            progress.error.get_or_insert(error);
                        }
                        shared.changed.notify_all();
                    }
                })
                .map_err(|e| {
                    Error::new(
                        ErrorKind::OutOfMemory,
                        format!("cannot start the warm-up thread: {e}"),
                    )
                })?;
            *worker = Some((sender, thread));
        }
        self.shared.progress().pending += 1;
        let sent = match worker.as_ref() {
            Some((sender, _)) => sender.send((items, kinds, classes)).is_ok(),
            None => false,
        };
        if !sent {
            self.shared.progress().pending -= 1;
            return Err(Error::new(
                ErrorKind::Poisoned,
                "the warm-up thread is gone; destroy this executor",
            ));
        }
        Ok(())
    }

    /// Warm-ups queued and not finished.
    pub fn pending(&self) -> u64 {
        self.shared.progress().pending
    }

    /// Waits up to `timeout` (`None`: no limit) until no warm-up is queued. `Ok(Some(n))`:
    /// all done, `n` pipelines compiled by them since the last such answer; `Ok(None)`:
    /// still busy when the time was up; `Err`: the first error a warm-up met since the last
    /// wait (reported once).
    pub fn wait(&self, timeout: Option<Duration>) -> Result<Option<u64>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut progress = self.shared.progress();
        while progress.pending > 0 {
            progress = match deadline {
                None => self
                    .shared
                    .changed
                    .wait(progress)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Ok(None);
                    }
                    self.shared
                        .changed
                        .wait_timeout(progress, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
        if let Some(error) = progress.error.take() {
            return Err(error);
        }
        Ok(Some(std::mem::take(&mut progress.compiled)))
    }

    /// Lets the worker finish what is queued and joins it (executor destruction).
    pub fn shutdown(&self) {
        let worker = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((sender, thread)) = worker {
            drop(sender);
            let _ = thread.join();
        }
    }
}
