//! User kernels: WGSL a caller registers, checked at once against the fixed binding layout,
//! then run like a built-in op (same bucket cache, slab pool, one submit per batch).
//!
//! The layout (docs/KERNELS.md): group 0; binding 0 an optional `var<uniform>` whose first
//! `u32` is the number of invocations' worth of work (elements / elements per invocation)
//! followed by the task's params as `u32` words; inputs at bindings 1, 2, 4 as
//! `var<storage, read>`; the output at binding 3 as `var<storage, read_write>`.
//!
//! Registered kernels live in a process-wide table keyed by op code, so that a task's op
//! code can be checked anywhere; each entry names the executor that registered it, and
//! only that executor accepts it. The table entry goes when the executor does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use wgpu::naga;

use crate::error::{Error, ErrorKind, Result};
use crate::kernel::{INPUT_BINDINGS, MAX_INPUTS, OUTPUT_BINDING};
use crate::ops::ElemType;

/// First op code handed to a registered kernel; codes are never reused in a process.
pub const USER_OP_BASE: u32 = 0x1000_0000;

/// Most params words a user kernel reads after the count (the task's `params[0..4]`).
pub const MAX_USER_PARAMS: usize = 4;

/// What a caller registers.
#[derive(Clone, Debug)]
pub struct UserKernelDesc {
    pub source: String,
    pub entry_point: String,
    /// Input arrays, 1 to 3.
    pub num_inputs: usize,
    pub ty: ElemType,
    /// 1 or 4: how many elements one invocation handles.
    pub elements_per_invocation: u32,
    /// Element-wise kernels may be packed with other tasks and split into chunks;
    /// whole-array ones run one task per dispatch, never split.
    pub elementwise: bool,
    /// `u32` words the kernel reads from the task's params (0 to 4).
    pub params_words: usize,
}

/// A registered kernel's facts, small enough to copy around with a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserKernelInfo {
    pub code: u32,
    /// The executor that registered it.
    pub owner: u64,
    pub arity: usize,
    pub ty: ElemType,
    pub elements_per_invocation: u32,
    pub elementwise: bool,
    pub params_words: usize,
    /// Invocations per workgroup, from the entry point's `@workgroup_size`.
    pub workgroup_size: u32,
}

struct Registered {
    info: UserKernelInfo,
    source: Arc<str>,
    entry_point: Arc<str>,
}

static NEXT_CODE: AtomicU32 = AtomicU32::new(USER_OP_BASE);
static TABLE: RwLock<Option<HashMap<u32, Registered>>> = RwLock::new(None);

/// The registered kernel with op code `code`, if any.
pub fn lookup(code: u32) -> Option<UserKernelInfo> {
    if code < USER_OP_BASE {
        return None;
    }
    let table = TABLE.read().unwrap_or_else(PoisonError::into_inner);
    table.as_ref()?.get(&code).map(|r| r.info)
}

/// The source and entry point of a registered kernel.
pub fn source_of(code: u32) -> Option<(Arc<str>, Arc<str>)> {
    let table = TABLE.read().unwrap_or_else(PoisonError::into_inner);
    table
        .as_ref()?
        .get(&code)
        .map(|r| (Arc::clone(&r.source), Arc::clone(&r.entry_point)))
}

/// Forgets every kernel `owner` registered.
pub fn unregister_all(owner: u64) {
    let mut table = TABLE.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(table) = table.as_mut() {
        table.retain(|_, r| r.info.owner != owner);
    }
}

/// Checks `desc` and registers it for `owner`; returns its op code. Nothing is registered
/// on error (`InvalidKernel`, with the compiler's message and the line and column).
pub fn register(owner: u64, desc: &UserKernelDesc) -> Result<UserKernelInfo> {
    let workgroup_size = check(desc)?;
    let info = UserKernelInfo {
        code: NEXT_CODE.fetch_add(1, Ordering::Relaxed),
        owner,
        arity: desc.num_inputs,
        ty: desc.ty,
        elements_per_invocation: desc.elements_per_invocation,
        elementwise: desc.elementwise,
        params_words: desc.params_words,
        workgroup_size,
    };
    let mut table = TABLE.write().unwrap_or_else(PoisonError::into_inner);
    table.get_or_insert_with(HashMap::new).insert(
        info.code,
        Registered {
            info,
            source: desc.source.as_str().into(),
            entry_point: desc.entry_point.as_str().into(),
        },
    );
    Ok(info)
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidKernel, message)
}

/// "line L, column C: " for `span` in `source`.
fn at(span: naga::Span, source: &str) -> String {
    if span.is_defined() {
        let location = span.location(source);
        format!(
            "line {}, column {}: ",
            location.line_number, location.line_position
        )
    } else {
        String::new()
    }
}

/// Parses and validates the WGSL and checks the entry point and bindings against the
/// layout; returns the workgroup's invocation count.
fn check(desc: &UserKernelDesc) -> Result<u32> {
    if !(1..=MAX_INPUTS).contains(&desc.num_inputs) {
        return Err(invalid(format!(
            "num_inputs is {}; a kernel reads 1 to {MAX_INPUTS} input arrays",
            desc.num_inputs
        )));
    }
    if ![1, 4].contains(&desc.elements_per_invocation) {
        return Err(invalid(format!(
            "elements_per_invocation is {}; it must be 1 or 4",
            desc.elements_per_invocation
        )));
    }
    if desc.params_words > MAX_USER_PARAMS {
        return Err(invalid(format!(
            "params_size is {} bytes; at most {} (the task's params[0..4] as u32 words)",
            desc.params_words * 4,
            MAX_USER_PARAMS * 4
        )));
    }
    let source = desc.source.as_str();
    let module = naga::front::wgsl::parse_str(source)
        .map_err(|e| invalid(e.emit_to_string_with_path(source, "kernel.wgsl")))?;
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    )
    .validate(&module)
    .map_err(|e| invalid(e.emit_to_string_with_path(source, "kernel.wgsl")))?;

    let Some(entry) = module
        .entry_points
        .iter()
        .find(|ep| ep.name == desc.entry_point && ep.stage == naga::ShaderStage::Compute)
    else {
        let found: Vec<&str> = module
            .entry_points
            .iter()
            .filter(|ep| ep.stage == naga::ShaderStage::Compute)
            .map(|ep| ep.name.as_str())
            .collect();
        return Err(invalid(format!(
            "no @compute entry point named {:?} (found {found:?})",
            desc.entry_point
        )));
    };
    if entry.workgroup_size_overrides.is_some() {
        return Err(invalid(format!(
            "entry point {:?}: @workgroup_size must be a constant, not an override",
            desc.entry_point
        )));
    }
    let workgroup_size: u32 = entry.workgroup_size.iter().product();

    let mut inputs_seen = [false; MAX_INPUTS];
    let mut output_seen = false;
    for (handle, global) in module.global_variables.iter() {
        let Some(binding) = &global.binding else {
            continue;
        };
        let span = module.global_variables.get_span(handle);
        let name = global.name.as_deref().unwrap_or("?");
        let place = at(span, source);
        if binding.group != 0 {
            return Err(invalid(format!(
                "{place}`{name}` is in group {}; every binding is in group 0",
                binding.group
            )));
        }
        let b = binding.binding;
        let input = INPUT_BINDINGS.iter().position(|&x| x == b);
        match (b, input, global.space) {
            (0, _, naga::AddressSpace::Uniform) => {}
            (0, _, _) => {
                return Err(invalid(format!(
                    "{place}`{name}` at binding 0 must be var<uniform> (the params block)"
                )))
            }
            (_, Some(k), _) if k >= desc.num_inputs => {
                return Err(invalid(format!(
                    "{place}`{name}` at binding {b} is input {k}, but the kernel declares {} input(s)",
                    desc.num_inputs
                )))
            }
            (_, Some(k), naga::AddressSpace::Storage { access })
                if !access.contains(naga::StorageAccess::STORE) =>
            {
                inputs_seen[k] = true;
            }
            (_, Some(_), _) => {
                return Err(invalid(format!(
                    "{place}`{name}` at binding {b} is an input: it must be var<storage, read>"
                )))
            }
            (OUTPUT_BINDING, _, naga::AddressSpace::Storage { access })
                if access.contains(naga::StorageAccess::STORE) =>
            {
                output_seen = true;
            }
            (OUTPUT_BINDING, _, _) => {
                return Err(invalid(format!(
                    "{place}`{name}` at binding 3 is the output: it must be var<storage, read_write>"
                )))
            }
            _ => {
                return Err(invalid(format!(
                    "{place}`{name}` at binding {b}: the layout has the params at 0, inputs at 1, 2 and 4, the output at 3"
                )))
            }
        }
    }
    if let Some(k) = (0..desc.num_inputs).find(|&k| !inputs_seen[k]) {
        return Err(invalid(format!(
            "the kernel declares {} input(s) but binds no input {k} (binding {})",
            desc.num_inputs, INPUT_BINDINGS[k]
        )));
    }
    if !output_seen {
        return Err(invalid(
            "the kernel binds no output (var<storage, read_write> at binding 3)",
        ));
    }
    Ok(workgroup_size.max(1))
}
