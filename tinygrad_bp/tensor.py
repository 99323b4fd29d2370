"""``Tensor``: an array, its gradient, and the op that made it.

The operators and methods here are one-line calls into :mod:`tinygrad_bp.ops`, where each
primitive's forward and backward sit side by side.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from . import autograd
from .autograd import Released, _current_mode, _current_scope
from .backend import ndarray, xp

__all__ = [
    "Tensor", "get_default_dtype", "set_default_dtype", "make_node", "leaf", "mark_modified",
    "track_steps", "bump_steps",
]  # fmt: skip

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
        # and lists of them take the default, as in PyTorch.  A boolean array stays a
        # boolean mask (it selects when used as an index), as a torch.bool tensor does.
        if not (arr.dtype.kind == "b" and hasattr(data, "dtype")):
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
        "_hooks",  # register_hook(): {handle id: fn}; set only when there is one
        "_post_hooks",  # register_post_accumulate_grad_hook(): {handle id: fn}, the same
        "_version",  # in-place changes so far; set with the MODIFIED flag
        "_version_seq",  # the node counter at the last in-place change
        "_steppers",  # the step records of optimizers that update it; set with STEPPED
        "scope",  # the scope (a module's call, autograd.SCOPE) it was made in, or None
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
        self.scope: Any = None

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

    @property
    def retains_grad(self) -> bool:
        """Whether :meth:`retain_grad` was called on this non-leaf tensor, as in PyTorch."""
        return bool(self._flags & autograd.RETAIN_GRAD)

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
        """``np.asarray(t)`` shares the buffer; ``np.array(t)`` (``copy=True``) copies it,
        so writing into the result never changes the tensor behind your back."""
        data = self.numpy()
        if dtype is not None and np.dtype(dtype) != data.dtype:
            if copy is False:
                raise ValueError(
                    f"__array__: cannot convert {data.dtype} to {dtype} without a copy"
                )
            return data.astype(dtype)
        return data.copy() if copy else data

    def __iter__(self) -> Iterator[Tensor]:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __contains__(self, value: Any) -> bool:
        """``v in t``: whether any element equals ``v`` (as ``torch.Tensor.__contains__``)."""
        other = value.data if isinstance(value, Tensor) else value
        return bool((self.numpy() == other).any())

    # ------------------------------------------------------------------ autograd
    def backward(
        self,
        grad: Any = None,
        retain_graph: bool = False,
        create_graph: bool = False,
        *,
        gradient: Any = None,
    ) -> None:
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
        if gradient is not None:
            if grad is not None:
                raise TypeError("backward: pass grad or gradient (its PyTorch name), not both")
            grad = gradient
        if create_graph:
            raise RuntimeError(
                "backward: create_graph=True would make .grad a Tensor with a graph, but here "
                ".grad is always a NumPy array; use tg.autograd.grad(outputs, inputs, "
                "create_graph=True) to get differentiable gradients"
            )
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

    # ------------------------------------------------------------------ comparisons
    # Elementwise, as in NumPy and PyTorch: boolean tensors that never require grad.
    def _compare(self, other: Any, fn: Any) -> Tensor:
        o = other.numpy() if isinstance(other, Tensor) else other
        with np.errstate(invalid="ignore"):
            return leaf(xp.asarray(fn(self.numpy(), o)))

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, xp.less)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, xp.less_equal)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, xp.greater)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, xp.greater_equal)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, xp.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, xp.not_equal)

    def __invert__(self) -> Tensor:
        if self.data.dtype.kind != "b":
            raise TypeError(f"~: only boolean tensors can be inverted, got {self.data.dtype}")
        return leaf(~self.data)

    def __and__(self, other: Any) -> Tensor:
        return self._compare(other, xp.logical_and)

    def __or__(self, other: Any) -> Tensor:
        return self._compare(other, xp.logical_or)

    # Tensors are dict keys in the backward walk: keep identity hashing (``==`` above is
    # elementwise, so equality never decides a dict lookup: distinct tensors hash apart).
    __hash__ = object.__hash__

    # ------------------------------------------------------------------ in place
    def _inplace(self, name: str, other: Any, fn: Any) -> Tensor:
        """``self <op>= other`` in ``self``'s own array, as PyTorch does.

        Allowed under ``no_grad()`` and on tensors outside any graph; a leaf that requires
        grad is refused while grad mode is on (PyTorch's rule).  The change is recorded, so
        a graph that saved this tensor's value refuses to use it at ``backward()``."""
        o = other.numpy() if isinstance(other, Tensor) else other
        if _current_mode().enabled and (
            self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)
        ):
            if self.requires_grad and self._backward is None:
                raise RuntimeError(
                    f"{name}: a leaf Variable that requires grad is being used in an in-place "
                    f"operation (do it under tg.no_grad(), as an optimizer step does)"
                )
            raise RuntimeError(
                f"{name}: in-place operations on a tensor that is part of a graph are not "
                f"supported while grad mode is on; write it out of place (t = t + ...)"
            )
        data = self.numpy()
        try:
            fn(data, o, out=data, casting="same_kind")
        except TypeError as exc:  # NumPy's casting errors are TypeErrors
            raise TypeError(
                f"{name}: the result cannot be stored in a tensor of dtype {data.dtype} ({exc})"
            ) from None
        except ValueError:
            shape = getattr(o, "shape", np.shape(o))
            raise ValueError(
                f"{name}: an operand of shape {tuple(shape)} does not broadcast to the "
                f"tensor's shape {data.shape} (an in-place result keeps the tensor's shape)"
            ) from None
        self._bump_version()
        return self

    def _bump_version(self) -> None:
        mark_modified((self,))

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace("+=", other, xp.add)

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace("-=", other, xp.subtract)

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace("*=", other, xp.multiply)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace("/=", other, xp.true_divide)

    def add_(self, other: Any, alpha: float = 1.0) -> Tensor:
        """``self += alpha * other`` in place."""
        o = other.numpy() if isinstance(other, Tensor) else other
        return self._inplace("add_", o if alpha == 1 else xp.multiply(o, alpha), xp.add)

    def sub_(self, other: Any, alpha: float = 1.0) -> Tensor:
        o = other.numpy() if isinstance(other, Tensor) else other
        return self._inplace("sub_", o if alpha == 1 else xp.multiply(o, alpha), xp.subtract)

    def mul_(self, other: Any) -> Tensor:
        return self._inplace("mul_", other, xp.multiply)

    def div_(self, other: Any) -> Tensor:
        return self._inplace("div_", other, xp.true_divide)

    def zero_(self) -> Tensor:
        """Fill with zeros in place."""
        return self._inplace("zero_", 0, _assign)

    def fill_(self, value: Any) -> Tensor:
        return self._inplace("fill_", value, _assign)

    def copy_(self, src: Any) -> Tensor:
        """Copy ``src``'s values into this tensor (broadcast to its shape) in place."""
        return self._inplace("copy_", src, _assign)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        if min is not None:
            self._inplace("clamp_", min, xp.maximum)
        if max is not None:
            self._inplace("clamp_", max, xp.minimum)
        return self

    @property
    def version(self) -> int:
        """How many times this tensor was changed in place (PyTorch's ``_version``)."""
        flags = self._flags
        v = self._version if flags & autograd.MODIFIED else 0
        if flags & autograd.STEPPED:  # and one per step of each optimizer holding it
            v += sum(record[1] for record in self._steppers)
        return v

    # ------------------------------------------------------------------ hooks
    def register_hook(self, fn: Callable[[Tensor], Any]) -> RemovableHandle:
        """Call ``fn(grad)`` with this tensor's gradient (a Tensor) when it is computed; if
        it returns a Tensor or array, that replaces the gradient.  Returns a handle whose
        ``.remove()`` takes the hook off.

        Examples
        --------
        >>> import tinygrad_bp as tg
        >>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
        >>> h = x.register_hook(lambda g: g * 10)
        >>> (x * x).sum().backward()
        >>> x.grad
        array([20., 40.])
        >>> h.remove()
        """
        if not callable(fn):
            raise TypeError(f"register_hook: expected a callable, got {type(fn).__name__}")
        if not self.requires_grad:
            raise RuntimeError(
                "register_hook: cannot register a hook on a tensor that doesn't require gradient"
            )
        if not self._flags & autograd.HAS_HOOKS:
            self._hooks = {}
            self._flags |= autograd.HAS_HOOKS
        handle = RemovableHandle(self)
        self._hooks[handle.id] = fn
        return handle

    def register_post_accumulate_grad_hook(self, fn: Callable[[Tensor], Any]) -> RemovableHandle:
        """Call ``fn(tensor)`` on this leaf after ``backward()`` has added its gradient into
        ``.grad``, as ``torch.Tensor.register_post_accumulate_grad_hook``; what ``fn``
        returns is ignored (it may change ``.grad`` in place).  The hooks of one backward
        run when every leaf of that backward holds its new ``.grad``.  Returns a handle
        whose ``.remove()`` takes the hook off.

        Examples
        --------
        >>> import tinygrad_bp as tg
        >>> w = tg.Tensor([1.0, 2.0], requires_grad=True)
        >>> h = w.register_post_accumulate_grad_hook(lambda t: print("grad", t.grad))
        >>> (w * w).sum().backward()
        grad [2. 4.]
        >>> h.remove()
        """
        if not callable(fn):
            raise TypeError(
                f"register_post_accumulate_grad_hook: expected a callable, got {type(fn).__name__}"
            )
        if not self.requires_grad or self._backward is not None:
            raise RuntimeError(
                "register_post_accumulate_grad_hook: only a leaf tensor that requires grad "
                "accumulates a .grad; register it on such a leaf (a parameter)"
            )
        if not self._flags & autograd.POST_HOOKS:
            self._post_hooks = {}
            self._flags |= autograd.POST_HOOKS
        handle = RemovableHandle(self)
        self._post_hooks[handle.id] = fn
        return handle

    # ------------------------------------------------------------------ methods
    # Reductions take NumPy's axis=/keepdims= and PyTorch's dim=/keepdim= alike.
    def sum(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: Any = None) -> Tensor:  # fmt: skip
        return ops.sum(self, *ops_axes("sum", axis, keepdims, dim, keepdim))

    def mean(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: Any = None) -> Tensor:  # fmt: skip
        return ops.mean(self, *ops_axes("mean", axis, keepdims, dim, keepdim))

    def max(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: Any = None) -> Tensor:  # fmt: skip
        """The maximum (a Tensor; PyTorch's ``max(dim)`` also returns indices: use
        :meth:`argmax` for those)."""
        return ops.max(self, *ops_axes("max", axis, keepdims, dim, keepdim))

    def min(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: Any = None) -> Tensor:  # fmt: skip
        return ops.min(self, *ops_axes("min", axis, keepdims, dim, keepdim))

    def prod(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: Any = None) -> Tensor:  # fmt: skip
        return ops.prod(self, *ops_axes("prod", axis, keepdims, dim, keepdim))

    def logsumexp(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
                  keepdim: Any = None) -> Tensor:  # fmt: skip
        return ops.logsumexp(self, *ops_axes("logsumexp", axis, keepdims, dim, keepdim))

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0, *,
            dim: Any = None, keepdim: Any = None, unbiased: Any = None,
            correction: Any = None) -> Tensor:  # fmt: skip
        """Variance with NumPy's ``ddof=0`` default (PyTorch's default is unbiased: pass
        ``unbiased=True``, ``correction=1`` or ``ddof=1``)."""
        a, k = ops_axes("var", axis, keepdims, dim, keepdim)
        return ops.var(self, a, k, ddof, unbiased=unbiased, correction=correction)

    def std(self, axis: Any = None, keepdims: bool = False, ddof: int = 0, *,
            dim: Any = None, keepdim: Any = None, unbiased: Any = None,
            correction: Any = None) -> Tensor:  # fmt: skip
        """Standard deviation, with :meth:`var`'s arguments."""
        a, k = ops_axes("std", axis, keepdims, dim, keepdim)
        return ops.std(self, a, k, ddof, unbiased=unbiased, correction=correction)

    def cumsum(self, axis: Any = None, *, dim: Any = None) -> Tensor:
        a, _ = ops_axes("cumsum", axis, False, dim, None)
        if a is None:
            raise TypeError("cumsum: axis (or dim) is required")
        return ops.cumsum(self, a)

    def argmax(self, axis: int | None = None, keepdims: bool = False, *, dim: Any = None,
               keepdim: Any = None) -> Any:  # fmt: skip
        """Indices of the maxima: an integer NumPy array (not differentiable)."""
        a, k = ops_axes("argmax", axis, keepdims, dim, keepdim)
        return self.numpy().argmax(axis=a, keepdims=k)

    def argmin(self, axis: int | None = None, keepdims: bool = False, *, dim: Any = None,
               keepdim: Any = None) -> Any:  # fmt: skip
        """Indices of the minima: an integer NumPy array (not differentiable)."""
        a, k = ops_axes("argmin", axis, keepdims, dim, keepdim)
        return self.numpy().argmin(axis=a, keepdims=k)

    def reshape(self, *shape: Any) -> Tensor:
        return ops.reshape(self, *shape)

    def view(self, *shape: Any) -> Tensor:
        """PyTorch's name for :meth:`reshape` (the result is a new node, not a view)."""
        return ops.reshape(self, *shape)

    def transpose(self, *axes: Any) -> Tensor:
        """NumPy's ``transpose(*axes)``: permute all axes (reverse them when none are
        given).  PyTorch's ``transpose(dim0, dim1)`` swaps two axes: that is
        :meth:`swapaxes` here; :meth:`permute` is PyTorch's name for this one."""
        return ops.transpose(self, *axes)

    def permute(self, *dims: Any) -> Tensor:
        """Permute all axes (PyTorch's name for NumPy's ``transpose(*axes)``)."""
        return ops.transpose(self, dims[0] if len(dims) == 1 else dims)

    def swapaxes(self, axis0: int, axis1: int) -> Tensor:
        """Swap two axes (PyTorch's ``transpose(dim0, dim1)``)."""
        nd = self.ndim
        for a in (axis0, axis1):
            if not isinstance(a, (int, np.integer)) or not -nd <= a < nd:
                raise ValueError(f"swapaxes: axis {a!r} is out of range for {nd} dims")
        perm = list(range(nd))
        perm[axis0], perm[axis1] = perm[axis1], perm[axis0]
        return ops.transpose(self, tuple(perm))

    swapdims = swapaxes

    def squeeze(self, axis: Any = None, *, dim: Any = None) -> Tensor:
        return ops.squeeze(self, dim if dim is not None else axis)

    def unsqueeze(self, axis: Any = None, *, dim: Any = None) -> Tensor:
        a, _ = ops_axes("unsqueeze", axis, False, dim, None)
        if a is None:
            raise TypeError("unsqueeze: axis (or dim) is required")
        return ops.unsqueeze(self, a)

    def flatten(self, start_axis: int = 0, end_axis: int = -1, *, start_dim: Any = None,
                end_dim: Any = None) -> Tensor:  # fmt: skip
        """Merge axes ``start_axis..end_axis`` (PyTorch's ``start_dim``/``end_dim``)."""
        return ops.flatten(
            self,
            start_axis if start_dim is None else start_dim,
            end_axis if end_dim is None else end_dim,
        )

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return ops.broadcast_to(self, shape)

    def expand(self, *sizes: Any) -> Tensor:
        """PyTorch's ``expand(*sizes)`` (or one shape): :meth:`broadcast_to`; a size of -1
        keeps that axis."""
        shape = (
            tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        )
        lead = len(shape) - self.ndim
        shape = tuple(
            self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(shape)
        )
        return ops.broadcast_to(self, shape)

    def split(self, split_size_or_sections: Any, axis: int = 0, *, dim: Any = None) -> tuple:
        return ops.split(self, split_size_or_sections, dim if dim is not None else axis)

    def pad(self, pad_width: Any, value: float = 0.0) -> Tensor:
        """Constant padding with NumPy's ``pad_width`` (not ``F.pad``'s reversed list)."""
        return ops.pad(self, pad_width, value)

    def flip(self, axis: Any = None, *, dims: Any = None) -> Tensor:
        return ops.flip(self, dims if dims is not None else axis)

    def gather(self, axis: Any = None, index: Any = None, *, dim: Any = None) -> Tensor:
        """``torch.gather`` along ``axis`` (or ``dim``)."""
        a, _ = ops_axes("gather", axis, False, dim, None)
        if a is None or index is None:
            raise TypeError("gather: axis (or dim) and index are required")
        return ops.gather(self, a, index)

    def clone(self) -> Tensor:
        """A copy with its own array that stays in the graph (∂/∂self = g)."""
        return ops.clone(self)

    def exp(self) -> Tensor:
        return ops.exp(self)

    def log(self) -> Tensor:
        return ops.log(self)

    def log1p(self) -> Tensor:
        return ops.log1p(self)

    def sqrt(self) -> Tensor:
        return ops.sqrt(self)

    def sin(self) -> Tensor:
        return ops.sin(self)

    def cos(self) -> Tensor:
        return ops.cos(self)

    def tan(self) -> Tensor:
        return ops.tan(self)

    def abs(self) -> Tensor:
        return ops.abs(self)

    __abs__ = abs

    def square(self) -> Tensor:
        return ops.square(self)

    def sign(self) -> Tensor:
        return ops.sign(self)

    def floor(self) -> Tensor:
        return ops.floor(self)

    def ceil(self) -> Tensor:
        return ops.ceil(self)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        return ops.clamp(self, min, max)

    clip = clamp

    def relu(self) -> Tensor:
        return ops.relu(self)

    def sigmoid(self) -> Tensor:
        return ops.sigmoid(self)

    def tanh(self) -> Tensor:
        return ops.tanh(self)

    def softmax(self, axis: int = -1, *, dim: Any = None) -> Tensor:
        return ops.softmax(self, dim if dim is not None else axis)

    def log_softmax(self, axis: int = -1, *, dim: Any = None) -> Tensor:
        return ops.log_softmax(self, dim if dim is not None else axis)

    # ------------------------------------------------------------------ conversions
    def tolist(self) -> Any:
        return self.numpy().tolist()

    def numel(self) -> int:
        return int(self.data.size)

    def float(self) -> Tensor:
        """As float32 (PyTorch's ``float``), differentiable."""
        return self if self.data.dtype == np.float32 else ops.cast(self, np.float32)

    def double(self) -> Tensor:
        """As float64, differentiable."""
        return self if self.data.dtype == np.float64 else ops.cast(self, np.float64)


def mark_modified(tensors: Any) -> None:
    """Record that ``tensors`` were changed in place just now (an in-place operator, an
    optimizer step), so that a graph which saved one of them before refuses to use it."""
    seq = next(_counter)
    autograd._last_inplace[0] = seq
    modified = autograd.MODIFIED
    for t in tensors:
        flags = t._flags
        t._version = (t._version + 1) if flags & modified else 1
        t._version_seq = seq
        t._flags = flags | modified


def track_steps(tensors: Any, record: list[int]) -> None:
    """Count every :func:`bump_steps` of ``record`` (a ``[seq, count]`` list) as an
    in-place change of each of ``tensors``: an optimizer's parameters, all changed by each
    step.  One record per optimizer makes marking a step one update, not one per tensor."""
    stepped = autograd.STEPPED
    for t in tensors:
        flags = t._flags
        t._steppers = (t._steppers if flags & stepped else ()) + (record,)
        t._flags = flags | stepped


def bump_steps(record: list[int]) -> None:
    """An optimizer's step just changed all the tensors ``record`` tracks, in place."""
    seq = next(_counter)
    record[0] = seq
    record[1] += 1
    autograd._last_inplace[0] = seq


def _assign(data: Any, value: Any, out: Any, casting: str) -> None:
    """``out[...] = value`` with a ufunc's signature (for fill_, zero_, copy_)."""
    xp.copyto(out, value, casting=casting)


def ops_axes(op: str, axis: Any, keepdims: Any, dim: Any, keepdim: Any) -> tuple[Any, bool]:
    from .ops._common import axis_args

    return axis_args(op, axis, keepdims, dim, keepdim)


class RemovableHandle:
    """What :meth:`Tensor.register_hook` returns: ``.remove()`` takes the hook off."""

    _ids = itertools.count()

    def __init__(self, tensor: Tensor) -> None:
        import weakref

        self.id = next(RemovableHandle._ids)
        self._ref = weakref.ref(tensor)

    def remove(self) -> None:
        t = self._ref()
        if t is not None and t._flags & autograd.HAS_HOOKS:
            t._hooks.pop(self.id, None)
        if t is not None and t._flags & autograd.POST_HOOKS:
            t._post_hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


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
    t.scope = None
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
    t.scope = _current_scope()
    mode = _current_mode()
    if mode.enabled:
        for p in parents:
            if p.requires_grad:
                t.requires_grad = True
                t._parents = tuple(parents)
                t._backward = backward
                if mode.anomaly:
                    autograd.check_forward(t)
                return t
    t.requires_grad = False
    t._parents = ()
    t._backward = None
    if mode.anomaly:
        autograd.check_forward(t)
    return t


from . import ops  # noqa: E402  (ops needs Tensor defined above)
