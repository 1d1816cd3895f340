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
use crate::host_memory::{stream_copy, Direction, HostBuffer, HostMemory};
use crate::kernel::{
    SlabShape, BLOCKS_BINDING, ELEMENTS_PER_INVOCATION, INPUT_BINDINGS, MAX_INPUTS, OUTPUT_BINDING,
};
use crate::log::{log, Level};
use crate::stats::Stats;

const F32: u64 = std::mem::size_of::<f32>() as u64;
/// Words of the params block: a count and up to seven parameters (see `Staged::params`).
pub const PARAMS_WORDS: usize = 8;
const PARAMS_BYTES: u64 = PARAMS_WORDS as u64 * 4;

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
    /// Upload staging: `[input 0: capacity]…[input arity-1: capacity][params][blocks]`.
    /// Mapped while idle.
    upload: Staging,
    /// Readback staging for the output.
    readback: Staging,
    pub bind_group: wgpu::BindGroup,
    /// Set once the upload buffer's remap (requested after a submit) has completed.
    upload_map: Option<MapRequest>,
}

/// One GPU copy between a slab array and a resident buffer.
#[derive(Clone, Debug)]
pub struct ResidentCopy {
    /// The slab's input it fills (copies in; unused for copies out).
    pub input: usize,
    pub buffer: wgpu::Buffer,
    /// Byte offset in `buffer`.
    pub buffer_byte: u64,
    /// First slab element.
    pub slab_element: u64,
    pub elements: u64,
}

/// How a slab's arrays meet resident buffers; empty for a slab of host data only.
#[derive(Default, Debug)]
pub struct SlabIo {
    /// Per input: when some pieces read that input from a resident buffer, the slab
    /// ranges (elements) that come from staging; `None`: the whole used range does.
    pub host_runs: [Option<Vec<Range<u64>>>; MAX_INPUTS],
    pub copies_in: Vec<ResidentCopy>,
    pub copies_out: Vec<ResidentCopy>,
    /// Whether any piece's output goes to the host.
    pub host_output: bool,
}

/// The host side of a slab's uploads or readbacks.
enum Staging {
    /// A wgpu `MAP_WRITE` or `MAP_READ` buffer, unmapped for every submission and mapped
    /// again afterwards.
    Mapped(wgpu::Buffer),
    /// Host memory mapped once for the slab's life (see `host_memory`).
    Host(HostBuffer),
}

impl Staging {
    fn buffer(&self) -> &wgpu::Buffer {
        match self {
            Self::Mapped(buffer) => buffer,
            Self::Host(host) => host.buffer(),
        }
    }
}

/// A writable view of upload staging.
pub enum UploadView<'a> {
    Mapped(wgpu::BufferViewMut),
    Host(&'a mut [u8]),
}

impl UploadView<'_> {
    /// Copies `data` to byte `at` of the view.
    pub fn write(&mut self, at: usize, data: &[u8]) {
        match self {
            Self::Mapped(view) => view.slice(at..at + data.len()).copy_from_slice(data),
            Self::Host(bytes) => stream_copy(&mut bytes[at..at + data.len()], data),
        }
    }
}

/// A readable view of readback staging.
pub enum ReadbackView<'a> {
    Mapped(wgpu::BufferView),
    Host(&'a [u8]),
}

impl std::ops::Deref for ReadbackView<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Self::Mapped(view) => view,
            Self::Host(bytes) => bytes,
        }
    }
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
    pub(crate) fn start(
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

    /// Completes when all work submitted to `queue` so far has completed.
    pub fn work_done(queue: &wgpu::Queue, completion: &Arc<Completion>) -> Self {
        let state = Arc::new(AtomicU8::new(MAP_PENDING));
        let done = Arc::clone(&state);
        let completion = Arc::clone(completion);
        queue.on_submitted_work_done(move || {
            done.store(MAP_OK, Ordering::Release);
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
    /// `shape`); the upload staging starts mapped. Staging lives in `host` memory when
    /// given, else in wgpu's mapped buffers.
    pub fn new(
        device: &wgpu::Device,
        layout: &wgpu::BindGroupLayout,
        shape: SlabShape,
        capacity: u64,
        host: Option<&HostMemory>,
        stats: &mut Stats,
    ) -> Result<Self> {
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
        let upload_bytes = arity as u64 * bytes + PARAMS_BYTES + table_bytes;
        let (upload, readback) = match host {
            Some(memory) => (
                Staging::Host(memory.buffer(
                    device,
                    upload_bytes,
                    Direction::Upload,
                    "slab upload",
                )?),
                Staging::Host(memory.buffer(
                    device,
                    out_bytes,
                    Direction::Readback,
                    "slab readback",
                )?),
            ),
            None => (
                Staging::Mapped(buffer(
                    device,
                    "slab upload",
                    upload_bytes,
                    U::MAP_WRITE | U::COPY_SRC,
                    true,
                )),
                Staging::Mapped(buffer(
                    device,
                    "slab readback",
                    out_bytes,
                    U::MAP_READ | U::COPY_DST,
                    false,
                )),
            ),
        };
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
        Ok(Self {
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
        })
    }

    /// Makes sure the upload buffer's remap (requested after the last submit) completed.
    pub fn ensure_upload_mapped(&mut self, device: &wgpu::Device) -> Result<()> {
        match self.upload_map.take() {
            Some(request) => request.settle(device),
            None => Ok(()),
        }
    }

    /// Write views over the upload staging of inputs `0..arity`, per range of elements:
    /// `views[r][k]` covers `ranges[r]` of input k. The ranges are sorted and disjoint, so
    /// the views may be written from different threads.
    pub fn upload_views(
        &mut self,
        arity: usize,
        ranges: &[Range<u64>],
    ) -> Result<Vec<Vec<UploadView<'_>>>> {
        let capacity = self.capacity;
        let not_mapped = |e: wgpu::MapRangeError| {
            Error::new(ErrorKind::Gpu, format!("upload buffer not mapped: {e}"))
        };
        let mut views: Vec<Vec<UploadView<'_>>> =
            ranges.iter().map(|_| Vec::with_capacity(arity)).collect();
        match &mut self.upload {
            Staging::Mapped(buffer) => {
                for (unit, range) in views.iter_mut().zip(ranges) {
                    for k in 0..arity {
                        let base = upload_offset(capacity, k);
                        let view = buffer
                            .slice(base + range.start * F32..base + range.end * F32)
                            .get_mapped_range_mut()
                            .map_err(not_mapped)?;
                        unit.push(UploadView::Mapped(view));
                    }
                }
            }
            Staging::Host(host) => {
                let outside = || Error::new(ErrorKind::Gpu, "upload range outside the slab");
                let section = (capacity * F32) as usize;
                let mut rest = host.bytes_mut();
                for _ in 0..arity {
                    let (mut input, tail) =
                        rest.split_at_mut_checked(section).ok_or_else(outside)?;
                    rest = tail;
                    let mut consumed = 0;
                    for (unit, range) in views.iter_mut().zip(ranges) {
                        let start = (range.start * F32) as usize;
                        let end = (range.end * F32) as usize;
                        let skip = start.checked_sub(consumed).ok_or_else(outside)?;
                        let (_, tail) = input.split_at_mut_checked(skip).ok_or_else(outside)?;
                        let (view, tail) =
                            tail.split_at_mut_checked(end - start).ok_or_else(outside)?;
                        unit.push(UploadView::Host(view));
                        input = tail;
                        consumed = end;
                    }
                }
            }
        }
        Ok(views)
    }

    /// Writes the params block and a reduction's block table and, for wgpu's staging,
    /// unmaps it: the inputs are complete.
    pub fn finish_upload(&mut self, params: [u32; PARAMS_WORDS], blocks: &[Block]) -> Result<()> {
        let at = upload_offset(self.capacity, self.shape.arity);
        let table = std::mem::size_of_val(blocks) as u64;
        let params: &[u8] = bytemuck::cast_slice(&params);
        let blocks: &[u8] = bytemuck::cast_slice(blocks);
        match &mut self.upload {
            Staging::Mapped(buffer) => {
                let mut view = buffer
                    .slice(at..at + PARAMS_BYTES + table)
                    .get_mapped_range_mut()
                    .map_err(|e| {
                        Error::new(ErrorKind::Gpu, format!("upload buffer not mapped: {e}"))
                    })?;
                view.slice(..PARAMS_BYTES as usize).copy_from_slice(params);
                view.slice(PARAMS_BYTES as usize..).copy_from_slice(blocks);
                drop(view);
                buffer.unmap();
            }
            Staging::Host(host) => {
                let at = at as usize;
                let bytes = host.bytes_mut();
                let end = at + params.len() + blocks.len();
                let region = bytes.get_mut(at..end).ok_or_else(|| {
                    Error::new(ErrorKind::Gpu, "params outside the upload staging")
                })?;
                let (head, tail) = region.split_at_mut(params.len());
                head.copy_from_slice(params);
                tail.copy_from_slice(blocks);
            }
        }
        Ok(())
    }

    /// GPU side: upload copies and copies from resident buffers, one dispatch of `grid`
    /// workgroups, a copy of the first `result_bytes` of the output for the host (when
    /// any result goes there) and copies of results into resident buffers.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        pipeline: &wgpu::ComputePipeline,
        grid: (u32, u32, u32),
        used: u64,
        result_bytes: u64,
        io: &SlabIo,
    ) {
        let upload = self.upload.buffer();
        for (k, input) in self.inputs.iter().enumerate() {
            let base = upload_offset(self.capacity, k);
            match &io.host_runs[k] {
                None => encoder.copy_buffer_to_buffer(upload, base, input, 0, used * F32),
                Some(runs) => {
                    for run in runs {
                        let at = run.start * F32;
                        encoder.copy_buffer_to_buffer(
                            upload,
                            base + at,
                            input,
                            at,
                            (run.end - run.start) * F32,
                        );
                    }
                }
            }
        }
        for copy in &io.copies_in {
            encoder.copy_buffer_to_buffer(
                &copy.buffer,
                copy.buffer_byte,
                &self.inputs[copy.input],
                copy.slab_element * F32,
                copy.elements * F32,
            );
        }
        let params_at = upload_offset(self.capacity, self.shape.arity);
        encoder.copy_buffer_to_buffer(upload, params_at, &self.params, 0, PARAMS_BYTES);
        if let Some(table) = &self.blocks {
            // As many blocks as partials: four bytes of result each.
            let table_bytes = result_bytes / F32 * std::mem::size_of::<Block>() as u64;
            if table_bytes > 0 {
                encoder.copy_buffer_to_buffer(
                    upload,
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
            pass.dispatch_workgroups(grid.0, grid.1, grid.2);
        }
        if io.host_output {
            encoder.copy_buffer_to_buffer(&self.out, 0, self.readback.buffer(), 0, result_bytes);
        }
        for copy in &io.copies_out {
            encoder.copy_buffer_to_buffer(
                &self.out,
                copy.slab_element * F32,
                &copy.buffer,
                copy.buffer_byte,
                copy.elements * F32,
            );
        }
    }

    /// Whether the staging is host memory mapped once: no map requests, results readable
    /// as soon as the submission completed.
    pub fn host_staged(&self) -> bool {
        matches!(self.readback, Staging::Host(_))
    }

    /// After submit, for wgpu's staging: ask for the upload buffer (write) and, when
    /// `result_bytes` > 0, the results (read) to be mapped. Host staging needs neither.
    pub fn request_maps(
        &mut self,
        result_bytes: u64,
        completion: &Arc<Completion>,
    ) -> Option<MapRequest> {
        if let Staging::Mapped(upload) = &self.upload {
            self.upload_map = Some(MapRequest::start(
                upload.slice(..),
                wgpu::MapMode::Write,
                completion,
            ));
        }
        match &self.readback {
            Staging::Mapped(readback) if result_bytes > 0 => Some(MapRequest::start(
                readback.slice(..result_bytes),
                wgpu::MapMode::Read,
                completion,
            )),
            _ => None,
        }
    }

    /// After the submission completed (and, for wgpu's staging, its map request is
    /// ready): a read view of output elements `range`. Call `finish_readback` once every
    /// view is dropped.
    pub fn output_view(&self, range: Range<u64>) -> Result<ReadbackView<'_>> {
        match &self.readback {
            Staging::Mapped(readback) => readback
                .slice(range.start * F32..range.end * F32)
                .get_mapped_range()
                .map(ReadbackView::Mapped)
                .map_err(|e| Error::new(ErrorKind::Gpu, format!("readback not mapped: {e}"))),
            Staging::Host(host) => host
                .bytes()
                .get((range.start * F32) as usize..(range.end * F32) as usize)
                .map(ReadbackView::Host)
                .ok_or_else(|| Error::new(ErrorKind::Gpu, "readback range outside the slab")),
        }
    }

    /// The output buffer: a reduction's partials.
    pub fn out_buffer(&self) -> &wgpu::Buffer {
        &self.out
    }

    pub fn finish_readback(&self) {
        if let Staging::Mapped(readback) = &self.readback {
            readback.unmap();
        }
    }

    /// Bytes of GPU (or staging) memory the slab's buffers hold, what the idle-memory cap
    /// counts.
    pub fn bytes(&self) -> u64 {
        let arrays = self.inputs.iter().chain([
            &self.out,
            &self.params,
            self.upload.buffer(),
            self.readback.buffer(),
        ]);
        arrays.chain(&self.blocks).map(wgpu::Buffer::size).sum()
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
