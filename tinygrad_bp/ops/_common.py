"""What every family of ops shares: operand conversion, axis checks, error messages."""

from __future__ import annotations

import builtins
from typing import Any, NamedTuple

import numpy as np

from ..backend import xp
from ..tensor import Tensor, _to_array, get_default_dtype, leaf

_PY_SCALARS = (int, float, bool, np.number, np.bool_)
_FAST_SCALARS = (int, float)

# The primitive set, one declaration per primitive where it is defined (@primitive): its
# family and its picture rule.  The ops package's list, the docs' table and the test
# table's check that every primitive has a row are all read from here.
FAMILIES = {
    "arithmetic": "arithmetic, NumPy broadcasting (elementwise.py)",
    "unary": "functions of one value (elementwise.py)",
    "reduce": "reductions and along an axis (reduce.py)",
    "shape": "shape and type (shape.py)",
    "index": "indexing and its adjoints (index.py)",
    "products": "products (linalg.py)",
    "loss": "the fused loss (loss.py)",
    "window": "windows for convolution and pooling (window.py)",
    "recurrent": "the fused LSTM step, LSTM layer and GRU layer (recurrent.py)",
}


class Primitive(NamedTuple):
    """One differentiable primitive: ``name`` (its function in :mod:`tinygrad_bp.ops`),
    ``op`` (the name its nodes carry), ``family`` and ``rule``, its local derivative as the
    pictures write it: one string for every input (``{x}`` the input, ``{y}`` the output,
    ``{xp}``/``{yp}`` the same for a postfix such as ²), a tuple with one string per input
    (``{u}``, ``{v}``, ``{up}``, ``{vp}``; ``{us}`` unparenthesised; None: no gradient
    there) or a dict ``{input index: string}`` to list them in another order, or a
    sentence for the whole node after ``=``."""

    name: str
    op: str
    family: str
    rule: Any
    graph_formula: bool = False  # its backward has a second formula for create_graph


PRIMITIVES: dict[str, Primitive] = {}
PRIMITIVE_OPS: dict[str, Primitive] = {}  # the same, by the op name the nodes carry


def primitive(
    family: str,
    rule: Any = None,
    *,
    op: str | None = None,
    name: str | None = None,
    graph_formula: bool = False,
) -> Any:
    """Declare the function below as a primitive of ``family`` with its picture ``rule``.

    ``graph_formula=True`` says, where everyone sees it, that the backward is *not* one
    formula for arrays and Tensors: a plain backward reads values the forward computed
    (the fused loss's exponentials, the LSTM's gates, a window's fast path) and
    ``create_graph`` computes them again as ops, the branch taken on ``D.is_tensor``."""
    if family not in FAMILIES:
        raise ValueError(f"primitive: unknown family {family!r} (one of {', '.join(FAMILIES)})")

    def declare(fn: Any) -> Any:
        n = name or fn.__name__
        prim = Primitive(n, op or n, family, rule, graph_formula)
        PRIMITIVES[n] = prim
        PRIMITIVE_OPS[prim.op] = prim
        return fn

    return declare


def promote_types(a: Any, b: Any) -> np.dtype:
    """``torch.promote_types``: NumPy's table, except that an integer or boolean meeting a
    float gives that float (int64 with float32 is float32, not NumPy's float64)."""
    if a == b:
        return a
    fa, fb = a.kind == "f", b.kind == "f"
    if fa != fb:
        return a if fa else b
    return np.promote_types(a, b)


def _combine(higher: Any, lower: Any) -> Any:
    """PyTorch's ``combine_categories``: the operands of a higher priority decide unless
    a lower one is of a higher category (bool < integer < float)."""
    if higher is None:
        return lower
    if lower is None or higher.kind == "f":
        return higher
    if higher.kind == "b" or lower.kind == "f":
        return promote_types(higher, lower)
    return higher


def operand_dtype(x: Any, op: str = "result_type") -> tuple[np.dtype, int]:
    """``(dtype, priority)`` of one operand as ``torch.result_type`` sees it: 2 for a
    tensor (or array) with dimensions, 1 for a 0-d one or a NumPy scalar, 0 for a Python
    number (bool, int64, or the default float dtype)."""
    if isinstance(x, Tensor):
        d = x.data
        return d.dtype, 2 if d.ndim else 1
    if isinstance(x, np.ndarray):
        return x.dtype, 2 if x.ndim else 1
    if isinstance(x, np.generic):
        return x.dtype, 1
    if isinstance(x, bool):
        return _BOOL, 0
    if isinstance(x, int):
        return _INT64, 0
    if isinstance(x, float):
        return get_default_dtype(), 0
    arr = _to_array(x, None, op)  # lists: as the Tensor constructor reads them
    return arr.dtype, 2 if arr.ndim else 1


_BOOL = np.dtype(bool)
_INT64 = np.dtype(np.int64)


def result_type(*operands: Any, op: str = "result_type") -> np.dtype:
    """The dtype of an elementwise op's result, as ``torch.result_type``: tensors with
    dimensions decide over 0-d tensors, which decide over Python numbers, unless the lower
    kind is of a higher category (bool < integer < float).  So ``float32 + 0-d float64``
    and ``float32 + 2.5`` stay float32, ``int_tensor + 1`` stays integer, ``int_tensor +
    2.5`` takes the default float dtype, ``int64 + float32`` is float32.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp.ops._common import result_type
    >>> result_type(tg.Tensor(np.ones(2, np.float32)), np.float64(1.0))
    dtype('float32')
    >>> result_type(tg.Tensor([1, 2], dtype=np.int32), 1), result_type(np.arange(2), 0.5)
    (dtype('int32'), dtype('float64'))
    """
    states: list[Any] = [None, None, None]
    for x in operands:
        d, p = operand_dtype(x, op)
        s = states[p]
        states[p] = d if s is None else promote_types(s, d)
    return _combine(states[2], _combine(states[1], states[0]))


def const(x: Any, like: Tensor, op: str, dtype: Any = None) -> Tensor:
    """A non-Tensor operand as a constant leaf of ``dtype`` (by default the dtype of
    ``torch.result_type(like, x)``: so ``float32 * 2`` stays float32 and ``int * 2``
    integer).  Lists are read as the Tensor constructor reads them, then take a float
    ``like``'s dtype."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (list, tuple)):
        arr = _to_array(x, None, op)
        if like.data.dtype.kind == "f":
            arr = arr.astype(like.data.dtype, copy=False)
        return leaf(arr, "const")
    if dtype is None:
        dtype = result_type(like, x)
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "fiub":
            raise TypeError(f"{op}: expected numeric data, got an array of dtype {x.dtype}")
        return leaf(x.astype(dtype, copy=True), "const")
    if isinstance(x, _PY_SCALARS):
        return leaf(xp.asarray(x).astype(dtype), "const")
    return leaf(_to_array(x, dtype, op), "const")


def to_dtype(x: Tensor, dtype: Any) -> Tensor:
    """``x`` itself if it has ``dtype``, else a differentiable cast to it."""
    if x.data.dtype == dtype:
        return x
    from .shape import cast

    return cast(x, dtype)


def pair(a: Any, b: Any, op: str) -> tuple[Tensor, Tensor]:
    """Both operands of a binary op as Tensors of one dtype, ``torch.result_type``'s (a
    Tensor of another dtype goes through a differentiable cast; a list operand is read as
    the Tensor constructor reads it and left to NumPy's promotion)."""
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    # fast paths: a float tensor with a Python number keeps the tensor's dtype
    if ta and b.__class__ in _FAST_SCALARS and a.data.dtype.kind == "f":
        return a, leaf(xp.asarray(b, dtype=a.data.dtype), "const")
    if tb and a.__class__ in _FAST_SCALARS and b.data.dtype.kind == "f":
        return leaf(xp.asarray(a, dtype=b.data.dtype), "const"), b
    if ta and tb:
        if a.data.dtype == b.data.dtype:  # the common case: nothing to promote
            return a, b
    elif not ta and not tb:
        raise TypeError(f"{op}: expected at least one Tensor")
    elif isinstance(a, (list, tuple)):
        return const(a, b, op), b
    elif isinstance(b, (list, tuple)):
        return a, const(b, a, op)
    dt = result_type(a, b, op=op)
    a = to_dtype(a, dt) if ta else const(a, b, op, dt)
    b = to_dtype(b, dt) if tb else const(b, a, op, dt)
    return a, b


def as_tensor(x: Any, op: str) -> Tensor:
    """A Tensor operand, or a constant leaf for an array, list or number."""
    if isinstance(x, Tensor):
        return x
    return leaf(_to_array(x, None, op), "const")


def floating(x: Tensor, op: str) -> Tensor:
    """``x`` itself when it is floating; an integer or boolean tensor as the default float
    dtype (PyTorch promotes ``int_tensor ** 0.5`` and ``sin`` of an integer tensor)."""
    if x.data.dtype.kind == "f":
        return x
    return leaf(x.data.astype(get_default_dtype()), "const")


def broadcast_error(op: str, a: Tensor, b: Tensor) -> ValueError:
    return ValueError(
        f"{op}: shapes {a.data.shape} and {b.data.shape} cannot be broadcast together "
        f"(NumPy broadcasting: trailing dimensions must be equal or 1)"
    )


def check_tensor(x: Any, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


def norm_axes(axis: Any, ndim: int, op: str) -> tuple[int, ...]:
    """``axis`` (None, an int or a sequence of ints) as a tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axes: tuple[Any, ...] = (axis,)
    elif isinstance(axis, (tuple, list)):
        axes = tuple(axis)
    else:
        raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
    bound = builtins.max(ndim, 1)  # a 0-d tensor takes axis 0 or -1, as in PyTorch
    out = []
    for ax in axes:
        if not isinstance(ax, (int, np.integer)) or isinstance(ax, bool):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -bound <= ax < bound:
            raise ValueError(f"{op}: axis {ax} is out of range for a tensor with {ndim} dims")
        if ndim:  # a 0-d tensor has no axis to reduce: the result is the tensor itself
            out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(out)


def one_axis(axis: Any, ndim: int, op: str) -> int:
    """One axis of a tensor with at least one dimension, as a non-negative int."""
    if ndim == 0:
        raise ValueError(f"{op}: needs a tensor with at least one dimension, got a 0-d tensor")
    if (
        not isinstance(axis, (int, np.integer))
        or isinstance(axis, bool)
        or not -ndim <= axis < ndim
    ):
        raise ValueError(f"{op}: axis {axis!r} is out of range for a tensor with {ndim} dims")
    return int(axis) % ndim


def kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` with the reduced ``axes`` kept as size 1."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def axis_args(op: str, axis: Any, keepdims: Any, dim: Any, keepdim: Any) -> tuple[Any, bool]:
    """Accept PyTorch's ``dim=``/``keepdim=`` beside NumPy's ``axis=``/``keepdims=``."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: got both axis={axis!r} and dim={dim!r}; pass one")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return axis, bool(keepdims)
