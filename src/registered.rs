//! Registered host memory: caller arrays the GPU reads and writes in place.
//!
//! A caller registers a range of its memory once (`Executor::register_host_memory`); the
//! executor imports the pages it lies in as one GPU buffer (`host_memory::HostImport`).
//! From then on every host operand of a batch that lies inside a registered range is
//! treated as a region of that buffer: the GPU's copy engine pulls inputs from the
//! caller's array and writes results into it by DMA, and the host copies nothing — the
//! copies into and out of staging were what bounded host-to-host throughput.
//!
//! Each registration keeps one `ResidentBuffer` per element type over the same imported
//! buffer, so that its regions pass the resident path's type checks; they share one
//! handle (with the top bit set, never a buffer handle), so that the batch's ordering
//! rules see them as one buffer.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use crate::arena::{Allocation, Arena};
use crate::buffer::{Region, ResidentBuffer};
use crate::error::{Error, ErrorKind, Result};
use crate::kernel::{KernelKind, MAX_INPUTS};
use crate::ops::ElemType;
use crate::task::Task;

/// Marks a registration's handle apart from buffer handles (whose top 32 bits are an
/// executor id, far below 2^31).
const REGISTRATION_HANDLE: u64 = 1 << 63;

/// One registered range.
pub struct Registration {
    /// The caller's range: `[start, end)` addresses.
    pub start: usize,
    pub end: usize,
    /// The imported range, widened to the driver's alignment: where the GPU buffer starts.
    base: usize,
    /// The imported buffer.
    arena: Arc<Arena>,
    /// One view per element type, in `ElemType::ALL` order, over `arena`.
    views: Vec<Arc<ResidentBuffer>>,
}

impl Registration {
    /// `buffer` imports `[base, base + buffer.size())`, which holds `[start, end)`.
    pub fn new(
        start: usize,
        end: usize,
        base: usize,
        buffer: wgpu::Buffer,
        bindable: bool,
    ) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let handle = REGISTRATION_HANDLE | NEXT.fetch_add(1, Ordering::Relaxed);
        let len = buffer.size() / 4;
        let arena = Arena::foreign(buffer, bindable);
        let views = ElemType::ALL
            .iter()
            .map(|&ty| {
                Arc::new(ResidentBuffer {
                    handle,
                    ty,
                    len,
                    memory: Allocation::whole(Arc::clone(&arena)),
                })
            })
            .collect();
        Self {
            start,
            end,
            base,
            arena,
            views,
        }
    }

    /// The imported GPU buffer.
    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.arena.buffer
    }

    /// Whether a batch still holds one of its regions (a batch being launched, or a
    /// blocking batch on the GPU).
    pub fn in_use(&self) -> bool {
        self.views.iter().any(|view| Arc::strong_count(view) > 1)
    }

    /// Caller bytes registered.
    pub fn bytes(&self) -> u64 {
        (self.end - self.start) as u64
    }
}

/// Where a registration of `[start, end)` goes in `entries`, or `InvalidArgument` when it
/// overlaps one of them.
fn free_at(entries: &[Registration], start: usize, end: usize) -> Result<usize> {
    let at = entries.partition_point(|e| e.start < start);
    let overlaps_before = at > 0 && entries[at - 1].end > start;
    let overlaps_after = entries.get(at).is_some_and(|next| next.start < end);
    if overlaps_before || overlaps_after {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "bytes {start:#x}..{end:#x} overlap memory registered already; unregister it first"
            ),
        ));
    }
    Ok(at)
}

/// `array` as a region of the registration in `entries` holding it wholly, viewed as `ty`
/// (an empty array is never registered).
fn region_of(entries: &[Registration], array: &[u32], ty: ElemType) -> Option<Region> {
    if array.is_empty() {
        return None;
    }
    let start = array.as_ptr() as usize;
    let end = start + std::mem::size_of_val(array);
    let at = entries.partition_point(|e| e.start <= start);
    let entry = entries[..at].last().filter(|e| end <= e.end)?;
    let view = ElemType::ALL
        .iter()
        .position(|&t| t == ty)
        .and_then(|i| entry.views.get(i))?;
    // Arrays of 4-byte words are 4-byte aligned and `base` is page-aligned.
    let offset = ((start - entry.base) / 4) as u64;
    Some(Region {
        buffer: Arc::clone(view),
        offset,
    })
}

/// The registrations of one executor, sorted by address and disjoint.
#[derive(Default)]
pub struct Registry {
    entries: RwLock<Vec<Registration>>,
    /// How many there are: batches skip the lookup when none is.
    count: AtomicUsize,
    /// Operands served from registered memory so far.
    operands: AtomicU64,
}

impl Registry {
    /// `InvalidArgument` when `[start, end)` overlaps a registered range.
    pub fn check_free(&self, start: usize, end: usize) -> Result<()> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        free_at(&entries, start, end).map(|_| ())
    }

    /// Adds `registration` unless its range overlaps one already registered (checked
    /// again: another thread may have registered meanwhile).
    pub fn add(&self, registration: Registration) -> Result<()> {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let at = free_at(&entries, registration.start, registration.end)?;
        entries.insert(at, registration);
        self.count.store(entries.len(), Ordering::Release);
        Ok(())
    }

    /// Takes out the registration that starts at `start`.
    pub fn remove(&self, start: usize) -> Result<Registration> {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let at = entries
            .binary_search_by_key(&start, |e| e.start)
            .map_err(|_| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("no registered memory starts at {start:#x}"),
                )
            })?;
        let registration = entries.remove(at);
        self.count.store(entries.len(), Ordering::Release);
        Ok(registration)
    }

    /// Takes out every registration.
    pub fn take_all(&self) -> Vec<Registration> {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        self.count.store(0, Ordering::Release);
        std::mem::take(&mut *entries)
    }

    /// Whether nothing is registered: batches then skip every lookup.
    pub fn is_empty(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }

    /// Turns the tasks' host operands that lie wholly inside a registration into regions
    /// of it (a reduction's one-element result stays a host output), under one read lock.
    pub fn place(&self, tasks: &mut [Task]) {
        if self.is_empty() {
            return;
        }
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let mut placed = 0;
        for task in tasks {
            let ty = task.op.ty;
            let arity = task.kind.map_or(0, KernelKind::arity).min(MAX_INPUTS);
            for k in 0..arity {
                if task.resident[k].is_none() {
                    if let Some(region) = region_of(&entries, task.inputs[k], ty) {
                        task.resident[k] = Some(region);
                        task.inputs[k] = &[];
                        placed += 1;
                    }
                }
            }
            let reduction = matches!(task.kind, Some(KernelKind::Reduction(_)));
            if task.resident_output.is_none() && !reduction {
                if let Some(region) = region_of(&entries, task.output, ty) {
                    task.resident_output = Some(region);
                    task.output = &mut [];
                    placed += 1;
                }
            }
        }
        self.operands.fetch_add(placed, Ordering::Relaxed);
    }

    /// Registrations and the caller bytes they cover.
    pub fn totals(&self) -> (u64, u64) {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        (
            entries.len() as u64,
            entries.iter().map(Registration::bytes).sum(),
        )
    }

    /// Operands served from registered memory so far.
    pub fn operands(&self) -> u64 {
        self.operands.load(Ordering::Relaxed)
    }
}
