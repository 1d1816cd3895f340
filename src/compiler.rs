//! Compiling cached pipelines: each (kernel, bucket) at most once, outside the cache's lock.
//!
//! A lookup that misses marks its key as being compiled, lets go of the bucket cache and
//! compiles; meanwhile other threads' lookups of other keys (hits, or compilations of their
//! own) go on, and a thread that needs the same key waits for that one compilation instead
//! of starting a second. Always on: a hit takes the cache's lock once, as before; a miss
//! adds two short lock turns to a compilation that takes milliseconds.
//!
//! The compiler also owns the persistent pipeline cache (see [`crate::pipeline_cache`]), and
//! [`Compiler::warm`] is warm-up's compile loop, run by `Executor::warmup` on the caller's
//! thread or by [`crate::async_warmup`] on its worker.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::bucket::BucketCache;
use crate::device::Gpu;
use crate::error::{Error, ErrorKind, Result};
use crate::executor::WarmupItem;
use crate::kernel::{Kernel, KernelFactory, KernelId, KernelKind};
use crate::log::{log, Level};
use crate::pipeline_cache::DiskCache;
use crate::stats::Stats;

/// What a cached pipeline is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// A kernel for a size bucket (a matmul's shape class; 0 for whole-array kernels).
    Bucketed(KernelId, u64),
    /// The kernel that works on resident buffers directly.
    Direct(KernelId),
}

fn lock<T>(mutex: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    mutex.lock().map_err(|_| {
        Error::new(
            ErrorKind::Poisoned,
            "an earlier panic left this executor unusable; destroy it",
        )
    })
}

/// Test hook: while held, every compilation waits before it starts (see
/// [`Compiler::hold`]).
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    held: bool,
    /// Compilations waiting at the gate.
    blocked: usize,
}

impl Gate {
    fn state(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn pass(&self) {
        let mut state = self.state();
        if !state.held {
            return;
        }
        state.blocked += 1;
        self.changed.notify_all();
        while state.held {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.blocked -= 1;
    }
}

/// Holds every compilation of one executor at its start until dropped (a test hook: makes
/// "a thread compiling while others run" deterministic).
pub struct CompileHold {
    compiler: Arc<Compiler>,
}

impl CompileHold {
    /// Blocks until `n` compilations are waiting at the gate.
    pub fn wait_until_blocked(&self, n: usize) {
        let gate = &self.compiler.gate;
        let mut state = gate.state();
        while state.blocked < n {
            state = gate
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl Drop for CompileHold {
    fn drop(&mut self) {
        self.compiler.gate.state().held = false;
        self.compiler.gate.changed.notify_all();
    }
}

/// The pipelines of one executor: the bucket cache, the compilations in progress, the
/// persistent cache.
pub struct Compiler {
    gpu: Arc<Gpu>,
    pub factory: KernelFactory,
    pub cache: Mutex<BucketCache>,
    /// Keys being compiled now, by some thread.
    compiling: Mutex<HashSet<Key>>,
    /// Signalled whenever a compilation ends.
    compiled: Condvar,
    gate: Gate,
    pub disk: Option<DiskCache>,
    /// Lookups that waited for another thread's compilation of the same key.
    waits: AtomicU64,
}

/// A key this thread compiles; dropping it (success, error or panic) wakes the waiters.
struct Claim<'c> {
    compiler: &'c Compiler,
    key: Key,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut compiling = self
            .compiler
            .compiling
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        compiling.remove(&self.key);
        self.compiler.compiled.notify_all();
    }
}

impl Compiler {
    pub fn new(gpu: Arc<Gpu>, disk: Option<DiskCache>) -> Self {
        let wgpu_cache = disk.as_ref().and_then(|d| d.wgpu_cache().cloned());
        Self {
            factory: KernelFactory::new(&gpu.device, wgpu_cache),
            gpu,
            cache: Mutex::default(),
            compiling: Mutex::default(),
            compiled: Condvar::new(),
            gate: Gate::default(),
            disk,
            waits: AtomicU64::new(0),
        }
    }

    /// Test hook: see [`CompileHold`].
    pub fn hold(self: &Arc<Self>) -> CompileHold {
        self.gate.state().held = true;
        CompileHold {
            compiler: Arc::clone(self),
        }
    }

    /// Lookups so far that waited for another thread's compilation of their key.
    pub fn waits(&self) -> u64 {
        self.waits.load(Ordering::Relaxed)
    }

    fn lookup(&self, key: Key) -> Result<Option<Arc<Kernel>>> {
        let cache = lock(&self.cache)?;
        Ok(match key {
            Key::Bucketed(id, bucket) => cache.get(id, bucket),
            Key::Direct(id) => cache.get_direct(id),
        })
    }

    /// The pipeline of `key`: from the cache, or compiled now on this thread (outside the
    /// cache's lock), or — when another thread is compiling it — once that one is done.
    pub fn kernel(&self, key: Key, stats: &mut Stats) -> Result<Arc<Kernel>> {
        if let Some(kernel) = self.lookup(key)? {
            stats.bucket_cache_hits += 1;
            return Ok(kernel);
        }
        let claim = {
            let mut compiling = lock(&self.compiling)?;
            let mut waited = false;
            loop {
                if !compiling.contains(&key) {
                    // Another thread may have finished it since the lookup above.
                    if let Some(kernel) = self.lookup(key)? {
                        stats.bucket_cache_hits += 1;
                        return Ok(kernel);
                    }
                    compiling.insert(key);
                    break Claim {
                        compiler: self,
                        key,
                    };
                }
                if !waited {
                    waited = true;
                    self.waits.fetch_add(1, Ordering::Relaxed);
                }
                compiling = self
                    .compiled
                    .wait(compiling)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        stats.bucket_cache_misses += 1;
        log!(Level::Debug, "compiling the pipeline of {key:?}");
        self.gate.pass();
        let kernel = Arc::new(match key {
            Key::Bucketed(id, bucket) => self.factory.create(id, bucket, stats)?,
            Key::Direct(id) => self.factory.create_direct(id, stats)?,
        });
        {
            let mut cache = lock(&self.cache)?;
            match key {
                Key::Bucketed(id, bucket) => cache.insert(id, bucket, Arc::clone(&kernel)),
                Key::Direct(id) => cache.insert_direct(id, Arc::clone(&kernel)),
            }
        }
        drop(claim);
        if let Some(disk) = &self.disk {
            disk.note_compiled();
        }
        Ok(kernel)
    }

    /// Warm-up's compile loop: for each item, its op's pipeline for its bucket (`classes`,
    /// worked out by the executor from its bucket ladder) and, when it writes buffers
    /// directly, its direct kernel (see `Executor::warmup`), under this thread's own error
    /// scopes. On a GPU error the cached pipelines are dropped (they may be invalid).
    pub fn warm(
        &self,
        items: &[WarmupItem],
        kinds: &[KernelKind],
        classes: &[u64],
        delta: &mut Stats,
    ) -> Result<()> {
        let capture = self.gpu.capture_errors();
        let compiled = (|| -> Result<()> {
            for ((item, kind), &class) in items.iter().zip(kinds).zip(classes) {
                self.kernel(Key::Bucketed(item.op, class), delta)?;
                let writes_buffers =
                    matches!(kind, KernelKind::Elementwise(_) | KernelKind::Reduction(_));
                if item.resident && writes_buffers {
                    self.kernel(Key::Direct(item.op), delta)?;
                }
            }
            Ok(())
        })();
        let captured = capture.finish(&self.gpu);
        match (compiled, captured) {
            (Ok(()), Ok(())) => Ok(()),
            (_, Err(error)) | (Err(error), Ok(())) => Err(error),
        }
    }

    /// Drops every cached pipeline (after a GPU error or device loss).
    pub fn forget(&self) {
        if let Ok(mut cache) = lock(&self.cache) {
            cache.clear();
        }
    }
}
