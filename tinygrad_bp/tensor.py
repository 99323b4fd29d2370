"""``Tensor``: an array, its gradient, and the op that made it.

The operators and methods here are one-line calls into :mod:`tinygrad_bp.ops`, where each
primitive's forward and backward sit side by side.
"""

from __future__ import annotations

import builtins
import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from . import autograd
from .autograd import Released, _current_mode, _current_scope
from .backend import ndarray, xp

__all__ = [
    "Tensor", "get_default_dtype", "set_default_dtype", "make_node", "leaf", "mark_modified",
    "track_steps", "bump_steps", "OUT", "SAVE_OUT", "as_view",
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
        "_saved",  # the arrays the closure gets in a plain backward (a node's, set with it)
        "_saved_ix",  # where each came from: a parent's index, or -1 for the output
        "_base",  # the tensor that owns the memory this one views; set with the VIEW flag
        "_view",  # (tensor viewed, view function, its argument), for a differentiable view
        "_ghosts",  # ((seq, old identity), ...): set with REBASED (changed in place in a graph)
        "__weakref__",
    )
    # The slots set only with their flag, or with a node (for the type checker; no values).
    _hooks: dict[int, Callable[[Any], Any]]
    _post_hooks: dict[int, Callable[[Any], Any]]
    _version: int
    _version_seq: int
    _steppers: tuple[list[int], ...]
    _saved: tuple[Any, ...]
    _saved_ix: tuple[int, ...]
    _base: Tensor
    _view: tuple[Tensor, Any, Any] | None
    _ghosts: tuple[tuple[int, Tensor], ...]

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
    def size(self) -> _Size:
        """The number of elements, as NumPy's ``size``; also callable as PyTorch's
        ``size(dim=None)``: ``x.size()`` is the shape, ``x.size(0)`` one axis's length."""
        return _Size(self.data.size, self.data.shape)

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
        """The tensors this one was computed from (empty for leaves and under no_grad);
        an input changed in place since appears as it was."""
        return autograd.parents_of(self)

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
        """A new leaf sharing this tensor's memory (and version counter), outside any
        graph: an in-place change of one is seen by the other, as in PyTorch."""
        t = leaf(self.numpy())
        t.name = self.name
        return as_view(t, self)

    def detach_(self) -> Tensor:
        """Make this tensor a leaf that does not require grad, in place (PyTorch's)."""
        if self._flags & VIEW and self._view is not None:
            raise RuntimeError("detach_: Can't detach views in-place. Use detach() instead.")
        self._parents = ()
        self._backward = None
        self._op = None
        self.requires_grad = False
        return self

    @property
    def grad_fn(self) -> GradFn | None:
        """The node that made this tensor (``None`` for a leaf), as PyTorch's: its
        ``name()`` and ``next_functions``."""
        return None if self._backward is None else GradFn(self)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"requires_grad_: only floating tensors can require gradients, got dtype "
                f"{self.data.dtype}"
            )
        if not self.is_leaf:
            if requires_grad:
                return self  # a node of a graph requires grad already (PyTorch: a no-op)
            raise RuntimeError(
                "requires_grad_: you can only change requires_grad flags of leaf variables. "
                "If you want to use a computed variable in a subgraph that doesn't require "
                "differentiation use var_no_grad = var.detach()."
            )
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward (and after
        ``tg.grad``), as in PyTorch."""
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
        inputs: Any = None,
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (with ``inputs``, a
        tensor or a sequence of them, into theirs only, leaves or not, as PyTorch).

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
        if self._backward is autograd._freed:
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
        if inputs is not None:
            autograd.backward_into(self, seed, inputs, retain_graph)
            return
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

    def __floordiv__(self, other: Any) -> Tensor:
        return ops.floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return ops.floor_divide(other, self)

    def __mod__(self, other: Any) -> Tensor:
        return ops.remainder(self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return ops.remainder(other, self)

    def __pos__(self) -> Tensor:
        return self

    def __getitem__(self, index: Any) -> Tensor:
        return ops.getitem(self, index)

    # ------------------------------------------------------------------ comparisons
    # Elementwise, as in NumPy and PyTorch: boolean tensors that never require grad.
    def _compare(self, other: Any, fn: Any) -> Tensor:
        a = self.numpy()
        if isinstance(other, (Tensor, ndarray)):
            # in torch.result_type's dtype, as PyTorch: float32 == 0-d float64 compares
            # in float32 (NumPy would widen the float32 side), int64 < float32 in float32
            from .ops._common import result_type

            o = other.numpy() if isinstance(other, Tensor) else other
            dt = result_type(self, other)
            if a.dtype != dt or o.dtype != dt:
                a, o = a.astype(dt, copy=False), o.astype(dt, copy=False)
        else:
            o = other
        with np.errstate(invalid="ignore"):
            return leaf(xp.asarray(fn(a, o)))

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
        if self.data.dtype.kind not in "biu":
            raise TypeError(
                f"~: only boolean and integer tensors can be inverted, got {self.data.dtype}"
            )
        return leaf(~self.data)

    # & | ^ are bitwise on integers and logical on booleans, as in PyTorch
    def __and__(self, other: Any) -> Tensor:
        return ops.bitwise(self, other, "&")

    def __rand__(self, other: Any) -> Tensor:
        return ops.bitwise(other, self, "&")

    def __or__(self, other: Any) -> Tensor:
        return ops.bitwise(self, other, "|")

    def __ror__(self, other: Any) -> Tensor:
        return ops.bitwise(other, self, "|")

    def __xor__(self, other: Any) -> Tensor:
        return ops.bitwise(self, other, "^")

    def __rxor__(self, other: Any) -> Tensor:
        return ops.bitwise(other, self, "^")

    # Tensors are dict keys in the backward walk: keep identity hashing (``==`` above is
    # elementwise, so equality never decides a dict lookup: distinct tensors hash apart).
    __hash__ = object.__hash__

    # ------------------------------------------------------------------ in place
    def _inplace(self, name: str, other: Any, fast: Any, graph: Any) -> Tensor:
        """``self <op>= other`` in ``self``'s own memory, as PyTorch does.

        ``fast(data, other, out=, casting=)`` is the NumPy call used when no graph is
        recorded (under ``no_grad()``, or when nothing involved requires grad);
        ``graph(old, other)`` is the same update as ops, used inside a graph: the result is
        written into this tensor's memory, and the tensor takes the new node's place in the
        graph while its earlier consumers keep the old value's (PyTorch's rebase_history).
        A leaf that requires grad (or a view of one) is refused while grad mode is on."""
        if _current_mode().enabled and (
            self.requires_grad
            or (isinstance(other, Tensor) and other.requires_grad)
            or (self._flags & VIEW and self._view is not None and _view_root(self)[0].requires_grad)
        ):
            return _inplace_graph(self, name, other, graph)
        o = other.numpy() if isinstance(other, Tensor) else other
        data = self.numpy()
        if not data.flags.writeable:
            raise _read_only_error(name, data)
        try:
            fast(data, o, out=data, casting="same_kind")
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
        mark_modified((self,))
        return self

    def _bump_version(self) -> None:
        mark_modified((self,))

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace("+=", other, xp.add, ops.add)

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace("-=", other, xp.subtract, ops.sub)

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace("*=", other, xp.multiply, ops.mul)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace("/=", other, xp.true_divide, ops.div)

    def add_(self, other: Any, alpha: float = 1.0) -> Tensor:
        """``self += alpha * other`` in place."""
        return self._inplace("add_", _scaled(other, alpha), xp.add, ops.add)

    def sub_(self, other: Any, alpha: float = 1.0) -> Tensor:
        """``self -= alpha * other`` in place."""
        return self._inplace("sub_", _scaled(other, alpha), xp.subtract, ops.sub)

    def mul_(self, other: Any) -> Tensor:
        return self._inplace("mul_", other, xp.multiply, ops.mul)

    def div_(self, other: Any) -> Tensor:
        return self._inplace("div_", other, xp.true_divide, ops.div)

    def zero_(self) -> Tensor:
        """Fill with zeros in place (inside a graph: the gradient to the old value is 0)."""
        return self._inplace("zero_", xp.zeros((), self.data.dtype), _assign, _replace)

    def fill_(self, value: Any) -> Tensor:
        """Fill with ``value`` in place; a number is converted to this tensor's dtype first,
        as PyTorch does (``fill_(0.5)`` of a bool tensor is True, of an int64 one 0)."""
        if isinstance(value, (builtins.bool, int, float, np.number, np.bool_)):
            value = xp.asarray(value).astype(self.data.dtype)
        return self._inplace("fill_", value, _assign, _replace)

    def copy_(self, src: Any) -> Tensor:
        """Copy ``src``'s values into this tensor (broadcast to its shape) in place;
        differentiable with respect to ``src``, as PyTorch's."""
        return self._inplace("copy_", src, _assign, _replace)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        if min is None and max is None:
            raise ValueError("clamp_: at least one of min and max must be given")

        def fast(data: Any, _: Any, out: Any, casting: str) -> None:
            if min is not None:
                xp.maximum(data, min, out=out, casting=casting)
            if max is not None:
                xp.minimum(data, max, out=out, casting=casting)

        return self._inplace("clamp_", None, fast, lambda a, _: ops.clamp(a, min, max))

    def __setitem__(self, index: Any, value: Any) -> None:
        """``t[index] = value`` in place, as PyTorch: differentiable with respect to
        ``value`` and to the rest of ``t``; a view of ``t`` sees the change."""
        key = ops.index_key(index)
        data = self.numpy()
        try:
            region = data[key]
        except IndexError as exc:
            raise IndexError(
                f"setitem: {exc} (tensor shape {data.shape}, index {index!r})"
            ) from None
        v = value.numpy() if isinstance(value, Tensor) else value
        vshape = tuple(getattr(v, "shape", np.shape(v)))
        try:
            np.broadcast_shapes(vshape, np.shape(region))
            lead = len(vshape) - np.ndim(region)  # leading axes of the value: size 1 only
            if lead > 0 and any(n != 1 for n in vshape[:lead]):
                raise ValueError
        except ValueError:
            raise RuntimeError(
                f"setitem: shape mismatch: value tensor of shape {list(vshape)} cannot be "
                f"broadcast to indexing result of shape {list(np.shape(region))} (tensor "
                f"shape {data.shape}, index {index!r})"
            ) from None
        vd = np.asarray(v).dtype if not isinstance(v, (int, float, bool)) else None
        if vd is not None and vd.kind not in "fiub":
            raise TypeError(f"setitem: expected numbers, got a value of dtype {vd}")
        if vd is not None and not np.can_cast(vd, data.dtype, "same_kind"):
            raise TypeError(
                f"setitem: a value of dtype {vd} cannot be stored in a tensor of dtype "
                f"{data.dtype} (cast it first: value.astype(...))"
            )
        self._inplace("setitem", value, _setter(key), _putter(key))

    @property
    def version(self) -> int:
        """How many times this tensor's memory was changed in place (PyTorch's
        ``_version``); views of one memory share it."""
        t = self._base if self._flags & VIEW else self
        flags = t._flags
        v = t._version if flags & autograd.MODIFIED else 0
        if flags & autograd.STEPPED:  # and one per step of each optimizer holding it
            v += sum(record[1] for record in t._steppers)
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

    def max(self, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
            keepdims: Any = None) -> Any:  # fmt: skip
        """PyTorch's ``max``: with no argument the maximum (a Tensor); ``max(dim)`` or
        ``max(dim=...)`` a named tuple ``(values, indices)`` whose values' gradient goes to
        the index picked; ``max(other_tensor)`` the elementwise maximum.  NumPy's
        ``axis=`` (an int or a tuple) gives the maxima only, with the gradient split
        evenly between ties (as :meth:`amax`)."""
        return _max_min(self, "max", dim, keepdim, axis, keepdims)

    def min(self, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
            keepdims: Any = None) -> Any:  # fmt: skip
        """PyTorch's ``min``: as :meth:`max`, for the minimum."""
        return _max_min(self, "min", dim, keepdim, axis, keepdims)

    def amax(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: Any = None) -> Tensor:  # fmt: skip
        """The maxima over ``axis`` (or ``dim``, an int or a tuple); ties share the
        gradient evenly (``torch.amax``: over every axis too, as a mask times g, NaN
        everywhere where the maximum is NaN, unlike ``max()``)."""
        a, k = ops_axes("amax", axis, keepdims, dim, keepdim)
        return ops.max(self, tuple(range(self.ndim)) if a is None else a, k)

    def amin(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: Any = None) -> Tensor:  # fmt: skip
        """The minima over ``axis`` (or ``dim``); ties share the gradient (``torch.amin``)."""
        a, k = ops_axes("amin", axis, keepdims, dim, keepdim)
        return ops.min(self, tuple(range(self.ndim)) if a is None else a, k)

    def prod(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: Any = None) -> Tensor:  # fmt: skip
        return ops.prod(self, *ops_axes("prod", axis, keepdims, dim, keepdim))

    def logsumexp(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
                  keepdim: Any = None) -> Tensor:  # fmt: skip
        return ops.logsumexp(self, *ops_axes("logsumexp", axis, keepdims, dim, keepdim))

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int | None = None, *,
            dim: Any = None, keepdim: Any = None, unbiased: Any = None,
            correction: Any = None) -> Tensor:  # fmt: skip
        """Variance.  Spelt as NumPy (``axis=``, ``keepdims=``, positionally, or with no
        arguments) NumPy's ``ddof=0`` default; spelt as PyTorch (``dim=`` or ``keepdim=``)
        PyTorch's default, unbiased (``correction=1``).  ``ddof=``, ``unbiased=`` or
        ``correction=`` say it either way."""
        a, k = ops_axes("var", axis, keepdims, dim, keepdim)
        ddof = _var_ddof(ddof, dim, keepdim)
        return ops.var(self, a, k, ddof, unbiased=unbiased, correction=correction)

    def std(self, axis: Any = None, keepdims: bool = False, ddof: int | None = None, *,
            dim: Any = None, keepdim: Any = None, unbiased: Any = None,
            correction: Any = None) -> Tensor:  # fmt: skip
        """Standard deviation, with :meth:`var`'s arguments (and defaults)."""
        a, k = ops_axes("std", axis, keepdims, dim, keepdim)
        ddof = _var_ddof(ddof, dim, keepdim)
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
        """A view with a new shape, sharing memory, as PyTorch's: refused where the memory
        layout needs a copy (use :meth:`reshape`, which copies then)."""
        t = ops.reshape(self, *shape)
        if not t._flags & VIEW and t.data.size:  # (an empty tensor views as any shape)
            raise RuntimeError(
                f"view: view size is not compatible with input tensor's size and stride "
                f"(shape {self.shape} to {t.shape}: at least one dimension spans across two "
                f"contiguous subspaces). Use .reshape(...) instead."
            )
        return t

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
        if isinstance(min, (Tensor, np.ndarray)) or isinstance(max, (Tensor, np.ndarray)):
            return ops.composed.clamp_tensors(self, min, max)  # tensor bounds
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

    def half(self) -> Tensor:
        """As float16, differentiable."""
        return self if self.data.dtype == np.float16 else ops.cast(self, np.float16)

    def long(self) -> Tensor:
        """As int64 (PyTorch's ``long``; not differentiable, as in PyTorch)."""
        return self._as_int(np.int64, "long")

    def int(self) -> Tensor:
        """As int32 (PyTorch's ``int``; not differentiable)."""
        return self._as_int(np.int32, "int")

    def bool(self) -> Tensor:
        """As bool (nonzero is True; not differentiable)."""
        return self._as_int(np.bool_, "bool")

    def _as_int(self, dtype: Any, name: str) -> Tensor:
        if self.data.dtype == dtype:
            return self
        with np.errstate(invalid="ignore"):  # NaN and inf as PyTorch leaves them: unspecified
            return leaf(self.numpy().astype(dtype))

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(dtype)``, ``to("cpu")``, ``to(other_tensor)``, ``to(device, dtype)`` or
        ``to(dtype=...)``: a cast where the dtype changes (differentiable to floats, as
        in PyTorch), else the tensor itself.  Only the CPU exists here: another device is
        refused by name."""
        dtype = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        kwargs.pop("copy", None)
        if kwargs:
            raise TypeError(f"to: unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.data.dtype
            elif isinstance(a, str) or type(a).__name__ == "device":
                device = a
            elif a is not None:
                dtype = a
        if device is not None and str(device).split(":")[0] != "cpu":
            raise RuntimeError(
                f"to: tinygrad_bp runs on NumPy on the CPU only; there is no device "
                f"{str(device)!r} (drop .to({str(device)!r}), or use 'cpu')"
            )
        if dtype is None:
            return self
        try:
            d = np.dtype(dtype)
        except TypeError:
            raise TypeError(
                f"to: expected a NumPy dtype (np.float32, np.int64, 'float64', ...), got {dtype!r}"
            ) from None
        if d == self.data.dtype:
            return self
        if d.kind == "f":
            return ops.cast(self, d)
        if d.kind not in "iub":
            raise TypeError(f"to: dtype must be a float, int or bool dtype, got {d}")
        return self._as_int(d, "to")

    def t(self) -> Tensor:
        """PyTorch's ``t()``: the transpose of a matrix (a vector or 0-d tensor as it is)."""
        if self.data.ndim > 2:
            raise ValueError(
                f"t: expects a tensor with <= 2 dims, got shape {self.data.shape}; use "
                f"swapaxes(a, b) or permute(...) for more dims"
            )
        return ops.transpose(self) if self.data.ndim == 2 else self

    def dim(self) -> builtins.int:
        """The number of dimensions (PyTorch's ``dim()``; NumPy's ``ndim``)."""
        return self.data.ndim

    nelement = numel

    def is_floating_point(self) -> builtins.bool:
        return self.data.dtype.kind == "f"

    def element_size(self) -> builtins.int:
        return self.data.dtype.itemsize

    def cpu(self) -> Tensor:
        """The tensor itself: everything is on the CPU."""
        return self

    def contiguous(self) -> Tensor:
        """The tensor itself (NumPy handles any memory layout), as PyTorch returns a
        contiguous tensor of the same values."""
        return self

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.data.dtype)

    def new_zeros(self, *size: Any, dtype: Any = None) -> Tensor:
        return _new_filled(self, size, 0, dtype)

    def new_ones(self, *size: Any, dtype: Any = None) -> Tensor:
        return _new_filled(self, size, 1, dtype)

    def new_full(self, size: Any, fill_value: Any, dtype: Any = None) -> Tensor:
        return _new_filled(self, (size,), fill_value, dtype)

    def new_tensor(self, data: Any, dtype: Any = None) -> Tensor:
        return Tensor(data, dtype=self.data.dtype if dtype is None else dtype)

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        """``value`` where ``mask`` is True, else this tensor (differentiable, as
        PyTorch's)."""
        m = mask.numpy() if isinstance(mask, Tensor) else xp.asarray(mask)
        if m.dtype != bool:
            raise TypeError(f"masked_fill: mask must be boolean, got dtype {m.dtype}")
        v = value if isinstance(value, Tensor) else xp.asarray(value, dtype=self.data.dtype)
        return ops.where(m, v, self)

    def chunk(self, chunks: builtins.int, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        """``chunks`` pieces along ``dim`` (the last may be smaller), as ``torch.chunk``."""
        if not isinstance(chunks, (builtins.int, np.integer)) or chunks <= 0:
            raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
        n = self.shape[dim] if self.ndim else 1
        return ops.split(self, max(-(-n // builtins.int(chunks)), 1), dim)

    # PyTorch's method spellings of the operators
    def add(self, other: Any, *, alpha: Any = 1) -> Tensor:
        return ops.add(self, other if alpha == 1 else ops.mul(other, alpha))

    def sub(self, other: Any, *, alpha: Any = 1) -> Tensor:
        return ops.sub(self, other if alpha == 1 else ops.mul(other, alpha))

    def mul(self, other: Any) -> Tensor:
        return ops.mul(self, other)

    def div(self, other: Any) -> Tensor:
        return ops.div(self, other)

    def pow(self, exponent: Any) -> Tensor:
        return ops.pow(self, exponent)

    def neg(self) -> Tensor:
        return ops.neg(self)

    def matmul(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    mm = bmm = matmul

    def maximum(self, other: Any) -> Tensor:
        return ops.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return ops.minimum(self, other)

    def eq(self, other: Any) -> Tensor:
        return self == other

    def ne(self, other: Any) -> Tensor:
        return self != other

    def lt(self, other: Any) -> Tensor:
        return self < other

    def le(self, other: Any) -> Tensor:
        return self <= other

    def gt(self, other: Any) -> Tensor:
        return self > other

    def ge(self, other: Any) -> Tensor:
        return self >= other

    def any(self, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
        """Whether any element is nonzero (along ``dim``): a boolean tensor."""
        return leaf(xp.asarray(self.numpy().any(axis=dim, keepdims=keepdim)))

    def all(self, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
        """Whether every element is nonzero (along ``dim``): a boolean tensor."""
        return leaf(xp.asarray(self.numpy().all(axis=dim, keepdims=keepdim)))

    # ------------------------------------------------------------------ more PyTorch ops
    # (defined in ops.sorting and ops.composed, compositions of the primitives)
    def sort(self, dim: builtins.int = -1, descending: builtins.bool = False,
             stable: builtins.bool = False) -> Any:  # fmt: skip
        """``torch.sort``: ``(values, indices)`` along ``dim`` (see :func:`ops.sort`)."""
        return ops.sort(self, dim, descending, stable)

    def argsort(self, dim: builtins.int = -1, descending: builtins.bool = False,
                stable: builtins.bool = False) -> Tensor:  # fmt: skip
        """``torch.argsort``: the sorting indices along ``dim``, an int64 tensor."""
        return ops.argsort(self, dim, descending, stable)

    def topk(self, k: builtins.int, dim: builtins.int = -1, largest: builtins.bool = True,
             sorted: builtins.bool = True) -> Any:  # noqa: A002  # fmt: skip
        """``torch.topk``: the ``k`` largest (smallest) entries along ``dim`` as
        ``(values, indices)`` (see :func:`ops.topk` for ties)."""
        return ops.topk(self, k, dim, largest, sorted)

    def index_select(self, dim: builtins.int, index: Any) -> Tensor:
        return ops.composed.index_select(self, dim, index)

    def index_add(self, dim: builtins.int, index: Any, source: Any, *, alpha: Any = 1) -> Tensor:
        return ops.composed.index_add(self, dim, index, source, alpha)

    def index_fill(self, dim: builtins.int, index: Any, value: Any) -> Tensor:
        return ops.composed.index_fill(self, dim, index, value)

    def masked_select(self, mask: Any) -> Tensor:
        return ops.composed.masked_select(self, mask)

    def take(self, index: Any) -> Tensor:
        return ops.composed.take(self, index)

    def scatter(self, dim: builtins.int, index: Any, src: Any = None, *, value: Any = None,
                reduce: Any = None) -> Tensor:  # fmt: skip
        """``torch.scatter``: ``src`` (a tensor or a number) written at ``index``."""
        return ops.composed.scatter(self, dim, index, src, value=value, reduce=reduce)

    def scatter_add(self, dim: builtins.int, index: Any, src: Tensor) -> Tensor:
        return ops.composed.scatter_add(self, dim, index, src)

    def unbind(self, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        return ops.composed.unbind(self, dim)

    def diagonal(self, offset: builtins.int = 0, dim1: builtins.int = 0,
                 dim2: builtins.int = 1) -> Tensor:  # fmt: skip
        return ops.composed.diagonal(self, offset, dim1, dim2)

    def diag(self, diagonal: builtins.int = 0) -> Tensor:
        return ops.composed.diag(self, diagonal)

    def trace(self) -> Tensor:
        return ops.composed.trace(self)

    def nonzero(self, *, as_tuple: builtins.bool = False) -> Any:
        return ops.composed.nonzero(self, as_tuple)

    def repeat(self, *sizes: Any) -> Tensor:
        """``Tensor.repeat`` (PyTorch's: tile the whole tensor; NumPy's ``repeat`` is
        :meth:`repeat_interleave`)."""
        return ops.composed.repeat(self, *sizes)

    def tile(self, *dims: Any) -> Tensor:
        return ops.composed.tile(self, *dims)

    def repeat_interleave(self, repeats: Any, dim: Any = None, *,
                          output_size: Any = None) -> Tensor:  # fmt: skip
        return ops.composed.repeat_interleave(self, repeats, dim, output_size=output_size)

    def roll(self, shifts: Any, dims: Any = None) -> Tensor:
        return ops.composed.roll(self, shifts, dims)

    def movedim(self, source: Any, destination: Any) -> Tensor:
        return ops.composed.movedim(self, source, destination)

    moveaxis = movedim

    def tril(self, diagonal: builtins.int = 0) -> Tensor:
        return ops.composed.tril(self, diagonal)

    def triu(self, diagonal: builtins.int = 0) -> Tensor:
        return ops.composed.triu(self, diagonal)

    def cumprod(self, dim: Any = None, *, axis: Any = None) -> Tensor:
        a, _ = ops_axes("cumprod", axis, False, dim, None)
        if a is None:
            raise TypeError("cumprod: dim is required")
        return ops.composed.cumprod(self, a)

    def outer(self, other: Any) -> Tensor:
        return ops.composed.outer(self, other)

    ger = outer

    def dot(self, other: Tensor) -> Tensor:
        return ops.composed.dot(self, other)

    def mv(self, vec: Tensor) -> Tensor:
        return ops.composed.mv(self, vec)

    def addmm(self, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
        return ops.composed.addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def baddbmm(self, batch1: Tensor, batch2: Tensor, *, beta: Any = 1,
                alpha: Any = 1) -> Tensor:  # fmt: skip
        return ops.composed.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def lerp(self, end: Any, weight: Any) -> Tensor:
        return ops.composed.lerp(self, end, weight)

    def scatter_(self, dim: builtins.int, index: Any, src: Any = None, *, value: Any = None,
                 reduce: Any = None) -> Tensor:  # fmt: skip
        """:meth:`scatter` in place."""

        def op(t: Tensor, _: Any = None) -> Tensor:
            return ops.composed.scatter(t, dim, index, src, value=value, reduce=reduce)

        return self._inplace("scatter_", src, _in_place_via(op), op)

    def scatter_add_(self, dim: builtins.int, index: Any, src: Tensor) -> Tensor:
        """:meth:`scatter_add` in place."""

        def op(t: Tensor, _: Any = None) -> Tensor:
            return ops.composed.scatter_add(t, dim, index, src)

        return self._inplace("scatter_add_", src, _in_place_via(op), op)

    def index_add_(self, dim: builtins.int, index: Any, source: Any, *,
                   alpha: Any = 1) -> Tensor:  # fmt: skip
        """:meth:`index_add` in place."""

        def op(t: Tensor, _: Any = None) -> Tensor:
            return ops.composed.index_add(t, dim, index, source, alpha)

        return self._inplace("index_add_", source, _in_place_via(op), op)

    def index_fill_(self, dim: builtins.int, index: Any, value: Any) -> Tensor:
        """:meth:`index_fill` in place."""

        def op(t: Tensor, _: Any = None) -> Tensor:
            return ops.composed.index_fill(t, dim, index, value)

        return self._inplace("index_fill_", value, _in_place_via(op), op)

    def clamp_min_(self, min: Any) -> Tensor:  # noqa: A002
        return self.clamp_(min=min)

    def clamp_max_(self, max: Any) -> Tensor:  # noqa: A002
        return self.clamp_(max=max)

    def select(self, dim: builtins.int, index: builtins.int) -> Tensor:
        """``torch.select``: the slice at ``index`` along ``dim`` (a view)."""
        ax = ops._common.one_axis(dim, self.data.ndim, "select")
        n = self.data.shape[ax]
        if not -n <= index < n:
            raise IndexError(f"select: index {index} is out of range for dim {dim} of size {n}")
        return ops.getitem(self, (slice(None),) * ax + (index,))

    def narrow(self, dim: builtins.int, start: builtins.int, length: builtins.int) -> Tensor:
        """``torch.narrow``: ``length`` entries from ``start`` along ``dim`` (a view)."""
        ax = ops._common.one_axis(dim, self.data.ndim, "narrow")
        n = self.data.shape[ax]
        start = start + n if start < 0 else start
        if not (0 <= start <= n and 0 <= length and start + length <= n):
            raise IndexError(
                f"narrow: start {start} and length {length} exceed dim {dim} of size {n}"
            )
        return ops.getitem(self, (slice(None),) * ax + (slice(start, start + length),))

    def ndimension(self) -> builtins.int:
        return self.data.ndim

    def sgn(self) -> Tensor:
        """The sign (real tensors: :meth:`sign`)."""
        return ops.sign(self)

    @property
    def mH(self) -> Tensor:  # noqa: N802  (PyTorch's name)
        """The conjugate transpose of the last two axes: for real tensors :attr:`mT`."""
        return self.mT

    @property
    def H(self) -> Tensor:  # noqa: N802  (PyTorch's name)
        """The conjugate transpose of a matrix: for real tensors ``t()``."""
        if self.data.ndim not in (0, 2):
            raise ValueError(f"H: expects a 0-d or 2-d tensor, got shape {self.data.shape}")
        return self.t()

    def _unary_(self, name: str, fn: Any, op: Any) -> Tensor:
        def fast(data: Any, _: Any, out: Any, casting: Any) -> None:
            fn(data, out=out, casting=casting)

        return self._inplace(name, None, fast, lambda a, _: op(a))

    def exp_(self) -> Tensor:
        return self._unary_("exp_", xp.exp, ops.exp)

    def log_(self) -> Tensor:
        return self._unary_("log_", xp.log, ops.log)

    def sqrt_(self) -> Tensor:
        return self._unary_("sqrt_", xp.sqrt, ops.sqrt)

    def abs_(self) -> Tensor:
        return self._unary_("abs_", xp.abs, ops.abs)

    def neg_(self) -> Tensor:
        return self._unary_("neg_", xp.negative, ops.neg)

    def tanh_(self) -> Tensor:
        return self._unary_("tanh_", xp.tanh, ops.tanh)

    def sigmoid_(self) -> Tensor:
        def fast(data: Any, _: Any, out: Any, casting: Any) -> None:
            xp.copyto(out, ops.sigmoid(leaf(data.copy())).data, casting=casting)

        return self._inplace("sigmoid_", None, fast, lambda a, _: ops.sigmoid(a))

    def relu_(self) -> Tensor:
        def fast(data: Any, _: Any, out: Any, casting: Any) -> None:
            xp.maximum(data, 0, out=out, casting=casting)

        return self._inplace("relu_", None, fast, lambda a, _: ops.relu(a))

    def pow_(self, exponent: Any) -> Tensor:
        return self._inplace("pow_", exponent, xp.power, ops.pow)

    def fill_diagonal_(self, fill_value: Any, wrap: builtins.bool = False) -> Tensor:
        """Fill the main diagonal (in place), as ``torch.Tensor.fill_diagonal_``."""
        if self.data.ndim < 2 or (self.data.ndim > 2 and len(set(self.data.shape)) != 1):
            raise ValueError(
                f"fill_diagonal_: needs a matrix or a tensor with all dims equal, got shape "
                f"{self.data.shape}"
            )
        mask = xp.zeros(self.data.shape, dtype=bool)
        if self.data.ndim == 2:
            xp.fill_diagonal(mask, True, wrap=wrap)
        else:
            mask[(xp.arange(self.data.shape[0]),) * self.data.ndim] = True
        return self.masked_fill_(mask, fill_value)

    def clamp_min(self, min: Any) -> Tensor:  # noqa: A002
        return self.clamp(min=min)

    def clamp_max(self, max: Any) -> Tensor:  # noqa: A002
        return self.clamp(max=max)

    def where(self, condition: Any, other: Any) -> Tensor:
        """``torch.Tensor.where``: this tensor where ``condition``, else ``other``."""
        return ops.where(condition, self, other)

    def masked_fill_(self, mask: Any, value: Any) -> Tensor:
        """:meth:`masked_fill` in place."""
        m = mask.numpy() if isinstance(mask, Tensor) else xp.asarray(mask)
        if m.dtype != bool:
            raise TypeError(f"masked_fill_: mask must be boolean, got dtype {m.dtype}")

        def fast(data: Any, v: Any, out: Any, casting: Any) -> None:
            xp.copyto(out, v, casting=casting, where=m)

        return self._inplace("masked_fill_", value, fast, lambda a, v: a.masked_fill(m, v))

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: builtins.bool = False,
             dtype: Any = None) -> Tensor:  # fmt: skip
        """``torch.norm``: the vector ``p``-norm over ``dim`` (all entries by default);
        see :func:`tinygrad_bp.linalg.vector_norm`."""
        return ops.composed.norm(self, p, dim, keepdim, dtype)

    @property
    def mT(self) -> Tensor:  # noqa: N802  (PyTorch's name)
        """The last two axes swapped (a batch of matrices transposed)."""
        if self.data.ndim < 2:
            raise ValueError(f"mT: needs at least 2 dims, got shape {self.data.shape}")
        return self.swapaxes(-2, -1)

    def view_as(self, other: Tensor) -> Tensor:
        return self.view(other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    @property
    def device(self) -> device:
        """``tg.device("cpu")``: every tensor lives on the CPU (NumPy)."""
        return _CPU

    def is_contiguous(self) -> builtins.bool:
        """Whether the array is laid out in row-major (C) order without gaps."""
        return builtins.bool(self.data.flags.c_contiguous)

    def type(self, dtype: Any = None) -> Any:
        """``type()``: the PyTorch-style type name (``'tinygrad_bp.FloatTensor'``);
        ``type(dtype)``: :meth:`to` that dtype."""
        if dtype is None:
            name = _TYPE_NAMES.get(self.data.dtype.name, self.data.dtype.name)
            return f"tinygrad_bp.{name}"
        if isinstance(dtype, str):
            want = dtype.rsplit(".", 1)[-1]
            by_name = {v: k for k, v in _TYPE_NAMES.items()}
            if want not in by_name:
                raise TypeError(f"type: unknown type name {dtype!r}; pass a dtype")
            dtype = by_name[want]
        return self.to(dtype)

    def rsqrt(self) -> Tensor:
        return ops.pow(self, -0.5) if self.data.dtype.kind == "f" else ops.pow(self.double(), -0.5)

    def reciprocal(self) -> Tensor:
        return ops.div(1.0, self)

    def log2(self) -> Tensor:
        return ops.mul(ops.log(self), 1.0 / np.log(2.0))

    def log10(self) -> Tensor:
        return ops.mul(ops.log(self), 1.0 / np.log(10.0))

    def exp2(self) -> Tensor:
        return ops.pow(2.0, self)

    def erf(self) -> Tensor:
        return ops.erf(self)

    def round(self, decimals: builtins.int = 0) -> Tensor:
        return ops.composed.round(self, decimals)

    def trunc(self) -> Tensor:
        return ops.composed.trunc(self)

    def frac(self) -> Tensor:
        return ops.composed.frac(self)

    def nan_to_num(self, nan: builtins.float = 0.0, posinf: Any = None,
                   neginf: Any = None) -> Tensor:  # fmt: skip
        return ops.composed.nan_to_num(self, nan, posinf, neginf)

    def new_empty(self, *size: Any, dtype: Any = None) -> Tensor:
        """PyTorch's ``new_empty``: here zeros (never uninitialised memory)."""
        return _new_filled(self, size, 0, dtype)

    def isnan(self) -> Tensor:
        return leaf(xp.isnan(self.data))

    def isinf(self) -> Tensor:
        return leaf(xp.isinf(self.data))

    def isfinite(self) -> Tensor:
        return leaf(xp.isfinite(self.data))

    def allclose(self, other: Any, rtol: builtins.float = 1e-05, atol: builtins.float = 1e-08,
                 equal_nan: builtins.bool = False) -> builtins.bool:  # fmt: skip
        o = other.data if isinstance(other, Tensor) else other
        return builtins.bool(xp.allclose(self.data, o, rtol=rtol, atol=atol, equal_nan=equal_nan))

    def equal(self, other: Any) -> builtins.bool:
        """Same shape and the same values (``torch.equal``)."""
        o = other.data if isinstance(other, Tensor) else xp.asarray(other)
        return builtins.bool(self.data.shape == o.shape and xp.array_equal(self.data, o))


def _new_filled(t: Tensor, size: Any, value: Any, dtype: Any) -> Tensor:
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
    d = t.data.dtype if dtype is None else np.dtype(dtype)
    return Tensor(np.full(shape, value, dtype=d), dtype=d)


class _Size(int):
    """A tensor's element count (NumPy's ``x.size``) that can also be called as PyTorch's
    ``x.size(dim=None)``: the shape, or one axis's length."""

    shape: tuple[int, ...]

    def __new__(cls, n: int, shape: tuple[int, ...]) -> _Size:
        obj = super().__new__(cls, n)
        obj.shape = shape
        return obj

    def __call__(self, dim: Any = None) -> Any:
        if dim is None:
            return self.shape
        nd = len(self.shape)
        if (
            not isinstance(dim, (int, np.integer))
            or isinstance(dim, bool)
            or not (-max(nd, 1) <= dim < max(nd, 1))
        ):
            raise IndexError(f"size: dim {dim!r} is out of range for a tensor with {nd} dims")
        if nd == 0:
            raise IndexError("size: a 0-d tensor has no dims (as in PyTorch)")
        return self.shape[dim]


_TYPE_NAMES = {
    "float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
    "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor",
    "uint8": "ByteTensor", "bool": "BoolTensor",
}  # fmt: skip

_NOT_BUILT = {
    "cuda": "everything runs on NumPy on the CPU; drop .cuda()",
    "is_cuda": "everything runs on NumPy on the CPU",
    "data_ptr": "use t.numpy().ctypes.data",
    "storage": "use t.numpy() (the NumPy array behind the tensor)",
    "softmax_": "use t.softmax(dim)",
    "apply_": "compute with Tensor ops, or on t.numpy() under tg.no_grad()",
    "pin_memory": "there is no device to pin memory for; drop it",
    "share_memory_": "not needed: drop it",
    "to_sparse": "sparse tensors are not supported",
    # elementwise functions without a primitive here (yet)
    "expm1": "use t.exp() - 1 (it loses digits for |t| < 1e-8)",
    "sinh": "use (t.exp() - (-t).exp()) / 2",
    "cosh": "use (t.exp() + (-t).exp()) / 2",
    "asin": "it has no primitive here; compute it on t.numpy() outside the graph",
    "acos": "it has no primitive here; compute it on t.numpy() outside the graph",
    "atan": "it has no primitive here; compute it on t.numpy() outside the graph",
    "arctan": "it has no primitive here; compute it on t.numpy() outside the graph",
    "atan2": "it has no primitive here; compute it on t.numpy() outside the graph",
    "logit": "use (t / (1 - t)).log()",
    "xlogy": "use tg.where(x == 0, 0.0, x * y.log())",
    "logcumsumexp": "use t.exp().cumsum(dim).log() (stable only for moderate t)",
    "cummax": "it has no op here: take the values from np.maximum.accumulate(t.numpy(), dim)",
    "cummin": "it has no op here: take the values from np.minimum.accumulate(t.numpy(), dim)",
    "kthvalue": "use t.sort(dim=d).values.index_select(d, tg.tensor([k - 1]))",
    "median": "use t.sort(dim=d).values.index_select(d, tg.tensor([(n - 1) // 2])) (PyTorch's "
    "median is the lower one)",
    "unique": "use np.unique(t.numpy()) (not differentiable in PyTorch either)",
    "bincount": "use np.bincount(t.numpy())",
    "histc": "use np.histogram(t.numpy(), bins)",
}


class device(str):  # noqa: N801  (PyTorch's name)
    """``torch.device``: a device name (a string, so ``x.to(device)`` and
    ``model.to(device)`` take it), with ``.type`` and ``.index``.  Only ``"cpu"`` runs;
    ``tg.device("cuda")`` can be made, and ``.to`` it says that there is no GPU.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> dev = tg.device("cuda" if tg.cuda.is_available() else "cpu")
    >>> dev, dev.type, tg.ones(2).to(dev).shape
    (device(type='cpu'), 'cpu', (2,))
    """

    type: str
    # PyTorch's attribute, in place of str's index method
    index: int | None  # type: ignore[assignment]

    def __new__(cls, kind: Any, index: int | None = None) -> device:
        text = str(kind)
        if index is not None:
            text = f"{text}:{int(index)}"
        obj = super().__new__(cls, text)
        name, _, idx = text.partition(":")
        if not name.isidentifier() or (idx and not idx.isdigit()):
            raise ValueError(f"device: expected a name such as 'cpu' or 'cuda:0', got {kind!r}")
        obj.type = name
        obj.index = int(idx) if idx else None
        return obj

    def __repr__(self) -> str:
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{idx})"


_CPU = device("cpu")


def _not_built(name: str, hint: str) -> property:
    def get(self: Tensor) -> Any:
        raise AttributeError(
            f"Tensor.{name} (a PyTorch habit) is not supported in tinygrad_bp: {hint}"
        )

    return property(get, doc=f"Not built (a PyTorch habit): {hint}.")


# A PyTorch habit that is not built gets an error naming what to write instead (as a
# property that raises AttributeError, so hasattr() stays False; not a __getattr__
# fallback, which would slow every attribute lookup of every Tensor)
for _name, _hint in _NOT_BUILT.items():
    if not hasattr(Tensor, _name):
        setattr(Tensor, _name, _not_built(_name, _hint))
del _name, _hint


def mark_modified(tensors: Any) -> None:
    """Record that ``tensors`` were changed in place just now (an in-place operator, an
    optimizer step), so that a graph which saved one of them before refuses to use it."""
    seq = next(_counter)
    autograd._last_inplace[0] = seq
    modified = autograd.MODIFIED
    for t in tensors:
        if t._flags & VIEW:  # views of one memory share its version counter
            t = t._base
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
        if t._flags & VIEW:
            t = t._base
        flags = t._flags
        t._steppers = (t._steppers if flags & stepped else ()) + (record,)
        t._flags = flags | stepped


def bump_steps(record: list[int]) -> None:
    """An optimizer's step just changed all the tensors ``record`` tracks, in place."""
    seq = next(_counter)
    record[0] = seq
    record[1] += 1
    autograd._last_inplace[0] = seq


def _in_place_via(op: Any) -> Any:
    """A fast path for an in-place method: ``op`` computed on the array (no graph is
    recorded here), its result written back (for scatter_, index_add_, ...)."""

    def fast(data: Any, _: Any, out: Any, casting: Any) -> None:
        xp.copyto(out, op(leaf(data.copy())).data, casting=casting)

    return fast


def _var_ddof(ddof: Any, dim: Any, keepdim: Any) -> Any:
    """var/std's default: PyTorch's (1) where spelt as PyTorch, NumPy's (0) otherwise."""
    if ddof is not None:
        return ddof
    return 1 if dim is not None or keepdim is not None else 0


def _assign(data: Any, value: Any, out: Any, casting: Any) -> None:
    """``out[...] = value`` with a ufunc's signature (for fill_, zero_, copy_)."""
    xp.copyto(out, value, casting=casting)


class ValuesIndices(tuple):
    """What ``max(dim)`` and ``min(dim)`` return, as PyTorch's ``torch.return_types``: a
    pair ``(values, indices)`` with those attribute names."""

    __slots__ = ()

    def __new__(cls, values: Tensor, indices: Tensor) -> ValuesIndices:
        return super().__new__(cls, (values, indices))

    @property
    def values(self) -> Tensor:
        return self[0]

    @property
    def indices(self) -> Tensor:
        return self[1]

    def __repr__(self) -> str:
        return f"(values={self[0]!r}, indices={self[1]!r})"


def _max_min(x: Tensor, op: str, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> Any:
    if isinstance(dim, Tensor):  # torch.max(a, b): the elementwise maximum
        if keepdim is not None or axis is not None:
            raise TypeError(f"{op}: max(other) takes no dim")
        return (ops.maximum if op == "max" else ops.minimum)(x, dim)
    if axis is not None or dim is None or isinstance(dim, (tuple, list)):
        # NumPy's meaning (axis=, or no dim): the values, the gradient split between ties
        if dim is not None and axis is not None:
            raise TypeError(f"{op}: got both a dim and axis={axis!r}; pass one")
        a = axis if axis is not None else dim
        k = keepdims if keepdims is not None else keepdim
        return (ops.max if op == "max" else ops.min)(x, a, bool(k))
    if keepdims is not None:
        keepdim = keepdims
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    return ops.max_min_dim(x, int(dim), bool(keepdim), op)


def ops_axes(op: str, axis: Any, keepdims: Any, dim: Any, keepdim: Any) -> tuple[Any, bool]:
    from .ops._common import axis_args

    return axis_args(op, axis, keepdims, dim, keepdim)


class GradFn:
    """What :attr:`Tensor.grad_fn` returns: the op that made a tensor."""

    __slots__ = ("_node",)

    def __init__(self, node: Tensor) -> None:
        self._node = node

    def name(self) -> str:
        return str(self._node._op)

    @property
    def next_functions(self) -> tuple[tuple[GradFn | None, int], ...]:
        return tuple(
            (GradFn(p) if p._backward is not None else None, 0)
            for p in autograd.parents_of(self._node)
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GradFn) and other._node is self._node

    def __hash__(self) -> int:
        return id(self._node)

    def __repr__(self) -> str:
        return f"<{self._node._op} backward>"


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


class _Out:
    """The marker for "this node's own output" among the values a node saves."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "OUT"


OUT = _Out()
SAVE_OUT = (OUT,)  # the common ``saved`` of an op whose derivative reads its output alone
_RANGES = ((), (0,), (0, 1), (0, 1, 2))
_OUT_IX = (-1,)
_FIRST_IX = (0,)
_SECOND_IX = (1,)


def _name_saved(
    data: Any, parents: Sequence[Tensor], saved: Sequence[Any], op: str
) -> tuple[tuple[Any, ...], tuple[int, ...]]:
    """The arrays a node saves and where each came from, checked by identity: each named
    value must be one of ``parents`` (the very Tensor) or :data:`OUT`."""
    if len(saved) == 1:  # the common cases first: one value, the output or a parent
        s = saved[0]
        if s is OUT:
            return (data,), _OUT_IX
        if s is parents[0]:
            return (s.data,), _RANGES[1]
        if len(parents) > 1 and s is parents[1]:
            return (s.data,), _SECOND_IX
    arrays = []
    where = []
    for k, s in enumerate(saved):
        if s is OUT:
            arrays.append(data)
            where.append(-1)
            continue
        for i, p in enumerate(parents):
            if p is s:
                arrays.append(p.data)
                where.append(i)
                break
        else:
            what = (
                f"a Tensor of shape {s.data.shape} that is not one of its inputs"
                if isinstance(s, Tensor)
                else f"a {type(s).__name__}"
            )
            raise TypeError(
                f"{op}: saved value {k} is {what}; a node may save only its inputs (the "
                f"very Tensors passed as parents) or OUT, its own output, so that "
                f"create_graph=True can hand the closure the Tensors they came from.  "
                f"Recompute an intermediate inside the backward from the inputs or the "
                f"output, or make it an input; a value that is not differentiated (a mask, "
                f"an index, a shape) is a constant: let the closure read it directly"
            )
    return tuple(arrays), tuple(where)


def make_node(
    data: Any,
    parents: Sequence[Tensor],
    op: str,
    backward: Callable[..., tuple[Any, ...]],
    saved: Sequence[Any] = (),
) -> Tensor:
    """Wrap an op's result.  The node keeps its parents and closure only when some parent
    requires grad and grad mode is on; otherwise it is a plain leaf.

    ``saved`` names the values the closure differentiates: parents (the very Tensors) or
    :data:`OUT` for this result.  The closure is called ``backward(g, *saved_values)``,
    with the arrays in a plain ``backward()`` and with the matching Tensors under
    ``create_graph=True``; anything else it reads is a constant.  A named value that is
    neither a parent nor ``OUT`` is refused here, when the node is made."""
    mode = _current_mode()
    t = _new(Tensor)
    # NumPy turns 0-d results of ufuncs into scalars; .data is always an array.
    t.data = data = data if data.__class__ is ndarray else xp.asarray(data)
    t.grad = None
    t.name = None
    t._op = op
    t._flags = 0
    t._trace = None
    t.scope = _current_scope()
    if mode.enabled:
        if _rebase_seq[0]:  # a view whose base changed in place since its making (and may
            _refresh_views(parents)  # have come to require grad there: x[0] = w)
        for p in parents:
            if p.requires_grad:
                t._seq = next(_counter)
                t.requires_grad = True
                t._parents = tuple(parents)
                t._backward = backward
                # the saved values, by identity (the common cases inline: this is per node)
                if not saved:
                    t._saved = t._saved_ix = ()
                elif saved is SAVE_OUT:
                    t._saved = (data,)
                    t._saved_ix = _OUT_IX
                elif saved is parents:  # every parent, in order (the op passed one tuple)
                    if len(parents) == 2:
                        t._saved = (parents[0].data, parents[1].data)
                        t._saved_ix = _RANGES[2]
                    else:
                        t._saved = tuple([q.data for q in parents])
                        t._saved_ix = tuple(range(len(parents)))
                elif len(saved) == 1 and saved[0] is OUT:
                    t._saved = (data,)
                    t._saved_ix = _OUT_IX
                elif len(saved) == 1 and saved[0] is parents[0]:
                    t._saved = (parents[0].data,)
                    t._saved_ix = _FIRST_IX
                else:
                    t._saved, t._saved_ix = _name_saved(data, parents, saved, op)
                if mode.anomaly:
                    autograd.check_forward(t)
                return t
    t._seq = next(_counter)
    t.requires_grad = False
    t._parents = ()
    t._backward = None
    if mode.anomaly:
        autograd.check_forward(t)
    return t


def _refresh_views(parents: Sequence[Tensor]) -> None:
    last = _rebase_seq[0]
    for p in parents:
        if p._flags & VIEW and p._seq < last:
            _refresh(p)


# ---------------------------------------------------------------------- views, in place
VIEW = autograd.VIEW
REBASED = autograd.REBASED
# the newest sequence number a tensor took on being changed in place inside a graph (0:
# never): views created before it may stand for an older value and are refreshed on use
_rebase_seq = [0]


def as_view(t: Tensor, x: Tensor, fn: Any = None, arg: Any = None) -> Tensor:
    """Record that ``t`` (just made from ``x``) shares ``x``'s memory and its version
    counter.  With ``fn``, ``t`` is a differentiable view: ``fn(x, arg)`` (on an array or
    a Tensor) gives it again, which is how an in-place change of ``t`` reaches ``x``."""
    t._base = x._base if x._flags & VIEW else x
    t._view = (x, fn, arg) if fn is not None else None
    t._flags |= VIEW
    return t


def _storage(t: Tensor) -> Tensor:
    return t._base if t._flags & VIEW else t


def _view_root(t: Tensor) -> tuple[Tensor, list[tuple[Any, Any]]]:
    """The tensor ``t`` is a differentiable view of (not a view itself), and the chain of
    view functions that leads from it to ``t``."""
    chain = []
    a = t
    while a._flags & VIEW and a._view is not None:
        x, fn, arg = a._view
        chain.append((fn, arg))
        a = x
    chain.reverse()
    return a, chain


def _apply_chain(v: Any, chain: list[tuple[Any, Any]]) -> Any:
    for fn, arg in chain:
        v = fn(v, arg)
    return v


def _ghost(t: Tensor) -> Tensor:
    """A new tensor that takes over ``t``'s current place in the graph (its value before an
    in-place change): ``t``'s earlier consumers send their gradients to it."""
    g = _new(Tensor)
    g.data = t.data
    g.grad = None
    g.requires_grad = t.requires_grad
    g.name = t.name
    g._parents = t._parents
    g._backward = t._backward
    if t._backward is not None:
        g._saved = t._saved
        g._saved_ix = t._saved_ix
    g._op = t._op
    g._seq = t._seq
    g._flags = VIEW | (t._flags & autograd.RELEASE_AFTER_USE)
    g._base = _storage(t)
    g._view = None
    g._trace = t._trace
    g.scope = t.scope
    return g


def _take_place(t: Tensor, r: Tensor, ghost: Tensor, op: str) -> None:
    """``t`` becomes node ``r`` in the graph (its value is already in ``t``'s memory);
    ``ghost`` keeps ``t``'s old place for the consumers made before now."""
    t.requires_grad = r.requires_grad
    t._parents = r._parents
    t._backward = r._backward
    if r._backward is not None:
        t._saved = r._saved
        t._saved_ix = r._saved_ix
    t._op = op
    t._seq = seq = next(_counter)
    t.scope = r.scope
    t._ghosts = (t._ghosts if t._flags & REBASED else ()) + ((seq, ghost),)
    t._flags |= REBASED
    _rebase_seq[0] = seq


def _stale(v: Tensor) -> bool:
    """Whether a tensor ``v`` views was changed in place (in a graph) after ``v`` took its
    current place in the graph."""
    seq = v._seq
    a = v
    while a._flags & VIEW and a._view is not None:
        a = a._view[0]
        if a._flags & REBASED and a._ghosts[-1][0] > seq:
            return True
    return False


def _refresh(v: Tensor) -> None:
    """Give a stale view its place again: the view of its base as the base is now."""
    if not v._flags & VIEW or v._view is None or not _stale(v):
        return
    root, chain = _view_root(v)
    if not root.requires_grad:
        return
    ghost = _ghost(v)
    u = _apply_chain(root, chain)
    _take_place(v, u, ghost, u._op)


def _read_only_error(name: str, data: Any) -> RuntimeError:
    return RuntimeError(
        f"{name}: unsupported operation: more than one element of the written-to tensor "
        f"(shape {data.shape}) refers to a single memory location (an expand() or "
        f"broadcast_to() view). Please clone() the tensor before performing the operation."
    )


def _inplace_graph(t: Tensor, name: str, other: Any, graph: Any) -> Tensor:
    """An in-place change recorded in the graph (see :meth:`Tensor._inplace`)."""
    if isinstance(other, Tensor):
        _refresh(other)
    view = bool(t._flags & VIEW) and t._view is not None
    if view:
        _refresh(t)
        root, chain = _view_root(t)
        if root.requires_grad and root._backward is None:
            raise RuntimeError(
                f"{name}: a view of a leaf Variable that requires grad is being used in an "
                f"in-place operation (do it under tg.no_grad(), or on a clone())."
            )
        if root.requires_grad and not t.requires_grad:
            raise RuntimeError(
                f"{name}: A view was created in no_grad mode and is being modified inplace "
                f"with grad mode enabled. Given that this use case is ambiguous and "
                f"error-prone, it is forbidden. You can clarify your code by moving both the "
                f"view and the inplace either both inside the no_grad block (if you don't "
                f"want the inplace to be tracked) or both outside (if you want the inplace "
                f"to be tracked)."
            )
    elif t.requires_grad and t._backward is None:
        raise RuntimeError(
            f"{name}: a leaf Variable that requires grad is being used in an in-place "
            f"operation (do it under tg.no_grad(), as an optimizer step does)."
        )
    data = t.numpy()
    if not data.flags.writeable:
        raise _read_only_error(name, data)
    old = _ghost(t)
    r = graph(old, other)
    rd = r.data
    if rd.shape != data.shape:
        shape = getattr(other, "shape", np.shape(other))
        raise RuntimeError(
            f"{name}: output with shape {list(data.shape)} doesn't match the broadcast shape "
            f"{list(rd.shape)} (an operand of shape {tuple(shape)}; an in-place result keeps "
            f"the tensor's shape)"
        )
    if rd.dtype != data.dtype and not np.can_cast(rd.dtype, data.dtype, "same_kind"):
        raise TypeError(
            f"{name}: result type {rd.dtype} can't be cast to the desired output type {data.dtype}"
        )
    if r._backward is not None and r._saved_ix:
        # what the new node saved of the old value is about to be overwritten: keep a copy
        # (PyTorch's original_self); its output is this tensor's memory
        parents = r._parents
        if any(i >= 0 and parents[i] is old for i in r._saved_ix):
            old.data = data.copy()
            old._flags &= ~VIEW
            if old._backward is not None and -1 in old._saved_ix:
                # the old node saved its output, this memory, about to change: its use
                # is refused as PyTorch's (x.tanh().mul_(w), w requiring grad, was a
                # silently wrong gradient); the new node reads the copy, made before
                mark_modified((old,))
        r._saved = tuple(
            (data if not view else a) if i < 0 else (old.data if parents[i] is old else a)
            for a, i in zip(r._saved, r._saved_ix)
        )
    xp.copyto(data, rd, casting="unsafe")
    mark_modified((t,))
    if not view:
        _take_place(t, r, old, name)
        return t
    # a view: the base becomes "the old base with this region replaced" (PyTorch's
    # CopySlices), and the view the same view of the new base
    old_root = _ghost(root)
    region = xp.zeros(root.data.shape, dtype=bool)
    _apply_chain(region, chain)[...] = True

    def backward(g: Any) -> tuple[Any, Any]:
        keep = ops.where(region, 0.0, g) if isinstance(g, Tensor) else xp.where(region, 0.0, g)
        return keep, _apply_chain(g, chain)

    node = make_node(root.data, (old_root, r), "copy_slices", backward)
    _take_place(root, node, old_root, "copy_slices")
    u = _apply_chain(root, chain)
    _take_place(t, u, old, name)
    return t


def _scaled(other: Any, alpha: Any) -> Any:
    if alpha == 1:
        return other
    if isinstance(other, Tensor):
        return ops.mul(other, alpha)
    return xp.multiply(other, alpha)


def _replace(old: Tensor, value: Any) -> Tensor:
    """The value ``value`` broadcast to ``old``'s shape, as a node whose gradient to
    ``old`` is zero (fill_, zero_, copy_ inside a graph)."""
    return ops.where(xp.zeros(old.data.shape, dtype=bool), old, value)


def _setter(key: Any) -> Any:
    def assign(data: Any, value: Any, out: Any, casting: str) -> None:
        out[key] = value

    return assign


def _putter(key: Any) -> Any:
    def put(old: Tensor, value: Any) -> Tensor:
        return ops.index_put(old, key, value)

    return put


from . import ops  # noqa: E402  (ops needs Tensor defined above)
