//! WGSL kernels and the compute pipelines built from them.

use std::sync::Arc;

use crate::stats::Stats;

/// Every kernel the crate ships, by file name, for validation and lookup.
pub const SHADERS: &[(&str, &str)] = &[(
    "vector_add.wgsl",
    include_str!("../shaders/vector_add.wgsl"),
)];

/// Source of `shaders/vector_add.wgsl`.
pub const VECTOR_ADD_WGSL: &str = SHADERS[0].1;

/// Each invocation handles one `vec4<f32>`.
pub const ELEMENTS_PER_INVOCATION: u64 = 4;

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

/// Builds kernels on one device; holds the bind group layout every cached kernel shares,
/// so a pooled slab's bind group works with the pipeline of any bucket.
pub struct KernelFactory {
    device: wgpu::Device,
    shared_layout: Arc<wgpu::BindGroupLayout>,
}

impl KernelFactory {
    pub fn new(device: &wgpu::Device) -> Self {
        Self {
            device: device.clone(),
            shared_layout: Arc::new(create_bind_group_layout(device)),
        }
    }

    /// The layout shared by all cached kernels (and the slabs made for them).
    pub fn shared_layout(&self) -> &Arc<wgpu::BindGroupLayout> {
        &self.shared_layout
    }

    /// Compiles the vector-add pipeline for `bucket` on the shared layout.
    pub fn create(&self, bucket: u64, stats: &mut Stats) -> Kernel {
        create_kernel(&self.device, Arc::clone(&self.shared_layout), bucket, stats)
    }

    /// Compiles a pipeline with a layout of its own: what uncached code does per task.
    pub fn create_uncached(&self, bucket: u64, stats: &mut Stats) -> Kernel {
        let layout = Arc::new(create_bind_group_layout(&self.device));
        create_kernel(&self.device, layout, bucket, stats)
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

fn create_bind_group_layout(device: &wgpu::Device) -> wgpu::BindGroupLayout {
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("gpu_executor elementwise layout"),
        entries: &[
            wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            },
            storage_entry(1, true),
            storage_entry(2, true),
            storage_entry(3, false),
        ],
    })
}

fn create_kernel(
    device: &wgpu::Device,
    bind_group_layout: Arc<wgpu::BindGroupLayout>,
    bucket: u64,
    stats: &mut Stats,
) -> Kernel {
    let workgroup_size = workgroup_size_for_bucket(bucket);
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("vector_add.wgsl"),
        source: wgpu::ShaderSource::Wgsl(VECTOR_ADD_WGSL.into()),
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("gpu_executor elementwise pipeline layout"),
        bind_group_layouts: &[Some(&bind_group_layout)],
        immediate_size: 0,
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("vector_add"),
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
    Kernel {
        pipeline,
        bind_group_layout,
        workgroup_size,
    }
}
