//! The direct path: element-wise tasks whose inputs and output are all resident run
//! straight on the buffers' memory, with no staging and no copies.
//!
//! Tasks of one wave, op and scalars whose operands live in the same GPU buffers share one
//! dispatch: a table lists blocks of up to `DIRECT_BLOCK` elements with their operands'
//! offsets, one workgroup per block (`shaders/direct.wgsl`).

use std::collections::BTreeMap;
use std::sync::Arc;

use wgpu::util::DeviceExt;

use crate::kernel::{
    Kernel, KernelId, KernelKind, BLOCKS_BINDING, INPUT_BINDINGS, MAX_INPUTS, OUTPUT_BINDING,
};
use crate::slab::dispatch_grid;
use crate::task::{TaskInputs, MAX_SCALARS};

/// Elements one workgroup handles.
pub const DIRECT_BLOCK: u64 = 4096;

/// Words of the table's header and of each block (see `shaders/direct.wgsl`).
const HEADER_WORDS: usize = 8;
const BLOCK_WORDS: usize = 8;

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
    inputs.iter().all(|r| r.as_ref().is_some_and(fits)) && fits(out)
}

/// What tasks must share to share a direct dispatch: wave, op, scalars, and the GPU
/// buffers (arena ids) of their inputs and output.
type DirectKey = (usize, KernelId, [u32; MAX_SCALARS], [u64; MAX_INPUTS + 1]);

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
        .map(|((wave, op, _, _), tasks)| DirectGroup { wave, op, tasks })
        .collect()
}

/// A group ready to encode: its pipeline, bind group and grid.
pub struct DirectDispatch {
    pub wave: usize,
    pub kernel: Arc<Kernel>,
    pub bind_group: wgpu::BindGroup,
    pub grid: (u32, u32),
    pub blocks: u64,
}

impl DirectDispatch {
    /// Writes the group's block table and binds its buffers.
    pub fn new(
        device: &wgpu::Device,
        max_groups_x: u32,
        kernel: Arc<Kernel>,
        group: &DirectGroup,
        tasks: &[TaskInputs],
    ) -> Self {
        let first = &tasks[group.tasks[0]];
        let blocks: u64 = group
            .tasks
            .iter()
            .map(|&i| (tasks[i].len as u64).div_ceil(DIRECT_BLOCK))
            .sum();
        let mut words: Vec<u32> = Vec::with_capacity(HEADER_WORDS + blocks as usize * BLOCK_WORDS);
        // Blocks fit u32: a dispatch has at most 2^32 workgroups in all.
        words.extend([
            blocks as u32,
            first.scalars[0],
            first.scalars[1],
            first.scalars[2],
        ]);
        words.extend([0; HEADER_WORDS - 4]);
        for &i in &group.tasks {
            let task = &tasks[i];
            // `eligible` checked every element offset fits u32.
            let element = |r: &Option<crate::buffer::Region>, at: u64| {
                r.as_ref().map_or(0, |r| (r.byte_at(at) / 4) as u32)
            };
            let mut done = 0u64;
            while done < task.len as u64 {
                let count = (task.len as u64 - done).min(DIRECT_BLOCK);
                words.extend([
                    element(&task.resident[0], done),
                    element(&task.resident[1], done),
                    element(&task.resident[2], done),
                    element(&task.resident_output, done),
                    count as u32,
                    0,
                    0,
                    0,
                ]);
                done += count;
            }
        }
        let table = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("gpu_executor direct table"),
            contents: bytemuck::cast_slice(&words),
            usage: wgpu::BufferUsages::STORAGE,
        });
        let mut entries: Vec<wgpu::BindGroupEntry> = first.resident[..first.arity]
            .iter()
            .zip(INPUT_BINDINGS)
            .filter_map(|(r, binding)| {
                r.as_ref().map(|r| wgpu::BindGroupEntry {
                    binding,
                    resource: r.buffer.memory.arena.buffer.as_entire_binding(),
                })
            })
            .collect();
        if let Some(out) = &first.resident_output {
            entries.push(wgpu::BindGroupEntry {
                binding: OUTPUT_BINDING,
                resource: out.buffer.memory.arena.buffer.as_entire_binding(),
            });
        }
        entries.push(wgpu::BindGroupEntry {
            binding: BLOCKS_BINDING,
            resource: table.as_entire_binding(),
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("gpu_executor direct bind group"),
            layout: &kernel.bind_group_layout,
            entries: &entries,
        });
        let (x, y) = dispatch_grid(
            blocks * u64::from(crate::kernel::DIRECT_GROUP),
            crate::kernel::DIRECT_GROUP,
            max_groups_x,
        );
        Self {
            wave: group.wave,
            kernel,
            bind_group,
            grid: (x, y),
            blocks,
        }
    }

    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("direct dispatch"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.kernel.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.grid.0, self.grid.1, 1);
    }
}
