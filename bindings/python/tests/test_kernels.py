"""Executor.register_kernel: the caller's WGSL as an op, in Task objects mixed with built-in
ops and tuples in one batch; registration errors; tasks checked against the kernel's
description; op codes belong to their executor."""

import numpy as np
import pytest

import gpu_executor
from gpu_executor import Batch, DType, GpuExecutorError, Kernel, Status, Task, ops
from gpu_executor import _optasks

#: out = a * a * s + b, element-wise, one element per invocation.
POLY = """
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
"""

#: out[i] = a[n - 1 - i]: needs the whole array, so it is registered whole-array.
REVERSE = """
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
"""

#: out = a * s + f32(k): a float scale and an integer offset, four elements per invocation.
SHIFT4 = """
struct Params { count: u32, s: f32, k: i32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(64)
fn shift(@builtin(global_invocation_id) gid: vec3<u32>,
         @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 64u;
    if (i < params.count) {
        out[i] = a[i] * params.s + vec4<f32>(f32(params.k));
    }
}
"""


@pytest.fixture
def kernels(executor):
    poly = executor.register_kernel(POLY, entry_point="poly", inputs=2, dtype="float32", params_size=4)
    reverse = executor.register_kernel(REVERSE, inputs=1, dtype=np.uint32, elementwise=False)
    shift = executor.register_kernel(
        SHIFT4, entry_point="shift", inputs=1, dtype=DType.F32, elements_per_invocation=4,
        params_size=8, param_types=("f32", np.int32),
    )
    return poly, reverse, shift


def test_registered_kernels_run_mixed_with_built_ins(executor, kernels, rng):
    poly, reverse, shift = kernels
    assert isinstance(poly, Kernel) and isinstance(poly, int) and poly >= 0x1000_0000
    assert len({poly, reverse, shift}) == 3
    assert (poly.name, poly.inputs, poly.dtype, poly.params_size, poly.param_types) == (
        "kernel poly", 2, DType.F32, 4, (DType.F32,),
    )
    assert (reverse.elementwise, shift.elements_per_invocation, shift.param_types) == (False, 4, (DType.F32, DType.I32))
    assert "poly" in repr(poly) and hex(poly) in repr(poly)

    a = [rng.uniform(-10, 10, n).astype(np.float32) for n in (1000, 40_000)]
    b = [rng.uniform(-10, 10, n).astype(np.float32) for n in (1000, 40_000)]
    ints = rng.integers(0, 2**32, (50, 100), dtype=np.uint64).astype(np.uint32)
    x = rng.uniform(-10, 10, 1001).astype(np.float32)  # not a multiple of 4
    tasks = [
        Task(poly, (a[0], b[0]), scalars=1.5),
        Task(reverse, ints, np.zeros(5000, np.uint32)),  # any shapes of one size
        ops.sum(a[1]),
        Task(int(poly), [a[1], b[1]], None, [-0.25]),
        (a[0], b[0], np.empty_like(a[0])),
        Task(shift, x, scalars=(2.0, -3)),
    ]
    before = executor.stats()
    executor.submit(tasks)
    after = executor.stats()
    assert after["submits"] - before["submits"] == 1
    for task, s in ((tasks[0], np.float32(1.5)), (tasks[3], np.float32(-0.25))):
        a_, b_ = task.inputs
        unfused = a_ * a_ * s + b_
        fused = ((a_ * a_).astype(np.float64) * s + b_).astype(np.float32)
        assert np.all((task.out == unfused) | (task.out == fused))
    np.testing.assert_array_equal(tasks[1].out, ints.ravel()[::-1])
    np.testing.assert_array_equal(tasks[4][2], a[0] + b[0])
    want = x * np.float32(2) + np.float32(-3)
    np.testing.assert_allclose(tasks[5].out, want, rtol=1e-6, atol=1e-6)
    executor.submit(tasks)  # a resubmit compiles nothing
    assert executor.stats()["pipelines_created"] == after["pipelines_created"]


def test_kernel_task_arrays_equal_the_reference(kernels, rng):
    poly, reverse, shift = kernels
    tasks = []
    for n in rng.integers(0, 300, 60):
        x = rng.uniform(-1, 1, n).astype(np.float32)
        tasks += [
            Task(poly, (x, x), scalars=float(n)),
            Task(shift, x, scalars=(np.float32(n), -int(n))),
            ops.scale(x, 2.0),
            Task(reverse, x.view(np.uint32), np.zeros(n, np.uint32)),
        ]
    fast = _optasks._fast(tasks)
    assert fast is not None
    np.testing.assert_array_equal(fast.view(np.uint8), _optasks._task_by_task(tasks).view(np.uint8))
    assert fast["params"][1].tolist()[:2] == [int(np.float32(tasks[1].scalars[0]).view(np.uint32)), tasks[1].scalars[1] & 0xFFFF_FFFF]


def test_stacked_op_with_a_kernel(executor, kernels, rng):
    poly, _, _ = kernels
    a = rng.uniform(-3, 3, (40, 16)).astype(np.float32)
    out = np.full_like(a, np.nan)
    scales = rng.uniform(-2, 2, 40).astype(np.float32)
    batch = Batch.stacked_op(poly, (a, a), out, (scales,))
    rows = [Task(poly, (a[i], a[i]), out[i], scales[i]) for i in range(40)]
    np.testing.assert_array_equal(batch.task_array.view(np.uint8), _optasks._task_by_task(rows).view(np.uint8))
    executor.submit(batch)
    want = (a * a * scales[:, None] + a).astype(np.float64)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


def test_bad_kernel_tasks_name_their_index(executor, kernels, rng):
    poly, reverse, shift = kernels
    f = rng.uniform(-1, 1, 8).astype(np.float32)
    u = np.arange(8, dtype=np.uint32)
    cases = [
        (Task(poly, (u, u), u.copy(), 1), TypeError, "kernel poly is not defined for uint32 \\(it takes float32\\)"),
        (Task(reverse, f, f.copy()), TypeError, "kernel main is not defined for float32 \\(it takes uint32\\)"),
        (Task(poly, (f, f[:7]), f.copy(), 1.0), ValueError, "kernel poly takes arrays of one size; they hold a 8, b 7, out 8 elements"),
        (Task(poly, (f, f), f.copy(), "x"), TypeError, "kernel poly scalar 0 must be a real number, got str"),
        (Task(shift, f, f.copy(), (1.0, 2.5)), TypeError, "kernel shift scalar 1 must be an integer \\(it is int32\\), got float 2.5"),
        (Task(shift, f, f.copy(), (1.0, 2**31)), ValueError, "kernel shift scalar 1 = 2147483648 is out of int32 range"),
        (Task(reverse, u, u.copy()[::2]), ValueError, "out is not C-contiguous"),
    ]
    for bad, error, message in cases:
        untouched = f.copy()
        tasks = [ops.neg(f, untouched), bad]
        with pytest.raises(error, match="^task 1: " + message):
            executor.submit(tasks)
        np.testing.assert_array_equal(untouched, f)
    for make, message in [
        (lambda: Task(poly, (f,), scalars=1.0), "kernel poly takes 2 input\\(s\\), got 1"),
        (lambda: Task(poly, (f, f)), "kernel poly takes 1 scalar\\(s\\), got 0"),
        (lambda: Task(reverse, u, scalars=1), "kernel main takes 0 scalar\\(s\\), got 1"),
    ]:
        with pytest.raises(TypeError, match=message):
            make()


def test_kernels_belong_to_their_executor(kernels, rng):
    poly, _, _ = kernels
    x = np.ones(100, np.float32)
    task = Task(poly, (x, x), np.full(100, np.nan, np.float32), 2.0)
    with gpu_executor.Executor() as other:
        with pytest.raises(GpuExecutorError) as caught:
            other.submit(task)
        assert caught.value.status == Status.UNKNOWN_OP
    assert np.isnan(task.out).all()


def test_whole_array_kernels_are_never_split(rng):
    with gpu_executor.Executor(max_chunk_elements=4096) as executor:
        reverse = executor.register_kernel(REVERSE, inputs=1, dtype="u32", elementwise=False)
        task = Task(reverse, np.full(5000, 7, np.uint32), np.zeros(5000, np.uint32))
        with pytest.raises(GpuExecutorError) as caught:
            executor.submit(task)
        assert caught.value.status == Status.INVALID_ARGUMENT
        assert not task.out.any()


@pytest.mark.parametrize(
    "source, keywords, needle",
    [
        (POLY.replace("out[i] = a[i]", "out[i] = = a[i]"), {}, "kernel.wgsl:13:"),
        (POLY.replace("params.s", "params.t"), {}, "kernel.wgsl:13:"),
        (POLY, {"entry_point": "main"}, 'no @compute entry point named "main"'),
        (POLY, {"inputs": 3}, "binds no input 2"),
        (POLY.replace("read_write> out", "read> out"), {}, "kernel.wgsl:13:"),
        (POLY, {"elements_per_invocation": 3}, "1 or 4"),
        (POLY, {"params_size": 6, "param_types": None}, "multiple of 4"),
    ],
)
def test_registration_errors_are_invalid_kernel(executor, source, keywords, needle):
    arguments = {"entry_point": "poly", "inputs": 2, "dtype": "f32", "params_size": 4, "param_types": ["f32"]}
    arguments.update(keywords)
    before = executor.stats()["pipelines_created"]
    with pytest.raises(GpuExecutorError) as caught:
        executor.register_kernel(source, **arguments)
    assert caught.value.status == Status.INVALID_KERNEL
    assert needle in caught.value.message, caught.value.message
    assert executor.stats()["pipelines_created"] == before


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ({"dtype": "float64"}, TypeError, "dtype='float64' is not an element type"),
        ({"dtype": np.int64}, TypeError, "is not an element type"),
        ({"dtype": 7}, TypeError, "dtype=7 is not an element type"),
        ({"param_types": ["f32", "f32"]}, ValueError, "param_types names 2 type\\(s\\); params_size=4 holds 1"),
        ({"param_types": ["f64"]}, TypeError, "param_types item='f64' is not an element type"),
        ({"inputs": -1}, ValueError, "inputs=-1"),
        ({"inputs": 2.0}, TypeError, "inputs must be an int"),
        ({"entry_point": "po\0ly"}, ValueError, "must not contain NUL"),
        ({"entry_point": None}, TypeError, "entry_point must be a str"),
    ],
)
def test_bad_registration_arguments(executor, arguments, error, message):
    full = {"entry_point": "poly", "inputs": 2, "dtype": "f32", "params_size": 4}
    full.update(arguments)
    with pytest.raises(error, match=message):
        executor.register_kernel(POLY, **full)
    with pytest.raises(TypeError, match="wgsl must be a str"):
        executor.register_kernel(POLY.encode(), inputs=2, dtype="f32")
