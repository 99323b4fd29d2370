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
    for label, v in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
            raise TypeError(f"gradcheck: {label} must be a number, got {v!r}")
        if not math.isfinite(v) or v < 0 or (label == "eps" and v == 0):
            want = "a positive" if label == "eps" else "a non-negative"
            raise ValueError(f"gradcheck: {label} must be {want} finite number, got {v!r}")
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
        raise ValueError("gradcheck: no input is a Tensor with requires_grad=True")

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
