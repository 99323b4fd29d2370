"""The engine: grad mode, anomaly mode, un-broadcasting and the backward walk.

A node is a :class:`~tinygrad_bp.Tensor` whose ``_backward`` closure maps the gradient of
the node to one gradient per parent.  :func:`backward` orders the graph by counting each
node's consumers (Kahn's algorithm, no recursion), calls each closure once the node's
gradient is complete, checks every returned gradient and un-broadcasts it here, and only
here.  Leaves accumulate into ``.grad`` as in PyTorch.
"""

from __future__ import annotations

import contextvars
import functools
import heapq
import math
import os
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
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
    "release",
    "scope",
    "current_scope",
    "SCOPE",
    "backward",
    "is_freed",
    "grad",
    "unbroadcast",
    "set_grad_enabled",
    "inference_mode",
]


class _Mode:
    """Grad mode, anomaly mode and keep-values mode: the engine's only global state.  It is
    a context variable (per thread, as PyTorch's grad mode; a new thread starts with the
    defaults), holding one of eight immutable combinations, so that the check every op
    makes (``_current_mode().enabled``) is one C call and a slot read."""

    __slots__ = ("enabled", "anomaly", "keep")

    def __init__(self, enabled: bool, anomaly: bool, keep: bool) -> None:
        self.enabled, self.anomaly, self.keep = enabled, anomaly, keep

    def __repr__(self) -> str:
        return f"_Mode(enabled={self.enabled}, anomaly={self.anomaly}, keep={self.keep})"


_MODES = {
    (e, a, k): _Mode(e, a, k) for e in (True, False) for a in (True, False) for k in (True, False)
}
_MODE: contextvars.ContextVar[_Mode] = contextvars.ContextVar(
    "tinygrad_bp_mode", default=_MODES[True, False, False]
)
_current_mode = _MODE.get  # (a bound method: the hot paths call it directly)


@contextmanager
def _with_mode(
    enabled: bool | None = None, anomaly: bool | None = None, keep: bool | None = None
) -> Iterator[None]:
    """Set the given modes for the block; the others stay as they are.  Nests."""
    previous = _MODE.get()
    _MODE.set(
        _MODES[
            previous.enabled if enabled is None else enabled,
            previous.anomaly if anomaly is None else anomaly,
            previous.keep if keep is None else keep,
        ]
    )
    try:
        yield
    finally:
        _MODE.set(previous)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def is_grad_enabled() -> bool:
    """Whether operations record a graph right now."""
    return _MODE.get().enabled


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
    with _with_mode(enabled=False):
        yield


@contextmanager
def enable_grad() -> Iterator[None]:
    """Record the graph again inside a ``no_grad`` block."""
    with _with_mode(enabled=True):
        yield


def is_anomaly_enabled() -> bool:
    return _MODE.get().anomaly


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
    with _with_mode(anomaly=True):
        yield


def is_keep_values_enabled() -> bool:
    return _MODE.get().keep


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
    with _with_mode(keep=True):
        yield


# The scope: what the nodes made now belong to (a module's call).  nn.Module.__call__ sets
# it around forward, make_node stamps it on each node (Tensor.scope), the pictures group
# by it, as tinygrad's metadata and JAX's name stack do.  A scope is the tuple
# ``(owner, args, kwargs, parent)``: the module (or any object), its call's arguments,
# and the enclosing scope or None.  A context variable, per thread as the grad mode is.
# It holds no reference to the nodes made in it (they refer to it): no cycle.
SCOPE: contextvars.ContextVar[tuple[Any, Any, Any, Any] | None] = contextvars.ContextVar(
    "tinygrad_bp_scope", default=None
)
_current_scope = SCOPE.get  # (make_node calls it for every node)


def current_scope() -> tuple[Any, Any, Any, Any] | None:
    """The innermost scope, ``(owner, args, kwargs, parent)``, or None outside all."""
    return SCOPE.get()


@contextmanager
def scope(
    owner: Any, args: tuple[Any, ...] = (), kwargs: dict | None = None
) -> Iterator[tuple[Any, Any, Any, Any]]:
    """Stamp the nodes made inside the block with the scope ``(owner, args, kwargs,
    parent)`` (``parent``: the enclosing scope), as ``nn.Module.__call__`` does around each
    ``forward``; the pictures draw a module's scope as one node.  Nests.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> with tg.autograd.scope("double") as s:
    ...     y = x * 2
    >>> y.scope is s and s == ("double", (), None, None) and x.scope is None
    True
    """
    stamp = (owner, args, kwargs, SCOPE.get())
    token = SCOPE.set(stamp)
    try:
        yield stamp
    finally:
        SCOPE.reset(token)


def release(t: Tensor, reuse: bool = False) -> Tensor:
    """Let the engine drop the value of ``t``, an inner node that only the graph can reach
    (a layer's intermediate result the user is never given), to use no more memory than
    hand-written NumPy.  Returns ``t``.

    - ``reuse=False``: ``backward()`` releases the value once it has used it
      (:class:`~tinygrad_bp.nn.Sequential` does this with its inner layers' outputs).
    - ``reuse=True``: the next op that reads ``t`` as its first input may write its result
      into ``t``'s array, where the result has that array's shape and dtype (``add``,
      ``relu``, ``sigmoid`` and ``tanh`` do), releasing ``t``'s value then
      (:class:`~tinygrad_bp.nn.Dense` computes ``x @ W``, ``+ b`` and the activation in
      one array this way).

    The node stays in the graph (and in its pictures); its ``.data`` becomes a
    :class:`Released` that says why when read.  Under :func:`keep_values` nothing is
    released.  Only for values nobody else holds: the caller promises it.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> x = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    >>> z = x * 2
    >>> h = tg.autograd.release(z, reuse=True).relu()  # relu writes into z's array
    >>> z.data
    <released float64 array of shape (2, 3)>
    >>> h.sum().backward(); x.grad[0]
    array([2., 2., 2.])
    """
    if not _MODE.get().keep:
        t._flags |= REUSE if reuse else RELEASE_AFTER_USE
    return t


def _reused(t: Tensor, op: str) -> None:
    """``op`` wrote its result into ``t``'s array, as :func:`release` allowed."""
    t.data = Released(t.data, t._op, f"{op} wrote its result into this node's array, as "
                      "release(reuse=True) allowed (nn.Dense keeps one array per layer, as "
                      "hand-written NumPy does)")  # fmt: skip
    t._flags &= ~REUSE


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
HAS_HOOKS = 4  # register_hook(): t._hooks holds functions to call with its gradient
MODIFIED = 8  # changed in place: t._version and t._version_seq say when
STEPPED = 16  # updated in place by optimizers: t._steppers holds their step records
POST_HOOKS = 32  # register_post_accumulate_grad_hook(): t._post_hooks holds functions
REUSE = 64  # release(reuse=True): the next op reading it may write into its array
VIEW = 128  # shares another tensor's memory: t._base owns it (and its version), t._view
REBASED = 256  # changed in place inside a graph: t._ghosts holds its earlier places
USED = 512  # a backward() without retain_graph ran this node's closure (it saved nothing)
_ON_ARRIVAL = HAS_HOOKS | RETAIN_GRAD  # the walk looks at these when a gradient is complete

# The sequence number (Tensor._seq's counter) of the latest in-place change, 0 before any:
# a node created after it saved values nobody has changed since, so the walk checks
# versions only for older nodes (one integer compare per node on the common path).
_last_inplace = [0]

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
    if lead == 1 and shape and gshape[1:] == shape and grad.__class__ is xp.ndarray:
        # the common case: a bias over a batch
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
    """Whether a backward() without retain_graph has been through this node: its saved
    values are freed (a node that saved nothing can still run again, as in PyTorch)."""
    return node._backward is _freed or bool(node._flags & USED)


def _relevant(roots: Sequence[Tensor], targets: dict[Tensor, Any]) -> set[Tensor]:
    """The nodes from which some target can be reached (a target included): the only ones
    :func:`grad` needs to send gradients into."""
    order: list[Tensor] = []  # post-order: every node after all of its parents
    seen: set[Tensor] = set()
    stack: list[tuple[Tensor, int]] = [(r, 0) for r in roots]
    while stack:
        node, i = stack.pop()
        if i == 0:
            if node in seen:
                continue
            seen.add(node)
        parents = parents_of(node)
        if i < len(parents):
            stack.append((node, i + 1))
            p = parents[i]
            if p.requires_grad and p not in seen:
                stack.append((p, 0))
        else:
            order.append(node)
    relevant: set[Tensor] = set()
    for node in order:
        if node in targets or any(p in relevant for p in parents_of(node)):
            relevant.add(node)
    return relevant


def parents_of(node: Tensor) -> tuple[Tensor, ...]:
    """``node``'s parents as they were when it was made: a parent changed in place inside a
    graph since then is represented by its earlier place (PyTorch's rebase_history)."""
    parents = node._parents
    for p in parents:
        if p._flags & REBASED:
            break
    else:
        return parents
    seq = node._seq
    out = []
    for p in parents:
        if p._flags & REBASED:
            for s, ghost in p._ghosts:
                if seq < s:
                    p = ghost
                    break
        out.append(p)
    return tuple(out)


def _saved_tensors(node: Tensor, parents: tuple[Tensor, ...]) -> tuple[Any, ...]:
    """The Tensors behind a node's saved values (named when it was made): used under
    ``create_graph`` in place of the arrays."""
    return tuple(node if i < 0 else parents[i] for i in node._saved_ix)


def _check_versions(node: Tensor) -> None:
    """Refuse to use a value that an in-place operation changed after this node saved it
    (PyTorch's version-counter check; views share their memory's counter)."""
    seq = node._seq
    parents = node._parents
    for i in node._saved_ix:
        t = node if i < 0 else parents[i]
        s = t._base if t._flags & VIEW else t
        flags = s._flags
        if (flags & MODIFIED and s._version_seq > seq) or (
            flags & STEPPED and any(record[0] > seq for record in s._steppers)
        ):
            what = "its output" if i < 0 else f"its input of shape {t.data.shape}"
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified "
                f"by an inplace operation: {node._op} saved {what} ({t.data.dtype}), "
                f"which was changed in place after the forward (version {t.version}); "
                f"compute the update out of place, or do it after backward()"
            )


def _run_hooks(t: Tensor, g: Any) -> Any:
    """Call ``t``'s hooks (``register_hook``) in order; each may return a replacement."""
    from .tensor import Tensor, leaf

    graph = isinstance(g, Tensor)
    for fn in list(t._hooks.values()):
        arg = g if graph else leaf(g)
        new = fn(arg)
        if new is None:
            continue
        if isinstance(new, Tensor):
            new = new if graph else new.data
        elif graph:
            new = leaf(xp.asarray(new, dtype=g.dtype))
        else:
            new = xp.asarray(new)
        if new.shape != g.shape:
            raise RuntimeError(
                f"hook: a hook on a tensor of shape {g.shape} returned a gradient of shape "
                f"{new.shape}"
            )
        g = new
    return g


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
    _walk((root,), (seed,), retain_graph, hook, accumulate, None, False)


def backward_into(root: Tensor, seed: Any, inputs: Any, retain_graph: bool) -> None:
    """``root.backward(inputs=...)``: accumulate into the ``.grad`` of ``inputs`` only."""
    from .tensor import Tensor

    ins = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if not ins:
        raise RuntimeError("backward: inputs argument to backward() cannot be empty")
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor):
            raise TypeError(f"backward: inputs[{i}] is a {type(t).__name__}, expected a Tensor")
        if not t.requires_grad:
            raise RuntimeError(
                f"backward: inputs[{i}] (shape {t.data.shape}) does not require grad"
            )
    targets: dict[Tensor, Any] = dict.fromkeys(ins)
    _walk((root,), (seed,), retain_graph, None, False, targets, False)
    reached = [t for t in targets if targets[t] is not None]
    grads = {}
    for t in reached:
        g = targets[t]
        if g.shape != t.data.shape:
            g = unbroadcast(g, t.data.shape, "backward")
        if g.dtype != t.data.dtype:
            g = g.astype(t.data.dtype)
        grads[t] = g
    _accumulate_leaves(reached, grads)


def _walk(
    roots: Sequence[Tensor],
    seeds: Sequence[Any],
    retain_graph: bool,
    hook: Hook | None,
    accumulate: bool,
    targets: dict[Tensor, Any] | None,
    create_graph: bool,
) -> None:
    """The backward walk.  With ``targets`` (``grad()``), the complete gradient of each
    target is stored in ``targets[t]`` instead of any leaf's ``.grad``; with
    ``create_graph``, gradients are Tensors and every closure records a graph.

    Nodes are processed in decreasing creation order (``_seq``), from a heap of the nodes
    that received a gradient.  Every consumer of a node was created after it, so when a
    node comes off the heap all of its consumers have sent their gradient: its own is
    complete, and its closure runs once.  (PyTorch's engine orders its ready queue by the
    same kind of sequence number.)"""
    relevant = _relevant(roots, targets) if targets is not None else None
    anomaly = _MODE.get().anomaly
    last_inplace = _last_inplace[0]
    watch = hook is not None or targets is not None  # someone sees each node's gradient
    grads: dict[Tensor, Any] = {}  # the pending (partial) gradient of each node on the heap
    heap: list[tuple[int, Tensor]] = []  # (-seq, node): the newest node first
    for r, sd in zip(roots, seeds):
        prev = grads.get(r)
        if prev is None:
            grads[r] = sd
            heapq.heappush(heap, (-r._seq, r))
        else:
            grads[r] = prev + sd
    # Leaves' gradients are added into .grad at the end, under one lock: their complete
    # sums stay in ``grads`` (hooks run, for those that came off the heap).
    leaves: list[Tensor] = []
    add_leaf = leaves.append
    # Bound functions and locals: this loop runs once per node of every training step.
    push, pop = heapq.heappush, heapq.heappop
    pop_grad, get_grad = grads.pop, grads.get
    while heap:
        node = pop(heap)[1]
        g = pop_grad(node)
        flags = node._flags
        if flags & _ON_ARRIVAL:  # hooks, retain_grad(): on the complete gradient
            if flags & HAS_HOOKS:
                g = _run_hooks(node, g)
            if (
                flags & RETAIN_GRAD
                and (accumulate or targets is not None)
                and (node._backward is not None)
            ):
                gd = g.data if create_graph else g
                node.grad = xp.array(gd) if node.grad is None else xp.asarray(node.grad + gd)
        fn = node._backward
        if watch:
            if hook is not None:
                hook(node, g)
            if targets is not None and node in targets:
                targets[node] = g
            if relevant is not None and fn is not None and node not in relevant:
                continue  # no target is reached through this node
        if fn is None:  # a leaf (queued only when someone watches or it has hooks)
            if accumulate:
                grads[node] = g
                add_leaf(node)
            continue
        parents = node._parents
        if node._seq < last_inplace and fn is not _freed:  # changed in place since?
            _check_versions(node)
            parents = parents_of(node)
        if create_graph:
            from .tensor import Tensor

            with enable_grad():
                pgrads = fn(g, *_saved_tensors(node, parents))
            pgrads = tuple(
                gp if gp is None or isinstance(gp, Tensor) else _const_grad(gp) for gp in pgrads
            )
        else:
            saved = node._saved
            pgrads = fn(g, *saved) if saved else fn(g)
        if not retain_graph:
            if node._saved_ix:  # (a node that saved nothing can run again, as in PyTorch)
                node._backward = _freed
                node._saved = ()
            else:
                node._flags = flags | USED
            if flags & RELEASE_AFTER_USE:  # nobody outside the graph can see its value
                node.data = Released(node.data, node._op, _USED)
        if len(pgrads) != len(parents):
            raise RuntimeError(
                f"{node._op} backward returned {len(pgrads)} gradients for {len(parents)} inputs"
            )
        for p, gp in zip(parents, pgrads):
            if gp is None or not p.requires_grad:
                continue
            pdata = p.data
            if gp.shape != pdata.shape:
                gp = unbroadcast(gp, pdata.shape, node._op or "")
            # NumPy's built-in dtypes are singletons: the identity test is the fast path
            if gp.dtype is not pdata.dtype and gp.dtype != pdata.dtype:
                gp = gp.astype(pdata.dtype)
            if anomaly:
                kind = _nonfinite_kind(gp.data if create_graph else gp)
                if kind is not None:
                    raise FloatingPointError(
                        f"{node._op} produced {kind} in its backward (gradient for its "
                        f"input of shape {pdata.shape}), created at "
                        f"{node._trace or '<unknown>'}"
                    )
            prev = get_grad(p)
            if prev is not None:
                grads[p] = prev + gp  # (out of place: gp may be another node's too)
            elif p._backward is None and not (watch or p._flags & HAS_HOOKS):
                # A leaf nobody watches: not queued; its sum is complete when the walk ends.
                if accumulate:
                    grads[p] = gp
                    add_leaf(p)
            else:
                grads[p] = gp
                push(heap, (-p._seq, p))
    if leaves:
        _accumulate_leaves(leaves, grads)


def _const_grad(g: Any) -> Any:
    """An array a closure returned under create_graph (a constant gradient) as a Tensor."""
    from .tensor import leaf

    return leaf(xp.asarray(g), "const")


# Leaf gradients are accumulated under one lock, so that two threads calling backward on
# graphs that share leaves never lose an update (NumPy releases the GIL inside ``+=``).
_leaf_lock = threading.Lock()


def _accumulate_leaves(leaves: list[Tensor], grads: dict[Tensor, Any]) -> None:
    """Add each leaf's gradient ``grads[leaf]`` from one walk into its ``.grad``."""
    given: set[int] = set()  # ids of arrays already handed to a leaf by this walk
    with _leaf_lock:
        for leaf in leaves:
            g = grads[leaf]
            current = leaf.grad
            if current is None:
                # The walk may hand the same array (or a view of one) to several leaves,
                # e.g. both sides of an add; each leaf gets its own array so that in-place
                # changes to one .grad never show in another.  (0-d results come back from
                # NumPy as read-only scalars: np.array makes them arrays.)
                if g.base is not None or id(g) in given or not g.flags.writeable:
                    g = xp.array(g)
                given.add(id(g))
                leaf.grad = g
            elif current.shape == g.shape and current.dtype == g.dtype and current.flags.writeable:
                current += g
            else:
                leaf.grad = xp.asarray(current + g)
    # Post-accumulate hooks (register_post_accumulate_grad_hook) run once every leaf of
    # this walk holds its new .grad, outside the lock (a hook may wait on other processes).
    for leaf in leaves:
        if leaf._flags & POST_HOOKS:
            for fn in list(leaf._post_hooks.values()):
                fn(leaf)


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Any, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, as ``torch.autograd.grad``.

    Returns a tuple with one Tensor per input (``None`` for an unused input when
    ``allow_unused=True``) and touches no ``.grad``.  ``grad_outputs`` seeds each output
    (needed unless the output has one element).  With ``create_graph=True`` the returned
    Tensors carry a graph of their own, so they can be differentiated again, to any order;
    ``retain_graph`` defaults to ``create_graph``.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> x = tg.Tensor(3.0, requires_grad=True)
    >>> (dx,) = tg.grad(x ** 3, x, create_graph=True)   # 3x² = 27
    >>> (ddx,) = tg.grad(dx, x)                          # 6x = 18
    >>> dx.item(), ddx.item()
    (27.0, 18.0)
    """
    from .tensor import Tensor, _to_array, leaf

    single_in = isinstance(inputs, Tensor)
    # an array (argmax's result, say) is one output, not a sequence of outputs
    single_out = isinstance(outputs, (Tensor, xp.ndarray)) or not hasattr(outputs, "__iter__")
    outs = (outputs,) if single_out else tuple(outputs)
    ins = (inputs,) if single_in or not hasattr(inputs, "__iter__") else tuple(inputs)
    if not outs or not ins:
        raise ValueError("grad: outputs and inputs must each be a Tensor or a non-empty sequence")
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: inputs[{i}] is a {type(t).__name__}, expected a Tensor")
        if not t.requires_grad:
            raise RuntimeError(f"grad: inputs[{i}] does not require grad")
    if grad_outputs is None:
        gouts: tuple[Any, ...] = (None,) * len(outs)
    elif isinstance(grad_outputs, (Tensor, xp.ndarray)) or not isinstance(
        grad_outputs, (list, tuple)
    ):
        gouts = (grad_outputs,)
    else:
        gouts = tuple(grad_outputs)
    if len(gouts) != len(outs):
        raise ValueError(f"grad: got {len(gouts)} grad_outputs for {len(outs)} outputs")
    roots: list[Tensor] = []
    seeds: list[Any] = []
    for i, (o, go) in enumerate(zip(outs, gouts)):
        seed: Any
        if not isinstance(o, Tensor):
            hint = (
                " (argmax and argmin give NumPy integer arrays: indices are not differentiable)"
                if isinstance(o, (xp.ndarray, xp.generic))
                else ""
            )
            raise TypeError(f"grad: outputs[{i}] is a {type(o).__name__}, expected a Tensor{hint}")
        if o.data.dtype.kind != "f":
            what = "a comparison" if o.data.dtype.kind == "b" else "an integer op"
            raise RuntimeError(
                f"grad: outputs[{i}] is a {o.data.dtype} tensor (shape {o.data.shape}), the "
                f"result of {what}, which is not differentiable; differentiate a floating "
                f"result (use the mask in tg.where(mask, a, b) or to index, for example)"
            )
        if not o.requires_grad:
            raise RuntimeError(
                f"grad: outputs[{i}] does not require grad and has no graph (was it computed "
                f"under no_grad(), or from tensors that do not require grad?)"
            )
        if o._backward is _freed:
            _freed(None)
        if go is None:
            if o.data.size != 1:
                raise RuntimeError(
                    f"grad: grad can be implicitly created only for one-element outputs; "
                    f"outputs[{i}] has shape {o.data.shape}, so pass grad_outputs"
                )
            seed = xp.ones(o.data.shape, dtype=o.data.dtype)
        else:
            seed = go if isinstance(go, Tensor) else _to_array(go, o.data.dtype, "grad")
            if seed.shape != o.data.shape:
                raise ValueError(
                    f"grad: grad_outputs[{i}] has shape {seed.shape}, expected the output's "
                    f"shape {o.data.shape}"
                )
        if create_graph:
            seed = seed if isinstance(seed, Tensor) else leaf(seed, "const")
        elif isinstance(seed, Tensor):
            seed = seed.data
        roots.append(o)
        seeds.append(seed)
    if retain_graph is None:
        retain_graph = create_graph
    targets: dict[Tensor, Any] = dict.fromkeys(ins)
    _walk(roots, seeds, retain_graph, None, False, targets, create_graph)
    result: list[Tensor | None] = []
    for i, t in enumerate(ins):
        g = targets[t]
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: inputs[{i}] (shape {t.data.shape}) does not take part in the graph "
                    f"of the outputs; pass allow_unused=True to get None for it"
                )
            result.append(None)
        elif isinstance(g, Tensor):
            result.append(g)
        else:
            if g.shape != t.data.shape:
                g = unbroadcast(g, t.data.shape, "grad")
            result.append(leaf(xp.array(g, dtype=t.data.dtype)))
    return tuple(result)


class FunctionCtx:
    """The ``ctx`` of a :class:`Function`: what ``forward`` keeps for ``backward``."""

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple[Any, ...] = ()

    def save_for_backward(self, *tensors: Any) -> None:
        self.saved_tensors = tensors


class Function:
    """A user-defined op, as ``torch.autograd.Function``.

    Subclass it with static ``forward(ctx, *args)`` and ``backward(ctx, *grads)``; call
    it as ``MyOp.apply(*args)``.  ``forward`` computes with Tensors or their ``.data`` (no
    graph is recorded inside it) and returns one Tensor (or array); ``backward`` gets the
    output's gradient as a Tensor and returns one gradient per argument of ``forward``
    (``None`` for arguments that need none).  Write ``backward`` with Tensor operations on
    ``ctx.saved_tensors`` and it can be differentiated again under ``create_graph=True``.
    The node is named after the class in the graph and its pictures.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> class Cube(tg.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x * x
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return g * 3 * x * x
    >>> x = tg.Tensor([2.0], requires_grad=True)
    >>> y = Cube.apply(x)
    >>> y.op
    'Cube'
    >>> y.sum().backward()
    >>> x.grad
    array([12.])
    """

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("Function subclasses must define a static forward(ctx, ...)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grads: Any) -> Any:
        raise NotImplementedError("Function subclasses must define a static backward(ctx, ...)")

    @classmethod
    def apply(cls, *args: Any) -> Any:
        from .tensor import OUT, Tensor, _to_array, leaf, make_node

        name = cls.__name__
        tensors = tuple(a for a in args if isinstance(a, Tensor))
        ctx = FunctionCtx(tuple(isinstance(a, Tensor) and a.requires_grad for a in args))
        with no_grad():
            out = cls.forward(ctx, *args)
        if isinstance(out, (tuple, list)):
            raise TypeError(
                f"{name}.forward returned {len(out)} values; a Function here returns one "
                f"Tensor (split a multi-output op into several Functions)"
            )
        data = out.data if isinstance(out, Tensor) else _to_array(out, None, f"{name}.forward")
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        # ctx.saved_tensors named, as every node's saved values are: each an input or the
        # output; the closure gets them back as arrays or (create_graph) as the Tensors
        saved: list[Any] = []
        for k, v in enumerate(ctx.saved_tensors):
            if v is None:
                continue
            if v is out and isinstance(out, Tensor):
                saved.append(OUT)
            elif isinstance(v, Tensor) and any(v is t for t in tensors):
                saved.append(v)
            else:
                what = (
                    f"a Tensor of shape {v.data.shape} made inside forward"
                    if isinstance(v, Tensor)
                    else f"a {type(v).__name__}"
                )
                raise TypeError(
                    f"{name}.forward: save_for_backward argument {k} is {what}; save only "
                    f"inputs of forward or the Tensor it returns, so that create_graph=True "
                    f"can differentiate backward again.  Recompute an intermediate in "
                    f"backward from those, or keep a value that is not differentiated (a mask, "
                    f"a shape) as an attribute of ctx"
                )
        layout = tuple(None if v is None else True for v in ctx.saved_tensors)

        def backward(g: Any, *values: Any) -> tuple[Any, ...]:
            graph = isinstance(g, Tensor)
            it = iter(values if graph else [leaf(v) for v in values])
            ctx.saved_tensors = tuple(None if slot is None else next(it) for slot in layout)
            with enable_grad() if graph else no_grad():
                got = cls.backward(ctx, g if graph else leaf(g))
            if not isinstance(got, tuple):
                got = (got,)
            if len(got) != len(args):
                raise RuntimeError(
                    f"{name}.backward returned {len(got)} gradients, expected {len(args)} (one "
                    f"per argument of forward, None for those that need none)"
                )
            grads: list[Any] = []
            for i in positions:
                gi, a = got[i], args[i]
                if gi is None or not a.requires_grad:
                    grads.append(None)
                    continue
                if graph and not isinstance(gi, Tensor):
                    gi = leaf(xp.asarray(gi))
                elif not graph:
                    gi = gi.data if isinstance(gi, Tensor) else xp.asarray(gi)
                if gi.dtype.kind != "f":
                    raise TypeError(
                        f"{name}.backward returned a gradient of dtype {gi.dtype} for "
                        f"argument {i} ({a.data.dtype}); gradients must be floating"
                    )
                grads.append(gi)
            return tuple(grads)

        return make_node(data, tensors, name, backward, tuple(saved))


class set_grad_enabled:  # noqa: N801  (PyTorch's name)
    """``torch.set_grad_enabled(mode)``: a context manager (or a plain call, which sets the
    mode until it is set again) that records a graph or not."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._prev = _MODE.get()
        _MODE.set(_MODES[self.mode, self._prev.anomaly, self._prev.keep])

    def __enter__(self) -> set_grad_enabled:
        return self

    def __exit__(self, *exc: Any) -> None:
        _MODE.set(self._prev)


def inference_mode(mode: bool = True) -> Any:
    """``torch.inference_mode``: here ``no_grad`` (or, with ``mode=False``, the graph
    recorded as usual)."""
    return _with_mode(enabled=not mode)
