"""Finite-difference gradient checking, public as ``tg.gradcheck`` and ``tg.gradgradcheck``.

Both follow ``torch.autograd.gradcheck``: every output takes part, and by default the
whole Jacobian is compared, column by column of central differences against row by row of
the engine's vector-Jacobian products (one backward pass per output element, seeded with
that element's unit vector).  A backward that ignores its incoming gradient, sums it over
the wrong axis or returns its transpose therefore fails: summing the outputs first (an
all-ones incoming gradient) would hide every one of those.  ``fast_mode=True`` compares one
seeded random projection ``vᵀ·J·u`` per input instead, and on a mismatch looks for the
index in that input's full Jacobian.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .autograd import no_grad
from .tensor import Tensor

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """The engine's gradient and the finite-difference one disagree.

    Attributes ``input_index``, ``index`` (the input's element), ``output_index`` and
    ``output_element`` (which output, and which of its elements: the Jacobian's row),
    ``analytic``, ``numeric`` and ``relative_error`` say where and by how much.  ``index``
    and ``output_element`` are None for a fast-mode mismatch that the full Jacobian could
    not place.  (It subclasses AssertionError so test frameworks report it as a failure.)
    """

    def __init__(
        self,
        input_index: int,
        index: tuple[int, ...] | None,
        analytic: float,
        numeric: float,
        message: str,
        output_index: int | None = None,
        output_element: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__(message)
        self.input_index = input_index
        self.index = index
        self.analytic = analytic
        self.numeric = numeric
        self.output_index = output_index
        self.output_element = output_element
        self.relative_error = _relative(analytic, numeric)


def _relative(a: float, n: float) -> float:
    d = abs(a - n)
    scale = max(abs(a), abs(n))
    return 0.0 if d == 0 else (math.inf if scale == 0 else d / scale)


def _check_numbers(fn_name: str, eps: Any, atol: Any, rtol: Any) -> None:
    for label, v in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
            raise TypeError(f"{fn_name}: {label} must be a number, got {v!r}")
        if not math.isfinite(v) or v < 0 or (label == "eps" and v == 0):
            want = "a positive" if label == "eps" else "a non-negative"
            raise ValueError(f"{fn_name}: {label} must be {want} finite number, got {v!r}")


def _prepare(
    fn_name: str, inputs: Sequence[Any], eps: Any, atol: Any, rtol: Any
) -> tuple[list[Any], list[int]]:
    """Check the step and tolerances; float64 copies of the inputs (others as they are)
    and the positions of those that require grad."""
    _check_numbers(fn_name, eps, atol, rtol)
    if isinstance(inputs, Tensor):
        inputs = [inputs]
    copies: list[Any] = []
    checked: list[int] = []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor):
            floating = x.dtype.kind == "f"
            c = Tensor(
                x.data.astype(np.float64) if floating else np.array(x.data, copy=True),
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


def _outputs(fn_name: str, out: Any) -> tuple[Tensor, ...]:
    """``fn``'s result as a tuple of Tensors (a Tensor, or a tuple/list of them)."""
    outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
    if not outs or not all(isinstance(o, Tensor) for o in outs):
        got = type(out).__name__ if not isinstance(out, (tuple, list)) else (
            "a sequence of " + ", ".join(type(o).__name__ for o in outs)
        )  # fmt: skip
        raise TypeError(f"{fn_name}: fn must return a Tensor or a tuple of Tensors, got {got}")
    return outs


def _differentiable(o: Tensor) -> bool:
    return o.data.dtype.kind == "f"


class _Problem:
    """``fn`` at float64 copies of the inputs: its outputs' values and the engine's
    vector-Jacobian products, with every ``.grad`` left as it was."""

    def __init__(self, fn_name: str, fn: Callable[..., Any], copies: list[Any], checked: list[int]):
        self.fn_name = fn_name
        self.fn = fn
        self.copies = copies
        self.checked = checked
        self.wrt = [copies[i] for i in checked]
        self.outs = _outputs(fn_name, fn(*copies))
        self.shapes = [o.shape for o in self.outs]
        self.sizes = [o.data.size if _differentiable(o) else 0 for o in self.outs]
        self.n_out = sum(self.sizes)

    def values(self) -> np.ndarray:
        """All float outputs, flattened and concatenated, at the copies' current values."""
        if self.fn_name == "gradgradcheck":  # its fn takes a derivative: a graph is needed
            outs = _outputs(self.fn_name, self.fn(*self.copies))
        else:
            with no_grad():
                outs = _outputs(self.fn_name, self.fn(*self.copies))
        if [o.shape for o in outs] != self.shapes:
            raise RuntimeError(
                f"{self.fn_name}: fn's outputs changed shape between calls: {self.shapes} then "
                f"{[o.shape for o in outs]}"
            )
        parts = [
            np.asarray(o.data, dtype=np.float64).reshape(-1) for o in outs if _differentiable(o)
        ]
        return np.concatenate(parts) if parts else np.zeros(0)

    def vjp(self, v: np.ndarray) -> list[np.ndarray]:
        """``Jᵀ·v`` for each checked input (flat), ``v`` laid out as :meth:`values`."""
        from .autograd import grad

        roots, seeds = [], []
        start = 0
        for o, n in zip(self.outs, self.sizes):
            if n == 0:
                continue
            if o.requires_grad:
                roots.append(o)
                seeds.append(v[start : start + n].reshape(o.shape))
            start += n
        if not roots:
            return [np.zeros(w.data.size) for w in self.wrt]
        gs = grad(roots, self.wrt, grad_outputs=seeds, retain_graph=True, allow_unused=True)
        out = []
        for g, w in zip(gs, self.wrt):
            if g is None:
                out.append(np.zeros(w.data.size))
                continue
            a = np.asarray(g.data if isinstance(g, Tensor) else g, dtype=np.float64)
            if a.size != w.data.size:
                raise RuntimeError(
                    f"{self.fn_name}: the backward returned a gradient of shape {a.shape} for an "
                    f"input of shape {w.shape}"
                )
            out.append(a.reshape(-1))
        return out

    def locate(self, flat: int) -> tuple[int, tuple[int, ...]]:
        """A flat position in :meth:`values` as (output number, index in that output)."""
        for k, n in enumerate(self.sizes):
            if flat < n:
                return k, tuple(int(j) for j in np.unravel_index(flat, self.shapes[k]))
            flat -= n
        raise IndexError(flat)  # pragma: no cover

    def analytic_jacobians(self) -> list[np.ndarray]:
        """The engine's Jacobian of every output with respect to each checked input, one
        row (one backward pass) per output element."""
        jac = [np.zeros((self.n_out, w.data.size)) for w in self.wrt]
        e = np.zeros(self.n_out)
        for j in range(self.n_out):
            e[j] = 1.0
            for J, row in zip(jac, self.vjp(e)):
                J[j] = row
            e[j] = 0.0
        return jac

    def numeric_column(self, x: Tensor, k: int, eps: float, direction: Any = None) -> np.ndarray:
        """Central differences of every output along element ``k`` of ``x`` (or along
        ``direction``, an array of ``x``'s size, when given)."""
        flat = x.data.reshape(-1)  # a view: perturbing it perturbs x.data
        if direction is None:
            orig = flat[k]
            flat[k] = orig + eps
            up = self.values()
            flat[k] = orig - eps
            down = self.values()
            flat[k] = orig
        else:
            orig = flat.copy()
            flat[:] = orig + eps * direction
            up = self.values()
            flat[:] = orig - eps * direction
            down = self.values()
            flat[:] = orig
        return (up - down) / (2 * eps)


def _fail(
    p: _Problem,
    what: str,
    i: int,
    x: Tensor,
    k: int | None,
    j: int | None,
    a: float,
    n: float,
    atol: float,
    rtol: float,
    raise_exception: bool,
) -> bool:
    if not raise_exception:
        return False
    idx = None if k is None else tuple(int(v) for v in np.unravel_index(k, x.shape))
    where = f"input {i} at index {idx}" if idx is not None else f"input {i}"
    out_k, out_idx = (None, None) if j is None else p.locate(j)
    if out_k is None:
        of = "a random projection of the outputs (fast_mode)"
    elif len(p.outs) == 1:
        of = f"output element {out_idx}"
    else:
        of = f"output {out_k} element {out_idx}"
    rel = _relative(a, n)
    msg = (
        f"{p.fn_name}: {what} of {of} with respect to {where} differs: engine {a!r}, "
        f"finite differences {n!r} (relative error {rel:.3g}; |diff| {abs(a - n):.3g} > atol "
        f"{atol:g} + rtol {rtol:g} * |numeric|)"
    )
    raise GradcheckError(i, idx, a, n, msg, out_k, out_idx)


def _compare_full(
    p: _Problem, eps: float, atol: float, rtol: float, raise_exception: bool, what: str,
    only: int | None = None, seed: int = 0,
) -> bool | None:  # fmt: skip
    """The whole Jacobian; the first mismatch in input order, then the input's element,
    then the output's element.  ``only``: one checked position.  None when all agree."""
    jac = p.analytic_jacobians()
    for pos, (i, x) in enumerate(zip(p.checked, p.wrt)):
        if only is not None and pos != only:
            continue
        A = jac[pos]
        for k in range(x.data.size):
            col = p.numeric_column(x, k, eps)
            a = A[:, k]
            bad = np.nonzero(~(np.abs(a - col) <= atol + rtol * np.abs(col)))[0]
            if bad.size:
                j = int(bad[0])
                return _fail(p, what, i, x, k, j, float(a[j]), float(col[j]), atol, rtol,
                             raise_exception)  # fmt: skip
    # The rows came from unit incoming gradients.  A backward must be linear in its
    # incoming gradient (g·g or |g| is right at 0 and 1 only): one more, random, one.
    v = np.random.default_rng(seed).standard_normal(p.n_out)
    for pos, (i, x, got) in enumerate(zip(p.checked, p.wrt, p.vjp(v))):
        if only is not None and pos != only:
            continue
        want = v @ jac[pos]
        bad = np.nonzero(~(np.abs(got - want) <= atol + rtol * np.abs(want)))[0]
        if bad.size:
            k = int(bad[0])
            if not raise_exception:
                return False
            idx = tuple(int(t) for t in np.unravel_index(k, x.shape))
            a, n = float(got[k]), float(want[k])
            raise GradcheckError(
                i, idx, a, n,
                f"{p.fn_name}: the backward is not linear in its incoming gradient: with a random "
                f"incoming gradient, {what} with respect to input {i} at index {idx} is {a!r}, "
                f"but the Jacobian's rows (each checked by finite differences) combine to {n!r} "
                f"(relative error {_relative(a, n):.3g})",
            )  # fmt: skip
    return None


def _compare_fast(
    p: _Problem, eps: float, atol: float, rtol: float, raise_exception: bool, what: str, seed: int
) -> bool | None:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(p.n_out)
    us = [rng.standard_normal(w.data.size) for w in p.wrt]
    vjps = p.vjp(v)
    for pos, (i, x) in enumerate(zip(p.checked, p.wrt)):
        a = float(vjps[pos] @ us[pos])
        n = float(v @ p.numeric_column(x, 0, eps, direction=us[pos]))
        if not abs(a - n) <= atol + rtol * abs(n):
            # find the element: the full Jacobian of this input (raises when it finds it)
            found = _compare_full(p, eps, atol, rtol, raise_exception, what, pos, seed)
            if found is not None:
                return found
            return _fail(p, what, i, x, None, None, a, n, atol, rtol, raise_exception)
    return None


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool = False,
    seed: int = 0,
) -> bool:
    """Compare the engine's Jacobian of ``fn(*inputs)`` with central differences.

    As ``torch.autograd.gradcheck``: ``fn`` returns a Tensor or a tuple of Tensors, and
    every element of every floating output takes part.  Each input that is a Tensor with
    ``requires_grad=True`` is checked.  By default the whole Jacobian is compared: its
    rows from the engine (one backward pass per output element, seeded with that element's
    unit vector) against its columns from central differences (two calls of ``fn`` per
    input element).  An entry passes when ``|analytic − numeric| <= atol + rtol·|numeric|``.
    One more backward pass with a random incoming gradient checks that the backward is
    linear in it (a stricter check than PyTorch's, which a backward using ``g·g`` passes).
    ``fast_mode=True`` compares one random projection ``vᵀ·J·u`` per input (``seed``
    draws ``v`` and ``u``), and on a mismatch looks for the index in that input's Jacobian.

    The check runs on float64 copies whatever the inputs' dtype; the inputs are left
    unchanged, and so is every ``.grad`` (of tensors ``fn`` captures too).

    Returns ``True``; on a mismatch raises :class:`GradcheckError` naming the input, its
    index, the output element, both values and the relative error, or returns ``False``
    with ``raise_exception=False``.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> x = tg.Tensor([[0.5, -1.0], [2.0, 0.1]], requires_grad=True)
    >>> tg.gradcheck(lambda t: (t * t).tanh(), [x])
    True
    """
    copies, checked = _prepare("gradcheck", inputs, eps, atol, rtol)
    return _check("gradcheck", "the derivative", fn, copies, checked, eps, atol, rtol,
                  raise_exception, fast_mode, seed)  # fmt: skip


def _check(
    name: str, what: str, fn: Callable[..., Any], copies: list[Any], checked: list[int],
    eps: float, atol: float, rtol: float, raise_exception: bool, fast_mode: bool, seed: int,
) -> bool:  # fmt: skip
    p = _Problem(name, fn, copies, checked)
    if fast_mode:
        r = _compare_fast(p, eps, atol, rtol, raise_exception, what, seed)
    else:
        r = _compare_full(p, eps, atol, rtol, raise_exception, what, None, seed)
    return True if r is None else r


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    grad_outputs: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool = False,
    seed: int = 0,
) -> bool:
    """Compare the engine's second derivatives with finite differences of its first.

    As ``torch.autograd.gradgradcheck``: the first derivative is the vector-Jacobian
    product ``J(x)ᵀ·u`` of ``fn`` at the inputs, taken by the engine with
    ``create_graph=True``; ``u`` is ``grad_outputs`` (seeded random normals when not given,
    so every output takes part).  :func:`gradcheck` then checks that first derivative as a
    function of the inputs *and* of ``u`` (a backward must be linear in its incoming
    gradient): the full Jacobian by default, a random projection with ``fast_mode=True``.
    The inputs come first in the numbering; ``u`` (one per output) after them.  Returns
    ``True`` or raises :class:`GradcheckError` (``False`` with ``raise_exception=False``).

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> x = tg.Tensor([[0.5, -1.0], [2.0, 0.1]], requires_grad=True)
    >>> tg.gradgradcheck(lambda t: (t * t).tanh(), [x])
    True
    """
    from .autograd import grad

    name = "gradgradcheck"
    copies, checked = _prepare(name, inputs, eps, atol, rtol)
    outs = _outputs(name, fn(*copies))
    diff = [o for o in outs if _differentiable(o)]
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        us = [rng.standard_normal(o.shape) for o in diff]
    else:
        given = grad_outputs if isinstance(grad_outputs, (tuple, list)) else [grad_outputs]
        if len(given) != len(diff):
            raise ValueError(
                f"{name}: got {len(given)} grad_outputs for {len(diff)} floating outputs"
            )
        us = []
        for g, o in zip(given, diff):
            u = np.asarray(g.data if isinstance(g, Tensor) else g, dtype=np.float64)
            if u.shape != o.shape:
                raise ValueError(
                    f"{name}: grad_outputs has shape {u.shape}, fn's output has {o.shape}"
                )
            us.append(u.copy())
    n_in = len(copies)

    def first(*args: Any) -> tuple[Tensor, ...]:
        xs, seeds = args[:n_in], args[n_in:]
        wrt = [xs[i] for i in checked]
        os = [o for o in _outputs(name, fn(*xs)) if _differentiable(o)]
        pairs = [(o, s) for o, s in zip(os, seeds) if o.requires_grad]
        if not pairs:
            return tuple(Tensor(np.zeros(w.shape)) for w in wrt)
        gs = grad([o for o, _ in pairs], wrt, grad_outputs=[s for _, s in pairs],
                  create_graph=True, allow_unused=True)  # fmt: skip
        return tuple(Tensor(np.zeros(w.shape)) if g is None else g for g, w in zip(gs, wrt))

    seeds = [Tensor(u, requires_grad=True) for u in us]
    all_checked = checked + list(range(n_in, n_in + len(seeds)))
    return _check(name, "the second derivative", first, list(copies) + seeds, all_checked,
                  eps, atol, rtol, raise_exception, fast_mode, seed)  # fmt: skip
