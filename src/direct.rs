//! The direct path: element-wise tasks whose inputs and output are all resident run
//! straight on the buffers' memory, with no staging and no copies.
//!
//! Tasks of one wave, op and scalars whose operands live in the same GPU buffers share one
//! dispatch: a table lists blocks of up to `DIRECT_BLOCK` elements with their operands'
//! offsets, one workgroup per block (`shaders/direct.wgsl`).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::completion::Completion;
use crate::error::{Error, ErrorKind, Result};
use crate::kernel::{
    Kernel, KernelId, KernelKind, BLOCKS_BINDING, DIRECT_GROUP, DIRECT_ROUNDS, INPUT_BINDINGS,
    MAX_INPUTS, OUTPUT_BINDING,
};
use crate::slab::{dispatch_grid, MapRequest};
use crate::task::{TaskInputs, MAX_SCALARS};

/// Elements one workgroup handles: 256 invocations of four rounds of four.
pub const DIRECT_BLOCK: u64 = DIRECT_GROUP as u64 * 4 * DIRECT_ROUNDS as u64;

/// Smallest block table we create, in bytes; tables are pooled by power-of-two size.
const MIN_TABLE_BYTES: u64 = 4096;

/// A block table: written by the host into a persistently mapped upload buffer, copied to
/// a storage buffer by the batch's command buffer. Pooled like slabs, so a batch creates
/// no GPU buffer in steady state.
pub struct DirectTable {
    table: wgpu::Buffer,
    upload: wgpu::Buffer,
    pub capacity: u64,
    /// The bind group last made with this table, and the GPU buffers (arena ids) and
    /// layout it binds: a loop over the same buffers binds once.
    bound: Option<(BindKey, wgpu::BindGroup)>,
    /// Bytes written for the current batch.
    used: u64,
    /// The upload buffer's remap, requested after the last submit.
    upload_map: Option<MapRequest>,
}

impl DirectTable {
    /// A table of at least `bytes` bytes (a power of two, at least 4 KiB).
    pub fn new(device: &wgpu::Device, bytes: u64) -> Self {
        use wgpu::BufferUsages as U;
        let capacity = bytes.max(MIN_TABLE_BYTES).next_power_of_two();
        let buffer = |label, usage, mapped| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: capacity,
                usage,
                mapped_at_creation: mapped,
            })
        };
        Self {
            table: buffer("direct table", U::STORAGE | U::COPY_DST, false),
            upload: buffer("direct table upload", U::MAP_WRITE | U::COPY_SRC, true),
            capacity,
            bound: None,
            used: 0,
            upload_map: None,
        }
    }

    /// The arenas (and layout) its cached bind group binds, if any.
    pub fn bound_key(&self) -> Option<&BindKey> {
        self.bound.as_ref().map(|(key, _)| key)
    }

    /// The storage buffer the GPU reads.
    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.table
    }

    /// Copies what `fill` wrote from the upload buffer to the storage buffer.
    pub fn encode_copy(&self, encoder: &mut wgpu::CommandEncoder) {
        encoder.copy_buffer_to_buffer(&self.upload, 0, &self.table, 0, self.used);
    }

    /// Writes `words` into the upload buffer (waiting for its remap first) and unmaps it.
    pub fn fill(&mut self, device: &wgpu::Device, words: &[u32]) -> Result<()> {
        if let Some(request) = self.upload_map.take() {
            request.settle(device)?;
        }
        let bytes: &[u8] = bytemuck::cast_slice(words);
        self.used = bytes.len() as u64;
        let mut view = self
            .upload
            .slice(..self.used)
            .get_mapped_range_mut()
            .map_err(|e| Error::new(ErrorKind::Gpu, format!("direct table not mapped: {e}")))?;
        view.copy_from_slice(bytes);
        drop(view);
        self.upload.unmap();
        Ok(())
    }

    /// After submit: asks for the upload buffer to be mapped again.
    pub fn request_remap(&mut self, completion: &Arc<Completion>) {
        self.upload_map = Some(MapRequest::start(
            self.upload.slice(..),
            wgpu::MapMode::Write,
            completion,
        ));
    }

    /// Bytes of GPU memory the table holds (its storage and upload buffers).
    pub fn bytes(&self) -> u64 {
        2 * self.capacity
    }

    /// Whether the table can go back to the pool (its remap did not fail).
    pub fn is_reusable(&self) -> bool {
        self.upload_map
            .as_ref()
            .is_none_or(|request| !request.failed())
    }
}

/// Words of the table's header and of each entry (see `shaders/direct.wgsl`); each block
/// adds one word.
const HEADER_WORDS: usize = 8;
const ENTRY_WORDS: usize = 8;

/// Whether `task` can run on the direct path: a built-in element-wise op with every
/// operand resident in a buffer that fits one binding, and offsets that fit the kernel's
/// 32-bit indices.
pub fn eligible(task: &TaskInputs) -> bool {
    let Some(KernelKind::Elementwise(_)) = task.kind else {
        return false;
    };
    let Some(out) = &task.resident_output else {
        return false;
    };
    let inputs = &task.resident[..task.arity];
    let fits = |r: &crate::buffer::Region| {
        let arena = &r.buffer.memory.arena;
        let end = r.byte_at(task.len as u64) / 4;
        arena.bindable && end <= u64::from(u32::MAX)
    };
    inputs.iter().all(|r| r.is_some_and(fits)) && fits(out)
}

/// What tasks must share to share a direct dispatch: wave, op, scalars, and the GPU
/// buffers (arena ids) of their inputs and output.
type DirectKey = (usize, KernelId, [u32; MAX_SCALARS], [u64; MAX_INPUTS + 1]);

/// What a bind group of a direct dispatch binds: the arenas of the inputs and output, and
/// the input count (which picks the layout).
pub type BindKey = ([u64; MAX_INPUTS + 1], usize);

fn key(wave: usize, task: &TaskInputs) -> DirectKey {
    let mut arenas = [0; MAX_INPUTS + 1];
    for (slot, r) in arenas.iter_mut().zip(&task.resident) {
        if let Some(r) = r {
            *slot = r.buffer.memory.arena.id;
        }
    }
    if let Some(out) = &task.resident_output {
        arenas[MAX_INPUTS] = out.buffer.memory.arena.id;
    }
    (wave, task.op, task.scalars, arenas)
}

/// One group of direct tasks: they become one dispatch.
pub struct DirectGroup {
    pub wave: usize,
    pub op: KernelId,
    /// The buffers every task of the group binds.
    pub bind: BindKey,
    /// Tasks of the batch, in batch order.
    pub tasks: Vec<usize>,
}

/// Groups the direct tasks (`direct[i]`) by wave, op, scalars and buffers.
pub fn group(tasks: &[TaskInputs], waves: &[usize], direct: &[bool]) -> Vec<DirectGroup> {
    let mut groups: BTreeMap<DirectKey, Vec<usize>> = BTreeMap::new();
    for (i, task) in tasks.iter().enumerate() {
        if direct[i] && task.len > 0 {
            groups.entry(key(waves[i], task)).or_default().push(i);
        }
    }
    groups
        .into_iter()
        .map(|((wave, op, _, arenas), members)| DirectGroup {
            wave,
            op,
            // One op: one arity.
            bind: (arenas, tasks[members[0]].arity),
            tasks: members,
        })
        .collect()
}

/// A group ready to encode: its pipeline, bind group, table and grid.
pub struct DirectDispatch {
    pub wave: usize,
    pub kernel: Arc<Kernel>,
    pub table: DirectTable,
    pub grid: (u32, u32),
    pub blocks: u64,
}

/// Blocks of `DIRECT_BLOCK` elements a task of `len` elements takes.
fn blocks_of(len: usize) -> u64 {
    (len as u64).div_ceil(DIRECT_BLOCK)
}

/// Bytes the block table of `group` needs: header, one entry per task, a word per block.
pub fn table_bytes(group: &DirectGroup, tasks: &[TaskInputs]) -> u64 {
    let blocks: u64 = group.tasks.iter().map(|&i| blocks_of(tasks[i].len)).sum();
    ((HEADER_WORDS + group.tasks.len() * ENTRY_WORDS) as u64 + blocks) * 4
}

impl DirectDispatch {
    /// Writes the group's block table into `table` (at least `table_bytes` big) and binds
    /// its buffers.
    pub fn new(
        device: &wgpu::Device,
        max_groups_x: u32,
        kernel: Arc<Kernel>,
        group: &DirectGroup,
        tasks: &[TaskInputs],
        mut table: DirectTable,
        stats: &mut crate::stats::Stats,
    ) -> Result<Self> {
        let first = &tasks[group.tasks[0]];
        let blocks: u64 = group.tasks.iter().map(|&i| blocks_of(tasks[i].len)).sum();
        let too_many = || {
            Error::new(
                ErrorKind::SizeOverflow,
                "a direct dispatch of more than 2^32 blocks",
            )
        };
        let count = u32::try_from(blocks).map_err(|_| too_many())?;
        let entries = group.tasks.len();
        let index_at =
            u32::try_from(HEADER_WORDS + entries * ENTRY_WORDS).map_err(|_| too_many())?;
        let mut words: Vec<u32> = Vec::with_capacity(index_at as usize + blocks as usize);
        words.extend([count, first.scalars[0], first.scalars[1], first.scalars[2]]);
        words.extend([entries as u32, index_at, 0, 0]);
        // `eligible` checked every element offset fits u32.
        let element =
            |r: Option<&crate::buffer::Region>| r.map_or(0, |r| (r.byte_at(0) / 4) as u32);
        let mut first_block = 0u32;
        for &i in &group.tasks {
            let task = &tasks[i];
            words.extend([
                element(task.resident[0]),
                element(task.resident[1]),
                element(task.resident[2]),
                element(task.resident_output),
                // A task's length fits u32: it is at most its buffer's, which fits u32 words.
                task.len as u32,
                first_block,
                0,
                0,
            ]);
            first_block += blocks_of(task.len) as u32;
        }
        for (e, &i) in group.tasks.iter().enumerate() {
            words.extend(std::iter::repeat_n(
                e as u32,
                blocks_of(tasks[i].len) as usize,
            ));
        }
        table.fill(device, &words)?;
        if table.bound_key() != Some(&group.bind) {
            let bind_group = bind(device, &kernel, first, &table.table);
            table.bound = Some((group.bind, bind_group));
            stats.bind_groups_created += 1;
        }
        let (x, y) = dispatch_grid(blocks * u64::from(DIRECT_GROUP), DIRECT_GROUP, max_groups_x);
        Ok(Self {
            wave: group.wave,
            kernel,
            table,
            grid: (x, y),
            blocks,
        })
    }

    /// Copies the block table from its upload buffer (before the pass that uses it).
    pub fn encode_table(&self, encoder: &mut wgpu::CommandEncoder) {
        self.table.encode_copy(encoder);
    }

    /// The dispatch, in a compute pass shared with the batch's other direct dispatches
    /// (wgpu puts a barrier between dispatches where one writes what another reads).
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        if let Some((_, bind_group)) = &self.table.bound {
            pass.set_pipeline(&self.kernel.pipeline);
            pass.set_bind_group(0, bind_group, &[]);
            pass.dispatch_workgroups(self.grid.0, self.grid.1, 1);
        }
    }
}

/// A bind group of `kernel`'s layout over the GPU buffers of `task`'s operands and `table`.
fn bind(
    device: &wgpu::Device,
    kernel: &Kernel,
    task: &TaskInputs,
    table: &wgpu::Buffer,
) -> wgpu::BindGroup {
    let mut entries: Vec<wgpu::BindGroupEntry> = task.resident[..task.arity]
        .iter()
        .zip(INPUT_BINDINGS)
        .filter_map(|(r, binding)| {
            r.map(|r| wgpu::BindGroupEntry {
                binding,
                resource: r.buffer.memory.arena.buffer.as_entire_binding(),
            })
        })
        .collect();
    if let Some(out) = task.resident_output {
        entries.push(wgpu::BindGroupEntry {
            binding: OUTPUT_BINDING,
            resource: out.buffer.memory.arena.buffer.as_entire_binding(),
        });
    }
    entries.push(wgpu::BindGroupEntry {
        binding: BLOCKS_BINDING,
        resource: table.as_entire_binding(),
    });
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("gpu_executor direct bind group"),
        layout: &kernel.bind_group_layout,
        entries: &entries,
    })
}
