"""Resident buffers: :class:`Buffer` (a ``gpu_buffer_t``) and :class:`Region` (a
``gpu_region_t`` with a shape), and the helper that points a ``gpu_task_t`` array's
operands at regions.

A task operand in a buffer is a pointer to a ``gpu_region_t`` plus a flag bit
(``GPU_TASK_INPUTk_BUFFER``, ``GPU_TASK_OUTPUT_BUFFER``). The task builders (``_tasks``,
``_optasks``) check regions like arrays (element type, shape) with a placeholder pointer,
then :func:`attach` writes the ``gpu_region_t`` records next to the task array, in one
allocation: the task array is a view of it, so the records live exactly as long as the
tasks that point to them (the library reads them during the call only).

This module imports nothing from ``_executor`` at import time (``_executor`` imports the
task builders, which import this): the executor side is reached through the buffer's
executor object, and ``GpuExecutorError`` / ``Ticket`` are imported where used.
"""

from __future__ import annotations

import ctypes
import math
import threading
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _ffi
from ._ffi import TASK_INPUT0_BUFFER, TASK_OUTPUT_BUFFER, DType, Status

if TYPE_CHECKING:  # pragma: no cover
    from ._executor import Executor, Ticket

#: The NumPy dtypes of the element types, in ``gpu_dtype_t`` order (F32, I32, U32).
_ELEMENTS = (np.dtype(np.float32), np.dtype(np.int32), np.dtype(np.uint32))


def _region_dtype() -> np.dtype:
    fields = _ffi.gpu_region_t._fields_
    dtype = np.dtype(
        {
            "names": [name for name, _ in fields],
            "formats": [np.dtype(ctype) for _, ctype in fields],
            "offsets": [getattr(_ffi.gpu_region_t, name).offset for name, _ in fields],
            "itemsize": ctypes.sizeof(_ffi.gpu_region_t),
        }
    )
    return dtype


#: ``gpu_region_t`` as a NumPy structured dtype: same field names, offsets and size.
REGION_DTYPE = _region_dtype()

#: The slot of a task's output in :func:`attach` (inputs are 0, 1, 2).
OUTPUT_SLOT = 3


def _index(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


def _count(value: Any, name: str) -> int:
    """A count or offset for a ``uint64_t`` argument (ctypes would wrap larger ones
    silently)."""
    value = _index(value, name)
    if value < 0:
        raise ValueError(f"{name}={value} is negative")
    if value >= 2**64:
        raise ValueError(f"{name}={value} does not fit 64 bits")
    return value


def _out_of_bounds(message: str) -> Exception:
    # The library's status for the same mistake, so that every bounds error is caught the
    # same way, whether the bindings or the library saw it first.
    from ._executor import GpuExecutorError

    return GpuExecutorError(Status.OUT_OF_BOUNDS, message)


# --- Region ----------------------------------------------------------------------------------


class Region:
    """``size`` consecutive elements of a :class:`Buffer` from element ``offset``, seen with
    a ``shape``: a task operand wherever a NumPy array is accepted (``Task``, ``ops.*``,
    ``(a, b, out)`` tuples, every ``Batch`` builder), read from or written on the GPU with
    no copy to the host.

    Made by ``buffer[start:stop]``, ``buffer.region(offset, count)`` or
    ``buffer.region(offset, shape=(m, n))``; ``region.reshape(...)`` gives the same elements
    in another shape (a matmul operand is 2-D), ``region[i]`` row ``i`` and
    ``region[i:j]`` rows ``i`` to ``j``. A region never reaches past its buffer's end
    (``GpuExecutorError`` with ``Status.OUT_OF_BOUNDS`` when asked to) and is never
    clamped. It keeps its buffer alive, not open: a region of a closed buffer is refused
    when a task is built (``ValueError``) or, in a batch built before, by the library
    (``INVALID_BUFFER``).
    """

    __slots__ = ("_buffer", "_offset", "_shape", "_size")
    _buffer: "Buffer"
    _offset: int
    _shape: Tuple[int, ...]
    _size: int

    def __init__(self, buffer: "Buffer", offset: int = 0, shape: Any = None) -> None:
        if not isinstance(buffer, Buffer):
            raise TypeError(f"buffer must be a gpu_executor.Buffer, got {type(buffer).__name__}")
        offset = _count(offset, "offset")
        if shape is None:
            shape = (max(buffer._count - offset, 0),)
        shape = _shape_of(shape)
        size = math.prod(shape)
        if offset + size > buffer._count:
            raise _out_of_bounds(
                f"region of {size} element(s) from element {offset} reaches past the end of "
                f"{buffer!r}, which holds {buffer._count}"
            )
        self._buffer = buffer
        self._offset = offset
        self._shape = shape
        self._size = size

    @property
    def buffer(self) -> "Buffer":
        return self._buffer

    @property
    def offset(self) -> int:
        """The first element, counted from the buffer's start."""
        return self._offset

    @property
    def shape(self) -> Tuple[int, ...]:
        return self._shape

    @property
    def size(self) -> int:
        """Elements in the region."""
        return self._size

    @property
    def ndim(self) -> int:
        return len(self._shape)

    @property
    def dtype(self) -> np.dtype:
        """The buffer's element type, as a NumPy dtype."""
        return self._buffer._dtype

    @property
    def nbytes(self) -> int:
        return self._size * 4

    def __len__(self) -> int:
        if not self._shape:
            raise TypeError("len() of a 0-d region")
        return self._shape[0]

    def __iter__(self) -> Iterator["Region"]:
        """The rows, as ``region[i]`` gives them (like a NumPy array's)."""
        return (self[i] for i in range(len(self)))

    def reshape(self, *shape: Any) -> "Region":
        """The same elements seen with another shape (one ``-1`` is inferred)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        dims = [_index(d, "shape item") for d in shape]
        unknown = [i for i, d in enumerate(dims) if d == -1]
        if len(unknown) > 1 or any(d < -1 for d in dims):
            raise ValueError(f"cannot reshape a region to {tuple(shape)}")
        if unknown:
            known = math.prod(d for d in dims if d != -1)
            if known == 0 or self._size % known:
                raise ValueError(f"cannot reshape a region of {self._size} elements to {tuple(shape)}")
            dims[unknown[0]] = self._size // known
        if math.prod(dims) != self._size:
            raise ValueError(f"cannot reshape a region of {self._size} elements to {tuple(dims)}")
        return Region(self._buffer, self._offset, tuple(dims))

    def __getitem__(self, key: Any) -> "Region":
        """``region[i]``: row ``i`` (negative counts from the end); ``region[i:j]``: rows
        ``i`` to ``j`` (step 1 only: a region is contiguous). Out of range raises
        ``OUT_OF_BOUNDS``, as for the buffer itself."""
        if isinstance(key, tuple):
            if len(key) == 2 and key[1] is Ellipsis:
                key = key[0]
            elif len(key) == 1:
                key = key[0]
            else:
                raise TypeError("a region takes one index or slice, on its first axis")
        if not self._shape:
            raise TypeError("a 0-d region cannot be indexed")
        rows, row = self._shape[0], math.prod(self._shape[1:])
        if isinstance(key, slice):
            start, stop = _resolve_slice(key, rows)
            return Region(self._buffer, self._offset + start * row, (stop - start,) + self._shape[1:])
        index = _index(key, "index")
        if index < 0:
            index += rows
        if not 0 <= index < rows:
            raise _out_of_bounds(f"row {key} of a region of {rows} rows")
        return Region(self._buffer, self._offset + index * row, self._shape[1:])

    def read(self) -> np.ndarray:
        """The region's elements as a new array of its shape (``Buffer.read``)."""
        out = np.empty(self._shape, self._buffer._dtype)
        return self._buffer.read_into(out, self._offset)

    def write(self, data: np.ndarray) -> None:
        """Writes ``data`` (``size`` elements of the buffer's dtype, any shape) into the
        region (``Buffer.write``)."""
        if not isinstance(data, np.ndarray) or data.size != self._size:
            got = f"{data.size} elements" if isinstance(data, np.ndarray) else type(data).__name__
            raise ValueError(f"a region of {self._size} elements takes an array of as many, got {got}")
        self._buffer.write(data, self._offset)

    def _fields(self) -> Tuple[int, int, int, Tuple[int, ...]]:
        """(handle, offset, type code, shape) for a task; raises when the buffer is closed."""
        return self._buffer._live(), self._offset, self._buffer._code, self._shape

    def __repr__(self) -> str:
        return (
            f"<gpu_executor.Region {self._buffer._dtype}{list(self._shape)} at "
            f"{self._offset} of buffer {self._buffer._handle_text()}>"
        )


def _shape_of(shape: Any) -> Tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"shape must be an int or a tuple of ints, got {type(shape).__name__}")
    return tuple(_count(d, "shape item") for d in shape)


def _resolve_slice(key: slice, length: int) -> Tuple[int, int]:
    """``[start, stop)`` of a step-1 slice over ``length`` items: negative bounds count
    from the end, as for lists, but nothing is clamped: a bound past the end raises."""
    if key.step not in (None, 1):
        raise ValueError(f"a region is contiguous: slice step must be 1, got {key.step}")
    start = 0 if key.start is None else _index(key.start, "slice start")
    stop = length if key.stop is None else _index(key.stop, "slice stop")
    start = start + length if start < 0 else start
    stop = stop + length if stop < 0 else stop
    if not 0 <= start <= stop <= length:
        raise _out_of_bounds(
            f"slice {key.start}:{key.stop} does not lie within 0..{length} (regions are never clamped)"
        )
    return start, stop


# --- Buffer ----------------------------------------------------------------------------------


class Buffer(_ffi.HandleOwner):
    """A device-resident array (``gpu_buffer_t``): ``count`` elements of one element type
    that stay on the GPU between tasks and batches, owned by one :class:`Executor`.

    ``Buffer(executor, count, dtype="float32")`` makes a zero-filled one;
    ``Buffer.from_numpy(executor, array)`` (or ``executor.buffer(array)``) a copy of an
    array. ``buffer[i:j]``, ``buffer.region(...)`` and the buffer itself are task operands
    (:class:`Region`). ``write`` / ``read`` / ``read_into`` move data in and out (with
    ``_async`` variants returning a :class:`Ticket`).

    Close it with :meth:`close` or a ``with`` block: its memory returns to the executor's
    pool, to be reused by the next buffer of its size class. Dropping the last reference
    closes it too. The buffer keeps its executor alive; closing the executor first frees
    every buffer it owns (they are then closed). Errors the library reports raise
    :class:`GpuExecutorError` with its status and message; using a closed buffer raises
    ``ValueError``. Safe to use from several threads.
    """

    def __init__(self, executor: "Executor", count: int, dtype: Any = "float32") -> None:
        self._handle: Optional[int] = None  # first: __del__ may run if __init__ fails
        self._init(executor, dtype)
        count = _count(count, "count")
        handle = _ffi.gpu_buffer_t(0)
        self._executor._call("gpu_buffer_create", int(self._code), count, ctypes.byref(handle))
        self._adopt(handle.value, count)

    @classmethod
    def from_numpy(cls, executor: "Executor", array: Any, dtype: Any = None) -> "Buffer":
        """A buffer holding a copy of ``array`` (flattened in C order).

        ``array`` is a ``float32``, ``int32`` or ``uint32`` NumPy array; with ``dtype``,
        anything ``numpy.asarray(array, dtype)`` converts (a list, another dtype).
        An array of another dtype without ``dtype`` is a ``TypeError``: converting it is
        asked for, never guessed.
        """
        buffer = cls.__new__(cls)
        buffer._handle = None
        if dtype is None:
            if not isinstance(array, np.ndarray) or array.dtype not in _ELEMENTS:
                got = f"dtype {array.dtype}" if isinstance(array, np.ndarray) else type(array).__name__
                raise TypeError(
                    f"array must be a numpy.ndarray of float32, int32 or uint32, got {got}; "
                    "pass dtype= to convert it"
                )
            buffer._init(executor, array.dtype)
        else:
            buffer._init(executor, dtype)
            array = np.asarray(array, dtype=buffer._dtype)
        data = np.ascontiguousarray(array)  # a copy only when not already C-contiguous
        handle = _ffi.gpu_buffer_t(0)
        buffer._executor._call(
            "gpu_buffer_create_from", int(buffer._code), data.ctypes.data, data.size, ctypes.byref(handle)
        )
        buffer._adopt(handle.value, data.size)
        return buffer

    def _init(self, executor: "Executor", dtype: Any) -> None:
        from ._executor import Executor, _dtype

        if not isinstance(executor, Executor):
            raise TypeError(f"executor must be a gpu_executor.Executor, got {type(executor).__name__}")
        code = _dtype(dtype, "dtype")
        self._executor = executor
        self._code = DType(code)
        self._dtype = _ELEMENTS[code]
        self._count = 0
        self._lock = threading.Lock()

    def _adopt(self, handle: int, count: int) -> None:
        self._count = count
        self._handle = handle

    # --- what it is ----------------------------------------------------------------------------

    @property
    def executor(self) -> "Executor":
        return self._executor

    @property
    def handle(self) -> int:
        """The ``gpu_buffer_t`` (for the C API); ``ValueError`` once closed."""
        return self._live()

    @property
    def dtype(self) -> np.dtype:
        """The element type, as a NumPy dtype (``float32``, ``int32`` or ``uint32``)."""
        return self._dtype

    @property
    def size(self) -> int:
        """Elements in the buffer."""
        return self._count

    @property
    def shape(self) -> Tuple[int]:
        return (self._count,)

    @property
    def ndim(self) -> int:
        return 1

    @property
    def nbytes(self) -> int:
        return self._count * 4

    def __len__(self) -> int:
        return self._count

    @property
    def closed(self) -> bool:
        """Closed by :meth:`close`, or with its executor."""
        return self._handle is None or self._executor.closed

    def info(self) -> Tuple[DType, int]:
        """``(dtype, count)`` as the library describes the buffer (``gpu_buffer_info``)."""
        code, count = ctypes.c_uint32(0), ctypes.c_uint64(0)
        self._executor._call("gpu_buffer_info", self._live(), ctypes.byref(code), ctypes.byref(count))
        return DType(code.value), count.value

    # --- regions -------------------------------------------------------------------------------

    def region(self, offset: int = 0, count: Optional[int] = None, *, shape: Any = None) -> Region:
        """``count`` elements from ``offset`` (default: to the end), or ``shape`` (a tuple)
        elements from ``offset``, as a :class:`Region`."""
        if count is not None and shape is not None:
            raise TypeError("pass count or shape, not both")
        if count is not None:
            shape = (_count(count, "count"),)
        return Region(self, offset, shape)

    def __getitem__(self, key: Any) -> Region:
        """``buffer[i:j]``: the region of elements ``i`` to ``j`` (step 1; never clamped);
        ``buffer[i]``: the one-element 0-d region at ``i``."""
        return Region(self, 0, (self._count,))[key]

    # Not iterable: a loop over a buffer's elements would be a GPU read per element (read()
    # gives them all at once). Without this, Python would iterate through __getitem__.
    __iter__ = None

    # --- data in and out -----------------------------------------------------------------------

    def write(self, data: np.ndarray, offset: int = 0) -> None:
        """Writes ``data`` (an array of the buffer's dtype, any shape, flattened in C order)
        into the buffer from element ``offset``.

        Returns once ``data`` is copied; batches submitted afterwards see the write, batches
        submitted before do not. Nothing is written on error (``OUT_OF_BOUNDS`` when it
        reaches past the end).
        """
        data = self._source(data)
        self._executor._call("gpu_buffer_write", self._live(), _count(offset, "offset"), data.ctypes.data, data.size)

    def write_async(self, data: np.ndarray, offset: int = 0) -> "Ticket":
        """:meth:`write` returning a :class:`Ticket` that completes once the GPU has
        applied the write; ``data`` is copied before this returns."""
        from ._executor import Ticket

        data = self._source(data)
        ticket = _ffi.gpu_ticket_t(0)
        self._executor._call(
            "gpu_buffer_write_async", self._live(), _count(offset, "offset"), data.ctypes.data, data.size,
            ctypes.byref(ticket),
        )
        return Ticket(self._executor, ticket.value)

    def read(self, count: Optional[int] = None, offset: int = 0) -> np.ndarray:
        """``count`` elements from ``offset`` (default: to the end) as a new 1-D array, after
        every batch and write submitted before; blocks until they are there."""
        out = np.empty(self._read_count(count, offset), self._dtype)
        return self.read_into(out, offset)

    def read_into(self, out: np.ndarray, offset: int = 0) -> np.ndarray:
        """Reads ``out.size`` elements from ``offset`` into ``out`` (an array of the buffer's
        dtype, C-contiguous, aligned, writable; any shape) and returns it. ``out`` is
        untouched on error."""
        self._check_out(out)
        self._executor._call("gpu_buffer_read", self._live(), _count(offset, "offset"), out.ctypes.data, out.size)
        return out

    def read_async(self, count: Optional[int] = None, offset: int = 0) -> Tuple["Ticket", np.ndarray]:
        """:meth:`read` without waiting: ``(ticket, out)``, ``out`` written when the ticket
        completes (``ticket.wait()``); leave it alone until then."""
        out = np.empty(self._read_count(count, offset), self._dtype)
        return self.read_into_async(out, offset), out

    def read_into_async(self, out: np.ndarray, offset: int = 0) -> "Ticket":
        """:meth:`read_into` without waiting: ``out`` is written when the returned ticket
        completes, and kept alive by it until then."""
        from ._executor import Ticket

        self._check_out(out)
        ticket = _ffi.gpu_ticket_t(0)
        self._executor._call(
            "gpu_buffer_read_async", self._live(), _count(offset, "offset"), out.ctypes.data, out.size,
            ctypes.byref(ticket),
        )
        return Ticket(self._executor, ticket.value, _outputs=[out])

    def _read_count(self, count: Optional[int], offset: int) -> int:
        if count is not None:
            return _count(count, "count")
        offset = _count(offset, "offset")
        if offset > self._count:
            raise _out_of_bounds(f"offset {offset} is past the end of {self!r}")
        return self._count - offset

    def _source(self, data: Any) -> np.ndarray:
        if not isinstance(data, np.ndarray):
            raise TypeError(
                f"data must be a numpy.ndarray of {self._dtype}, got {type(data).__name__}"
            )
        if data.dtype != self._dtype:
            raise TypeError(
                f"data has dtype {data.dtype.str!r} ({data.dtype}) but the buffer holds "
                f"{self._dtype}; convert with data.astype(numpy.{self._dtype})"
            )
        return np.ascontiguousarray(data)  # read during the call only: a copy is harmless

    def _check_out(self, out: Any) -> None:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy.ndarray of {self._dtype}, got {type(out).__name__}")
        if out.dtype != self._dtype:
            raise TypeError(
                f"out has dtype {out.dtype.str!r} ({out.dtype}) but the buffer holds {self._dtype}"
            )
        if not out.flags.c_contiguous:
            raise ValueError(f"out is not C-contiguous (shape {out.shape}, strides {out.strides})")
        if not out.flags.aligned:
            raise ValueError("out is not aligned to 4 bytes")
        if not out.flags.writeable:
            raise ValueError("out is read-only")

    # --- lifetime ------------------------------------------------------------------------------

    def _live(self) -> int:
        handle = self._handle
        if handle is None:
            raise ValueError("operation on a closed gpu_executor.Buffer")
        if self._executor.closed:
            raise ValueError("operation on a gpu_executor.Buffer whose executor is closed")
        return handle

    def close(self) -> None:
        """Destroys the buffer; its memory goes back to the executor's pool. Idempotent.

        Batches already submitted that use it are unaffected. A no-op once the executor is
        closed (which freed the buffer already).
        """
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is None:
            return
        try:
            status, message = self._executor._raw_call("gpu_buffer_destroy", handle)
        except ValueError:
            return  # the executor was closed meanwhile: it freed the buffer
        if status != Status.OK:
            from ._executor import GpuExecutorError

            raise GpuExecutorError(status, message)

    def __enter__(self) -> "Buffer":
        self._live()
        return self

    def _handle_text(self) -> str:
        handle = self._handle
        if handle is None or self._executor.closed:
            return "(closed)"
        return f"{handle:#x}"

    def __repr__(self) -> str:
        state = "closed " if self.closed else ""
        return f"<gpu_executor.Buffer {state}{self._dtype}[{self._count}] {self._handle_text()}>"


# --- operands of tasks ------------------------------------------------------------------------

#: What stands for a region in a task: a Region, or a Buffer (all of it).
REGION_TYPES = (Region, Buffer)


def as_region(value: Union[Region, Buffer]) -> Region:
    return value if type(value) is Region else Region(value, 0, (value._count,))


_buffer_of = attrgetter("_buffer")
_handle_of = attrgetter("_handle")
_offset_of = attrgetter("_offset")
_shape_of_region = attrgetter("_shape")
_code_of = attrgetter("_code")


def region_fields(values: Sequence[Union[Region, Buffer]]) -> Optional[Tuple[List[int], List[int], np.ndarray, List[Tuple[int, ...]]]]:
    """(handles, offsets, type codes, shapes) of regions and buffers, gathered with C-level
    iteration; None when any buffer is closed (the task-by-task check then raises the
    error)."""
    regions = values if set(map(type, values)) <= {Region} else [as_region(v) for v in values]
    buffers = list(map(_buffer_of, regions))
    handles = list(map(_handle_of, buffers))
    if None in handles or any(buffer._executor._handle is None for buffer in set(buffers)):
        return None
    codes = np.fromiter(map(_code_of, buffers), np.int8, len(buffers))
    return handles, list(map(_offset_of, regions)), codes, list(map(_shape_of_region, regions))


def attach(tasks: np.ndarray, task_index: Any, slot: Any, handles: Any, offsets: Any) -> np.ndarray:
    """A copy of ``tasks`` (read-only) whose operand ``slot[j]`` (0 to 2: an input, 3:
    the output) of task ``task_index[j]`` points to a ``gpu_region_t`` ``{handles[j],
    offsets[j]}``, with the matching ``GPU_TASK_*_BUFFER`` flag set.

    The region records sit after the tasks in one allocation, of which the returned array
    is a view: they live as long as it does.
    """
    task_index = np.asarray(task_index, np.intp)
    slot = np.asarray(slot, np.intp)
    count, regions = len(tasks), len(task_index)
    head = count * tasks.dtype.itemsize
    head += -head % REGION_DTYPE.itemsize  # (88-byte tasks: 96, so records stay 8-aligned)
    raw = np.zeros(head + regions * REGION_DTYPE.itemsize, np.uint8)
    result = raw[: count * tasks.dtype.itemsize].view(tasks.dtype)
    result[...] = tasks
    records = raw[head:].view(REGION_DTYPE)
    records["buffer"] = handles
    records["offset"] = offsets
    pointers = (np.uintp(records.ctypes.data) + np.arange(regions, dtype=np.uintp) * np.uintp(REGION_DTYPE.itemsize)).astype(np.uintp)
    inputs = slot < OUTPUT_SLOT
    result["inputs"][task_index[inputs], slot[inputs]] = pointers[inputs]
    result["output"][task_index[~inputs]] = pointers[~inputs]
    bits = np.where(inputs, TASK_INPUT0_BUFFER << np.minimum(slot, OUTPUT_SLOT - 1), TASK_OUTPUT_BUFFER)
    np.bitwise_or.at(result["flags"], task_index, bits.astype(np.uint32))
    result.flags.writeable = False
    return result
