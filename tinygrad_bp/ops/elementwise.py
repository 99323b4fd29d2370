"""Elementwise ops: arithmetic, the activations and the functions of one value.

Each closure's derivative is written once in the dialect of :mod:`.dialect`: the values it
differentiates are its default arguments (a parent's array or the op's own output), so the
engine can call the same lines with Tensors under ``create_graph=True``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import REUSE, _reused
from ..backend import xp
from ..tensor import OUT, SAVE_OUT, Tensor, leaf, make_node
from . import dialect as D
from ._common import _PY_SCALARS, broadcast_error, floating, pair, primitive, result_type

__all__ = [
    "add", "sub", "mul", "div", "pow", "neg", "clone", "exp", "log", "sqrt", "relu", "sigmoid",
    "tanh", "sin", "cos", "tan", "abs", "square", "log1p", "erf", "clamp", "maximum",
    "minimum", "where", "sign", "floor", "ceil", "floor_divide", "remainder", "bitwise",
]  # fmt: skip


# ---------------------------------------------------------------- binary arithmetic
@primitive("arithmetic", ("g", "g"))
def add(a: Any, b: Any) -> Tensor:
    """``a + b``.  ∂/∂a = g, ∂/∂b = g (summed over broadcast axes by the engine: that is
    the bias gradient, Σ over the batch).

    Where ``a`` was handed to :func:`~tinygrad_bp.autograd.release` with ``reuse=True``
    and the sum has its shape and dtype, the sum is written into ``a``'s array."""
    a, b = pair(a, b, "add")
    ad, bd = a.data, b.data
    try:
        if not a._flags & REUSE:
            out = ad + bd
        elif (
            bd.dtype is ad.dtype
            and bd.ndim <= ad.ndim
            and (
                ad.shape[ad.ndim - bd.ndim :] == bd.shape
                # b broadcast along some of a's axes (conv2d's (C_out, 1) bias)
                or all(
                    nb == 1 or nb == na for na, nb in zip(ad.shape[ad.ndim - bd.ndim :], bd.shape)
                )
            )
        ):
            if bd.ndim == 1 and ad.ndim == 2 and ad.shape[1] <= 4:
                # a bias over a few columns (the logits of a small classifier): NumPy's
                # loop would run once per row on 3 elements; column by column it runs
                # 3 times on the rows, 1.4x faster on (150, 3) (the same sums)
                out = xp.add(ad, bd, out=ad, order="F")
            else:
                out = xp.add(ad, bd, out=ad)
            _reused(a, "add")
        else:  # the sum does not fit a's array: computed as usual, a keeps its value
            a._flags &= ~REUSE
            out = ad + bd
    except ValueError:
        raise broadcast_error("add", a, b) from None

    def backward(g: Any) -> tuple[Any, Any]:
        return g, g

    return make_node(out, (a, b), "add", backward)


@primitive("arithmetic", ("g", "−g"))
def sub(a: Any, b: Any) -> Tensor:
    """``a - b``.  ∂/∂a = g, ∂/∂b = -g."""
    a, b = pair(a, b, "sub")
    try:
        out = a.data - b.data
    except ValueError:
        raise broadcast_error("sub", a, b) from None
    rb = b.requires_grad

    def backward(g: Any) -> tuple[Any, Any]:
        return g, (-g if rb else None)

    return make_node(out, (a, b), "sub", backward)


@primitive("arithmetic", ("g·{v}", "g·{u}"))
def mul(a: Any, b: Any) -> Tensor:
    """``a * b``.  ∂/∂a = g·b, ∂/∂b = g·a."""
    a, b = pair(a, b, "mul")
    ad, bd = a.data, b.data
    try:
        out = ad * bd
    except ValueError:
        raise broadcast_error("mul", a, b) from None
    # what each side's derivative needs, and only that (as PyTorch saves): ∂/∂a reads b
    if a.requires_grad:
        if b.requires_grad:
            ab = (a, b)

            def backward(g: Any, a: Any, b: Any) -> tuple[Any, Any]:
                return g * b, g * a

            return make_node(out, ab, "mul", backward, ab)

        def backward_a(g: Any, b: Any) -> tuple[Any, Any]:
            return g * b, None

        return make_node(out, (a, b), "mul", backward_a, (b,))

    def backward_b(g: Any, a: Any) -> tuple[Any, Any]:
        return None, g * a

    return make_node(out, (a, b), "mul", backward_b, (a,))


@primitive("arithmetic", ("g/{v}", "−g·{u}/{vp}²"))
def div(a: Any, b: Any) -> Tensor:
    """``a / b``.  ∂/∂a = g / b, ∂/∂b = −(g / b)·a / b (= −g·a / b²)."""
    a, b = pair(a, b, "div")
    if a.data.dtype.kind != "f":  # int / int is true division: the default float dtype
        a, b = floating(a, "div"), floating(b, "div")
    bd = b.data
    try:
        out = a.data / bd
    except ValueError:
        raise broadcast_error("div", a, b) from None
    ra = a.requires_grad
    if b.requires_grad:

        def backward(g: Any, a: Any, b: Any) -> tuple[Any, Any]:
            ga = g / b
            return (ga if ra else None), -ga * a / b

        ab = (a, b)
        return make_node(out, ab, "div", backward, ab)

    def backward_a(g: Any, b: Any) -> tuple[Any, Any]:
        return g / b, None

    return make_node(out, (a, b), "div", backward_a, (b,))


@primitive("arithmetic", ("g·{v}·{up}^({v} − 1)", "g·{up}^{v}·ln {u}"))
def pow(a: Any, b: Any) -> Tensor:  # noqa: A001  (the op's name)
    """``a ** b``.  ∂/∂a = g·b·a^(b−1), 0 where b = 0; ∂/∂b = g·out·log(a), 0 where
    a = 0 and b ≥ 0 (PyTorch's conventions: a polynomial Σ xᵏ has a finite gradient at 0).
    The dtype is ``torch.result_type``'s: an integer tensor to an integer power stays
    integer (a negative Python exponent is refused, as PyTorch does), to a float power it
    takes the default float dtype."""
    if isinstance(a, Tensor) and isinstance(b, _PY_SCALARS) and not isinstance(b, (bool, np.bool_)):
        return _pow_scalar(a, b)
    a, b = pair(a, b, "pow")
    ad, bd = a.data, b.data
    if ad.dtype.kind != "f":
        return _pow_int(a, b)
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = D.power(ad, bd)
    except ValueError:
        raise broadcast_error("pow", a, b) from None
    ra, rb = a.requires_grad, b.requires_grad

    def backward(g: Any, a: Any, b: Any, *out: Any) -> tuple[Any, Any]:
        # PyTorch's two formulas, term for term (pow_backward_self, pow_backward_exponent:
        # g multiplies the where from outside), so that their derivatives meet the same
        # ∞·0 at a base of 0 or below, where log(a) is not finite, as PyTorch's do
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if ra:
                ga = D.where(b == 0, 0.0, g * (b * D.power(a, b - 1)))
            if rb:
                gb = g * D.where((a == 0) & (b >= 0), 0.0, out[0] * D.log(a))
        return ga, gb

    ab = (a, b)
    return make_node(out, ab, "pow", backward, (a, b, OUT) if rb else ab)


def _pow_int(a: Tensor, b: Tensor) -> Tensor:
    """Integer ``a ** b`` elementwise, PyTorch's values for negative exponents (1 for a
    base of 1, ±1 for −1, 0 otherwise); never differentiable."""
    ad, bd = a.data, b.data
    if ad.dtype.kind == "b":
        ad, bd = ad.astype(np.int64), bd.astype(np.int64)
    try:
        out = ad ** xp.maximum(bd, 0)
    except ValueError:
        raise broadcast_error("pow", a, b) from None
    neg = bd < 0
    if neg.any():
        odd = (bd % 2) == 1
        out = xp.where(neg, xp.where(ad == 1, 1, xp.where(ad == -1, xp.where(odd, -1, 1), 0)), out)
        out = out.astype(ad.dtype, copy=False)
    return make_node(out, (a, b), "pow", _no_backward)


def _no_backward(g: Any) -> tuple[None, None]:
    return None, None


def _pow_scalar(a: Tensor, p: Any) -> Tensor:
    """``a ** p`` for a Python number ``p``.  ∂/∂a = g·p·a^(p−1) (0 for p = 0)."""
    if a.data.dtype.kind != "f":
        if isinstance(p, (float, np.floating)):
            a = floating(a, "pow")  # int ** 2.0 is a float, as in PyTorch (never truncated)
        else:
            if p < 0:
                raise RuntimeError(
                    f"pow: integers to negative integer powers are not allowed (as in "
                    f"PyTorch); got a {a.data.dtype} tensor ** {p}: write x.double() ** {p} "
                    f"or x ** {float(p)}"
                )
            ad = a.data.astype(np.int64) if a.data.dtype.kind == "b" else a.data
            return make_node(ad ** int(p), (a,), f"pow {p}", _no_backward_one)
    p = float(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = D.power(a.data, p)  # (PyTorch's special cases: ** -0.5 is 1/sqrt, ...)

    def backward(g: Any, a: Any) -> tuple[Any]:
        if p == 0.0:
            return (D.zeros_like(g),)  # zeros even where g is not finite (PyTorch's)
        if p == 2.0:
            return (g * (2.0 * a),)
        if p == 1.0:
            return (g,)
        with np.errstate(divide="ignore", invalid="ignore"):  # (a^(p−1) as the forward's)
            return (g * (p * D.power(a, p - 1.0)),)

    return make_node(out, (a,), f"pow {p:g}", backward, (a,))


def _no_backward_one(g: Any) -> tuple[None]:
    return (None,)


@primitive("arithmetic", "g")
def clone(x: Tensor) -> Tensor:
    """A copy of ``x`` with its own array.  ∂/∂x = g."""

    def backward(g: Any) -> tuple[Any]:
        return (g,)

    return make_node(x.data.copy(), (x,), "clone", backward)


@primitive("arithmetic", "−g")
def neg(a: Tensor) -> Tensor:
    """``-a``.  ∂/∂a = -g."""

    def backward(g: Any) -> tuple[Any]:
        return (-g,)

    return make_node(-a.data, (a,), "neg", backward)


def _divide_rounding(a: Any, b: Any, op: str, fn: Any) -> tuple[Tensor, Tensor, Any, Any, Any]:
    """The forward shared by ``//`` and ``%``: operands promoted, booleans as int64, NumPy's
    ``fn``, a broadcast error and an integer division by zero named as ``op``."""
    a, b = pair(a, b, op)
    ad, bd = a.data, b.data
    if ad.dtype.kind == "b":
        ad, bd = ad.astype(np.int64), bd.astype(np.int64)
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = fn(ad, bd)
    except ValueError:
        raise broadcast_error(op, a, b) from None
    if ad.dtype.kind != "f" and out.size and not xp.all(bd):
        raise RuntimeError(f"{op}: integer division by zero (as in PyTorch)")
    return a, b, ad, bd, out


@primitive("arithmetic", ("none (as PyTorch)", "none (as PyTorch)"))
def floor_divide(a: Any, b: Any) -> Tensor:
    """``a // b``: the quotient rounded down (Python's and PyTorch's ``//``), in
    ``torch.result_type``'s dtype.  An integer division by zero is refused, as PyTorch
    does.  Like PyTorch, it has no derivative: backward through it raises."""
    a, b, _, _, out = _divide_rounding(a, b, "floor_divide", xp.floor_divide)

    def backward(g: Any) -> tuple[Any, Any]:
        raise RuntimeError(
            "floor_divide: the derivative of // is not implemented (as in PyTorch); for a "
            "zero gradient write (a / b).floor()"
        )

    return make_node(out, (a, b), "floor_divide", backward)


@primitive("arithmetic", ("g", "−g·⌊{u}/{v}⌋"))
def remainder(a: Any, b: Any) -> Tensor:
    """``a % b`` with the sign of ``b`` (Python's, NumPy's and PyTorch's ``%``).
    ∂/∂a = g, ∂/∂b = −g·floor(a / b)."""
    a, b, ad, bd, out = _divide_rounding(a, b, "remainder", xp.remainder)
    ra, rb = a.requires_grad, b.requires_grad
    if rb:
        with np.errstate(divide="ignore", invalid="ignore"):
            q = xp.floor_divide(ad, bd)  # a constant: floor(a / b) (0 gradient a.e.)

    def backward(g: Any) -> tuple[Any, Any]:
        return (g if ra else None), (-(g * q) if rb else None)

    return make_node(out, (a, b), "remainder", backward)


_BITWISE = {"&": np.bitwise_and, "|": np.bitwise_or, "^": np.bitwise_xor}


def bitwise(a: Any, b: Any, op: str) -> Tensor:
    """``a & b``, ``a | b``, ``a ^ b`` on boolean or integer tensors (bitwise, as PyTorch;
    on booleans that is the logical operation).  Never differentiable; a float operand is
    refused, as PyTorch does."""
    a, b = pair(a, b, op)
    if a.data.dtype.kind not in "biu":
        raise TypeError(
            f"{op}: bitwise operations need boolean or integer tensors, got "
            f"{a.data.dtype} (as in PyTorch)"
        )
    try:
        out = _BITWISE[op](a.data, b.data)
    except ValueError:
        raise broadcast_error(op, a, b) from None
    return leaf(xp.asarray(out))  # (0-d operands: NumPy gives a scalar, which cannot be viewed)


# ---------------------------------------------------------------- functions of one value
@primitive("unary", "g·{y}")
def exp(x: Tensor) -> Tensor:
    """``exp(x)``.  ∂/∂x = g·out."""
    x = floating(x, "exp")
    out = xp.exp(x.data)

    def backward(g: Any, out: Any) -> tuple[Any]:
        return (g * out,)

    return make_node(out, (x,), "exp", backward, SAVE_OUT)


@primitive("unary", "g/{x}")
def log(x: Tensor) -> Tensor:
    """``log(x)``.  ∂/∂x = g / x."""
    x = floating(x, "log")
    xd = x.data
    with np.errstate(divide="ignore", invalid="ignore"):
        out = xp.log(xd)

    def backward(g: Any, x: Any) -> tuple[Any]:
        return (g / x,)

    return make_node(out, (x,), "log", backward, (x,))


@primitive("unary", "g/(1 + {x})")
def log1p(x: Tensor) -> Tensor:
    """``log(1 + x)``, accurate for small x.  ∂/∂x = g / (1 + x)."""
    x = floating(x, "log1p")
    xd = x.data
    with np.errstate(divide="ignore", invalid="ignore"):
        out = xp.log1p(xd)

    def backward(g: Any, x: Any) -> tuple[Any]:
        return (g / (1 + x),)

    return make_node(out, (x,), "log1p", backward, (x,))


@primitive("unary", "g/(2·{y})")
def sqrt(x: Tensor) -> Tensor:
    """``√x``.  ∂/∂x = g / (2·out)."""
    x = floating(x, "sqrt")
    with np.errstate(invalid="ignore"):
        out = xp.sqrt(x.data)

    def backward(g: Any, out: Any) -> tuple[Any]:
        with np.errstate(divide="ignore"):
            return (g / (2 * out),)

    return make_node(out, (x,), "sqrt", backward, SAVE_OUT)


@primitive("unary", "g·cos {x}")
def sin(x: Tensor) -> Tensor:
    """``sin(x)``.  ∂/∂x = g·cos(x)."""
    x = floating(x, "sin")
    xd = x.data

    def backward(g: Any, x: Any) -> tuple[Any]:
        return (g * D.cos(x),)

    return make_node(xp.sin(xd), (x,), "sin", backward, (x,))


@primitive("unary", "−g·sin {x}")
def cos(x: Tensor) -> Tensor:
    """``cos(x)``.  ∂/∂x = −g·sin(x)."""
    x = floating(x, "cos")
    xd = x.data

    def backward(g: Any, x: Any) -> tuple[Any]:
        return (-(g * D.sin(x)),)

    return make_node(xp.cos(xd), (x,), "cos", backward, (x,))


@primitive("unary", "g·(1 + {yp}²)")
def tan(x: Tensor) -> Tensor:
    """``tan(x)``.  ∂/∂x = g·(1 + out²)."""
    x = floating(x, "tan")
    out = xp.tan(x.data)

    def backward(g: Any, out: Any) -> tuple[Any]:
        return (g * (1 + out * out),)

    return make_node(out, (x,), "tan", backward, SAVE_OUT)


@primitive("unary", "g·sign({x})")
def abs(x: Tensor) -> Tensor:  # noqa: A001
    """``|x|``.  ∂/∂x = g·sign(x) (0 at 0, as PyTorch)."""
    xd = x.data

    def backward(g: Any, x: Any) -> tuple[Any]:
        return (g * D.sign(x),)

    return make_node(xp.abs(xd), (x,), "abs", backward, (x,))


@primitive("unary", "g·2·{x}")
def square(x: Tensor) -> Tensor:
    """``x²``.  ∂/∂x = 2·g·x."""
    xd = x.data

    def backward(g: Any, x: Any) -> tuple[Any]:
        return (g * (2 * x),)

    return make_node(xd * xd, (x,), "square", backward, (x,))


_TWO_OVER_SQRT_PI = 2.0 / np.sqrt(np.pi)


@primitive("unary", "g·2/√π·e^(−{xp}²)")
def erf(x: Tensor) -> Tensor:
    """The error function ``erf(x) = 2/√π ∫₀ˣ e^(−t²) dt`` (SciPy's).
    ∂/∂x = g·2/√π·e^(−x²)."""
    from scipy.special import erf as erf_array

    x = floating(x, "erf")
    xd = x.data
    out = erf_array(xd).astype(xd.dtype, copy=False)

    def backward(g: Any, x: Any) -> tuple[Any]:
        return (g * (_TWO_OVER_SQRT_PI * D.exp(-(x * x))),)

    return make_node(out, (x,), "erf", backward, (x,))


def _zero_grad_op(name: str, fn: Any) -> Any:
    def op(x: Tensor) -> Tensor:
        def backward(g: Any) -> tuple[Any]:
            return (D.zeros_like(g),)  # zeros, even where g is infinite or NaN (PyTorch's)

        return make_node(fn(x.data), (x,), name, backward)

    op.__name__ = name
    op.__doc__ = f"``{name}(x)``, elementwise.  ∂/∂x = 0 (almost everywhere, as in PyTorch)."
    return primitive("unary", "0", name=name)(op)


def _sign(a: Any) -> Any:
    out = xp.sign(a)
    if out.dtype.kind == "f":  # PyTorch's sign of NaN is 0
        out = xp.where(xp.isnan(out), 0, out).astype(out.dtype, copy=False)
    return out


sign = _zero_grad_op("sign", _sign)
floor = _zero_grad_op("floor", xp.floor)
ceil = _zero_grad_op("ceil", xp.ceil)


@primitive("arithmetic", "g where min ≤ {x} ≤ max")
def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """``x`` limited to ``[min, max]``.  ∂/∂x = g where min ≤ x ≤ max, else 0 (PyTorch's
    rule: the boundary passes the gradient)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    xd = x.data
    mask = xp.ones(xd.shape, dtype=bool)
    out = xd
    if min is not None:
        mask &= xd >= min
        out = xp.maximum(out, xp.asarray(min, dtype=xd.dtype))
    if max is not None:
        mask &= xd <= max
        out = xp.minimum(out, xp.asarray(max, dtype=xd.dtype))
    if out is xd:
        out = xd.copy()

    def backward(g: Any) -> tuple[Any]:
        return (D.where(mask, g, 0.0),)  # (a NaN gradient outside stays out, as PyTorch)

    return make_node(out, (x,), "clamp", backward)


def _extremum(a: Any, b: Any, op: str, pick: Any, loses: Any) -> Tensor:
    a, b = pair(a, b, op)
    ad, bd = a.data, b.data
    try:
        out = pick(ad, bd)
    except ValueError:
        raise broadcast_error(op, a, b) from None
    # a constant share of the gradient per side, PyTorch's rule: ½ each on ties, else all
    # of it to each side that does not lose (so both get it where one is NaN)
    with np.errstate(invalid="ignore"):
        tie = xp.where(ad == bd, 0.5, 1.0)
        keep_a, keep_b = ~loses(ad, bd), ~loses(bd, ad)
    ra, rb = a.requires_grad, b.requires_grad

    def backward(g: Any) -> tuple[Any, Any]:
        gt = g * tie  # (where, not a product with 0, for the losing side: an infinite g
        return (  # gives it 0, as PyTorch's masked_fill does)
            D.where(keep_a, gt, 0.0) if ra else None,
            D.where(keep_b, gt, 0.0) if rb else None,
        )

    return make_node(out, (a, b), op, backward)


@primitive("arithmetic", ("g·[{u} > {v}]", "g·[{v} > {u}]"))
def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum.  ∂/∂a = g where a > b, ∂/∂b = g where b > a; ties split g
    evenly between them, as PyTorch does."""
    return _extremum(a, b, "maximum", xp.maximum, xp.less)


@primitive("arithmetic", ("g·[{u} < {v}]", "g·[{v} < {u}]"))
def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum.  ∂/∂a = g where a < b, ∂/∂b = g where b < a; ties split g
    evenly."""
    return _extremum(a, b, "minimum", xp.minimum, xp.greater)


@primitive("arithmetic", ("g where cond", "g where not cond"))
def where(cond: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``cond`` else ``b`` (NumPy broadcasting).  ``cond`` is a boolean array or
    Tensor and is never differentiated.  ∂/∂a = g where cond, ∂/∂b = g where not cond."""
    # (a Tensor's mask is copied: an in-place change of it later must not reach backward)
    c = cond.data.copy() if isinstance(cond, Tensor) else xp.asarray(cond)
    if c.dtype != bool:
        raise TypeError(f"where: cond must be boolean, got dtype {c.dtype}")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        # two numbers or arrays: the dtype of torch.where(mask, 1, 0) (int64 for ints)
        dt = result_type(a, b, op="where")
        a = leaf(xp.asarray(a).astype(dt), "const")
    a, b = pair(a, b, "where")
    try:
        out = xp.where(c, a.data, b.data)
    except ValueError:
        raise ValueError(
            f"where: shapes {c.shape}, {a.data.shape} and {b.data.shape} cannot be broadcast "
            f"together"
        ) from None
    ra, rb = a.requires_grad, b.requires_grad

    def backward(g: Any) -> tuple[Any, Any]:
        return (D.where(c, g, 0.0) if ra else None), (D.where(c, 0.0, g) if rb else None)

    return make_node(out, (a, b), "where", backward)


# The activations write into their input's array where it was released for reuse
# (autograd.release: nn.Dense computes the activation in its add node's array); each
# backward reads only the activation's output.
@primitive("unary", "g·[{x} > 0]")
def relu(x: Tensor) -> Tensor:
    """``h = max(x, 0)``.  ∂/∂x = g where x > 0 (where h > 0) or x is NaN, else 0: 0 even
    where g is infinite (PyTorch's)."""
    xd = x.data
    if x._flags & REUSE:
        out = xp.maximum(xd, 0, out=xd)
        _reused(x, "relu")
    else:
        out = xp.maximum(xd, 0)

    def backward(g: Any, out: Any) -> tuple[Any]:
        return (D.where_positive(out, g),)  # (0 where off, even for an infinite g)

    return make_node(out, (x,), "relu", backward, SAVE_OUT)


@primitive("unary", "g·{y}·(1 − {y})")
def sigmoid(x: Tensor) -> Tensor:
    """``s = 1 / (1 + e^-x)``, computed without overflow.  ∂/∂x = g·s·(1 − s)."""
    xd = x.data
    if xd.dtype.kind != "f":  # an integer tensor: promoted, as in PyTorch
        x = floating(x, "sigmoid")
        xd = x.data
    pos = xd >= 0
    # e^{-|x|} never overflows; pick the form that is stable on each side of 0.
    e = xp.exp(-xp.abs(xd))
    d = 1 + e
    reuse = x._flags & REUSE
    out = xd if reuse else xp.empty_like(d)
    xp.divide(1, d, out=out, where=pos)
    xp.divide(e, d, out=out, where=~pos)
    if reuse:
        _reused(x, "sigmoid")

    def backward(g: Any, out: Any) -> tuple[Any]:
        return (g * out * (1.0 - out),)  # (a float 1: 1.6x faster than an int on float64)

    return make_node(out, (x,), "sigmoid", backward, SAVE_OUT)


@primitive("unary", "g·(1 − {yp}²)")
def tanh(x: Tensor) -> Tensor:
    """``h = tanh(x)``.  ∂/∂x = g·(1 − h²)."""
    xd = x.data
    if xd.dtype.kind != "f":  # an integer tensor: promoted, as in PyTorch
        x = floating(x, "tanh")
        xd = x.data
    if x._flags & REUSE:
        out = xp.tanh(xd, out=xd)
        _reused(x, "tanh")
    else:
        out = xp.tanh(xd)

    def backward(g: Any, out: Any) -> tuple[Any]:
        return (g * (1.0 - out * out),)  # (a float 1: 1.6x faster than an int on float64)

    return make_node(out, (x,), "tanh", backward, SAVE_OUT)
