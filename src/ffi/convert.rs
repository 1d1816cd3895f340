//! C structs to safe types and back. Raw task pointers become slices here, once.

use std::ffi::{c_char, c_void};

use super::status::gpu_executor_status_t as S;
use super::types::*;
use crate::config::{BackendChoice, Config, PowerChoice, StagingChoice, Strategy};
use crate::executor::MIN_CHUNK_ELEMENTS;
use crate::kernel::{self, KernelId, KernelKind, MAX_INPUTS};
use crate::ops::ElemType;
use crate::task::{Destination, Operand, MAX_SCALARS};
use crate::{Executor, Stats, Task};

/// Every flag that marks an operand as a buffer region.
const ALL_BUFFER_FLAGS: u32 = GPU_TASK_INPUT0_BUFFER
    | GPU_TASK_INPUT1_BUFFER
    | GPU_TASK_INPUT2_BUFFER
    | GPU_TASK_OUTPUT_BUFFER;

/// The flag that marks input `k` (or, at `MAX_INPUTS`, the output) as a buffer region.
fn buffer_flag(k: usize) -> u32 {
    if k < MAX_INPUTS {
        GPU_TASK_INPUT0_BUFFER << k
    } else {
        GPU_TASK_OUTPUT_BUFFER
    }
}

/// A failed conversion: the status to return and the message to record.
pub struct Rejected(pub S, pub String);

type Converted<T> = Result<T, Rejected>;

fn reject<T>(status: S, message: String) -> Converted<T> {
    Err(Rejected(status, message))
}

/// `sizeof(gpu_executor_stats_t)` before the resident-buffer counters.
pub const STATS_SIZE_V3: usize = std::mem::offset_of!(gpu_executor_stats_t, resident_buffers);

/// `sizeof(gpu_executor_stats_t)` before the idle-memory counters.
pub const STATS_SIZE_V4: usize = std::mem::offset_of!(gpu_executor_stats_t, idle_bytes);

/// `sizeof(gpu_adapter_info_t)` before `device_local_bytes`.
pub const ADAPTER_INFO_SIZE_V1: usize = std::mem::offset_of!(gpu_adapter_info_t, driver_info) + 256;

/// `sizeof(gpu_executor_options_t)` in version 0.1, before `wait_timeout_ns`.
pub const OPTIONS_SIZE_V1: usize = std::mem::offset_of!(gpu_executor_options_t, wait_timeout_ns);

/// `sizeof(gpu_executor_options_t)` before `adapter_index`.
pub const OPTIONS_SIZE_V2: usize = std::mem::offset_of!(gpu_executor_options_t, adapter_index);

/// `sizeof(gpu_executor_options_t)` before `max_idle_bytes` and `max_in_flight_bytes`.
pub const OPTIONS_SIZE_V3: usize = std::mem::offset_of!(gpu_executor_options_t, max_idle_bytes);

/// `sizeof(gpu_executor_options_t)` before `staging`.
pub const OPTIONS_SIZE_V4: usize = std::mem::offset_of!(gpu_executor_options_t, staging);

/// `sizeof(gpu_executor_stats_t)` before `host_staging`.
pub const STATS_SIZE_V5: usize = std::mem::offset_of!(gpu_executor_stats_t, host_staging);

/// `sizeof(gpu_executor_options_t)` before `pipeline_cache_dir`.
pub const OPTIONS_SIZE_V5: usize = std::mem::offset_of!(gpu_executor_options_t, pipeline_cache_dir);

/// `sizeof(gpu_executor_stats_t)` before the pipeline-cache and compilation counters.
pub const STATS_SIZE_V6: usize = std::mem::offset_of!(gpu_executor_stats_t, pipeline_cache_state);

/// `sizeof(gpu_executor_options_t)` before the bucket options.
pub const OPTIONS_SIZE_V6: usize =
    std::mem::offset_of!(gpu_executor_options_t, min_bucket_elements);

/// `sizeof(gpu_executor_stats_t)` before the adaptive-bucket counters.
pub const STATS_SIZE_V7: usize = std::mem::offset_of!(gpu_executor_stats_t, padding_bytes);

/// `sizeof(gpu_executor_stats_t)` before the registered-host-memory figures.
pub const STATS_SIZE_V8: usize =
    std::mem::offset_of!(gpu_executor_stats_t, registered_host_regions);

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
        adapter_index: GPU_ADAPTER_DEFAULT,
        max_idle_bytes: crate::config::DEFAULT_MAX_IDLE_BYTES,
        max_in_flight_bytes: 0,
        staging: gpu_staging_t::GPU_STAGING_AUTO as u32,
        pipeline_cache_dir: std::ptr::null(),
        min_bucket_elements: crate::bucket::DEFAULT_MIN_BUCKET,
        bucket_growth: crate::bucket::DEFAULT_BUCKET_GROWTH,
        adaptive_buckets: 0,
    }
}

/// The options' pipeline cache directory: NULL or "" is none.
///
/// # Safety
/// `dir` must be NULL or point to a NUL-terminated string readable during the call.
pub unsafe fn pipeline_cache_dir(dir: *const c_char) -> Option<std::path::PathBuf> {
    if dir.is_null() {
        return None;
    }
    let bytes = std::ffi::CStr::from_ptr(dir).to_bytes();
    if bytes.is_empty() {
        return None;
    }
    #[cfg(unix)]
    let path = {
        use std::os::unix::ffi::OsStrExt;
        std::path::PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
    };
    #[cfg(not(unix))]
    let path = std::path::PathBuf::from(String::from_utf8_lossy(bytes).into_owned());
    Some(path)
}

/// The C value of a pipeline cache state.
fn cache_state_to_c(state: crate::pipeline_cache::CacheState) -> u32 {
    use crate::pipeline_cache::CacheState as C;
    (match state {
        C::Off => gpu_pipeline_cache_state_t::GPU_PIPELINE_CACHE_OFF,
        C::Unsupported => gpu_pipeline_cache_state_t::GPU_PIPELINE_CACHE_UNSUPPORTED,
        C::Empty => gpu_pipeline_cache_state_t::GPU_PIPELINE_CACHE_EMPTY,
        C::Loaded => gpu_pipeline_cache_state_t::GPU_PIPELINE_CACHE_LOADED,
        C::Rejected => gpu_pipeline_cache_state_t::GPU_PIPELINE_CACHE_REJECTED,
    }) as u32
}

pub fn config_from(options: &gpu_executor_options_t) -> Converted<Config> {
    let backend = backend_choice(options.backend)?;
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
    let staging = match options.staging {
        0 => StagingChoice::Auto,
        1 => StagingChoice::Mapped,
        2 => StagingChoice::Host,
        v => {
            return reject(
                S::GPU_EXECUTOR_INVALID_OPTION,
                format!("staging {v} is not a gpu_staging_t"),
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
        adapter_index: match options.adapter_index {
            GPU_ADAPTER_DEFAULT => None,
            index => Some(index as usize),
        },
        max_idle_bytes: options.max_idle_bytes,
        max_in_flight_bytes: options.max_in_flight_bytes,
        staging,
        min_bucket_elements: options.min_bucket_elements,
        bucket_growth: options.bucket_growth,
        adaptive_buckets: options.adaptive_buckets != 0,
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
pub unsafe fn tasks_from<'a>(
    tasks: &'a [gpu_task_t],
    executor: &Executor,
) -> Converted<Vec<Task<'a>>> {
    let mut spans = Vec::with_capacity(tasks.len() * 3);
    let mut checked = Vec::with_capacity(tasks.len());
    for (i, t) in tasks.iter().enumerate() {
        let (kind, id, params) = check_task(i, t)?;
        for (k, p) in t.inputs[..kind.arity()].iter().enumerate() {
            let bytes = kind.input_len(k, t.length, params.as_slice()) * 4;
            if bytes > 0 && t.flags & buffer_flag(k) == 0 {
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
        if out_bytes > 0 && t.flags & GPU_TASK_OUTPUT_BUFFER == 0 {
            let start = t.output as usize;
            spans.push(Span {
                start,
                end: start + out_bytes,
                task: i,
                is_output: true,
            });
        }
        checked.push((kind, id, params));
    }
    check_aliasing(&mut spans)?;
    // Every handle of the batch is resolved under one lock.
    let any_buffer = tasks.iter().any(|t| t.flags & ALL_BUFFER_FLAGS != 0);
    let table = match any_buffer {
        true => Some(
            executor
                .buffers()
                .or_else(|e| reject(S::from(e.kind), e.message))?,
        ),
        false => None,
    };
    let mut converted = Vec::with_capacity(tasks.len());
    for (i, (t, (kind, id, params))) in tasks.iter().zip(checked).enumerate() {
        let params = params.as_slice();
        let region_of = |p: *const c_void, what: &str| -> Converted<crate::Region> {
            // SAFETY: check_task proved the pointer non-NULL and aligned for a
            // gpu_region_t; the caller guarantees it is readable during the call.
            let region = unsafe { *p.cast::<gpu_region_t>() };
            let found = match &table {
                Some(table) => table.get(region.buffer),
                None => executor.buffer(region.buffer),
            };
            found
                .map(|buffer| crate::Region {
                    buffer,
                    offset: region.offset,
                })
                .or_else(|e| reject(S::from(e.kind), format!("task {i}: {what}: {}", e.message)))
        };
        let names = ["inputs[0]", "inputs[1]", "inputs[2]"];
        let mut inputs: [Operand<'a>; MAX_INPUTS] = Default::default();
        for (k, &p) in t.inputs.iter().take(kind.arity()).enumerate() {
            inputs[k] = if t.flags & buffer_flag(k) != 0 {
                Operand::Resident(region_of(p, names[k])?)
            } else {
                // SAFETY: check_task proved every pointer the op reads non-NULL, aligned
                // and non-overflowing for length > 0; the caller guarantees validity.
                Operand::Host(unsafe { input_slice(p, kind.input_len(k, t.length, params)) })
            };
        }
        let output = if t.flags & GPU_TASK_OUTPUT_BUFFER != 0 {
            Destination::Resident(region_of(t.output.cast_const(), "output")?)
        } else {
            // SAFETY: as above; check_aliasing proved outputs are disjoint from every
            // other range, so no `&mut` aliases another reference. A reduction over no
            // elements still writes its one result.
            Destination::Host(unsafe { output_slice(t.output, kind.output_len(t.length)) })
        };
        converted.push(
            Task::with_operands(id, t.length, &mut inputs[..kind.arity()], params, output)
                .or_else(|e| reject(S::from(e.kind), format!("task {i}: {}", e.message)))?,
        );
    }
    Ok(converted)
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

/// What warm-up needs of a task: its op, element type, length, a matmul's M and N, and
/// whether it writes buffers directly. Pointers are not read.
pub fn warmup_item(i: usize, t: &gpu_task_t) -> Converted<crate::executor::WarmupItem> {
    let (kind, ty) = op_and_type(i, t)?;
    if !kind.supports(ty) {
        return reject(
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            format!(
                "task {i}: GPU_OP_{} is not defined for {}",
                kind.name(),
                ty.name()
            ),
        );
    }
    let inputs_in_buffers = (0..kind.arity()).all(|k| t.flags & buffer_flag(k) != 0);
    let output_in_buffer = t.flags & GPU_TASK_OUTPUT_BUFFER != 0;
    let resident = match kind {
        KernelKind::Elementwise(_) => inputs_in_buffers && output_in_buffer,
        KernelKind::Reduction(_) => output_in_buffer,
        _ => false,
    };
    let clamp = |p: u64| u32::try_from(p).unwrap_or(u32::MAX);
    Ok(crate::executor::WarmupItem {
        op: KernelId { code: t.op, ty },
        len: t.length,
        matmul: matches!(kind, KernelKind::Matmul)
            .then(|| (clamp(t.params[0]), clamp(t.params[2]))),
        resident,
    })
}

/// The task's op (`UNKNOWN_OP`) and element type (`INVALID_ARGUMENT`).
fn op_and_type(i: usize, t: &gpu_task_t) -> Converted<(KernelKind, ElemType)> {
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
    Ok((kind, ty))
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
fn check_task(i: usize, t: &gpu_task_t) -> Converted<(KernelKind, KernelId, Params)> {
    let (kind, ty) = op_and_type(i, t)?;
    let arity = kind.arity();
    let operand_flags = (0..arity)
        .map(buffer_flag)
        .fold(GPU_TASK_OUTPUT_BUFFER, |all, f| all | f);
    let allowed = match kind {
        KernelKind::Matmul => GPU_TASK_DTYPE_MASK | GPU_TASK_TRANSPOSE_B | operand_flags,
        _ => GPU_TASK_DTYPE_MASK | operand_flags,
    };
    if t.flags & !allowed != 0 {
        return reject(
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            format!(
                "task {i}: flags {:#x} set bits GPU_OP_{} does not take",
                t.flags,
                kind.name()
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
    if t.inputs[arity..].iter().any(|p| !p.is_null()) {
        return reject(
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            format!(
                "task {i}: GPU_OP_{name} reads {arity} input(s); inputs[{arity}..] must be NULL"
            ),
        );
    }
    let params = task_params(i, kind, t)?;
    let id = KernelId { code: t.op, ty };
    // A region pointer is read whatever the length.
    let regions = (0..arity)
        .map(|k| (k, t.inputs[k]))
        .chain(std::iter::once((MAX_INPUTS, t.output.cast_const())));
    for (k, p) in regions {
        if t.flags & buffer_flag(k) != 0 {
            let name = ["inputs[0]", "inputs[1]", "inputs[2]", "output"][k];
            check_region_pointer(i, name, p as usize)?;
        }
    }
    // A reduction writes its one result even over no elements.
    let out_bytes = kind.output_len(t.length).saturating_mul(4);
    if t.length == 0 {
        if out_bytes > 0 {
            check_pointer(i, "output", t.output as usize, out_bytes)?;
        }
        return Ok((kind, id, params));
    }
    // Rust slices may span at most isize::MAX bytes; the end address must not wrap.
    match t.length.checked_mul(4) {
        Some(b) if b <= isize::MAX as usize => {}
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
    for (k, (name, p)) in names.iter().zip(&t.inputs[..arity]).enumerate() {
        if t.flags & buffer_flag(k) == 0 {
            let input_bytes = kind.input_len(k, t.length, params.as_slice()) * 4;
            check_pointer(i, name, *p as usize, input_bytes)?;
        }
    }
    if t.flags & GPU_TASK_OUTPUT_BUFFER == 0 {
        check_pointer(i, "output", t.output as usize, out_bytes)?;
    }
    Ok((kind, id, params))
}

/// A task's parameter words, without a heap allocation.
#[derive(Clone, Copy, Debug)]
struct Params {
    words: [u32; MAX_SCALARS],
    count: usize,
}

impl Params {
    fn as_slice(&self) -> &[u32] {
        &self.words[..self.count]
    }
}

/// The task's parameter words for the core: an op's scalars (each a 32-bit pattern in the
/// low half of its `params` slot), or matmul's M, K, N (which must give `length` = M·N and
/// operands that fit the address space) and its transposed-B flag. Unread params must be 0.
fn task_params(i: usize, kind: KernelKind, t: &gpu_task_t) -> Converted<Params> {
    let name = kind.name();
    let read = match kind {
        KernelKind::Matmul => 3,
        _ => kind.scalars(),
    };
    if let Some(k) = (0..read).find(|&k| t.params[k] > u64::from(u32::MAX)) {
        let what = match kind {
            KernelKind::Matmul => "a matmul dimension, at most 2^32 - 1",
            _ => "a scalar's 32-bit pattern; its upper 32 bits must be 0",
        };
        return reject(
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            format!("task {i}: params[{k}] holds {what}"),
        );
    }
    if t.params[read..].iter().any(|&p| p != 0) {
        return reject(
            S::GPU_EXECUTOR_INVALID_ARGUMENT,
            format!("task {i}: GPU_OP_{name} reads {read} param(s); params[{read}..] must be 0"),
        );
    }
    let mut words = [0u32; MAX_SCALARS];
    for (w, &p) in words.iter_mut().zip(&t.params[..read]) {
        *w = p as u32;
    }
    let mut count = read;
    if let KernelKind::Matmul = kind {
        let (m, k, n) = (t.params[0], t.params[1], t.params[2]);
        let fits = |x: u64, y: u64| {
            x.checked_mul(y)
                .is_some_and(|e| e.checked_mul(4).is_some_and(|b| b <= isize::MAX as u64))
        };
        if !(fits(m, k) && fits(k, n) && fits(m, n)) {
            return reject(
                S::GPU_EXECUTOR_SIZE_OVERFLOW,
                format!("task {i}: a {m}x{k} by {k}x{n} matmul overflows the address space"),
            );
        }
        if t.length as u64 != m * n {
            return reject(
                S::GPU_EXECUTOR_INVALID_ARGUMENT,
                format!(
                    "task {i}: GPU_OP_MATMUL's length must be M*N = {}, not {}",
                    m * n,
                    t.length
                ),
            );
        }
        words[3] = u32::from(t.flags & GPU_TASK_TRANSPOSE_B != 0);
        count = 4;
    }
    Ok(Params { words, count })
}

/// A `gpu_region_t` pointer must be non-NULL and aligned for the struct.
fn check_region_pointer(i: usize, name: &str, addr: usize) -> Converted<()> {
    if addr == 0 {
        return reject(
            S::GPU_EXECUTOR_NULL_POINTER,
            format!("task {i}: {name} is marked as a buffer region but is NULL"),
        );
    }
    if addr % std::mem::align_of::<gpu_region_t>() != 0 {
        return reject(
            S::GPU_EXECUTOR_MISALIGNED_POINTER,
            format!("task {i}: {name}'s gpu_region_t is not 8-byte aligned"),
        );
    }
    Ok(())
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
        resident_buffers: stats.resident_buffers,
        resident_bytes: stats.resident_bytes,
        resident_reserved_bytes: stats.resident_reserved_bytes,
        resident_buffers_created: stats.resident_buffers_created,
        resident_pool_hits: stats.resident_pool_hits,
        resident_pool_misses: stats.resident_pool_misses,
        direct_dispatches: stats.direct_dispatches,
        idle_bytes: stats.idle_bytes(),
        pool_bytes: stats.pool_bytes,
        exact_cache_bytes: stats.exact_cache_bytes,
        table_bytes: stats.table_bytes,
        pool_evictions: stats.pool_evictions,
        table_evictions: stats.table_evictions,
        evicted_bytes: stats.evicted_bytes,
        in_flight_bytes: stats.in_flight_bytes,
        backpressure_refusals: stats.backpressure_refusals,
        host_staging: u64::from(executor.host_staging()),
        pipeline_cache_state: cache_state_to_c(stats.pipeline_cache),
        pending_warmups: stats.pending_warmups.min(u64::from(u32::MAX)) as u32,
        pipeline_cache_loaded_bytes: stats.pipeline_cache_loaded_bytes,
        pipeline_cache_saves: stats.pipeline_cache_saves,
        pipeline_cache_saved_bytes: stats.pipeline_cache_saved_bytes,
        compile_waits: stats.compile_waits,
        async_warmups_completed: stats.async_warmups_completed,
        padding_bytes: stats.padding_bytes,
        bucket_refinements: stats.bucket_refinements,
        bucket_coarsenings: stats.bucket_coarsenings,
        registered_host_regions: stats.registered_host_regions,
        registered_host_bytes: stats.registered_host_bytes,
        registered_host_operands: stats.registered_host_operands,
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

/// The `BackendChoice` of a `gpu_backend_t` value.
pub fn backend_choice(backend: u32) -> Converted<BackendChoice> {
    Ok(match backend {
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
    })
}

/// The C description of an adapter; `device_local_bytes` 0 when unknown.
pub fn adapter_info_to_c(info: &wgpu::AdapterInfo, device_local_bytes: u64) -> gpu_adapter_info_t {
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
        device_local_bytes,
    };
    fill_c_string(&mut out.name, &info.name);
    fill_c_string(&mut out.driver, &info.driver);
    fill_c_string(&mut out.driver_info, &info.driver_info);
    out
}
