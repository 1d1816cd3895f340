"""The Executor API against the real library: results, chunking, counters, errors."""

import pickle
import threading

import numpy as np
import pytest

import gpu_executor
from gpu_executor import ops
from gpu_executor import Executor, GpuExecutorError, Status, Strategy

from conftest import assert_bitwise_equal, random_task

MIXED_SIZES = [0, 1, 3, 4, 5, 63, 64, 1000, 4096, 4097, 16384, 16385, 100_000]


def mixed_batch(rng, extra=20, max_len=40_000):
    sizes = MIXED_SIZES + [int(n) for n in rng.integers(0, max_len, size=extra)]
    rng.shuffle(sizes)
    return [random_task(rng, n) for n in sizes]


def check_results(tasks):
    for a, b, out in tasks:
        assert_bitwise_equal(out, a + b)


def test_version():
    assert gpu_executor.version() == gpu_executor.__version__
    assert gpu_executor.status_string(Status.OK)
    assert gpu_executor.library_path()


@pytest.mark.parametrize("strategy", ["bucketed", "baseline"])
def test_random_mixed_batch_matches_numpy(strategy, rng):
    with Executor(strategy=strategy) as ex:
        for _ in range(3):
            tasks = mixed_batch(rng)
            ex.submit(tasks)
            check_results(tasks)
        stats = ex.stats()
        assert stats["strategy"] == Strategy[strategy.upper()]
        assert stats["batches"] == 3
        assert stats["tasks"] == 3 * (len(MIXED_SIZES) + 20)


@pytest.mark.parametrize("strategy", ["bucketed", "baseline"])
def test_single_tasks_and_shapes(strategy, rng):
    with Executor(strategy=strategy) as ex:
        for shape in [(7,), (3, 50), (2, 3, 4), (), (100_003,), (0, 5)]:
            task = random_task(rng, shape)
            ex.submit([task])
            check_results([task])
            ex.submit([task])  # again: exact-size cache hit under "bucketed"
            check_results([task])


def test_inputs_may_alias_each_other(executor, rng):
    a, _, out = random_task(rng, 1000)
    executor.submit([(a, a, out)])
    assert_bitwise_equal(out, a + a)
    # Disjoint views of one buffer are fine too.
    buf = rng.uniform(-1, 1, size=3000).astype(np.float32)
    executor.submit([(buf[:1000], buf[1000:2000], buf[2000:])])
    np.testing.assert_array_equal(buf[2000:], buf[:1000] + buf[1000:2000])


def test_accepts_generators_and_lists(executor, rng):
    tasks = [random_task(rng, n) for n in (10, 20, 30)]
    executor.submit(t for t in tasks)
    check_results(tasks)
    tasks = [list(random_task(rng, 5))]
    executor.submit(tasks)
    check_results(tasks)


def test_add(executor, rng):
    a, b, _ = random_task(rng, (4, 1000))
    out = executor.add(a, b)
    assert out.dtype == np.float32 and out.shape == (4, 1000)
    assert_bitwise_equal(out, a + b)
    # Convenience: lists and non-contiguous inputs are converted.
    assert_bitwise_equal(executor.add([1, 2, 3], [4.5, 5, 6]), np.array([5.5, 7, 9], np.float32))
    big = rng.uniform(size=2000).astype(np.float32)
    assert_bitwise_equal(executor.add(big[::2], big[1::2]), big[::2] + big[1::2])
    assert executor.add(np.zeros(0, np.float32), np.zeros(0, np.float32)).shape == (0,)
    with pytest.raises(ValueError, match="shapes differ"):
        executor.add(np.zeros(3, np.float32), np.zeros(4, np.float32))


def test_chunking(rng):
    with Executor(max_chunk_elements=4096) as ex:
        sizes = [10_000, 4096 * 3 + 5, 4096, 4097, 10, 0, 100_000]
        tasks = [random_task(rng, n) for n in sizes]
        ex.submit(tasks)
        check_results(tasks)
        # Every slab (one dispatch) holds at most 4096 elements.
        assert ex.stats()["dispatches"] >= -(-sum(sizes) // 4096)
        # A single long task goes through the exact-size cache in chunks.
        task = random_task(rng, 50_000)
        ex.submit([task])
        ex.submit([task])
        check_results([task])
        assert ex.stats()["exact_cache_hits"] == 1
    with Executor(strategy="baseline", max_chunk_elements=4096) as ex:
        tasks = [random_task(rng, n) for n in (9000, 3)]
        ex.submit(tasks)
        check_results(tasks)
        assert ex.stats()["dispatches"] == 3 + 1


def test_stats_counters(rng):
    with Executor() as ex:
        stats = ex.stats()
        assert set(stats) == {name for name, _ in gpu_executor._ffi.gpu_executor_stats_t._fields_}
        assert stats["strategy"] is Strategy.BUCKETED
        assert all(stats[k] == 0 for k in stats if k not in ("struct_size", "strategy", "host_staging"))
        # lavapipe (Vulkan) has host-coherent memory: staging in host memory.
        assert stats["host_staging"] == 1
        assert ex.bucket_sizes() == []

        # Three tasks in two buckets (16384, 32768): two slabs, one submission.
        tasks = [random_task(rng, n) for n in (100, 200, 20_000)]
        elements = 100 + 200 + 20_000
        ex.submit(tasks)
        check_results(tasks)
        stats = ex.stats()
        assert stats["batches"] == 1
        assert stats["tasks"] == 3
        assert stats["elements"] == elements
        assert stats["bytes_uploaded"] == 8 * elements
        assert stats["bytes_read_back"] == 4 * elements
        assert stats["submits"] == 1
        assert stats["dispatches"] == 2
        assert stats["pipelines_created"] == 2
        assert stats["bucket_cache_misses"] == 2
        assert stats["bucket_cache_hits"] == 0
        assert stats["cached_buckets"] == 2
        assert stats["pool_misses"] == 2
        assert stats["pool_hits"] == 0
        assert stats["bind_groups_created"] == 2
        assert stats["buffers_created"] > 0
        phases = ("upload_ns", "submit_ns", "wait_ns", "download_ns")
        assert sum(stats[p] for p in phases) > 0
        assert ex.bucket_sizes() == [16384, 32768]

        # The same shapes again: all from the caches.
        buffers = stats["buffers_created"]
        ex.submit(tasks)
        stats = ex.stats()
        assert stats["batches"] == 2
        assert stats["pipelines_created"] == 2
        assert stats["bucket_cache_hits"] == 2
        assert stats["pool_hits"] == 2
        assert stats["buffers_created"] == buffers
        assert stats["pool_hit_rate"] == pytest.approx(0.5)

        # Single-task batches: the exact-size cache.
        task = random_task(rng, 5000)
        ex.submit([task])
        ex.submit([task])
        stats = ex.stats()
        assert (stats["exact_cache_misses"], stats["exact_cache_hits"]) == (1, 1)
        assert stats["exact_cache_entries"] == 1

        # A rejected batch counts nothing.
        a, b, _ = task
        with pytest.raises(GpuExecutorError):
            ex.submit([(a, b, a)])
        assert ex.stats()["batches"] == 4


def test_stats_exact_cache_eviction(rng):
    with Executor(exact_size_cache_capacity=2) as ex:
        for n in (10, 20, 30, 40):
            ex.submit([random_task(rng, n)])
        stats = ex.stats()
        assert stats["exact_cache_entries"] == 2
        assert stats["exact_cache_evictions"] == 2
    with Executor(exact_size_cache=False) as ex:
        ex.submit([random_task(rng, 10)])
        assert ex.stats()["exact_cache_misses"] == 0
        assert ex.stats()["pool_misses"] == 1


def test_stats_baseline(rng):
    with Executor(strategy="baseline") as ex:
        tasks = [random_task(rng, n) for n in (10, 10, 0)]
        ex.submit(tasks)
        check_results(tasks)
        stats = ex.stats()
        assert stats["strategy"] is Strategy.BASELINE
        assert stats["pipelines_created"] == 2
        assert stats["dispatches"] == 2
        assert stats["cached_buckets"] == 0
        assert ex.bucket_sizes() == []


def test_zero_length_tasks(executor):
    empty = np.zeros(0, dtype=np.float32)
    executor.submit([(empty, empty, np.zeros(0, dtype=np.float32))])
    executor.submit([])
    stats = executor.stats()
    assert stats["batches"] == 2
    assert stats["tasks"] == 1
    assert stats["elements"] == 0
    assert stats["submits"] == 0


def test_adapter_info_and_print_stats(executor, capfd, rng):
    info = executor.adapter_info()
    assert set(info) == {
        "backend",
        "device_type",
        "vendor_id",
        "device_id",
        "name",
        "driver",
        "driver_info",
        "device_local_bytes",
    }
    assert isinstance(info["name"], str) and info["name"]
    assert info["backend"] is not gpu_executor.Backend.ANY
    # Vulkan reports its memory heaps (lavapipe too); other backends 0.
    if info["backend"] is gpu_executor.Backend.VULKAN:
        assert info["device_local_bytes"] > 0
    executor.submit([random_task(rng, 100), random_task(rng, 200)])
    executor.print_stats()
    captured = capfd.readouterr()
    lines = captured.err.splitlines()
    assert lines == [
        "[gpu] Bucket cache: 1 buckets cached: [16384]",
        "[gpu] va_cache: 0 exact-size entries",
        "[gpu] Buffer pool hit rate: 0.00%",
    ]
    assert captured.out == "", "standard output is the program's"
    assert executor.format_stats().splitlines() == lines


# --- errors ---------------------------------------------------------------------------------


def test_aliasing_output_is_input(executor, rng):
    a, b, out = random_task(rng, 1000)
    before = a.copy()
    with pytest.raises(GpuExecutorError) as caught:
        executor.submit([(a, b, a)])
    error = caught.value
    assert error.status == Status.ALIASING
    assert error.status is Status.ALIASING and error.status.name == "ALIASING"
    assert error.code == 6 and error.status_name == "ALIASING"
    assert "overlaps" in error.message
    assert "ALIASING" in str(error) and error.message in str(error)
    assert_bitwise_equal(a, before)


def test_aliasing_between_tasks_writes_nothing(executor, rng):
    t1 = random_task(rng, 100)
    a, b, _ = random_task(rng, 100)
    overlapping = (a[:50], b[:50], t1[2][25:75])
    with pytest.raises(GpuExecutorError) as caught:
        executor.submit([t1, overlapping])
    assert caught.value.status == Status.ALIASING
    assert np.isnan(t1[2]).all()


WRONG_TYPES = {
    "float64": lambda x: x.astype(np.float64),
    "int32": lambda x: x.astype(np.int32),
    "float16": lambda x: x.astype(np.float16),
    "big-endian": lambda x: x.astype(">f4"),
    "list": lambda x: x.tolist(),
    "memoryview": lambda x: memoryview(x),
}


@pytest.mark.parametrize("kind", sorted(WRONG_TYPES))
def test_wrong_type_raises_type_error(executor, rng, kind):
    make = WRONG_TYPES[kind]
    a, b, out = random_task(rng, 10)
    with pytest.raises(TypeError, match="task 0: a"):
        executor.submit([(make(a), b, out)])
    with pytest.raises(TypeError, match="task 0: b"):
        executor.submit([(a, make(b), out)])
    with pytest.raises(TypeError, match="task 1: out"):
        executor.submit([(a, b, out), (a, b, make(np.zeros_like(out)))])
    assert np.isnan(out).all()


def test_bad_task_items(executor, rng):
    a, b, out = random_task(rng, 10)
    with pytest.raises(TypeError, match="expected a tuple"):
        executor.submit([(a, b)])
    with pytest.raises(TypeError, match="expected a tuple"):
        executor.submit([a])
    with pytest.raises(TypeError):
        executor.submit(None)


def test_layout_problems_raise_value_error(executor, rng):
    a, b, out = random_task(rng, 20)
    with pytest.raises(ValueError, match="not C-contiguous"):
        executor.submit([(a[::2], b[::2], out[:10])])
    with pytest.raises(ValueError, match="not C-contiguous"):
        executor.submit([(a[:10], b[:10], out[::2])])
    two_d = np.zeros((4, 6), np.float32)
    with pytest.raises(ValueError, match="not C-contiguous"):
        executor.submit([(two_d.T, two_d.T.copy(), np.zeros((6, 4), np.float32))])
    with pytest.raises(ValueError, match="shapes differ"):
        executor.submit([(a, b[:10], out)])
    with pytest.raises(ValueError, match="shapes differ"):
        executor.submit([(a.reshape(4, 5), b.reshape(5, 4), out.reshape(4, 5))])
    readonly = out.copy()
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        executor.submit([(a, b, readonly)])
    raw = np.zeros(4 * 20 + 1, np.uint8)
    misaligned = raw[1:].view(np.float32)
    assert not misaligned.flags.aligned
    with pytest.raises(ValueError, match="aligned"):
        executor.submit([(misaligned, b, out)])
    assert np.isnan(out).all()


def test_bad_options():
    with pytest.raises(ValueError, match="strategy"):
        Executor(strategy="fastest")
    with pytest.raises(ValueError, match="backend"):
        Executor(backend="cuda")
    with pytest.raises(ValueError, match="max_chunk_elements"):
        Executor(max_chunk_elements=-1)
    with pytest.raises(TypeError):
        Executor(max_chunk_elements=4096.0)
    with pytest.raises(ValueError, match="copy_threads"):
        Executor(copy_threads=-2)
    with pytest.raises(GpuExecutorError) as caught:
        Executor(max_chunk_elements=10)
    assert caught.value.status == Status.INVALID_OPTION
    assert "max_chunk_elements" in caught.value.message
    with pytest.raises(GpuExecutorError) as caught:
        Executor(strategy=7)
    assert caught.value.status == Status.INVALID_OPTION


def test_option_spellings(rng):
    for kwargs in (
        dict(strategy=Strategy.BASELINE),
        dict(strategy="BUCKETED", power_preference="low_power"),
        dict(backend="vulkan", power_preference="high-performance"),
        dict(strategy=1, backend=gpu_executor.Backend.ANY),
        dict(copy_threads=1),
        dict(copy_threads=3, exact_size_cache=False),
    ):
        with Executor(**kwargs) as ex:
            tasks = [random_task(rng, n) for n in (33, 300_000, 70_000)]
            ex.submit(tasks)
            check_results(tasks)


def test_close(rng):
    ex = Executor()
    assert not ex.closed and "bucketed" in repr(ex)
    ex.close()
    ex.close()
    assert ex.closed and "closed" in repr(ex)
    with pytest.raises(ValueError, match="closed"):
        ex.submit([random_task(rng, 4)])
    with pytest.raises(ValueError, match="closed"):
        ex.stats()
    with pytest.raises(ValueError, match="closed"):
        with ex:
            pass
    with Executor() as ex2:
        pass
    assert ex2.closed


def test_error_pickles_and_unknown_status():
    error = GpuExecutorError(Status.ALIASING, "task 0: output overlaps")
    copy = pickle.loads(pickle.dumps(error))
    assert copy.status is Status.ALIASING and copy.message == error.message
    assert isinstance(error, RuntimeError)
    unknown = GpuExecutorError(99, "from the future")
    assert unknown.status == 99 and unknown.status_name == "UNKNOWN_STATUS_99"


def test_threads_share_one_executor(executor):
    failures = []

    def work(seed):
        local = np.random.default_rng(seed)
        try:
            for _ in range(5):
                tasks = [random_task(local, int(n)) for n in local.integers(0, 20_000, 4)]
                executor.submit(tasks)
                check_results(tasks)
        except Exception as error:  # noqa: BLE001
            failures.append(error)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert executor.stats()["batches"] == 20


def test_pipeline_cache_dir_is_written_and_reused(tmp_path, rng):
    a = rng.random(1000, dtype=np.float32)
    b = rng.random(1000, dtype=np.float32)
    with Executor(pipeline_cache_dir=tmp_path) as exe:
        assert exe.stats()["pipeline_cache_state"] == 2  # GPU_PIPELINE_CACHE_EMPTY
        np.testing.assert_array_equal(exe.add(a, b), a + b)
    assert len(list(tmp_path.glob("*.pipelinecache"))) == 1
    with Executor(pipeline_cache_dir=str(tmp_path)) as exe:
        stats = exe.stats()
        assert stats["pipeline_cache_state"] == 3  # GPU_PIPELINE_CACHE_LOADED
        assert stats["pipeline_cache_loaded_bytes"] > 0
        np.testing.assert_array_equal(exe.add(a, b), a + b)
    with Executor() as exe:
        assert exe.stats()["pipeline_cache_state"] == 0  # GPU_PIPELINE_CACHE_OFF


def test_bucket_options():
    with gpu_executor.Executor(min_bucket_elements=1024, bucket_growth=4) as executor:
        sizes = [1000, 1100, 5000, 20_000]
        rng = np.random.default_rng(3)
        arrays = [(rng.random(n, np.float32), rng.random(n, np.float32)) for n in sizes]
        outs = [np.empty(n, np.float32) for n in sizes]
        executor.submit([ops.add(a, b, o) for (a, b), o in zip(arrays, outs)])
        for (a, b), o in zip(arrays, outs):
            assert np.array_equal(o, a + b)
        assert executor.bucket_sizes() == [1024, 4096, 16384, 65536]
        stats = executor.stats()
        assert stats["pipelines_created"] == 4
        assert stats["padding_bytes"] == ((1024 - 1000) + (4096 - 1100) + (16384 - 5000) + (65536 - 20000)) * 12
        assert (stats["bucket_refinements"], stats["bucket_coarsenings"]) == (0, 0)
    with gpu_executor.Executor(adaptive_buckets=True):
        pass
    for kwargs in ({"min_bucket_elements": 96}, {"bucket_growth": 1}, {"bucket_growth": 17}):
        with pytest.raises(gpu_executor.GpuExecutorError) as caught:
            gpu_executor.Executor(**kwargs)
        assert caught.value.status == gpu_executor.Status.INVALID_ARGUMENT
        assert next(iter(kwargs)) in caught.value.message
