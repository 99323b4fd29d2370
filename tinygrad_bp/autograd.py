"""The engine: grad mode, anomaly mode, un-broadcasting and the backward walk.

A node is a :class:`~tinygrad_bp.Tensor` whose ``_backward`` closure maps the gradient of
the node to one gradient per parent.  :func:`backward` orders the graph by counting each
node's consumers (Kahn's algorithm, no recursion), calls each closure once the node's
gradient is complete, checks every returned gradient and un-broadcasts it here, and only
here.  Leaves accumulate into ``.grad`` as in PyTorch.
"""

from __future__ import annotations

import functools
import math
import os
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .backend import xp

if TYPE_CHECKING:  # pragma: no cover
    from .tensor import Tensor

__all__ = [
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "detect_anomaly",
    "is_anomaly_enabled",
    "keep_values",
    "is_keep_values_enabled",
    "Released",
    "backward",
    "unbroadcast",
]


class _Mode(threading.local):
    """Grad mode and anomaly mode: the engine's only global state (per thread, as in PyTorch)."""

    enabled = True
    anomaly = False
    keep = False  # keep_values(): no value is released, nothing is computed in place


_mode = _Mode()

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def is_grad_enabled() -> bool:
    """Whether operations record a graph right now."""
    return _mode.enabled


@contextmanager
def no_grad() -> Iterator[None]:
    """Record no graph inside the block; results have no parents. Nests.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> w = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> with tg.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """
    previous = _mode.enabled
    _mode.enabled = False
    try:
        yield
    finally:
        _mode.enabled = previous


@contextmanager
def enable_grad() -> Iterator[None]:
    """Record the graph again inside a ``no_grad`` block."""
    previous = _mode.enabled
    _mode.enabled = True
    try:
        yield
    finally:
        _mode.enabled = previous


def is_anomaly_enabled() -> bool:
    return _mode.anomaly


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise at the first op whose forward or backward produces NaN or Inf.

    Under this context every op also remembers where in the user's code it was created,
    and the error names the op and that place.  It costs time; use it to find a NaN, not
    for training.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> x = tg.Tensor([-1.0], requires_grad=True)
    >>> with tg.detect_anomaly():
    ...     x.log()
    Traceback (most recent call last):
    ...
    FloatingPointError: log produced nan in its forward ...
    """
    previous = _mode.anomaly
    _mode.anomaly = True
    try:
        yield
    finally:
        _mode.anomaly = previous


def is_keep_values_enabled() -> bool:
    return _mode.keep


@contextmanager
def keep_values() -> Iterator[None]:
    """Keep the value of every node: nothing is computed in place, nothing is released.

    By default, to use no more memory than hand-written NumPy, :class:`~tinygrad_bp.nn.Dense`
    computes ``x @ W``, ``+ b`` and the activation in one array, so the matmul and add nodes
    of a layer keep their place in the graph (and in its pictures) but not their values;
    and :class:`~tinygrad_bp.nn.Sequential` lets ``backward()`` drop the outputs of the
    layers inside it, which only the graph can reach, once they are used.  Their ``.data``
    then is a :class:`~tinygrad_bp.autograd.Released` that says so when read.  Under this
    context every node keeps its value, as when each op is called by hand; use it to look
    at every value in a graph, at the cost of memory.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> layer = tg.nn.Dense(3, 2, activation="tanh")
    >>> with tg.keep_values():
    ...     h = layer(tg.Tensor(np.ones((4, 3))))
    >>> a = h.parents[0]
    >>> bool(np.allclose(np.tanh(a.data), h.data))
    True
    """
    previous = _mode.keep
    _mode.keep = True
    try:
        yield
    finally:
        _mode.keep = previous


def creation_site() -> str:
    """The innermost stack frame outside this package, as 'file:line in function'."""
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return f"{frame.filename}:{frame.lineno} in {frame.name}"
    return "<unknown>"


def _nonfinite_kind(a: Any) -> str | None:
    if xp.isfinite(a).all():
        return None
    return "nan" if xp.isnan(a).any() else "inf"


def check_forward(node: Tensor) -> None:
    """Anomaly mode: refuse a forward result with NaN or Inf (called by make_node)."""
    node._trace = creation_site()
    kind = _nonfinite_kind(node.data)
    if kind is not None:
        raise FloatingPointError(
            f"{node._op} produced {kind} in its forward (output shape {node.data.shape}), "
            f"created at {node._trace}"
        )


class Released:
    """What ``.data`` holds once the engine has let go of an inner node's value.

    An inner node's array is released (1) when :class:`~tinygrad_bp.nn.Dense` computes the
    next step of its layer in place in that array, as hand-written NumPy would, or (2) when
    ``backward()`` has used the output of a layer inside :class:`~tinygrad_bp.nn.Sequential`
    (the user was never given it; the graph alone can reach it).  What
    stays is what a picture of the graph needs: ``shape``, ``dtype``, ``ndim``, ``size``.
    Anything that would read the values (arithmetic, indexing, ``np.asarray``, ``.item()``,
    using the tensor in a new op) raises a RuntimeError that says why the value is gone and
    how to keep it, instead of handing back numbers that are no longer the node's.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> layer = tg.nn.Dense(3, 2, activation="tanh")
    >>> h = layer(tg.Tensor(np.ones((4, 3))))
    >>> a = h.parents[0]  # the add node: tanh was computed in place in its array
    >>> a.op, a.shape
    ('add', (4, 2))
    >>> a.data + 1
    Traceback (most recent call last):
    ...
    RuntimeError: the value of this add node (shape (4, 2), float64) was released: ...
    """

    __slots__ = ("shape", "dtype", "op", "why")

    def __init__(self, array: Any, op: str | None, why: str) -> None:
        self.shape = array.shape
        self.dtype = array.dtype
        self.op = op
        self.why = why

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def error(self) -> RuntimeError:
        return RuntimeError(
            f"the value of this {self.op or 'tensor'} node (shape {self.shape}, {self.dtype}) "
            f"was released: {self.why}; run under tg.keep_values() to keep every node's value"
        )

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error()

    def __repr__(self) -> str:
        return f"<released {self.dtype} array of shape {self.shape}>"

    # NumPy asks these before using an object as an array; all of them refuse.
    __array__ = __array_ufunc__ = __array_function__ = _refuse
    __getitem__ = __setitem__ = __iter__ = __len__ = __bool__ = _refuse
    __float__ = __int__ = __index__ = __complex__ = _refuse
    __neg__ = __pos__ = __abs__ = __invert__ = _refuse
    for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul",
                  "and", "or", "xor", "lshift", "rshift"):  # fmt: skip
        for _form in ("__{}__", "__r{}__", "__i{}__"):
            locals()[_form.format(_name)] = _refuse
    __lt__ = __le__ = __gt__ = __ge__ = __eq__ = __ne__ = _refuse
    __hash__ = None  # type: ignore[assignment]
    del _name, _form

    def __getattr__(self, name: str) -> Any:  # .T, .copy(), .sum(), .astype(), ...
        if name.startswith("__"):
            raise AttributeError(name)
        raise self.error()


# Tensor._flags bits.
RETAIN_GRAD = 1  # retain_grad(): keep this inner node's gradient in .grad
RELEASE_AFTER_USE = 2  # backward() releases the value once used (nn.Sequential's inner outputs)

_USED = (
    "backward() used it, and it was an output inside nn.Sequential that only the graph "
    "could reach; call the layers one by one to keep their outputs"
)

_ONES_MAX = 4096


@functools.lru_cache(maxsize=32)
def _ones(n: int, char: str) -> Any:
    """A read-only vector of n ones (cached: the batch size rarely changes)."""
    v = xp.ones(n, dtype=char)
    v.flags.writeable = False
    return v


def unbroadcast(grad: Any, shape: tuple[int, ...], op: str) -> Any:
    """Sum ``grad`` down to ``shape``: the adjoint of NumPy broadcasting.

    A bias ``b`` of shape ``(out,)`` added to ``a`` of shape ``(batch, out)`` receives the
    sum of the incoming gradient over the batch axis; that is where the article's
    ``b_grad = a_grad.mean(axis=0)`` comes from once the loss is a batch mean.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_bp.autograd import unbroadcast
    >>> unbroadcast(np.ones((150, 3)), (3,), "add")  # a bias: summed over the batch
    array([150., 150., 150.])
    >>> unbroadcast(np.ones((2, 3)), (2, 1), "mul")  # a column: summed along the row
    array([[3.],
           [3.]])
    """
    gshape = grad.shape
    lead = len(gshape) - len(shape)
    if lead == 1 and shape and gshape[1:] == shape:  # the common case: a bias over a batch
        if len(gshape) == 2 and gshape[0] <= _ONES_MAX and grad.dtype.char in "fd":
            # Σ over rows as ones·G: one BLAS call, 2-5x faster than add.reduce over axis 0
            # on a (batch, out) matrix.  Up to _ONES_MAX rows its rounding stays within a
            # few ulps of the sum's (float32: ~1e-6 relative at 512 rows).
            return _ones(gshape[0], grad.dtype.char) @ grad
        return xp.add.reduce(grad, axis=0)
    if lead < 0:
        raise RuntimeError(
            f"{op} backward returned a gradient of shape {gshape} for an input of shape "
            f"{shape}: it has fewer dimensions than the input"
        )
    kept = []  # axes where the input had size 1 and the gradient does not
    for i, n in enumerate(shape):
        gn = gshape[lead + i]
        if n == 1 and gn != 1:
            kept.append(lead + i)
        elif n != gn:
            raise RuntimeError(
                f"{op} backward returned a gradient of shape {gshape} for an input of "
                f"shape {shape}: the shapes do not broadcast"
            )
    if kept:
        grad = grad.sum(axis=tuple(range(lead)) + tuple(kept), keepdims=True)
        return grad.reshape(shape) if lead else grad
    return grad.sum(axis=tuple(range(lead))) if lead else grad


Hook = Callable[["Tensor", Any], None]


def _freed(_g: Any) -> tuple[Any, ...]:
    raise RuntimeError(
        "trying to backward through the graph a second time: its saved values were freed "
        "after the first backward(); call backward(retain_graph=True) the first time"
    )


def is_freed(node: Tensor) -> bool:
    return node._backward is _freed


def backward(
    root: Tensor,
    seed: Any,
    retain_graph: bool = False,
    hook: Hook | None = None,
    accumulate: bool = True,
) -> None:
    """Propagate ``seed`` (the gradient of ``root``) to every leaf that requires grad.

    ``hook(node, grad)`` is called once per node when its gradient is complete, in the
    order nodes are processed.  With ``accumulate=False`` leaves' ``.grad`` are left alone
    (the pictures use that to read gradients without side effects).
    """
    # Pass 1: count, for each node that needs a gradient, how many consumers it has in
    # this graph.  A node is processed once all of them have sent their gradient.
    consumers: dict[Tensor, int] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        for p in node._parents:
            if p.requires_grad:
                if p in consumers:
                    consumers[p] += 1
                else:
                    consumers[p] = 1
                    if p._parents:
                        stack.append(p)

    anomaly = _mode.anomaly
    grads: dict[Tensor, Any] = {root: seed}
    given: set[int] = set()  # ids of arrays already handed to a leaf this walk
    ready = [root]
    # Bound methods and locals: this loop runs once per node of every training step.
    pop_ready, push_ready = ready.pop, ready.append
    pop_grad, get_grad = grads.pop, grads.get
    while ready:
        node = pop_ready()
        g = pop_grad(node, None)
        if hook is not None and g is not None:
            hook(node, g)
        fn = node._backward
        if fn is None:  # a leaf
            if g is not None and accumulate:
                _accumulate_leaf(node, g, given)
            continue
        flags = node._flags
        if flags & RETAIN_GRAD and g is not None and accumulate:
            node.grad = xp.array(g) if node.grad is None else xp.asarray(node.grad + g)
        parents = node._parents
        if g is None:  # no gradient reached this node; its parents still get counted
            for p in parents:
                if p.requires_grad:
                    left = consumers[p] - 1
                    consumers[p] = left
                    if left == 0:
                        push_ready(p)
            continue
        pgrads = fn(g)
        if not retain_graph:
            node._backward = _freed
            if flags & RELEASE_AFTER_USE:  # nobody outside the graph can see its value
                node.data = Released(node.data, node._op, _USED)
        if len(pgrads) != len(parents):
            raise RuntimeError(
                f"{node._op} backward returned {len(pgrads)} gradients for {len(parents)} inputs"
            )
        for p, gp in zip(parents, pgrads):
            if not p.requires_grad:
                continue
            if gp is not None:
                pdata = p.data
                if gp.shape != pdata.shape:
                    gp = unbroadcast(gp, pdata.shape, node._op)
                dtype = pdata.dtype
                gdtype = gp.dtype
                # dtypes of the same kind are usually the same object: skip the slow compare
                if gdtype is not dtype and gdtype != dtype:
                    gp = gp.astype(dtype)
                if anomaly:
                    kind = _nonfinite_kind(gp)
                    if kind is not None:
                        raise FloatingPointError(
                            f"{node._op} produced {kind} in its backward (gradient for its "
                            f"input of shape {pdata.shape}), created at "
                            f"{node._trace or '<unknown>'}"
                        )
            left = consumers[p] - 1
            if left:  # more consumers to come: keep the partial sum
                consumers[p] = left
                if gp is not None:
                    prev = get_grad(p)
                    grads[p] = gp if prev is None else prev + gp
                continue
            # every consumer has sent its gradient: p's is complete
            prev = pop_grad(p, None)
            if prev is not None:
                gp = prev if gp is None else prev + gp
            if p._backward is None and hook is None:
                # A leaf, and nobody watches the order: accumulate now instead of queueing.
                if gp is not None and accumulate:
                    _accumulate_leaf(p, gp, given)
            else:
                if gp is not None:
                    grads[p] = gp
                push_ready(p)


def _accumulate_leaf(leaf: Tensor, g: Any, given: set[int]) -> None:
    current = leaf.grad
    if current is None:
        # The walk may hand the same array (or a view of one) to several leaves, e.g. both
        # sides of an add; each leaf gets its own array so that in-place changes to one
        # .grad never show in another.
        # (0-d results come back from NumPy as read-only scalars: np.array makes them arrays.)
        if g.base is not None or id(g) in given or not g.flags.writeable:
            g = xp.array(g)
        given.add(id(g))
        leaf.grad = g
    elif current.shape == g.shape and current.dtype == g.dtype and current.flags.writeable:
        current += g
    else:
        leaf.grad = xp.asarray(current + g)
