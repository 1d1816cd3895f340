//! C structs to safe types and back. Raw task pointers become slices here, once.

use std::ffi::{c_char, c_void};

use super::status::gpu_executor_status_t as S;
use super::types::*;
use crate::config::{BackendChoice, Config, PowerChoice, Strategy};
use crate::executor::MIN_CHUNK_ELEMENTS;
use crate::kernel::{self, KernelId, KernelKind};
use crate::ops::ElemType;
use crate::{Executor, Stats, Task};

/// A failed conversion: the status to return and the message to record.
pub struct Rejected(pub S, pub String);

type Converted<T> = Result<T, Rejected>;

fn reject<T>(status: S, message: String) -> Converted<T> {
    Err(Rejected(status, message))
}

/// `sizeof(gpu_executor_options_t)` in version 0.1, before `wait_timeout_ns`.
pub const OPTIONS_SIZE_V1: usize = std::mem::offset_of!(gpu_executor_options_t, wait_timeout_ns);

pub fn default_options() -> gpu_executor_options_t {
    gpu_executor_options_t {
        struct_size: std::mem::size_of::<gpu_executor_options_t>() as u32,
        backend: gpu_backend_t::GPU_BACKEND_ANY as u32,
        power_preference: gpu_power_preference_t::GPU_POWER_DEFAULT as u32,
        strategy: gpu_strategy_t::GPU_STRATEGY_BUCKETED as u32,
        exact_size_cache: 1,
        exact_size_cache_capacity: 16,
        max_chunk_elements: 0,
        copy_threads: 0,
        wait_timeout_ns: 0,
    }
}

pub fn config_from(options: &gpu_executor_options_t) -> Converted<Config> {
    let backend = match options.backend {
        0 => BackendChoice::Any,
        1 => BackendChoice::Vulkan,
        2 => BackendChoice::Metal,
        3 => BackendChoice::Dx12,
        4 => BackendChoice::Gl,
        v => {
            return reject(
                S::GPU_EXECUTOR_INVALID_OPTION,
                format!("backend {v} is not a gpu_backend_t"),
            )
        }
    };
    let power = match options.power_preference {
        0 => PowerChoice::Default,
        1 => PowerChoice::LowPower,
        2 => PowerChoice::HighPerformance,
        v => {
            return reject(
                S::GPU_EXECUTOR_INVALID_OPTION,
                format!("power_preference {v} is not a gpu_power_preference_t"),
            )
        }
    };
    let strategy = match options.strategy {
        0 => Strategy::Baseline,
        1 => Strategy::Bucketed,
        v => {
            return reject(
                S::GPU_EXECUTOR_INVALID_OPTION,
                format!("strategy {v} is not a gpu_strategy_t"),
            )
        }
    };
    if options.max_chunk_elements != 0 && options.max_chunk_elements < MIN_CHUNK_ELEMENTS {
        return reject(
            S::GPU_EXECUTOR_INVALID_OPTION,
            format!(
                "max_chunk_elements {} is below the minimum of {MIN_CHUNK_ELEMENTS}",
                options.max_chunk_elements
            ),
        );
    }
    Ok(Config {
        backend,
        power,
        strategy,
        exact_size_cache: options.exact_size_cache != 0,
        exact_size_cache_capacity: options.exact_size_cache_capacity as usize,
        max_chunk_elements: options.max_chunk_elements,
        copy_threads: options.copy_threads as usize,
        wait_timeout: match options.wait_timeout_ns {
            0 => None,
            ns => Some(std::time::Duration::from_nanos(ns)),
        },
        ..Config::default()
    })
}

/// A byte range a task touches, for the aliasing check.
struct Span {
    start: usize,
    end: usize,
    task: usize,
    is_output: bool,
}

/// Converts and checks every task before any GPU work.
///
/// # Safety
/// `tasks` must be readable; each non-NULL task pointer must be valid for `length`
/// elements (reads for inputs, writes for the output) for the duration of the returned
/// borrow.
pub unsafe fn tasks_from<'a>(tasks: &'a [gpu_task_t]) -> Converted<Vec<Task<'a>>> {
    let mut spans = Vec::with_capacity(tasks.len() * 3);
    let mut checked = Vec::with_capacity(tasks.len());
    for (i, t) in tasks.iter().enumerate() {
        let (kind, id) = check_task(i, t)?;
        let bytes = t.length * 4;
        if bytes > 0 {
            for p in &t.inputs[..kind.arity()] {
                let start = *p as usize;
                spans.push(Span {
                    start,
                    end: start + bytes,
                    task: i,
                    is_output: false,
                });
            }
        }
        // A reduction writes one element even over no input.
        let out_bytes = kind.output_len(t.length) * 4;
        if out_bytes > 0 {
            let start = t.output as usize;
            spans.push(Span {
                start,
                end: start + out_bytes,
                task: i,
                is_output: true,
            });
        }
        checked.push((kind, id));
    }
    check_aliasing(&mut spans)?;
    tasks
        .iter()
        .zip(checked)
        .enumerate()
        .map(|(i, (t, (kind, id)))| {
            // SAFETY: check_task proved every pointer the op reads non-NULL, aligned and
            // non-overflowing for length > 0; the caller guarantees validity;
            // check_aliasing proved outputs are disjoint from every other range, so no
            // `&mut` aliases another reference.
            let inputs: Vec<&'a [u32]> = t.inputs[..kind.arity()]
                .iter()
                .map(|&p| unsafe { input_slice(p, t.length) })
                .collect();
            let scalars: Vec<u32> = t.params[..kind.scalars()]
                .iter()
                .map(|&p| p as u32)
                .collect();
            // A reduction over no elements still writes its one result.
            let output = unsafe { output_slice(t.output, kind.output_len(t.length)) };
            Task::new(id, t.length, &inputs, &scalars, output)
                .or_else(|e| reject(S::from(e.kind), format!("task {i}: {}", e.message)))
        })
        .collect()
}

unsafe fn input_slice<'a>(p: *const c_void, len: usize) -> &'a [u32] {
    if len == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(p.cast::<u32>(), len)
    }
}

unsafe fn output_slice<'a>(p: *mut c_void, len: usize) -> &'a mut [u32] {
    if len == 0 {
        &mut []
    } else {
        std::slice::from_raw_parts_mut(p.cast::<u32>(), len)
    }
}

/// The element type that `flags` names.
fn elem_type(flags: u32) -> Option<ElemType> {
    match flags & GPU_TASK_DTYPE_MASK {
        0 => Some(ElemType::F32),
        1 => Some(ElemType::I32),
        2 => Some(ElemType::U32),
        _ => None,
    }
}

/// Checks one task against its op's table row; returns the kind and kernel.
fn check_task(i: usize, t: &gpu_task_t) -> Converted<(KernelKind, KernelId)> {
    let Some(kind) = kernel::kind_of(t.op) else {
        return reject(
            S::GPU_EXECUTOR_UNKNOWN_OP,
            format!("task {i}: unknown op code {}", t.op),
        );
    };
    let Some(ty) = elem_type(t.flags) else {
        return reject(
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            format!(
                "task {i}: element type {} (flags & GPU_TASK_DTYPE_MASK) is not a gpu_dtype_t",
                t.flags & GPU_TASK_DTYPE_MASK
            ),
        );
    };
    if t.flags & !GPU_TASK_DTYPE_MASK != 0 {
        return reject(
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            format!(
                "task {i}: flags {:#x} set reserved bits (only the element type may be set)",
                t.flags
            ),
        );
    }
    let name = kind.name();
    if !kind.supports(ty) {
        return reject(
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            format!(
                "task {i}: GPU_OP_{name} is not defined for {} (it takes {})",
                ty.name(),
                kind.types()
                    .into_iter()
                    .map(ElemType::name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    let (arity, scalars) = (kind.arity(), kind.scalars());
    if t.inputs[arity..].iter().any(|p| !p.is_null()) {
        return reject(
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            format!(
                "task {i}: GPU_OP_{name} reads {arity} input(s); inputs[{arity}..] must be NULL"
            ),
        );
    }
    if let Some(k) = (0..scalars).find(|&k| t.params[k] > u64::from(u32::MAX)) {
        return reject(
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            format!(
                "task {i}: params[{k}] holds a scalar's 32-bit pattern; its upper 32 bits must be 0"
            ),
        );
    }
    if t.params[scalars..].iter().any(|&p| p != 0) {
        return reject(
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            format!(
                "task {i}: GPU_OP_{name} reads {scalars} scalar(s); params[{scalars}..] must be 0"
            ),
        );
    }
    let id = KernelId { code: t.op, ty };
    // A reduction writes its one result even over no elements.
    let out_bytes = kind.output_len(t.length).saturating_mul(4);
    if t.length == 0 {
        if out_bytes > 0 {
            check_pointer(i, "output", t.output as usize, out_bytes)?;
        }
        return Ok((kind, id));
    }
    // Rust slices may span at most isize::MAX bytes; the end address must not wrap.
    let bytes = match t.length.checked_mul(4) {
        Some(b) if b <= isize::MAX as usize => b,
        _ => {
            return reject(
                S::GPU_EXECUTOR_SIZE_OVERFLOW,
                format!(
                    "task {i}: length {} elements overflows the address space",
                    t.length
                ),
            )
        }
    };
    let names = ["inputs[0]", "inputs[1]", "inputs[2]"];
    for (name, p) in names.iter().zip(&t.inputs[..arity]) {
        check_pointer(i, name, *p as usize, bytes)?;
    }
    check_pointer(i, "output", t.output as usize, out_bytes)?;
    Ok((kind, id))
}

/// A task pointer must be non-NULL, 4-byte aligned, and `bytes` past it must not wrap.
fn check_pointer(i: usize, name: &str, addr: usize, bytes: usize) -> Converted<()> {
    if addr == 0 {
        return reject(
            S::GPU_EXECUTOR_NULL_POINTER,
            format!("task {i}: {name} is NULL"),
        );
    }
    if addr % std::mem::align_of::<f32>() != 0 {
        return reject(
            S::GPU_EXECUTOR_MISALIGNED_POINTER,
            format!("task {i}: {name} is not 4-byte aligned"),
        );
    }
    if addr.checked_add(bytes).is_none() {
        return reject(
            S::GPU_EXECUTOR_SIZE_OVERFLOW,
            format!("task {i}: {name} + length wraps around the address space"),
        );
    }
    Ok(())
}

/// Outputs may overlap nothing; inputs may overlap each other. Sort-and-sweep, O(n log n).
fn check_aliasing(spans: &mut [Span]) -> Converted<()> {
    spans.sort_by_key(|s| s.start);
    // The span reaching furthest so far, and whether it is an output.
    let mut reach: Option<&Span> = None;
    for s in spans.iter() {
        if let Some(r) = reach {
            if s.start < r.end && (s.is_output || r.is_output) {
                let (out, other) = if s.is_output { (s, r) } else { (r, s) };
                let what = if other.is_output {
                    "output"
                } else {
                    "an input"
                };
                return reject(
                    S::GPU_EXECUTOR_ALIASING,
                    format!(
                        "task {}: output overlaps {what} of task {}; in-place operation is not supported",
                        out.task, other.task
                    ),
                );
            }
        }
        // An output reaching as far must stay the reference, or an overlap could be missed.
        let replace = match reach {
            None => true,
            Some(r) => s.end > r.end || (s.end == r.end && s.is_output),
        };
        if replace {
            reach = Some(s);
        }
    }
    Ok(())
}

pub fn stats_to_c(executor: &Executor, stats: &Stats) -> gpu_executor_stats_t {
    gpu_executor_stats_t {
        struct_size: std::mem::size_of::<gpu_executor_stats_t>() as u32,
        strategy: match executor.config().strategy {
            Strategy::Baseline => gpu_strategy_t::GPU_STRATEGY_BASELINE as u32,
            Strategy::Bucketed => gpu_strategy_t::GPU_STRATEGY_BUCKETED as u32,
        },
        batches: stats.batches,
        tasks: stats.tasks,
        elements: stats.elements,
        pipelines_created: stats.pipelines_created,
        bucket_cache_hits: stats.bucket_cache_hits,
        bucket_cache_misses: stats.bucket_cache_misses,
        cached_buckets: stats.cached_buckets,
        exact_cache_entries: stats.exact_cache_entries,
        exact_cache_hits: stats.exact_cache_hits,
        exact_cache_misses: stats.exact_cache_misses,
        exact_cache_evictions: stats.exact_cache_evictions,
        pool_hits: stats.pool_hits,
        pool_misses: stats.pool_misses,
        buffers_created: stats.buffers_created,
        bind_groups_created: stats.bind_groups_created,
        bytes_uploaded: stats.bytes_uploaded,
        bytes_read_back: stats.bytes_read_back,
        submits: stats.submits,
        dispatches: stats.dispatches,
        pool_hit_rate: stats.pool_hit_rate(),
        upload_ns: stats.upload_ns,
        submit_ns: stats.submit_ns,
        wait_ns: stats.wait_ns,
        download_ns: stats.download_ns,
    }
}

/// Copies `text` into a fixed C array, truncated, always NUL-terminated.
fn fill_c_string(dst: &mut [c_char; 256], text: &str) {
    let bytes = text.as_bytes();
    let n = bytes.len().min(dst.len() - 1);
    for (d, &b) in dst.iter_mut().zip(&bytes[..n]) {
        *d = b as c_char;
    }
    dst[n] = 0;
}

pub fn adapter_info_to_c(info: &wgpu::AdapterInfo) -> gpu_adapter_info_t {
    let mut out = gpu_adapter_info_t {
        struct_size: std::mem::size_of::<gpu_adapter_info_t>() as u32,
        backend: match info.backend {
            wgpu::Backend::Vulkan => gpu_backend_t::GPU_BACKEND_VULKAN,
            wgpu::Backend::Metal => gpu_backend_t::GPU_BACKEND_METAL,
            wgpu::Backend::Dx12 => gpu_backend_t::GPU_BACKEND_DX12,
            wgpu::Backend::Gl => gpu_backend_t::GPU_BACKEND_GL,
            _ => gpu_backend_t::GPU_BACKEND_OTHER,
        } as u32,
        device_type: match info.device_type {
            wgpu::DeviceType::IntegratedGpu => gpu_device_type_t::GPU_DEVICE_INTEGRATED,
            wgpu::DeviceType::DiscreteGpu => gpu_device_type_t::GPU_DEVICE_DISCRETE,
            wgpu::DeviceType::VirtualGpu => gpu_device_type_t::GPU_DEVICE_VIRTUAL,
            wgpu::DeviceType::Cpu => gpu_device_type_t::GPU_DEVICE_CPU,
            wgpu::DeviceType::Other => gpu_device_type_t::GPU_DEVICE_OTHER,
        } as u32,
        vendor_id: info.vendor,
        device_id: info.device,
        name: [0; 256],
        driver: [0; 256],
        driver_info: [0; 256],
    };
    fill_c_string(&mut out.name, &info.name);
    fill_c_string(&mut out.driver, &info.driver);
    fill_c_string(&mut out.driver_info, &info.driver_info);
    out
}
