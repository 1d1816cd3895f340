//! WGSL kernels and the compute pipelines built from them.
//!
//! A kernel is a row of the op table ([`crate::ops`]) at an element type; its source is
//! that row's expression put into the element-wise template. Kernels of one arity share
//! one bind group layout, so a pooled slab's bind group works with the pipeline of any op
//! of that arity and any bucket.

use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::ops::{self, ElemType, ElementwiseOp, ReductionOp};
use crate::stats::Stats;
use crate::user_kernel::{self, UserKernelInfo};

/// Every WGSL file the crate ships, by file name, for validation and lookup.
pub const SHADERS: &[(&str, &str)] = &[
    (
        "elementwise.wgsl",
        include_str!("../shaders/elementwise.wgsl"),
    ),
    ("reduce.wgsl", include_str!("../shaders/reduce.wgsl")),
    ("matmul.wgsl", include_str!("../shaders/matmul.wgsl")),
    ("direct.wgsl", include_str!("../shaders/direct.wgsl")),
    (
        "reduce_finish.wgsl",
        include_str!("../shaders/reduce_finish.wgsl"),
    ),
];

/// `shaders/elementwise.wgsl`, the template of every element-wise kernel.
pub const ELEMENTWISE_TEMPLATE: &str = SHADERS[0].1;

/// `shaders/reduce.wgsl`, the template of every reduction.
pub const REDUCE_TEMPLATE: &str = SHADERS[1].1;

/// `shaders/matmul.wgsl`, matrix multiply for both shape classes.
pub const MATMUL_WGSL: &str = SHADERS[2].1;

/// `shaders/direct.wgsl`, element-wise ops straight on resident buffers.
pub const DIRECT_TEMPLATE: &str = SHADERS[3].1;

/// `shaders/reduce_finish.wgsl`, a reduction's last step into a resident buffer.
pub const FINISH_TEMPLATE: &str = SHADERS[4].1;

/// Invocations of a direct kernel's workgroup; one workgroup runs one block.
pub const DIRECT_GROUP: u32 = 256;

/// Binding of a reduction's block table.
pub const BLOCKS_BINDING: u32 = 5;

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

/// What a kernel is: an element-wise op or a reduction, with its table row, or matmul.
#[derive(Clone, Copy, Debug)]
pub enum KernelKind {
    Elementwise(&'static ElementwiseOp),
    Reduction(&'static ReductionOp),
    /// Whole-array: one task is one product, never split.
    Matmul,
    /// A kernel registered by the caller.
    User(UserKernelInfo),
}

/// Words of a matmul task's parameters: M, K, N, flags (bit 0: B transposed).
pub const MATMUL_PARAMS: usize = 4;

impl KernelKind {
    pub fn name(self) -> &'static str {
        match self {
            KernelKind::Elementwise(op) => op.name,
            KernelKind::Reduction(op) => op.name,
            KernelKind::Matmul => "MATMUL",
            KernelKind::User(_) => "(user kernel)",
        }
    }

    pub fn arity(self) -> usize {
        match self {
            KernelKind::Elementwise(op) => op.arity,
            KernelKind::Reduction(op) => op.arity,
            KernelKind::Matmul => 2,
            KernelKind::User(info) => info.arity,
        }
    }

    /// Parameter words the task carries (scalars, or matmul's dimensions and flags).
    pub fn scalars(self) -> usize {
        match self {
            KernelKind::Elementwise(op) => op.scalars,
            KernelKind::Reduction(_) => 0,
            KernelKind::Matmul => MATMUL_PARAMS,
            KernelKind::User(info) => info.params_words,
        }
    }

    /// Whether the kernel exists for element type `ty`.
    pub fn supports(self, ty: ElemType) -> bool {
        match self {
            KernelKind::Elementwise(op) => op.expression(ty).is_some(),
            KernelKind::Reduction(_) | KernelKind::Matmul => ty == ElemType::F32,
            KernelKind::User(info) => ty == info.ty,
        }
    }

    /// Elements of input `k` of a task of `len` output elements with parameters `params`.
    pub fn input_len(self, k: usize, len: usize, params: &[u32]) -> usize {
        match self {
            KernelKind::Matmul => {
                let (m, kd, n) = (params[0] as usize, params[1] as usize, params[2] as usize);
                if k == 0 {
                    m * kd
                } else {
                    kd * n
                }
            }
            _ => len,
        }
    }

    /// Element types the kernel exists for.
    pub fn types(self) -> Vec<ElemType> {
        ElemType::ALL
            .into_iter()
            .filter(|&t| self.supports(t))
            .collect()
    }

    /// The slabs it runs on.
    pub fn shape(self) -> SlabShape {
        SlabShape {
            arity: self.arity(),
            reduction: matches!(self, KernelKind::Reduction(_)),
        }
    }

    /// Output elements of a task over `len` input elements (matmul: `len` is M·N).
    pub fn output_len(self, len: usize) -> usize {
        match self {
            KernelKind::Elementwise(_) | KernelKind::Matmul | KernelKind::User(_) => len,
            KernelKind::Reduction(_) => 1,
        }
    }
}

/// What a slab must hold for a kernel: how many input arrays, and a block table for
/// reductions. Slabs of one shape serve every kernel of that shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlabShape {
    pub arity: usize,
    pub reduction: bool,
}

/// The kind of op code `code`, if it names one.
pub fn kind_of(code: u32) -> Option<KernelKind> {
    if code == ops::MATMUL {
        return Some(KernelKind::Matmul);
    }
    // Registered kernels have codes of their own range: built-ins skip the table's lock.
    if code >= user_kernel::USER_OP_BASE {
        return user_kernel::lookup(code).map(KernelKind::User);
    }
    ops::elementwise(code)
        .map(KernelKind::Elementwise)
        .or_else(|| ops::reduction(code).map(KernelKind::Reduction))
}

impl KernelId {
    /// The table row of `code`, if it names one and it exists for `ty`.
    pub fn kind(self) -> Result<KernelKind> {
        let kind = kind_of(self.code).ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownOp,
                format!("unknown op code {}", self.code),
            )
        })?;
        if !kind.supports(self.ty) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{} is not defined for {}", kind.name(), self.ty.name()),
            ));
        }
        Ok(kind)
    }
}

/// The WGSL of reduction `op`.
pub fn reduction_source(op: &ReductionOp) -> String {
    let names = ["a", "b"];
    let inputs: Vec<String> = (0..op.arity)
        .map(|k| {
            format!(
                "@group(0) @binding({}) var<storage, read> {}_in: array<vec4<f32>>;",
                INPUT_BINDINGS[k], names[k]
            )
        })
        .collect();
    let loads: Vec<String> = (0..op.arity)
        .map(|k| format!("                let {0} = {0}_in[i];", names[k]))
        .collect();
    let (combine, identity) = op.combine.wgsl();
    REDUCE_TEMPLATE
        .replace("{{INPUTS}}", &inputs.join("\n"))
        .replace("{{LOADS}}", &loads.join("\n"))
        .replace("{{MAP}}", op.map)
        .replace("{{COMBINE}}", combine)
        .replace("{{IDENTITY}}", identity)
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

/// The WGSL of `op` at element type `ty` over resident buffers (see `shaders/direct.wgsl`).
pub fn direct_source(op: &ElementwiseOp, ty: ElemType) -> Option<String> {
    let expr = op.expression(ty)?;
    let names = ["a", "b", "c"];
    let t = ty.wgsl();
    let inputs: Vec<String> = (0..op.arity)
        .map(|k| {
            format!(
                "@group(0) @binding({}) var<storage, read_write> {}_mem: array<{t}>;",
                INPUT_BINDINGS[k], names[k]
            )
        })
        .collect();
    let mut loads = Vec::new();
    let mut stores = Vec::new();
    for q in 0..DIRECT_ROUNDS {
        let mut aliases = Vec::new();
        // A round wholly past the block's end loads nothing (the same for the whole
        // workgroup, so no divergence).
        loads.push(format!(
            "    let live{q} = 4u * WORKGROUP_SIZE * {q}u < count;"
        ));
        for name in &names[..op.arity] {
            let lane = |l: &str| format!("{name}_mem[{name}_at + i{q}.{l}]");
            loads.push(format!(
                "    var {name}{q} = vec4<{t}>();\n    if (live{q}) {{ {name}{q} = vec4<{t}>({}, {}, {}, {}); }}",
                lane("x"),
                lane("y"),
                lane("z"),
                lane("w")
            ));
            aliases.push(format!("let {name} = {name}{q};"));
        }
        let lanes: Vec<String> = ["x", "y", "z", "w"]
            .iter()
            .map(|l| {
                format!("        if (i{q}.{l} < count) {{ out_mem[base.w + i{q}.{l}] = r.{l}; }}")
            })
            .collect();
        stores.push(format!(
            "    if (live{q}) {{\n        {}\n        let r = {expr};\n{}\n    }}",
            aliases.join(" "),
            lanes.join("\n")
        ));
    }
    // Each input's first element: a, b, c are the base's x, y, z.
    let starts: Vec<String> = names[..op.arity]
        .iter()
        .zip(["x", "y", "z"])
        .map(|(name, lane)| format!("    let {name}_at = base.{lane};"))
        .collect();
    loads.splice(0..0, starts);
    Some(
        DIRECT_TEMPLATE
            .replace("{{INPUTS}}", &inputs.join("\n"))
            .replace("{{LOADS}}", &loads.join("\n"))
            .replace("{{STORES}}", &stores.join("\n"))
            .replace("{{T}}", t),
    )
}

/// The WGSL that combines reduction `op`'s block partials into a resident buffer (see
/// `shaders/reduce_finish.wgsl`).
pub fn finish_source(op: &ReductionOp) -> String {
    let (combine, identity) = op.combine.wgsl();
    let finish = match op.finish {
        ops::Finish::Identity => "r",
        ops::Finish::Mean => "r / f32(n)",
        ops::Finish::SquareRoot => "sqrt(r)",
    };
    let sum = if op.combine == ops::Combine::Sum {
        "true"
    } else {
        "false"
    };
    FINISH_TEMPLATE
        .replace("{{COMBINE}}", combine)
        .replace("{{IDENTITY}}", identity)
        .replace("{{SUM}}", sum)
        .replace("{{FINISH}}", finish)
}

/// Invocations of a finish kernel's workgroup (`shaders/reduce_finish.wgsl`).
pub const FINISH_GROUP: u32 = 64;

/// Rounds of four elements each invocation of a direct kernel handles (`shaders/direct.wgsl`).
pub const DIRECT_ROUNDS: usize = 4;

/// Invocations of a reduction's workgroup (`GROUP` in shaders/reduce.wgsl).
pub const REDUCE_GROUP: u32 = 256;

/// How a kernel's grid is sized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatch {
    /// One invocation per `per_invocation` elements, in workgroups of `workgroup_size`.
    PerElement {
        workgroup_size: u32,
        per_invocation: u32,
    },
    /// One workgroup of `REDUCE_GROUP` invocations per block.
    PerBlock,
    /// One workgroup per tile of C of this many rows and columns, one grid layer per
    /// product.
    Tiles(u32),
}

/// A compiled pipeline and the layout its bind groups must use.
pub struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    pub bind_group_layout: Arc<wgpu::BindGroupLayout>,
    pub dispatch: Dispatch,
}

impl Kernel {
    pub fn is_reduction(&self) -> bool {
        self.dispatch == Dispatch::PerBlock
    }
}

/// Workgroup size tuned per bucket: small buckets keep more workgroups in flight.
pub fn workgroup_size_for_bucket(bucket: u64) -> u32 {
    match bucket {
        0..=65_536 => 64,
        65_537..=1_048_576 => 128,
        _ => 256,
    }
}

/// Builds kernels on one device; holds the bind group layout each slab shape's kernels
/// share.
pub struct KernelFactory {
    device: wgpu::Device,
    /// The persistent pipeline cache every pipeline is compiled with, where there is one.
    cache: Option<wgpu::PipelineCache>,
    shared_layouts: Vec<(SlabShape, Arc<wgpu::BindGroupLayout>)>,
    /// Layouts of the direct kernels, by arity - 1.
    direct_layouts: Vec<Arc<wgpu::BindGroupLayout>>,
    /// Layout of the reductions' finish kernels.
    finish_layout: Arc<wgpu::BindGroupLayout>,
}

impl KernelFactory {
    pub fn new(device: &wgpu::Device, cache: Option<wgpu::PipelineCache>) -> Self {
        let shapes = (1..=MAX_INPUTS)
            .map(|arity| SlabShape {
                arity,
                reduction: false,
            })
            .chain((1..=2).map(|arity| SlabShape {
                arity,
                reduction: true,
            }));
        Self {
            device: device.clone(),
            cache,
            shared_layouts: shapes
                .map(|shape| (shape, Arc::new(create_bind_group_layout(device, shape))))
                .collect(),
            direct_layouts: (1..=MAX_INPUTS)
                .map(|arity| Arc::new(create_direct_layout(device, arity)))
                .collect(),
            finish_layout: Arc::new(create_finish_layout(device)),
        }
    }

    /// The layout of the direct kernels reading `arity` inputs.
    pub fn direct_layout(&self, arity: usize) -> Option<&Arc<wgpu::BindGroupLayout>> {
        self.direct_layouts.get(arity.wrapping_sub(1))
    }

    /// Compiles the kernel that writes op `id`'s results straight into resident buffers:
    /// an element-wise op's direct kernel (`shaders/direct.wgsl`), a reduction's finish
    /// kernel (`shaders/reduce_finish.wgsl`).
    pub fn create_direct(&self, id: KernelId, stats: &mut Stats) -> Result<Kernel> {
        let not_direct = || {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("op {} has no direct kernel for {}", id.code, id.ty.name()),
            )
        };
        let op = match id.kind()? {
            KernelKind::Elementwise(op) => op,
            KernelKind::Reduction(op) => {
                let layout = Arc::clone(&self.finish_layout);
                let label = format!("{} finish", op.name);
                let pipeline = compile(
                    &self.device,
                    self.cache.as_ref(),
                    &layout,
                    &label,
                    finish_source(op),
                    "main",
                    &[],
                );
                stats.pipelines_created += 1;
                return Ok(Kernel {
                    pipeline,
                    bind_group_layout: layout,
                    dispatch: Dispatch::PerElement {
                        workgroup_size: FINISH_GROUP,
                        per_invocation: 1,
                    },
                });
            }
            _ => return Err(not_direct()),
        };
        let source = direct_source(op, id.ty).ok_or_else(not_direct)?;
        let layout = Arc::clone(self.direct_layout(op.arity).ok_or_else(not_direct)?);
        let label = format!("{} {} direct", op.name, id.ty.name());
        let pipeline = compile(
            &self.device,
            self.cache.as_ref(),
            &layout,
            &label,
            source,
            "main",
            &[("WORKGROUP_SIZE", f64::from(DIRECT_GROUP))],
        );
        stats.pipelines_created += 1;
        Ok(Kernel {
            pipeline,
            bind_group_layout: layout,
            dispatch: Dispatch::PerElement {
                workgroup_size: DIRECT_GROUP,
                per_invocation: 1,
            },
        })
    }

    /// The layout shared by all cached kernels of `shape`, and the slabs made for them.
    pub fn shared_layout(&self, shape: SlabShape) -> Arc<wgpu::BindGroupLayout> {
        match self.shared_layouts.iter().find(|(s, _)| *s == shape) {
            Some((_, layout)) => Arc::clone(layout),
            // Every shape a kernel of the table can have is made in `new`.
            None => Arc::new(create_bind_group_layout(&self.device, shape)),
        }
    }

    /// Compiles the pipeline of `id` for `bucket` on the shared layout.
    pub fn create(&self, id: KernelId, bucket: u64, stats: &mut Stats) -> Result<Kernel> {
        let layout = self.shared_layout(id.kind()?.shape());
        create_kernel(&self.device, self.cache.as_ref(), layout, id, bucket, stats)
    }

    /// Compiles a pipeline with a layout of its own: what uncached code does per task.
    pub fn create_uncached(&self, id: KernelId, bucket: u64, stats: &mut Stats) -> Result<Kernel> {
        let layout = Arc::new(create_bind_group_layout(&self.device, id.kind()?.shape()));
        create_kernel(&self.device, self.cache.as_ref(), layout, id, bucket, stats)
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

/// A direct kernel's bindings: its inputs and the output, all writable (they may share a
/// GPU buffer), and the block table at 5.
fn create_direct_layout(device: &wgpu::Device, arity: usize) -> wgpu::BindGroupLayout {
    let mut entries: Vec<wgpu::BindGroupLayoutEntry> = INPUT_BINDINGS[..arity]
        .iter()
        .map(|&b| storage_entry(b, false))
        .collect();
    entries.push(storage_entry(OUTPUT_BINDING, false));
    entries.push(storage_entry(BLOCKS_BINDING, true));
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("gpu_executor direct kernel layout"),
        entries: &entries,
    })
}

/// A finish kernel's bindings: the partials at 1, the output buffer at 3, the table at 5.
fn create_finish_layout(device: &wgpu::Device) -> wgpu::BindGroupLayout {
    let entries = [
        storage_entry(INPUT_BINDINGS[0], true),
        storage_entry(OUTPUT_BINDING, false),
        storage_entry(BLOCKS_BINDING, true),
    ];
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("gpu_executor finish kernel layout"),
        entries: &entries,
    })
}

/// Params uniform at 0, the shape's read-only inputs, the output at 3, a reduction's block
/// table at 5.
fn create_bind_group_layout(device: &wgpu::Device, shape: SlabShape) -> wgpu::BindGroupLayout {
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
        INPUT_BINDINGS[..shape.arity]
            .iter()
            .map(|&b| storage_entry(b, true)),
    );
    entries.push(storage_entry(OUTPUT_BINDING, false));
    if shape.reduction {
        entries.push(storage_entry(BLOCKS_BINDING, true));
    }
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("gpu_executor kernel layout"),
        entries: &entries,
    })
}

fn create_kernel(
    device: &wgpu::Device,
    cache: Option<&wgpu::PipelineCache>,
    bind_group_layout: Arc<wgpu::BindGroupLayout>,
    id: KernelId,
    bucket: u64,
    stats: &mut Stats,
) -> Result<Kernel> {
    let kind = id.kind()?;
    // A registered kernel names its own entry point; the built-ins' are fixed below.
    let mut user_entry: Option<Arc<str>> = None;
    let (source, dispatch) = match kind {
        KernelKind::Elementwise(op) => (
            elementwise_source(op, id.ty).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("{} is not defined for {}", op.name, id.ty.name()),
                )
            })?,
            Dispatch::PerElement {
                workgroup_size: workgroup_size_for_bucket(bucket),
                per_invocation: ELEMENTS_PER_INVOCATION as u32,
            },
        ),
        KernelKind::Reduction(op) => (reduction_source(op), Dispatch::PerBlock),
        // For matmul the "bucket" is the shape class: the tile size.
        KernelKind::Matmul => (MATMUL_WGSL.to_string(), Dispatch::Tiles(bucket as u32)),
        KernelKind::User(info) => {
            let (source, entry) = user_kernel::source_of(id.code).ok_or_else(|| {
                Error::new(
                    ErrorKind::UnknownOp,
                    format!("op code {} is no longer registered", id.code),
                )
            })?;
            user_entry = Some(entry);
            (
                source.to_string(),
                Dispatch::PerElement {
                    workgroup_size: info.workgroup_size,
                    per_invocation: info.elements_per_invocation,
                },
            )
        }
    };
    let label = format!("{} {}", kind.name(), id.ty.name());
    let (constants, entry): (Vec<(&str, f64)>, &str) = match (dispatch, &user_entry) {
        (_, Some(entry)) => (Vec::new(), entry),
        (Dispatch::PerElement { workgroup_size, .. }, None) => {
            (vec![("WORKGROUP_SIZE", f64::from(workgroup_size))], "main")
        }
        (Dispatch::PerBlock, None) => (Vec::new(), "main"),
        (Dispatch::Tiles(128), None) => (Vec::new(), "tile128"),
        (Dispatch::Tiles(64), None) => (Vec::new(), "tile64"),
        (Dispatch::Tiles(_), None) => (Vec::new(), "tile16"),
    };
    let pipeline = compile(
        device,
        cache,
        &bind_group_layout,
        &label,
        source,
        entry,
        &constants,
    );
    stats.pipelines_created += 1;
    Ok(Kernel {
        pipeline,
        bind_group_layout,
        dispatch,
    })
}

/// Compiles `source`'s `entry` on `layout` with override `constants`, through `cache`
/// when there is one.
fn compile(
    device: &wgpu::Device,
    cache: Option<&wgpu::PipelineCache>,
    layout: &wgpu::BindGroupLayout,
    label: &str,
    source: String,
    entry: &str,
    constants: &[(&str, f64)],
) -> wgpu::ComputePipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("gpu_executor pipeline layout"),
        bind_group_layouts: &[Some(layout)],
        immediate_size: 0,
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(label),
        layout: Some(&pipeline_layout),
        module: &module,
        entry_point: Some(entry),
        compilation_options: wgpu::PipelineCompilationOptions {
            constants,
            zero_initialize_workgroup_memory: false,
        },
        cache,
    })
}
