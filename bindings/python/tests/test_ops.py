"""Every op through gpu_executor.Task / gpu_executor.ops against NumPy references.

- Element-wise ops at every element type they are defined for, on random data with
  negatives, zeros, huge, tiny and subnormal values and the integer extremes, all in one
  batch: integers exact (wrapping), float32 bit-exact for ADD SUB MUL MIN MAX NEG ABS RELU
  SCALE CLAMP, AXPY and FMA fused or not, DIV and SQRT within 3 ULP and the transcendental
  ops within the bounds tests/ops.rs uses (Vulkan's precision rules).
- Reductions over 0, 1, 255, 16,385 and 1,000,000 elements against float64, within 1e-5 of
  the sum of magnitudes; the identities over no elements.
- Matrix products of odd shapes, B plain and transposed, against float64.
- One batch of every kind, tuples included: one submit.
- The op table against src/ops.rs and against the library itself.
"""

import re

import numpy as np
import pytest

import gpu_executor
from gpu_executor import Batch, DType, Op, Task, ops
from gpu_executor import _optasks

from conftest import REPO_ROOT

OPS_RS = REPO_ROOT / "src" / "ops.rs"
F32, I32, U32 = (np.dtype(t) for t in (np.float32, np.int32, np.uint32))
DTYPES = {DType.F32: F32, DType.I32: I32, DType.U32: U32}

ELEMENTWISE = [info for info in _optasks.OPS.values() if info.kind == _optasks.ELEMENTWISE]
REDUCTIONS = [info for info in _optasks.OPS.values() if info.kind == _optasks.REDUCTION]


# --- the op table ----------------------------------------------------------------------------


@pytest.mark.skipif(not OPS_RS.is_file(), reason=f"{OPS_RS} not found")
def test_op_table_matches_src_ops_rs():
    text = OPS_RS.read_text()
    block = re.search(r"pub const ELEMENTWISE: &\[ElementwiseOp\] = &\[(.*?)\n\];", text, re.S).group(1)
    rows = {}
    for helper, body in re.findall(r"^    (all|float|op)\((.*?)(?=^    (?:all|float|op)\(|\Z)", block, re.S | re.M):
        code, name, arity, scalars = re.match(r'\s*(\d+),\s*"(\w+)",\s*(\d+),\s*(\d+),', body).groups()
        if helper == "all":
            types = (DType.F32, DType.I32, DType.U32)
        elif helper == "float":
            types = (DType.F32,)
        else:
            present = re.findall(r"\bSome\(|\bNone\b", body)
            assert len(present) == 3, body
            types = tuple(t for t, p in zip(DType, present) if p != "None")
        rows[int(code)] = (name, int(arity), int(scalars), types)
    assert {code: row for code, row in rows.items()} == {
        info.op.value: ("ADD" if info.op == Op.VECTOR_ADD else info.op.name, info.arity, info.scalars, info.dtypes)
        for info in ELEMENTWISE
    }
    reductions = re.findall(r'code: (\d+),\s*name: "(\w+)",\s*arity: (\d+),', text)
    assert {int(c): (n, int(a)) for c, n, a in reductions} == {
        info.op.value: (info.op.name, info.arity) for info in REDUCTIONS
    }
    assert int(re.search(r"pub const MATMUL: u32 = (\d+);", text).group(1)) == Op.MATMUL


def test_op_table_matches_the_library(executor):
    """Each op at each element type, as a raw gpu_task_t (no Python checks): the library
    accepts exactly the types the table lists, and the table lists every op."""
    assert set(_optasks.OPS) == {op.value for op in Op}
    for info in _optasks.OPS.values():
        for dtype in DType:
            arrays = [np.ones((2, 2) if info.kind == _optasks.MATMUL else 8, DTYPES[dtype]) for _ in range(info.arity)]
            out = np.zeros(4 if info.kind == _optasks.MATMUL else 1 if info.kind == _optasks.REDUCTION else 8, DTYPES[dtype])
            record = np.zeros(1, gpu_executor.TASK_DTYPE)
            record["op"], record["flags"] = info.op, dtype
            for k, x in enumerate(arrays):
                record["inputs"][0, k] = x.ctypes.data
            record["output"] = out.ctypes.data
            record["length"] = 4 if info.kind == _optasks.MATMUL else 8
            if info.kind == _optasks.MATMUL:
                record["params"][0, :3] = 2
            status, message = executor._raw_call(
                "gpu_executor_submit_batch", record.ctypes.data_as(gpu_executor._ffi.POINTER(gpu_executor._ffi.gpu_task_t)), 1
            )
            expected = gpu_executor.Status.OK if dtype in info.dtypes else gpu_executor.Status.INVALID_ARGUMENT
            assert status == expected, (info.op.name, dtype.name, message)


# --- random data -----------------------------------------------------------------------------


def f32_values(rng, n):
    """Every sign, zeros, huge, tiny and subnormal magnitudes (as tests/ops.rs)."""
    unit = rng.uniform(-1, 1, n)
    pick = rng.integers(0, 16, n)
    x = np.select(
        [pick == 0, pick == 1, pick == 2, pick == 3, pick == 4, pick == 5],
        [0.0 * unit, -0.0 * np.ones(n), unit * 1e30, unit * 1e-30, unit * 1e-40, unit * 1e4],
        unit * 10.0,
    )
    return x.astype(np.float32)


def int_values(rng, n, dtype):
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, n, dtype=np.int64, endpoint=True)
    pick = rng.integers(0, 8, n)
    x = np.where(pick == 0, 0, x)
    x = np.where(pick == 1, info.max, x)
    x = np.where(pick == 2, info.min, x)
    x = np.where(pick == 3, -1 if info.min else 1, x)
    x = np.where(pick == 4, rng.integers(-5, 6, n), x) if info.min else np.where(pick == 4, rng.integers(0, 6, n), x)
    return x.astype(dtype)


def inputs_for(rng, name, dtype, k, n):
    """Inputs in the domain where the op is defined (LOG, SQRT, POW), as tests/ops.rs."""
    if dtype != F32:
        return int_values(rng, n, dtype)
    x = f32_values(rng, n)
    if name in ("SQRT", "LOG") or (name == "POW" and k == 0):
        x = np.maximum(np.abs(x), np.float32(1e-30))
    elif name == "POW":
        x = np.clip(rng.uniform(-1, 1, n) * 40, -4, 4).astype(np.float32)
    elif name in ("EXP", "TANH", "SIGMOID"):
        x = np.clip(rng.uniform(-1, 1, n) * 20, -20, 20).astype(np.float32)
    elif name in ("SIN", "COS"):
        x = (rng.uniform(-1, 1, n) * np.pi).astype(np.float32)
    return x


def scalars_for(name, dtype):
    if name == "CLAMP":
        return {F32: (-5.0, 7.5), I32: (-1000, 123_456), U32: (1000, 3_000_000_000)}[dtype]
    if name in ("SCALE", "AXPY"):
        return {F32: (-2.5,), I32: (-7,), U32: (7,)}[dtype]
    return ()


def int_reference(name, dtype, a, b, c, s):
    """Exact integer results, wrapping: computed in int64, reduced modulo 2**32."""
    a, b, c = (None if x is None else x.astype(np.int64) for x in (a, b, c))
    if name == "DIV":
        safe = np.where(b == 0, 1, b)
        q = np.abs(a) // np.abs(safe) * np.sign(a) * np.sign(safe)
        r = np.where(b == 0, a, q)
        if dtype == I32:
            r = np.where((a == -(2**31)) & (b == -1), a, r)
    else:
        r = {
            "ADD": lambda: a + b,
            "SUB": lambda: a - b,
            "MUL": lambda: (a * b) & 0xFFFF_FFFF,  # int64 products of 32-bit values fit
            "MIN": lambda: np.minimum(a, b),
            "MAX": lambda: np.maximum(a, b),
            "NEG": lambda: -a,
            "ABS": lambda: np.abs(a),
            "RELU": lambda: np.maximum(a, 0),
            "SCALE": lambda: (a * s[0]) & 0xFFFF_FFFF,
            "AXPY": lambda: ((s[0] * a) & 0xFFFF_FFFF) + b,
            "CLAMP": lambda: np.minimum(np.maximum(a, s[0]), s[1]),
            "FMA": lambda: ((a * b) & 0xFFFF_FFFF) + c,
            "COPY": lambda: a,
        }[name]()
    return (r & 0xFFFF_FFFF).astype(np.uint32).view(dtype)


def float_reference(name, a, b, c, s):
    """(correctly rounded or f64-computed reference, the unfused rounding or None)."""
    with np.errstate(all="ignore"):
        a64, b64, c64 = (None if x is None else x.astype(np.float64) for x in (a, b, c))
        f32 = np.float32
        exact = {
            "ADD": lambda: a + b,
            "SUB": lambda: a - b,
            "MUL": lambda: a * b,
            "DIV": lambda: a / b,
            "MIN": lambda: np.minimum(a, b),
            "MAX": lambda: np.maximum(a, b),
            "POW": lambda: np.power(a64, b64),
            "NEG": lambda: -a,
            "ABS": lambda: np.abs(a),
            "SQRT": lambda: np.sqrt(a),
            "EXP": lambda: np.exp(a64),
            "LOG": lambda: np.log(a64),
            "SIN": lambda: np.sin(a64),
            "COS": lambda: np.cos(a64),
            "TANH": lambda: np.tanh(a64),
            "RELU": lambda: np.maximum(a, f32(0)),
            "SIGMOID": lambda: 1 / (1 + np.exp(-a64)),
            "SCALE": lambda: a * f32(s[0]),
            "AXPY": lambda: f32(s[0]) * a64 + b64,  # products of floats are exact in f64
            "CLAMP": lambda: np.minimum(np.maximum(a, f32(s[0])), f32(s[1])),
            "FMA": lambda: a64 * b64 + c64,
            "COPY": lambda: a,
        }[name]().astype(np.float32)
        unfused = {
            "AXPY": lambda: f32(s[0]) * a + b,
            "FMA": lambda: a * b + c,
        }.get(name)
        return exact, unfused() if unfused else None


#: Allowed error of float32 results: (ULPs, absolute); None: bit-exact (tests/ops.rs).
TOLERANCE = {
    "DIV": (3, 0.0),
    "SQRT": (3, 0.0),
    "EXP": (64, np.finfo(np.float32).tiny),
    "POW": (1024, np.finfo(np.float32).tiny),
    "LOG": (4, 2.0**-21),
    "SIN": (4, 2.0**-11),
    "COS": (4, 2.0**-11),
    "TANH": (64, 1e-5),
    "SIGMOID": (64, 1e-5),
    # The f64 reference of a fused a * b + c may round differently once in a tie.
    "AXPY": (1, 0.0),
    "FMA": (1, 0.0),
}
SIGNED_ZERO_EITHER = {"MIN", "MAX", "RELU", "CLAMP"}


def ulps(got, want):
    def key(x):
        bits = x.view(np.int32).astype(np.int64)
        return np.where(bits < 0, -(2**31) - bits, bits)

    return np.abs(key(got) - key(want))


def flush(x):
    """Subnormals to (signed) zero."""
    return np.where(np.abs(x) < np.finfo(np.float32).tiny, np.float32(0) * np.sign(x), x).astype(np.float32)


def check_float(name, got, a, b, c, s, flushes):
    if flushes:
        a, b, c = (None if x is None else flush(x) for x in (a, b, c))
    want, unfused = float_reference(name, a, b, c, s)
    if flushes:
        want = flush(want)
        unfused = None if unfused is None else flush(unfused)
    same = (got.view(np.uint32) == want.view(np.uint32)) | (np.isnan(got) & np.isnan(want))
    if unfused is not None:
        same |= got.view(np.uint32) == unfused.view(np.uint32)
    if name in SIGNED_ZERO_EITHER:
        same |= (got == 0) & (want == 0)
    bad = np.flatnonzero(~same)
    if not len(bad):
        return
    assert name in TOLERANCE, (
        f"{name} float32: {len(bad)} elements differ, first {bad[0]}: got {got[bad[0]]!r}, want "
        f"{want[bad[0]]!r}; inputs {[x[bad[0]] for x in (a, b, c) if x is not None]}"
    )
    max_ulps, max_abs = TOLERANCE[name]
    with np.errstate(invalid="ignore"):
        error = np.abs(got[bad].astype(np.float64) - want[bad])
    fine = (ulps(got[bad], want[bad]) <= max_ulps) | (error <= max_abs)
    worst = bad[~fine]
    assert not len(worst), (
        f"{name} float32 element {worst[0]}: got {got[worst[0]]!r}, want {want[worst[0]]!r} "
        f"({ulps(got[worst[:1]], want[worst[:1]])[0]} ULP); input {a[worst[0]]!r}"
    )


def flushes_subnormals(executor):
    # NVIDIA flushes float32 subnormals (measured on an H100); lavapipe keeps them.
    return executor.adapter_info()["vendor_id"] == 0x10DE


# --- element-wise ----------------------------------------------------------------------------


def test_every_elementwise_op_at_every_type_in_one_batch(executor, rng):
    flushes = flushes_subnormals(executor)
    cases = []
    for info in ELEMENTWISE:
        name = "ADD" if info.op == Op.VECTOR_ADD else info.op.name
        for dtype in (DTYPES[t] for t in info.dtypes):
            # A small task and one past the smallest bucket; one of them 2-D.
            for n in (int(rng.integers(1, 3000)), 20_000):
                xs = [inputs_for(rng, name, dtype, k, n) for k in range(info.arity)]
                if n == 20_000:
                    xs = [x.reshape(100, 200) for x in xs]
                scalars = scalars_for(name, dtype)
                out = np.full(xs[0].shape, 0xDEADBEEF, np.uint32).view(dtype)
                cases.append((name, dtype, xs, scalars, Task(info.op, xs, out, scalars)))
    before = executor.stats()
    executor.submit([task for *_, task in cases])
    after = executor.stats()
    assert after["submits"] - before["submits"] == 1
    assert after["tasks"] - before["tasks"] == len(cases)
    for name, dtype, xs, scalars, task in cases:
        got = task.out.ravel()
        a, b, c = ([x.ravel() for x in xs] + [None, None])[:3]
        if name == "COPY":
            # A copy moves bits: exact (float32 subnormals may be flushed where the GPU
            # flushes them).
            same = got.view(np.uint32) == a.view(np.uint32)
            if dtype == F32 and flushes:
                same |= got.view(np.uint32) == flush(a).view(np.uint32)
            bad = np.flatnonzero(~same)
            assert not len(bad), f"COPY {dtype} element {bad[0]}: got {got[bad[0]]!r}, want {a[bad[0]]!r}"
        elif dtype != F32:
            want = int_reference(name, dtype, a, b, c, scalars)
            bad = np.flatnonzero(got != want)
            assert not len(bad), f"{name} {dtype} element {bad[0]}: got {got[bad[0]]}, want {want[bad[0]]}"
        else:
            check_float(name, got, a, b, c, scalars, flushes)


def test_ops_helpers_build_the_same_tasks(rng):
    x, y, z = (rng.standard_normal(10).astype(np.float32) for _ in range(3))
    out = np.empty(10, np.float32)
    total = np.empty(1, np.float32)
    pairs = [
        (ops.add(x, y, out), Task("add", (x, y), out)),
        (ops.sub(x, y, out), Task(Op.SUB, (x, y), out)),
        (ops.mul(x, y, out), Task(3, (x, y), out)),
        (ops.div(x, y, out), Task("DIV", [x, y], out)),
        (ops.min(x, y, out), Task(Op.MIN, (x, y), out)),
        (ops.max(x, y, out), Task(Op.MAX, (x, y), out)),
        (ops.pow(x, y, out), Task(Op.POW, (x, y), out)),
        (ops.neg(x, out), Task(Op.NEG, x, out)),
        (ops.abs(x, out), Task(Op.ABS, (x,), out)),
        (ops.sqrt(x, out), Task(Op.SQRT, (x,), out)),
        (ops.exp(x, out), Task(Op.EXP, (x,), out)),
        (ops.log(x, out), Task(Op.LOG, (x,), out)),
        (ops.sin(x, out), Task(Op.SIN, (x,), out)),
        (ops.cos(x, out), Task(Op.COS, (x,), out)),
        (ops.tanh(x, out), Task(Op.TANH, (x,), out)),
        (ops.relu(x, out), Task(Op.RELU, (x,), out)),
        (ops.sigmoid(x, out), Task(Op.SIGMOID, (x,), out)),
        (ops.scale(x, 2.5, out), Task(Op.SCALE, (x,), out, 2.5)),
        (ops.axpy(2.5, x, y, out), Task(Op.AXPY, (x, y), out, (2.5,))),
        (ops.clamp(x, -1, 1, out), Task(Op.CLAMP, (x,), out, (-1, 1))),
        (ops.fma(x, y, z, out), Task(Op.FMA, (x, y, z), out)),
        (ops.copy(x, out), Task(Op.COPY, (x,), out)),
        (ops.sum(x, total), Task(Op.SUM, (x,), total)),
        (ops.reduce_min(x, total), Task(Op.REDUCE_MIN, (x,), total)),
        (ops.reduce_max(x, total), Task(Op.REDUCE_MAX, (x,), total)),
        (ops.mean(x, total), Task(Op.MEAN, (x,), total)),
        (ops.dot(x, y, total), Task(Op.DOT, (x, y), total)),
        (ops.norm2(x, total), Task(Op.NORM2, (x,), total)),
    ]
    assert {helper.op for helper, _ in pairs} | {Op.MATMUL} == set(Op)
    for helper, task in pairs:
        assert (helper.op, helper.scalars, helper.out is task.out) == (task.op, task.scalars, True)
        assert all(p is q for p, q in zip(helper.inputs, task.inputs)) and len(helper.inputs) == len(task.inputs)
        np.testing.assert_array_equal(Batch([helper]).task_array, Batch([task]).task_array)


def test_out_none_allocates(executor, rng):
    x = rng.integers(-50, 50, (3, 4)).astype(np.int32)
    a = rng.standard_normal((5, 7)).astype(np.float32)
    b = rng.standard_normal((7, 2)).astype(np.float32)
    tasks = [ops.add(x, x), ops.scale(x, 3), ops.sum(a), ops.dot(a, a), ops.matmul(a, b), ops.matmul(a, b.T.copy(), transpose_b=True), Task("clamp", x, scalars=(-1, 1))]
    executor.submit(tasks)
    assert tasks[0].out.dtype == np.int32 and tasks[0].out.shape == (3, 4)
    np.testing.assert_array_equal(tasks[0].out, 2 * x)
    np.testing.assert_array_equal(tasks[1].out, 3 * x)
    assert tasks[2].out.shape == (1,) and tasks[2].out.dtype == np.float32
    np.testing.assert_allclose(tasks[2].out[0], a.astype(np.float64).sum(), rtol=0, atol=1e-5 * np.abs(a).sum())
    for task in tasks[4:6]:
        assert task.out.shape == (5, 2)
        np.testing.assert_allclose(task.out, a.astype(np.float64) @ b, atol=1e-4)
    np.testing.assert_array_equal(tasks[6].out, np.clip(x, -1, 1))


# --- reductions ------------------------------------------------------------------------------

REDUCTION_LENGTHS = [0, 1, 255, 16_385, 1_000_000]


def reduction_reference(name, a, b):
    """(exact result in float64, scale of the allowed error)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    if name == "SUM":
        return a64.sum(), np.abs(a64).sum()
    if name == "MEAN":
        return a64.mean(), np.abs(a64).mean()
    if name == "REDUCE_MIN":
        return a64.min(), 0.0
    if name == "REDUCE_MAX":
        return a64.max(), 0.0
    if name == "DOT":
        products = a64 * b64
        return products.sum(), np.abs(products).sum()
    norm = np.sqrt((a64 * a64).sum())
    return norm, norm


def test_reductions_against_float64(executor, rng):
    cases = []
    for info in REDUCTIONS:
        for n in REDUCTION_LENGTHS:
            a = rng.uniform(-100, 100, n).astype(np.float32)
            b = rng.uniform(-100, 100, n).astype(np.float32)
            out = np.full(1, np.nan, np.float32) if n % 2 else np.full((), np.nan, np.float32)
            task = ops.dot(a, b, out) if info.op == Op.DOT else Task(info.op, (a,), out)
            cases.append((info.op.name, a, b, task))
    # One of them 2-D: a reduction runs over every element.
    grid = rng.uniform(-1, 1, (300, 70)).astype(np.float32)
    cases.append(("SUM", grid.ravel(), grid.ravel(), ops.sum(grid)))
    before = executor.stats()["submits"]
    executor.submit([task for *_, task in cases])
    # 6.1M elements of host data: submitted in parts of at least a million elements.
    assert 2 <= executor.stats()["submits"] - before <= 7
    identities = {"SUM": 0.0, "DOT": 0.0, "NORM2": 0.0, "REDUCE_MIN": np.inf, "REDUCE_MAX": -np.inf, "MEAN": np.nan}
    for name, a, b, task in cases:
        got = float(task.out.reshape(()))
        if not len(a):
            want = identities[name]
            assert got == want or (np.isnan(got) and np.isnan(want)), f"{name} over no elements: {got}"
            continue
        want, scale = reduction_reference(name, a, b)
        if name in ("REDUCE_MIN", "REDUCE_MAX"):
            assert got == want, f"{name} over {len(a)}: got {got}, want {want}"
        else:
            assert abs(got - want) <= 1e-5 * scale + 1e-30, f"{name} over {len(a)}: got {got}, want {want}"


def test_sums_propagate_nan(executor):
    a = np.arange(10_000, dtype=np.float32)
    a[7777] = np.nan
    tasks = [ops.sum(a), ops.mean(a), ops.dot(a, a), ops.norm2(a)]
    executor.submit(tasks)
    assert all(np.isnan(task.out[0]) for task in tasks)


def test_reduce_min_max_propagate_nan(executor):
    a = np.arange(10_000, dtype=np.float32)
    a[7777] = np.nan
    tasks = [ops.reduce_min(a), ops.reduce_max(a)]
    executor.submit(tasks)
    assert [np.isnan(task.out[0]) for task in tasks] == [True, True]


# --- matmul ----------------------------------------------------------------------------------

#: Every shape class (16, 64 and 128 tiles), odd sizes, K past a block, empty products.
MATMUL_SHAPES = [
    (1, 1, 1), (17, 33, 65), (1, 4096, 1), (300, 1, 300), (128, 128, 128), (3, 5000, 7),
    (64, 64, 64), (65, 17, 130), (130, 70, 257), (3, 0, 4), (0, 5, 4),
]


def check_product(a, b, out, transpose_b):
    b = b.T if transpose_b else b
    exact = a.astype(np.float64) @ b.astype(np.float64)
    magnitude = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))
    bound = 4 * a.shape[1] * np.finfo(np.float32).eps * magnitude + 1e-30
    assert out.shape == exact.shape
    error = np.abs(out - exact)
    assert np.all(error <= bound), f"{a.shape} x {b.shape}: worst error {error.max()}"


def test_matmul_odd_shapes_and_transposed_b_in_one_batch(executor, rng):
    cases = []
    for index, (m, k, n) in enumerate(MATMUL_SHAPES):
        for transpose_b in (False, True):
            a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
            b = rng.uniform(-1, 1, (n, k) if transpose_b else (k, n)).astype(np.float32)
            out = np.full((m, n), np.nan, np.float32)
            cases.append((a, b, out, transpose_b, ops.matmul(a, b, out, transpose_b=transpose_b)))
    before = executor.stats()["submits"]
    executor.submit([task for *_, task in cases])
    assert executor.stats()["submits"] == before + 1
    for a, b, out, transpose_b, _ in cases:
        check_product(a, b, out, transpose_b)


def test_matmul_of_views(executor, rng):
    """A C-contiguous view of a larger array (a band of rows) is a matrix like any other."""
    big = rng.uniform(-1, 1, (40, 30)).astype(np.float32)
    a = big[5:15]
    assert a.flags.c_contiguous and a.base is big
    b = rng.uniform(-1, 1, (30, 40)).astype(np.float32)
    out = np.full((50, 40), np.nan, np.float32)
    executor.submit(ops.matmul(a, b, out[20:30]))
    check_product(a, b, out[20:30], False)
    assert np.isnan(out[:20]).all() and np.isnan(out[30:]).all()


# --- everything in one batch ---------------------------------------------------------------


def test_a_mixed_batch_of_every_kind_is_one_submit(executor, rng):
    x = rng.uniform(-10, 10, 5000).astype(np.float32)
    y = rng.uniform(-10, 10, 5000).astype(np.float32)
    xi = rng.integers(-1000, 1000, 3000).astype(np.int32)
    xu = rng.integers(0, 2**32, 3000, dtype=np.uint64).astype(np.uint32)
    a = rng.uniform(-1, 1, (33, 17)).astype(np.float32)
    b = rng.uniform(-1, 1, (17, 9)).astype(np.float32)
    tuple_out = np.full(5000, np.nan, np.float32)
    tasks = [
        (x, y, tuple_out),
        ops.sub(xi, xi[::-1].copy()),
        ops.mul(xu, xu),
        ops.sqrt(np.abs(x)),
        ops.clamp(xu, 10, 2**31),
        ops.fma(x, y, x),
        ops.sum(x),
        ops.dot(x, y),
        ops.reduce_max(x),
        ops.matmul(a, b),
        [y, x, np.full(5000, np.nan, np.float32)],
        ops.matmul(a, a, transpose_b=True),
    ]
    before = executor.stats()
    ticket = executor.submit_async(tasks)
    assert ticket.wait()
    after = executor.stats()
    assert after["submits"] - before["submits"] == 1
    assert after["batches"] - before["batches"] == 1 and after["tasks"] - before["tasks"] == len(tasks)
    np.testing.assert_array_equal(tuple_out, x + y)
    np.testing.assert_array_equal(tasks[1].out, xi - xi[::-1])
    np.testing.assert_array_equal(tasks[2].out, xu * xu)
    np.testing.assert_array_equal(tasks[3].out, np.sqrt(np.abs(x)))
    np.testing.assert_array_equal(tasks[4].out, np.clip(xu, 10, 2**31))
    np.testing.assert_allclose(tasks[5].out, x.astype(np.float64) * y + x, rtol=1e-6, atol=1e-6)
    assert abs(tasks[6].out[0] - x.astype(np.float64).sum()) <= 1e-5 * np.abs(x).sum()
    assert abs(tasks[7].out[0] - x.astype(np.float64) @ y) <= 1e-5 * np.abs(x.astype(np.float64) * y).sum()
    assert tasks[8].out[0] == x.max()
    check_product(a, b, tasks[9].out, False)
    np.testing.assert_array_equal(tasks[10][2], y + x)
    check_product(a, a, tasks[11].out, True)


def test_tasks_are_reusable_and_batches_resubmit(executor, rng):
    x = rng.uniform(-10, 10, (50, 20)).astype(np.float32)
    tasks = [ops.scale(x, -3.0), ops.mean(x), ops.relu(x)]
    batch = Batch(tasks)
    executor.submit(batch)
    np.testing.assert_array_equal(tasks[0].out, x * np.float32(-3))
    x += 1  # in place: the tasks point at the same memory
    executor.submit(batch)
    np.testing.assert_array_equal(tasks[0].out, x * np.float32(-3))
    np.testing.assert_array_equal(tasks[2].out, np.maximum(x, 0))
    executor.submit(tasks[1])  # a single task
    assert abs(tasks[1].out[0] - x.astype(np.float64).mean()) <= 1e-5 * np.abs(x).mean()
