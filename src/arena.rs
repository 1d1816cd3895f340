//! GPU memory for resident buffers: size classes carved out of large arena buffers.
//!
//! A resident buffer's memory is a power-of-two size class (at least 256 bytes). Classes
//! up to a quarter of an arena are carved out of shared arenas, one large GPU buffer each,
//! so that many small buffers sit in a few GPU buffers and one dispatch can reach many of
//! them through one binding. Larger classes get a GPU buffer of their own. Freed memory
//! goes to a free list per class and is reused by the next buffer of that class: the same
//! idea as the slab pool.
//!
//! Reuse is safe without waiting for the GPU: resident memory is never mapped, every
//! access to it is a GPU command on the one queue, and the queue runs commands in
//! submission order, so work submitted after a buffer is freed always runs after the work
//! that used it before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::error::{Error, ErrorKind, Result};

/// Smallest size class; also the alignment of every allocation in an arena.
pub const MIN_CLASS_BYTES: u64 = 256;
/// Largest arena we create, whatever the device allows.
const MAX_ARENA_BYTES: u64 = 64 << 20;

/// One GPU buffer holding resident memory: an arena shared by many allocations, or one
/// large allocation's own buffer.
pub struct Arena {
    /// Unique in the process; tasks whose operands share arenas share dispatches.
    pub id: u64,
    pub buffer: wgpu::Buffer,
    /// Whether the whole buffer fits one storage binding (the direct path binds it).
    pub bindable: bool,
    /// Bytes, counted in the owner's reserved bytes until the arena is dropped.
    size: u64,
    home: Weak<Mutex<FreeLists>>,
}

impl Drop for Arena {
    fn drop(&mut self) {
        if let Some(home) = self.home.upgrade() {
            let mut lists = home.lock().unwrap_or_else(PoisonError::into_inner);
            lists.reserved = lists.reserved.saturating_sub(self.size);
        }
    }
}

/// A piece of resident memory; it returns to its class's free list when dropped.
pub struct Allocation {
    pub arena: Arc<Arena>,
    /// Byte offset in the arena (a multiple of 256).
    pub offset: u64,
    /// Size class in bytes.
    pub class: u64,
    home: Weak<Mutex<FreeLists>>,
}

impl Drop for Allocation {
    fn drop(&mut self) {
        if let Some(home) = self.home.upgrade() {
            let mut lists = home.lock().unwrap_or_else(PoisonError::into_inner);
            lists
                .free
                .entry(self.class)
                .or_default()
                .push((Arc::clone(&self.arena), self.offset));
        }
    }
}

#[derive(Default)]
struct FreeLists {
    /// Freed pieces by size class: (arena, byte offset).
    free: HashMap<u64, Vec<(Arc<Arena>, u64)>>,
    /// The arena new small pieces are carved from, and how much of it is used.
    current: Option<(Arc<Arena>, u64)>,
    /// Bytes of GPU memory of the live arenas (shared ones and buffers' own).
    reserved: u64,
}

/// Allocates resident memory on one device.
pub struct ResidentMemory {
    device: wgpu::Device,
    arena_bytes: u64,
    max_binding: u64,
    max_buffer: u64,
    lists: Arc<Mutex<FreeLists>>,
}

/// What an allocation cost: whether it reused freed memory, and GPU buffers created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocOutcome {
    pub reused: bool,
    pub buffers_created: u64,
}

impl Arena {
    /// An arena over a buffer the resident memory does not own (imported host memory):
    /// it is counted nowhere and its one allocation ([`Allocation::whole`]) goes back
    /// nowhere.
    pub fn foreign(buffer: wgpu::Buffer, bindable: bool) -> Arc<Self> {
        Arc::new(Self {
            id: next_arena_id(),
            size: buffer.size(),
            buffer,
            bindable,
            home: Weak::new(),
        })
    }
}

impl Allocation {
    /// All of a foreign arena, from byte 0.
    pub fn whole(arena: Arc<Arena>) -> Self {
        let class = arena.size;
        Self {
            arena,
            offset: 0,
            class,
            home: Weak::new(),
        }
    }
}

fn next_arena_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The size class of `bytes`: the next power of two, at least `MIN_CLASS_BYTES`.
pub fn class_of(bytes: u64) -> Option<u64> {
    bytes.max(MIN_CLASS_BYTES).checked_next_power_of_two()
}

impl ResidentMemory {
    pub fn new(device: &wgpu::Device, limits: &wgpu::Limits) -> Self {
        let max_binding = limits.max_storage_buffer_binding_size;
        let max_buffer = limits.max_buffer_size;
        let cap = MAX_ARENA_BYTES.min(max_binding).min(max_buffer);
        // Largest power of two within every limit (and at least one small class).
        let arena_bytes = (1u64 << (63 - cap.max(1).leading_zeros())).max(MIN_CLASS_BYTES * 4);
        Self {
            device: device.clone(),
            arena_bytes,
            max_binding,
            max_buffer,
            lists: Arc::default(),
        }
    }

    /// Largest buffer, in bytes, that can be allocated.
    pub fn max_bytes(&self) -> u64 {
        self.max_buffer
    }

    /// GPU memory held for resident buffers now: every arena that a live buffer, a free
    /// piece or the current carving uses.
    pub fn reserved_bytes(&self) -> u64 {
        self.lock().reserved
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FreeLists> {
        self.lists.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn create_arena(&self, bytes: u64) -> Arc<Arena> {
        use wgpu::BufferUsages as U;
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("gpu_executor resident memory"),
            size: bytes,
            usage: U::STORAGE | U::COPY_SRC | U::COPY_DST,
            mapped_at_creation: false,
        });
        Arc::new(Arena {
            id: next_arena_id(),
            buffer,
            bindable: bytes <= self.max_binding,
            size: bytes,
            home: Arc::downgrade(&self.lists),
        })
    }

    /// Memory for `bytes` bytes (> 0): freed memory of its class when there is some,
    /// else carved from an arena or, for large classes, a buffer of its own.
    pub fn allocate(&self, bytes: u64) -> Result<(Allocation, AllocOutcome)> {
        let too_large = || {
            Error::new(
                ErrorKind::SizeOverflow,
                format!(
                    "{bytes} bytes exceed the largest buffer the device allows ({} bytes)",
                    self.max_buffer
                ),
            )
        };
        // A class that would not fit the device gives way to exactly the bytes needed.
        let class = match class_of(bytes) {
            Some(class) if class <= self.max_buffer => class,
            _ if bytes <= self.max_buffer => bytes.next_multiple_of(4),
            _ => return Err(too_large()),
        };
        let home = Arc::downgrade(&self.lists);
        // An arena replaced as the current one is dropped after the lock is released
        // (declared first, dropped last): dropping an arena takes the lock.
        let mut _retired: Option<(Arc<Arena>, u64)> = None;
        let mut lists = self.lock();
        if let Some((arena, offset)) = lists.free.get_mut(&class).and_then(Vec::pop) {
            let outcome = AllocOutcome {
                reused: true,
                buffers_created: 0,
            };
            return Ok((
                Allocation {
                    arena,
                    offset,
                    class,
                    home,
                },
                outcome,
            ));
        }
        if class > self.arena_bytes / 4 {
            lists.reserved += class;
            drop(lists);
            let arena = self.create_arena(class);
            return Ok((
                Allocation {
                    arena,
                    offset: 0,
                    class,
                    home,
                },
                AllocOutcome {
                    reused: false,
                    buffers_created: 1,
                },
            ));
        }
        let mut created = 0;
        let fits = lists
            .current
            .as_ref()
            .is_some_and(|(_, used)| used + class <= self.arena_bytes);
        if !fits {
            _retired = lists
                .current
                .replace((self.create_arena(self.arena_bytes), 0));
            lists.reserved += self.arena_bytes;
            created = 1;
        }
        let (arena, used) = lists
            .current
            .as_mut()
            .ok_or_else(|| Error::new(ErrorKind::Gpu, "no arena to allocate from"))?;
        let offset = *used;
        *used += class;
        Ok((
            Allocation {
                arena: Arc::clone(arena),
                offset,
                class,
                home,
            },
            AllocOutcome {
                reused: false,
                buffers_created: created,
            },
        ))
    }

    /// Forgets every free piece and the current arena (after a GPU failure nothing cached
    /// is trusted; on a trim, their memory goes back to the device). Live allocations keep
    /// their arenas; an arena no one uses is freed.
    pub fn clear(&self) {
        // Dropped after the lock is released: an arena's drop takes it.
        let (free, current) = {
            let mut lists = self.lock();
            (std::mem::take(&mut lists.free), lists.current.take())
        };
        drop(free);
        drop(current);
    }
}

#[cfg(test)]
mod tests {
    use super::class_of;

    #[test]
    fn classes_are_powers_of_two_from_256_bytes() {
        assert_eq!(class_of(1), Some(256));
        assert_eq!(class_of(256), Some(256));
        assert_eq!(class_of(257), Some(512));
        assert_eq!(class_of(16_384 * 4), Some(65_536));
        assert_eq!(class_of(u64::MAX), None);
    }
}
