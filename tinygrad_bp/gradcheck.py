"""Finite-difference gradient checking, public as ``tg.gradcheck``."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .autograd import no_grad
from .tensor import Tensor

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """The engine's gradient and the finite-difference one disagree.

    Attributes ``input_index``, ``index``, ``analytic`` and ``numeric`` say where and by
    how much.  (It subclasses AssertionError so test frameworks report it as a failure.)
    """

    def __init__(
        self,
        input_index: int,
        index: tuple[int, ...],
        analytic: float,
        numeric: float,
        message: str,
    ) -> None:
        super().__init__(message)
        self.input_index = input_index
        self.index = index
        self.analytic = analytic
        self.numeric = numeric


def _prepare(
    fn_name: str, inputs: Sequence[Any], eps: Any, atol: Any, rtol: Any
) -> tuple[list[Any], list[int]]:
    """Check the step and tolerances; float64 copies of the inputs (others as they are)
    and the positions of those that require grad."""
    for label, v in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
            raise TypeError(f"{fn_name}: {label} must be a number, got {v!r}")
        if not math.isfinite(v) or v < 0 or (label == "eps" and v == 0):
            want = "a positive" if label == "eps" else "a non-negative"
            raise ValueError(f"{fn_name}: {label} must be {want} finite number, got {v!r}")
    if isinstance(inputs, Tensor):
        inputs = [inputs]
    copies: list[Any] = []
    checked: list[int] = []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor):
            floating = x.dtype.kind == "f"
            c = Tensor(
                x.data.astype(np.float64) if floating else x.data,
                requires_grad=x.requires_grad,
                dtype=None if floating else x.dtype,
            )
            copies.append(c)
            if x.requires_grad:
                checked.append(i)
        else:
            copies.append(x)
    if not checked:
        raise ValueError(f"{fn_name}: no input is a Tensor with requires_grad=True")
    return copies, checked


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Compare the engine's gradients of ``fn(*inputs).sum()`` with central differences.

    Every input that is a Tensor with ``requires_grad=True`` is checked, element by
    element.  The check runs on float64 copies whatever the inputs' dtype, and the inputs
    themselves are left unchanged.  An element passes when
    ``|analytic - numeric| <= atol + rtol * |numeric|``.

    Tensors that ``fn`` captures (a model's parameters, say) are differentiated too, as
    part of the graph, but their ``.grad`` is put back as it was: checking a gradient
    changes no state.

    Returns ``True``, or raises :class:`GradcheckError` naming the input, the index and
    both values; ``eps`` must be a positive finite number (``ValueError`` otherwise).

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> x = tg.Tensor([[0.5, -1.0], [2.0, 0.1]], requires_grad=True)
    >>> tg.gradcheck(lambda t: (t * t).tanh(), [x])
    True
    """
    copies, checked = _prepare("gradcheck", inputs, eps, atol, rtol)

    out = fn(*copies)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    total = out.sum()
    if total.requires_grad:
        # backward() accumulates into every leaf of the graph, including tensors that fn
        # captures rather than takes as inputs; keep their gradients to put them back.
        ours = {id(c) for c in copies if isinstance(c, Tensor)}
        saved = [
            (t, None if t.grad is None else np.array(t.grad, copy=True))
            for t in _leaves(total)
            if id(t) not in ours
        ]
        try:
            total.backward()
        finally:
            for t, g in saved:
                t.grad = g

    def value() -> float:
        with no_grad():
            return float(fn(*copies).sum().data)

    for i in checked:
        x = copies[i]
        analytic = x.grad if x.grad is not None else np.zeros_like(x.data)
        flat = x.data.reshape(-1)  # a view: perturbing it perturbs x.data
        for k in range(flat.size):
            orig = flat[k]
            flat[k] = orig + eps
            up = value()
            flat[k] = orig - eps
            down = value()
            flat[k] = orig
            numeric = (up - down) / (2 * eps)
            idx = tuple(int(j) for j in np.unravel_index(k, x.data.shape))
            a = float(analytic.reshape(-1)[k])
            if not abs(a - numeric) <= atol + rtol * abs(numeric):
                raise GradcheckError(
                    i,
                    idx,
                    a,
                    numeric,
                    f"gradcheck: gradient of input {i} at index {idx} differs: "
                    f"engine {a!r}, finite differences {numeric!r} "
                    f"(|diff| {abs(a - numeric):.3g} > atol {atol:g} + rtol {rtol:g} * |numeric|)",
                )
    return True


def _leaves(root: Tensor) -> list[Tensor]:
    """The leaves that require grad in the graph of ``root``, each once."""
    seen: set[int] = set()
    found: list[Tensor] = []
    stack = [root]
    while stack:
        node = stack.pop()
        for p in node._parents:
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                if p._parents:
                    stack.append(p)
                else:
                    found.append(p)
    return found


def _flat_grads(grads: Sequence[Any], copies: Sequence[Tensor]) -> list[Any]:
    """Each input's gradient as a flat list of entries (zeros for an unused input)."""
    out = []
    for g, c in zip(grads, copies):
        if g is None:
            out.append(np.zeros(c.data.size))
        else:
            out.append(g.reshape(-1) if isinstance(g, Tensor) else np.asarray(g).reshape(-1))
    return out


def gradgradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    grad_outputs: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Compare the engine's second derivatives with finite differences of its first.

    As ``torch.autograd.gradgradcheck``: the first derivative is the vector-Jacobian
    product ``J(x)ᵀ·u`` of ``fn`` at the inputs, with ``u`` = ``grad_outputs`` (seeded
    random normals when not given, so every output takes part).  Its derivative, taken by
    the engine through ``tg.autograd.grad(..., create_graph=True)`` once per entry, is
    compared with central differences of that first derivative (computed by the engine in
    a plain backward at ``x ± eps``), entry by entry, in float64.  Returns ``True`` or
    raises :class:`GradcheckError` naming the input, the index and both values.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> x = tg.Tensor([[0.5, -1.0], [2.0, 0.1]], requires_grad=True)
    >>> tg.gradgradcheck(lambda t: (t * t).tanh(), [x])
    True
    """
    from .autograd import grad

    copies, checked = _prepare("gradgradcheck", inputs, eps, atol, rtol)
    wrt = [copies[i] for i in checked]

    out = fn(*copies)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradgradcheck: fn must return a Tensor, got {type(out).__name__}")
    if grad_outputs is None:
        u = np.random.default_rng(seed).standard_normal(out.shape)
    else:
        u = np.asarray(grad_outputs.data if isinstance(grad_outputs, Tensor) else grad_outputs,
                       dtype=np.float64)  # fmt: skip
        if u.shape != out.shape:
            raise ValueError(
                f"gradgradcheck: grad_outputs has shape {u.shape}, fn's output has {out.shape}"
            )

    def first(create_graph: bool) -> list[Any]:
        o = fn(*copies)
        g = grad(o, wrt, grad_outputs=u, create_graph=create_graph, allow_unused=True)
        return _flat_grads(g, wrt)

    # analytic: row j of the Hessian-like matrix d(first_j)/d(x) for every entry j
    firsts = first(create_graph=True)
    rows: list[np.ndarray] = []
    for fi in firsts:
        if not isinstance(fi, Tensor):
            rows.extend(np.zeros(sum(w.data.size for w in wrt)) for _ in range(fi.size))
            continue
        for j in range(fi.shape[0]):
            gj = fi[j]
            if not gj.requires_grad:
                rows.append(np.zeros(sum(w.data.size for w in wrt)))
                continue
            gg = grad(gj, wrt, retain_graph=True, allow_unused=True)
            rows.append(np.concatenate([np.asarray(r) for r in _flat_grads(
                [None if t is None else t.data for t in gg], wrt)]))  # fmt: skip
    analytic = np.array(rows)  # (entries of the first derivative, entries of the inputs)

    def first_values() -> np.ndarray:
        return np.concatenate([np.asarray(f.data if isinstance(f, Tensor) else f)
                               for f in first(create_graph=False)])  # fmt: skip

    col = 0
    for i, x in zip(checked, wrt):
        flat = x.data.reshape(-1)
        for k in range(flat.size):
            orig = flat[k]
            flat[k] = orig + eps
            up = first_values()
            flat[k] = orig - eps
            down = first_values()
            flat[k] = orig
            numeric = (up - down) / (2 * eps)
            a = analytic[:, col]
            bad = np.nonzero(~(np.abs(a - numeric) <= atol + rtol * np.abs(numeric)))[0]
            if bad.size:
                j = int(bad[0])
                idx = tuple(int(v) for v in np.unravel_index(k, x.data.shape))
                raise GradcheckError(
                    i,
                    idx,
                    float(a[j]),
                    float(numeric[j]),
                    f"gradgradcheck: second derivative of entry {j} of the first derivative "
                    f"with respect to input {i} at index {idx} differs: engine {float(a[j])!r}, "
                    f"finite differences {float(numeric[j])!r}",
                )
            col += 1
    return True
