"""``Tensor``: an array, its gradient, and the op that made it.

The operators and methods here are one-line calls into :mod:`tinygrad_bp.ops`, where each
primitive's forward and backward sit side by side.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import autograd
from .autograd import Released, _mode
from .backend import ndarray, xp

__all__ = ["Tensor", "get_default_dtype", "set_default_dtype", "make_node", "leaf"]

_default_dtype = np.dtype(np.float64)


def get_default_dtype() -> np.dtype:
    """The dtype lists, Python numbers, integer and bool data become (float64 at start)."""
    return _default_dtype


def set_default_dtype(dtype: Any) -> None:
    """Set the default floating dtype, e.g. ``tg.set_default_dtype(np.float32)``.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> tg.set_default_dtype(np.float32)
    >>> tg.Tensor([1, 2]).dtype
    dtype('float32')
    >>> tg.set_default_dtype(np.float64)  # back to the default
    """
    global _default_dtype
    try:
        d = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dtype!r}") from exc
    if d.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {d}")
    _default_dtype = d


_counter = itertools.count()
_new = object.__new__


def _to_array(data: Any, dtype: Any, op: str) -> Any:
    """Convert user data to an array the engine owns, refusing what is not numeric."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError as exc:
            raise TypeError(f"{op}: dtype {dtype!r} is not a NumPy dtype") from exc
        if dtype.kind not in "fiub":
            raise TypeError(f"{op}: dtype must be a float, int or bool dtype, got {dtype}")
    if isinstance(data, (str, bytes)):
        raise TypeError(f"{op}: expected numbers, got a string {data!r}")
    try:
        arr = xp.array(data, copy=True)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(
            f"{op}: data must be a rectangular nested list of numbers, got a ragged "
            f"sequence ({exc})"
        ) from None
    except TypeError as exc:
        raise TypeError(f"{op}: cannot make a tensor from {type(data).__name__}: {exc}") from None
    if arr.dtype.kind not in "fiub":
        raise TypeError(
            f"{op}: expected numeric data (float, int or bool), got an array of dtype "
            f"{arr.dtype} from {type(data).__name__}"
        )
    if dtype is not None:
        if arr.dtype != dtype:
            arr = arr.astype(dtype)
    elif arr.dtype != _default_dtype and (arr.dtype.kind != "f" or not hasattr(data, "dtype")):
        # only arrays (and NumPy scalars) keep a float dtype of their own; Python floats
        # and lists of them take the default, as in PyTorch
        arr = arr.astype(_default_dtype)
    return arr


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    Parameters
    ----------
    data : array_like
        A NumPy array, nested list or Python number.  It is copied.  Floating arrays keep
        their dtype; everything else becomes the default float dtype
        (:func:`get_default_dtype`, float64 unless changed).
    requires_grad : bool
        Whether gradients should be accumulated into ``.grad`` by :meth:`backward`.
    dtype : dtype, optional
        Cast to this dtype.  Integer tensors exist (class labels) but cannot require grad.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> x = tg.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    array([[2., 4.],
           [6., 8.]])
    """

    __slots__ = (
        "data",
        "grad",
        "requires_grad",
        "name",
        "_parents",
        "_backward",
        "_op",
        "_seq",
        "_flags",  # autograd.RETAIN_GRAD | autograd.RELEASE_AFTER_USE
        "_trace",
        "_module",  # set by nn.Module.__call__ on its outputs only (never in make_node)
        "__weakref__",
    )
    # ndarray <op> Tensor defers to Tensor's reflected op, and NumPy ufuncs (np.exp(t))
    # refuse a Tensor instead of silently returning an array with no graph.
    __array_priority__ = 1000
    __array_ufunc__ = None

    def __init__(
        self, data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None
    ) -> None:
        arr = _to_array(data, dtype, "Tensor")
        if requires_grad and arr.dtype.kind != "f":
            raise TypeError(
                f"Tensor: only floating tensors can require gradients, got dtype {arr.dtype}"
            )
        self.data = arr
        self.grad: Any = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self._parents: tuple[Tensor, ...] = ()
        self._backward: Callable[[Any], tuple[Any, ...]] | None = None
        self._op: str | None = None
        self._seq = next(_counter)
        self._flags = 0
        self._trace: str | None = None

    # ------------------------------------------------------------------ attributes
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user made (and results of ops that recorded no graph)."""
        return self._backward is None

    @property
    def op(self) -> str | None:
        """Name of the op that produced this tensor, ``None`` for a leaf."""
        return self._op

    @property
    def parents(self) -> tuple[Tensor, ...]:
        """The tensors this one was computed from (empty for leaves and under no_grad)."""
        return self._parents

    @property
    def T(self) -> Tensor:
        return ops.transpose(self)

    def numpy(self) -> Any:
        """The underlying array (shared, not copied), like ``torch.Tensor.numpy``."""
        data = self.data
        if data.__class__ is Released:
            raise data.error()
        return data

    def item(self) -> float:
        if self.data.size != 1:
            raise ValueError(
                f"item: only one-element tensors can be converted to a Python number, "
                f"got shape {self.data.shape}"
            )
        return self.data.item()

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, outside any graph."""
        t = leaf(self.numpy())
        t.name = self.name
        return t

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"requires_grad_: only floating tensors can require gradients, got dtype "
                f"{self.data.dtype}"
            )
        if not self.is_leaf:
            raise RuntimeError("requires_grad_: can only change requires_grad of a leaf tensor")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward, as in PyTorch."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        self._flags |= autograd.RETAIN_GRAD

    def zero_grad(self) -> None:
        self.grad = None

    def astype(self, dtype: Any) -> Tensor:
        return ops.cast(self, dtype)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __repr__(self) -> str:
        if self.data.__class__ is Released:
            d = self.data
            return f"Tensor(<released>, shape={d.shape}, dtype={d.dtype}, op={self._op})"
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = ""
        if self.data.dtype != _default_dtype:
            extra += f", dtype={self.data.dtype}"
        if self._op is not None and self._parents:
            extra += f", op={self._op}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"bool: the truth value of a tensor of shape {self.data.shape} is ambiguous"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        data = self.numpy()
        return data if dtype is None else data.astype(dtype)

    # ------------------------------------------------------------------ autograd
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        On a one-element tensor the seed is 1; otherwise ``grad`` (the gradient of some
        scalar with respect to this tensor) must have this tensor's shape.

        Examples
        --------
        >>> import tinygrad_bp as tg
        >>> x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> y = x * x
        >>> y.backward([1.0, 0.0, 0.5])  # the gradient of some L with respect to y
        >>> x.grad  # dL/dx = dL/dy * 2x
        array([2., 0., 3.])
        >>> (x * x).sum().backward()  # gradients accumulate until cleared
        >>> x.grad
        array([4., 4., 9.])
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no graph; create a leaf "
                "with requires_grad=True and compute from it (outside no_grad())"
            )
        if autograd.is_freed(self):
            autograd._freed(None)
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implicitly created only for one-element tensors; "
                    f"this tensor has shape {self.data.shape}, so pass grad= of that shape"
                )
            seed = xp.empty(self.data.shape, dtype=self.data.dtype)
            seed.fill(1)  # (np.ones costs two Python-level calls more)
        else:
            seed = (
                _to_array(grad, None, "backward")
                if not isinstance(grad, Tensor)
                else (grad.data.copy())
            )
            if seed.shape != self.data.shape:
                raise ValueError(
                    f"backward: grad must have the tensor's shape {self.data.shape}, got "
                    f"{seed.shape}"
                )
            if seed.dtype != self.data.dtype:
                seed = seed.astype(self.data.dtype)
        autograd.backward(self, seed, retain_graph=retain_graph)

    # ------------------------------------------------------------------ operators
    def __add__(self, other: Any) -> Tensor:
        return ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return ops.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return ops.pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __getitem__(self, index: Any) -> Tensor:
        return ops.getitem(self, index)

    # Tensors are dict keys in the backward walk: keep identity hashing and equality.
    __hash__ = object.__hash__

    # ------------------------------------------------------------------ methods
    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.sum(self, axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.mean(self, axis, keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.max(self, axis, keepdims)

    def reshape(self, *shape: Any) -> Tensor:
        return ops.reshape(self, *shape)

    def transpose(self, *axes: Any) -> Tensor:
        return ops.transpose(self, *axes)

    def exp(self) -> Tensor:
        return ops.exp(self)

    def log(self) -> Tensor:
        return ops.log(self)

    def sqrt(self) -> Tensor:
        return ops.sqrt(self)

    def relu(self) -> Tensor:
        return ops.relu(self)

    def sigmoid(self) -> Tensor:
        return ops.sigmoid(self)

    def tanh(self) -> Tensor:
        return ops.tanh(self)

    def softmax(self, axis: int = -1) -> Tensor:
        return ops.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return ops.log_softmax(self, axis)

    def argmax(self, axis: int | None = None) -> Tensor:
        """Indices of the maxima (an integer tensor, not differentiable)."""
        return Tensor(self.data.argmax(axis=axis), dtype=np.int64)


def leaf(data: Any, op: str | None = None) -> Tensor:
    """A leaf that needs no grad around an array the caller already checked (no copy).
    ``op="const"`` marks constants the engine made from Python numbers and arrays."""
    t = _new(Tensor)
    t.data = data
    t.grad = None
    t.requires_grad = False
    t.name = None
    t._parents = ()
    t._backward = None
    t._op = op
    t._seq = next(_counter)
    t._flags = 0
    t._trace = None
    return t


def make_node(
    data: Any,
    parents: Sequence[Tensor],
    op: str,
    backward: Callable[[Any], tuple[Any, ...]],
) -> Tensor:
    """Wrap an op's result.  The node keeps its parents and closure only when some parent
    requires grad and grad mode is on; otherwise it is a plain leaf."""
    t = _new(Tensor)
    # NumPy turns 0-d results of ufuncs into scalars; .data is always an array.
    t.data = data if data.__class__ is ndarray else xp.asarray(data)
    t.grad = None
    t.name = None
    t._op = op
    t._seq = next(_counter)
    t._flags = 0
    t._trace = None
    if _mode.enabled:
        for p in parents:
            if p.requires_grad:
                t.requires_grad = True
                t._parents = tuple(parents)
                t._backward = backward
                if _mode.anomaly:
                    autograd.check_forward(t)
                return t
    t.requires_grad = False
    t._parents = ()
    t._backward = None
    if _mode.anomaly:
        autograd.check_forward(t)
    return t


from . import ops  # noqa: E402  (ops needs Tensor defined above)
