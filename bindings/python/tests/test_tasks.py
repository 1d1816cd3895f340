"""gpu_executor.Task: building, the task arrays of mixed batches, and every kind of bad task.

The task array built for all tasks at once must equal the task-by-task reference byte for
byte (with both ways of reading the arrays' fields); every bad task raises TypeError or
ValueError naming its index, before anything runs, with no output written.
"""

import gc

import numpy as np
import pytest

import gpu_executor
from gpu_executor import Batch, DType, GpuExecutorError, Op, Status, Task, ops
from gpu_executor import _optasks, _tasks

READERS = {"objects": _tasks._read_objects, "public": _tasks._read_public}


@pytest.fixture(params=sorted(READERS))
def reader(request, monkeypatch):
    monkeypatch.setattr(_tasks, "_reader", READERS[request.param])
    return request.param


def floats(rng, shape):
    return rng.uniform(-100, 100, size=shape).astype(np.float32)


def ints(rng, shape, dtype=np.int32):
    return rng.integers(0 if dtype == np.uint32 else -1000, 1000, size=shape).astype(dtype)


def random_tasks(rng, count):
    """A random mix of every kind of task, and (a, b, out) tuples."""
    tasks = []
    for _ in range(count):
        pick = int(rng.integers(0, 9))
        n = int(rng.integers(0, 40))
        if pick == 0:
            tasks.append((floats(rng, n), floats(rng, n), floats(rng, n)))
        elif pick == 1:
            dtype = (np.float32, np.int32, np.uint32)[int(rng.integers(0, 3))]
            x = floats(rng, (n, 2)) if dtype == np.float32 else ints(rng, (n, 2), dtype)
            tasks.append(ops.fma(x, x.copy(), x.copy()))
        elif pick == 2:
            tasks.append(ops.clamp(ints(rng, n), -int(rng.integers(0, 100)), int(rng.integers(0, 100))))
        elif pick == 3:
            tasks.append(ops.scale(ints(rng, n, np.uint32), int(rng.integers(0, 2**32))))
        elif pick == 4:
            tasks.append(ops.axpy(float(rng.uniform(-5, 5)), floats(rng, n), floats(rng, n)))
        elif pick == 5:
            tasks.append(ops.dot(floats(rng, (n, 3)), floats(rng, (n, 3)), np.empty((), np.float32)))
        elif pick == 6:
            tasks.append(ops.norm2(floats(rng, n)))
        elif pick == 7:
            m, k = (int(x) for x in rng.integers(0, 9, 2))
            tasks.append(ops.matmul(floats(rng, (m, k)), floats(rng, (n % 7, k)), transpose_b=True))
        else:
            tasks.append(ops.sigmoid(floats(rng, (2, n, 2))))
    return tasks


# --- the task array ---------------------------------------------------------------------------


def test_task_arrays_equal_the_reference(rng, reader):
    for count in (1, 2, 10, 300):
        tasks = random_tasks(rng, count)
        fast = _optasks._fast(tasks)
        assert fast is not None
        reference = _optasks._task_by_task(tasks)
        np.testing.assert_array_equal(fast.view(np.uint8), reference.view(np.uint8))
        np.testing.assert_array_equal(Batch(tasks).task_array.view(np.uint8), reference.view(np.uint8))
        assert not fast.flags.writeable


def test_fields_of_a_task_array(rng):
    x = floats(rng, (4, 5))
    xi = ints(rng, 7)
    xu = ints(rng, 3, np.uint32)
    a, b = floats(rng, (2, 3)), floats(rng, (4, 3))
    tasks = [ops.scale(x, 2.5), ops.clamp(xi, -3, 2**31 - 1), ops.scale(xu, 2**32 - 1), ops.mean(x), ops.matmul(a, b, transpose_b=True), ops.fma(xi, xi, xi)]
    array = Batch(tasks).task_array
    assert list(array["op"]) == [Op.SCALE, Op.CLAMP, Op.SCALE, Op.MEAN, Op.MATMUL, Op.FMA]
    assert list(array["flags"]) == [DType.F32, DType.I32, DType.U32, DType.F32, DType.F32 | gpu_executor.TASK_TRANSPOSE_B, DType.I32]
    assert list(array["length"]) == [20, 7, 3, 20, 8, 7]
    assert array["params"].tolist() == [
        [int(np.float32(2.5).view(np.uint32)), 0, 0, 0],
        [2**32 - 3, 2**31 - 1, 0, 0],
        [2**32 - 1, 0, 0, 0],
        [0, 0, 0, 0],
        [2, 3, 4, 0],
        [0, 0, 0, 0],
    ]
    assert array["inputs"].tolist()[5] == [xi.ctypes.data] * 3 + [0]
    assert array["inputs"].tolist()[4] == [a.ctypes.data, b.ctypes.data, 0, 0]
    assert array["output"][3] == tasks[3].out.ctypes.data


def test_tuples_alone_take_the_old_path(rng, monkeypatch):
    """A list of (a, b, out) tuples never reaches the task code (its speed is unchanged)."""
    def fail(*args):
        raise AssertionError("tuples reached _optasks")

    monkeypatch.setattr(_optasks, "task_array", fail)
    a = floats(rng, 5)
    Batch([(a, a, np.empty(5, np.float32))] * 1)
    Batch([])


# --- Task itself ------------------------------------------------------------------------------


def test_task_attributes_and_repr(rng):
    a = floats(rng, (2, 3))
    task = Task("Clamp", a, None, (-1, 1))
    assert task.op is Op.CLAMP and task.inputs == (a,) and task.scalars == (-1, 1)
    assert task.out.shape == (2, 3) and task.out.dtype == np.float32 and not task.transpose_b
    assert "CLAMP" in repr(task) and "float32[2, 3]" in repr(task) and "scalars=(-1, 1)" in repr(task)
    with pytest.raises(AttributeError):
        task.op = Op.ADD
    with pytest.raises(AttributeError):
        task.extra = 1
    assert Task(Op.ADD, (a, a)).op is Op.VECTOR_ADD
    assert Task(18, [a], scalars=3).scalars == (3,)
    assert ops.matmul(a, a, transpose_b=True).transpose_b
    assert ops.matmul(a, a, transpose_b=True).out.shape == (2, 2)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda a: Task(999, (a,)), ValueError, "unknown op 999"),
        (lambda a: Task(0, (a,)), ValueError, "unknown op 0"),
        (lambda a: Task("frobnicate", (a,)), ValueError, "unknown op 'frobnicate'"),
        (lambda a: Task(1.0, (a, a)), TypeError, "op must be"),
        (lambda a: Task(True, (a, a)), TypeError, "op must be"),
        (lambda a: Task(Op.ADD, (a,)), TypeError, "VECTOR_ADD takes 2 input"),
        (lambda a: Task(Op.SQRT, (a, a)), TypeError, "SQRT takes 1 input"),
        (lambda a: Task(Op.FMA, (a, a)), TypeError, "FMA takes 3 input"),
        (lambda a: Task(Op.SCALE, (a,)), TypeError, "SCALE takes 1 scalar"),
        (lambda a: Task(Op.CLAMP, (a,), scalars=(1,)), TypeError, "CLAMP takes 2 scalar"),
        (lambda a: Task(Op.ADD, (a, a), scalars=(1,)), TypeError, "VECTOR_ADD takes 0 scalar"),
        (lambda a: Task(Op.ADD, (a, a), transpose_b=True), ValueError, "transpose_b is for MATMUL only"),
        (lambda a: ops.add([1, 2], [3, 4]), TypeError, "a must be a numpy.ndarray to size the output"),
        (lambda a: ops.neg(a.astype(np.float64)), TypeError, "a has dtype '<f8'"),
        (lambda a: ops.matmul(a.ravel(), a), ValueError, "MATMUL takes 2-D arrays"),
    ],
)
def test_bad_task_construction(rng, make, error, message):
    with pytest.raises(error, match=message):
        make(floats(rng, (3, 3)))


# --- bad tasks in a batch ---------------------------------------------------------------------


def _misaligned(x):
    raw = np.zeros(x.nbytes + 4, np.uint8)
    view = raw[1 : 1 + x.nbytes].view(x.dtype).reshape(x.shape)
    assert not view.flags.aligned
    return view


def _readonly(x):
    x = x.copy()
    x.flags.writeable = False
    return x


def _bad_tasks(rng):
    """(task, exception, message after "task N: ")."""
    f, i, u = floats(rng, 8), ints(rng, 8), ints(rng, 8, np.uint32)
    a, b = floats(rng, (3, 4)), floats(rng, (4, 5))
    one = np.empty(1, np.float32)
    return {
        "sqrt of int32": (ops.sqrt(i, i.copy()), TypeError, "SQRT is not defined for int32 \\(it takes float32\\)"),
        "neg of uint32": (ops.neg(u, u.copy()), TypeError, "NEG is not defined for uint32 \\(it takes float32, int32\\)"),
        "relu of uint32": (ops.relu(u, u.copy()), TypeError, "RELU is not defined for uint32"),
        "pow of int32": (ops.pow(i, i, i.copy()), TypeError, "POW is not defined for int32"),
        "sum of int32": (ops.sum(i, np.empty(1, np.int32)), TypeError, "SUM is not defined for int32"),
        "dot into int32": (ops.dot(f, f, np.empty(1, np.int32)), TypeError, "out has dtype int32 but a has float32"),
        "int32 matmul": (ops.matmul(a.astype(np.int32), b.astype(np.int32), np.empty((3, 5), np.int32)), TypeError, "MATMUL is not defined for int32"),
        "float64": (ops.add(f.astype(np.float64), f.astype(np.float64), np.empty(8)), TypeError, "a has dtype '<f8' \\(float64\\); expected native float32, int32 or uint32"),
        "int64 out": (ops.add(i, i, np.empty(8, np.int64)), TypeError, "out has dtype '<i8'"),
        "float16": (ops.sqrt(f.astype(np.float16), np.empty(8, np.float16)), TypeError, "a has dtype '<f2'"),
        "big-endian": (ops.abs(i.astype(">i4"), i.copy()), TypeError, "a has dtype '>i4'"),
        "mixed types": (ops.add(f, i, f.copy()), TypeError, "b has dtype int32 but a has float32"),
        "list input": (ops.add(f, [1.0] * 8, f.copy()), TypeError, "b must be a numpy.ndarray"),
        "none out": (Task(Op.SQRT, (f,), 0), TypeError, "out must be a numpy.ndarray"),
        "strided": (ops.exp(floats(rng, 16)[::2], f.copy()), ValueError, "a is not C-contiguous"),
        "transposed": (ops.matmul(a, floats(rng, (5, 4)).T, np.empty((3, 5), np.float32)), ValueError, "b is not C-contiguous"),
        "misaligned": (ops.log(f, _misaligned(f)), ValueError, "out is not aligned"),
        "read-only out": (ops.mul(u, u, _readonly(u)), ValueError, "out is read-only"),
        "read-only reduction out": (ops.mean(f, _readonly(one)), ValueError, "out is read-only"),
        "shapes differ": (ops.sub(f, floats(rng, 9), f.copy()), ValueError, "shapes differ: a \\(8,\\), b \\(9,\\), out \\(8,\\)"),
        "same size, other shape": (ops.min(a, a.reshape(4, 3), a.copy()), ValueError, "shapes differ"),
        "out shape": (ops.fma(i, i, i, np.empty(9, np.int32)), ValueError, "shapes differ"),
        "dot shapes": (ops.dot(f, floats(rng, 7), one), ValueError, "shapes differ: a \\(8,\\), b \\(7,\\)"),
        "reduction out of 2": (ops.sum(f, np.empty(2, np.float32)), ValueError, "out of SUM must hold one element, has shape \\(2,\\)"),
        "reduction out of 0": (ops.norm2(f, np.empty(0, np.float32)), ValueError, "out of NORM2 must hold one element"),
        "matmul 1-D": (ops.matmul(a, f, np.empty((3, 2), np.float32)), ValueError, "MATMUL takes 2-D arrays; b has shape \\(8,\\)"),
        "matmul 3-D out": (ops.matmul(a, b, np.empty((3, 5, 1), np.float32)), ValueError, "MATMUL takes 2-D arrays; out"),
        "matmul K": (ops.matmul(a, floats(rng, (3, 5)), np.empty((3, 5), np.float32)), ValueError, "MATMUL shapes do not match: a \\(3, 4\\), b \\(3, 5\\), out \\(3, 5\\); expected a \\(M, K\\), b \\(K, N\\)"),
        "matmul out": (ops.matmul(a, b, np.empty((3, 4), np.float32)), ValueError, "MATMUL shapes do not match"),
        "matmul transposed": (ops.matmul(a, b, np.empty((3, 5), np.float32), transpose_b=True), ValueError, "MATMUL shapes do not match: .*; expected a \\(M, K\\), b \\(N, K\\), out \\(M, N\\)"),
        "float scalar for int32": (ops.scale(i, 2.5, i.copy()), TypeError, "SCALE scalar 0 must be an integer \\(it is int32\\), got float 2.5"),
        "int32 scalar range": (ops.clamp(i, -(2**31) - 1, 0, i.copy()), ValueError, "CLAMP scalar 0 = -2147483649 is out of int32 range"),
        "negative uint32 scalar": (ops.scale(u, -1, u.copy()), ValueError, "SCALE scalar 0 = -1 is out of uint32 range"),
        "uint32 scalar range": (ops.clamp(u, 0, 2**32, u.copy()), ValueError, "CLAMP scalar 1 = 4294967296 is out of uint32 range"),
        "huge uint32 scalar": (ops.scale(u, 2**70, u.copy()), ValueError, "SCALE scalar 0 = 1180591620717411303424 is out of uint32 range"),
        "float32 scalar range": (ops.scale(f, 1e39, f.copy()), ValueError, "SCALE scalar 0 = 1e\\+39 is out of float32 range"),
        "string scalar": (ops.scale(f, "2", f.copy()), TypeError, "SCALE scalar 0 must be a real number, got str"),
        "bool scalar": (ops.axpy(True, i, i, i.copy()), TypeError, "AXPY scalar 0 must be an integer"),
        "complex scalar": (ops.scale(f, 1j, f.copy()), TypeError, "SCALE scalar 0 must be a real number, got complex"),
        "int32 tuple": ((i, i, i.copy()), TypeError, "a has dtype '<i4'"),
        "short tuple": ((f, f), TypeError, "expected a tuple \\(a, b, out\\) of numpy float32 arrays or a gpu_executor.Task, got tuple"),
        "not a task": (42, TypeError, "expected a tuple \\(a, b, out\\) of numpy float32 arrays or a gpu_executor.Task, got int"),
    }


def _good_tasks(rng):
    x = floats(rng, 64)
    return [
        ops.scale(x, 2.0, np.full(64, np.nan, np.float32)),
        (x, x, np.full(64, np.nan, np.float32)),
        ops.sum(x, np.full(1, np.nan, np.float32)),
        ops.matmul(x.reshape(8, 8), x.reshape(8, 8), np.full((8, 8), np.nan, np.float32)),
    ]


def _outputs(tasks):
    outs = [task.out if isinstance(task, Task) else task[-1] if isinstance(task, tuple) else None for task in tasks]
    return [out for out in outs if isinstance(out, np.ndarray)]


@pytest.mark.parametrize("kind", sorted(_bad_tasks(np.random.default_rng(0))))
def test_bad_task_names_its_index(executor, rng, reader, kind):
    bad, error, message = _bad_tasks(rng)[kind]
    for position in (0, 2, 4):
        tasks = _good_tasks(rng)
        tasks.insert(position, bad)
        # A later task is bad too: the first one is reported.
        tasks.append(ops.sqrt(ints(rng, 3), ints(rng, 3)))
        outputs = [out for out in _outputs(tasks) if out.flags.writeable]
        snapshots = [out.copy() for out in outputs]
        pattern = f"^task {position}: {message}"
        with pytest.raises(error, match=pattern):
            Batch(tasks)
        with pytest.raises(error, match=pattern):
            executor.submit(tasks)
        with pytest.raises(error, match=pattern):
            executor.submit_async(tasks)
        for out, before in zip(outputs, snapshots):
            np.testing.assert_array_equal(out, before)
    if isinstance(bad, Task):
        with pytest.raises(error, match=f"^task 0: {message}"):
            executor.submit(bad)


def test_library_rejections_write_nothing(executor, rng):
    x = floats(rng, 100)
    out = np.full(100, np.nan, np.float32)
    total = np.full(1, np.nan, np.float32)
    for tasks in (
        [ops.sum(x, total), ops.sqrt(x, x)],  # out is an input
        [ops.sum(x, total), ops.neg(x, out), ops.exp(x, out)],  # two tasks share an out
        [ops.scale(x, 2.0, out), ops.dot(x, out, total)],  # an out read by another task
        [ops.neg(x, out), ops.matmul(x.reshape(10, 10), x.reshape(10, 10), out.reshape(10, 10))],
    ):
        with pytest.raises(GpuExecutorError) as caught:
            executor.submit(tasks)
        assert caught.value.status == Status.ALIASING, caught.value
        assert np.isnan(out).all() and np.isnan(total).all()


def test_too_large_a_matmul_is_the_librarys_error(rng):
    """A product is never split: one larger than a binding is refused by the library."""
    with gpu_executor.Executor(max_chunk_elements=4096) as executor:
        a = floats(rng, (100, 100))
        task = ops.matmul(a, a, np.full((100, 100), np.nan, np.float32))
        with pytest.raises(GpuExecutorError) as caught:
            executor.submit(task)
        assert caught.value.status == Status.INVALID_ARGUMENT and "not split" in caught.value.message
        assert np.isnan(task.out).all()


# --- asynchronous ------------------------------------------------------------------------------


def test_async_tasks(executor, rng):
    x = floats(rng, (100, 30))
    expected_sum, magnitude = x.astype(np.float64).sum(), np.abs(x.astype(np.float64)).sum()
    expected = np.tanh(x.astype(np.float64))
    tasks = [ops.tanh(x), ops.sum(x)]
    ticket = executor.submit_async(tasks)
    x[:] = 0  # the inputs were copied
    outputs = [task.out for task in tasks]
    del tasks
    gc.collect()  # the ticket keeps the outputs alive
    assert ticket.wait()
    np.testing.assert_allclose(outputs[0], expected, atol=1e-5)
    assert abs(outputs[1][0] - expected_sum) <= 1e-5 * magnitude


# --- Batch.stacked_op ----------------------------------------------------------------------------


def test_stacked_op_equals_a_list_of_tasks(executor, rng, reader):
    x = floats(rng, (50, 16))
    xi = ints(rng, (50, 3, 4))
    a, b = floats(rng, (6, 5, 7)), floats(rng, (6, 3, 7))
    factors = rng.integers(-100, 100, 50)
    cases = [
        (("sqrt", np.abs(x), np.full_like(x, np.nan)), {}),
        ((Op.AXPY, (x, x[::-1]), np.full_like(x, np.nan), (-1.5,)), {}),
        (("scale", xi, np.zeros_like(xi), (factors,)), {}),
        (("clamp", xi[::2], np.zeros_like(xi[::2]), (np.int32(-5), 5)), {}),
        (("dot", (x, x), np.full(50, np.nan, np.float32)), {}),
        (("norm2", x[:, :8], np.full((50, 1), np.nan, np.float32)), {}),
        (("matmul", (a, b), np.full((6, 5, 3), np.nan, np.float32)), {"transpose_b": True}),
        (("add", (x[:0], x[:0]), x[:0].copy()), {}),
    ]
    for args, keywords in cases:
        op, inputs, out = args[:3]
        scalars = args[3] if len(args) > 3 else ()
        batch = gpu_executor.Batch.stacked_op(*args, **keywords)
        inputs = inputs if isinstance(inputs, tuple) else (inputs,)
        rows = [
            Task(op, [x[i, ...] for x in inputs], out[i, ...], [np.broadcast_to(s, (len(out),))[i] for s in scalars], **keywords)
            for i in range(len(out))
        ]
        np.testing.assert_array_equal(batch.task_array.view(np.uint8), _optasks._task_by_task(rows).view(np.uint8))
        executor.submit(batch)
    np.testing.assert_array_equal(cases[0][0][2], np.sqrt(np.abs(x)))
    np.testing.assert_array_equal(cases[2][0][2], xi * factors[:, None, None].astype(np.int32))
    np.testing.assert_allclose(cases[4][0][2], (x.astype(np.float64) ** 2).sum(axis=1), rtol=1e-5)
    np.testing.assert_allclose(cases[6][0][2], a.astype(np.float64) @ b.transpose(0, 2, 1), rtol=1e-5, atol=1e-2)


def test_bad_stacked_op(rng, reader):
    x, xi = floats(rng, (20, 8)), ints(rng, (20, 8))
    cases = [
        (lambda: Batch.stacked_op("sqrt", xi, xi.copy()), TypeError, "task 0: SQRT is not defined for int32"),
        (lambda: Batch.stacked_op("add", (x, xi), x.copy()), TypeError, "task 0: b has dtype int32 but a has float32"),
        (lambda: Batch.stacked_op("exp", x, _readonly(x)), ValueError, "task 0: out is read-only"),
        (lambda: Batch.stacked_op("exp", floats(rng, (20, 16))[:, ::2], x.copy()), ValueError, "task 0: a is not C-contiguous"),
        (lambda: Batch.stacked_op("scale", xi, xi.copy(), (2.5,)), TypeError, "task 0: SCALE scalar 0 must be an integer"),
        (lambda: Batch.stacked_op("scale", xi, xi.copy(), (np.r_[np.zeros(7, int), 2**40, np.zeros(12, int)],)), ValueError, "task 7: SCALE scalar 0 = 1099511627776 is out of int32 range"),
        (lambda: Batch.stacked_op("scale", xi, xi.copy(), (np.zeros(3),)), ValueError, "a scalar of a stacked SCALE is a number or holds one per task \\(20\\)"),
        (lambda: Batch.stacked_op("mean", x, np.empty((20, 2), np.float32)), ValueError, "task 0: out of MEAN must hold one element"),
        (lambda: Batch.stacked_op("add", (x, x[:10]), x.copy()), ValueError, "inputs and out must hold as many tasks \\(rows\\); they hold \\[20, 10, 20\\]"),
        (lambda: Batch.stacked_op("matmul", (x.reshape(20, 2, 4), x.reshape(20, 2, 4)), np.empty((20, 2, 4), np.float32)), ValueError, "task 0: MATMUL shapes do not match"),
        (lambda: Batch.stacked_op("matmul", (x, x), np.empty((20, 8), np.float32)), ValueError, "task 0: MATMUL takes 2-D arrays"),
        (lambda: Batch.stacked_op("add", (x, list(x)), x.copy()), TypeError, "b must be a numpy.ndarray \\(one row per task\\)"),
        (lambda: Batch.stacked_op("sqrt", np.float32(1), x.copy()), TypeError, "a must be a numpy.ndarray"),
        (lambda: Batch.stacked_op("sqrt", np.zeros((), np.float32), np.zeros((), np.float32)), ValueError, "a: a stacked array needs at least one dimension"),
        (lambda: Batch.stacked_op("sqrt", x, None), TypeError, "Batch.stacked_op needs out"),
        (lambda: Batch.stacked_op("sqrt", (x, x), x.copy()), TypeError, "SQRT takes 1 input"),
    ]
    for make, error, message in cases:
        with pytest.raises(error, match="^" + message):
            make()
    # Rows misaligned from row 1 on: a row stride that is not a multiple of 4 bytes.
    raw = np.zeros(20 * 34 + 64, np.uint8)
    rows = np.lib.stride_tricks.as_strided(raw.view(np.float32), shape=(20, 8), strides=(34, 4))
    with pytest.raises(ValueError, match="^task 1: out is not aligned"):
        Batch.stacked_op("neg", x, rows)
