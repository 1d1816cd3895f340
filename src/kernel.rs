//! WGSL kernels and the compute pipelines built from them.
//!
//! A kernel is a row of the op table ([`crate::ops`]) at an element type; its source is
//! that row's expression put into the element-wise template. Kernels of one arity share
//! one bind group layout, so a pooled slab's bind group works with the pipeline of any op
//! of that arity and any bucket.

use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::ops::{self, ElemType, ElementwiseOp};
use crate::stats::Stats;

/// Every WGSL file the crate ships, by file name, for validation and lookup.
pub const SHADERS: &[(&str, &str)] = &[(
    "elementwise.wgsl",
    include_str!("../shaders/elementwise.wgsl"),
)];

/// `shaders/elementwise.wgsl`, the template of every element-wise kernel.
pub const ELEMENTWISE_TEMPLATE: &str = SHADERS[0].1;

/// Each invocation handles one `vec4`.
pub const ELEMENTS_PER_INVOCATION: u64 = 4;

/// Most input arrays a task reads.
pub const MAX_INPUTS: usize = 3;

/// Binding of input `k` (`a`, `b`, `c`); the params block is 0 and the output 3.
pub const INPUT_BINDINGS: [u32; MAX_INPUTS] = [1, 2, 4];
pub const OUTPUT_BINDING: u32 = 3;

/// Names an op of the table at an element type: what a pipeline is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KernelId {
    /// The op's `gpu_op_t` code.
    pub code: u32,
    pub ty: ElemType,
}

impl KernelId {
    /// The op table row, if `code` names one and it exists for `ty`.
    pub fn row(self) -> Result<&'static ElementwiseOp> {
        let op = ops::elementwise(self.code).ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownOp,
                format!("unknown op code {}", self.code),
            )
        })?;
        if op.expression(self.ty).is_none() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{} is not defined for {}", op.name, self.ty.name()),
            ));
        }
        Ok(op)
    }
}

/// The WGSL of `op` at element type `ty` (`None` if the op has no such variant).
pub fn elementwise_source(op: &ElementwiseOp, ty: ElemType) -> Option<String> {
    let expr = op.expression(ty)?;
    let names = ["a", "b", "c"];
    let inputs: Vec<String> = (0..op.arity)
        .map(|k| {
            format!(
                "@group(0) @binding({}) var<storage, read> {}_in: array<vec4<{}>>;",
                INPUT_BINDINGS[k],
                names[k],
                ty.wgsl()
            )
        })
        .collect();
    let loads: Vec<String> = (0..op.arity)
        .map(|k| format!("        let {0} = {0}_in[i];", names[k]))
        .collect();
    Some(
        ELEMENTWISE_TEMPLATE
            .replace("{{INPUTS}}", &inputs.join("\n"))
            .replace("{{LOADS}}", &loads.join("\n"))
            .replace("{{EXPR}}", expr)
            .replace("{{T}}", ty.wgsl()),
    )
}

/// A compiled pipeline and the layout its bind groups must use.
pub struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    pub bind_group_layout: Arc<wgpu::BindGroupLayout>,
    pub workgroup_size: u32,
}

/// Workgroup size tuned per bucket: small buckets keep more workgroups in flight.
pub fn workgroup_size_for_bucket(bucket: u64) -> u32 {
    match bucket {
        0..=65_536 => 64,
        65_537..=1_048_576 => 128,
        _ => 256,
    }
}

/// Builds kernels on one device; holds the bind group layout each arity's kernels share.
pub struct KernelFactory {
    device: wgpu::Device,
    shared_layouts: [Arc<wgpu::BindGroupLayout>; MAX_INPUTS],
}

impl KernelFactory {
    pub fn new(device: &wgpu::Device) -> Self {
        Self {
            device: device.clone(),
            shared_layouts: [1, 2, 3]
                .map(|arity| Arc::new(create_bind_group_layout(device, arity))),
        }
    }

    /// The layout shared by all cached kernels reading `arity` inputs (1 to 3), and the
    /// slabs made for them.
    pub fn shared_layout(&self, arity: usize) -> &Arc<wgpu::BindGroupLayout> {
        &self.shared_layouts[arity.clamp(1, MAX_INPUTS) - 1]
    }

    /// Compiles the pipeline of `id` for `bucket` on the shared layout.
    pub fn create(&self, id: KernelId, bucket: u64, stats: &mut Stats) -> Result<Kernel> {
        let arity = id.row()?.arity;
        create_kernel(
            &self.device,
            Arc::clone(self.shared_layout(arity)),
            id,
            bucket,
            stats,
        )
    }

    /// Compiles a pipeline with a layout of its own: what uncached code does per task.
    pub fn create_uncached(&self, id: KernelId, bucket: u64, stats: &mut Stats) -> Result<Kernel> {
        let arity = id.row()?.arity;
        let layout = Arc::new(create_bind_group_layout(&self.device, arity));
        create_kernel(&self.device, layout, id, bucket, stats)
    }
}

fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

/// Params uniform at 0, `arity` read-only inputs, the output at 3.
fn create_bind_group_layout(device: &wgpu::Device, arity: usize) -> wgpu::BindGroupLayout {
    let mut entries = vec![wgpu::BindGroupLayoutEntry {
        binding: 0,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }];
    entries.extend(
        INPUT_BINDINGS[..arity]
            .iter()
            .map(|&b| storage_entry(b, true)),
    );
    entries.push(storage_entry(OUTPUT_BINDING, false));
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("gpu_executor elementwise layout"),
        entries: &entries,
    })
}

fn create_kernel(
    device: &wgpu::Device,
    bind_group_layout: Arc<wgpu::BindGroupLayout>,
    id: KernelId,
    bucket: u64,
    stats: &mut Stats,
) -> Result<Kernel> {
    let op = id.row()?;
    let source = elementwise_source(op, id.ty).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("{} is not defined for {}", op.name, id.ty.name()),
        )
    })?;
    let workgroup_size = workgroup_size_for_bucket(bucket);
    let label = format!("{} {}", op.name, id.ty.name());
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(&label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("gpu_executor elementwise pipeline layout"),
        bind_group_layouts: &[Some(&bind_group_layout)],
        immediate_size: 0,
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(&label),
        layout: Some(&pipeline_layout),
        module: &module,
        entry_point: Some("main"),
        compilation_options: wgpu::PipelineCompilationOptions {
            constants: &[("WORKGROUP_SIZE", f64::from(workgroup_size))],
            zero_initialize_workgroup_memory: false,
        },
        cache: None,
    });
    stats.pipelines_created += 1;
    Ok(Kernel {
        pipeline,
        bind_group_layout,
        workgroup_size,
    })
}
