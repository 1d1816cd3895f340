"""Batches built without a Python loop per task: tuples, lists of arrays, stacked arrays.

Each form is checked against the CPU on random data (bit-exact a + b), against the
task-by-task reference builder, and with every kind of bad input: the right exception,
naming the first bad task, and no output written. Everything runs with both ways of
reading the arrays' fields (their objects' memory, and their Python attributes).
"""

import gc
import sys

import numpy as np
import pytest

import gpu_executor
from gpu_executor import Batch, GpuExecutorError, Status, _tasks

from conftest import assert_bitwise_equal

READERS = {"objects": _tasks._read_objects, "public": _tasks._read_public}


@pytest.fixture(params=sorted(READERS))
def reader(request, monkeypatch):
    monkeypatch.setattr(_tasks, "_reader", READERS[request.param])
    return request.param


def floats(rng, shape):
    return rng.uniform(-100, 100, size=shape).astype(np.float32)


def nans(shape):
    return np.full(shape, np.nan, np.float32)


def reference(tasks):
    """The task array the task-by-task builder makes of (a, b, out) tuples."""
    return _tasks._task_by_task(list(tasks))


def same_tasks(batch, tasks):
    np.testing.assert_array_equal(batch.task_array.view(np.uint8), reference(tasks).view(np.uint8))


# --- the task array itself -------------------------------------------------------------------


def test_objects_reader_is_chosen_on_cpython():
    if sys.implementation.name != "cpython":
        pytest.skip("reads object memory on CPython only")
    assert _tasks._choose_reader() is _tasks._read_objects


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # numpy.matrix
def test_readers_agree_on_all_kinds_of_arrays(rng):
    base = np.zeros(4096, np.uint8)
    metadata_f32 = np.dtype(np.float32, metadata={"unit": "m"})  # float32, another object
    arrays = [
        floats(rng, 10),
        floats(rng, (3, 4)),
        floats(rng, (2, 3, 4, 5)),
        floats(rng, (2, 0, 3)),
        floats(rng, ()),
        floats(rng, 20)[::2],
        floats(rng, (4, 6)).T,
        floats(rng, (4, 6))[:, :3],
        base[1:41].view(np.float32),
        np.zeros(5, np.float64),
        np.zeros(5, ">f4"),
        np.zeros(5, np.int32),
        np.zeros(5, metadata_f32),
        np.ma.masked_array(floats(rng, 3)),
        np.asmatrix(floats(rng, (2, 2))),
        np.lib.stride_tricks.as_strided(floats(rng, 8), shape=(4, 4), strides=(4, 4)),
    ]
    readonly = floats(rng, 3)
    readonly.flags.writeable = False
    arrays.append(readonly)
    metadata_u32 = np.dtype(np.uint32, metadata={"unit": "m"})
    arrays += [np.zeros(3, np.uint32), np.zeros(2, metadata_u32), np.zeros(4, ">u4"), np.zeros((2, 2), np.int32)]
    for subset in [arrays, arrays[:9], [arrays[12]], [arrays[12], arrays[0]], arrays[-4:], []]:
        for types in (False, True):
            objects, public = _tasks._read_objects(subset, types), _tasks._read_public(subset, types)
            assert _tasks._same_fields(objects, public)
    assert _tasks._read_objects([arrays[12]] * 3).float32
    assert not _tasks._read_objects(arrays[:10]).float32
    # Type codes: gpu_dtype_t of float32, int32 and uint32 (any descriptor object), else -1.
    codes = _tasks._read_objects(arrays, types=True).types
    assert codes.tolist() == [0] * 9 + [-1, -1, 1, 0, 0, 0, 0, 0, 2, 2, -1, 1]


def test_task_arrays_equal_the_reference(rng, reader):
    sizes = [0, 1, 5, 16, 1000, 3]
    tasks = [(floats(rng, n), floats(rng, n), nans(n)) for n in sizes]
    same_tasks(Batch(tasks), tasks)
    same_tasks(Batch.from_lists(*zip(*tasks)), tasks)
    a, b, out = floats(rng, (7, 3, 5)), floats(rng, (7, 3, 5)), nans((7, 3, 5))
    same_tasks(Batch.stacked(a, b, out), list(zip(a, b, out)))
    batch = Batch.stacked(a, b, out)
    assert len(batch) == 7 and "7 tasks" in repr(batch)
    assert batch.task_array.dtype == gpu_executor.TASK_DTYPE
    assert not batch.task_array.flags.writeable
    assert (batch.task_array["op"] == gpu_executor.Op.VECTOR_ADD).all()
    assert (batch.task_array["length"] == 15).all()
    assert (batch.task_array["flags"] == 0).all() and (batch.task_array["params"] == 0).all()
    assert (batch.task_array["inputs"][:, 2:] == 0).all()
    assert len(Batch()) == 0 and len(Batch([])) == 0
    assert len(Batch.stacked(*(np.zeros((0, 4), np.float32) for _ in range(3)))) == 0


# --- results against the CPU -----------------------------------------------------------------


def test_tuples(executor, rng, reader):
    tasks = [(floats(rng, n), floats(rng, n), nans(n)) for n in rng.integers(0, 3000, 300)]
    tasks += [(floats(rng, (3, 7)), floats(rng, (3, 7)), nans((3, 7))), [floats(rng, 2), floats(rng, 2), nans(2)]]
    executor.submit(tasks)
    for a, b, out in tasks:
        assert_bitwise_equal(out, a + b)


def test_lists(executor, rng, reader):
    sizes = rng.integers(0, 3000, 300)
    a = [floats(rng, n) for n in sizes]
    b = [floats(rng, n) for n in sizes]
    out = [nans(n) for n in sizes]
    executor.submit(Batch.from_lists(a, b, out))
    for x, y, z in zip(a, b, out):
        assert_bitwise_equal(z, x + y)
    # Any iterables; an ndarray stands for its rows; inputs may alias each other.
    rows = floats(rng, (4, 50))
    out = [nans(50) for _ in range(4)]
    executor.submit(Batch.from_lists(iter(list(rows)), rows, tuple(out)))
    for row, z in zip(rows, out):
        assert_bitwise_equal(z, row + row)


@pytest.mark.parametrize("shape", [(1000, 16), (300, 1000), (1, 5), (64, 3, 7), (50,), (10, 0)])
def test_stacked(executor, rng, reader, shape):
    a, b, out = floats(rng, shape), floats(rng, shape), nans(shape)
    executor.submit(Batch.stacked(a, b, out))
    assert_bitwise_equal(out, a + b)


def test_stacked_views(executor, rng, reader):
    big = floats(rng, (200, 40))
    b = floats(rng, (200, 16))
    out = nans((200, 40))
    # Rows C-contiguous, the arrays not: columns 0-15 of each row, rows reversed.
    executor.submit(Batch.stacked(big[:, :16], b, out[:, 8:24]))
    assert_bitwise_equal(out[:, 8:24], big[:, :16] + b)
    assert np.isnan(out[:, :8]).all() and np.isnan(out[:, 24:]).all()
    out2 = nans((200, 16))
    executor.submit(Batch.stacked(big[::-1, 4:20], b[::-1], out2[::-1]))
    assert_bitwise_equal(out2, big[:, 4:20] + b)
    # Every other row.
    out3 = nans((100, 40))
    executor.submit(Batch.stacked(big[::2], big[1::2], out3))
    assert_bitwise_equal(out3, big[::2] + big[1::2])


def test_a_batch_is_reusable_and_async(executor, rng, reader):
    a, b, out = floats(rng, (100, 64)), floats(rng, (100, 64)), nans((100, 64))
    batch = Batch.stacked(a, b, out)
    executor.submit(batch)
    assert_bitwise_equal(out, a + b)
    a += 1  # in place: the batch points at the same memory
    executor.submit(batch)
    assert_bitwise_equal(out, a + b)
    a -= 3
    ticket = executor.submit_async(Batch(batch))
    del batch
    gc.collect()  # the ticket keeps the batch, and so out, alive
    assert ticket.wait()
    assert_bitwise_equal(out, a + b)


def test_ticket_keeps_a_lists_batch_alive(executor, rng, reader):
    a = [floats(rng, 100) for _ in range(20)]
    ticket = executor.submit_async(Batch.from_lists(a, a, [nans(100) for _ in range(20)]))
    batch_outputs = ticket._outputs[0]._keep[2]
    gc.collect()
    assert ticket.wait()
    for x, z in zip(a, batch_outputs):
        assert_bitwise_equal(z, x + x)


# --- bad inputs --------------------------------------------------------------------------------

def _misaligned(x):
    raw = np.zeros(x.nbytes + 4, np.uint8)
    view = raw[1 : 1 + x.nbytes].view(np.float32)
    assert not view.flags.aligned
    return view


def _readonly(x):
    x = x.copy()
    x.flags.writeable = False
    return x


BAD_ARRAYS = {
    # name: (make(good array) -> bad array, exception, message, roles it applies to)
    "float64": (lambda x: x.astype(np.float64), TypeError, "has dtype '<f8'", "a b out"),
    "big-endian": (lambda x: x.astype(">f4"), TypeError, "has dtype '>f4'", "a b out"),
    "list": (lambda x: x.tolist(), TypeError, "must be a numpy.ndarray", "a b out"),
    "strided": (lambda x: np.repeat(x, 2)[::2], ValueError, "not C-contiguous", "a b out"),
    "misaligned": (_misaligned, ValueError, "not aligned", "a b out"),
    "read-only": (_readonly, ValueError, "read-only", "out"),
    "shape": (lambda x: np.zeros(x.size + 1, np.float32), ValueError, "shapes differ", "a b out"),
}


def make_tasks(rng, count, size=8):
    return [(floats(rng, size), floats(rng, size), nans(size)) for _ in range(count)]


def outputs(tasks):
    """Copies of the tasks' outputs that are arrays, to compare with after a rejection."""
    return [(out, out.copy()) for *_, out in tasks if isinstance(out, np.ndarray)]


def assert_untouched(snapshot):
    for out, before in snapshot:
        np.testing.assert_array_equal(out, before)


@pytest.mark.parametrize("form", ["tuples", "lists"])
@pytest.mark.parametrize("kind", sorted(BAD_ARRAYS))
def test_bad_array_names_its_task(executor, rng, reader, form, kind):
    make, error, message, roles = BAD_ARRAYS[kind]
    for role in roles.split():
        for bad_index in (0, 6, 11):
            tasks = make_tasks(rng, 12)
            tasks[bad_index] = tuple(
                make(x) if r == role else x for r, x in zip(("a", "b", "out"), tasks[bad_index])
            )
            # A later task is bad too: the first one is reported.
            tasks[-1] = (tasks[-1][0], tasks[-1][1], _readonly(tasks[-1][2])) if bad_index < 11 else tasks[-1]
            expected = f"task {bad_index}: " + ("" if kind == "shape" else f"{role} ")
            build = (lambda: Batch(tasks)) if form == "tuples" else (lambda: Batch.from_lists(*zip(*tasks)))
            snapshot = outputs(tasks)
            with pytest.raises(error, match="^" + expected + ".*" + message.replace("(", r"\(")):
                build()
            with pytest.raises(error, match="^" + expected):
                executor.submit(tasks if form == "tuples" else build())
            with pytest.raises(error, match="^" + expected):
                executor.submit_async(tasks if form == "tuples" else build())
            assert_untouched(snapshot)


def test_bad_task_items_name_their_task(rng, reader):
    for bad in [(1, 2), "abc", {"a": 1, "b": 2, "out": 3}, None, (np.zeros(2, np.float32),) * 4]:
        tasks = make_tasks(rng, 5)
        tasks[3] = bad
        snapshot = outputs(tasks[:3])
        with pytest.raises(TypeError, match="^task 3: expected a tuple"):
            Batch(tasks)
        assert_untouched(snapshot)


def test_bad_stacked_arrays(executor, rng, reader):
    shape = (20, 16)
    a, b, out = floats(rng, shape), floats(rng, shape), nans(shape)
    cases = [
        ((a.astype(np.float64), b, out), TypeError, "task 0: a has dtype '<f8'"),
        ((a, b.astype(">f4"), out), TypeError, "task 0: b has dtype '>f4'"),
        ((a, b, out.astype(np.float16)), TypeError, "task 0: out has dtype '<f2'"),
        ((a, b, _readonly(out)), ValueError, "task 0: out is read-only"),
        ((floats(rng, (20, 32))[:, ::2], b, out), ValueError, "task 0: a is not C-contiguous"),
        ((a, floats(rng, (16, 20)).T, out), ValueError, "task 0: b is not C-contiguous"),
        ((_misaligned(a).reshape(shape), b, out), ValueError, "task 0: a is not aligned"),
        ((a, b, floats(rng, (20, 17))), ValueError, "task 0: shapes differ"),
        ((a, b, floats(rng, (20, 4, 4))), ValueError, "task 0: shapes differ"),
        ((a, b, nans((21, 16))), ValueError, "a, b and out must hold as many tasks; they hold 20, 20 and 21"),
        ((a, b, list(out)), TypeError, "out must be a numpy.ndarray"),
        ((a, b, np.float32(1)), TypeError, "out must be a numpy.ndarray"),
        ((a, np.zeros((), np.float32), out), ValueError, "b: a stacked array needs at least one dimension"),
    ]
    for (x, y, z), error, message in cases:
        with pytest.raises(error, match="^" + message.replace("(", r"\(")):
            Batch.stacked(x, y, z)
    assert np.isnan(out).all()
    # Rows misaligned from row 1 on: a row stride that is not a multiple of 4 bytes.
    raw = np.zeros(20 * 66 + 64, np.uint8)
    rows = np.lib.stride_tricks.as_strided(raw.view(np.float32), shape=shape, strides=(66, 4))
    with pytest.raises(ValueError, match="^task 1: out is not aligned"):
        Batch.stacked(a, b, rows)
    # Overlapping output rows: the library refuses, nothing is written.
    overlapping = np.lib.stride_tricks.as_strided(out, shape=shape, strides=(32, 4))
    with pytest.raises(GpuExecutorError) as caught:
        executor.submit(Batch.stacked(a, b, overlapping))
    assert caught.value.status == Status.ALIASING
    with pytest.raises(GpuExecutorError) as caught:
        executor.submit(Batch.stacked(a, b, a))
    assert caught.value.status == Status.ALIASING
    assert np.isnan(out).all()


def test_bad_lists(rng, reader):
    a = [floats(rng, 4) for _ in range(3)]
    with pytest.raises(ValueError, match="as many tasks; they hold 3, 2 and 3"):
        Batch.from_lists(a, a[:2], [nans(4) for _ in range(3)])
    with pytest.raises(TypeError):
        Batch.from_lists(a, a, None)
    with pytest.raises(TypeError, match="^task 0: out must be a numpy.ndarray"):
        Batch.from_lists(a, a, "xyz")


def test_float32_dtype_objects_other_than_the_usual_one(executor, rng, reader):
    dtype = np.dtype(np.float32, metadata={"unit": "m"})
    tasks = make_tasks(rng, 4)
    tasks[2] = tuple(x.astype(dtype) for x in tasks[2])
    assert tasks[2][2].dtype is not np.dtype(np.float32)
    executor.submit(tasks)
    for a, b, out in tasks:
        np.testing.assert_array_equal(out.view(np.uint32), (a + b).view(np.uint32))
