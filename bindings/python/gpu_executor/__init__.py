"""Python bindings for gpu_executor: batches of GPU compute tasks through wgpu.

    import numpy as np
    import gpu_executor

    with gpu_executor.Executor(strategy="bucketed") as ex:
        a = np.arange(1000, dtype=np.float32)
        b = np.ones(1000, dtype=np.float32)
        out = np.empty_like(a)
        ex.submit([(a, b, out)])      # out = a + b, in place, no copies
        print(ex.add(a, b)[:4], ex.stats()["batches"])

        ticket = ex.submit_async([(a, b, out)])  # returns at once; a, b already copied
        ticket.wait()                            # out written here

        rows = np.ones((1000, 16), np.float32)   # 1000 tasks, one per row
        batch = gpu_executor.Batch.stacked(rows, rows, np.empty_like(rows))
        ex.submit(batch)                         # no Python work per task; reusable

        from gpu_executor import ops             # every op: a Task per call
        total = np.empty(1, np.float32)
        ex.submit([ops.sqrt(a, out), ops.sum(a, total), (a, b, np.empty_like(a))])

        x = ex.buffer(a)                         # resident: a copy of a on the GPU
        y = ex.buffer(len(a))                    # zero-filled float32
        ex.submit([ops.sqrt(x, y), ops.scale(y[:10], 2.0, out[:10])])  # y never leaves
        print(y.read()[:4], out[:4])

        step = ex.record([ops.add(y, x, y)])     # buffers only: checked, planned once
        for _ in range(4):
            step.submit()                        # y += x, one submit each
        step.close(); x.close(); y.close()

    gpu_executor.set_log_level("info")           # process-wide
    gpu_executor.set_log_callback(lambda level, message: print(level.name, message))

The shared library is loaded on first use: ``GPU_EXECUTOR_LIBRARY`` (a full path) first,
then a copy bundled next to this package, then the system loader (``libgpu_executor.so.0``).
"""

from ._executor import (
    Executor,
    GpuExecutorError,
    Recording,
    Ticket,
    library_path,
    status_string,
    version,
)
from ._ffi import (
    LIBRARY_ENV,
    Backend,
    DeviceType,
    DType,
    LibraryNotFoundError,
    LogLevel,
    Op,
    PowerPreference,
    Staging,
    Status,
    Strategy,
    load_library,
)
from ._ffi import (
    TASK_DTYPE_MASK,
    TASK_INPUT0_BUFFER,
    TASK_INPUT1_BUFFER,
    TASK_INPUT2_BUFFER,
    TASK_OUTPUT_BUFFER,
    TASK_TRANSPOSE_B,
)
from ._buffers import REGION_DTYPE, Buffer, Region
from ._log import set_log_callback, set_log_level
from ._optasks import Kernel, Task
from ._tasks import TASK_DTYPE, Batch
from . import ops

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "Batch",
    "Buffer",
    "DeviceType",
    "DType",
    "Executor",
    "GpuExecutorError",
    "Kernel",
    "LIBRARY_ENV",
    "LibraryNotFoundError",
    "LogLevel",
    "Op",
    "PowerPreference",
    "REGION_DTYPE",
    "Recording",
    "Region",
    "Staging",
    "Status",
    "Strategy",
    "TASK_DTYPE",
    "TASK_DTYPE_MASK",
    "TASK_INPUT0_BUFFER",
    "TASK_INPUT1_BUFFER",
    "TASK_INPUT2_BUFFER",
    "TASK_OUTPUT_BUFFER",
    "TASK_TRANSPOSE_B",
    "Task",
    "Ticket",
    "library_path",
    "load_library",
    "ops",
    "set_log_callback",
    "set_log_level",
    "status_string",
    "version",
]
