"""Python bindings for gpu_executor: batches of GPU compute tasks through wgpu.

    import numpy as np
    import gpu_executor

    with gpu_executor.Executor(strategy="bucketed") as ex:
        a = np.arange(1000, dtype=np.float32)
        b = np.ones(1000, dtype=np.float32)
        out = np.empty_like(a)
        ex.submit([(a, b, out)])      # out = a + b, in place, no copies
        print(ex.add(a, b)[:4], ex.stats()["batches"])

The shared library is loaded on first use: ``GPU_EXECUTOR_LIBRARY`` (a full path) first,
then a copy bundled next to this package, then the system loader (``libgpu_executor.so.0``).
"""

from ._executor import (
    Executor,
    GpuExecutorError,
    library_path,
    status_string,
    version,
)
from ._ffi import (
    LIBRARY_ENV,
    Backend,
    DeviceType,
    LibraryNotFoundError,
    Op,
    PowerPreference,
    Status,
    Strategy,
    load_library,
)

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "DeviceType",
    "Executor",
    "GpuExecutorError",
    "LIBRARY_ENV",
    "LibraryNotFoundError",
    "Op",
    "PowerPreference",
    "Status",
    "Strategy",
    "library_path",
    "load_library",
    "status_string",
    "version",
]
