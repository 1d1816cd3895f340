"""Batches: ``gpu_task_t`` arrays built from NumPy arrays without a Python loop per task.

A :class:`Batch` holds a NumPy structured array with ``gpu_task_t``'s exact layout (checked
against the ctypes mirror at import) and the arrays it points into. Every check is made for
all tasks at once:

- stacked arrays (task ``i`` is row ``i``) are checked once, and the row pointers computed
  as ``base + i * stride``;
- for lists of arrays, the types are checked with C-level iteration (``map``), then the
  data pointers, flags, dtypes and shapes of all arrays are gathered with a few NumPy
  operations: on CPython from the array objects' memory (the fields NumPy's own C API
  reads), where a check at first use shows that this reads what the arrays' Python
  attributes say; otherwise through those attributes.

When any check fails, the batch is checked again task by task, as it always was, and the
first bad task's error is raised: the fast path only decides that a batch is fine.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Sequence
from itertools import chain, repeat
from operator import attrgetter
from typing import Any, Callable, Iterable, List, NamedTuple, Optional, Tuple

import numpy as np

from . import _ffi
from ._buffers import REGION_TYPES, as_region
from ._ffi import Op

ArrayTask = Tuple[np.ndarray, np.ndarray, np.ndarray]

_F32 = np.dtype(np.float32)
_ROLES = ("a", "b", "out")

#: The NumPy dtypes of the element types, in ``gpu_dtype_t`` order (F32, I32, U32).
ELEMENT_DTYPES = (_F32, np.dtype(np.int32), np.dtype(np.uint32))


def _type_code(dtype: np.dtype) -> int:
    """The ``gpu_dtype_t`` of a NumPy dtype, -1 when it is none (float64, big-endian, ...)."""
    for code, element in enumerate(ELEMENT_DTYPES):
        if dtype == element:
            return code
    return -1


# --- gpu_task_t as a NumPy dtype ------------------------------------------------------------


def _numpy_type(ctype: Any) -> Any:
    if issubclass(ctype, ctypes.Array):
        return (_numpy_type(ctype._type_), (ctype._length_,))
    if ctype is ctypes.c_void_p:
        return np.dtype(np.uintp)
    return np.dtype(ctype)


def _task_dtype() -> np.dtype:
    fields = _ffi.gpu_task_t._fields_
    spec: Any = {
        "names": [name for name, _ in fields],
        "formats": [_numpy_type(ctype) for _, ctype in fields],
        "offsets": [getattr(_ffi.gpu_task_t, name).offset for name, _ in fields],
        "itemsize": ctypes.sizeof(_ffi.gpu_task_t),
    }
    dtype = np.dtype(spec)
    for name, ctype in fields:
        field_type, offset = dtype.fields[name][:2]
        if offset != getattr(_ffi.gpu_task_t, name).offset or field_type.itemsize != ctypes.sizeof(ctype):
            raise AssertionError(f"gpu_task_t.{name}: the NumPy layout differs from ctypes")
    return dtype


#: ``gpu_task_t`` as a NumPy structured dtype: same field names, offsets and size.
TASK_DTYPE = _task_dtype()


# --- reading the fields of many arrays at once ------------------------------------------------

#: ndarray flag bits (NPY_ARRAY_C_CONTIGUOUS, NPY_ARRAY_ALIGNED, NPY_ARRAY_WRITEABLE).
_C_CONTIGUOUS, _ALIGNED, _WRITEABLE = 0x0001, 0x0100, 0x0400


class _Fields(NamedTuple):
    """What the checks need of n arrays."""

    pointers: np.ndarray  # uintp[n]: data pointers
    flags: np.ndarray  # intc[n]: the three flag bits above (others may be set too)
    float32: bool  # every dtype is native float32
    shapes: np.ndarray  # intp[n, k]: each shape, padded with -1 to the largest ndim k
    types: Optional[np.ndarray] = None  # int8[n]: each gpu_dtype_t or -1 (when asked for)


def _shape_matrix(shapes: List[tuple]) -> np.ndarray:
    count = len(shapes)
    ndims = set(map(len, shapes))
    if len(ndims) <= 1:
        return np.array(shapes, np.intp).reshape(count, ndims.pop() if ndims else 0)
    matrix = np.full((count, max(ndims)), -1, np.intp)
    for row, shape in zip(matrix, shapes):
        row[: len(shape)] = shape
    return matrix


def _read_public(arrays: List[np.ndarray], types: bool = False) -> _Fields:
    """The fields through the arrays' Python attributes (``types``: each one's type code too)."""
    count = len(arrays)
    pointers = np.fromiter(map(attrgetter("ctypes.data"), arrays), np.uintp, count)
    flags = np.zeros(count, np.intc)
    for bit, name in ((_C_CONTIGUOUS, "c_contiguous"), (_ALIGNED, "aligned"), (_WRITEABLE, "writeable")):
        flags |= bit * np.fromiter(map(attrgetter("flags." + name), arrays), np.bool_, count)
    dtypes = list(map(attrgetter("dtype"), arrays))
    codes = {dtype: _type_code(dtype) for dtype in set(dtypes)}
    float32 = all(code == 0 for code in codes.values())
    shapes = _shape_matrix(list(map(attrgetter("shape"), arrays)))
    if not types:
        return _Fields(pointers, flags, float32, shapes)
    return _Fields(pointers, flags, float32, shapes, np.fromiter(map(codes.__getitem__, dtypes), np.int8, count))


class _ArrayObject(ctypes.Structure):
    """The head of NumPy's ``PyArrayObject_fields`` (numpy/ndarraytypes.h): what the C API's
    ``PyArray_DATA``, ``PyArray_NDIM``, ``PyArray_DIMS``, ``PyArray_DESCR`` and
    ``PyArray_FLAGS`` read in every compiled extension, unchanged from NumPy 1.7 to 2.x."""

    _fields_ = [
        ("ob_base", ctypes.c_char * object.__basicsize__),  # PyObject_HEAD
        ("data", ctypes.c_void_p),
        ("nd", ctypes.c_int),
        ("dimensions", ctypes.c_void_p),
        ("strides", ctypes.c_void_p),
        ("base", ctypes.c_void_p),
        ("descr", ctypes.c_void_p),
        ("flags", ctypes.c_int),
    ]


class _Memory:
    """Exposes ``count`` items of type ``dtype`` at address ``start`` to NumPy, read-only."""

    def __init__(self, start: int, count: int, dtype: Any) -> None:
        self.__array_interface__ = {
            "shape": (count,),
            "typestr": np.dtype(dtype).str,
            "data": (start, True),
            "version": 3,
        }


_WORD = np.dtype(np.uintp).itemsize
_INT = np.dtype(np.intc).itemsize


def _memory(addresses: np.ndarray, extent: int) -> Tuple[np.ndarray, np.ndarray]:
    """A read-only uintp view of the memory from the lowest of ``addresses`` to ``extent``
    bytes past the highest, and the word index of each address in it (all word-aligned)."""
    start = int(addresses.min())
    words = (int(addresses.max()) - start + extent + _WORD - 1) // _WORD
    memory = np.asarray(_Memory(start, words, np.uintp))
    index = (addresses - np.uintp(start)).astype(np.intp) >> (_WORD.bit_length() - 1)
    return memory, index


def _read_objects(arrays: List[np.ndarray], types: bool = False) -> _Fields:
    """The fields read from the arrays' objects in memory, with a few NumPy gathers
    (``types``: each array's type code too).

    CPython only (an object's ``id`` is its address); every item must be an ``ndarray``
    (checked by the caller), whose object starts with ``_ArrayObject``: only that head, and
    the ``nd`` dimensions it points to, are read.
    """
    count = len(arrays)
    if not count:
        return _Fields(
            np.zeros(0, np.uintp), np.zeros(0, np.intc), True, np.zeros((0, 0), np.intp),
            np.zeros(0, np.int8) if types else None,
        )
    objects = np.fromiter(arrays, object, count)  # its buffer holds the objects' addresses
    addresses = np.asarray(_Memory(objects.ctypes.data, count, np.uintp)).copy()
    del objects
    memory, index = _memory(addresses, ctypes.sizeof(_ArrayObject))
    ints, int_index = memory.view(np.intc), index * (_WORD // _INT)

    def word(name: str) -> np.ndarray:
        return memory.take(index + getattr(_ArrayObject, name).offset // _WORD)

    def integer(name: str) -> np.ndarray:
        return ints.take(int_index + getattr(_ArrayObject, name).offset // _INT)

    descrs = word("descr")
    float32 = bool(np.all(descrs == id(_F32)))
    if not float32:
        # Another descriptor object may still be float32: ask each distinct one.
        others = np.unique(descrs[descrs != id(_F32)])
        first = [int(np.argmax(descrs == other)) for other in others]
        float32 = all(arrays[i].dtype == _F32 for i in first)
    ndims = integer("nd")
    width = int(ndims.max())
    shapes = np.full((count, width), -1, np.intp)
    if width:
        rows = np.flatnonzero(ndims)  # 0-d arrays have no dimensions to read
        dims, dims_index = _memory(word("dimensions")[rows], width * _WORD)
        dims = dims.view(np.intp)
        for axis in range(width):
            present = ndims[rows] > axis
            shapes[rows[present], axis] = dims.take(dims_index[present] + axis)
    if not types:
        return _Fields(word("data"), integer("flags"), float32, shapes)
    codes = np.full(count, -1, np.int8)
    for code, element in enumerate(ELEMENT_DTYPES):
        codes[descrs == id(element)] = code
    # Other descriptor objects may still be one of the three: ask each distinct one.
    for other in np.unique(descrs[codes < 0]):
        same = descrs == other
        codes[same] = _type_code(arrays[int(np.argmax(same))].dtype)
    return _Fields(word("data"), integer("flags"), float32, shapes, codes)


def _probe_arrays() -> List[np.ndarray]:
    raw = np.zeros(64, np.uint8)
    readonly = np.zeros(5, np.float32)
    readonly.flags.writeable = False
    return [
        np.zeros(7, np.float32),
        np.zeros(7, np.float32)[::2],
        readonly,
        raw[1:33].view(np.float32),  # misaligned
        np.zeros((3, 4), np.float32).T,
        np.zeros((2, 0, 5), np.float32),
        np.zeros(3, np.float64),
        np.zeros(3, ">f4"),
        np.zeros(3, np.int32),
        np.zeros(2, np.uint32),
        np.zeros(4, np.dtype(np.int32, metadata={"probe": 1})),  # int32, another object
        np.ma.masked_array(np.zeros(4, np.float32)),  # a subclass
        np.ones((), np.float32),
    ]


def _same_fields(first: _Fields, second: _Fields) -> bool:
    mask = _C_CONTIGUOUS | _ALIGNED | _WRITEABLE
    return (
        np.array_equal(first.pointers, second.pointers)
        and np.array_equal(first.flags & mask, second.flags & mask)
        and first.float32 == second.float32
        and np.array_equal(first.shapes, second.shapes)
        and _same_types(first.types, second.types)
    )


def _same_types(first: Optional[np.ndarray], second: Optional[np.ndarray]) -> bool:
    if first is None or second is None:
        return first is second
    return np.array_equal(first, second)


def _choose_reader() -> Callable[..., _Fields]:
    """``_read_objects`` where it reads what the public attributes give, else ``_read_public``."""
    if sys.implementation.name != "cpython" or ctypes.sizeof(_ArrayObject) > np.ndarray.__basicsize__:
        return _read_public
    probes = _probe_arrays()
    try:
        agrees = all(
            _same_fields(_read_objects(subset, types), _read_public(subset, types))
            for subset in [probes] + [[probe] for probe in probes]
            for types in (False, True)
        )
    except Exception:  # pragma: no cover - a NumPy that refuses the memory view
        agrees = False
    return _read_objects if agrees else _read_public


_reader: Optional[Callable[..., _Fields]] = None


def _read(arrays: List[np.ndarray], types: bool = False) -> _Fields:
    global _reader
    if _reader is None:
        _reader = _choose_reader()
    return _reader(arrays, types) if types else _reader(arrays)


# --- columns: the a, b or out arrays of every task -------------------------------------------


class _Column:
    """One role (``a``, ``b`` or ``out``) of every task: a list of arrays, or the rows of a
    stacked array."""

    def __init__(self, role: str, values: Any) -> None:
        self.output = role == "out"
        self.stacked: Optional[np.ndarray] = None
        # A buffer region whose rows are the tasks' operands (like a stacked array).
        self.region: Any = None
        self.items: Sequence[Any] = ()
        if isinstance(values, REGION_TYPES):
            region = as_region(values)
            if region.ndim == 0:
                raise ValueError(
                    f"{role}: a stacked region needs at least one dimension (one row per task)"
                )
            self.region = region
            self.count = region.shape[0]
        elif isinstance(values, np.ndarray) and values.dtype != object:
            if values.ndim == 0:
                raise ValueError(
                    f"{role}: a stacked array needs at least one dimension (one row per task)"
                )
            self.stacked = values
            self.count = values.shape[0]
        else:
            self.items = values if isinstance(values, (list, tuple)) else list(values)
            self.count = len(self.items)

    def item(self, index: int) -> Any:
        if self.region is not None:
            return self.region[index]
        return self.stacked[index] if self.stacked is not None else self.items[index]

    def keep(self) -> Any:
        if self.region is not None:
            return self.region
        return self.stacked if self.stacked is not None else self.items

    def has_regions(self) -> bool:
        return self.region is not None or any(isinstance(x, REGION_TYPES) for x in self.items)

    @property
    def required_flags(self) -> int:
        return _C_CONTIGUOUS | _ALIGNED | (_WRITEABLE if self.output else 0)

    def check_stacked(self) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """(row pointers, row shape as a 1 x ndim matrix) if every row is fit, else None."""
        array = self.stacked
        assert array is not None
        # Rows share the dtype, the row shape and strides (so C-contiguity), and
        # writeability; when the whole array is aligned, so is every row.
        if array.dtype != _F32 or not array.flags.aligned:
            return None
        if self.output and not array.flags.writeable:
            return None
        if self.count and not array[0].flags.c_contiguous:
            return None
        # Modulo 2**64, so that a negative stride (x[::-1]) works too.
        offsets = (np.arange(self.count, dtype=np.int64) * array.strides[0]).astype(np.uint64)
        pointers = (offsets + np.uint64(array.ctypes.data)).astype(np.uintp)
        return pointers, np.array([array.shape[1:]], np.intp).reshape(1, array.ndim - 1)


def _check_columns(columns: List[_Column]) -> Optional[List[Tuple[np.ndarray, np.ndarray]]]:
    """(pointers, shapes) of each column if every task is fit (shapes aside), else None."""
    results: List[Any] = [None] * len(columns)
    listed = [index for index, column in enumerate(columns) if column.stacked is None]
    if listed:
        arrays = list(chain.from_iterable(columns[index].items for index in listed))
        if not all(map(isinstance, arrays, repeat(np.ndarray))):
            return None
        fields = _read(arrays)
        if not fields.float32:
            return None
        start = 0
        for index in listed:
            column = columns[index]
            end = start + column.count
            need = column.required_flags
            if np.any(fields.flags[start:end] & need != need):
                return None
            results[index] = (fields.pointers[start:end], fields.shapes[start:end])
            start = end
    for index, column in enumerate(columns):
        if column.stacked is not None:
            results[index] = column.check_stacked()
            if results[index] is None:
                return None
    return results


def _same_shapes(first: np.ndarray, second: np.ndarray) -> bool:
    width = max(first.shape[1], second.shape[1])
    if first.shape[1] != width:
        first = np.pad(first, ((0, 0), (0, width - first.shape[1])), constant_values=-1)
    if second.shape[1] != width:
        second = np.pad(second, ((0, 0), (0, width - second.shape[1])), constant_values=-1)
    return bool(np.all(first == second))


# --- the old, task-by-task checks: the reference, and the source of every error message ------


def _check_array(task: int, role: str, array: Any, output: bool) -> None:
    if not isinstance(array, np.ndarray):
        raise TypeError(
            f"task {task}: {role} must be a numpy.ndarray of float32, got {type(array).__name__}"
        )
    if array.dtype != np.float32:
        raise TypeError(
            f"task {task}: {role} has dtype {array.dtype.str!r} ({array.dtype}); expected "
            "native float32 (convert with numpy.ascontiguousarray(x, dtype=numpy.float32))"
        )
    if not array.flags.c_contiguous:
        raise ValueError(
            f"task {task}: {role} is not C-contiguous (shape {array.shape}, strides "
            f"{array.strides}); pass numpy.ascontiguousarray(x)"
        )
    if not array.flags.aligned:
        raise ValueError(f"task {task}: {role} is not aligned to 4 bytes")
    if output and not array.flags.writeable:
        raise ValueError(f"task {task}: {role} is read-only")


def _check_task(index: int, item: Any) -> ArrayTask:
    if isinstance(item, (str, bytes)) or not isinstance(item, Sequence) or len(item) != 3:
        raise TypeError(
            f"task {index}: expected a tuple (a, b, out) of numpy float32 arrays or a "
            f"gpu_executor.Task, got {type(item).__name__}"
        )
    a, b, out = item
    _check_array(index, "a", a, output=False)
    _check_array(index, "b", b, output=False)
    _check_array(index, "out", out, output=True)
    if not a.shape == b.shape == out.shape:
        raise ValueError(
            f"task {index}: shapes differ: a {a.shape}, b {b.shape}, out {out.shape}"
        )
    return a, b, out


def _fill(pointers: Sequence[Any], lengths: Any, count: int) -> np.ndarray:
    tasks = np.zeros(count, TASK_DTYPE)  # flags, params and unused inputs 0
    tasks["op"] = Op.VECTOR_ADD
    inputs = tasks["inputs"]
    inputs[:, 0] = pointers[0]
    inputs[:, 1] = pointers[1]
    tasks["output"] = pointers[2]
    tasks["length"] = lengths
    tasks.flags.writeable = False
    return tasks


def _task_by_task(items: Iterable[Any]) -> np.ndarray:
    """The task array built and checked one task at a time (raises the first bad task's error)."""
    checked = [_check_task(index, item) for index, item in enumerate(items)]
    pointers = tuple(
        np.array([task[role].ctypes.data for task in checked], np.uintp) for role in range(3)
    )
    lengths = np.array([task[2].size for task in checked], np.uintp)
    return _fill(pointers, lengths, len(checked))


def _with_regions(columns: List[_Column], items: Optional[List[Any]]) -> np.ndarray:
    """The task array of ``(a, b, out)`` tuples some of whose operands are buffer regions,
    through the builders of every op (which handle regions): all-stacked columns as one
    stacked addition, anything else as a list of tuples. Raises the first bad task's error."""
    from ._optasks import stacked_array, task_array

    stacked = [column.region if column.region is not None else column.stacked for column in columns]
    if all(x is not None for x in stacked) and all(x.dtype == _F32 for x in stacked):
        # A tuple is a float32 addition; other element types take the list path, whose
        # check names the first bad task.
        return stacked_array(Op.VECTOR_ADD, stacked[:2], stacked[2])
    if items is None:
        items = [tuple(c.item(i) for c in columns) for i in range(columns[0].count)]
    return task_array(items)


# --- Batch -----------------------------------------------------------------------------------


class Batch:
    """A checked batch of tasks, ready for :meth:`Executor.submit` and ``submit_async``.

    ``Batch(tasks)`` takes what ``submit`` takes: :class:`Task` objects of any op and
    ``(a, b, out)`` tuples (``float32`` addition), mixed in any order, or one ``Task``, or
    another batch (whose task array it shares); :meth:`stacked` takes
    three arrays whose rows are the tasks, and :meth:`from_lists` three lists of arrays.
    Each builds the ``gpu_task_t`` array with a few NumPy operations rather than Python code
    per task, after the same checks as ``submit``'s (raising ``TypeError``/``ValueError``
    naming the first bad task). A batch keeps its arrays alive and may be submitted any
    number of times; it records their addresses and lengths when built, so resizing an
    array it holds (``ndarray.resize(refcheck=False)``) makes it invalid.
    """

    __slots__ = ("_tasks", "_keep", "_pointer")
    _tasks: np.ndarray
    _keep: Any
    _pointer: Any

    def __init__(self, tasks: Any = ()) -> None:
        if isinstance(tasks, Batch):
            self._adopt(tasks)
            return
        from ._optasks import Task, task_array

        if isinstance(tasks, Task):
            tasks = (tasks,)
        items = list(tasks)
        columns = None
        types = set(map(type, items))
        if items and types <= {tuple, list} and set(map(len, items)) == {3}:
            flat = list(chain.from_iterable(items))  # a0, b0, out0, a1, ...
            columns = [_Column(role, flat[index::3]) for index, role in enumerate(_ROLES)]
        elif any(issubclass(kind, Task) for kind in types):
            self._set(task_array(items), items)  # raises for the first bad task
            return
        self._build(columns, items)

    @classmethod
    def stacked(cls, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> "Batch":
        """Task ``i`` is ``(a[i], b[i], out[i])``: three float32 arrays of one shape
        ``(tasks, ...)`` whose rows are C-contiguous (the arrays themselves need not be, e.g.
        ``x[:, :16]``). Any of them may be a float32 buffer region of that shape
        (``buf.region(offset, shape=(tasks, n))``), whose rows are consecutive."""
        for role, value in zip(_ROLES, (a, b, out)):
            if not isinstance(value, (np.ndarray,) + REGION_TYPES):
                raise TypeError(
                    f"{role} must be a numpy.ndarray (one row per task) or a buffer region of "
                    f"rows, got {type(value).__name__}"
                )
        return cls.from_lists(a, b, out)

    @classmethod
    def from_lists(cls, a: Iterable[Any], b: Iterable[Any], out: Iterable[Any]) -> "Batch":
        """Task ``i`` is ``(a[i], b[i], out[i])``: three sequences of as many arrays or
        buffer regions (an ``ndarray`` or a region in place of a sequence stands for its
        rows)."""
        columns = [_Column(role, values) for role, values in zip(_ROLES, (a, b, out))]
        counts = [column.count for column in columns]
        if len(set(counts)) != 1:
            raise ValueError(
                f"a, b and out must hold as many tasks; they hold {counts[0]}, {counts[1]} "
                f"and {counts[2]}"
            )
        batch = cls.__new__(cls)
        batch._build(columns, None)
        return batch

    @classmethod
    def stacked_op(
        cls, op: Any, inputs: Any, out: np.ndarray, scalars: Any = (), *, transpose_b: bool = False
    ) -> "Batch":
        """Task ``i`` is ``Task(op, [x[i] for x in inputs], out[i], scalars)``: ``op`` over
        row ``i`` of stacked arrays (``inputs`` and ``out`` hold as many rows, each
        C-contiguous; the arrays themselves need not be). Each scalar is a number, or a 1-D
        array with one value per task. For a reduction ``out`` is ``(tasks,)`` or
        ``(tasks, 1)`` (a float32 buffer region of that shape too: result ``i`` at its
        element ``i``); for ``MATMUL`` the arrays are ``(tasks, M, K)``, ``(tasks, K, N)``
        (``(tasks, N, K)`` with ``transpose_b``) and ``(tasks, M, N)``. Every row is checked
        at once, as for :meth:`stacked`."""
        from ._optasks import stacked_array

        batch = cls.__new__(cls)
        tasks = stacked_array(op, inputs, out, scalars, transpose_b)
        single = isinstance(inputs, (np.ndarray,) + REGION_TYPES)
        keep = ((inputs,) if single else tuple(inputs), out, scalars)
        batch._set(tasks, keep)
        return batch

    def _adopt(self, other: "Batch") -> None:
        self._tasks, self._keep, self._pointer = other._tasks, other._keep, other._pointer

    def _build(self, columns: Optional[List[_Column]], items: Optional[List[Any]]) -> None:
        tasks = self._fast(columns) if columns is not None else None
        if tasks is None and columns is not None and any(c.has_regions() for c in columns):
            tasks = _with_regions(columns, items)
        if tasks is None:
            if items is None:
                assert columns is not None
                items = [tuple(c.item(i) for c in columns) for i in range(columns[0].count)]
            tasks = _task_by_task(items)  # raises for the first bad task
        self._set(tasks, tuple(c.keep() for c in columns) if columns is not None else items)

    def _set(self, tasks: np.ndarray, keep: Any) -> None:
        self._tasks = tasks
        self._keep = keep
        self._pointer = (
            tasks.ctypes.data_as(ctypes.POINTER(_ffi.gpu_task_t)) if len(tasks) else None
        )

    @staticmethod
    def _fast(columns: List[_Column]) -> Optional[np.ndarray]:
        """The task array when every task is fit, else None (then checked task by task)."""
        if any(column.region is not None for column in columns):
            return None  # regions: _with_regions
        checked = _check_columns(columns)
        if checked is None:
            return None
        (pa, sa), (pb, sb), (pout, sout) = checked
        if not (_same_shapes(sa, sb) and _same_shapes(sa, sout)):
            return None
        # Sizes of the outputs (one when out is stacked); -1 pads shorter shapes.
        lengths = np.prod(np.where(sout < 0, 1, sout), axis=1)
        return _fill((pa, pb, pout), lengths, columns[0].count)

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def task_array(self) -> np.ndarray:
        """The ``gpu_task_t`` array handed to the library (read-only, dtype ``TASK_DTYPE``)."""
        return self._tasks

    def _as_parameter(self) -> Tuple[Any, int]:
        return self._pointer, len(self._tasks)

    def __repr__(self) -> str:
        return f"<gpu_executor.Batch of {len(self._tasks)} tasks>"
