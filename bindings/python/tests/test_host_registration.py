"""Registered host memory: Executor.register_host_memory / unregister_host_memory, against
the real library (lavapipe offers VK_EXT_external_memory_host, so the import is real).

- Batches whose arrays lie in registered memory give NumPy's results, bit for bit where the
  op is exact, and the same results as the same batch with nothing registered; the
  counters say exactly which operands the GPU moved in place, and that nothing of them went
  through staging.
- Any dtype, any object with the buffer protocol; asynchronous batches; unregistering
  waits for batches in flight; threads registering their own arrays on one executor.
- The executor keeps every registered object alive until it is unregistered or the
  executor destroyed, and not a moment less.
- Every error: overlaps, unregistering what is not registered, empty, read-only,
  non-contiguous and unfit objects, a closed executor, and UNSUPPORTED on a device opened
  without the extension.
"""

import array
import gc
import os
import subprocess
import sys
import textwrap
import threading
import weakref

import numpy as np
import pytest

import gpu_executor
from gpu_executor import Executor, GpuExecutorError, Status, ops

from conftest import assert_bitwise_equal, random_task

# The product's shape in the mixed batch (odd on purpose).
M, K, N = 33, 17, 29


def registered(ex):
    """(regions, bytes, operands) from the stats."""
    stats = ex.stats()
    return stats["registered_host_regions"], stats["registered_host_bytes"], stats["registered_host_operands"]


def check_product(a, b, out):
    exact = a.astype(np.float64) @ b.astype(np.float64)
    magnitude = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))
    bound = 4 * a.shape[1] * np.finfo(np.float32).eps * magnitude + 1e-30
    error = np.abs(out - exact)
    assert np.all(error <= bound), f"{a.shape} x {b.shape}: worst error {error.max()}"


def check_sum(total, values):
    exact = values.astype(np.float64).sum()
    scale = np.abs(values.astype(np.float64)).sum()
    assert abs(float(total[0]) - exact) <= 1e-5 * scale + 1e-30, f"sum {total[0]} vs {exact}"


def mixed_batch(ex, seed, n_add, n_sum, register):
    """One batch over arrays in one block of memory (filled from `seed`): a + b wholly in the
    block, a + host_b into a host output, a sum over an array in the block (its one result
    on the host), and a matmul wholly in the block. With `register`, the block is registered
    first and unregistered after. Checks every result against NumPy; returns copies of them."""
    rng = np.random.default_rng(seed)
    lengths = [n_add, n_add, n_add, n_sum, M * K, K * N, M * N]
    offsets, at = [], 3  # not page-aligned: registration widens the range to whole pages
    for length in lengths:
        offsets.append(at)
        at += length + 5
    block = rng.uniform(-100, 100, at).astype(np.float32)
    a, b, add_out, sum_in, mat_a, mat_b, mat_c = (block[o:o + n] for o, n in zip(offsets, lengths))
    mat_a, mat_b, mat_c = mat_a.reshape(M, K), mat_b.reshape(K, N), mat_c.reshape(M, N)
    add_out.fill(np.nan)
    mat_c.fill(np.nan)
    host_b = rng.uniform(-100, 100, n_add).astype(np.float32)
    host_out = np.full(n_add, np.nan, np.float32)
    total = np.full(1, np.nan, np.float32)
    if register:
        ex.register_host_memory(block)
        assert registered(ex)[:2] == (1, block.nbytes)
    ex.submit([
        ops.add(a, b, add_out),
        ops.add(a, host_b, host_out),
        ops.sum(sum_in, total),
        ops.matmul(mat_a, mat_b, mat_c),
    ])
    if register:
        ex.unregister_host_memory(block)
        assert registered(ex)[:2] == (0, 0)
    assert_bitwise_equal(add_out, a + b)
    assert_bitwise_equal(host_out, a + host_b)
    check_sum(total, sum_in)
    check_product(mat_a, mat_b, mat_c)
    return add_out.copy(), host_out.copy(), total.copy(), mat_c.copy()


@pytest.mark.parametrize("n_add, n_sum", [(1, 7), (4096, 100_003), (250_001, 3)])
def test_registered_arrays_give_the_results_copied_arrays_give(executor, n_add, n_sum):
    before = executor.stats()
    copied = mixed_batch(executor, 7, n_add, n_sum, register=False)
    middle = executor.stats()
    assert middle["registered_host_operands"] == before["registered_host_operands"] == 0
    in_place = mixed_batch(executor, 7, n_add, n_sum, register=True)
    after = executor.stats()
    for got, want in zip(in_place, copied):
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    # In place: the first add's three arrays, the second add's first input, the sum's
    # input (its result is a host output), the product's three arrays.
    assert after["registered_host_operands"] - middle["registered_host_operands"] == 8
    assert (after["registered_host_regions"], after["registered_host_bytes"]) == (0, 0)
    # Nothing of the registered arrays went through staging: only host_b.
    assert after["bytes_uploaded"] - middle["bytes_uploaded"] == 4 * n_add


def test_a_task_wholly_in_registered_memory_runs_straight_on_it(executor, rng):
    n = 50_000
    memory = rng.uniform(-100, 100, 3 * n).astype(np.float32)
    a, b, out = memory[:n], memory[n:2 * n], memory[2 * n:]
    out.fill(np.nan)
    expected = a + b
    assert registered(executor) == (0, 0, 0)
    executor.register_host_memory(memory)
    assert registered(executor) == (1, 12 * n, 0)
    executor.submit([(a, b, out)])
    stats = executor.stats()
    assert stats["registered_host_operands"] == 3
    assert stats["bytes_uploaded"] == 0
    assert stats["bytes_read_back"] == 0
    assert stats["direct_dispatches"] == 1
    assert_bitwise_equal(out, expected)
    # Registered memory is reusable: the same batch again, on new data.
    memory[: 2 * n] = rng.uniform(-100, 100, 2 * n).astype(np.float32)
    out.fill(np.nan)
    executor.submit([(a, b, out)])
    assert_bitwise_equal(out, a + b)
    assert registered(executor) == (1, 12 * n, 6)
    executor.unregister_host_memory(memory)
    assert registered(executor) == (0, 0, 6)
    assert executor.stats()["bytes_uploaded"] == 0


@pytest.mark.parametrize("dtype", [np.int32, np.uint32])
def test_integer_arrays_in_registered_memory(executor, rng, dtype):
    n = 10_007
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
    b = rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
    out = np.zeros(n, dtype)
    for x in (a, b, out):
        executor.register_host_memory(x)
    assert registered(executor) == (3, 3 * 4 * n, 0)
    executor.submit([ops.mul(a, b, out)])
    np.testing.assert_array_equal(out, a * b)  # wraps around, as NumPy's
    executor.submit([ops.sub(out, a, b)])      # b is an output now
    np.testing.assert_array_equal(b, out - a)
    assert registered(executor) == (3, 3 * 4 * n, 6)
    for x in (b, out, a):
        executor.unregister_host_memory(x)
    assert registered(executor) == (0, 0, 6)


def test_objects_with_the_buffer_protocol(executor, rng):
    n = 4099
    data = rng.uniform(-100, 100, 2 * n).astype(np.float32)
    raw = bytearray(data.tobytes() + bytes(4 * n))   # a, b, then room for out
    executor.register_host_memory(raw)
    assert registered(executor) == (1, 12 * n, 0)
    # Registered, the bytearray cannot be resized (its memory would move under the GPU).
    with pytest.raises(BufferError):
        raw.extend(b"\0" * 4096)
    view = np.frombuffer(raw, np.float32)
    a, b, out = view[:n], view[n:2 * n], view[2 * n:]
    executor.submit([(a, b, out)])
    assert_bitwise_equal(out, data[:n] + data[n:])
    assert registered(executor)[2] == 3
    executor.unregister_host_memory(raw)
    assert registered(executor) == (0, 0, 3)
    del view, a, b, out
    raw.extend(b"\0" * 4)  # free again
    assert len(raw) == 12 * n + 4

    # array.array and a memoryview of a NumPy array register their own memory.
    floats = array.array("f", data[:n].tolist())
    result = np.full(n, np.nan, np.float32)
    executor.register_host_memory(floats)
    executor.register_host_memory(memoryview(result))
    assert registered(executor)[:2] == (2, 8 * n)
    source = np.frombuffer(floats, np.float32)
    executor.submit([ops.scale(source, 2.0, result)])
    assert_bitwise_equal(result, data[:n] * np.float32(2.0))
    assert registered(executor)[2] == 5
    executor.unregister_host_memory(result)   # the array itself: the same address
    executor.unregister_host_memory(floats)
    assert registered(executor)[:2] == (0, 0)


def test_asynchronous_batches_write_registered_outputs_by_their_wait(executor, rng):
    n = 70_001
    a, b, _ = random_task(rng, n)
    outs = [np.full(n, np.nan, np.float32) for _ in range(4)]
    for out in outs:
        executor.register_host_memory(out)
    tickets = [executor.submit_async([(a, b, out)]) for out in outs]
    for ticket in reversed(tickets):
        assert ticket.wait() is True
    for out in outs:
        assert_bitwise_equal(out, a + b)
        executor.unregister_host_memory(out)
    assert registered(executor) == (0, 0, 4)


def test_unregistering_waits_for_batches_in_flight(executor, rng):
    n = 300_000
    a, b, out = random_task(rng, n)
    executor.register_host_memory(out)
    ticket = executor.submit_async([(a, b, out)])
    # The GPU has finished writing `out` once this returns, ticket or not.
    executor.unregister_host_memory(out)
    assert_bitwise_equal(out, a + b)
    assert ticket.wait() is True
    assert_bitwise_equal(out, a + b)
    # Unregistered: the next batch copies through staging.
    again = np.full(n, np.nan, np.float32)
    before = executor.stats()
    executor.submit([(a, b, again)])
    after = executor.stats()
    assert after["registered_host_operands"] == before["registered_host_operands"] == 1
    assert after["bytes_uploaded"] - before["bytes_uploaded"] == 8 * n
    assert_bitwise_equal(again, a + b)


def test_an_array_straddling_two_registrations_is_copied(executor, rng):
    n = 1000
    memory = rng.uniform(-100, 100, 2 * n).astype(np.float32)
    first, second = memory[:n], memory[n:]
    executor.register_host_memory(first)
    executor.register_host_memory(second)  # side by side, in the same pages: fine
    assert registered(executor) == (2, 8 * n, 0)
    straddling = memory[n // 2:n // 2 + n]
    out = np.full(n, np.nan, np.float32)
    executor.submit([(straddling, first, out)])
    assert_bitwise_equal(out, straddling + first)
    assert registered(executor)[2] == 1  # only `first` was found registered
    executor.unregister_host_memory(second)
    executor.unregister_host_memory(first)


def test_threads_register_run_and_unregister_their_own_arrays(executor):
    threads, rounds, n = 4, 5, 20_000
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(rounds):
                memory = rng.uniform(-100, 100, 3 * n).astype(np.float32)
                a, b, out = memory[:n], memory[n:2 * n], memory[2 * n:]
                out.fill(np.nan)
                executor.register_host_memory(memory)
                executor.submit([(a, b, out)])
                executor.unregister_host_memory(memory)
                np.testing.assert_array_equal(out.view(np.uint32), (a + b).view(np.uint32))
        except BaseException as error:  # reported below, with the thread's seed
            errors.append((seed, error))

    workers = [threading.Thread(target=work, args=(seed,)) for seed in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert registered(executor) == (0, 0, 3 * threads * rounds)
    assert executor._registered == {}


# --- lifetime ----------------------------------------------------------------------------


def test_the_executor_keeps_registered_arrays_alive_until_unregistered(executor, rng):
    n = 10_000
    memory = rng.uniform(-100, 100, 3 * n).astype(np.float32)
    probe = weakref.ref(memory)
    executor.register_host_memory(memory)
    a, b, out = (np.frombuffer(memory, np.float32, n, 4 * n * k) for k in range(3))
    del memory
    gc.collect()
    assert probe() is not None  # held by the executor (and the views)
    out.fill(np.nan)
    executor.submit([(a, b, out)])
    assert_bitwise_equal(out, a + b)
    del a, b, out
    gc.collect()
    assert probe() is not None  # the executor's reference alone
    executor.unregister_host_memory(probe())
    gc.collect()
    assert probe() is None
    assert registered(executor) == (0, 0, 3)


def test_closing_drops_the_arrays_only_after_the_executor_is_destroyed(rng, monkeypatch):
    ex = Executor()
    n = 10_000
    a, b, out = random_task(rng, n)
    expected = a + b
    for x in (a, b, out):
        ex.register_host_memory(x)
    # The ticket is dropped at once (its batch, and its references, with it): the batch is
    # abandoned by close(), but the GPU writes `out`, registered, in place all the same.
    ex.submit_async([(a, b, out)])
    probes = [weakref.ref(a), weakref.ref(b)]
    del a, b
    gc.collect()
    assert all(p() is not None for p in probes)  # the executor's references alone

    seen = []
    real_lib = ex._lib

    class DestroySpy:
        """The library, noting whether the arrays were still held when destroy ran."""

        def __getattr__(self, name):
            return getattr(real_lib, name)

        def gpu_executor_destroy(self, handle):
            seen.append(("before", [p() is not None for p in probes]))
            real_lib.gpu_executor_destroy(handle)
            seen.append(("after", [p() is not None for p in probes]))

    monkeypatch.setattr(ex, "_lib", DestroySpy())
    ex.close()
    assert seen == [("before", [True, True]), ("after", [True, True])]
    gc.collect()
    assert all(p() is None for p in probes)
    # Destroy let the batch finish and released the memory before returning.
    assert_bitwise_equal(out, expected)
    ex.close()  # idempotent
    assert ex._registered == {}


def test_garbage_collecting_the_executor_releases_registered_arrays(rng):
    ex = Executor()
    memory = rng.uniform(-1, 1, 4096).astype(np.float32)
    probe = weakref.ref(memory)
    ex.register_host_memory(memory)
    del memory
    gc.collect()
    assert probe() is not None
    del ex
    gc.collect()
    assert probe() is None


# --- errors ------------------------------------------------------------------------------


def expect(status, call, *args, match=""):
    with pytest.raises(GpuExecutorError) as caught:
        call(*args)
    assert caught.value.status is status, caught.value
    assert match in caught.value.message, caught.value.message


def test_overlapping_registrations_are_refused(executor, rng):
    memory = rng.uniform(-100, 100, 8192).astype(np.float32)
    executor.register_host_memory(memory[1024:5120])
    state = registered(executor)
    assert state == (1, 4 * 4096, 0)
    # The same range, inside it, straddling either end, around it.
    for overlapping in (memory[1024:5120], memory[2000:2010], memory[1000:1100],
                        memory[5119:6000], memory):
        expect(Status.INVALID_ARGUMENT, executor.register_host_memory, overlapping, match="overlap")
        assert registered(executor) == state
    # Side by side is no overlap.
    executor.register_host_memory(memory[:1024])
    executor.register_host_memory(memory[5120:])
    assert registered(executor) == (3, 4 * 8192, 0)
    assert len(executor._registered) == 3
    for part in (memory[:1024], memory[1024:5120], memory[5120:]):
        executor.unregister_host_memory(part)
    assert registered(executor) == (0, 0, 0)
    assert executor._registered == {}


def test_unregistering_what_is_not_registered_is_refused(executor, rng):
    memory = rng.uniform(-100, 100, 4096).astype(np.float32)
    expect(Status.INVALID_ARGUMENT, executor.unregister_host_memory, memory)  # never
    executor.register_host_memory(memory)
    expect(Status.INVALID_ARGUMENT, executor.unregister_host_memory, memory[1:])  # inside
    expect(Status.INVALID_ARGUMENT, executor.unregister_host_memory, np.empty_like(memory))
    assert registered(executor) == (1, 4 * 4096, 0)
    assert len(executor._registered) == 1
    executor.unregister_host_memory(memory[:10])  # starts where it starts: unregisters it
    assert registered(executor) == (0, 0, 0)
    assert executor._registered == {}
    expect(Status.INVALID_ARGUMENT, executor.unregister_host_memory, memory)  # twice
    # A read-only array can name memory to unregister (only registering needs writes).
    executor.register_host_memory(memory)
    memory.flags.writeable = False
    executor.unregister_host_memory(memory)
    assert registered(executor) == (0, 0, 0)


def test_unfit_arrays_are_refused_before_the_library(executor, rng):
    memory = rng.uniform(-100, 100, 4096).astype(np.float32)
    readonly = memory.copy()
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        executor.register_host_memory(readonly)
    with pytest.raises(ValueError, match="read-only"):
        executor.register_host_memory(b"\0" * 4096)
    with pytest.raises(ValueError, match="C-contiguous"):
        executor.register_host_memory(memory[::2])
    with pytest.raises(ValueError, match="C-contiguous"):
        executor.register_host_memory(memory.reshape(64, 64).T)
    with pytest.raises(ValueError, match="C-contiguous"):
        executor.unregister_host_memory(memory[::2])
    for unfit in ([1.0, 2.0], 42, None, "text"):
        with pytest.raises(TypeError, match="buffer protocol"):
            executor.register_host_memory(unfit)
        with pytest.raises(TypeError, match="buffer protocol"):
            executor.unregister_host_memory(unfit)
    # Empty: the library's INVALID_ARGUMENT (nothing to register).
    expect(Status.INVALID_ARGUMENT, executor.register_host_memory, np.empty(0, np.float32))
    expect(Status.INVALID_ARGUMENT, executor.register_host_memory, memory[:0])
    assert registered(executor) == (0, 0, 0)
    assert executor._registered == {}


def test_a_closed_executor_refuses(rng):
    memory = rng.uniform(-100, 100, 1024).astype(np.float32)
    ex = Executor()
    ex.close()
    with pytest.raises(ValueError, match="closed"):
        ex.register_host_memory(memory)
    with pytest.raises(ValueError, match="closed"):
        ex.unregister_host_memory(memory)
    assert ex._registered == {}


def test_unsupported_status():
    assert Status.UNSUPPORTED == 26 and Status(26) is Status.UNSUPPORTED
    assert gpu_executor.status_string(Status.UNSUPPORTED)
    error = GpuExecutorError(26, "no VK_EXT_external_memory_host")
    assert error.status is Status.UNSUPPORTED and error.status_name == "UNSUPPORTED"


UNSUPPORTED_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from gpu_executor import Executor, GpuExecutorError, Status

    rng = np.random.default_rng(4)
    a = rng.uniform(-100, 100, 10_000).astype(np.float32)
    b = rng.uniform(-100, 100, 10_000).astype(np.float32)
    out = np.full(10_000, np.nan, np.float32)
    with Executor() as ex:
        try:
            ex.register_host_memory(a)
        except GpuExecutorError as error:
            assert error.status is Status.UNSUPPORTED, error
            assert "VK_EXT_external_memory_host" in error.message, error.message
        else:
            raise AssertionError("registered on a device without the extension")
        assert ex._registered == {}
        try:
            ex.unregister_host_memory(a)
        except GpuExecutorError as error:
            assert error.status is Status.INVALID_ARGUMENT, error
        else:
            raise AssertionError("unregistered what was never registered")
        ex.submit([(a, b, out)])  # still runs, copying
        assert np.array_equal(out.view(np.uint32), (a + b).view(np.uint32))
        stats = ex.stats()
        assert (stats["registered_host_regions"], stats["registered_host_operands"]) == (0, 0), stats
        assert stats["bytes_uploaded"] == 80_000, stats["bytes_uploaded"]
    print("unsupported: ok")
    """
)


def test_a_device_without_host_import_is_unsupported(tmp_path):
    # GPU_EXECUTOR_HOST_IMPORT=0 opens devices without the extension, as on drivers that
    # lack it; it is read per process, so the check runs in a fresh interpreter.
    script = tmp_path / "unsupported.py"
    script.write_text(UNSUPPORTED_SCRIPT)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(gpu_executor.__file__)))
    env = dict(os.environ, GPU_EXECUTOR_HOST_IMPORT="0")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    env.pop("GPU_EXECUTOR_LOG", None)
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "unsupported: ok"
