//! Waiting for submissions, with or without a deadline, without ever handing wgpu a finite
//! timeout.
//!
//! wgpu-core 30.0.2 asserts (panics) in `Device::poll` when a wait with a finite timeout
//! times out while another thread's poll empties the queue: it then sees an empty queue but
//! a fence value older than the one it waited for. A wait without a timeout returns only
//! once the fence reached its index, and a non-blocking poll waits for no index, so neither
//! can hit that assertion. So:
//! - waits without a deadline call `poll(Wait { timeout: None })` on the caller's thread;
//! - checks (zero timeout) call `poll(Poll)`;
//! - waits with a deadline sleep on a condition variable while one reaper thread per device
//!   (started on first need) does the unbounded wait; the map callbacks that complete a
//!   batch, and the reaper after each wait, wake the sleepers.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::error::{Error, ErrorKind, Result};
use crate::log::{log, Level};

pub struct Completion {
    device: wgpu::Device,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// Submissions someone waits for with a deadline, for the reaper to wait on.
    queued: Vec<wgpu::SubmissionIndex>,
    reaper_started: bool,
    shutdown: bool,
    /// Why the reaper's last wait failed, if it did.
    failure: Option<String>,
}

impl Completion {
    pub fn new(device: wgpu::Device) -> Arc<Self> {
        Arc::new(Self {
            device,
            state: Mutex::default(),
            changed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a queue and flags that any thread may rewrite whole: usable after
        // a panic elsewhere.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Something a sleeper waits for may have changed (a map callback ran).
    pub fn notify(&self) {
        let _state = self.lock();
        self.changed.notify_all();
    }

    /// Stops the reaper once it is idle; called when the executor goes away.
    pub fn shutdown(&self) {
        self.lock().shutdown = true;
        self.changed.notify_all();
    }

    /// Blocks until `submission` completed (no deadline).
    pub fn wait_unbounded(&self, submission: &wgpu::SubmissionIndex) -> Result<()> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submission.clone()),
                timeout: None,
            })
            .map(|_| ())
            .map_err(|e| Error::new(ErrorKind::Gpu, format!("waiting for the GPU: {e}")))
    }

    /// Runs the callbacks of whatever has completed, without blocking.
    pub fn poll_now(&self) {
        // An error resurfaces through the map requests' state and the device-lost flag.
        let _ = self.device.poll(wgpu::PollType::Poll);
    }

    /// Sleeps until `done()` says `Ok(true)` (returns `Ok(true)`), says `Err` (returns it),
    /// or `deadline` passes (returns `Ok(false)`). `done` runs with an internal lock held and
    /// must only read state (atomics), never poll the device.
    pub fn wait_until(
        self: &Arc<Self>,
        submission: &wgpu::SubmissionIndex,
        deadline: Instant,
        done: impl Fn() -> Result<bool>,
    ) -> Result<bool> {
        self.poll_now();
        let mut state = self.lock();
        state.queued.push(submission.clone());
        if !state.reaper_started {
            state.reaper_started = self.start_reaper();
        }
        self.changed.notify_all();
        loop {
            if done()? {
                return Ok(true);
            }
            if let Some(failure) = &state.failure {
                return Err(Error::new(ErrorKind::Gpu, failure.clone()));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn start_reaper(self: &Arc<Self>) -> bool {
        let me = Arc::clone(self);
        let started = std::thread::Builder::new()
            .name("gpu_executor wait".into())
            .spawn(move || me.reap());
        if let Err(error) = &started {
            log!(Level::Error, "cannot start the wait thread: {error}");
        }
        started.is_ok()
    }

    /// The reaper: waits, without a timeout, for every submission queued by a sleeper.
    fn reap(&self) {
        loop {
            let queued = {
                let mut state = self.lock();
                while state.queued.is_empty() && !state.shutdown {
                    state = self
                        .changed
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if state.shutdown {
                    return;
                }
                std::mem::take(&mut state.queued)
            };
            let mut failure = None;
            for submission in &queued {
                let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.wait_unbounded(submission)
                }));
                match waited {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => failure = Some(error.message),
                    Err(_) => failure = Some("internal panic while waiting for the GPU".into()),
                }
            }
            let mut state = self.lock();
            if failure.is_some() {
                state.failure = failure;
            }
            self.changed.notify_all();
        }
    }
}
