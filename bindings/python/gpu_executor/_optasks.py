"""Tasks of every op: :class:`Task`, the op table, and the ``gpu_task_t`` array of a list of
tasks (mixed with ``(a, b, out)`` tuples) built without Python code per task beyond
gathering each task's fields.

As for tuples (``_tasks``), the fast path only decides that a batch is fine: it reads the
fields of every array at once (``_tasks._read``) and checks element types, layout and
shapes per op kind with NumPy; when anything is off, the batch is checked again task by
task (``_record``), which raises the first bad task's error.
"""

from __future__ import annotations

import math
from itertools import chain, repeat
from operator import attrgetter
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from ._buffers import OUTPUT_SLOT, REGION_TYPES, as_region, attach, region_fields
from ._ffi import TASK_DTYPE_MASK, TASK_TRANSPOSE_B, DType, Op
from ._tasks import (
    _ALIGNED,
    _C_CONTIGUOUS,
    _WRITEABLE,
    ELEMENT_DTYPES,
    TASK_DTYPE,
    _Fields,
    _check_task,
    _read,
    _shape_matrix,
    _type_code,
)

# --- the op table (src/ops.rs; tests/test_ops.py checks it against the source and the library)

ELEMENTWISE, REDUCTION, MATMUL, KERNEL = "elementwise", "reduction", "matmul", "kernel"

_ALL = (DType.F32, DType.I32, DType.U32)
_SIGNED = (DType.F32, DType.I32)
_FLOAT = (DType.F32,)


class OpInfo(NamedTuple):
    """What the bindings know of an op: its kind, the arrays and scalars it reads, and the
    element types it is defined for."""

    op: Any  # an Op, or a Kernel (a registered kernel's op code)
    kind: str  # ELEMENTWISE, REDUCTION, MATMUL or KERNEL
    arity: int  # input arrays
    scalars: int  # scalars in params (element-wise ops and kernels only)
    dtypes: Tuple[DType, ...]
    # The type of each scalar; None: the task's element type.
    scalar_types: Optional[Tuple[DType, ...]] = None


def _table() -> Dict[int, OpInfo]:
    rows = [
        (Op.VECTOR_ADD, ELEMENTWISE, 2, 0, _ALL),
        (Op.SUB, ELEMENTWISE, 2, 0, _ALL),
        (Op.MUL, ELEMENTWISE, 2, 0, _ALL),
        (Op.DIV, ELEMENTWISE, 2, 0, _ALL),
        (Op.MIN, ELEMENTWISE, 2, 0, _ALL),
        (Op.MAX, ELEMENTWISE, 2, 0, _ALL),
        (Op.POW, ELEMENTWISE, 2, 0, _FLOAT),
        (Op.NEG, ELEMENTWISE, 1, 0, _SIGNED),
        (Op.ABS, ELEMENTWISE, 1, 0, _SIGNED),
        (Op.SQRT, ELEMENTWISE, 1, 0, _FLOAT),
        (Op.EXP, ELEMENTWISE, 1, 0, _FLOAT),
        (Op.LOG, ELEMENTWISE, 1, 0, _FLOAT),
        (Op.SIN, ELEMENTWISE, 1, 0, _FLOAT),
        (Op.COS, ELEMENTWISE, 1, 0, _FLOAT),
        (Op.TANH, ELEMENTWISE, 1, 0, _FLOAT),
        (Op.RELU, ELEMENTWISE, 1, 0, _SIGNED),
        (Op.SIGMOID, ELEMENTWISE, 1, 0, _FLOAT),
        (Op.SCALE, ELEMENTWISE, 1, 1, _ALL),
        (Op.AXPY, ELEMENTWISE, 2, 1, _ALL),
        (Op.CLAMP, ELEMENTWISE, 1, 2, _ALL),
        (Op.FMA, ELEMENTWISE, 3, 0, _ALL),
        (Op.COPY, ELEMENTWISE, 1, 0, _ALL),
        (Op.SUM, REDUCTION, 1, 0, _FLOAT),
        (Op.REDUCE_MIN, REDUCTION, 1, 0, _FLOAT),
        (Op.REDUCE_MAX, REDUCTION, 1, 0, _FLOAT),
        (Op.MEAN, REDUCTION, 1, 0, _FLOAT),
        (Op.DOT, REDUCTION, 2, 0, _FLOAT),
        (Op.NORM2, REDUCTION, 1, 0, _FLOAT),
        (Op.MATMUL, MATMUL, 2, 0, _FLOAT),
    ]
    return {int(row[0]): OpInfo(*row) for row in rows}


#: Every op the bindings can describe, by code.
OPS: Dict[int, OpInfo] = _table()

_BY_NAME = {info.op.name.lower(): info for info in OPS.values()}
_BY_NAME["add"] = OPS[Op.VECTOR_ADD]

#: Registered kernels, by op code (codes are unique in a process: never reused).
KERNELS: Dict[int, OpInfo] = {}

# Per op code, for the vectorized checks (registered kernels get rows per batch).
_KINDS = (ELEMENTWISE, REDUCTION, MATMUL, KERNEL)
_SLOTS = max(OPS) + 1
_ARITY = np.zeros(_SLOTS, np.intp)
_SCALARS = np.zeros(_SLOTS, np.intp)
_KIND = np.full(_SLOTS, -1, np.int8)
_TYPE_BITS = np.zeros(_SLOTS, np.int64)  # bit t: defined for gpu_dtype_t t
for _code, _info in OPS.items():
    _ARITY[_code] = _info.arity
    _SCALARS[_code] = _info.scalars
    _KIND[_code] = _KINDS.index(_info.kind)
    _TYPE_BITS[_code] = sum(1 << int(t) for t in _info.dtypes)
del _code, _info

_INPUT_NAMES = ("a", "b", "c")


def op_info(op: Union[Op, int, str]) -> OpInfo:
    """The table row of ``op``: an :class:`Op`, its integer value or its name (``"sqrt"``,
    ``"add"``; any case)."""
    if isinstance(op, str):
        info = _BY_NAME.get(op.strip().lower())
        if info is None:
            raise ValueError(f"unknown op {op!r}; one of: {', '.join(sorted(_BY_NAME))}")
        return info
    if isinstance(op, bool) or not isinstance(op, (int, np.integer)):
        raise TypeError(f"op must be a gpu_executor.Op, an int or a name, got {type(op).__name__}")
    info = OPS.get(int(op)) or KERNELS.get(int(op))
    if info is None:
        raise ValueError(
            f"unknown op {int(op)}: not a gpu_op_t these bindings know, nor a registered kernel"
        )
    return info


class Kernel(int):
    """A kernel registered with :meth:`Executor.register_kernel`: its op code (an ``int``,
    for :class:`Task`), valid on that executor only and until it is closed.

    ``name`` is ``"kernel <entry point>"``; ``inputs``, ``dtype``, ``params_size``,
    ``param_types``, ``elements_per_invocation`` and ``elementwise`` repeat the
    registration.
    """

    name: str
    entry_point: str
    inputs: int
    dtype: DType
    params_size: int
    param_types: Tuple[DType, ...]
    elements_per_invocation: int
    elementwise: bool

    def __repr__(self) -> str:
        return f"<gpu_executor.Kernel {self.entry_point!r} op={int(self):#x}>"

    def __reduce__(self) -> Any:  # an int outside this process
        return (int, (int(self),))


def _register(code: int, entry_point: str, inputs: int, dtype: DType, params_size: int,
              param_types: Tuple[DType, ...], elements_per_invocation: int, elementwise: bool) -> Kernel:
    kernel = Kernel(code)
    kernel.name = f"kernel {entry_point}"
    kernel.entry_point = entry_point
    kernel.inputs = inputs
    kernel.dtype = dtype
    kernel.params_size = params_size
    kernel.param_types = param_types
    kernel.elements_per_invocation = elements_per_invocation
    kernel.elementwise = elementwise
    KERNELS[code] = OpInfo(kernel, KERNEL, inputs, len(param_types), (dtype,), param_types)
    return kernel


def _dtype_name(dtype: np.dtype) -> str:
    return f"{dtype.str!r} ({dtype})"


def _types_text(dtypes: Sequence[DType]) -> str:
    return ", ".join(str(ELEMENT_DTYPES[t]) for t in dtypes)


# --- Task ----------------------------------------------------------------------------------


class Task:
    """One task of any op, for :meth:`Executor.submit` and ``submit_async`` (alone, in a
    list, or mixed with ``(a, b, out)`` tuples: one batch, one call into the library).

    - ``op``: an :class:`Op` (``Op.SQRT``), its integer value or its name (``"sqrt"``); or
      a :class:`Kernel` from :meth:`Executor.register_kernel` (or its integer value).
    - ``inputs``: the op's input arrays, a tuple or list ``(a,)``, ``(a, b)`` or
      ``(a, b, c)`` (a single array stands for ``(a,)``).
    - ``out``: the output array; ``None`` allocates one (``task.out``): the inputs' shape
      and dtype for an element-wise op, ``float32[1]`` for a reduction, ``float32[M, N]``
      for a matmul.
    - Any array, input or output, may instead be a :class:`Region` of a :class:`Buffer`
      (``buf[i:j]``, ``buf.region(offset, shape=...)``) or a whole ``Buffer``: the task
      then reads or writes GPU memory in place. A region has its buffer's element type and
      its own shape. A reduction's ``out`` may be a one-element ``float32`` region
      (``buf[i]``, ``buf[i:i + 1]``) or a one-element buffer: its result is then combined
      on the GPU in float32 (compensated sums) instead of on the host in double precision,
      stays there, and later tasks of the batch may read it. Such a reduction reads at most
      one slab's worth of elements (the executor's ``max_chunk_elements``; by default what
      the device allows in one binding): ``submit`` raises :class:`GpuExecutorError` with
      ``Status.INVALID_ARGUMENT`` otherwise.
    - ``scalars``: the op's scalars, a tuple or list: ``(s,)`` for ``SCALE`` and ``AXPY``,
      ``(lo, hi)`` for ``CLAMP`` (a single number stands for ``(s,)``); ``()`` for the
      others; for a kernel, one per 4 bytes of its ``params_size``.
    - ``transpose_b``: ``MATMUL`` only: ``b`` is stored ``(N, K)``.

    The element type follows the arrays' dtype: ``float32``, ``int32`` or ``uint32``, the
    same for every array of the task, and one the op is defined for. Element-wise ops take
    arrays of one shape (any, no broadcasting); reductions take inputs of one shape and a
    one-element ``float32`` output (``(1,)`` or ``()``); ``MATMUL`` takes 2-D ``float32``
    arrays ``a (M, K)``, ``b (K, N)`` (``(N, K)`` with ``transpose_b``), ``out (M, N)``; a
    registered kernel takes arrays of its ``dtype`` holding as many elements (any shapes).
    The op, the number of inputs and scalars are checked here; the arrays and scalar values
    when the task is submitted (or put in a :class:`Batch`), with errors naming its index.
    A task is immutable and may be submitted any number of times.
    """

    __slots__ = ("_op", "_inputs", "_out", "_scalars", "_transpose_b")
    _op: Op
    _inputs: Tuple[Any, ...]
    _out: Any
    _scalars: Tuple[Any, ...]
    _transpose_b: bool

    def __init__(
        self,
        op: Union[Op, int, str],
        inputs: Any,
        out: Any = None,
        scalars: Any = (),
        *,
        transpose_b: bool = False,
    ) -> None:
        info = op_info(op)
        name = info.op.name
        inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
        if len(inputs) != info.arity:
            raise TypeError(f"{name} takes {info.arity} input(s), got {len(inputs)}")
        scalars = tuple(scalars) if isinstance(scalars, (tuple, list)) else (scalars,)
        if len(scalars) != info.scalars:
            raise TypeError(f"{name} takes {info.scalars} scalar(s), got {len(scalars)}")
        if transpose_b and info.kind != MATMUL:
            raise ValueError(f"transpose_b is for MATMUL only, not {name}")
        if out is None:
            out = _allocate(info, inputs, bool(transpose_b))
        self._op = info.op
        self._inputs = inputs
        self._out = out
        self._scalars = scalars
        self._transpose_b = bool(transpose_b)

    @property
    def op(self) -> Op:
        return self._op

    @property
    def inputs(self) -> Tuple[Any, ...]:
        return self._inputs

    @property
    def out(self) -> Any:
        """The output array (written when the batch holding the task completes)."""
        return self._out

    @property
    def scalars(self) -> Tuple[Any, ...]:
        return self._scalars

    @property
    def transpose_b(self) -> bool:
        return self._transpose_b

    def __repr__(self) -> str:
        def describe(x: Any) -> str:
            if isinstance(x, np.ndarray):
                return f"{x.dtype}{list(x.shape)}"
            if isinstance(x, REGION_TYPES):
                return f"region {x.dtype}{list(x.shape)}"
            return type(x).__name__

        parts = [self._op.name, "(" + ", ".join(map(describe, self._inputs)) + ")", describe(self._out)]
        if self._scalars:
            parts.append("scalars=" + repr(self._scalars))
        if self._transpose_b:
            parts.append("transpose_b=True")
        return f"<gpu_executor.Task {' '.join(parts)}>"


def _make(op: Op, inputs: Tuple[Any, ...], out: Any, scalars: Tuple[Any, ...] = ()) -> Task:
    """A task of a known op whose inputs and scalars count is right (``ops``' helpers)."""
    task = Task.__new__(Task)
    task._op = op
    task._inputs = inputs
    task._out = out
    task._scalars = scalars
    task._transpose_b = False
    return task


def _allocate(info: OpInfo, inputs: Tuple[Any, ...], transpose_b: bool) -> np.ndarray:
    """A new output for a task given ``out=None``."""
    name = info.op.name
    if info.kind == REDUCTION:
        return np.empty(1, np.float32)
    for role, x in zip(_INPUT_NAMES, inputs):
        # A region sizes the output too: the result then comes back to a host array.
        if not isinstance(x, (np.ndarray,) + REGION_TYPES):
            raise TypeError(
                f"{name} with out=None: {role} must be a numpy.ndarray to size the output (or "
                f"a buffer region), got {type(x).__name__}"
            )
    a = inputs[0]
    if info.kind == KERNEL:
        return np.empty(a.shape, ELEMENT_DTYPES[info.dtypes[0]])
    if info.kind == ELEMENTWISE:
        if _type_code(a.dtype) < 0:
            raise TypeError(
                f"{name} with out=None: a has dtype {_dtype_name(a.dtype)}; expected float32, "
                "int32 or uint32"
            )
        return np.empty(a.shape, a.dtype)
    b = inputs[1]
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"MATMUL takes 2-D arrays; a has shape {a.shape}, b {b.shape}")
    return np.empty((a.shape[0], b.shape[0] if transpose_b else b.shape[1]), np.float32)


# --- task by task: the reference, and the source of every error message ----------------------


class _Record(NamedTuple):
    op: int
    flags: int
    inputs: Tuple[int, ...]  # pointers; 0 where the operand is a region
    output: int
    length: int
    params: Tuple[int, ...]
    # (slot, handle, offset) of each operand in a buffer: slot 0 to 2 an input, 3 the output.
    regions: Tuple[Tuple[int, int, int], ...] = ()


def _check_array(index: int, role: str, array: Any, output: bool) -> int:
    """Checks one array (or buffer region) of a task; returns its type code."""
    if isinstance(array, REGION_TYPES):
        if region_fields([array]) is None:
            raise ValueError(
                f"task {index}: {role} is a region of a closed gpu_executor.Buffer (closed by "
                "Buffer.close() or with its executor)"
            )
        return _type_code(array.dtype)
    if not isinstance(array, np.ndarray):
        raise TypeError(
            f"task {index}: {role} must be a numpy.ndarray of float32, int32 or uint32 or a "
            f"buffer region, got {type(array).__name__}"
        )
    code = _type_code(array.dtype)
    if code < 0:
        raise TypeError(
            f"task {index}: {role} has dtype {_dtype_name(array.dtype)}; expected native "
            "float32, int32 or uint32 (convert with numpy.ascontiguousarray(x, dtype=...))"
        )
    if not array.flags.c_contiguous:
        raise ValueError(
            f"task {index}: {role} is not C-contiguous (shape {array.shape}, strides "
            f"{array.strides}); pass numpy.ascontiguousarray(x)"
        )
    if not array.flags.aligned:
        raise ValueError(f"task {index}: {role} is not aligned to 4 bytes")
    if output and not array.flags.writeable:
        raise ValueError(f"task {index}: {role} is read-only")
    return code


def _scalar_types(info: OpInfo, code: int) -> Tuple[int, ...]:
    """The type of each scalar of ``info``'s tasks of element type ``code``."""
    return info.scalar_types if info.scalar_types is not None else (code,) * info.scalars


def _scalar_bits(index: int, name: str, position: int, value: Any, code: int) -> int:
    """The 32-bit pattern of scalar ``position`` of a task, of type ``code``."""
    what = f"task {index}: {name} scalar {position}"
    if code == DType.F32:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{what} must be a real number, got {type(value).__name__}")
        try:
            wide = float(value)
        except OverflowError:
            raise ValueError(f"{what} = {value} is out of float32 range") from None
        with np.errstate(over="ignore"):
            narrow = np.float32(wide)
        if math.isfinite(wide) and not np.isfinite(narrow):
            raise ValueError(f"{what} = {value} is out of float32 range")
        return int(narrow.view(np.uint32))
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{what} must be an integer (it is {ELEMENT_DTYPES[code]}), got "
            f"{type(value).__name__} {value}"
        )
    value = int(value)
    low, high = (-(2**31), 2**31) if code == DType.I32 else (0, 2**32)
    if not low <= value < high:
        raise ValueError(f"{what} = {value} is out of {ELEMENT_DTYPES[code]} range")
    return value & 0xFFFF_FFFF


def _record(index: int, item: Any) -> _Record:
    """One task checked and turned into its ``gpu_task_t`` fields (raises for a bad task)."""
    if not isinstance(item, Task):
        if _has_region(item):
            # A tuple on buffers: checked as the addition task it is, which must be float32.
            record = _record(index, _make(Op.VECTOR_ADD, (item[0], item[1]), item[2]))
            if record.flags & TASK_DTYPE_MASK != DType.F32:
                raise TypeError(
                    f"task {index}: an (a, b, out) tuple adds float32 arrays; its operands are "
                    f"{ELEMENT_DTYPES[record.flags & TASK_DTYPE_MASK]} (use ops.add for other types)"
                )
            return record
        a, b, out = _check_task(index, item)  # an (a, b, out) tuple: float32 addition
        return _Record(Op.VECTOR_ADD, 0, (a.ctypes.data, b.ctypes.data), out.ctypes.data, out.size, ())
    info = op_info(item._op)
    name = info.op.name
    roles = list(zip(_INPUT_NAMES, item._inputs)) + [("out", item._out)]
    codes = [_check_array(index, role, array, role == "out") for role, array in roles]
    for (role, array), code in zip(roles, codes):
        if code != codes[0]:
            raise TypeError(
                f"task {index}: {role} has dtype {array.dtype} but a has {roles[0][1].dtype}; "
                "a task's arrays share one element type"
            )
    code = codes[0]
    if code not in info.dtypes:
        raise TypeError(
            f"task {index}: {name} is not defined for {ELEMENT_DTYPES[code]} (it takes "
            f"{_types_text(info.dtypes)})"
        )
    arrays = [array for _, array in roles]
    shapes = ", ".join(f"{role} {array.shape}" for role, array in roles)
    flags = code
    params: Tuple[int, ...] = ()
    if info.kind in (ELEMENTWISE, KERNEL):
        if info.kind == ELEMENTWISE and any(array.shape != arrays[0].shape for array in arrays):
            raise ValueError(f"task {index}: shapes differ: {shapes}")
        if any(array.size != arrays[0].size for array in arrays):
            sizes = ", ".join(f"{role} {array.size}" for role, array in roles)
            raise ValueError(f"task {index}: {name} takes arrays of one size; they hold {sizes} elements")
        length = item._out.size
        params = tuple(
            _scalar_bits(index, name, k, value, kind)
            for k, (value, kind) in enumerate(zip(item._scalars, _scalar_types(info, code)))
        )
    elif info.kind == REDUCTION:
        if any(array.shape != arrays[0].shape for array in arrays[:-1]):
            raise ValueError(f"task {index}: shapes differ: {shapes}")
        # A one-element float32 buffer region takes the result as a host array does (its
        # element type was checked above); the library then combines it on the GPU.
        if item._out.size != 1:
            raise ValueError(
                f"task {index}: out of {name} must hold one element, has shape {item._out.shape}"
            )
        length = arrays[0].size
    else:
        a, b, out = arrays
        for role, array in roles:
            if array.ndim != 2:
                raise ValueError(f"task {index}: MATMUL takes 2-D arrays; {role} has shape {array.shape}")
        (m, k), (n, kb) = a.shape, b.shape
        if not item._transpose_b:
            kb, n = n, kb
        if kb != k or out.shape != (m, n):
            b_form = "(N, K)" if item._transpose_b else "(K, N)"
            raise ValueError(
                f"task {index}: MATMUL shapes do not match: a {a.shape}, b {b.shape}, out "
                f"{out.shape}; expected a (M, K), b {b_form}, out (M, N)"
            )
        length = m * n
        params = (m, k, n)
        if item._transpose_b:
            flags |= TASK_TRANSPOSE_B
    pointers = [0 if isinstance(array, REGION_TYPES) else array.ctypes.data for array in arrays]
    regions = tuple(
        (OUTPUT_SLOT if slot == len(arrays) - 1 else slot, region._fields()[0], region._offset)
        for slot, region in (
            (slot, as_region(array)) for slot, array in enumerate(arrays) if isinstance(array, REGION_TYPES)
        )
    )
    return _Record(int(info.op), flags, tuple(pointers[:-1]), pointers[-1], length, params, regions)


def _has_region(item: Any) -> bool:
    """Whether ``item`` is a 3-sequence (an ``(a, b, out)`` tuple) holding a region."""
    return (
        isinstance(item, (tuple, list))
        and len(item) == 3
        and any(isinstance(x, REGION_TYPES) for x in item)
    )


def _task_by_task(items: Sequence[Any]) -> np.ndarray:
    records = [_record(index, item) for index, item in enumerate(items)]
    tasks = np.zeros(len(records), TASK_DTYPE)
    for row, record in zip(tasks, records):
        row["op"], row["flags"], row["output"], row["length"] = (
            record.op, record.flags, record.output, record.length,
        )
        row["inputs"][: len(record.inputs)] = record.inputs
        row["params"][: len(record.params)] = record.params
    tasks.flags.writeable = False
    # (task, slot, handle, offset) of every operand in a buffer.
    placed = [(i,) + region for i, record in enumerate(records) for region in record.regions]
    if placed:
        task_index, slots, handles, offsets = zip(*placed)
        tasks = attach(tasks, task_index, slots, handles, offsets)
    return tasks


# --- all tasks at once ---------------------------------------------------------------------

_op_of = attrgetter("_op")
_inputs_of = attrgetter("_inputs")
_out_of = attrgetter("_out")


def _as_tasks(items: List[Any]) -> Optional[Tuple[List[Task], Optional[np.ndarray]]]:
    """The items as tasks, and which were ``(a, b, out)`` tuples (None: none); None when an
    item is neither."""
    if set(map(type, items)) == {Task}:
        return items, None
    tasks: List[Task] = []
    for item in items:
        if isinstance(item, Task):
            tasks.append(item)
        elif type(item) in (tuple, list) and len(item) == 3:
            tasks.append(_make(Op.VECTOR_ADD, (item[0], item[1]), item[2]))
        else:
            return None
    was_tuple = np.fromiter((not isinstance(item, Task) for item in items), np.bool_, len(items))
    return tasks, was_tuple


#: Scalar types read with ``numpy.fromiter`` (others go through ``numpy.array``).
_FLOAT_SCALARS = frozenset({float, int, np.float32, np.float64, np.int32, np.int64, np.uint32})
_INT_SCALARS = frozenset({int, np.int32, np.int64, np.uint32})


def _scalar_params(tasks: List[Task], indices: np.ndarray, types: Sequence[int]) -> Optional[np.ndarray]:
    """The params of tasks ``indices`` (all of one op and element type, whose scalars have
    ``types``), or None when a scalar is unfit."""
    scalars = [tasks[i]._scalars for i in indices.tolist()]
    params = np.zeros((len(indices), len(types)), np.uint64)
    for position, code in enumerate(types):
        column = [values[position] for values in scalars]
        if set(map(type, column)) <= (_INT_SCALARS if code else _FLOAT_SCALARS):
            try:
                raw = np.fromiter(column, np.int64 if code else np.float64, len(column))
            except OverflowError:  # a Python int beyond 64 bits
                return None
        else:
            raw = np.array(column)
        values = _encode_scalars(raw, len(column), code)
        if values is None:
            return None
        params[:, position] = values
    return params


def _encode_scalars(raw: np.ndarray, count: int, code: int) -> Optional[np.ndarray]:
    """The 32-bit patterns (as uint64) of scalars ``raw`` of type ``code``, or None when
    ``raw`` does not hold ``count`` of them or a scalar is unfit."""
    if raw.shape != (count,) or raw.dtype.kind not in ("iu" if code else "iuf"):
        return None
    if code == DType.F32:
        wide = raw.astype(np.float64)
        with np.errstate(over="ignore"):
            narrow = wide.astype(np.float32)
        if np.any(np.isfinite(wide) & ~np.isfinite(narrow)):
            return None
        return narrow.view(np.uint32).astype(np.uint64)
    low, high = (-(2**31), 2**31) if code == DType.I32 else (0, 2**32)
    if np.any(raw < low) or np.any(raw >= high):
        return None
    return (raw.astype(np.int64) & 0xFFFF_FFFF).astype(np.uint64)


_TABLES: Tuple[np.ndarray, ...] = (_ARITY, _SCALARS, _KIND, _TYPE_BITS)
_BUILT_IN_INFOS: List[Optional[OpInfo]] = [OPS.get(code) for code in range(_SLOTS)]


def _tables(codes: np.ndarray) -> Optional[Tuple[np.ndarray, List[Optional[OpInfo]], Tuple[np.ndarray, ...]]]:
    """Each task's row in the op tables, the OpInfo of each row and the tables (arity,
    scalars, kind, type bits): the built-in ones, with rows for the registered kernels the
    codes name appended. None when a code names nothing."""
    user = codes >= _SLOTS
    if not np.any(user):
        return codes, _BUILT_IN_INFOS, _TABLES
    user_codes, inverse = np.unique(codes[user], return_inverse=True)
    if not all(code in KERNELS for code in user_codes.tolist()):
        return None
    kernels = [KERNELS[code] for code in user_codes.tolist()]
    rows = codes.copy()
    rows[user] = _SLOTS + inverse.ravel()
    extra: Tuple[List[int], ...] = (
        [info.arity for info in kernels],
        [info.scalars for info in kernels],
        [_KINDS.index(KERNEL)] * len(kernels),
        [1 << int(info.dtypes[0]) for info in kernels],
    )
    tables = tuple(np.concatenate([table, np.array(more, table.dtype)]) for table, more in zip(_TABLES, extra))
    return rows, _BUILT_IN_INFOS + list(kernels), tables


def _fast(items: List[Any]) -> Optional[np.ndarray]:
    """The task array when every task is fit, else None (then checked task by task)."""
    converted = _as_tasks(items)
    if converted is None:
        return None
    tasks, was_tuple = converted
    count = len(tasks)
    codes = np.fromiter(map(_op_of, tasks), np.int64, count)
    tables = _tables(codes)
    if tables is None:
        return None
    rows, infos, (arity_of, scalars_of, kind_of, type_bits_of) = tables
    arity = arity_of[rows]
    inputs = list(chain.from_iterable(map(_inputs_of, tasks)))
    arrays = inputs + list(map(_out_of, tasks))
    regions = None
    if all(map(isinstance, arrays, repeat(np.ndarray))):
        fields = _read(arrays, types=True)
    else:
        mixed = _read_mixed(arrays)
        if mixed is None:
            return None
        fields, regions = mixed
    assert fields.types is not None
    n_in = len(inputs)
    # Layout.
    need = _C_CONTIGUOUS | _ALIGNED
    if np.any(fields.flags & need != need) or np.any(fields.flags[n_in:] & _WRITEABLE == 0):
        return None
    # Element types: one per task, defined for its op; tuples are float32.
    types = fields.types.astype(np.intp)
    out_types = types[n_in:]
    owner = np.repeat(np.arange(count), arity)  # the task of each input
    if np.any(out_types < 0) or np.any(types[:n_in] != out_types[owner]):
        return None
    if not np.all((type_bits_of[rows] >> out_types) & 1):
        return None
    if was_tuple is not None and np.any(out_types[was_tuple] != 0):
        return None
    # Shapes, by kind.
    kind = kind_of[rows]
    shapes = fields.shapes
    sizes = np.prod(np.where(shapes < 0, 1, shapes), axis=1)
    in_shapes, out_shapes = shapes[:n_in], shapes[n_in:]
    first = np.cumsum(arity) - arity  # each task's first input
    lengths = sizes[n_in:].copy()
    elementwise = (kind == 0)[owner]
    if not np.array_equal(in_shapes[elementwise], out_shapes[owner[elementwise]]):
        return None
    kernel = (kind == 3)[owner]  # registered kernels: arrays of one size, any shapes
    if np.any(sizes[:n_in][kernel] != lengths[owner[kernel]]):
        return None
    reduction = kind == 1
    if np.any(reduction):
        reduced = reduction[owner]
        if not np.array_equal(in_shapes[reduced], in_shapes[first[owner[reduced]]]):
            return None
        if np.any(lengths[reduction] != 1):
            return None
        lengths[reduction] = sizes[first[reduction]]
    flags = out_types.astype(np.uint32)
    params = np.zeros((count, 4), np.uint64)
    matmul = np.flatnonzero(kind == 2)
    if len(matmul):
        if shapes.shape[1] < 2:
            return None
        a, b, c = shapes[first[matmul]], shapes[first[matmul] + 1], out_shapes[matmul]
        if not all(np.all(s[:, :2] >= 0) and np.all(s[:, 2:] < 0) for s in (a, b, c)):
            return None  # not all 2-D
        transposed = np.fromiter([tasks[i]._transpose_b for i in matmul.tolist()], np.bool_, len(matmul))
        m, k = a[:, 0], a[:, 1]
        kb = np.where(transposed, b[:, 1], b[:, 0])
        n = np.where(transposed, b[:, 0], b[:, 1])
        if np.any(kb != k) or np.any(c[:, 0] != m) or np.any(c[:, 1] != n):
            return None
        params[matmul, 0], params[matmul, 1], params[matmul, 2] = m, k, n
        flags[matmul[transposed]] |= TASK_TRANSPOSE_B
    # Scalars, converted per op and element type.
    with_scalars = np.flatnonzero(scalars_of[rows])
    if len(with_scalars):
        keys = rows[with_scalars] * 4 + out_types[with_scalars]
        for key in np.unique(keys).tolist():
            group = with_scalars[keys == key]
            info = infos[key // 4]
            assert info is not None
            scalar_types = _scalar_types(info, key % 4)
            values = _scalar_params(tasks, group, scalar_types)
            if values is None:
                return None
            params[group, : len(scalar_types)] = values
    result = np.zeros(count, TASK_DTYPE)
    result["op"] = codes
    result["flags"] = flags
    result["inputs"][owner, np.arange(n_in) - first[owner]] = fields.pointers[:n_in]
    result["output"] = fields.pointers[n_in:]
    result["length"] = lengths
    result["params"] = params
    result.flags.writeable = False
    if regions is not None:
        where, handles, offsets = regions
        is_input = where < n_in
        # An input's task and slot; an output's task is its position after the inputs.
        owner_of = owner[np.minimum(where, max(n_in - 1, 0))] if n_in else np.zeros(len(where), np.intp)
        task_index = np.where(is_input, owner_of, where - n_in)
        slot = np.where(is_input, where - first[owner_of], OUTPUT_SLOT)
        result = attach(result, task_index, slot, handles, offsets)
    return result


#: The flags a region passes the layout checks with (it is contiguous, aligned, writable).
_REGION_FLAGS = _C_CONTIGUOUS | _ALIGNED | _WRITEABLE


def _read_mixed(arrays: List[Any]) -> Optional[Tuple[_Fields, Tuple[np.ndarray, List[int], List[int]]]]:
    """The fields of arrays and buffer regions mixed (a region's pointer is 0, for
    :func:`attach` to replace), and where the regions are with their handles and offsets;
    None when an item is neither, or a region's buffer is closed."""
    count = len(arrays)
    is_region = np.fromiter(map(isinstance, arrays, repeat(REGION_TYPES)), np.bool_, count)
    is_array = np.fromiter(map(isinstance, arrays, repeat(np.ndarray)), np.bool_, count)
    if not np.all(is_region | is_array):
        return None
    where = np.flatnonzero(is_region)
    found = region_fields([arrays[i] for i in where.tolist()])
    if found is None:
        return None
    handles, offsets, codes, region_shapes = found
    pointers = np.zeros(count, np.uintp)
    flags = np.full(count, _REGION_FLAGS, np.intc)
    types = np.zeros(count, np.int8)
    types[where] = codes
    shapes = [_shape_matrix(region_shapes)]
    hosts = np.flatnonzero(is_array)
    if len(hosts):
        host = _read([arrays[i] for i in hosts.tolist()], types=True)
        assert host.types is not None
        pointers[hosts], flags[hosts], types[hosts] = host.pointers, host.flags, host.types
        shapes.append(host.shapes)
    width = max(matrix.shape[1] for matrix in shapes)
    merged = np.full((count, width), -1, np.intp)
    merged[where, : shapes[0].shape[1]] = shapes[0]
    if len(hosts):
        merged[hosts, : shapes[1].shape[1]] = shapes[1]
    float32 = bool(np.all(types == 0))
    return _Fields(pointers, flags, float32, merged, types), (where, handles, offsets)


def stacked_array(
    op: Union[Op, int, str], inputs: Any, out: Any, scalars: Any = (), transpose_b: bool = False
) -> np.ndarray:
    """The task array of ``op`` over the rows of stacked arrays: task ``i`` reads row ``i``
    of each input and writes row ``i`` of ``out``; each scalar is a number or holds one
    per row. Raises the first bad task's error."""
    info = op_info(op)
    if out is None:
        raise TypeError("Batch.stacked_op needs out (one row per task)")
    example = Task(info.op, inputs, out, scalars, transpose_b=transpose_b)  # checks the counts
    # A buffer region stacks too: its rows (``region[i]``) are consecutive in the buffer.
    arrays = [as_region(x) if isinstance(x, REGION_TYPES) else x for x in list(example._inputs) + [example._out]]
    for role, array in zip(_INPUT_NAMES[: info.arity] + ("out",), arrays):
        if not isinstance(array, (np.ndarray,) + REGION_TYPES):
            raise TypeError(
                f"{role} must be a numpy.ndarray (one row per task) or a buffer region of "
                f"rows, got {type(array).__name__}"
            )
        if array.ndim == 0:
            raise ValueError(f"{role}: a stacked array needs at least one dimension (one row per task)")
    count = arrays[-1].shape[0]
    counts = [array.shape[0] for array in arrays]
    if len(set(counts)) != 1:
        raise ValueError(f"inputs and out must hold as many tasks (rows); they hold {counts}")
    rows: List[np.ndarray] = []
    for values in example._scalars:
        row = np.asarray(values)
        if row.ndim > 1 or (row.ndim == 1 and len(row) != count):
            raise ValueError(
                f"a scalar of a stacked {info.op.name} is a number or holds one per task "
                f"({count}), got shape {row.shape}"
            )
        rows.append(np.broadcast_to(row, (count,)))
    tasks = _stacked_fast(info, arrays, rows, transpose_b, count)
    if tasks is None:
        items = [
            # x[i, ...]: row i as an array, 0-d ones included
            Task(info.op, [x[i, ...] for x in arrays[:-1]], arrays[-1][i, ...], [s[i] for s in rows], transpose_b=transpose_b)
            for i in range(count)
        ]
        tasks = _task_by_task(items)  # raises for the first bad task
    return tasks


def _stacked_fast(
    info: OpInfo, arrays: List[np.ndarray], scalars: List[np.ndarray], transpose_b: bool, count: int
) -> Optional[np.ndarray]:
    """``stacked_array``'s array when every row is fit, else None."""
    code = _type_code(arrays[0].dtype)
    if code < 0 or code not in info.dtypes or any(x.dtype != arrays[0].dtype for x in arrays):
        return None
    # Rows share the dtype, the row shape and strides (so C-contiguity), and writeability;
    # when the whole array is aligned, so is every row. (A region's rows are all of that.)
    hosts = [x for x in arrays if isinstance(x, np.ndarray)]
    if not all(x.flags.aligned for x in hosts):
        return None
    if isinstance(arrays[-1], np.ndarray) and not arrays[-1].flags.writeable:
        return None
    if count and not all(x[0].flags.c_contiguous for x in hosts):
        return None
    in_buffers = [(slot, x) for slot, x in enumerate(arrays) if not isinstance(x, np.ndarray)]
    if in_buffers and region_fields([x for _, x in in_buffers]) is None:
        return None  # a closed buffer: the slow path says so
    shapes = [x.shape[1:] for x in arrays]
    params = np.zeros((count, 4), np.uint64)
    flags = code
    if info.kind in (ELEMENTWISE, KERNEL):
        if info.kind == ELEMENTWISE and len(set(shapes)) != 1:
            return None
        length = math.prod(shapes[-1])
        if any(math.prod(shape) != length for shape in shapes):
            return None
        for position, (values, kind) in enumerate(zip(scalars, _scalar_types(info, code))):
            encoded = _encode_scalars(values, count, kind)
            if encoded is None:
                return None
            params[:, position] = encoded
    elif info.kind == REDUCTION:
        if len(set(shapes[:-1])) != 1 or math.prod(shapes[-1]) != 1:
            return None
        length = math.prod(shapes[0])
    else:
        if any(len(shape) != 2 for shape in shapes):
            return None
        (m, k), (n, kb), c = shapes
        if not transpose_b:
            kb, n = n, kb
        if kb != k or c != (m, n):
            return None
        length = m * n
        params[:, :3] = (m, k, n)
        if transpose_b:
            flags |= TASK_TRANSPOSE_B
    tasks = np.zeros(count, TASK_DTYPE)
    tasks["op"] = info.op
    tasks["flags"] = flags
    for slot, array in enumerate(arrays):
        if not isinstance(array, np.ndarray):
            continue  # attached below
        # Modulo 2**64, so that a negative stride (x[::-1]) works too.
        offsets = (np.arange(count, dtype=np.int64) * array.strides[0]).astype(np.uint64)
        pointers = (offsets + np.uint64(array.ctypes.data)).astype(np.uintp)
        if slot < info.arity:
            tasks["inputs"][:, slot] = pointers
        else:
            tasks["output"] = pointers
    tasks["length"] = length
    tasks["params"] = params
    tasks.flags.writeable = False
    if in_buffers:
        rows = np.arange(count, dtype=np.intp)
        task_index, slots, handles, offsets_ = [], [], [], []
        for slot, region in in_buffers:
            row = math.prod(region.shape[1:])
            task_index.append(rows)
            slots.append(np.full(count, OUTPUT_SLOT if slot == len(arrays) - 1 else slot, np.intp))
            handles.append(np.full(count, region._fields()[0], np.uint64))
            offsets_.append(np.uint64(region.offset) + rows.astype(np.uint64) * np.uint64(row))
        tasks = attach(
            tasks, np.concatenate(task_index), np.concatenate(slots), np.concatenate(handles),
            np.concatenate(offsets_),
        )
    return tasks


def task_array(items: List[Any]) -> np.ndarray:
    """The ``gpu_task_t`` array of ``items`` (tasks and ``(a, b, out)`` tuples); raises the
    first bad task's error."""
    if not items:
        tasks = np.zeros(0, TASK_DTYPE)
        tasks.flags.writeable = False
        return tasks
    fast = _fast(items)
    return fast if fast is not None else _task_by_task(items)
