"""One helper per op, each returning a :class:`gpu_executor.Task` for ``Executor.submit``.

    from gpu_executor import ops

    tasks = [ops.sqrt(x, y), ops.scale(x, 2.5, z), ops.sum(x, total), ops.matmul(A, B, C)]
    executor.submit(tasks)                  # one batch, one call into the library

Arrays are ``float32``, ``int32`` or ``uint32`` NumPy arrays (the element type follows
their dtype; every array of a task shares it), C-contiguous and aligned; ``out`` is written
in place when the batch runs. ``out=None`` allocates it (``task.out``). Which element types
each op takes, and the shapes, are those of :class:`gpu_executor.Task`: element-wise ops
take arrays of one shape, reductions ``float32`` inputs of one shape and a one-element
``float32`` output, ``matmul`` 2-D ``float32`` arrays. Any array may instead be a buffer
region (:class:`gpu_executor.Region`) or a whole :class:`gpu_executor.Buffer`, a
reduction's ``out`` included (one ``float32`` element: its result is then combined on the
GPU and stays there for later tasks; see :class:`gpu_executor.Task`).

Scalars (``scale``, ``axpy``, ``clamp``) are numbers of the arrays' element type: any real
number for ``float32`` (rounded to ``float32``), an integer in range for ``int32`` and
``uint32``.

Nothing runs and nothing is checked against the arrays here: ``submit`` checks every task
of the batch before anything runs, and raises ``TypeError`` or ``ValueError`` naming the
first bad one.
"""

from __future__ import annotations

from typing import Any, Optional

from ._ffi import Op
from ._optasks import OPS, Task, _allocate, _make

__all__ = [
    "abs",
    "add",
    "axpy",
    "clamp",
    "copy",
    "cos",
    "div",
    "dot",
    "exp",
    "fma",
    "log",
    "matmul",
    "max",
    "mean",
    "min",
    "mul",
    "neg",
    "norm2",
    "pow",
    "reduce_max",
    "reduce_min",
    "relu",
    "scale",
    "sigmoid",
    "sin",
    "sqrt",
    "sub",
    "sum",
    "tanh",
]

# The helpers below shadow min, max, sum, abs and pow of builtins inside this module: it
# uses none of them.


def _unary(op: Op, a: Any, out: Any) -> Task:
    if out is None:
        out = _allocate(OPS[op], (a,), False)
    return _make(op, (a,), out)


def _binary(op: Op, a: Any, b: Any, out: Any) -> Task:
    if out is None:
        out = _allocate(OPS[op], (a, b), False)
    return _make(op, (a, b), out)


# --- element-wise, two inputs -----------------------------------------------------------------


def add(a: Any, b: Any, out: Optional[Any] = None) -> Task:
    """``out = a + b`` (integers wrap). float32, int32, uint32."""
    return _binary(Op.VECTOR_ADD, a, b, out)


def sub(a: Any, b: Any, out: Optional[Any] = None) -> Task:
    """``out = a - b`` (integers wrap). float32, int32, uint32."""
    return _binary(Op.SUB, a, b, out)


def mul(a: Any, b: Any, out: Optional[Any] = None) -> Task:
    """``out = a * b`` (integers wrap). float32, int32, uint32."""
    return _binary(Op.MUL, a, b, out)


def div(a: Any, b: Any, out: Optional[Any] = None) -> Task:
    """``out = a / b``; integers truncate toward zero, and ``x / 0`` (and ``INT32_MIN / -1``)
    give ``x``. float32, int32, uint32."""
    return _binary(Op.DIV, a, b, out)


def min(a: Any, b: Any, out: Optional[Any] = None) -> Task:  # noqa: A001
    """``out = min(a, b)`` element by element. float32, int32, uint32."""
    return _binary(Op.MIN, a, b, out)


def max(a: Any, b: Any, out: Optional[Any] = None) -> Task:  # noqa: A001
    """``out = max(a, b)`` element by element. float32, int32, uint32."""
    return _binary(Op.MAX, a, b, out)


def pow(a: Any, b: Any, out: Optional[Any] = None) -> Task:  # noqa: A001
    """``out = a ** b``. float32."""
    return _binary(Op.POW, a, b, out)


# --- element-wise, one input --------------------------------------------------------------------


def neg(a: Any, out: Optional[Any] = None) -> Task:
    """``out = -a`` (int32 wraps). float32, int32."""
    return _unary(Op.NEG, a, out)


def abs(a: Any, out: Optional[Any] = None) -> Task:  # noqa: A001
    """``out = |a|`` (int32 wraps: ``abs(INT32_MIN)`` is ``INT32_MIN``). float32, int32."""
    return _unary(Op.ABS, a, out)


def sqrt(a: Any, out: Optional[Any] = None) -> Task:
    """``out = sqrt(a)``. float32."""
    return _unary(Op.SQRT, a, out)


def exp(a: Any, out: Optional[Any] = None) -> Task:
    """``out = e ** a``. float32."""
    return _unary(Op.EXP, a, out)


def log(a: Any, out: Optional[Any] = None) -> Task:
    """``out = ln(a)``. float32."""
    return _unary(Op.LOG, a, out)


def sin(a: Any, out: Optional[Any] = None) -> Task:
    """``out = sin(a)``. float32."""
    return _unary(Op.SIN, a, out)


def cos(a: Any, out: Optional[Any] = None) -> Task:
    """``out = cos(a)``. float32."""
    return _unary(Op.COS, a, out)


def tanh(a: Any, out: Optional[Any] = None) -> Task:
    """``out = tanh(a)``. float32."""
    return _unary(Op.TANH, a, out)


def relu(a: Any, out: Optional[Any] = None) -> Task:
    """``out = max(a, 0)``. float32, int32."""
    return _unary(Op.RELU, a, out)


def sigmoid(a: Any, out: Optional[Any] = None) -> Task:
    """``out = 1 / (1 + e ** -a)``. float32."""
    return _unary(Op.SIGMOID, a, out)


# --- element-wise with scalars, and three inputs ----------------------------------------------


def scale(a: Any, s: Any, out: Optional[Any] = None) -> Task:
    """``out = a * s``. float32, int32, uint32."""
    if out is None:
        out = _allocate(OPS[Op.SCALE], (a,), False)
    return _make(Op.SCALE, (a,), out, (s,))


def axpy(s: Any, a: Any, b: Any, out: Optional[Any] = None) -> Task:
    """``out = s * a + b`` (fused or not, as the GPU computes ``a * b + c``). float32,
    int32, uint32."""
    if out is None:
        out = _allocate(OPS[Op.AXPY], (a, b), False)
    return _make(Op.AXPY, (a, b), out, (s,))


def clamp(a: Any, lo: Any, hi: Any, out: Optional[Any] = None) -> Task:
    """``out = min(max(a, lo), hi)`` (``hi`` wins where ``lo > hi``). float32, int32,
    uint32."""
    if out is None:
        out = _allocate(OPS[Op.CLAMP], (a,), False)
    return _make(Op.CLAMP, (a,), out, (lo, hi))


def fma(a: Any, b: Any, c: Any, out: Optional[Any] = None) -> Task:
    """``out = a * b + c`` (float32 fused where the GPU fuses; integers wrap). float32,
    int32, uint32."""
    if out is None:
        out = _allocate(OPS[Op.FMA], (a, b, c), False)
    return _make(Op.FMA, (a, b, c), out)


def copy(a: Any, out: Optional[Any] = None) -> Task:
    """``out = a``: between buffer regions, from a buffer to a host array or back, or
    between host arrays. float32, int32, uint32."""
    return _unary(Op.COPY, a, out)


# --- reductions: float32 in, one float32 out ----------------------------------------------------
# ``out`` is a host array or a buffer region (``buf[i]``) of one float32 element.


def sum(a: Any, out: Optional[Any] = None) -> Task:  # noqa: A001
    """``out[0] = sum(a)`` over every element of ``a``; 0 over none. ``out``: one float32
    element (``(1,)`` or ``()``): a host array, or a buffer region (``buf[i]``) or
    one-element buffer, where the result stays on the GPU for later tasks."""
    return _unary(Op.SUM, a, out)


def reduce_min(a: Any, out: Optional[Any] = None) -> Task:
    """``out[0] = min(a)``; +inf over no elements; NaN if any element is NaN."""
    return _unary(Op.REDUCE_MIN, a, out)


def reduce_max(a: Any, out: Optional[Any] = None) -> Task:
    """``out[0] = max(a)``; -inf over no elements; NaN if any element is NaN."""
    return _unary(Op.REDUCE_MAX, a, out)


def mean(a: Any, out: Optional[Any] = None) -> Task:
    """``out[0] = sum(a) / a.size``; NaN over no elements."""
    return _unary(Op.MEAN, a, out)


def dot(a: Any, b: Any, out: Optional[Any] = None) -> Task:
    """``out[0] = sum(a * b)`` (``a`` and ``b`` of one shape); 0 over no elements."""
    return _binary(Op.DOT, a, b, out)


def norm2(a: Any, out: Optional[Any] = None) -> Task:
    """``out[0] = sqrt(sum(a * a))``; 0 over no elements."""
    return _unary(Op.NORM2, a, out)


# --- matrix multiply ------------------------------------------------------------------------------


def matmul(a: Any, b: Any, out: Optional[Any] = None, *, transpose_b: bool = False) -> Task:
    """``out = a @ b``: ``a`` (M, K), ``b`` (K, N), ``out`` (M, N), 2-D float32 arrays; with
    ``transpose_b``, ``b`` is stored (N, K) and ``out = a @ b.T``."""
    return Task(Op.MATMUL, (a, b), out, transpose_b=transpose_b)
