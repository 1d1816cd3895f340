"""The Python API over the C ABI: Executor, GpuExecutorError and module-level helpers."""

from __future__ import annotations

import ctypes
import enum
import math
import os
import sys
import threading
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Type, TypeVar, Union

import numpy as np

from . import _ffi
from ._buffers import Buffer
from ._ffi import Backend, DeviceType, DType, PowerPreference, Staging, Status, Strategy
from ._optasks import Kernel, Task, _register
from ._tasks import ArrayTask, Batch

E = TypeVar("E", bound=enum.IntEnum)


class GpuExecutorError(RuntimeError):
    """A call into the library failed.

    ``status`` is a :class:`Status` (an ``int`` with a ``.name``; a plain ``int`` for codes
    these bindings do not know) and ``message`` the library's
    ``gpu_executor_last_error_message()`` for the failed call.
    """

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(status, message)
        try:
            self.status: Union[Status, int] = Status(status)
        except ValueError:
            self.status = int(status)
        self.message = message

    @property
    def code(self) -> int:
        """The status as a plain ``int``."""
        return int(self.status)

    @property
    def status_name(self) -> str:
        """The status name without prefix, e.g. ``"ALIASING"``."""
        if isinstance(self.status, Status):
            return self.status.name
        return f"UNKNOWN_STATUS_{int(self.status)}"

    def __str__(self) -> str:
        text = f"{self.status_name} ({self.code})"
        return f"{text}: {self.message}" if self.message else text


def _check(lib: _ffi.Library, status: int) -> None:
    if status != Status.OK:
        # Read at once: the message belongs to the last call on this thread.
        raise GpuExecutorError(status, lib.last_error_message())


def version() -> str:
    """The loaded library's version, e.g. ``"0.1.0"``."""
    return _ffi.library().version()


def status_string(status: int) -> str:
    """The library's description of a status code."""
    return _ffi.library().status_str(status)


def library_path() -> str:
    """What the library was loaded from (a path, or the name the system loader resolved)."""
    return _ffi.library().path


def _enum_or_int(cls: Type[E], value: int) -> Union[E, int]:
    try:
        return cls(value)
    except ValueError:
        return value


_ALIASES = {
    PowerPreference: {"low_power": "LOW", "high": "HIGH_PERFORMANCE"},
    Backend: {"vk": "VULKAN", "dx12": "DX12", "opengl": "GL", "gles": "GL"},
}


def _option(cls: Type[E], value: Union[str, int], name: str) -> int:
    if isinstance(value, str):
        key = value.strip().lower().replace("-", "_")
        key = _ALIASES.get(cls, {}).get(key, key).upper()
        if key in cls.__members__ and not (cls is Backend and key == "OTHER"):
            return int(cls[key])
        choices = ", ".join(
            repr(m.lower()) for m in cls.__members__ if not (cls is Backend and m == "OTHER")
        )
        raise ValueError(f"{name}={value!r} is not one of {choices}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a string or a {cls.__name__}, got {type(value).__name__}")
    if not 0 <= value < 2**32:
        raise ValueError(f"{name}={value} is out of range")
    # Unknown integer values reach the library, which answers INVALID_OPTION.
    return int(value)


def _dtype(value: Any, name: str) -> DType:
    """A :class:`DType` from a DType, its int, a name ("float32", "f32", "i32", ...) or a
    NumPy dtype or type."""
    if isinstance(value, str):
        key = value.strip().lower()
        names = {"float32": "F32", "f32": "F32", "int32": "I32", "i32": "I32", "uint32": "U32", "u32": "U32"}
        if key in names:
            return DType[names[key]]
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        try:
            return DType(int(value))
        except ValueError:
            pass
    else:
        try:
            dtype = np.dtype(value)
        except TypeError:
            dtype = None
        for code, element in enumerate((np.float32, np.int32, np.uint32)):
            if dtype is not None and dtype == np.dtype(element):
                return DType(code)
    raise TypeError(f"{name}={value!r} is not an element type: float32, int32 or uint32")


def _unsigned(value: Any, name: str, bits: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if not 0 <= value < 2**bits:
        raise ValueError(f"{name}={value} must be in [0, 2**{bits})")
    return value


def _host_memory(array: Any, writable: bool) -> Tuple[Any, int, int]:
    """``(keep, address, nbytes)`` of the memory of ``array`` (a NumPy array or another object
    with the buffer protocol, C-contiguous; ``writable`` when it must be writable): ``keep``
    is the object to hold while the memory is registered (the array itself, or a
    ``memoryview`` of the object, which also stops a ``bytearray`` from being resized)."""
    if isinstance(array, np.ndarray):
        keep: Any = array
        contiguous, readonly = array.flags.c_contiguous, not array.flags.writeable
        nbytes = array.nbytes
    else:
        try:
            keep = memoryview(array)
        except TypeError:
            raise TypeError(
                "array must be a numpy.ndarray or another object with the buffer protocol, "
                f"got {type(array).__name__}"
            ) from None
        contiguous, readonly, nbytes = keep.c_contiguous, keep.readonly, keep.nbytes
    if not contiguous:
        raise ValueError(
            f"array is not C-contiguous (shape {getattr(keep, 'shape', None)}, "
            f"strides {getattr(keep, 'strides', None)})"
        )
    if writable and readonly:
        raise ValueError("array is read-only: registered memory must be writable")
    if isinstance(keep, np.ndarray):
        address = keep.ctypes.data
    else:
        # A temporary one-dimensional byte view of the same memory, for its address.
        address = np.frombuffer(keep, np.uint8).ctypes.data
    return keep, int(address), int(nbytes)


#: ``gpu_executor_wait``'s "no limit".
_NO_LIMIT = 2**64 - 1
#: Long waits are made of waits this long, so that Ctrl-C (signal handlers run between
#: them) can interrupt them.
_WAIT_SLICE_NS = 100_000_000


def _timeout_ns(timeout: Optional[float]) -> int:
    if timeout is None:
        return _NO_LIMIT
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float, np.integer, np.floating)):
        raise TypeError(f"timeout must be a number of seconds or None, got {type(timeout).__name__}")
    seconds = float(timeout)
    if math.isnan(seconds):
        raise ValueError("timeout is NaN")
    if seconds <= 0:
        return 0
    if seconds * 1e9 >= _NO_LIMIT:
        return _NO_LIMIT
    return int(seconds * 1e9)


class Ticket:
    """One asynchronous batch, from :meth:`Executor.submit_async`.

    :meth:`wait` or :meth:`poll` completes it: the outputs hold their results once either
    returns ``True``. Until then the ticket keeps the outputs and the executor alive;
    after completing, it lets go of them. A ticket that is never completed never writes its
    outputs, and its GPU buffers stay with the executor until it is closed. Safe to use from
    several threads (one of them completes it; the others then see it done).

    ``Ticket(executor, ticket_id)`` adopts a ``gpu_ticket_t`` obtained through the C API
    (it then keeps no outputs alive: that is the caller's business).
    """

    def __init__(self, executor: "Executor", ticket_id: int, *, _outputs: Sequence[Any] = ()) -> None:
        if not isinstance(executor, Executor):
            raise TypeError(f"executor must be a gpu_executor.Executor, got {type(executor).__name__}")
        self._executor: Optional[Executor] = executor
        self._id = _unsigned(ticket_id, "ticket_id", 64)
        self._outputs: Optional[List[Any]] = list(_outputs)
        self._lock = threading.Lock()
        self._done = False
        self._error: Optional[GpuExecutorError] = None

    @property
    def id(self) -> int:
        """The ``gpu_ticket_t`` (never 0 for a ticket from :meth:`Executor.submit_async`)."""
        return self._id

    @property
    def done(self) -> bool:
        """Whether the ticket has completed (successfully or not). Makes no call."""
        return self._done

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Waits up to ``timeout`` seconds (``None``: no limit; ``0``: only checks).

        Returns ``True`` when the batch has completed and every output holds its result,
        ``False`` when the time ran out (``NOT_READY``: wait again later). Raises
        :class:`GpuExecutorError` with the batch's own status (``GPU_ERROR``,
        ``DEVICE_LOST``, ...) when it failed, after which the ticket is done and raises the
        same error again if asked; with ``UNKNOWN_TICKET`` when the executor does not know
        the ticket (never issued, or completed through the C API); with ``TIMED_OUT`` when
        ``timeout`` is ``None`` and the executor's ``wait_timeout`` passed (the ticket stays
        pending); ``ValueError`` when the executor was closed first (the results were
        abandoned). A completed ticket returns ``True`` at once.
        """
        ns = _timeout_ns(timeout)
        executor_limit = self._executor._wait_timeout_ns if self._executor is not None else 0
        capped = ns == _NO_LIMIT and executor_limit > 0
        if capped:
            ns = executor_limit
        with self._lock:
            if self._done:
                if self._error is not None:
                    raise self._error
                return True
            executor = self._executor
            assert executor is not None
            deadline = None if ns == _NO_LIMIT else time.monotonic_ns() + ns
            while True:
                step = _WAIT_SLICE_NS if deadline is None else min(ns, _WAIT_SLICE_NS)
                if executor.closed:  # before this call or between two slices of a wait
                    self._outputs = None
                    raise ValueError(
                        f"the executor was closed before ticket {self._id} completed; its "
                        "results were abandoned"
                    )
                try:
                    status, message = executor._raw_call("gpu_executor_wait", self._id, step)
                except ValueError:
                    if executor.closed:
                        continue  # closed meanwhile: raise the explanation above
                    raise
                if status != Status.NOT_READY:
                    break
                if deadline is not None:
                    ns = deadline - time.monotonic_ns()
                    if ns <= 0:
                        if capped:
                            raise GpuExecutorError(
                                Status.TIMED_OUT,
                                f"ticket {self._id}: the GPU did not finish within the "
                                "executor's wait_timeout; the ticket stays pending",
                            )
                        return False
            if status == Status.OK:
                self._finish(None)
                return True
            error = GpuExecutorError(status, message)
            if status not in (Status.UNKNOWN_TICKET, Status.NULL_POINTER, Status.TIMED_OUT):
                # The batch itself failed: the ticket is spent.
                self._finish(error)
            raise error

    def poll(self) -> bool:
        """``wait(0)``: ``True`` (outputs written) if the batch has completed, else ``False``."""
        return self.wait(0)

    def _finish(self, error: Optional[GpuExecutorError]) -> None:
        self._done = True
        self._error = error
        self._outputs = None
        self._executor = None

    def __repr__(self) -> str:
        if self._done:
            state = "failed" if self._error is not None else "done"
        else:
            state = "pending"
        return f"<gpu_executor.Ticket {self._id} {state}>"


class Recording(_ffi.HandleOwner):
    """A batch recorded once and submitted many times (``gpu_executor_record``), from
    :meth:`Executor.record` (or ``Recording(executor, tasks)``).

    ``tasks`` is anything :meth:`Executor.submit` takes (an iterable of :class:`Task` objects
    and ``(a, b, out)`` tuples, one ``Task``, a :class:`Batch`), with one limit: every task
    is a built-in element-wise op whose inputs and output are all buffer regions
    (:class:`Region` or :class:`Buffer`). They are checked, ordered and planned now, and
    nothing runs; a host array, a reduction, matmul or a registered kernel raises
    :class:`GpuExecutorError` with ``INVALID_ARGUMENT`` naming the task, as does an executor
    with the ``"baseline"`` strategy. The other errors are a submission's (``FOREIGN_BUFFER``,
    ``OUT_OF_BOUNDS``, ``DEPENDENCY``, ...).

    :meth:`submit` (blocking) and :meth:`submit_async` (a :class:`Ticket`) run the recorded
    tasks on the buffers as they are at that call (``Buffer.write`` new data in between), in
    order with every other batch and buffer call of the executor, for the cost of one submit
    however many tasks there are. Several submissions may be in flight; they run in order.

    The recording keeps its executor and the buffers it uses alive. Closing one of those
    buffers makes later submissions raise ``INVALID_BUFFER``; using the recording once it or
    its executor is closed raises ``ValueError``. Close it with :meth:`close` or a ``with``
    block (dropping the last reference closes it too); that is safe after the executor was
    closed. Safe to use from several threads: submissions may run at once, and :meth:`close`
    waits for those in progress.
    """

    def __init__(self, executor: "Executor", tasks: Union[Batch, Task, Iterable[Union[Task, ArrayTask]]]) -> None:
        self._handle: Optional[_ffi.RecordingHandle] = None  # first: __del__ may run if __init__ fails
        if not isinstance(executor, Executor):
            raise TypeError(f"executor must be a gpu_executor.Executor, got {type(executor).__name__}")
        if isinstance(tasks, Recording):
            raise TypeError("tasks is a Recording already; submit it, or record its tasks again")
        batch = tasks if isinstance(tasks, Batch) else Batch(tasks)
        pointer, count = batch._as_parameter()
        self._executor = executor
        self._lib = executor._lib  # gpu_recording_destroy may run after the executor is gone
        self._count = count
        # Submissions in progress: close() waits for them before destroying the handle.
        self._users = 0
        self._idle = threading.Condition(threading.Lock())
        handle = _ffi.RecordingHandle()
        # `batch` keeps the task array (and the region records it points to) alive until the
        # call returns; the library reads them during the call only.
        executor._call("gpu_executor_record", pointer, count, ctypes.byref(handle))
        self._handle = handle
        # The buffers: so that dropping the last other reference does not close them under
        # the recording (closing one explicitly still does, and submissions then say so).
        self._batch = batch

    @property
    def executor(self) -> "Executor":
        return self._executor

    @property
    def handle(self) -> int:
        """The ``gpu_recording_t *`` as an ``int`` (for the C API; still owned by this
        object); ``ValueError`` once closed."""
        handle = self._handle
        if handle is None:
            raise ValueError("operation on a closed gpu_executor.Recording")
        return int(handle.value or 0)

    @property
    def closed(self) -> bool:
        """Closed by :meth:`close`, or with its executor (it can no longer be submitted)."""
        return self._handle is None or self._executor.closed

    def __len__(self) -> int:
        """How many tasks were recorded."""
        return self._count

    def submit(self) -> None:
        """Runs the recorded tasks and returns once they are done (``gpu_recording_submit``).

        Raises :class:`GpuExecutorError` with ``INVALID_BUFFER`` when one of its buffers was
        closed, ``GPU_ERROR``, ``DEVICE_LOST``, ``TIMED_OUT`` (the executor's
        ``wait_timeout``) ... as the library reports; ``ValueError`` when this recording or
        its executor is closed.
        """
        self._submit(self._executor, False)

    def submit_async(self) -> Ticket:
        """Submits the recorded tasks and returns at once (``gpu_recording_submit_async``):
        the :class:`Ticket` completes once they are done (there are no host outputs).
        Errors as :meth:`submit`, raised here."""
        ticket = self._submit(self._executor, True)
        assert ticket is not None
        return ticket

    def _submit(self, executor: "Executor", asynchronous: bool) -> Optional[Ticket]:
        """Submits on ``executor`` (another executor's: the library answers
        ``INVALID_ARGUMENT``)."""
        with self._idle:
            handle = self._handle
            if handle is None:
                raise ValueError("operation on a closed gpu_executor.Recording")
            if self._executor.closed:
                raise ValueError("operation on a gpu_executor.Recording whose executor is closed")
            self._users += 1
        try:
            if not asynchronous:
                executor._call("gpu_recording_submit", handle)
                return None
            ticket = _ffi.gpu_ticket_t(0)
            executor._call("gpu_recording_submit_async", handle, ctypes.byref(ticket))
            return Ticket(executor, ticket.value)
        finally:
            with self._idle:
                self._users -= 1
                if not self._users:
                    self._idle.notify_all()

    def close(self) -> None:
        """Destroys the recording (``gpu_recording_destroy``); submissions already made are
        unaffected. Idempotent; safe after the executor was closed. Waits for submissions
        running on other threads to return first."""
        with self._idle:
            handle, self._handle = self._handle, None
            while self._users:
                self._idle.wait()
        self._batch = None
        if handle is not None:
            self._lib.gpu_recording_destroy(handle)

    def __enter__(self) -> "Recording":
        if self.closed:
            raise ValueError("operation on a closed gpu_executor.Recording")
        return self

    def __repr__(self) -> str:
        state = "closed " if self.closed else ""
        return f"<gpu_executor.Recording {state}of {self._count} tasks>"


class Executor(_ffi.HandleOwner):
    """One GPU executor: a device, its caches and counters.

    ``strategy``: ``"bucketed"`` (size-bucketed pipeline cache, buffer pool, exact-size
    cache) or ``"baseline"`` (nothing cached, for comparison). ``backend``: ``"any"``,
    ``"vulkan"``, ``"metal"``, ``"dx12"`` or ``"gl"``. ``power_preference``: ``"default"``,
    ``"low"`` or ``"high_performance"``. ``exact_size_cache``: single-task batches keep
    buffers per exact length; ``exact_size_cache_capacity``: how many lengths (``None``: the
    library default). ``max_chunk_elements``: most elements per GPU binding, longer tasks
    are split (0: what the device allows; otherwise at least 64). ``copy_threads``: threads
    copying a large batch to and from staging memory (0: up to 16, by the machine's
    parallelism; 1: the calling thread only). ``wait_timeout``: longest, in seconds, that
    :meth:`submit` and ``Ticket.wait()`` without a timeout wait for the GPU before raising
    ``TIMED_OUT`` (``None``: no limit). ``max_idle_bytes``: most bytes of GPU memory kept for
    reuse in idle slabs, the exact-size cache and idle tables together, least recently used
    freed first (``None``: the library default, 512 MiB; 0 keeps nothing).
    ``max_in_flight_bytes``: most slab bytes asynchronous batches may hold in flight; one
    more raises ``OVER_BUDGET`` with nothing submitted (0: no budget). ``staging``: where
    the host side of transfers lives: ``"auto"`` (host memory mapped once where the backend
    allows it, else wgpu's mapped buffers), ``"mapped"`` (wgpu's, the fallback) or
    ``"host"`` (host memory or an error).
    ``pipeline_cache_dir``: a directory for the persistent pipeline cache (``None``: off);
    where the backend has pipeline caches (Vulkan) compiled pipelines are kept there across
    processes, elsewhere the stats' ``pipeline_cache_state`` says unsupported (1).
    ``min_bucket_elements``: the smallest size bucket, a power of two from 64 to 2**30
    (``None``: the library default, 16384). ``bucket_growth``: each bucket is this many
    times the one below, 2 to 16 (``None``: 2). Other values raise ``INVALID_ARGUMENT``.
    ``adaptive_buckets``: refine slab size classes that waste memory and coarsen pipeline
    buckets that thrash, between batches; results never change (docs/BUCKETS.md).

    Use as a context manager, or call :meth:`close`. Safe to share between threads.
    """

    def __init__(
        self,
        strategy: Union[str, int] = "bucketed",
        backend: Union[str, int] = "any",
        exact_size_cache: bool = True,
        max_chunk_elements: int = 0,
        *,
        power_preference: Union[str, int] = "default",
        exact_size_cache_capacity: Optional[int] = None,
        copy_threads: int = 0,
        wait_timeout: Optional[float] = None,
        adapter_index: Optional[int] = None,
        max_idle_bytes: Optional[int] = None,
        max_in_flight_bytes: int = 0,
        staging: Union[str, int] = "auto",
        pipeline_cache_dir: Optional[Union[str, "os.PathLike[str]"]] = None,
        min_bucket_elements: Optional[int] = None,
        bucket_growth: Optional[int] = None,
        adaptive_buckets: bool = False,
    ) -> None:
        self._handle: Optional[_ffi.ExecutorHandle] = None
        # Calls in progress: close() waits for them to return before destroying the handle.
        self._users = 0
        self._idle = threading.Condition(threading.Lock())
        # Registered host memory: its address -> the object that owns it, held until it is
        # unregistered or, after close(), until gpu_executor_destroy has returned (the GPU may
        # use the memory until then). The lock serialises registrations with each other and
        # with close()'s release of these references.
        self._registered: Dict[int, Any] = {}
        self._registration_lock = threading.Lock()
        lib = _ffi.library()
        self._lib = lib
        options = lib.gpu_executor_options_default()
        options.strategy = _option(Strategy, strategy, "strategy")
        options.backend = _option(Backend, backend, "backend")
        options.power_preference = _option(PowerPreference, power_preference, "power_preference")
        options.exact_size_cache = 1 if exact_size_cache else 0
        if exact_size_cache_capacity is not None:
            options.exact_size_cache_capacity = _unsigned(
                exact_size_cache_capacity, "exact_size_cache_capacity", 32
            )
        options.max_chunk_elements = _unsigned(max_chunk_elements, "max_chunk_elements", 64)
        options.copy_threads = _unsigned(copy_threads, "copy_threads", 32)
        self._wait_timeout_ns = 0 if wait_timeout is None else max(1, _timeout_ns(wait_timeout))
        options.wait_timeout_ns = self._wait_timeout_ns
        if adapter_index is not None:
            # An index into the list gpu_executor_enumerate_adapters gives for `backend`.
            options.adapter_index = _unsigned(adapter_index, "adapter_index", 32)
        if max_idle_bytes is not None:
            # Idle slabs, exact-size entries and tables together; default 512 MiB.
            options.max_idle_bytes = _unsigned(max_idle_bytes, "max_idle_bytes", 64)
        options.max_in_flight_bytes = _unsigned(max_in_flight_bytes, "max_in_flight_bytes", 64)
        options.staging = _option(Staging, staging, "staging")
        # Read during gpu_executor_create only; `cache_dir` keeps the bytes alive until then.
        cache_dir = None if pipeline_cache_dir is None else os.fsencode(pipeline_cache_dir)
        options.pipeline_cache_dir = cache_dir
        if min_bucket_elements is not None:
            options.min_bucket_elements = _unsigned(min_bucket_elements, "min_bucket_elements", 64)
        if bucket_growth is not None:
            options.bucket_growth = _unsigned(bucket_growth, "bucket_growth", 32)
        options.adaptive_buckets = 1 if adaptive_buckets else 0
        handle = _ffi.ExecutorHandle()
        _check(lib, lib.gpu_executor_create(ctypes.byref(options), ctypes.byref(handle)))
        self._handle = handle
        self._strategy = _enum_or_int(Strategy, options.strategy)

    # --- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Destroys the executor and its GPU resources. Idempotent.

        Waits for calls running on other threads to return first. Tickets still pending are
        abandoned: their outputs are never written, and waiting on them raises
        ``ValueError``. Host memory still registered is unregistered (the library does it,
        once the GPU is done with it); only then are the references to its objects dropped.
        """
        with self._idle:
            handle, self._handle = self._handle, None
            while self._users:
                self._idle.wait()
        if handle is not None:
            self._lib.gpu_executor_destroy(handle)
        # Not before: until gpu_executor_destroy returned, the GPU may read or write them.
        with self._registration_lock:
            self._registered.clear()

    @property
    def closed(self) -> bool:
        return self._handle is None

    def __enter__(self) -> "Executor":
        self._live()
        return self

    def __repr__(self) -> str:
        if self._handle is None:
            return "<gpu_executor.Executor closed>"
        strategy = getattr(self._strategy, "name", self._strategy)
        return f"<gpu_executor.Executor strategy={str(strategy).lower()}>"

    def _live(self) -> _ffi.ExecutorHandle:
        handle = self._handle
        if handle is None:
            raise ValueError("operation on a closed gpu_executor.Executor")
        return handle

    def _enter(self) -> _ffi.ExecutorHandle:
        with self._idle:
            handle = self._live()
            self._users += 1
            return handle

    def _leave(self) -> None:
        with self._idle:
            self._users -= 1
            if not self._users:
                self._idle.notify_all()

    def _raw_call(self, name: str, *args: Any) -> Tuple[int, str]:
        """Calls ``name(handle, *args)``; returns the status and, unless OK, the message.

        Several threads may call at once (the library serialises what needs it, and a wait
        on a ticket does not block other calls); close() waits until they are all done.
        ctypes releases the GIL during the call.
        """
        handle = self._enter()
        try:
            status = getattr(self._lib, name)(handle, *args)
            # Read at once: the message belongs to the last call on this thread.
            message = self._lib.last_error_message() if status != Status.OK else ""
        finally:
            self._leave()
        return status, message

    def _call(self, name: str, *args: Any) -> None:
        status, message = self._raw_call(name, *args)
        if status != Status.OK:
            raise GpuExecutorError(status, message)

    # --- work -------------------------------------------------------------------------------

    def submit(self, tasks: Union[Batch, Task, Recording, Iterable[Union[Task, ArrayTask]]]) -> None:
        """Runs every task of ``tasks`` as one batch (one call into the library).

        ``tasks`` is an iterable of :class:`Task` objects (any op: ``gpu_executor.ops``
        makes them) and ``(a, b, out)`` tuples (``out[...] = a + b``), mixed in any order;
        or one ``Task``; or a :class:`Batch` (built from them, or from stacked arrays or
        lists of arrays, and reusable). For a tuple, every array must be a C-contiguous,
        aligned ``numpy.float32`` array, and ``a``, ``b`` and ``out`` must have the same
        shape (any, including empty); a ``Task`` says what its op takes. Arrays are used
        in place, never copied; every ``out`` is written only if the whole batch succeeds
        and must not overlap any input or any other output (``GpuExecutorError`` with
        status ``ALIASING``). Raises ``TypeError`` / ``ValueError`` naming the first unfit
        task before anything runs.

        A :class:`Recording` runs as :meth:`Recording.submit` would, on this executor
        (another executor's raises ``INVALID_ARGUMENT``).
        """
        if isinstance(tasks, Recording):
            tasks._submit(self, False)
            return
        batch = tasks if isinstance(tasks, Batch) else Batch(tasks)
        pointer, count = batch._as_parameter()
        # `batch` keeps every array alive until the call returns.
        self._call("gpu_executor_submit_batch", pointer, count)

    def submit_async(self, tasks: Union[Batch, Task, Recording, Iterable[Union[Task, ArrayTask]]]) -> "Ticket":
        """Submits ``tasks`` like :meth:`submit` but returns at once, with a :class:`Ticket`.

        Every input array is copied before this returns: it may be changed or dropped
        right away. Each ``out`` is written when the ticket completes
        (:meth:`Ticket.wait` or :meth:`Ticket.poll` returning ``True``); until then do not
        read or write it. Arrays in registered host memory (:meth:`register_host_memory`)
        are the exception: the GPU reads and writes them in place while the batch runs, so
        leave its inputs there unchanged too until the ticket completes. The ticket keeps every ``out`` (and this executor) alive until it
        completes. Several tickets may be in flight at once and complete in any order.
        Arguments are checked as by :meth:`submit`, and a rejected batch raises here,
        before anything runs. A :class:`Recording` is submitted as by
        :meth:`Recording.submit_async`, on this executor.
        """
        if isinstance(tasks, Recording):
            ticket = tasks._submit(self, True)
            assert ticket is not None
            return ticket
        batch = tasks if isinstance(tasks, Batch) else Batch(tasks)
        pointer, count = batch._as_parameter()
        ticket = _ffi.gpu_ticket_t(0)
        self._call("gpu_executor_submit_batch_async", pointer, count, ctypes.byref(ticket))
        return Ticket(self, ticket.value, _outputs=[batch])

    def record(self, tasks: Union[Batch, Task, Iterable[Union[Task, ArrayTask]]]) -> Recording:
        """Records ``tasks`` (what :meth:`submit` takes, every operand a buffer region) to be
        submitted later, as often as wanted: a :class:`Recording`. Checked and planned now;
        nothing runs. See :class:`Recording` for what can be recorded and the errors."""
        return Recording(self, tasks)

    def register_kernel(
        self,
        wgsl: str,
        *,
        inputs: int,
        dtype: Any,
        entry_point: str = "main",
        elements_per_invocation: int = 1,
        elementwise: bool = True,
        params_size: int = 0,
        param_types: Optional[Sequence[Any]] = None,
    ) -> Kernel:
        """Registers a WGSL compute kernel on this executor and returns its op, a
        :class:`Kernel` (an ``int``) for ``Task(kernel, inputs, out, scalars)``.

        ``inputs``: input arrays, 1 to 3 (bindings 1, 2 and 4; the output is binding 3);
        ``dtype``: the element type of every array (``"float32"``, ``numpy.int32``,
        ``DType.U32``, ...); ``entry_point``: the ``@compute`` function;
        ``elements_per_invocation``: 1, or 4 to read the arrays as ``vec4``;
        ``elementwise``: tasks may be split and share dispatches (``False``: each task is
        one dispatch over its whole arrays, never split); ``params_size``: bytes of
        scalars the kernel reads after the count word of binding 0 (0 to 16, a multiple
        of 4); ``param_types``: the type of each 4-byte scalar (default: ``dtype``), how
        the task's scalars are converted. ``include/gpu_executor.h`` (``gpu_kernel_desc_t``)
        describes the bindings.

        The source is compiled and checked now: ``GpuExecutorError`` with status
        ``INVALID_KERNEL`` carries the compiler's message (line and column). The op is
        valid on this executor only (another's tasks fail with ``UNKNOWN_OP``), until it
        is closed.
        """
        if not isinstance(wgsl, str):
            raise TypeError(f"wgsl must be a str, got {type(wgsl).__name__}")
        if not isinstance(entry_point, str):
            raise TypeError(f"entry_point must be a str, got {type(entry_point).__name__}")
        source, entry = wgsl.encode("utf-8"), entry_point.encode("utf-8")
        if b"\0" in source or b"\0" in entry:
            raise ValueError("wgsl and entry_point must not contain NUL characters")
        element = _dtype(dtype, "dtype")
        desc = self._lib.gpu_kernel_desc_default()
        desc.source = source
        desc.entry_point = entry
        desc.num_inputs = _unsigned(inputs, "inputs", 32)
        desc.dtype = element
        desc.elements_per_invocation = _unsigned(elements_per_invocation, "elements_per_invocation", 32)
        desc.elementwise = 1 if elementwise else 0
        desc.params_size = _unsigned(params_size, "params_size", 32)
        words = desc.params_size // 4
        if param_types is None:
            types = (element,) * words
        else:
            types = tuple(_dtype(t, "param_types item") for t in param_types)
            if len(types) != words:
                raise ValueError(
                    f"param_types names {len(types)} type(s); params_size={params_size} holds {words}"
                )
        code = ctypes.c_uint32(0)
        # `source` and `entry` (which desc points into) live until the call returns.
        self._call("gpu_executor_register_kernel", ctypes.byref(desc), ctypes.byref(code))
        return _register(
            code.value, entry_point, desc.num_inputs, element, desc.params_size, types,
            desc.elements_per_invocation, bool(elementwise),
        )

    def buffer(self, source: Any, dtype: Any = None) -> Buffer:
        """A resident :class:`Buffer` on this executor.

        ``source`` an ``int``: that many elements of ``dtype`` (default ``float32``),
        zero-filled (``Buffer(self, count, dtype)``). Otherwise an array to copy
        (``Buffer.from_numpy(self, source, dtype)``): a ``float32``, ``int32`` or ``uint32``
        NumPy array, or, with ``dtype``, anything ``numpy.asarray`` converts to it.
        """
        if isinstance(source, (int, np.integer)) and not isinstance(source, bool):
            return Buffer(self, source, "float32" if dtype is None else dtype)
        return Buffer.from_numpy(self, source, dtype)

    def register_host_memory(self, array: Any) -> None:
        """Registers the memory of ``array`` with the executor
        (``gpu_executor_register_host_memory``), so that the GPU reads and writes the arrays
        lying wholly inside it in place: every later batch's host input or output there (not
        a reduction's one-element result) moves by DMA straight from or to it, with no copy
        through the executor's staging memory. Worth it for arrays that many batches reuse
        (registering pins the pages, which costs about one copy); tasks stay as they are.

        ``array``: a NumPy array (any dtype or shape) or another object with the buffer
        protocol (``bytearray``, ``array.array``, ``memoryview``, ...), C-contiguous and
        writable (else ``ValueError``; ``TypeError`` for an object without the buffer
        protocol). Its ``nbytes`` bytes from its first element are registered; a view
        registers what it views. Registered ranges may not overlap. The executor keeps a
        reference to ``array`` until :meth:`unregister_host_memory` or :meth:`close`, so its
        memory stays allocated while registered (a ``bytearray`` cannot be resized then).

        While registered, an output there is written by the GPU while its batch runs (it
        holds the results once :meth:`submit` returns or the ticket completes), and inputs
        there are read in place, by :meth:`submit_async` too (not copied before it returns):
        do not write an input or read an output there while a batch using it is in flight.

        Raises :class:`GpuExecutorError` with ``INVALID_ARGUMENT`` when ``array`` is empty or
        overlaps memory registered already (nothing registered), ``UNSUPPORTED`` when the
        device cannot import host memory (a backend other than Vulkan, a driver without
        ``VK_EXT_external_memory_host``, or ``GPU_EXECUTOR_HOST_IMPORT=0`` in the
        environment; batches still run, copying), ``GPU_ERROR`` or ``OUT_OF_MEMORY`` when
        the driver refuses it. :meth:`stats` counts ``registered_host_regions``,
        ``registered_host_bytes`` and ``registered_host_operands`` (task operands moved in
        place so far).
        """
        keep, address, nbytes = _host_memory(array, writable=True)
        with self._registration_lock:
            self._call("gpu_executor_register_host_memory", address, nbytes)
            self._registered[address] = keep

    def unregister_host_memory(self, array: Any) -> None:
        """Unregisters the host memory registered at ``array``'s first element
        (``gpu_executor_unregister_host_memory``: the array given to
        :meth:`register_host_memory`, or any array starting at the same address) and drops
        the executor's reference to the object registered there.

        Blocks until the GPU has finished every batch submitted before, on any thread: once
        it returns, the memory may be freed or reused, and outputs there hold their results.
        Batches submitted afterwards copy arrays there through staging again.

        Raises :class:`GpuExecutorError` with ``INVALID_ARGUMENT`` when no registered memory
        starts there (never registered, unregistered already, or a view starting inside a
        registered range); ``TypeError`` or ``ValueError`` as :meth:`register_host_memory`
        (a read-only array is fine here).
        """
        _, address, _ = _host_memory(array, writable=False)
        with self._registration_lock:
            self._call("gpu_executor_unregister_host_memory", address)
            self._registered.pop(address, None)

    def add(self, a: Any, b: Any) -> np.ndarray:
        """Returns ``a + b`` computed on the GPU, as a new ``float32`` array.

        Inputs are converted to C-contiguous ``float32`` (copying only when needed); their
        shapes must be equal (no broadcasting).
        """
        a = np.require(a, dtype=np.float32, requirements=["C", "A"])
        b = np.require(b, dtype=np.float32, requirements=["C", "A"])
        if a.shape != b.shape:
            raise ValueError(f"shapes differ: a {a.shape}, b {b.shape} (no broadcasting)")
        out = np.empty(a.shape, dtype=np.float32)
        self.submit([(a, b, out)])
        return out

    # --- introspection ----------------------------------------------------------------------

    def stats(self) -> Dict[str, Any]:
        """Every field of ``gpu_executor_stats_t`` by name (``strategy`` as a :class:`Strategy`)."""
        stats = _ffi.gpu_executor_stats_t()
        stats.struct_size = ctypes.sizeof(stats)
        self._call("gpu_executor_stats", ctypes.byref(stats))
        result = {name: getattr(stats, name) for name, _ in _ffi.gpu_executor_stats_t._fields_}
        result["strategy"] = _enum_or_int(Strategy, result["strategy"])
        return result

    def bucket_sizes(self) -> List[int]:
        """Sizes (in elements) of the buckets whose pipelines are cached, ascending."""
        count = ctypes.c_size_t(0)
        self._call("gpu_executor_bucket_sizes", None, 0, ctypes.byref(count))
        while count.value:
            capacity = count.value
            sizes = (ctypes.c_uint64 * capacity)()
            self._call("gpu_executor_bucket_sizes", sizes, capacity, ctypes.byref(count))
            if count.value <= capacity:
                return list(sizes[: count.value])
        return []

    def adapter_info(self) -> Dict[str, Any]:
        """The adapter: backend, device_type, vendor_id, device_id, name, driver, driver_info,
        device_local_bytes (its largest device-local memory heap on Vulkan; 0 when unknown)."""
        info = _ffi.gpu_adapter_info_t()
        info.struct_size = ctypes.sizeof(info)
        self._call("gpu_executor_adapter_info", ctypes.byref(info))
        result: Dict[str, Any] = {}
        for name, kind in _ffi.gpu_adapter_info_t._fields_:
            if name == "struct_size":
                continue
            value = getattr(info, name)
            result[name] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        result["backend"] = _enum_or_int(Backend, result["backend"])
        result["device_type"] = _enum_or_int(DeviceType, result["device_type"])
        return result

    def print_stats(self) -> None:
        """Prints the library's ``[gpu] ...`` lines to the process's standard error."""
        sys.stderr.flush()
        self._call("gpu_executor_print_stats")

    def format_stats(self) -> str:
        """The ``[gpu] ...`` lines ``print_stats`` prints, as one string."""
        length = ctypes.c_size_t()
        self._call("gpu_executor_format_stats", None, 0, ctypes.byref(length))
        while True:
            buf = ctypes.create_string_buffer(length.value + 1)
            self._call("gpu_executor_format_stats", buf, len(buf), ctypes.byref(length))
            if length.value < len(buf):  # the counters may move between the calls
                return buf.value.decode()
