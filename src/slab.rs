//! A slab: the GPU buffers one dispatch works on, with their bind group.
//!
//! Tasks are packed back to back into a slab's input arrays (each padded to a multiple of
//! four elements). The host writes inputs into a persistently mapped upload buffer; the
//! batch's command buffer copies them to device-local storage, dispatches, and copies the
//! output to a readback buffer. A reduction slab also holds a table of blocks (one
//! workgroup each), and its output is one partial per block.

use std::ops::Range;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::completion::Completion;
use crate::error::{Error, ErrorKind, Result};
use crate::kernel::{
    SlabShape, BLOCKS_BINDING, ELEMENTS_PER_INVOCATION, INPUT_BINDINGS, OUTPUT_BINDING,
};
use crate::log::{log, Level};
use crate::stats::Stats;
use crate::task::MAX_SCALARS;

const F32: u64 = std::mem::size_of::<f32>() as u64;
/// Bytes of the params block (`len4: u32` and three scalar words).
const PARAMS_BYTES: u64 = 16;

/// GPU buffers for up to `capacity` elements per array, plus their bind group.
pub struct Slab {
    pub capacity: u64,
    /// Input arrays (1 to 3) and whether there is a block table: slabs are pooled by shape
    /// and capacity.
    pub shape: SlabShape,
    inputs: Vec<wgpu::Buffer>,
    out: wgpu::Buffer,
    params: wgpu::Buffer,
    /// A reduction's block table: (first element, count) per block.
    blocks: Option<wgpu::Buffer>,
    /// MAP_WRITE staging: `[input 0: capacity]…[input arity-1: capacity][params][blocks]`.
    /// Mapped while idle.
    upload: wgpu::Buffer,
    /// MAP_READ staging for the output.
    readback: wgpu::Buffer,
    pub bind_group: wgpu::BindGroup,
    /// Set once the upload buffer's remap (requested after a submit) has completed.
    upload_map: Option<MapRequest>,
}

/// Tracks one `map_async` until the device is polled.
#[derive(Clone)]
pub struct MapRequest(Arc<AtomicU8>);

const MAP_PENDING: u8 = 0;
const MAP_OK: u8 = 1;
const MAP_FAILED: u8 = 2;
/// How long a completed submission's map callback may take to run on another thread.
const SETTLE_LIMIT: Duration = Duration::from_secs(5);

impl MapRequest {
    /// Asks for `slice` to be mapped; the callback wakes whoever waits on `completion`.
    fn start(
        slice: wgpu::BufferSlice<'_>,
        mode: wgpu::MapMode,
        completion: &Arc<Completion>,
    ) -> Self {
        let state = Arc::new(AtomicU8::new(MAP_PENDING));
        let done = Arc::clone(&state);
        let completion = Arc::clone(completion);
        slice.map_async(mode, move |result| {
            let value = if result.is_ok() { MAP_OK } else { MAP_FAILED };
            done.store(value, Ordering::Release);
            completion.notify();
        });
        Self(state)
    }

    /// Whether the map completed successfully (it never will after a failure).
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire) == MAP_OK
    }

    /// Waits until the map callback has run, then reports as `ready`. A poll that saw the
    /// submission complete can still find the callback running on another thread that
    /// polled or submitted at the same moment, so this polls briefly until it settles.
    pub fn settle(&self, device: &wgpu::Device) -> Result<()> {
        let deadline = Instant::now() + SETTLE_LIMIT;
        while self.0.load(Ordering::Acquire) == MAP_PENDING && Instant::now() < deadline {
            // An error here resurfaces through the request's own state.
            let _ = device.poll(wgpu::PollType::Poll);
            std::thread::yield_now();
        }
        self.ready()
    }

    pub fn failed(&self) -> bool {
        self.0.load(Ordering::Acquire) == MAP_FAILED
    }

    pub fn ready(&self) -> Result<()> {
        match self.0.load(Ordering::Acquire) {
            MAP_OK => Ok(()),
            MAP_PENDING => Err(Error::new(
                ErrorKind::Gpu,
                "buffer mapping did not complete after the submission finished",
            )),
            _ => Err(Error::new(ErrorKind::Gpu, "buffer mapping failed")),
        }
    }
}

fn buffer(
    device: &wgpu::Device,
    label: &str,
    size: u64,
    usage: wgpu::BufferUsages,
    mapped: bool,
) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size,
        usage,
        mapped_at_creation: mapped,
    })
}

/// Byte offset of input `input` (or, at `arity`, of the params block) in the upload buffer.
fn upload_offset(capacity: u64, input: usize) -> u64 {
    input as u64 * capacity * F32
}

/// Most blocks a reduction slab of `capacity` elements can need: every piece starts at a
/// multiple of four elements and every block holds at least one piece's worth.
pub fn max_blocks(capacity: u64) -> u64 {
    capacity.div_ceil(ELEMENTS_PER_INVOCATION).max(1)
}

/// One block of a reduction slab: `count` elements from `first` (a multiple of four).
#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct Block {
    pub first: u32,
    pub count: u32,
}

impl Slab {
    /// Creates the buffers (the shape's inputs, output, params, block table for a
    /// reduction, upload, readback) and the bind group on `layout` (the shared layout of
    /// `shape`); the upload buffer starts mapped.
    pub fn new(
        device: &wgpu::Device,
        layout: &wgpu::BindGroupLayout,
        shape: SlabShape,
        capacity: u64,
        stats: &mut Stats,
    ) -> Self {
        use wgpu::BufferUsages as U;
        let arity = shape.arity;
        let bytes = capacity * F32;
        let inputs: Vec<wgpu::Buffer> = (0..arity)
            .map(|_| buffer(device, "slab input", bytes, U::STORAGE | U::COPY_DST, false))
            .collect();
        // A reduction writes one partial per block.
        let out_bytes = if shape.reduction {
            max_blocks(capacity) * F32
        } else {
            bytes
        };
        let table_bytes = if shape.reduction {
            max_blocks(capacity) * std::mem::size_of::<Block>() as u64
        } else {
            0
        };
        let out = buffer(
            device,
            "slab out",
            out_bytes,
            U::STORAGE | U::COPY_SRC,
            false,
        );
        let blocks = shape.reduction.then(|| {
            buffer(
                device,
                "slab blocks",
                table_bytes,
                U::STORAGE | U::COPY_DST,
                false,
            )
        });
        let params = buffer(
            device,
            "slab params",
            PARAMS_BYTES,
            U::UNIFORM | U::COPY_DST,
            false,
        );
        let upload = buffer(
            device,
            "slab upload",
            arity as u64 * bytes + PARAMS_BYTES + table_bytes,
            U::MAP_WRITE | U::COPY_SRC,
            true,
        );
        let readback = buffer(
            device,
            "slab readback",
            out_bytes,
            U::MAP_READ | U::COPY_DST,
            false,
        );
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: params.as_entire_binding(),
        }];
        entries.extend(inputs.iter().zip(INPUT_BINDINGS).map(|(buffer, binding)| {
            wgpu::BindGroupEntry {
                binding,
                resource: buffer.as_entire_binding(),
            }
        }));
        entries.push(wgpu::BindGroupEntry {
            binding: OUTPUT_BINDING,
            resource: out.as_entire_binding(),
        });
        if let Some(blocks) = &blocks {
            entries.push(wgpu::BindGroupEntry {
                binding: BLOCKS_BINDING,
                resource: blocks.as_entire_binding(),
            });
        }
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("slab bind group"),
            layout,
            entries: &entries,
        });
        log!(
            Level::Debug,
            "creating a slab of {capacity} elements per array"
        );
        stats.buffers_created += 4 + arity as u64 + u64::from(shape.reduction);
        stats.bind_groups_created += 1;
        Self {
            capacity,
            shape,
            inputs,
            out,
            blocks,
            params,
            upload,
            readback,
            bind_group,
            upload_map: None,
        }
    }

    /// Makes sure the upload buffer's remap (requested after the last submit) completed.
    pub fn ensure_upload_mapped(&mut self, device: &wgpu::Device) -> Result<()> {
        match self.upload_map.take() {
            Some(request) => request.settle(device),
            None => Ok(()),
        }
    }

    /// Write view over elements `range` of input `input` (0 to arity-1) in the mapped
    /// upload buffer. Views over disjoint ranges may be written from different threads.
    pub fn input_view(&self, input: usize, range: Range<u64>) -> Result<wgpu::BufferViewMut> {
        let base = upload_offset(self.capacity, input);
        self.upload
            .slice(base + range.start * F32..base + range.end * F32)
            .get_mapped_range_mut()
            .map_err(|e| Error::new(ErrorKind::Gpu, format!("upload buffer not mapped: {e}")))
    }

    /// Writes the params block (element count, or a reduction's block count, and the
    /// tasks' scalars) and a reduction's block table, then unmaps the upload buffer: the
    /// inputs are complete.
    pub fn finish_upload(
        &self,
        used: u64,
        scalars: [u32; MAX_SCALARS],
        blocks: &[Block],
    ) -> Result<()> {
        let count = if self.shape.reduction {
            blocks.len() as u64
        } else {
            used / ELEMENTS_PER_INVOCATION
        };
        let count = u32::try_from(count).map_err(|_| {
            Error::new(
                ErrorKind::SizeOverflow,
                "slab exceeds the kernel's index range",
            )
        })?;
        let params = [count, scalars[0], scalars[1], 0];
        let at = upload_offset(self.capacity, self.shape.arity);
        let mut view = self
            .upload
            .slice(at..at + PARAMS_BYTES + std::mem::size_of_val(blocks) as u64)
            .get_mapped_range_mut()
            .map_err(|e| Error::new(ErrorKind::Gpu, format!("upload buffer not mapped: {e}")))?;
        let table = PARAMS_BYTES as usize..PARAMS_BYTES as usize + std::mem::size_of_val(blocks);
        view.slice(..PARAMS_BYTES as usize)
            .copy_from_slice(bytemuck::cast_slice(&params));
        view.slice(table)
            .copy_from_slice(bytemuck::cast_slice(blocks));
        drop(view);
        self.upload.unmap();
        Ok(())
    }

    /// Bytes the dispatch writes for the host: every element, or a partial per block.
    fn result_bytes(&self, used: u64, blocks: usize) -> u64 {
        if self.shape.reduction {
            blocks as u64 * F32
        } else {
            used * F32
        }
    }

    /// GPU side: upload copies, one dispatch over `used` elements (or one workgroup per
    /// block of a reduction), readback copy.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        pipeline: &wgpu::ComputePipeline,
        workgroup_size: u32,
        max_groups_x: u32,
        used: u64,
        blocks: usize,
    ) {
        let bytes = used * F32;
        for (k, input) in self.inputs.iter().enumerate() {
            encoder.copy_buffer_to_buffer(
                &self.upload,
                upload_offset(self.capacity, k),
                input,
                0,
                bytes,
            );
        }
        let params_at = upload_offset(self.capacity, self.shape.arity);
        encoder.copy_buffer_to_buffer(&self.upload, params_at, &self.params, 0, PARAMS_BYTES);
        if let Some(table) = &self.blocks {
            let table_bytes = (blocks * std::mem::size_of::<Block>()) as u64;
            if table_bytes > 0 {
                encoder.copy_buffer_to_buffer(
                    &self.upload,
                    params_at + PARAMS_BYTES,
                    table,
                    0,
                    table_bytes,
                );
            }
        }
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("slab dispatch"),
                timestamp_writes: None,
            });
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &self.bind_group, &[]);
            let invocations = if self.shape.reduction {
                blocks as u64 * u64::from(workgroup_size)
            } else {
                used.div_ceil(ELEMENTS_PER_INVOCATION)
            };
            let (x, y) = dispatch_grid(invocations, workgroup_size, max_groups_x);
            pass.dispatch_workgroups(x, y, 1);
        }
        let result = self.result_bytes(used, blocks);
        encoder.copy_buffer_to_buffer(&self.out, 0, &self.readback, 0, result);
    }

    /// After submit: ask for the results (read) and the upload buffer (write) to be mapped.
    pub fn request_maps(
        &mut self,
        used: u64,
        blocks: usize,
        completion: &Arc<Completion>,
    ) -> MapRequest {
        self.upload_map = Some(MapRequest::start(
            self.upload.slice(..),
            wgpu::MapMode::Write,
            completion,
        ));
        MapRequest::start(
            self.readback.slice(..self.result_bytes(used, blocks)),
            wgpu::MapMode::Read,
            completion,
        )
    }

    /// After the submission completed and its map request is ready: a read view of output
    /// elements `range`. Call `finish_readback` once every view is dropped.
    pub fn output_view(&self, range: Range<u64>) -> Result<wgpu::BufferView> {
        self.readback
            .slice(range.start * F32..range.end * F32)
            .get_mapped_range()
            .map_err(|e| Error::new(ErrorKind::Gpu, format!("readback not mapped: {e}")))
    }

    pub fn finish_readback(&self) {
        self.readback.unmap();
    }

    /// True when the slab can go back to a pool: its upload buffer's remap did not fail
    /// (it may still be settling; the next use waits for it).
    pub fn is_reusable(&self) -> bool {
        self.upload_map
            .as_ref()
            .is_none_or(|request| !request.failed())
    }
}

/// Workgroup counts for `invocations`, spilling into y beyond `max_x` groups in x (the
/// device's per-dimension limit, 65,535 on most).
pub fn dispatch_grid(invocations: u64, workgroup_size: u32, max_x: u32) -> (u32, u32) {
    let max_x = u64::from(max_x.max(1));
    let groups = invocations.div_ceil(u64::from(workgroup_size)).max(1);
    if groups <= max_x {
        (groups as u32, 1)
    } else {
        (max_x as u32, groups.div_ceil(max_x) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::dispatch_grid;

    #[test]
    fn grid_spills_into_y() {
        assert_eq!(dispatch_grid(1, 64, 65_535), (1, 1));
        assert_eq!(dispatch_grid(64 * 65_535, 64, 65_535), (65_535, 1));
        assert_eq!(dispatch_grid(64 * 65_535 + 1, 64, 65_535), (65_535, 2));
        assert_eq!(dispatch_grid(64 * 100, 64, 16), (16, 7));
    }
}
