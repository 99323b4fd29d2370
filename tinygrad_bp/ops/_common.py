"""What every family of ops shares: operand conversion, axis checks, error messages."""

from __future__ import annotations

import builtins
from typing import Any, NamedTuple

import numpy as np

from ..backend import xp
from ..tensor import Tensor, _to_array, get_default_dtype, leaf

_PY_SCALARS = (int, float, bool, np.number, np.bool_)

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
    "recurrent": "the fused LSTM step and layer (recurrent.py)",
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


def const(x: Any, like: Tensor, op: str) -> Tensor:
    """A non-Tensor operand as a constant leaf.  Python numbers take the tensor's dtype, so
    ``float32 * 2`` stays float32; non-float arrays and lists do too; float arrays keep
    theirs (NumPy's promotion then decides, as it would for the arrays)."""
    if isinstance(x, Tensor):
        return x
    like_dtype = like.data.dtype
    if isinstance(x, _PY_SCALARS) and not isinstance(x, np.floating):
        arr = xp.asarray(x, dtype=like_dtype if like_dtype.kind == "f" else None)
        if arr.dtype.kind != "f":
            arr = arr.astype(like_dtype if like_dtype.kind == "f" else get_default_dtype())
    else:
        arr = _to_array(x, None, op)
        if not (isinstance(x, np.ndarray) and x.dtype.kind == "f") and like_dtype.kind == "f":
            arr = arr.astype(like_dtype, copy=False)
    return leaf(arr, "const")


def pair(a: Any, b: Any, op: str) -> tuple[Tensor, Tensor]:
    if not isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            raise TypeError(f"{op}: expected at least one Tensor")
        a = const(a, b, op)
    elif not isinstance(b, Tensor):
        b = const(b, a, op)
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
