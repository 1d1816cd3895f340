"""Python overhead per task: building the gpu_task_t array for a batch.

    python bindings/python/bench/task_array.py [--sizes 1000,10000] [--elements 16] [--submit]

Prints microseconds per task (best of several runs) for:

- ``before``: a list of (a, b, out) tuples through the per-task ctypes loop the bindings
  used until they built the array with NumPy (kept here as the reference);
- ``tuples``: the same list through ``Batch(tasks)``, which ``submit(tasks)`` calls;
- ``lists``: ``Batch.from_lists(a_list, b_list, out_list)``;
- ``stacked``: ``Batch.stacked(a, b, out)`` over 2-D arrays, task i = row i;
- ``prepared batch``: a batch built once and submitted again (nothing to build);
- ``tuples, public attributes``: ``tuples`` with the pointers and flags read through the
  arrays' Python attributes (the path taken where NumPy's object layout cannot be read);
- ``ops.add tasks``: a list of ``gpu_executor.ops.add(a, b, out)`` tasks made once, through
  ``Batch(tasks)``; ``..., made each time`` makes the tasks in the timing too;
- ``ops.scale`` / ``ops.sum`` / ``ops.matmul`` tasks: the same with scalars, reductions
  (into one-element outputs) and 4x4 products (the rows of a as 4x4 matrices);
- ``mixed``: half tuples, half ``ops.add`` tasks, in one list;
- ``stacked_op``: ``Batch.stacked_op("add", (a, b), out)`` over the 2-D arrays.

Building needs no GPU and no library. ``--submit`` also times ``Executor.submit`` of each
form, building included (the library's own work too, on whatever adapter it finds).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Callable, List

import numpy as np

try:
    import gpu_executor
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import gpu_executor
from gpu_executor import Batch, _ffi, _tasks, ops


def before(tasks: List[Any]) -> Any:
    """The per-task ctypes loop (gpu_executor 0.1.0's _task_array), checks included."""
    items = list(tasks)
    array = (_ffi.gpu_task_t * len(items))() if items else None
    for index, item in enumerate(items):
        a, b, out = _tasks._check_task(index, item)
        task = array[index]  # type: ignore[index]
        task.op = _ffi.Op.VECTOR_ADD
        task.inputs[0] = a.ctypes.data
        task.inputs[1] = b.ctypes.data
        task.output = out.ctypes.data
        task.length = out.size
    return items, array


def submit_before(executor: Any, tasks: List[Any]) -> None:
    items, array = before(tasks)
    executor._call("gpu_executor_submit_batch", array, len(items))


def best(function: Callable[[], Any], seconds: float = 0.5) -> float:
    """Best time of one call, over at least 5 calls and about ``seconds``."""
    times = []
    deadline = time.perf_counter() + seconds
    while len(times) < 5 or time.perf_counter() < deadline:
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def public_reader(function: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        saved, _tasks._reader = _tasks._reader, _tasks._read_public
        try:
            return function()
        finally:
            _tasks._reader = saved

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="tasks per batch, comma-separated")
    parser.add_argument("--elements", type=int, default=16, help="elements per task")
    parser.add_argument("--submit", action="store_true", help="also time Executor.submit")
    args = parser.parse_args()

    _tasks._read([np.zeros(1, np.float32)])  # choose the reader now, not inside a timing
    reader = _tasks._reader.__name__ if _tasks._reader else "?"
    print(f"gpu_executor {gpu_executor.__version__}, NumPy {np.__version__}, Python "
          f"{sys.version.split()[0]}; pointers and flags via {reader}")
    executor = gpu_executor.Executor() if args.submit else None
    if executor is not None:
        print(f"adapter: {executor.adapter_info()['name']}")
    print(f"{'form':36} {'tasks':>7} {'build µs/task':>14}" + (f" {'submit µs/task':>15}" if executor else ""))

    rng = np.random.default_rng(0)
    for count in (int(s) for s in args.sizes.split(",")):
        a = rng.random((count, args.elements), dtype=np.float32)
        b = rng.random((count, args.elements), dtype=np.float32)
        out = np.empty_like(a)
        # Separate arrays, as a caller holding many small arrays would have them.
        a_list = [row.copy() for row in a]
        b_list = [row.copy() for row in b]
        out_list = [row.copy() for row in out]
        tuples = list(zip(a_list, b_list, out_list))
        add_tasks = [ops.add(x, y, z) for x, y, z in tuples]
        scale_tasks = [ops.scale(x, 2.5, z) for x, z in zip(a_list, out_list)]
        sums = [np.empty(1, np.float32) for _ in range(count)]
        sum_tasks = [ops.sum(x, total) for x, total in zip(a_list, sums)]
        side = int(round(args.elements**0.5))
        squares = [x[: side * side].reshape(side, side) for x in a_list]
        products = [z[: side * side].reshape(side, side) for z in out_list]
        matmul_tasks = [ops.matmul(x, x, z) for x, z in zip(squares, products)]
        mixed = tuples[: count // 2] + add_tasks[count // 2 :]
        forms = [
            ("before (tuples, ctypes loop)", lambda: before(tuples), True),
            ("tuples", lambda: Batch(tuples), True),
            ("lists", lambda: Batch.from_lists(a_list, b_list, out_list), True),
            ("stacked", lambda: Batch.stacked(a, b, out), True),
            ("prepared batch (built once)", lambda: None, True),
            ("tuples, public attributes", public_reader(lambda: Batch(tuples)), False),
            ("ops.add tasks", lambda: Batch(add_tasks), True),
            ("ops.add tasks, made each time", lambda: Batch([ops.add(x, y, z) for x, y, z in tuples]), True),
            ("ops.scale tasks", lambda: Batch(scale_tasks), True),
            ("ops.sum tasks", lambda: Batch(sum_tasks), True),
            (f"ops.matmul tasks ({side}x{side})", lambda: Batch(matmul_tasks), True),
            ("mixed: half tuples, half tasks", lambda: Batch(mixed), True),
            ("stacked_op", lambda: Batch.stacked_op("add", (a, b), out), True),
            ("ops.add tasks, public attributes", public_reader(lambda: Batch(add_tasks)), False),
        ]
        prepared = Batch.stacked(a, b, out)
        for name, build, submit in forms:
            line = f"{name:36} {count:7d} {best(build) / count * 1e6:14.3f}"
            if executor is not None and submit:
                # Building included, as submit(tasks) does it.
                if name.startswith("before"):
                    run = lambda: submit_before(executor, tuples)  # noqa: E731
                elif name.startswith("prepared"):
                    run = lambda: executor.submit(prepared)  # noqa: E731
                else:
                    run = lambda: executor.submit(build())  # noqa: E731
                run()  # warm the caches
                line += f" {best(run, seconds=2.0) / count * 1e6:15.2f}"
            print(line, flush=True)
    if executor is not None:
        executor.close()


if __name__ == "__main__":
    main()
