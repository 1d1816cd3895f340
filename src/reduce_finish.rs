//! Reductions whose result goes to a resident buffer.
//!
//! A reduction slab leaves one partial per block in its output; the host combines a task's
//! partials in f64 when the result lands in host memory. For a result in a buffer, a
//! finish dispatch after the slab's does it on the GPU (`shaders/reduce_finish.wgsl`), one
//! invocation per task, so later tasks of the batch can read the result and nothing comes
//! back to the host. One dispatch per slab and GPU buffer of the results.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::direct::DirectTable;
use crate::error::{Error, ErrorKind, Result};
use crate::kernel::{Kernel, BLOCKS_BINDING, FINISH_GROUP, INPUT_BINDINGS, OUTPUT_BINDING};
use crate::task::TaskInputs;

/// Words of the table's header and of each task's entry.
const HEADER_WORDS: usize = 4;
const ENTRY_WORDS: usize = 4;

/// The finish work of one slab for one GPU buffer: (task, first partial, partials).
pub struct FinishGroup {
    pub arena: u64,
    pub entries: Vec<(usize, u32, u32)>,
}

/// Groups the resident-output tasks of a reduction slab by the GPU buffer of their
/// result. `block_tasks` names the task of each partial, in order (a task's partials are
/// consecutive: a task is one piece of one slab).
pub fn groups(block_tasks: &[usize], tasks: &[TaskInputs]) -> Vec<FinishGroup> {
    let mut by_arena: BTreeMap<u64, Vec<(usize, u32, u32)>> = BTreeMap::new();
    let mut start = 0;
    while start < block_tasks.len() {
        let task = block_tasks[start];
        let end = start
            + block_tasks[start..]
                .iter()
                .take_while(|&&t| t == task)
                .count();
        if let Some(region) = tasks[task].resident_output {
            // Slabs hold at most 2^30 elements: partial indices fit u32.
            by_arena
                .entry(region.buffer.memory.arena.id)
                .or_default()
                .push((task, start as u32, (end - start) as u32));
        }
        start = end;
    }
    by_arena
        .into_iter()
        .map(|(arena, entries)| FinishGroup { arena, entries })
        .collect()
}

/// Bytes the table of `group` needs.
pub fn table_bytes(group: &FinishGroup) -> u64 {
    ((HEADER_WORDS + group.entries.len() * ENTRY_WORDS) * 4) as u64
}

/// A finish dispatch ready to encode after its slab's.
pub struct FinishDispatch {
    kernel: Arc<Kernel>,
    pub table: DirectTable,
    bind_group: wgpu::BindGroup,
    tasks: u32,
}

impl FinishDispatch {
    /// Writes `group`'s table into `table` and binds the slab's partials (`partials`), the
    /// results' GPU buffer and the table.
    pub fn new(
        device: &wgpu::Device,
        kernel: Arc<Kernel>,
        mut table: DirectTable,
        partials: &wgpu::Buffer,
        group: &FinishGroup,
        tasks: &[TaskInputs],
    ) -> Result<Self> {
        let count = u32::try_from(group.entries.len())
            .map_err(|_| Error::new(ErrorKind::SizeOverflow, "too many reductions in a slab"))?;
        let mut words = Vec::with_capacity(HEADER_WORDS + group.entries.len() * ENTRY_WORDS);
        words.extend([count, 0, 0, 0]);
        let mut arena = None;
        for &(task, first, partials) in &group.entries {
            let Some(region) = tasks[task].resident_output else {
                continue;
            };
            // The executor checked the element fits u32 and the buffer one binding.
            let element = (region.byte_at(0) / 4) as u32;
            words.extend([first, partials, element, tasks[task].len as u32]);
            arena = Some(&region.buffer.memory.arena.buffer);
        }
        let arena =
            arena.ok_or_else(|| Error::new(ErrorKind::Gpu, "a finish group without a result"))?;
        table.fill(device, &words)?;
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("gpu_executor finish bind group"),
            layout: &kernel.bind_group_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: INPUT_BINDINGS[0],
                    resource: partials.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: OUTPUT_BINDING,
                    resource: arena.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: BLOCKS_BINDING,
                    resource: table.buffer().as_entire_binding(),
                },
            ],
        });
        Ok(Self {
            kernel,
            table,
            bind_group,
            tasks: count,
        })
    }

    /// The table copy and the dispatch, after the slab's dispatch.
    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder) {
        self.table.encode_copy(encoder);
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("reduction finish"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.kernel.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.tasks.div_ceil(FINISH_GROUP), 1, 1);
    }
}
