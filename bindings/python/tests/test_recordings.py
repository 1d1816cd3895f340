"""Recorded batches: gpu_executor.Recording, against NumPy.

- A recording of dependent element-wise tasks on buffers, submitted several times with the
  buffers' contents changed in between (one submit each, nothing uploaded or read back);
  from every collection Executor.submit takes.
- Asynchronous submissions in flight run in order (`y = y + x` four times: y0 + 4x), also
  with buffer writes between them; submissions from two threads at once.
- Every error: host operands, reductions, matmul, registered kernels, the baseline
  strategy, batch checks, a closed buffer, another executor's recording, a closed
  recording or executor.
- Lifetime: a recording keeps its executor and buffers alive, tolerates the executor being
  closed first, and never raises from __del__.

The recorded ops (add, sub, mul, max, scale, clamp, copy) round once each, as NumPy's
float32 arithmetic does, so results are compared exactly.
"""

import gc
import sys
import threading
import weakref

import numpy as np
import pytest

from gpu_executor import Batch, Executor, GpuExecutorError, Recording, Status, Task, Ticket, ops

from test_kernels import POLY  # out = a * a * s + b, a registered kernel


def random_floats(rng, n):
    return rng.uniform(-100, 100, n).astype(np.float32)


def added(y, x, times):
    # y + x + x + ...: each addition rounded in turn, as successive submissions do.
    y = y.copy()
    for _ in range(times):
        y = y + x
    return y


def step_tasks(x, y, t, out, s, c, p, q):
    """t = x * y; u = t - x (in s's second half); out = max(u, y);
    s[:n] = 0.5 * x; c = clamp(s[:n], -25, 25); q = p + p on int32."""
    n = len(x)
    return [
        ops.mul(x, y, t),
        ops.sub(t, x, s[n:]),
        ops.max(s[n:], y, out),
        ops.scale(x, 0.5, s[:n]),
        ops.clamp(s[:n], -25.0, 25.0, c),
        ops.add(p, p, q),
    ]


def test_submissions_see_the_buffers_new_contents(executor, rng):
    n = 40009  # not a multiple of anything the library blocks by
    x, y, t, out, c = (executor.buffer(n) for _ in range(5))
    s = executor.buffer(2 * n)
    p, q = executor.buffer(n, "int32"), executor.buffer(n, "int32")
    rec = executor.record(step_tasks(x, y, t, out, s, c, p, q))
    assert isinstance(rec, Recording) and len(rec) == 6 and rec.executor is executor
    assert not rec.closed and rec.handle != 0
    assert "of 6 tasks" in repr(rec)

    for round_ in range(4):
        xv, yv = random_floats(rng, n), random_floats(rng, n)
        pv = rng.integers(-(2**31), 2**31, n, dtype=np.int64).astype(np.int32)
        x.write(xv)
        y.write(yv)
        p.write(pv)
        before = executor.stats()
        if round_ % 2 == 0:
            rec.submit()
        else:
            executor.submit(rec)  # the same, through the executor
        after = executor.stats()
        assert after["submits"] - before["submits"] == 1  # six tasks, one submit
        assert after["bytes_uploaded"] == before["bytes_uploaded"]
        assert after["bytes_read_back"] == before["bytes_read_back"]

        tv = xv * yv
        np.testing.assert_array_equal(t.read(), tv)
        np.testing.assert_array_equal(out.read(), np.maximum(tv - xv, yv))
        half = xv * np.float32(0.5)
        np.testing.assert_array_equal(s.read(n), half)
        np.testing.assert_array_equal(c.read(), np.clip(half, np.float32(-25), np.float32(25)))
        with np.errstate(over="ignore"):
            np.testing.assert_array_equal(q.read(), pv + pv)  # wraps, as on the GPU
    # The clamp must bite, or it would not be tested.
    assert (np.abs(c.read()) == 25).sum() > n // 10
    rec.close()


def test_every_collection_submit_takes(executor, rng):
    n = 3001
    av, bv = random_floats(rng, n), random_floats(rng, n)
    a, b = executor.buffer(av), executor.buffer(bv)
    c, d, e, f = (executor.buffer(n) for _ in range(4))

    from_batch = executor.record(Batch([ops.add(a, b, c), ops.mul(c, a, e)]))
    from_tuple = executor.record([(a, b, f)])  # an (a, b, out) tuple is an addition
    from_task = executor.record(ops.sub(a, b, d))  # one Task
    from_generator = Recording(executor, (ops.copy(x, d) for x in [b]))
    assert [len(r) for r in (from_batch, from_tuple, from_task, from_generator)] == [2, 1, 1, 1]

    from_batch.submit()
    np.testing.assert_array_equal(c.read(), av + bv)
    np.testing.assert_array_equal(e.read(), (av + bv) * av)
    from_tuple.submit()
    np.testing.assert_array_equal(f.read(), av + bv)
    from_generator.submit()
    np.testing.assert_array_equal(d.read(), bv)
    ticket = from_task.submit_async()
    assert isinstance(ticket, Ticket) and ticket.wait()
    np.testing.assert_array_equal(d.read(), av - bv)

    # Stacked rows of regions: three tasks from one Batch builder.
    rows = executor.buffer(random_floats(rng, 3 * 100))
    twice = executor.buffer(3 * 100)
    stacked = executor.record(Batch.stacked(rows.region(shape=(3, 100)), rows.region(shape=(3, 100)),
                                            twice.region(shape=(3, 100))))
    assert len(stacked) == 3
    stacked.submit()
    np.testing.assert_array_equal(twice.read(), rows.read() + rows.read())

    # Nothing recorded is fine, and does nothing.
    with executor.record([]) as nothing:
        assert len(nothing) == 0
        nothing.submit()


def test_async_submissions_run_in_order(executor, rng):
    n = 65537
    xv, y0 = random_floats(rng, n), random_floats(rng, n)
    x, y = executor.buffer(xv), executor.buffer(y0)
    with executor.record([ops.add(y, x, y)]) as step:
        tickets = [step.submit_async() if k % 2 == 0 else executor.submit_async(step) for k in range(4)]
        assert tickets[-1].wait()  # the last one done: all of them ran
        assert all(t.wait() for t in tickets)
        np.testing.assert_array_equal(y.read(), added(y0, xv, 4))

        # Two in flight, a write of new contents, two more: y1 + 2x.
        y1 = random_floats(rng, n)
        first, second = step.submit_async(), step.submit_async()
        y.write(y1)
        third, fourth = step.submit_async(), step.submit_async()
        assert fourth.wait() and third.wait() and second.wait() and first.wait()
        np.testing.assert_array_equal(y.read(), added(y1, xv, 2))

        # Tickets never waited on: a read afterwards is ordered after them anyway.
        y2 = random_floats(rng, n)
        y.write(y2)
        for _ in range(3):
            step.submit_async()
        np.testing.assert_array_equal(y.read(), added(y2, xv, 3))


def test_two_threads_submit_one_recording(executor, rng):
    n, per_thread = 4099, 6
    xv, y0 = random_floats(rng, n), random_floats(rng, n)
    x, y = executor.buffer(xv), executor.buffer(y0)
    step = executor.record([ops.add(y, x, y)])
    errors = []

    def work(asynchronous):
        try:
            for _ in range(per_thread):
                if asynchronous:
                    step.submit_async().wait()
                else:
                    step.submit()
        except Exception as error:  # pragma: no cover (reported below)
            errors.append(error)

    threads = [threading.Thread(target=work, args=(a,)) for a in (False, True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # Every submission adds x once; whichever thread made it, the sequence is the same.
    np.testing.assert_array_equal(y.read(), added(y0, xv, 2 * per_thread))


# --- errors ------------------------------------------------------------------------------------


def expect(status, needle, call):
    with pytest.raises(GpuExecutorError) as caught:
        call()
    assert caught.value.status == status, caught.value
    assert needle in caught.value.message, caught.value
    return caught.value


def test_what_cannot_be_recorded(executor, rng):
    n = 256
    xv = random_floats(rng, n)
    host = np.ones(n, np.float32)
    x, y, one = executor.buffer(xv), executor.buffer(n), executor.buffer(1)
    square = executor.buffer(16 * 16)
    # Host operands (the library names the task), a reduction even into a region, matmul.
    expect(Status.INVALID_ARGUMENT, "task 0", lambda: executor.record([ops.add(x, host, y)]))
    expect(Status.INVALID_ARGUMENT, "task 1",
           lambda: executor.record([ops.copy(x, y), ops.scale(y, 2.0, np.empty(n, np.float32))]))
    expect(Status.INVALID_ARGUMENT, "task 0", lambda: executor.record([(host, host, y)]))
    expect(Status.INVALID_ARGUMENT, "task 0", lambda: executor.record([ops.sum(x, one)]))
    expect(Status.INVALID_ARGUMENT, "task 0",
           lambda: executor.record([ops.matmul(square.region(shape=(16, 16)), square.region(shape=(16, 16)),
                                               y.region(shape=(16, 16)))]))
    # A registered kernel.
    poly = executor.register_kernel(POLY, entry_point="poly", inputs=2, dtype="float32", params_size=4)
    expect(Status.INVALID_ARGUMENT, "task 0", lambda: executor.record([Task(poly, (x, x), y, 1.5)]))
    # The checks of a submission apply: a task reading what a later one writes.
    expect(Status.DEPENDENCY, "", lambda: executor.record([ops.add(y, x, square[:n]), ops.copy(x, y)]))
    # Not a task collection at all.
    with pytest.raises(TypeError):
        executor.record(42)
    np.testing.assert_array_equal(y.read(), np.zeros(n, np.float32))  # nothing ran

    with Executor(strategy="baseline") as baseline:
        bx, by = baseline.buffer(xv), baseline.buffer(n)
        expect(Status.INVALID_ARGUMENT, "bucketed", lambda: baseline.record([ops.add(bx, bx, by)]))


def test_submission_errors(executor, rng):
    n = 256
    xv = random_floats(rng, n)
    x, y = executor.buffer(xv), executor.buffer(n)
    rec = executor.record([ops.add(x, x, y)])
    rec.submit()
    np.testing.assert_array_equal(y.read(), xv + xv)

    # Another executor: its recording is refused; tasks on this one's buffers too.
    with Executor() as other:
        expect(Status.INVALID_ARGUMENT, "another executor", lambda: other.submit(rec))
        expect(Status.INVALID_ARGUMENT, "another executor", lambda: other.submit_async(rec))
        expect(Status.FOREIGN_BUFFER, "another executor", lambda: other.record([ops.add(x, x, y)]))

    # A closed buffer: every later submission says so, and nothing is written.
    y.write(xv)
    x.close()
    expect(Status.INVALID_BUFFER, "destroyed", rec.submit)
    expect(Status.INVALID_BUFFER, "destroyed", rec.submit_async)
    expect(Status.INVALID_BUFFER, "destroyed", lambda: executor.submit(rec))
    np.testing.assert_array_equal(y.read(), xv)

    # A closed recording.
    rec.close()
    rec.close()  # idempotent
    assert rec.closed and "closed" in repr(rec)
    for call in (rec.submit, rec.submit_async, lambda: executor.submit(rec),
                 lambda: executor.submit_async(rec), lambda: rec.handle):
        with pytest.raises(ValueError, match="closed gpu_executor.Recording"):
            call()
    with pytest.raises(ValueError, match="closed"):
        with rec:
            pass
    with pytest.raises(TypeError, match="Recording"):
        executor.record(rec)

    # The executor still works, recordings of its other buffers too.
    with executor.record([ops.add(y, y, y)]) as again:
        again.submit()
    np.testing.assert_array_equal(y.read(), xv + xv)


# --- lifetime ----------------------------------------------------------------------------------


def test_recording_keeps_its_executor_and_buffers_alive(rng):
    ex = Executor()
    alive = weakref.ref(ex)
    xv, y0 = random_floats(rng, 100), random_floats(rng, 100)
    x, y = ex.buffer(xv), ex.buffer(y0)
    x_alive = weakref.ref(x)
    rec = ex.record([ops.add(y, x, y)])
    del ex, x  # the recording keeps both: x is not closed under it
    gc.collect()
    assert alive() is not None and x_alive() is not None
    rec.submit()
    np.testing.assert_array_equal(y.read(), y0 + xv)
    del rec
    gc.collect()
    assert x_alive() is None  # closed with its last reference
    y.close()
    del y
    gc.collect()
    assert alive() is None


def test_executor_closed_first(rng):
    raised = []
    previous = sys.unraisablehook
    sys.unraisablehook = raised.append  # an exception from __del__ would land here
    try:
        ex = Executor()
        x, y = ex.buffer(random_floats(rng, 100)), ex.buffer(100)
        rec = ex.record([ops.add(x, x, y)])
        ticket = rec.submit_async()
        ex.close()
        assert rec.closed
        for call in (rec.submit, rec.submit_async):
            with pytest.raises(ValueError, match="executor is closed"):
                call()
        with Executor() as other:
            with pytest.raises(ValueError, match="executor is closed"):
                other.submit(rec)
        with pytest.raises(ValueError, match="closed"):
            ticket.wait()  # abandoned with the executor
        rec.close()  # destroys the recording: safe without its executor
        # And a recording dropped without close() after its executor was closed.
        ex = Executor()
        x, y = ex.buffer(100), ex.buffer(100)
        ex.record([ops.add(x, x, y)])  # dropped at once: closed by __del__
        dangling = ex.record([ops.add(x, x, y)])
        ex.close()
        del dangling, rec
        gc.collect()
    finally:
        sys.unraisablehook = previous
    assert raised == []


def test_close_waits_for_submissions_in_progress(executor, rng):
    # Closing from one thread while another submits: either the submission ran first, or
    # it sees a closed recording; never a destroyed handle.
    n = 100_000
    x, y = executor.buffer(random_floats(rng, n)), executor.buffer(n)
    for _ in range(5):
        rec = executor.record([ops.add(x, x, y)])
        rec.submit()  # y = x + x whatever the race below gives
        outcomes = []

        def submit():
            try:
                for _ in range(20):
                    rec.submit()
                outcomes.append("ran")
            except ValueError as error:
                assert "closed gpu_executor.Recording" in str(error)
                outcomes.append("closed")

        thread = threading.Thread(target=submit)
        thread.start()
        rec.close()
        thread.join()
        assert outcomes in (["ran"], ["closed"])
    np.testing.assert_array_equal(y.read(), x.read() + x.read())
