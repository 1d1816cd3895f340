//! Shared helpers for the integration tests: a seeded RNG and a CPU reference.
#![allow(dead_code)]

/// xorshift64*: deterministic random data without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [-100, 100).
    pub fn f32(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 200.0 - 100.0
    }

    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.f32()).collect()
    }
}

/// Inputs and expected output of one `a + b` task.
pub struct Case {
    pub a: Vec<f32>,
    pub b: Vec<f32>,
    pub expected: Vec<f32>,
}

impl Case {
    pub fn random(rng: &mut Rng, n: usize) -> Self {
        let a = rng.vec(n);
        let b = rng.vec(n);
        let expected = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        Self { a, b, expected }
    }
}

/// Output buffers pre-filled with NaN, so an unwritten element can never pass.
pub fn poisoned(n: usize) -> Vec<f32> {
    vec![f32::NAN; n]
}

/// Lavapipe (software Vulkan) is the CI device; tests stay on whatever adapter wgpu picks.
pub fn assert_matches(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.to_bits() == w.to_bits(),
            "{what}: element {i}: got {g}, want {w}"
        );
    }
}

/// Submits one batch of `a + b` tasks of `sizes` on random data through the Rust API,
/// checks every output bit for bit and returns the outputs.
pub fn submit_adds(exec: &gpu_executor::Executor, rng: &mut Rng, sizes: &[usize]) -> Vec<Vec<f32>> {
    let cases: Vec<Case> = sizes.iter().map(|&n| Case::random(rng, n)).collect();
    let mut outputs: Vec<Vec<f32>> = sizes.iter().map(|&n| poisoned(n)).collect();
    let mut tasks: Vec<gpu_executor::Task> = cases
        .iter()
        .zip(outputs.iter_mut())
        .map(|(c, o)| gpu_executor::Task::vector_add(&c.a, &c.b, o))
        .collect();
    exec.submit(&mut tasks).expect("batch succeeds");
    drop(tasks);
    for (i, (out, case)) in outputs.iter().zip(&cases).enumerate() {
        assert_matches(
            out,
            &case.expected,
            &format!("task {i} of {}", case.a.len()),
        );
    }
    outputs
}

/// Helpers for tests that call the C API as C would.
pub mod c_api {
    use std::ffi::CStr;
    use std::ptr;

    use gpu_executor::ffi::*;

    /// This thread's last-error message.
    pub fn last_error() -> String {
        unsafe { CStr::from_ptr(gpu_executor_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    /// A handle from `options` (NULL: defaults); panics with the message on failure.
    pub fn create(options: *const gpu_executor_options_t) -> *mut gpu_executor_t {
        let mut exec = ptr::null_mut();
        let status = unsafe { gpu_executor_create(options, &mut exec) };
        assert_eq!(
            status,
            gpu_executor_status_t::GPU_EXECUTOR_OK,
            "{}",
            last_error()
        );
        assert!(!exec.is_null());
        exec
    }

    /// The executor's counters; panics if the call fails.
    pub fn stats(exec: *mut gpu_executor_t) -> gpu_executor_stats_t {
        let mut stats = gpu_executor_stats_t {
            struct_size: std::mem::size_of::<gpu_executor_stats_t>() as u32,
            ..Default::default()
        };
        let status = unsafe { gpu_executor_stats(exec, &mut stats) };
        assert_eq!(
            status,
            gpu_executor_status_t::GPU_EXECUTOR_OK,
            "{}",
            last_error()
        );
        stats
    }

    /// `gpu_executor_submit_batch` over a slice.
    pub fn submit(exec: *mut gpu_executor_t, tasks: &[gpu_task_t]) -> gpu_executor_status_t {
        unsafe { gpu_executor_submit_batch(exec, tasks.as_ptr(), tasks.len()) }
    }

    /// `gpu_executor_submit_batch_async` over a slice: the status and the ticket.
    pub fn submit_async(
        exec: *mut gpu_executor_t,
        tasks: &[gpu_task_t],
    ) -> (gpu_executor_status_t, gpu_ticket_t) {
        let mut ticket = 0;
        let status = unsafe {
            gpu_executor_submit_batch_async(exec, tasks.as_ptr(), tasks.len(), &mut ticket)
        };
        (status, ticket)
    }

    pub fn wait(
        exec: *mut gpu_executor_t,
        ticket: gpu_ticket_t,
        timeout_ns: u64,
    ) -> gpu_executor_status_t {
        unsafe { gpu_executor_wait(exec, ticket, timeout_ns) }
    }

    pub fn poll(exec: *mut gpu_executor_t, ticket: gpu_ticket_t) -> gpu_executor_status_t {
        unsafe { gpu_executor_poll(exec, ticket) }
    }

    pub fn destroy(exec: *mut gpu_executor_t) {
        unsafe { gpu_executor_destroy(exec) }
    }

    /// An adapter info struct of this header's size, every other field zero.
    pub fn blank_adapter_info() -> gpu_adapter_info_t {
        gpu_adapter_info_t {
            struct_size: std::mem::size_of::<gpu_adapter_info_t>() as u32,
            backend: 0,
            device_type: 0,
            vendor_id: 0,
            device_id: 0,
            name: [0; 256],
            driver: [0; 256],
            driver_info: [0; 256],
            device_local_bytes: 0,
        }
    }

    /// The executor's adapter; panics if the call fails.
    pub fn adapter_info(exec: *mut gpu_executor_t) -> gpu_adapter_info_t {
        let mut info = blank_adapter_info();
        let status = unsafe { gpu_executor_adapter_info(exec, &mut info) };
        assert_eq!(
            status,
            gpu_executor_status_t::GPU_EXECUTOR_OK,
            "{}",
            last_error()
        );
        info
    }

    /// One task per case, writing into the matching output.
    pub fn tasks(cases: &[super::Case], outputs: &mut [Vec<f32>]) -> Vec<gpu_task_t> {
        cases
            .iter()
            .zip(outputs.iter_mut())
            .map(|(c, o)| task(&c.a, &c.b, o))
            .collect()
    }

    /// Registers a kernel whose descriptor `edit` fills in beyond the source and entry point;
    /// the status and the op code.
    pub fn register_kernel(
        exec: *mut gpu_executor_t,
        source: &str,
        entry: &str,
        edit: impl FnOnce(&mut gpu_kernel_desc_t),
    ) -> (gpu_executor_status_t, u32) {
        let source = std::ffi::CString::new(source).expect("no NUL");
        let entry = std::ffi::CString::new(entry).expect("no NUL");
        let mut desc = gpu_kernel_desc_default();
        desc.source = source.as_ptr();
        desc.entry_point = entry.as_ptr();
        edit(&mut desc);
        let mut op = 0;
        let status = unsafe { gpu_executor_register_kernel(exec, &desc, &mut op) };
        (status, op)
    }

    /// A valid `out = a + b` task over the given arrays.
    pub fn task(a: &[f32], b: &[f32], out: &mut [f32]) -> gpu_task_t {
        gpu_task_t {
            op: gpu_op_t::GPU_OP_VECTOR_ADD as u32,
            flags: 0,
            inputs: [
                a.as_ptr().cast(),
                b.as_ptr().cast(),
                ptr::null(),
                ptr::null(),
            ],
            output: out.as_mut_ptr().cast(),
            length: out.len(),
            params: [0; 4],
        }
    }
}

/// The process's address space, for tests that make allocations fail for real: on
/// lavapipe GPU memory is host memory, so RLIMIT_AS bounds it.
pub mod address_space {
    /// Bytes of address space this process maps now (VmSize).
    pub fn mapped_bytes() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
        let line = status
            .lines()
            .find(|l| l.starts_with("VmSize:"))
            .expect("VmSize");
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .expect("a number");
        kib * 1024
    }

    /// Caps the process's address space at `bytes` (`libc::RLIM_INFINITY` lifts the cap).
    pub fn set_limit(bytes: u64) {
        let limit = libc::rlimit {
            rlim_cur: bytes,
            rlim_max: libc::RLIM_INFINITY,
        };
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) }, 0);
    }
}

/// WGSL kernels the user-kernel tests register.
pub mod kernels {
    /// out = a * a * s + b, element-wise, one element per invocation.
    pub const POLY: &str = "
struct Params { count: u32, s: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn poly(@builtin(global_invocation_id) gid: vec3<u32>,
        @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 64u;
    if (i < params.count) {
        out[i] = a[i] * a[i] * params.s + b[i];
    }
}
";

    /// out[i] = a[n - 1 - i]: needs the whole array, so it is registered whole-array.
    pub const REVERSE: &str = "
struct Params { count: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(128)
fn main(@builtin(global_invocation_id) gid: vec3<u32>,
        @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 128u;
    if (i < params.count) {
        out[i] = a[params.count - 1u - i];
    }
}
";
}
