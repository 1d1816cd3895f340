//! Staging buffers in host memory that the executor allocates and maps itself (Vulkan only).
//!
//! wgpu places `MAP_WRITE` staging in memory that is host-visible *and device-local* when
//! the GPU offers it, so every input byte is a CPU store across PCIe into the GPU's BAR, and
//! it maps and unmaps staging around every batch. Here a slab's staging is plain system
//! memory (host-visible, host-coherent, preferably host-cached, not device-local): the CPU
//! writes it at memory speed, the GPU's copy engine pulls it by DMA, and it stays mapped for
//! the buffer's whole life, so a batch makes no map request at all.
//!
//! It also opens devices with `VK_EXT_external_memory_host` and imports caller memory the
//! GPU then reads and writes in place ([`HostImport`], see its invariants), reads the
//! adapter's memory heaps (`device_local_bytes`) and holds the non-temporal copy into
//! staging (`stream_copy`): this module is the core's Vulkan interop, and with
//! `pipeline_cache.rs`'s one call its only `unsafe` outside `src/ffi/`.
//! The staging invariants:
//!
//! - **Lifetime.** The `VkBuffer` and its `VkDeviceMemory` are handed to wgpu
//!   (`Buffer::from_raw_managed`), which destroys both when the last use of the
//!   `wgpu::Buffer` has completed on the GPU. The mapping lives as long as the memory; the
//!   pointer is only reachable through the [`HostBuffer`] that owns the `wgpu::Buffer`, so it
//!   is never used after the memory is freed.
//! - **In-flight submissions.** The GPU reads an upload buffer and writes a readback buffer
//!   only during a submission that uses it. The executor touches a slab's staging only while
//!   it holds the slab, and a slab is held by one batch at a time and goes back to the pool
//!   only after that batch's submission completed; so a `&mut [u8]` over upload memory and a
//!   `&[u8]` over readback memory never overlap a GPU access to the same bytes.
//! - **Coherency.** Only `HOST_COHERENT` memory types are used: host writes made before
//!   `vkQueueSubmit` are visible to the GPU (the submission is a host-write ordering
//!   guarantee), and device writes are read after the submission's fence signalled, as wgpu
//!   reads its own mapped readback buffers. No flush or invalidate is needed.
//! - **Alignment.** `vkMapMemory` returns memory aligned to at least
//!   `minMemoryMapAlignment` (≥ 64 bytes); views are `u8` slices, and the copy code keeps
//!   offsets at multiples of 16 bytes.

use std::ptr::NonNull;

use ash::vk;
use wgpu::hal::api::Vulkan;

use crate::error::{Error, ErrorKind, Result};
use crate::log::{log, Level};

/// Which way a staging buffer carries data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Host → GPU: the copy engine reads it.
    Upload,
    /// GPU → host: the copy engine writes it.
    Readback,
}

/// The memory types staging comes from, found once per device.
#[derive(Clone, Copy, Debug)]
pub struct HostMemory {
    upload_type: u32,
    readback_type: u32,
}

/// Scores a memory type for staging in `direction`; `None` when it cannot be used.
fn score(flags: vk::MemoryPropertyFlags, direction: Direction) -> Option<u32> {
    let required = vk::MemoryPropertyFlags::HOST_VISIBLE | vk::MemoryPropertyFlags::HOST_COHERENT;
    if !flags.contains(required) {
        return None;
    }
    let mut score = 0;
    // Device-local host-visible memory is the GPU's BAR: what this module exists to avoid.
    if !flags.contains(vk::MemoryPropertyFlags::DEVICE_LOCAL) {
        score += 2;
    }
    // Cached memory makes the host's reads fast (readback) and keeps partial writes cheap.
    if flags.contains(vk::MemoryPropertyFlags::HOST_CACHED) {
        score += if direction == Direction::Readback {
            4
        } else {
            1
        };
    }
    Some(score)
}

fn best_type(properties: &vk::PhysicalDeviceMemoryProperties, direction: Direction) -> Option<u32> {
    let count = (properties.memory_type_count as usize).min(properties.memory_types.len());
    properties.memory_types[..count]
        .iter()
        .enumerate()
        .filter_map(|(i, t)| score(t.property_flags, direction).map(|s| (s, i as u32)))
        // The first of the best: drivers list their preferred types first.
        .min_by_key(|&(s, i)| (std::cmp::Reverse(s), i))
        .map(|(_, i)| i)
}

fn vk_error(what: &str, result: vk::Result) -> Error {
    let kind = match result {
        vk::Result::ERROR_OUT_OF_HOST_MEMORY | vk::Result::ERROR_OUT_OF_DEVICE_MEMORY => {
            ErrorKind::OutOfMemory
        }
        vk::Result::ERROR_DEVICE_LOST => ErrorKind::DeviceLost,
        _ => ErrorKind::Gpu,
    };
    Error::new(kind, format!("{what}: {result}"))
}

impl HostMemory {
    /// The memory types for staging on `device`, or why there are none (not Vulkan, no
    /// host-coherent memory).
    pub fn probe(device: &wgpu::Device) -> std::result::Result<Self, String> {
        // SAFETY: the HAL device is only used to read the physical device's properties.
        let hal = unsafe { device.as_hal::<Vulkan>() }
            .ok_or_else(|| "the device is not a Vulkan device".to_string())?;
        let instance = hal.shared_instance().raw_instance();
        // SAFETY: the physical device belongs to this instance, which outlives the call.
        let properties =
            unsafe { instance.get_physical_device_memory_properties(hal.raw_physical_device()) };
        let upload_type = best_type(&properties, Direction::Upload);
        let readback_type = best_type(&properties, Direction::Readback);
        match (upload_type, readback_type) {
            (Some(upload_type), Some(readback_type)) => Ok(Self {
                upload_type,
                readback_type,
            }),
            _ => Err("no host-visible, host-coherent memory type".to_string()),
        }
    }

    /// A staging buffer of `size` bytes (> 0) in host memory, mapped for its whole life.
    pub fn buffer(
        &self,
        device: &wgpu::Device,
        size: u64,
        direction: Direction,
        label: &str,
    ) -> Result<HostBuffer> {
        let memory_type = match direction {
            Direction::Upload => self.upload_type,
            Direction::Readback => self.readback_type,
        };
        let len = usize::try_from(size)
            .map_err(|_| Error::new(ErrorKind::SizeOverflow, "staging larger than memory"))?;
        let (raw_buffer, memory, allocated, ptr) = {
            // SAFETY: the HAL device is used to create, bind and map objects that are
            // either handed to wgpu below or destroyed here on failure.
            let hal = unsafe { device.as_hal::<Vulkan>() }
                .ok_or_else(|| Error::new(ErrorKind::Gpu, "the device is not a Vulkan device"))?;
            let raw = hal.raw_device();
            let info = vk::BufferCreateInfo::default()
                .size(size)
                .usage(vk::BufferUsageFlags::TRANSFER_SRC | vk::BufferUsageFlags::TRANSFER_DST)
                .sharing_mode(vk::SharingMode::EXCLUSIVE);
            // SAFETY: a valid create info; the buffer is destroyed on every failure below.
            let buffer = unsafe { raw.create_buffer(&info, None) }
                .map_err(|e| vk_error("creating a staging buffer", e))?;
            // SAFETY: `buffer` is a live buffer of this device.
            let requirements = unsafe { raw.get_buffer_memory_requirements(buffer) };
            let destroy = |error: Error| {
                // SAFETY: `buffer` is unused (never submitted) and destroyed once.
                unsafe { raw.destroy_buffer(buffer, None) };
                error
            };
            if requirements.memory_type_bits & (1 << memory_type) == 0 {
                return Err(destroy(Error::new(
                    ErrorKind::Gpu,
                    "staging buffers cannot live in host memory on this device",
                )));
            }
            let allocate = vk::MemoryAllocateInfo::default()
                .allocation_size(requirements.size)
                .memory_type_index(memory_type);
            // SAFETY: a valid allocate info for a memory type of this device.
            let memory = unsafe { raw.allocate_memory(&allocate, None) }
                .map_err(|e| destroy(vk_error("allocating host memory for staging", e)))?;
            let free = |error: Error| {
                // SAFETY: `memory` is not mapped by anyone else and freed once.
                unsafe { raw.free_memory(memory, None) };
                destroy(error)
            };
            // SAFETY: fresh buffer and memory of this device; offset 0 meets any alignment.
            unsafe { raw.bind_buffer_memory(buffer, memory, 0) }
                .map_err(|e| free(vk_error("binding staging memory", e)))?;
            // SAFETY: host-visible memory, mapped once, for its whole size.
            let mapped =
                unsafe { raw.map_memory(memory, 0, vk::WHOLE_SIZE, vk::MemoryMapFlags::empty()) }
                    .map_err(|e| free(vk_error("mapping staging memory", e)))?;
            let ptr = NonNull::new(mapped.cast::<u8>())
                .ok_or_else(|| free(Error::new(ErrorKind::Gpu, "mapping returned null")))?;
            (buffer, memory, requirements.size, ptr)
        };
        use wgpu::BufferUsages as U;
        // SAFETY: the buffer was created above with transfer usages, bound to `memory`
        // (`allocated` bytes), never submitted.
        let buffer = unsafe {
            adopt(
                device,
                (raw_buffer, memory, allocated),
                size,
                U::COPY_SRC | U::COPY_DST,
                label,
            )
        };
        Ok(HostBuffer { buffer, ptr, len })
    }
}

/// A staging buffer in host memory, mapped for its whole life. See the module's invariants.
pub struct HostBuffer {
    buffer: wgpu::Buffer,
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory owned with the buffer; `&self` gives shared reads and
// `&mut self` exclusive writes, as for a `Vec<u8>`.
unsafe impl Send for HostBuffer {}
// SAFETY: as above.
unsafe impl Sync for HostBuffer {}

impl HostBuffer {
    /// The buffer for GPU copies.
    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }

    /// The mapped bytes, to read what a completed submission wrote.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `len` mapped bytes live as long as `self` (module invariants); no GPU
        // write overlaps this borrow (the slab is not in flight while its owner reads).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The mapped bytes, to fill before a submission.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `bytes`, and `&mut self` makes this the only view.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

/// Hands a raw buffer and its memory (`(buffer, memory, bytes of memory)`) to wgpu as a
/// `size`-byte buffer with `usage`: wgpu destroys both once the buffer is dropped or
/// destroyed and the GPU no longer uses it.
///
/// # Safety
/// The buffer and memory belong to `device`, the buffer is bound to the memory at offset 0,
/// was created with the Vulkan usages matching `usage`, and nothing else owns either.
unsafe fn adopt(
    device: &wgpu::Device,
    (buffer, memory, allocated): (vk::Buffer, vk::DeviceMemory, u64),
    size: u64,
    usage: wgpu::BufferUsages,
    label: &str,
) -> wgpu::Buffer {
    // SAFETY: the caller's contract.
    unsafe {
        let hal_buffer = wgpu::hal::vulkan::Buffer::from_raw_managed(buffer, memory, 0, allocated);
        device.create_buffer_from_hal::<Vulkan>(
            hal_buffer,
            &wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            },
        )
    }
}

/// The extension that lets the GPU use the caller's own memory.
const IMPORT_EXTENSION: &std::ffi::CStr = ash::ext::external_memory_host::NAME;

/// Opens a device on `adapter` with `VK_EXT_external_memory_host` enabled, through wgpu's
/// HAL: `None` when the adapter is not Vulkan or does not offer the extension; an error
/// when opening it failed (the caller then opens the device the usual way).
pub fn open_with_import(
    adapter: &wgpu::Adapter,
    desc: &wgpu::DeviceDescriptor<'_>,
) -> Option<std::result::Result<(wgpu::Device, wgpu::Queue), String>> {
    let opened = {
        // SAFETY: the HAL adapter opens a device with the features and limits wgpu itself
        // would ask for, plus one extension the adapter offers (checked first); the
        // callback only adds that extension.
        let hal = unsafe { adapter.as_hal::<Vulkan>() }?;
        if !hal
            .physical_device_capabilities()
            .supports_extension(IMPORT_EXTENSION)
        {
            return None;
        }
        let add_extension: Box<wgpu::hal::vulkan::CreateDeviceCallback<'_>> =
            Box::new(|args| args.extensions.push(IMPORT_EXTENSION));
        // SAFETY: as above.
        unsafe {
            hal.open_with_callback(
                desc.required_features,
                &desc.required_limits,
                &desc.memory_hints,
                Some(add_extension),
            )
        }
    };
    let opened = match opened {
        Ok(opened) => opened,
        Err(e) => {
            return Some(Err(format!(
                "opening the device with {IMPORT_EXTENSION:?}: {e}"
            )))
        }
    };
    // SAFETY: the device was opened on this adapter's own HAL adapter, with exactly the
    // features the descriptor asks for.
    let device = unsafe { adapter.create_device_from_hal(opened, desc) };
    Some(device.map_err(|e| format!("wrapping the device opened with {IMPORT_EXTENSION:?}: {e}")))
}

/// Imports caller memory as GPU buffers (`VK_EXT_external_memory_host`), on a device opened
/// by [`open_with_import`].
///
/// Invariants, beyond the staging ones above:
///
/// - **Lifetime.** The imported `VkDeviceMemory` aliases the caller's pages; Vulkan
///   requires them to stay valid until the memory is freed. The executor's registration
///   contract makes the caller keep them until unregistering, and unregistering destroys
///   the buffer (`wgpu::Buffer::destroy`: wgpu frees it once the GPU no longer uses it) and
///   waits for the GPU before it returns, so the memory is freed before the caller may
///   free the pages.
/// - **Alignment.** The imported range starts and ends at multiples of
///   `minImportedHostPointerAlignment`: the caller's range is widened to them, and the
///   widened range lies in the same pages, mapped as the caller's bytes are (the alignment
///   is at most a page where it is not, the import fails and says so).
/// - **Coherency.** Imported host memory is host-coherent where drivers offer it (the
///   only types accepted here), so GPU writes are visible once a submission completed and
///   host writes made before a submit are visible to it.
pub struct HostImport {
    alignment: u64,
    memory: ash::ext::external_memory_host::Device,
    /// Memory types that are host-coherent: the only ones an import may use.
    coherent_types: u32,
    /// Of those, the host-cached ones, preferred: the caller's memory is ordinary cached
    /// memory, so the GPU's accesses must snoop the CPU's caches.
    cached_types: u32,
}

impl HostImport {
    /// The importer for `device`, or `None` when it was not opened with the extension.
    pub fn probe(device: &wgpu::Device) -> Option<Self> {
        // SAFETY: the HAL device is only used to read properties and load the extension's
        // entry points.
        let hal = unsafe { device.as_hal::<Vulkan>() }?;
        if !hal.enabled_device_extensions().contains(&IMPORT_EXTENSION) {
            return None;
        }
        let instance = hal.shared_instance().raw_instance();
        let mut host = vk::PhysicalDeviceExternalMemoryHostPropertiesEXT::default();
        let mut properties = vk::PhysicalDeviceProperties2::default().push_next(&mut host);
        // SAFETY: the physical device belongs to this instance, which outlives the call;
        // the extension is enabled, so its properties struct may be chained.
        unsafe {
            instance.get_physical_device_properties2(hal.raw_physical_device(), &mut properties)
        };
        let alignment = host.min_imported_host_pointer_alignment.max(1);
        // SAFETY: as above.
        let types =
            unsafe { instance.get_physical_device_memory_properties(hal.raw_physical_device()) };
        let count = (types.memory_type_count as usize).min(types.memory_types.len());
        let with = |flags: vk::MemoryPropertyFlags| {
            types.memory_types[..count]
                .iter()
                .enumerate()
                .filter(|(_, t)| t.property_flags.contains(flags))
                .fold(0u32, |bits, (i, _)| bits | 1 << i)
        };
        use vk::MemoryPropertyFlags as F;
        let coherent_types = with(F::HOST_VISIBLE | F::HOST_COHERENT);
        let cached_types = with(F::HOST_VISIBLE | F::HOST_COHERENT | F::HOST_CACHED);
        Some(Self {
            alignment,
            memory: ash::ext::external_memory_host::Device::new(instance, hal.raw_device()),
            coherent_types,
            cached_types,
        })
    }

    /// Bytes an imported range starts and ends at multiples of.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// A GPU buffer over `len` bytes of host memory at address `address` (both multiples
    /// of [`alignment`](Self::alignment)), usable for copies and as storage.
    ///
    /// # Safety
    /// The bytes must be mapped, readable and writable memory of this process, and stay so
    /// until the returned buffer has been destroyed and the GPU has finished every
    /// submission that used it (see the type's invariants).
    pub unsafe fn import(
        &self,
        device: &wgpu::Device,
        address: usize,
        len: u64,
        label: &str,
    ) -> Result<wgpu::Buffer> {
        let pointer = address as *mut std::ffi::c_void;
        let (raw_buffer, memory) = {
            // SAFETY: the HAL device creates, binds and imports objects that are handed to
            // wgpu below or destroyed here on failure.
            let hal = unsafe { device.as_hal::<Vulkan>() }
                .ok_or_else(|| Error::new(ErrorKind::Gpu, "the device is not a Vulkan device"))?;
            let raw = hal.raw_device();
            let handle = vk::ExternalMemoryHandleTypeFlags::HOST_ALLOCATION_EXT;
            let mut pointer_properties = vk::MemoryHostPointerPropertiesEXT::default();
            // SAFETY: the extension is enabled on this device; the pointer is aligned
            // (contract) and the output struct is valid for the call.
            unsafe {
                (self.memory.fp().get_memory_host_pointer_properties_ext)(
                    raw.handle(),
                    handle,
                    pointer,
                    &mut pointer_properties,
                )
            }
            .result()
            .map_err(|e| vk_error("the driver cannot import this memory", e))?;
            let mut external = vk::ExternalMemoryBufferCreateInfo::default().handle_types(handle);
            let info = vk::BufferCreateInfo::default()
                .size(len)
                .usage(
                    vk::BufferUsageFlags::TRANSFER_SRC
                        | vk::BufferUsageFlags::TRANSFER_DST
                        | vk::BufferUsageFlags::STORAGE_BUFFER,
                )
                .sharing_mode(vk::SharingMode::EXCLUSIVE)
                .push_next(&mut external);
            // SAFETY: a valid create info; the buffer is destroyed on every failure below.
            let buffer = unsafe { raw.create_buffer(&info, None) }
                .map_err(|e| vk_error("creating a buffer over host memory", e))?;
            let destroy = |error: Error| {
                // SAFETY: `buffer` is unused (never submitted) and destroyed once.
                unsafe { raw.destroy_buffer(buffer, None) };
                error
            };
            // SAFETY: `buffer` is a live buffer of this device.
            let requirements = unsafe { raw.get_buffer_memory_requirements(buffer) };
            let usable = requirements.memory_type_bits
                & pointer_properties.memory_type_bits
                & self.coherent_types;
            if usable == 0 {
                return Err(destroy(Error::new(
                    ErrorKind::Unsupported,
                    "no host-coherent memory type can hold a buffer over this memory",
                )));
            }
            let mut import = vk::ImportMemoryHostPointerInfoEXT::default()
                .handle_type(handle)
                .host_pointer(pointer);
            let cached = usable & self.cached_types;
            let memory_type = if cached != 0 { cached } else { usable }.trailing_zeros();
            log!(
                Level::Debug,
                "importing {len} bytes of host memory as memory type {memory_type} (the driver allows types {:#b}, cached ones {:#b})",
                pointer_properties.memory_type_bits,
                self.cached_types
            );
            let allocate = vk::MemoryAllocateInfo::default()
                .allocation_size(len)
                .memory_type_index(memory_type)
                .push_next(&mut import);
            // SAFETY: a valid import of aligned, mapped memory (contract) into a memory type
            // the driver reported for this pointer.
            let memory = unsafe { raw.allocate_memory(&allocate, None) }
                .map_err(|e| destroy(vk_error("importing host memory", e)))?;
            // SAFETY: fresh buffer and memory of this device; offset 0.
            if let Err(e) = unsafe { raw.bind_buffer_memory(buffer, memory, 0) } {
                // SAFETY: `memory` is bound to nothing and freed once.
                unsafe { raw.free_memory(memory, None) };
                return Err(destroy(vk_error("binding imported host memory", e)));
            }
            (buffer, memory)
        };
        use wgpu::BufferUsages as U;
        // SAFETY: the buffer was created above with transfer and storage usages, bound to
        // the imported `memory` (`len` bytes), never submitted.
        let usage = U::COPY_SRC | U::COPY_DST | U::STORAGE;
        Ok(unsafe { adopt(device, (raw_buffer, memory, len), len, usage, label) })
    }
}

/// Copies `src` into `dst` (same length) with non-temporal stores where the CPU has them,
/// so that the bytes go to memory rather than sit dirty in the CPU's caches: the GPU then
/// reads them from memory instead of snooping each line out of the caches, which on x86
/// made uploads of a few megabytes two to three times slower than the copy itself.
pub fn stream_copy(dst: &mut [u8], src: &[u8]) {
    let len = dst.len().min(src.len());
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_sfence, _mm_stream_si128};
        // Bytes up to the first 16-byte boundary of `dst`, then whole 16-byte lines.
        let head = dst.as_ptr().align_offset(16).min(len);
        dst[..head].copy_from_slice(&src[..head]);
        let lines = (len - head) / 16;
        let body = head + lines * 16;
        // SAFETY: SSE2 is part of x86_64. Every store goes to `dst[head..body]`, 16-byte
        // aligned (by `head`) and in bounds (`body <= len`); every load reads
        // `src[head..body]`, in bounds, unaligned loads allowed. The fence orders the
        // non-temporal stores before anything this thread does next (the submit).
        unsafe {
            let d = dst.as_mut_ptr().add(head).cast::<__m128i>();
            let s = src.as_ptr().add(head).cast::<__m128i>();
            for i in 0..lines {
                _mm_stream_si128(d.add(i), _mm_loadu_si128(s.add(i)));
            }
            _mm_sfence();
        }
        dst[body..len].copy_from_slice(&src[body..len]);
    }
    #[cfg(not(target_arch = "x86_64"))]
    dst[..len].copy_from_slice(&src[..len]);
}

/// The size of the largest memory heap flagged `DEVICE_LOCAL` of `physical`, in bytes
/// (`None` when no heap is): the figure `gpu_adapter_info_t.device_local_bytes` reports.
///
/// # Safety
/// `physical` must be a physical device of `instance`.
unsafe fn largest_device_local_heap(
    instance: &wgpu::hal::vulkan::InstanceShared,
    physical: vk::PhysicalDevice,
) -> Option<u64> {
    // SAFETY: the physical device belongs to this instance (contract), which outlives the
    // call.
    let properties = unsafe {
        instance
            .raw_instance()
            .get_physical_device_memory_properties(physical)
    };
    let count = (properties.memory_heap_count as usize).min(properties.memory_heaps.len());
    properties.memory_heaps[..count]
        .iter()
        .filter(|heap| heap.flags.contains(vk::MemoryHeapFlags::DEVICE_LOCAL))
        .map(|heap| heap.size)
        .max()
}

/// Bytes of `adapter`'s device-local memory (its largest `DEVICE_LOCAL` heap) on Vulkan;
/// `None` on other backends, which do not report it.
pub fn device_local_bytes(adapter: &wgpu::Adapter) -> Option<u64> {
    // SAFETY: the HAL adapter is only used, while the guard lives, to read the physical
    // device's memory properties; nothing is created or changed through it. The physical
    // device is the adapter's own, of its instance.
    unsafe {
        let hal = adapter.as_hal::<Vulkan>()?;
        largest_device_local_heap(hal.shared_instance(), hal.raw_physical_device())
    }
}

/// [`device_local_bytes`] for the adapter a `device` was opened on.
pub fn device_local_bytes_of(device: &wgpu::Device) -> Option<u64> {
    // SAFETY: as in `device_local_bytes`, through the device's HAL.
    unsafe {
        let hal = device.as_hal::<Vulkan>()?;
        largest_device_local_heap(hal.shared_instance(), hal.raw_physical_device())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn properties(types: &[vk::MemoryPropertyFlags]) -> vk::PhysicalDeviceMemoryProperties {
        let mut p = vk::PhysicalDeviceMemoryProperties {
            memory_type_count: types.len() as u32,
            ..Default::default()
        };
        for (slot, &flags) in p.memory_types.iter_mut().zip(types) {
            slot.property_flags = flags;
        }
        p
    }

    #[test]
    fn prefers_system_memory_over_the_bar() {
        use vk::MemoryPropertyFlags as F;
        // An NVIDIA discrete GPU's list.
        let p = properties(&[
            F::DEVICE_LOCAL,
            F::HOST_VISIBLE | F::HOST_COHERENT,
            F::HOST_VISIBLE | F::HOST_COHERENT | F::HOST_CACHED,
            F::DEVICE_LOCAL | F::HOST_VISIBLE | F::HOST_COHERENT,
        ]);
        assert_eq!(best_type(&p, Direction::Readback), Some(2));
        assert_eq!(best_type(&p, Direction::Upload), Some(2));
        // lavapipe: one type that is everything.
        let p =
            properties(&[F::DEVICE_LOCAL | F::HOST_VISIBLE | F::HOST_COHERENT | F::HOST_CACHED]);
        assert_eq!(best_type(&p, Direction::Upload), Some(0));
        // Nothing coherent: no staging here.
        let p = properties(&[F::DEVICE_LOCAL, F::HOST_VISIBLE | F::HOST_CACHED]);
        assert_eq!(best_type(&p, Direction::Readback), None);
    }

    #[test]
    fn stream_copy_copies_every_byte_at_any_alignment() {
        let src: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for offset in 0..17 {
            for len in [0, 1, 15, 16, 17, 63, 64, 65, 200] {
                let mut dst = vec![0xAAu8; 300];
                stream_copy(&mut dst[offset..offset + len], &src[..len]);
                assert_eq!(&dst[offset..offset + len], &src[..len]);
                assert!(dst[..offset].iter().all(|&b| b == 0xAA));
                assert!(dst[offset + len..].iter().all(|&b| b == 0xAA));
            }
        }
    }
}
