"""Asynchronous batches: Executor.submit_async and Ticket, against the real library."""

import ctypes
import gc
import threading
import time
import weakref

import numpy as np
import pytest

import gpu_executor
from gpu_executor import Executor, GpuExecutorError, Status, Ticket

from conftest import assert_bitwise_equal, random_task

NO_LIMIT = 2**64 - 1


def random_batch(rng, count, max_len=70_000):
    sizes = [0, 1, 16_385] + [int(n) for n in rng.integers(0, max_len, size=count)]
    return [random_task(rng, n) for n in sizes]


def expected_of(tasks):
    return [a + b for a, b, _ in tasks]


def scribble(tasks):
    """Overwrites every input in place: a batch already submitted must not notice."""
    for a, b, _ in tasks:
        a.fill(-1.0e30)
        b.fill(7.0)


def check(tasks, expected):
    for (_, _, out), want in zip(tasks, expected):
        assert_bitwise_equal(out, want)


@pytest.mark.parametrize("strategy", ["bucketed", "baseline"])
def test_random_batches_complete_out_of_order(strategy, rng):
    with Executor(strategy=strategy) as ex:
        batches = [random_batch(rng, 5 + i) for i in range(4)]
        expected = [expected_of(tasks) for tasks in batches]
        tickets = []
        for tasks in batches:
            tickets.append(ex.submit_async(tasks))
            scribble(tasks)  # inputs were copied at submission
        assert len({t.id for t in tickets}) == 4 and all(t.id > 0 for t in tickets)
        assert not any(t.done for t in tickets)
        # Nothing is written before a ticket completes.
        for tasks in batches:
            assert all(np.isnan(out).all() for _, _, out in tasks if out.size)

        # Third, first, fourth, second: each completed another way.
        assert tickets[2].wait() is True
        check(batches[2], expected[2])
        assert all(np.isnan(out).all() for _, _, out in batches[0] if out.size)

        while not tickets[0].wait(timeout=0.0002):
            pass
        check(batches[0], expected[0])

        while not tickets[3].poll():
            time.sleep(0.0001)
        check(batches[3], expected[3])

        assert tickets[1].wait(timeout=60) is True
        check(batches[1], expected[1])

        assert all(t.done for t in tickets)
        # A completed ticket stays complete, without another call into the library.
        assert tickets[1].wait() and tickets[1].poll() and tickets[1].wait(0)
        assert "done" in repr(tickets[1])
        assert ex.stats()["batches"] == 4


def test_sync_and_async_give_the_same_results(executor, rng):
    tasks = random_batch(rng, 10)
    executor.submit(tasks)
    sync = [out.copy() for _, _, out in tasks]
    again = [(a, b, np.full_like(out, np.nan)) for a, b, out in tasks]
    executor.submit_async(again).wait()
    for (_, _, out), want in zip(again, sync):
        assert_bitwise_equal(out, want)


def test_inputs_may_change_right_after_submit(executor, rng):
    a, b, out = random_task(rng, 100_000)
    want = a + b
    ticket = executor.submit_async([(a, b, out)])
    a[:] = 0
    b[:] = 0
    del a, b
    gc.collect()
    assert ticket.wait()
    assert_bitwise_equal(out, want)


def test_ticket_keeps_outputs_and_executor_alive(rng):
    a, b, out = random_task(rng, 5000)
    want = a + b
    view = out[10:]  # a view keeps its base alive too
    ref = weakref.ref(out)
    ticket = Executor().submit_async([(a, b, out)])  # no other reference to the executor
    executor_ref = weakref.ref(ticket._executor)
    del out
    gc.collect()
    assert ref() is not None and executor_ref() is not None
    assert ticket.wait()
    assert_bitwise_equal(view, want[10:])
    # Completed: the ticket lets go of both.
    del view
    gc.collect()
    assert ref() is None
    assert executor_ref() is None


def test_single_and_empty_batches(executor, rng):
    assert executor.submit_async([]).wait()
    empty = np.zeros(0, np.float32)
    assert executor.submit_async([(empty, empty, np.zeros(0, np.float32))]).poll() in (True, False)
    task = random_task(rng, (3, 7))
    ticket = executor.submit_async([task])
    assert ticket.wait()
    assert_bitwise_equal(task[2], task[0] + task[1])


def test_many_threads_wait_on_one_ticket(executor, rng):
    tasks = random_batch(rng, 8)
    expected = expected_of(tasks)
    ticket = executor.submit_async(tasks)
    results, errors = [], []

    def waiter():
        try:
            results.append(ticket.wait())
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=waiter) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [True] * 4
    check(tasks, expected)


def test_other_threads_use_the_executor_while_one_waits(executor, rng):
    tickets = [executor.submit_async(random_batch(rng, 4)) for _ in range(3)]
    failures = []

    def work(seed):
        local = np.random.default_rng(seed)
        try:
            for _ in range(3):
                tasks = random_batch(local, 3, max_len=20_000)
                expected = expected_of(tasks)
                if seed % 2:
                    executor.submit(tasks)
                else:
                    scribble_after = executor.submit_async(tasks)
                    scribble(tasks)
                    scribble_after.wait()
                check(tasks, expected)
        except Exception as error:  # noqa: BLE001
            failures.append(error)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for ticket in reversed(tickets):
        assert ticket.wait()
    for t in threads:
        t.join()
    assert not failures


def test_rejected_batches_raise_at_submission(executor, rng):
    a, b, out = random_task(rng, 100)
    with pytest.raises(GpuExecutorError) as caught:
        executor.submit_async([(a, b, a)])
    assert caught.value.status is Status.ALIASING
    with pytest.raises(TypeError, match="task 0: a"):
        executor.submit_async([(a.astype(np.float64), b, out)])
    with pytest.raises(ValueError, match="shapes differ"):
        executor.submit_async([(a, b[:10], out)])
    assert np.isnan(out).all()
    assert executor.stats()["batches"] == 0


def test_unknown_ticket(executor):
    for bogus in (987_654_321, 0):
        ticket = Ticket(executor, bogus)
        with pytest.raises(GpuExecutorError) as caught:
            ticket.wait()
        assert caught.value.status is Status.UNKNOWN_TICKET
        assert caught.value.status_name == "UNKNOWN_TICKET" and caught.value.code == 17
        assert str(bogus) in caught.value.message
        with pytest.raises(GpuExecutorError):
            ticket.poll()
        assert not ticket.done


def test_spent_ticket(executor, rng):
    lib = gpu_executor.load_library()
    a, b, out = random_task(rng, 1000)
    ticket = executor.submit_async([(a, b, out)])
    # Completed behind the Ticket's back, through the C API: the library writes `out`.
    assert lib.gpu_executor_wait(executor._handle, ticket.id, NO_LIMIT) == Status.OK
    assert_bitwise_equal(out, a + b)
    assert lib.gpu_executor_poll(executor._handle, ticket.id) == Status.UNKNOWN_TICKET
    with pytest.raises(GpuExecutorError) as caught:
        ticket.wait()
    assert caught.value.status is Status.UNKNOWN_TICKET
    # Another executor never issued it either.
    with Executor() as other:
        with pytest.raises(GpuExecutorError) as caught:
            Ticket(other, ticket.id + 1000).wait(0)
        assert caught.value.status is Status.UNKNOWN_TICKET


def test_not_ready_maps_to_false(executor, rng, monkeypatch):
    """NOT_READY is timing-dependent on a real GPU; here the library answers it for sure."""
    a, b, out = random_task(rng, 100)
    ticket = executor.submit_async([(a, b, out)])
    calls = []

    def not_ready(name, *args):
        calls.append((name, args))
        return Status.NOT_READY, "ticket has not completed yet"

    monkeypatch.setattr(executor, "_raw_call", not_ready)
    assert ticket.poll() is False
    assert calls[-1] == ("gpu_executor_wait", (ticket.id, 0))
    start = time.monotonic()
    assert ticket.wait(timeout=0.25) is False
    assert 0.2 <= time.monotonic() - start < 5
    # Long waits are sliced so that Ctrl-C can interrupt them.
    assert all(args[1] <= 100_000_000 for _, args in calls)
    assert not ticket.done and "pending" in repr(ticket)
    monkeypatch.undo()
    assert ticket.wait()
    assert_bitwise_equal(out, a + b)


def test_close_abandons_pending_tickets(rng):
    ex = Executor()
    a, b, out = random_task(rng, 1000)
    ticket = ex.submit_async([(a, b, out)])
    ex.close()
    with pytest.raises(ValueError, match="abandoned"):
        ticket.wait()
    assert np.isnan(out).all()
    with pytest.raises(ValueError, match="closed"):
        ex.submit_async([(a, b, out)])


def test_timeouts(executor, rng):
    ticket = executor.submit_async([random_task(rng, 10)])
    with pytest.raises(TypeError):
        ticket.wait("1")
    with pytest.raises(TypeError):
        ticket.wait(True)
    with pytest.raises(ValueError, match="NaN"):
        ticket.wait(float("nan"))
    while not ticket.wait(-1):  # negative: only checks
        pass
    assert ticket.wait(float("inf"))
    assert ticket.wait(np.float32(0.5))
    with pytest.raises(TypeError):
        Ticket("not an executor", 1)
    with pytest.raises(ValueError):
        Ticket(executor, -1)


def test_raw_async_prototypes(executor, rng):
    """submit_batch_async through ctypes directly: the ticket out-parameter is 64-bit."""
    lib = gpu_executor.load_library()
    a, b, out = random_task(rng, 64)
    task = gpu_executor._ffi.gpu_task_t(op=gpu_executor.Op.VECTOR_ADD, length=out.size)
    task.inputs[0], task.inputs[1], task.output = a.ctypes.data, b.ctypes.data, out.ctypes.data
    ticket = ctypes.c_uint64(0xFFFF_FFFF_FFFF_FFFF)
    status = lib.gpu_executor_submit_batch_async(executor._handle, ctypes.byref(task), 1, ctypes.byref(ticket))
    assert status == Status.OK and 0 < ticket.value < 2**32
    assert lib.gpu_executor_submit_batch_async(executor._handle, ctypes.byref(task), 1, None) == Status.NULL_POINTER
    assert lib.gpu_executor_wait(executor._handle, ticket.value, NO_LIMIT) == Status.OK
    assert_bitwise_equal(out, a + b)


def test_close_during_a_wait_abandons_the_ticket(rng, monkeypatch):
    ex = Executor()
    a, b, out = random_task(rng, 1000)
    ticket = ex.submit_async([(a, b, out)])
    real = ex._raw_call
    calls = []

    def close_after_first_slice(name, *args):
        calls.append(args)
        if len(calls) == 1:
            return Status.NOT_READY, "not yet"
        ex.close()
        return real(name, *args)

    monkeypatch.setattr(ex, "_raw_call", close_after_first_slice)
    with pytest.raises(ValueError, match="abandoned"):
        ticket.wait()
    assert np.isnan(out).all()


def test_the_in_flight_budget_refuses_a_second_batch_until_the_first_is_waited(rng):
    with Executor(max_in_flight_bytes=1, max_idle_bytes=0) as executor:
        first, second = random_batch(rng, 2), random_batch(rng, 2)
        ticket = executor.submit_async(first)
        with pytest.raises(GpuExecutorError) as caught:
            executor.submit_async(second)
        assert caught.value.status is Status.OVER_BUDGET
        assert "max_in_flight_bytes" in caught.value.message
        stats = executor.stats()
        assert stats["backpressure_refusals"] == 1 and stats["in_flight_bytes"] > 0
        expected = expected_of(first)
        ticket.wait()
        check(first, expected)
        expected = expected_of(second)
        executor.submit_async(second).wait()
        check(second, expected)
        stats = executor.stats()
        assert stats["in_flight_bytes"] == 0 and stats["idle_bytes"] == 0
        assert stats["pool_evictions"] > 0
