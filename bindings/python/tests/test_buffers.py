"""Resident buffers: gpu_executor.Buffer and its regions as task operands, against NumPy.

- Round trips of random data at every element type, whole and in parts.
- A chain of dependent ops on buffers in one batch (one submit, nothing uploaded), every
  stage checked against NumPy; the same chain through every Batch builder.
- Host arrays and regions mixed in one task; offsets, sub-regions, rows, reshapes;
  reductions and products reading buffers; in place.
- Reductions writing their result into a region (combined on the GPU), through every
  builder, over no elements, read by later tasks of the batch; limited to one slab.
- Memory reused after close (resident_pool_hits), the resident stats.
- Every error, with no output written: foreign and closed buffers, out of bounds, type
  mismatches, dependencies and overlapping writes.
- Lifetime: a buffer keeps its executor alive, tolerates it being closed first, and never
  raises from __del__.
"""

import ctypes
import gc
import sys
import threading
import weakref

import numpy as np
import pytest

import gpu_executor
from gpu_executor import Batch, Buffer, Executor, GpuExecutorError, Op, Region, Status, Task, ops
from gpu_executor import _ffi, _optasks, _tasks

from test_kernels import POLY  # out = a * a * s + b, a registered kernel

READERS = {"objects": _tasks._read_objects, "public": _tasks._read_public}
DTYPES = (np.float32, np.int32, np.uint32)


@pytest.fixture(params=sorted(READERS))
def reader(request, monkeypatch):
    # Both ways the fast path reads host arrays' fields, since regions are merged with them.
    monkeypatch.setattr(_tasks, "_reader", READERS[request.param])
    return request.param


def random_array(rng, n, dtype):
    if dtype == np.float32:
        return rng.uniform(-100, 100, n).astype(np.float32)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, n, dtype=np.int64, endpoint=True).astype(dtype)


def nans(shape):
    # NaN: an element the library never wrote can never match.
    return np.full(shape, np.nan, np.float32)


def assert_close(got, want, rtol=1e-5):
    # Chains mix fused and unfused rounding and sqrt within a few ULP: relative, with an
    # absolute floor for results near 0.
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * max(1.0, float(np.abs(want).max())))


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
def test_round_trip_random_data(executor, rng, dtype):
    data = random_array(rng, 10_007, dtype)
    with executor.buffer(data) as buf:
        assert isinstance(buf, Buffer)
        assert (buf.dtype, len(buf), buf.size, buf.shape, buf.nbytes) == (np.dtype(dtype), 10_007, 10_007, (10_007,), 40_028)
        assert buf.info() == (gpu_executor.DType(["float32", "int32", "uint32"].index(np.dtype(dtype).name)), 10_007)
        got = buf.read()
        assert got.dtype == dtype and got.shape == (10_007,)
        np.testing.assert_array_equal(got, data)
        np.testing.assert_array_equal(buf.read(100, 1234), data[1234:1334])
        np.testing.assert_array_equal(buf.read(offset=10_000), data[10_000:])

        # A patch in the middle; a 2-D array is written flattened, in C order.
        patch = random_array(rng, 700, dtype).reshape(7, 100)
        buf.write(patch, 5000)
        want = data.copy()
        want[5000:5700] = patch.ravel()
        np.testing.assert_array_equal(buf.read(), want)
        # Non-contiguous data is accepted (copied first); the buffer keeps C order.
        strided = random_array(rng, 200, dtype)[::2]
        buf.write(strided, 3)
        want[3:103] = strided
        out = np.empty((10, 10), dtype)
        assert buf.read_into(out, 3) is out
        np.testing.assert_array_equal(out.ravel(), strided)
        np.testing.assert_array_equal(buf[3:103].read(), strided)
        np.testing.assert_array_equal(buf.read(), want)
    assert buf.closed


def test_ways_to_make_a_buffer(executor, rng):
    zeros = executor.buffer(1000)
    assert zeros.dtype == np.float32 and len(zeros) == 1000
    np.testing.assert_array_equal(zeros.read(), np.zeros(1000, np.float32))
    ints = Buffer(executor, 300, "uint32")
    assert ints.dtype == np.uint32
    np.testing.assert_array_equal(ints.read(), np.zeros(300, np.uint32))
    data = random_array(rng, 64, np.int32)
    copy = Buffer.from_numpy(executor, data.reshape(8, 8))
    np.testing.assert_array_equal(copy.read(), data)
    # Conversion only when asked for: float64 to float32, a list to int32.
    wide = rng.uniform(-1, 1, 50)
    converted = executor.buffer(wide, dtype=np.float32)
    np.testing.assert_array_equal(converted.read(), wide.astype(np.float32))
    np.testing.assert_array_equal(executor.buffer([1, -2, 3], dtype="int32").read(), [1, -2, 3])
    assert executor.buffer(np.int64(7), dtype=gpu_executor.DType.I32).read().dtype == np.int32
    for buf in (zeros, ints, copy, converted):
        buf.close()


# --- a chain of dependent ops in one batch ------------------------------------------------------


def chain_tasks(x, y, scratch, n, total, host_out):
    """Seven dependent element-wise ops, each writing its own region of `scratch`, then a
    reduction and a copy of the last stage back to the host; x, y, scratch may be buffers
    or host arrays."""
    t = [scratch[k * n:(k + 1) * n] for k in range(7)]
    return t, [
        ops.mul(x, y, t[0]),            # x * y
        ops.axpy(0.5, t[0], x, t[1]),   # 0.5 * t0 + x
        ops.abs(t[1], t[2]),            # |t1|
        ops.sqrt(t[2], t[3]),           # sqrt(t2)
        ops.fma(t[3], y, x, t[4]),      # t3 * y + x
        ops.clamp(t[4], -50.0, 60.0, t[5]),
        ops.sub(t[5], t[0], t[6]),      # reads the first stage again
        ops.sum(t[6], total),           # to the host
        ops.copy(t[6], host_out),       # to the host
    ]


def chain_reference(x, y):
    f32 = np.float32
    t0 = x * y
    t1 = f32(0.5) * t0 + x
    t2 = np.abs(t1)
    t3 = np.sqrt(t2)
    t4 = t3 * y + x
    t5 = np.clip(t4, f32(-50), f32(60))
    t6 = t5 - t0
    return [t0, t1, t2, t3, t4, t5, t6]


def test_chain_of_dependent_ops_on_buffers_in_one_batch(executor, rng):
    n = 50_001
    x_host = rng.uniform(-10, 10, n).astype(np.float32)
    y_host = rng.uniform(-10, 10, n).astype(np.float32)
    x, y = executor.buffer(x_host), executor.buffer(y_host)
    scratch = executor.buffer(7 * n)
    total, host_out = nans(1), nans(n)
    stages, tasks = chain_tasks(x, y, scratch, n, total, host_out)
    assert all(isinstance(stage, Region) for stage in stages)

    before = executor.stats()
    executor.submit(tasks)
    after = executor.stats()
    assert after["submits"] - before["submits"] == 1, "a chain is one submission"
    assert after["bytes_uploaded"] == before["bytes_uploaded"], "every operand was on the GPU"
    assert after["direct_dispatches"] - before["direct_dispatches"] >= 7

    want = chain_reference(x_host, y_host)
    got = scratch.read().reshape(7, n)
    for k in range(7):
        assert_close(got[k], want[k])
    np.testing.assert_array_equal(host_out, got[6])  # a copy moves bits
    assert total[0] == pytest.approx(float(got[6].astype(np.float64).sum()), rel=1e-5, abs=1e-2)
    for buf in (x, y, scratch):
        buf.close()


def test_the_same_chain_on_host_arrays_gives_the_same_results(executor, rng):
    # The chain's ordering is the buffers' doing: on host arrays each stage is a separate
    # batch, whose results must equal the single batch on buffers bit for bit.
    n = 4099
    x_host = rng.uniform(-10, 10, n).astype(np.float32)
    y_host = rng.uniform(-10, 10, n).astype(np.float32)
    host_scratch = nans(7 * n)
    host_total, host_out = nans(1), nans(n)
    _, host_tasks = chain_tasks(x_host, y_host, host_scratch, n, host_total, host_out)
    for task in host_tasks:
        executor.submit([task])

    x, y, scratch = executor.buffer(x_host), executor.buffer(y_host), executor.buffer(7 * n)
    total, out = nans(1), nans(n)
    _, tasks = chain_tasks(x, y, scratch, n, total, out)
    executor.submit(tasks)
    np.testing.assert_array_equal(scratch.read(), host_scratch)
    np.testing.assert_array_equal(out, host_out)
    np.testing.assert_array_equal(total, host_total)


def test_chain_asynchronously(executor, rng):
    n = 3000
    x_host = rng.uniform(-10, 10, n).astype(np.float32)
    y_host = rng.uniform(-10, 10, n).astype(np.float32)
    x, y, scratch = executor.buffer(x_host), executor.buffer(y_host), executor.buffer(7 * n)
    total, out = nans(1), nans(n)
    _, tasks = chain_tasks(x, y, scratch, n, total, out)
    ticket = executor.submit_async(tasks)
    # Written after the submission: the batch must not see it; later reads must.
    x.write(np.zeros(n, np.float32))
    assert ticket.wait() is True
    want = chain_reference(x_host, y_host)
    assert_close(scratch.read().reshape(7, n)[6], want[6])
    assert_close(out, want[6])
    np.testing.assert_array_equal(x.read(), np.zeros(n, np.float32))


# --- every Batch builder takes regions ----------------------------------------------------------


def test_batch_builders_take_regions(executor, rng, reader):
    rows, n = 300, 16
    a_host = rng.uniform(-100, 100, (rows, n)).astype(np.float32)
    b_host = rng.uniform(-100, 100, (rows, n)).astype(np.float32)
    a = executor.buffer(a_host)
    b = executor.buffer(b_host)
    out = executor.buffer(6 * rows * n)
    stacked = lambda k: out.region(k * rows * n, shape=(rows, n))  # noqa: E731

    # Batch.stacked: all three stacked regions, then regions mixed with a host array.
    executor.submit(Batch.stacked(a.region(shape=(rows, n)), b.region(shape=(rows, n)), stacked(0)))
    executor.submit(Batch.stacked(a.region(shape=(rows, n)), b_host, stacked(1)))
    # Batch.from_lists: lists of row regions and of host rows.
    executor.submit(Batch.from_lists([a[i * n:(i + 1) * n] for i in range(rows)], list(b_host), stacked(2)))
    # Batch(tuples).
    executor.submit(Batch([(a[i * n:(i + 1) * n], b_host[i], stacked(3)[i]) for i in range(rows)]))
    # Batch.stacked_op, with a scalar per row.
    scales = rng.uniform(-2, 2, rows).astype(np.float32)
    executor.submit(Batch.stacked_op("axpy", (a.region(shape=(rows, n)), b.region(shape=(rows, n))), stacked(4), (scales,)))
    # A reduction per row, reading a stacked region, into host memory.
    sums = nans(rows)
    executor.submit(Batch.stacked_op(Op.SUM, a.region(shape=(rows, n)), sums))
    # A list of tasks and tuples mixed.
    executor.submit([ops.mul(a[i * n:(i + 1) * n], b_host[i], stacked(5)[i]) if i % 2 else (a_host[i], b[i * n:(i + 1) * n], stacked(5)[i]) for i in range(rows)])

    got = out.read().reshape(6, rows, n)
    np.testing.assert_array_equal(got[0], a_host + b_host)
    np.testing.assert_array_equal(got[1], a_host + b_host)
    np.testing.assert_array_equal(got[2], a_host + b_host)
    np.testing.assert_array_equal(got[3], a_host + b_host)
    unfused = scales[:, None] * a_host + b_host
    assert_close(got[4], unfused)
    assert_close(sums, a_host.astype(np.float64).sum(axis=1), rtol=1e-5)
    want = np.where(np.arange(rows)[:, None] % 2 == 1, a_host * b_host, a_host + b_host)
    np.testing.assert_array_equal(got[5], want)


def region_records(tasks):
    """Each task's fields, with every region pointer replaced by the (buffer, offset) it
    points to: the fast and the task-by-task builders place records at other addresses."""
    rows = []
    for task in tasks:
        flags = int(task["flags"])
        operands = []
        # inputs[0..3], then the output; inputs[3] is never a region (no flag names it).
        bits = [_ffi.TASK_INPUT0_BUFFER << k for k in range(3)] + [0, _ffi.TASK_OUTPUT_BUFFER]
        for pointer, bit in zip(list(task["inputs"]) + [task["output"]], bits):
            if flags & bit:
                region = _ffi.gpu_region_t.from_address(int(pointer))
                operands.append(("region", region.buffer, region.offset))
            else:
                operands.append(int(pointer))
        rows.append((int(task["op"]), flags, operands, int(task["length"]), list(task["params"])))
    return rows


def test_fast_and_task_by_task_builders_agree_on_regions(executor, rng, reader):
    a = executor.buffer(rng.uniform(-1, 1, 4000).astype(np.float32))
    m = executor.buffer(rng.uniform(-1, 1, 600).astype(np.float32))
    i32 = executor.buffer(rng.integers(-9, 9, 500).astype(np.int32))
    host = rng.uniform(-1, 1, 100).astype(np.float32)
    outs = executor.buffer(10_000)
    total = nans(1)
    items = [
        ops.add(a[0:100], host, outs[0:100]),
        ops.mul(host, a[100:200], nans(100)),
        ops.fma(a[200:300], a[300:400], host, outs[100:200]),
        ops.scale(outs[0:100], 2.5, outs[200:300]),
        ops.clamp(i32[0:50], -3, 4, np.empty(50, np.int32)),
        ops.copy(i32[50:100], Buffer(executor, 50, np.int32)),
        ops.dot(a[400:500], host, total),
        ops.matmul(m[0:200].reshape(10, 20), m[200:500].reshape(20, 15), outs.region(300, shape=(10, 15))),
        ops.matmul(m.region(0, shape=(10, 20)), m.region(200, shape=(15, 20)), nans((10, 15)), transpose_b=True),
        (a[500:600], host, outs[1000:1100]),
        (host, host, nans(100)),
        a,  # a whole buffer as the first input of the next task
    ]
    items[-1] = ops.sqrt(a, outs.region(2000, 4000))
    fast = _optasks._fast(items)
    assert fast is not None, "the fast path takes regions"
    slow = _optasks._task_by_task(items)
    assert region_records(fast) == region_records(slow)
    executor.submit(Batch(items))  # and the library takes it


# --- host and buffer operands mixed; offsets and sub-regions --------------------------------


def test_mixed_host_and_buffer_operands(executor, rng):
    n = 5000
    x = rng.uniform(1, 10, n).astype(np.float32)
    y = rng.uniform(1, 10, n).astype(np.float32)
    bx = executor.buffer(x)
    by = Buffer(executor, n)
    out_host, total = nans(n), nans(1)
    executor.submit([
        ops.add(bx, y, by),           # buffer + host -> buffer
        ops.mul(by, x, out_host),     # buffer * host -> host (reads the previous task)
        ops.dot(by, y, total),        # a reduction reading a buffer
    ])
    np.testing.assert_array_equal(by.read(), x + y)
    np.testing.assert_array_equal(out_host, (x + y) * x)
    assert total[0] == pytest.approx(float(((x + y).astype(np.float64) * y).sum()), rel=1e-5)

    # int32 and uint32 regions in three-input ops, out=None allocating a host output.
    ints = [random_array(rng, 1000, np.int32) for _ in range(3)]
    regions = [executor.buffer(v) for v in ints]
    task = ops.fma(regions[0], ints[1], regions[2])
    assert isinstance(task.out, np.ndarray) and task.out.dtype == np.int32 and task.out.shape == (1000,)
    executor.submit(task)
    want = (ints[0].astype(np.int64) * ints[1] + ints[2]) & 0xFFFF_FFFF
    np.testing.assert_array_equal(task.out, want.astype(np.uint32).view(np.int32))
    u = executor.buffer(random_array(rng, 777, np.uint32))
    clamped = ops.clamp(u, 1000, 3_000_000_000)
    executor.submit(clamped)
    np.testing.assert_array_equal(clamped.out, np.clip(u.read(), 1000, 3_000_000_000))


def test_registered_kernel_on_regions(executor, rng):
    poly = executor.register_kernel(POLY, entry_point="poly", inputs=2, dtype="float32", params_size=4)
    x = rng.uniform(-1, 1, 1000).astype(np.float32)
    y = rng.uniform(-1, 1, 1000).astype(np.float32)
    bx, by, out = executor.buffer(x), executor.buffer(y), Buffer(executor, 1100)
    negated = nans(900)
    # Any shapes of as many elements, as for arrays; the next task reads the kernel's result.
    executor.submit([Task(poly, (bx[100:], by[:900].reshape(30, 30)), out[50:950], 1.5), ops.neg(out[50:950], negated)])
    want = x[100:] * x[100:] * np.float32(1.5) + y[:900]
    np.testing.assert_allclose(out.read(900, 50), want, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(negated, -out.read(900, 50))
    np.testing.assert_array_equal(out.read(50), np.zeros(50, np.float32))


def test_offsets_and_sub_regions(executor, rng):
    big = rng.uniform(-100, 100, 10_000).astype(np.float32)
    src = executor.buffer(big)
    dst = executor.buffer(10_000)
    host = nans(30)
    executor.submit([
        ops.add(src[1:1001], src[5001:6001], dst[3:1003]),
        ops.scale(src[2:32], 2.0, dst.region(7001, 30)),
        ops.scale(src.region(2, 30), 2.0, host),
        ops.neg(src[-100:], dst[-100:]),            # negative bounds count from the end
        ops.copy(src.region(8000, shape=(10, 10))[3], dst[8000:8010]),   # row 3 of a 2-D view
    ])
    want = np.zeros(10_000, np.float32)
    want[3:1003] = big[1:1001] + big[5001:6001]
    want[7001:7031] = big[2:32] * 2
    want[-100:] = -big[-100:]
    want[8000:8010] = big[8030:8040]
    np.testing.assert_array_equal(dst.read(), want)
    np.testing.assert_array_equal(host, big[2:32] * 2)

    # What a region is.
    r = src.region(100, shape=(4, 25))
    assert (r.offset, r.shape, r.size, r.ndim, len(r), r.dtype, r.buffer) == (100, (4, 25), 100, 2, 4, np.float32, src)
    assert r.reshape(-1).shape == (100,) and r.reshape(10, 10).offset == 100
    assert r[1:3].offset == 125 and r[1:3].shape == (2, 25)
    assert r[-1].offset == 175 and r[-1].shape == (25,)
    assert src[:].size == 10_000 and src[10_000:].size == 0
    np.testing.assert_array_equal(r.read(), big[100:200].reshape(4, 25))
    patch = rng.uniform(-1, 1, 25).astype(np.float32)
    r[2].write(patch)
    np.testing.assert_array_equal(src.read(25, 150), patch)
    np.testing.assert_array_equal(src.read(50, 100), big[100:150])  # the rest untouched
    with pytest.raises(ValueError, match="step must be 1"):
        src[0:10:2]
    with pytest.raises(ValueError, match="cannot reshape"):
        r.reshape(3, 33)


def test_in_place_on_a_whole_region(executor, rng):
    x = rng.uniform(-100, 100, 5000).astype(np.float32)
    buf = executor.buffer(x)
    executor.submit(ops.scale(buf, 3.0, buf))
    np.testing.assert_array_equal(buf.read(), x * np.float32(3))
    executor.submit(ops.relu(buf[1000:2000], buf[1000:2000]))
    want = x * np.float32(3)
    want[1000:2000] = np.maximum(want[1000:2000], 0)
    np.testing.assert_array_equal(buf.read(), want)


def test_matmul_on_buffer_regions(executor, rng):
    m, k, n = 33, 17, 29
    a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (k, n)).astype(np.float32)
    store = executor.buffer(np.concatenate([a.ravel(), b.ravel()]))
    c = Buffer(executor, m * n + 5)
    total = nans(1)
    executor.submit([
        ops.matmul(store.region(0, shape=(m, k)), store.region(m * k, shape=(k, n)), c.region(5, shape=(m, n))),
        ops.sum(c[5:], total),  # reads what the product wrote, in the same batch
    ])
    want = a.astype(np.float64) @ b.astype(np.float64)
    got = c.read(offset=5).reshape(m, n)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert total[0] == pytest.approx(float(got.astype(np.float64).sum()), rel=1e-4, abs=1e-4)
    np.testing.assert_array_equal(c.read(5), np.zeros(5, np.float32))


# --- reductions into buffers --------------------------------------------------------------------

SENTINEL = np.float32(12345.0)


def assert_reduced(got, want, scale, rtol=1e-5):
    """``got`` (a float32 result combined on the GPU) against the float64 reference ``want``,
    relative to ``scale``, the sum of the terms' magnitudes: blockwise float sums are within
    a few roundings of it, whatever the cancellation in the sum itself (tests/buffers.rs
    bounds the library's GPU combine alike)."""
    assert abs(float(got) - want) <= rtol * scale + 1e-30, f"{got} vs {want} (scale {scale})"


def reduction_tasks(a, b, t, bh, results, one, at):
    """Every reduction into a one-element region of ``results`` from element ``at``, in
    every form a task takes (ops.*, Task with an Op or a name, a 0-d and a 1-d region, a
    whole one-element buffer), over no elements too, and later tasks reading the results:
    returns (tasks, host outputs of the later tasks)."""
    r = lambda k: results[at + k]  # noqa: E731  (a 0-d region: one element)
    none = np.zeros(0, np.float32)
    copied, pair, host_sum = nans(13), nans(1), nans(1)
    tasks = [
        ops.sum(a, r(0)),
        Task(Op.REDUCE_MIN, a, results[at + 1:at + 2]),  # a 1-d region of one element
        Task("reduce_max", (a[0:],), r(2)),
        ops.mean(a, r(3)),
        ops.dot(a, bh, r(4)),  # one input in host memory
        ops.norm2(a, r(5)),
        ops.mul(a, b, t),
        ops.sum(t, r(6)),  # reads what the task before wrote
        # Over no elements: the op's value over nothing.
        ops.sum(a[0:0], r(7)),
        ops.reduce_min(a[3:3], r(8)),
        ops.reduce_max(a[len(a):], r(9)),
        ops.mean(none, r(10)),
        ops.dot(a[7:7], none, r(11)),
        ops.norm2(b[len(b):], r(12)),
        ops.norm2(bh, one),  # host input; a whole one-element buffer as out
        # Later tasks reading the results: a reduction into the buffer, a copy and an add to
        # the host, and a reduction to the host for comparison.
        ops.reduce_max(results[at:at + 7], r(13)),
        ops.copy(results[at:at + 13], copied),
        ops.add(results[at + 5:at + 6], one, pair),
        ops.sum(a, host_sum),
    ]
    return tasks, (copied, pair, host_sum)


def test_reductions_into_regions_and_later_tasks_read_them(executor, rng, reader):
    n = 10_007  # not a multiple of any block size
    ah = rng.uniform(-100, 100, n).astype(np.float32)
    bh = rng.uniform(-100, 100, n).astype(np.float32)
    a, b, t = executor.buffer(ah), executor.buffer(bh), Buffer(executor, n)
    # Results from element `at`, over sentinels: a sum over nothing is 0, which a
    # zero-filled buffer would show without any write.
    at, slots = 5, 14
    results = executor.buffer(np.full(at + slots + 3, SENTINEL))
    one = executor.buffer(np.full(1, SENTINEL))
    tasks, (copied, pair, host_sum) = reduction_tasks(a, b, t, bh, results, one, at)
    # The fast builder takes them, and agrees with the task-by-task one.
    fast = _optasks._fast(tasks)
    assert fast is not None, "the fast path takes reductions into regions"
    assert region_records(fast) == region_records(_optasks._task_by_task(tasks))

    before = executor.stats()
    executor.submit(tasks)
    after = executor.stats()
    assert after["submits"] - before["submits"] == 1
    # Only the copy (13 floats), the add (1) and the host sum (1) came back.
    assert after["bytes_read_back"] - before["bytes_read_back"] == 15 * 4

    a64, b64 = ah.astype(np.float64), bh.astype(np.float64)
    products = (ah * bh).astype(np.float64)  # as the GPU's mul rounds them
    got = results.read()
    r = got[at:at + slots]
    assert_reduced(r[0], a64.sum(), np.abs(a64).sum())
    assert r[1] == ah.min() and r[2] == ah.max()  # exact
    assert_reduced(r[3], a64.mean(), np.abs(a64).mean())
    assert_reduced(r[4], (a64 * b64).sum(), np.abs(a64 * b64).sum())
    assert_reduced(r[5], np.sqrt((a64 * a64).sum()), np.sqrt((a64 * a64).sum()))
    assert_reduced(r[6], products.sum(), np.abs(products).sum())
    assert r[7] == 0 and r[8] == np.inf and r[9] == -np.inf and np.isnan(r[10])
    assert r[11] == 0 and r[12] == 0
    norm_b = one.read()[0]
    assert_reduced(norm_b, np.sqrt((b64 * b64).sum()), np.sqrt((b64 * b64).sum()))
    # The later tasks saw what the reductions wrote.
    assert r[13] == r[:7].max()
    np.testing.assert_array_equal(copied.view(np.uint32), r[:13].view(np.uint32))
    assert pair[0] == r[5] + norm_b
    # The host's double-precision combine and the GPU's float one agree.
    assert_reduced(host_sum[0], a64.sum(), np.abs(a64).sum())
    assert_reduced(r[0], float(host_sum[0]), np.abs(a64).sum())
    # Nothing outside the result slots was written.
    assert (got[:at] == SENTINEL).all() and (got[at + slots:] == SENTINEL).all()


def test_reductions_into_regions_through_every_builder(executor, rng, reader, monkeypatch):
    rows, n = 40, 33
    xh = rng.uniform(-100, 100, (rows, n)).astype(np.float32)
    yh = rng.uniform(-100, 100, (rows, n)).astype(np.float32)
    x = executor.buffer(xh)
    stacked = x.region(shape=(rows, n))
    results = executor.buffer(np.full(4 * rows + 2, SENTINEL))
    # Batch.stacked_op: one result per row into a (rows,) region, and into (rows, 1), every
    # row checked at once (the task-by-task builder is not needed).
    with monkeypatch.context() as patch:
        patch.setattr(_optasks, "_task_by_task", lambda items: pytest.fail("stacked_op went task by task"))
        sums = Batch.stacked_op(Op.SUM, stacked, results.region(0, shape=(rows,)))
        dots = Batch.stacked_op("dot", (stacked, yh), results.region(rows, shape=(rows, 1)))
    executor.submit(sums)
    executor.submit(dots)
    # Batch(tasks), submit_async, and tuples mixed in.
    pair = nans(n)
    batch = Batch([ops.norm2(x[i * n:(i + 1) * n], results[2 * rows + i]) for i in range(rows)]
                  + [(xh[0], yh[0], pair)])
    assert executor.submit_async(batch).wait() is True
    # Task with out=None still allocates a host array; the same reductions into host memory
    # agree with the regions.
    means = [Task(Op.MEAN, x[i * n:(i + 1) * n]) for i in range(rows)]
    executor.submit([ops.mean(x[i * n:(i + 1) * n], results[3 * rows + i]) for i in range(rows)] + means)
    assert all(isinstance(task.out, np.ndarray) and task.out.shape == (1,) for task in means)

    x64, y64 = xh.astype(np.float64), yh.astype(np.float64)
    got = results.read()
    for i in range(rows):
        magnitude = np.abs(x64[i]).sum()
        assert_reduced(got[i], x64[i].sum(), magnitude)
        assert_reduced(got[rows + i], (x64[i] * y64[i]).sum(), np.abs(x64[i] * y64[i]).sum())
        norm = np.sqrt((x64[i] * x64[i]).sum())
        assert_reduced(got[2 * rows + i], norm, norm)
        assert_reduced(got[3 * rows + i], x64[i].mean(), magnitude / n)
        assert_reduced(got[3 * rows + i], float(means[i].out[0]), magnitude / n)
    assert (got[4 * rows:] == SENTINEL).all()
    np.testing.assert_array_equal(pair, xh[0] + yh[0])


def test_reduction_into_a_region_is_one_float32_element(executor, rng, reader):
    x = executor.buffer(rng.uniform(-1, 1, 100).astype(np.float32))
    out = executor.buffer(np.full(10, SENTINEL))
    ints = Buffer(executor, 4, np.int32)
    host = nans(1)
    # Checked by the bindings, naming the task, before anything runs.
    with pytest.raises(ValueError, match=r"task 1: out of SUM must hold one element, has shape \(2,\)"):
        executor.submit([ops.norm2(x, out[0]), ops.sum(x, out[1:3]), ops.sum(x, host)])
    with pytest.raises(ValueError, match=r"task 0: out of DOT must hold one element, has shape \(10,\)"):
        executor.submit([ops.dot(x[0:10], x[10:20], out)])  # a whole buffer of 10
    with pytest.raises(ValueError, match=r"task 0: out of MEAN must hold one element, has shape \(0,\)"):
        executor.submit(Task(Op.MEAN, x, out[10:]))
    with pytest.raises(TypeError, match="task 0: out has dtype int32 but a has float32"):
        executor.submit([ops.reduce_max(x, ints[0])])
    with pytest.raises(TypeError, match="REDUCE_MIN is not defined for int32"):
        executor.submit([ops.reduce_min(ints[1:3], ints[0])])
    with pytest.raises(ValueError, match="out of SUM must hold one element"):
        executor.submit(Batch.stacked_op(Op.SUM, x.region(shape=(5, 20)), out.region(0, shape=(5, 2))))
    assert np.isnan(host).all()
    np.testing.assert_array_equal(out.read(), np.full(10, SENTINEL))
    np.testing.assert_array_equal(ints.read(), np.zeros(4, np.int32))


def test_reduction_into_a_region_reads_at_most_one_slab(rng):
    # A reduction into a buffer is combined on the GPU from one slab's partials: past
    # max_chunk_elements the library refuses it and nothing runs, while the same reduction
    # into host memory (partials of several slabs combined on the host) still runs.
    with Executor(max_chunk_elements=64) as ex:
        xh = rng.uniform(-100, 100, 100).astype(np.float32)
        yh = rng.uniform(-100, 100, 100).astype(np.float32)
        x = ex.buffer(xh)
        out = ex.buffer(np.full(2, SENTINEL))
        host = nans(1)
        for tasks in ([ops.sum(x, out[0])], [ops.dot(yh, x, out[1])],
                      [ops.norm2(x[0:10], out[1]), ops.mean(xh, out[0]), ops.sum(x, host)]):
            with pytest.raises(GpuExecutorError) as caught:
                ex.submit(tasks)
            assert caught.value.status == Status.INVALID_ARGUMENT
            assert "one slab" in caught.value.message
        with pytest.raises(GpuExecutorError) as caught:
            ex.submit_async([ops.reduce_max(x, out[0])])
        assert caught.value.status == Status.INVALID_ARGUMENT
        assert np.isnan(host).all()
        np.testing.assert_array_equal(out.read(), np.full(2, SENTINEL))

        # Into host memory the 100 elements are fine (two slabs, combined on the host) ...
        x64 = xh.astype(np.float64)
        ex.submit(ops.sum(x, host))
        assert_reduced(host[0], x64.sum(), np.abs(x64).sum())
        # ... and into a buffer exactly one slab's worth is.
        ex.submit([ops.sum(x[0:64], out[0]), ops.dot(x[36:], yh[36:], out[1])])
        got = out.read()
        assert_reduced(got[0], x64[:64].sum(), np.abs(x64[:64]).sum())
        d = x64[36:] * yh[36:].astype(np.float64)
        assert_reduced(got[1], d.sum(), np.abs(d).sum())


# --- async reads and writes --------------------------------------------------------------------


def test_async_reads_and_writes(executor, rng):
    data = rng.uniform(-1, 1, 50_000).astype(np.float32)
    buf = Buffer(executor, 50_000)
    ticket = buf.write_async(data)
    data_copy = data.copy()
    data[:] = 0  # copied during the call
    assert isinstance(ticket, gpu_executor.Ticket) and ticket.wait() is True
    ticket, out = buf.read_async()
    assert ticket.wait() is True
    np.testing.assert_array_equal(out, data_copy)
    part = nans((10, 10))
    ticket = buf.read_into_async(part, 400)
    assert ticket.wait() is True and ticket.done
    np.testing.assert_array_equal(part.ravel(), data_copy[400:500])


# --- pool reuse and stats ----------------------------------------------------------------------


def test_stats_and_reuse_after_close(rng):
    with Executor() as ex:
        stats = ex.stats()
        for name in ("resident_buffers", "resident_bytes", "resident_reserved_bytes",
                     "resident_buffers_created", "resident_pool_hits", "resident_pool_misses",
                     "direct_dispatches"):
            assert stats[name] == 0, name

        a = ex.buffer(rng.uniform(-1, 1, 10_000).astype(np.float32))
        b = Buffer(ex, 2000, np.int32)
        stats = ex.stats()
        assert stats["resident_buffers"] == 2
        assert stats["resident_bytes"] == 4 * (10_000 + 2000)
        assert stats["resident_reserved_bytes"] >= stats["resident_bytes"]
        assert (stats["resident_buffers_created"], stats["resident_pool_misses"], stats["resident_pool_hits"]) == (2, 2, 0)

        # Closed memory goes to the next buffer of its size class, zero-filled again.
        a.close()
        a.close()  # idempotent
        assert ex.stats()["resident_buffers"] == 1
        c = Buffer(ex, 10_000)
        stats = ex.stats()
        assert (stats["resident_buffers_created"], stats["resident_pool_hits"], stats["resident_pool_misses"]) == (3, 1, 2)
        np.testing.assert_array_equal(c.read(), np.zeros(10_000, np.float32))

        # A context manager and dropping the last reference close too.
        with Buffer(ex, 10_000) as d:  # c holds the freed memory: new memory
            assert ex.stats()["resident_buffers"] == 3
        assert d.closed and ex.stats()["resident_buffers"] == 2
        del b
        gc.collect()
        assert ex.stats()["resident_buffers"] == 1
        e = Buffer(ex, 2000, np.int32)  # b's memory
        stats = ex.stats()
        assert (stats["resident_buffers_created"], stats["resident_pool_hits"], stats["resident_pool_misses"]) == (5, 2, 3)

        # Element-wise tasks entirely on buffers run straight on their memory.
        before = ex.stats()["direct_dispatches"]
        ex.submit(ops.add(c, c, Buffer(ex, 10_000)))
        assert ex.stats()["direct_dispatches"] == before + 1
        c.close()
        e.close()


# --- errors: nothing is written -----------------------------------------------------------------


def test_foreign_buffer(executor, rng):
    x = rng.uniform(-1, 1, 100).astype(np.float32)
    with Executor() as other:
        foreign = other.buffer(x)
        mine = executor.buffer(x)
        out, other_out = nans(100), nans(100)
        for task in (ops.add(foreign, x, other_out), ops.add(mine, x, foreign), ops.scale(foreign[10:20], 2.0, mine[0:10])):
            with pytest.raises(GpuExecutorError) as caught:
                executor.submit([ops.neg(x, out), task])
            assert caught.value.status == Status.FOREIGN_BUFFER
            assert "another executor" in caught.value.message
        assert np.isnan(out).all() and np.isnan(other_out).all()
        np.testing.assert_array_equal(foreign.read(), x)
        np.testing.assert_array_equal(mine.read(), x)


def test_closed_buffer(executor, rng):
    x = rng.uniform(-1, 1, 100).astype(np.float32)
    buf = executor.buffer(x)
    out = nans(100)
    prepared = Batch([ops.neg(buf, out)])
    buf.close()
    assert buf.closed
    assert "closed" in repr(buf)
    # In a batch built before: the library catches the stale handle (never reused).
    with pytest.raises(GpuExecutorError) as caught:
        executor.submit(prepared)
    assert caught.value.status == Status.INVALID_BUFFER
    assert "destroyed" in caught.value.message
    # Anything built or called afterwards: ValueError before the library is called.
    with pytest.raises(ValueError, match="task 1: a is a region of a closed"):
        executor.submit([ops.neg(x, nans(100)), ops.neg(buf, out)])
    with pytest.raises(ValueError, match="task 0: out is a region of a closed"):
        executor.submit([ops.neg(x, buf[0:100])])
    for call in (buf.read, lambda: buf.write(x), lambda: buf.read_into(out), lambda: buf.handle,
                 lambda: buf.write_async(x), buf.read_async, buf.info):
        with pytest.raises(ValueError, match="closed gpu_executor.Buffer"):
            call()
    with pytest.raises(ValueError, match="closed"):
        with buf:
            pass
    assert np.isnan(out).all()


def test_out_of_bounds(executor, rng):
    x = rng.uniform(-1, 1, 100).astype(np.float32)
    buf = executor.buffer(x)
    out = nans(60)
    # The library's checks: reads and writes.
    for call in (lambda: buf.read_into(out, 50), lambda: buf.read(1, 100),
                 lambda: buf.write(np.ones(2, np.float32), 99), lambda: buf.read_into_async(out, 41),
                 lambda: buf.write_async(np.ones(101, np.float32))):
        with pytest.raises(GpuExecutorError) as caught:
            call()
        assert caught.value.status == Status.OUT_OF_BOUNDS
        assert "which holds 100" in caught.value.message
    assert np.isnan(out).all()
    np.testing.assert_array_equal(buf.read(), x)
    # Regions are checked when made, with the same status: never clamped.
    for make in (lambda: buf[50:101], lambda: buf.region(101), lambda: buf.region(90, 11),
                 lambda: buf.region(0, shape=(11, 10)), lambda: buf[-101:], lambda: buf[100],
                 lambda: buf.region(50, shape=(5, 10))[5], lambda: buf.read(offset=101)):
        with pytest.raises(GpuExecutorError) as caught:
            make()
        assert caught.value.status == Status.OUT_OF_BOUNDS
    assert buf.region(1).size == 99 and buf[100:].size == 0


def test_type_mismatch(executor, rng):
    floats = executor.buffer(rng.uniform(-1, 1, 100).astype(np.float32))
    ints = executor.buffer(rng.integers(-5, 5, 100).astype(np.int32))
    out = nans(100)
    # Checked by the bindings, naming the task, before anything runs.
    with pytest.raises(TypeError, match="task 1: b has dtype int32 but a has float32"):
        executor.submit([ops.neg(floats, out), ops.add(floats, ints, nans(100))])
    with pytest.raises(TypeError, match="task 0: out has dtype float32 but a has int32"):
        executor.submit([ops.add(ints, ints, floats)])
    with pytest.raises(TypeError, match=r"an \(a, b, out\) tuple adds float32 arrays"):
        executor.submit([(ints, ints, Buffer(executor, 100, np.int32))])
    with pytest.raises(TypeError, match="SQRT is not defined for int32"):
        executor.submit([ops.sqrt(ints, Buffer(executor, 100, np.int32))])
    with pytest.raises(TypeError, match="but the buffer holds float32"):
        floats.write(np.ones(10, np.float64))
    with pytest.raises(TypeError, match="but the buffer holds int32"):
        ints.read_into(out)
    with pytest.raises(TypeError, match="pass dtype= to convert"):
        executor.buffer(np.ones(10))
    with pytest.raises(TypeError, match="not an element type"):
        Buffer(executor, 10, np.float64)
    # The library's own check, through a task array the bindings did not check.
    tasks = np.array(Batch([ops.neg(floats, out)]).task_array)  # a writable copy
    region = _ffi.gpu_region_t(ints.handle, 0)
    tasks["inputs"][0, 0] = ctypes.addressof(region)
    status, message = executor._raw_call(
        "gpu_executor_submit_batch", tasks.ctypes.data_as(ctypes.POINTER(_ffi.gpu_task_t)), 1
    )
    assert status == Status.TYPE_MISMATCH, message
    assert np.isnan(out).all()


def test_dependency_and_overlapping_writes(executor, rng):
    x = rng.uniform(-1, 1, 64).astype(np.float32)
    a, b = executor.buffer(x), executor.buffer(x)
    host = nans(64)
    # Task 1 reads b, which task 2 (later) writes.
    with pytest.raises(GpuExecutorError) as caught:
        executor.submit([ops.neg(x, host), ops.scale(b, 2.0, a), ops.scale(a[0:32], 2.0, b[10:42])])
    assert caught.value.status == Status.DEPENDENCY
    assert "task 1" in caught.value.message and "task 2" in caught.value.message
    # In place twice: the first reads what the second writes.
    with pytest.raises(GpuExecutorError) as caught:
        executor.submit([ops.scale(a, 2.0, a), ops.scale(a, 2.0, a)])
    assert caught.value.status == Status.DEPENDENCY
    # Two writers of overlapping regions; in place on part of its own input.
    for tasks in ([ops.neg(x[:32], b[0:32]), ops.neg(x[:32], b[16:48])], [ops.scale(a[0:32], 2.0, a[1:33])]):
        with pytest.raises(GpuExecutorError) as caught:
            executor.submit(tasks)
        assert caught.value.status == Status.ALIASING
    # Asynchronously too: rejected before anything is submitted.
    with pytest.raises(GpuExecutorError) as caught:
        executor.submit_async([ops.neg(b, host), ops.neg(x, b)])
    assert caught.value.status == Status.DEPENDENCY
    assert np.isnan(host).all()
    np.testing.assert_array_equal(a.read(), x)
    np.testing.assert_array_equal(b.read(), x)


def test_other_bad_uses(executor, rng):
    x = rng.uniform(-1, 1, 100).astype(np.float32)
    buf = executor.buffer(x)
    # A reduction writing into the region it reads: the library's aliasing rule, as for
    # any task writing part of its input.
    with pytest.raises(GpuExecutorError) as caught:
        executor.submit([ops.sum(buf, buf[0:1])])
    assert caught.value.status == Status.ALIASING
    # The library's errors for a buffer of nothing.
    with pytest.raises(GpuExecutorError) as caught:
        Buffer(executor, 0)
    assert caught.value.status == Status.INVALID_ARGUMENT
    with pytest.raises(GpuExecutorError) as caught:
        executor.buffer(np.zeros(0, np.float32))
    assert caught.value.status == Status.INVALID_ARGUMENT
    for bad in (lambda: Buffer(executor, -1), lambda: buf.read(offset=-1), lambda: buf.region(-5)):
        with pytest.raises(ValueError, match="negative"):
            bad()
    # ctypes would pass these modulo 2**64 (a buffer of 5, a read from offset 3).
    for bad in (lambda: Buffer(executor, 2**64 + 5), lambda: buf.read(1, 2**64 + 3),
                lambda: buf.write(x[:1], 2**64), lambda: buf.read_into(nans(1), 2**65)):
        with pytest.raises(ValueError, match="does not fit 64 bits"):
            bad()
    with pytest.raises(TypeError, match="must be a gpu_executor.Executor"):
        Buffer("not an executor", 10)
    with pytest.raises(ValueError, match="read-only"):
        readonly = nans(10)
        readonly.flags.writeable = False
        buf.read_into(readonly)
    np.testing.assert_array_equal(buf.read(), x)


# --- lifetime ------------------------------------------------------------------------------------


def test_buffer_keeps_its_executor_alive(rng):
    ex = Executor()
    alive = weakref.ref(ex)
    x = rng.uniform(-1, 1, 100).astype(np.float32)
    buf = ex.buffer(x)
    del ex
    gc.collect()
    assert alive() is not None
    np.testing.assert_array_equal(buf.read(), x)
    del buf
    gc.collect()
    assert alive() is None


def test_executor_closed_first(rng):
    raised = []
    previous = sys.unraisablehook
    sys.unraisablehook = raised.append  # an exception from __del__ would land here
    try:
        ex = Executor()
        buf = ex.buffer(rng.uniform(-1, 1, 100).astype(np.float32))
        region = buf[10:20]
        ex.close()
        assert buf.closed
        with pytest.raises(ValueError, match="executor is closed"):
            buf.read()
        with pytest.raises(ValueError, match="a is a region of a closed"):
            Batch([ops.neg(region, nans(10))])
        buf.close()  # the executor freed it already: nothing to do, no error
        del buf, region
        gc.collect()
        # And a buffer dropped without close() after its executor was closed.
        ex = Executor()
        ex.buffer(10)  # dropped at once: closed by __del__ on a live executor
        dangling = ex.buffer(10)
        ex.close()
        del dangling
        gc.collect()
    finally:
        sys.unraisablehook = previous
    assert raised == []


def test_threads_each_with_their_own_buffers(executor):
    errors = []

    def work(seed):
        try:
            rng = np.random.default_rng(seed)
            for _ in range(4):
                n = int(rng.integers(100, 3000))
                x_host = rng.uniform(-10, 10, n).astype(np.float32)
                y_host = rng.uniform(-10, 10, n).astype(np.float32)
                with executor.buffer(x_host) as x, executor.buffer(y_host) as y, Buffer(executor, 7 * n) as scratch:
                    total, out = nans(1), nans(n)
                    _, tasks = chain_tasks(x, y, scratch, n, total, out)
                    executor.submit(tasks)
                    assert_close(out, chain_reference(x_host, y_host)[6])
        except Exception as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert executor.stats()["resident_buffers"] == 0
