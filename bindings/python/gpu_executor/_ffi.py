"""ctypes mirror of include/gpu_executor.h and the shared-library loader.

The structures below copy the header's field order and types exactly; the library checks
``struct_size`` of options, stats and adapter-info structs on every call, and the test
suite compares these definitions with the header itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import enum
import os
import sys
import threading
from ctypes import (
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_double,
    c_int32,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import List, Optional, Tuple

#: Environment variable naming the shared library (a full path) to load.
LIBRARY_ENV = "GPU_EXECUTOR_LIBRARY"

#: The library's major version these bindings speak (its SONAME is libgpu_executor.so.0).
ABI_MAJOR = 0


# --- enums (gpu_executor.h) ----------------------------------------------------------------


class Status(enum.IntEnum):
    """``gpu_executor_status_t`` (``GPU_EXECUTOR_<NAME>``)."""

    OK = 0
    NULL_POINTER = 1
    INVALID_ARGUMENT = 2
    UNKNOWN_OP = 3
    BAD_STRUCT_SIZE = 4
    SIZE_OVERFLOW = 5
    ALIASING = 6
    NO_ADAPTER = 7
    DEVICE_REQUEST_FAILED = 8
    GPU_ERROR = 9
    OUT_OF_MEMORY = 10
    DEVICE_LOST = 11
    PANIC = 12
    MISALIGNED_POINTER = 13
    INVALID_OPTION = 14
    POISONED = 15
    NOT_READY = 16
    UNKNOWN_TICKET = 17
    TIMED_OUT = 18
    INVALID_KERNEL = 19
    INVALID_BUFFER = 20
    FOREIGN_BUFFER = 21
    OUT_OF_BOUNDS = 22
    TYPE_MISMATCH = 23
    DEPENDENCY = 24
    OVER_BUDGET = 25
    UNSUPPORTED = 26


class LogLevel(enum.IntEnum):
    """``gpu_log_level_t`` (``GPU_LOG_<NAME>``): a message's level, or the threshold."""

    OFF = 0
    ERROR = 1
    WARN = 2
    INFO = 3
    DEBUG = 4


class Op(enum.IntEnum):
    """``gpu_op_t`` (``GPU_OP_<NAME>``): the element-wise ops (1 to 22, ``COPY`` last), the
    reductions (64 to 69) and ``MATMUL`` (128). ``ADD`` is ``VECTOR_ADD`` (the header's
    ``GPU_OP_ADD``).

    :class:`gpu_executor.Task` and the helpers in :mod:`gpu_executor.ops` describe a task of
    any of them; ``(a, b, out)`` tuples are ``VECTOR_ADD`` over ``float32``.
    """

    VECTOR_ADD = 1
    ADD = 1  # an alias: GPU_OP_ADD
    SUB = 2
    MUL = 3
    DIV = 4
    MIN = 5
    MAX = 6
    POW = 7
    NEG = 8
    ABS = 9
    SQRT = 10
    EXP = 11
    LOG = 12
    SIN = 13
    COS = 14
    TANH = 15
    RELU = 16
    SIGMOID = 17
    SCALE = 18
    AXPY = 19
    CLAMP = 20
    FMA = 21
    COPY = 22
    SUM = 64
    REDUCE_MIN = 65
    REDUCE_MAX = 66
    MEAN = 67
    DOT = 68
    NORM2 = 69
    MATMUL = 128


class DType(enum.IntEnum):
    """``gpu_dtype_t`` (``GPU_DTYPE_<NAME>``): a task's element type, in the low bits of
    ``gpu_task_t.flags`` (0: ``float``)."""

    F32 = 0
    I32 = 1
    U32 = 2


#: The bits of ``gpu_task_t.flags`` that hold its :class:`DType` (``GPU_TASK_DTYPE_MASK``).
TASK_DTYPE_MASK = 0xF

#: ``gpu_task_t.flags`` of a ``MATMUL`` whose B is stored transposed, N x K
#: (``GPU_TASK_TRANSPOSE_B``).
TASK_TRANSPOSE_B = 0x10

#: ``gpu_task_t.flags``: ``inputs[0]`` points to a :class:`gpu_region_t` instead of host
#: memory (``GPU_TASK_INPUT0_BUFFER``); shift left by ``k`` for input ``k``.
TASK_INPUT0_BUFFER = 0x100
#: ``GPU_TASK_INPUT1_BUFFER``.
TASK_INPUT1_BUFFER = 0x200
#: ``GPU_TASK_INPUT2_BUFFER``.
TASK_INPUT2_BUFFER = 0x400
#: ``gpu_task_t.flags``: ``output`` points to a :class:`gpu_region_t`
#: (``GPU_TASK_OUTPUT_BUFFER``). For a reduction, a float buffer that receives its one
#: result (combined on the GPU; the reduction then reads at most one slab's worth of
#: elements).
TASK_OUTPUT_BUFFER = 0x1000


class Backend(enum.IntEnum):
    """``gpu_backend_t`` (``GPU_BACKEND_<NAME>``)."""

    ANY = 0
    VULKAN = 1
    METAL = 2
    DX12 = 3
    GL = 4
    OTHER = 255


class PowerPreference(enum.IntEnum):
    """``gpu_power_preference_t`` (``GPU_POWER_<NAME>``)."""

    DEFAULT = 0
    LOW = 1
    HIGH_PERFORMANCE = 2


class Strategy(enum.IntEnum):
    """``gpu_strategy_t`` (``GPU_STRATEGY_<NAME>``)."""

    BASELINE = 0
    BUCKETED = 1


class Staging(enum.IntEnum):
    """``gpu_staging_t`` (``GPU_STAGING_<NAME>``)."""

    AUTO = 0
    MAPPED = 1
    HOST = 2


class DeviceType(enum.IntEnum):
    """``gpu_device_type_t`` (``GPU_DEVICE_<NAME>``)."""

    OTHER = 0
    INTEGRATED = 1
    DISCRETE = 2
    VIRTUAL = 3
    CPU = 4


# --- structs (gpu_executor.h), same names, field order and types ---------------------------


class gpu_executor_options_t(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("backend", c_uint32),
        ("power_preference", c_uint32),
        ("strategy", c_uint32),
        ("exact_size_cache", c_uint32),
        ("exact_size_cache_capacity", c_uint32),
        ("max_chunk_elements", c_uint64),
        ("copy_threads", c_uint32),
        ("wait_timeout_ns", c_uint64),
        ("adapter_index", c_uint32),
        ("max_idle_bytes", c_uint64),
        ("max_in_flight_bytes", c_uint64),
        ("staging", c_uint32),
        ("pipeline_cache_dir", c_char_p),
        # Appended with adaptive buckets.
        ("min_bucket_elements", c_uint64),
        ("bucket_growth", c_uint32),
        ("adaptive_buckets", c_uint32),
    ]


class gpu_task_t(Structure):
    _fields_ = [
        ("op", c_uint32),
        ("flags", c_uint32),
        ("inputs", c_void_p * 4),
        ("output", c_void_p),
        ("length", c_size_t),
        ("params", c_uint64 * 4),
    ]


class gpu_executor_stats_t(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("strategy", c_uint32),
        ("batches", c_uint64),
        ("tasks", c_uint64),
        ("elements", c_uint64),
        ("pipelines_created", c_uint64),
        ("bucket_cache_hits", c_uint64),
        ("bucket_cache_misses", c_uint64),
        ("cached_buckets", c_uint64),
        ("exact_cache_entries", c_uint64),
        ("exact_cache_hits", c_uint64),
        ("exact_cache_misses", c_uint64),
        ("exact_cache_evictions", c_uint64),
        ("pool_hits", c_uint64),
        ("pool_misses", c_uint64),
        ("buffers_created", c_uint64),
        ("bind_groups_created", c_uint64),
        ("bytes_uploaded", c_uint64),
        ("bytes_read_back", c_uint64),
        ("submits", c_uint64),
        ("dispatches", c_uint64),
        ("pool_hit_rate", c_double),
        ("upload_ns", c_uint64),
        ("submit_ns", c_uint64),
        ("wait_ns", c_uint64),
        ("download_ns", c_uint64),
        # Appended with resident buffers.
        ("resident_buffers", c_uint64),
        ("resident_bytes", c_uint64),
        ("resident_reserved_bytes", c_uint64),
        ("resident_buffers_created", c_uint64),
        ("resident_pool_hits", c_uint64),
        ("resident_pool_misses", c_uint64),
        ("direct_dispatches", c_uint64),
        # Appended with the idle-memory cap.
        ("idle_bytes", c_uint64),
        ("pool_bytes", c_uint64),
        ("exact_cache_bytes", c_uint64),
        ("table_bytes", c_uint64),
        ("pool_evictions", c_uint64),
        ("table_evictions", c_uint64),
        ("evicted_bytes", c_uint64),
        ("in_flight_bytes", c_uint64),
        ("backpressure_refusals", c_uint64),
        ("host_staging", c_uint64),
        ("pipeline_cache_state", c_uint32),
        ("pending_warmups", c_uint32),
        ("pipeline_cache_loaded_bytes", c_uint64),
        ("pipeline_cache_saves", c_uint64),
        ("pipeline_cache_saved_bytes", c_uint64),
        ("compile_waits", c_uint64),
        ("async_warmups_completed", c_uint64),
        # Appended with adaptive buckets.
        ("padding_bytes", c_uint64),
        ("bucket_refinements", c_uint64),
        ("bucket_coarsenings", c_uint64),
        # Appended with host memory registration.
        ("registered_host_regions", c_uint64),
        ("registered_host_bytes", c_uint64),
        ("registered_host_operands", c_uint64),
    ]


class gpu_adapter_info_t(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("backend", c_uint32),
        ("device_type", c_uint32),
        ("vendor_id", c_uint32),
        ("device_id", c_uint32),
        ("name", c_char * 256),
        ("driver", c_char * 256),
        ("driver_info", c_char * 256),
        # Appended: 0 when unknown.
        ("device_local_bytes", c_uint64),
    ]


class gpu_kernel_desc_t(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("source", c_char_p),
        ("entry_point", c_char_p),
        ("num_inputs", c_uint32),
        ("dtype", c_uint32),
        ("elements_per_invocation", c_uint32),
        ("elementwise", c_uint32),
        ("params_size", c_uint32),
    ]


#: ``gpu_buffer_t``: a resident buffer's handle (a number, never 0; never reused).
gpu_buffer_t = c_uint64


class gpu_region_t(Structure):
    _fields_ = [
        ("buffer", gpu_buffer_t),
        ("offset", c_uint64),
    ]


#: Opaque ``gpu_executor_t *``.
ExecutorHandle = c_void_p
#: ``gpu_recording_t *``: a batch recorded by ``gpu_executor_record``.
RecordingHandle = c_void_p

#: ``gpu_ticket_t``.
gpu_ticket_t = c_uint64

#: ``gpu_log_callback_t``: ``void (*)(uint32_t level, const char *message, void *userdata)``.
gpu_log_callback_t = ctypes.CFUNCTYPE(None, c_uint32, c_char_p, c_void_p)


# --- loading -------------------------------------------------------------------------------


class LibraryNotFoundError(OSError):
    """The shared library could not be found or loaded, or does not match these bindings."""


def _bundled_names() -> List[str]:
    if sys.platform == "win32":
        return ["gpu_executor.dll"]
    if sys.platform == "darwin":
        return ["libgpu_executor.dylib", f"libgpu_executor.{ABI_MAJOR}.dylib"]
    return [f"libgpu_executor.so.{ABI_MAJOR}", "libgpu_executor.so"]


def _system_names() -> List[str]:
    names = []
    if sys.platform.startswith("linux"):
        names.append(f"libgpu_executor.so.{ABI_MAJOR}")
    found = ctypes.util.find_library("gpu_executor")
    if found and found not in names:
        names.append(found)
    for name in _bundled_names():
        if name not in names:
            names.append(name)
    return names


_PROTOTYPES = {
    # name: (restype, argtypes)
    "gpu_executor_options_default": (gpu_executor_options_t, []),
    "gpu_executor_create": (
        c_int32,
        [POINTER(gpu_executor_options_t), POINTER(ExecutorHandle)],
    ),
    "gpu_executor_destroy": (None, [ExecutorHandle]),
    "gpu_executor_submit_batch": (c_int32, [ExecutorHandle, POINTER(gpu_task_t), c_size_t]),
    "gpu_executor_stats": (c_int32, [ExecutorHandle, POINTER(gpu_executor_stats_t)]),
    "gpu_executor_bucket_sizes": (
        c_int32,
        [ExecutorHandle, POINTER(c_uint64), c_size_t, POINTER(c_size_t)],
    ),
    "gpu_executor_adapter_info": (c_int32, [ExecutorHandle, POINTER(gpu_adapter_info_t)]),
    "gpu_executor_print_stats": (c_int32, [ExecutorHandle]),
    "gpu_executor_format_stats": (
        c_int32,
        [ExecutorHandle, c_char_p, c_size_t, POINTER(c_size_t)],
    ),
    "gpu_executor_status_str": (c_char_p, [c_int32]),
    "gpu_executor_last_error_message": (c_char_p, []),
    "gpu_executor_version": (c_char_p, []),
    "gpu_executor_submit_batch_async": (
        c_int32,
        [ExecutorHandle, POINTER(gpu_task_t), c_size_t, POINTER(gpu_ticket_t)],
    ),
    "gpu_executor_wait": (c_int32, [ExecutorHandle, gpu_ticket_t, c_uint64]),
    "gpu_executor_poll": (c_int32, [ExecutorHandle, gpu_ticket_t]),
    "gpu_executor_set_log_callback": (c_int32, [gpu_log_callback_t, c_void_p]),
    "gpu_executor_set_log_level": (c_int32, [c_uint32]),
    "gpu_kernel_desc_default": (gpu_kernel_desc_t, []),
    "gpu_executor_register_kernel": (
        c_int32,
        [ExecutorHandle, POINTER(gpu_kernel_desc_t), POINTER(c_uint32)],
    ),
    "gpu_buffer_create": (c_int32, [ExecutorHandle, c_uint32, c_uint64, POINTER(gpu_buffer_t)]),
    "gpu_buffer_create_from": (
        c_int32,
        [ExecutorHandle, c_uint32, c_void_p, c_uint64, POINTER(gpu_buffer_t)],
    ),
    "gpu_buffer_write": (c_int32, [ExecutorHandle, gpu_buffer_t, c_uint64, c_void_p, c_uint64]),
    "gpu_buffer_read": (c_int32, [ExecutorHandle, gpu_buffer_t, c_uint64, c_void_p, c_uint64]),
    "gpu_buffer_read_async": (
        c_int32,
        [ExecutorHandle, gpu_buffer_t, c_uint64, c_void_p, c_uint64, POINTER(gpu_ticket_t)],
    ),
    "gpu_buffer_write_async": (
        c_int32,
        [ExecutorHandle, gpu_buffer_t, c_uint64, c_void_p, c_uint64, POINTER(gpu_ticket_t)],
    ),
    "gpu_buffer_destroy": (c_int32, [ExecutorHandle, gpu_buffer_t]),
    "gpu_buffer_info": (
        c_int32,
        [ExecutorHandle, gpu_buffer_t, POINTER(c_uint32), POINTER(c_uint64)],
    ),
    "gpu_executor_record": (
        c_int32,
        [ExecutorHandle, POINTER(gpu_task_t), c_size_t, POINTER(RecordingHandle)],
    ),
    "gpu_recording_submit": (c_int32, [ExecutorHandle, RecordingHandle]),
    "gpu_recording_submit_async": (
        c_int32,
        [ExecutorHandle, RecordingHandle, POINTER(gpu_ticket_t)],
    ),
    "gpu_recording_destroy": (None, [RecordingHandle]),
    "gpu_executor_trim": (c_int32, [ExecutorHandle]),
    "gpu_executor_warmup": (
        c_int32,
        [ExecutorHandle, POINTER(gpu_task_t), c_size_t, POINTER(c_uint64)],
    ),
    "gpu_executor_warmup_async": (
        c_int32,
        [ExecutorHandle, POINTER(gpu_task_t), c_size_t],
    ),
    "gpu_executor_warmup_wait": (c_int32, [ExecutorHandle, c_uint64, POINTER(c_uint64)]),
    "gpu_executor_enumerate_adapters": (
        c_int32,
        [c_uint32, POINTER(gpu_adapter_info_t), c_size_t, POINTER(c_size_t)],
    ),
    "gpu_executor_drop_ticket": (c_int32, [ExecutorHandle, gpu_ticket_t]),
    "gpu_executor_register_host_memory": (c_int32, [ExecutorHandle, c_void_p, c_uint64]),
    "gpu_executor_unregister_host_memory": (c_int32, [ExecutorHandle, c_void_p]),
}


class Library:
    """A loaded libgpu_executor with its prototypes declared."""

    def __init__(self, dll: ctypes.CDLL, path: str, source: str) -> None:
        self.dll = dll
        #: What was passed to the loader: a file path, or a name the system loader resolved.
        self.path = path
        #: Where it came from: "GPU_EXECUTOR_LIBRARY", "bundled", "system" or "explicit".
        self.source = source
        for name, (restype, argtypes) in _PROTOTYPES.items():
            try:
                function = getattr(dll, name)
            except AttributeError as error:
                raise LibraryNotFoundError(
                    f"{path} does not export {name}: not a gpu_executor library"
                ) from error
            function.restype = restype
            function.argtypes = argtypes
            setattr(self, name, function)
        self._check_compatible()

    def _check_compatible(self) -> None:
        version = self.version()
        try:
            major = int(version.split(".")[0])
        except ValueError:
            major = -1
        if major != ABI_MAJOR:
            raise LibraryNotFoundError(
                f"{self.path} is gpu_executor {version!r}; these bindings need major "
                f"version {ABI_MAJOR}"
            )
        size = self.gpu_executor_options_default().struct_size
        if size != ctypes.sizeof(gpu_executor_options_t):
            raise LibraryNotFoundError(
                f"{self.path}: gpu_executor_options_t is {size} bytes in the library but "
                f"{ctypes.sizeof(gpu_executor_options_t)} in these bindings"
            )

    def version(self) -> str:
        return self.gpu_executor_version().decode("utf-8", "replace")

    def last_error_message(self) -> str:
        return (self.gpu_executor_last_error_message() or b"").decode("utf-8", "replace")

    def status_str(self, status: int) -> str:
        return (self.gpu_executor_status_str(int(status)) or b"").decode("utf-8", "replace")


def _open(path: str, source: str) -> Library:
    mode = getattr(os, "RTLD_LOCAL", 0) | getattr(os, "RTLD_NOW", 0)
    return Library(ctypes.CDLL(path, mode=mode), path, source)


def _candidates() -> List[Tuple[str, str]]:
    here = Path(__file__).resolve().parent
    found = [(str(here / name), "bundled") for name in _bundled_names() if (here / name).is_file()]
    found += [(name, "system") for name in _system_names()]
    return found


_lock = threading.Lock()
_library: Optional[Library] = None


def load_library(path: Optional[str] = None) -> Library:
    """Loads the shared library (once per process) and returns it.

    ``path`` (or the ``GPU_EXECUTOR_LIBRARY`` environment variable) names the file to load;
    without either, a copy bundled next to this package is used, then the system loader
    (``libgpu_executor.so.0``, ``ctypes.util.find_library("gpu_executor")``). Raises
    :class:`LibraryNotFoundError` when nothing loads. A later call with a different ``path``
    after the library was loaded raises too: one process uses one library.
    """
    global _library
    with _lock:
        if _library is not None:
            if path is not None and os.path.realpath(path) != os.path.realpath(_library.path):
                raise LibraryNotFoundError(
                    f"gpu_executor is already loaded from {_library.path}; cannot switch to {path}"
                )
            return _library
        if path is not None:
            _library = _open_explicit(path, "explicit")
            return _library
        env = os.environ.get(LIBRARY_ENV)
        if env:
            _library = _open_explicit(env, LIBRARY_ENV)
            return _library
        errors = []
        for candidate, source in _candidates():
            try:
                _library = _open(candidate, source)
                return _library
            except OSError as error:
                errors.append(f"  {candidate} ({source}): {error}")
        raise LibraryNotFoundError(
            "cannot load the gpu_executor shared library; set "
            f"{LIBRARY_ENV} to the full path of libgpu_executor.so (e.g. "
            "target/release/libgpu_executor.so after `cargo build --release`). Tried:\n"
            + "\n".join(errors)
        )


def _open_explicit(path: str, source: str) -> Library:
    if not os.path.isfile(path):
        raise LibraryNotFoundError(f"{source}: {path} does not exist or is not a file")
    try:
        return _open(os.path.abspath(path), source)
    except LibraryNotFoundError:
        raise
    except OSError as error:
        raise LibraryNotFoundError(f"{source}: cannot load {path}: {error}") from error


def library() -> Library:
    """The loaded library, loading it on first use."""
    lib = _library
    return lib if lib is not None else load_library()


class HandleOwner:
    """A Python object owning a library handle: ``close()`` when a ``with`` block ends and
    when it is collected. Collection never raises: during interpreter shutdown, or after a
    failed ``__init__``, attributes (or the library) may already be gone."""

    def close(self) -> None:  # pragma: no cover - every owner defines it
        raise NotImplementedError

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if getattr(self, "_handle", None) is not None:
                self.close()
        except Exception:  # pragma: no cover
            pass
