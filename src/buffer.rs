//! Resident buffers: arrays that live on the GPU between tasks and batches, and the table
//! that turns a caller's handle into one.
//!
//! A handle is the owning executor's id in the high 32 bits and a serial number in the
//! low 32. Serial numbers are never reused, so a destroyed buffer's handle can never name
//! a newer buffer: it is caught, as is a handle of another executor.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::arena::Allocation;
use crate::error::{Error, ErrorKind, Result};
use crate::ops::ElemType;

/// One live buffer: its element type, length and memory.
pub struct ResidentBuffer {
    /// The caller's handle.
    pub handle: u64,
    pub ty: ElemType,
    /// Elements.
    pub len: u64,
    pub memory: Allocation,
}

impl ResidentBuffer {
    /// The GPU buffer holding it, and its byte offset there.
    pub fn location(&self) -> (&wgpu::Buffer, u64) {
        (&self.memory.arena.buffer, self.memory.offset)
    }
}

impl std::fmt::Debug for ResidentBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "buffer {:#x} ({} x {})",
            self.handle,
            self.len,
            self.ty.name()
        )
    }
}

/// A run of elements of a resident buffer: an operand of a task.
#[derive(Clone, Debug)]
pub struct Region {
    pub buffer: Arc<ResidentBuffer>,
    /// First element.
    pub offset: u64,
}

impl Region {
    /// Byte offset of element `element` of the region in its GPU buffer.
    pub fn byte_at(&self, element: u64) -> u64 {
        self.buffer.memory.offset + (self.offset + element) * 4
    }

    /// Whether `[offset, offset + len)` lies inside the buffer.
    pub fn check_bounds(&self, len: u64, what: &str) -> Result<()> {
        let fits = self
            .offset
            .checked_add(len)
            .is_some_and(|end| end <= self.buffer.len);
        if fits {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::OutOfBounds,
                format!(
                    "{what}: elements {}..{} of buffer {:#x}, which holds {}",
                    self.offset,
                    self.offset as u128 + len as u128,
                    self.buffer.handle,
                    self.buffer.len
                ),
            ))
        }
    }
}

/// Hashes buffer handles, which are distinct numbers already: one multiply spreads them.
#[derive(Default)]
pub struct HandleHasher(u64);

impl Hasher for HandleHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The buffers one executor owns.
pub struct BufferTable {
    owner: u64,
    next_serial: u64,
    live: HashMap<u64, Arc<ResidentBuffer>, BuildHasherDefault<HandleHasher>>,
}

/// Highest serial number; a handle's low 32 bits.
const SERIAL_MASK: u64 = 0xFFFF_FFFF;

impl BufferTable {
    pub fn new(owner: u64) -> Self {
        Self {
            owner,
            next_serial: 1,
            live: HashMap::default(),
        }
    }

    /// The handle the next buffer gets.
    pub fn next_handle(&mut self) -> Result<u64> {
        if self.next_serial > SERIAL_MASK {
            return Err(Error::new(
                ErrorKind::OutOfMemory,
                "this executor has created 2^32 - 1 buffers, the most a handle can number",
            ));
        }
        let handle = (self.owner << 32) | self.next_serial;
        self.next_serial += 1;
        Ok(handle)
    }

    pub fn insert(&mut self, buffer: ResidentBuffer) {
        self.live.insert(buffer.handle, Arc::new(buffer));
    }

    /// The live buffer `handle` names; `ForeignBuffer` or `InvalidBuffer` otherwise.
    pub fn get(&self, handle: u64) -> Result<Arc<ResidentBuffer>> {
        if let Some(buffer) = self.live.get(&handle) {
            return Ok(Arc::clone(buffer));
        }
        Err(self.missing(handle))
    }

    /// Removes `handle`'s buffer; its memory is reused once no batch holds it.
    pub fn remove(&mut self, handle: u64) -> Result<Arc<ResidentBuffer>> {
        self.live
            .remove(&handle)
            .ok_or_else(|| self.missing(handle))
    }

    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Bytes the live buffers hold (their lengths, not their size classes).
    pub fn bytes(&self) -> u64 {
        self.live.values().map(|b| b.len * 4).sum()
    }

    fn missing(&self, handle: u64) -> Error {
        let owner = handle >> 32;
        let serial = handle & SERIAL_MASK;
        if handle == 0 {
            Error::new(
                ErrorKind::InvalidBuffer,
                "buffer handle 0 is never a buffer",
            )
        } else if owner != self.owner {
            Error::new(
                ErrorKind::ForeignBuffer,
                format!("buffer {handle:#x} belongs to another executor"),
            )
        } else if serial < self.next_serial {
            Error::new(
                ErrorKind::InvalidBuffer,
                format!("buffer {handle:#x} was destroyed"),
            )
        } else {
            Error::new(
                ErrorKind::InvalidBuffer,
                format!("buffer {handle:#x} was never created"),
            )
        }
    }
}
