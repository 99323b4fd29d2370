"""PyTorch's module-level functions (``torch.exp(x)``, ``torch.sum(x, dim)``, ...) as
``tg.*``: each is its Tensor method (or op) called on the first argument, with PyTorch's
argument names, so ``torch.f(x, ...)`` ports as ``tg.f(x, ...)``."""

from __future__ import annotations

import builtins
import string
from typing import Any

import numpy as np

from . import ops
from .ops import composed
from .tensor import Tensor, leaf

__all__ = [
    "exp", "log", "log1p", "log2", "log10", "exp2", "sqrt", "rsqrt", "sin", "cos", "tan",
    "abs", "square", "sign", "floor", "ceil", "erf", "reciprocal", "sigmoid", "tanh", "relu",
    "softmax", "log_softmax", "sum", "mean", "prod", "max", "min", "amax", "amin", "argmax",
    "argmin", "var", "std", "logsumexp", "cumsum", "cumprod", "clamp", "clip", "pow", "add",
    "sub", "mul", "div", "neg", "matmul", "mm", "bmm", "mv", "dot", "outer", "addmm",
    "baddbmm", "reshape", "flatten", "squeeze", "unsqueeze", "transpose", "swapaxes",
    "permute", "t", "flip", "roll", "tril", "triu", "gather", "scatter", "scatter_add",
    "index_select", "masked_fill", "masked_select", "take", "sort", "argsort", "topk",
    "split", "chunk", "unbind", "norm", "lerp", "isnan", "isinf", "isfinite", "allclose",
    "equal", "numel", "diag", "diagonal", "trace", "movedim", "moveaxis", "repeat_interleave",
    "tile", "concat", "concatenate", "nonzero", "broadcast_to", "round", "trunc", "frac",
    "nan_to_num", "broadcast_tensors", "meshgrid", "take_along_dim", "cdist", "einsum",
    "var_mean", "std_mean", "logical_and", "logical_or", "logical_xor", "logical_not",
    "isclose", "count_nonzero", "select", "narrow", "clamp_min", "clamp_max", "hstack",
    "vstack", "tril_indices", "triu_indices", "searchsorted", "bucketize", "logspace",
    "bernoulli", "multinomial", "normal",
]  # fmt: skip


def _t(x: Any, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor as input, got {type(x).__name__}")
    return x


def _method(name: str) -> Any:
    """``tg.NAME(input, ...)``: ``input.NAME(...)``, as ``torch.NAME`` is the method."""

    def f(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A002
        return getattr(_t(input, name), name)(*args, **kwargs)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``torch.{name}(input, ...)``: ``input.{name}(...)``."
    return f


exp = _method("exp")
log = _method("log")
log1p = _method("log1p")
log2 = _method("log2")
log10 = _method("log10")
exp2 = _method("exp2")
sqrt = _method("sqrt")
rsqrt = _method("rsqrt")
sin = _method("sin")
cos = _method("cos")
tan = _method("tan")
abs = _method("abs")  # noqa: A001  (PyTorch's name)
square = _method("square")
sign = _method("sign")
floor = _method("floor")
ceil = _method("ceil")
erf = _method("erf")
reciprocal = _method("reciprocal")
sigmoid = _method("sigmoid")
tanh = _method("tanh")
relu = _method("relu")
softmax = _method("softmax")
log_softmax = _method("log_softmax")
sum = _method("sum")  # noqa: A001  (PyTorch's name)
mean = _method("mean")
prod = _method("prod")
max = _method("max")  # noqa: A001  (PyTorch's name)
min = _method("min")  # noqa: A001  (PyTorch's name)
amax = _method("amax")
amin = _method("amin")
logsumexp = _method("logsumexp")
cumsum = _method("cumsum")
cumprod = _method("cumprod")
clamp = _method("clamp")
clip = _method("clip")
flatten = _method("flatten")
squeeze = _method("squeeze")
unsqueeze = _method("unsqueeze")
permute = _method("permute")
t = _method("t")
flip = _method("flip")
roll = _method("roll")
tril = _method("tril")
triu = _method("triu")
gather = _method("gather")
scatter = _method("scatter")
scatter_add = _method("scatter_add")
index_select = _method("index_select")
masked_fill = _method("masked_fill")
masked_select = _method("masked_select")
take = _method("take")
sort = _method("sort")
argsort = _method("argsort")
topk = _method("topk")
split = _method("split")
chunk = _method("chunk")
unbind = _method("unbind")
norm = _method("norm")
lerp = _method("lerp")
isnan = _method("isnan")
isinf = _method("isinf")
isfinite = _method("isfinite")
allclose = _method("allclose")
equal = _method("equal")
numel = _method("numel")
diag = _method("diag")
diagonal = _method("diagonal")
trace = _method("trace")
movedim = _method("movedim")
moveaxis = _method("moveaxis")
repeat_interleave = _method("repeat_interleave")
tile = _method("tile")
nonzero = _method("nonzero")
swapaxes = _method("swapaxes")
reshape = _method("reshape")
broadcast_to = _method("broadcast_to")
round = _method("round")  # noqa: A001  (PyTorch's name)
trunc = _method("trunc")
frac = _method("frac")


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:  # noqa: A002
    """``torch.transpose``: ``dim0`` and ``dim1`` swapped (``Tensor.swapaxes``; the method
    ``Tensor.transpose`` keeps NumPy's meaning)."""
    return _t(input, "transpose").swapaxes(dim0, dim1)


def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001, A002
    return ops.pow(input, exponent)


def add(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:  # noqa: A002
    return ops.add(input, other if alpha == 1 else ops.mul(other, alpha))


def sub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:  # noqa: A002
    return ops.sub(input, other if alpha == 1 else ops.mul(other, alpha))


def mul(input: Any, other: Any) -> Tensor:  # noqa: A002
    return ops.mul(input, other)


def div(input: Any, other: Any, *, rounding_mode: Any = None) -> Tensor:  # noqa: A002
    """``torch.div``: true division; ``rounding_mode="floor"`` is ``//``; ``"trunc"``
    rounds towards zero."""
    if rounding_mode is None:
        return ops.div(input, other)
    if rounding_mode == "floor":
        return ops.floor_divide(input, other)
    if rounding_mode == "trunc":
        q = ops.div(input, other)
        return composed.trunc(q)
    raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")


def neg(input: Any) -> Tensor:  # noqa: A002
    return ops.neg(input)


def matmul(input: Any, other: Any) -> Tensor:  # noqa: A002
    return ops.matmul(input, other)


mm, bmm, mv, dot, outer = composed.mm, composed.bmm, composed.mv, composed.dot, composed.outer
addmm, baddbmm = composed.addmm, composed.baddbmm


def concat(tensors: Any, dim: int = 0) -> Tensor:
    """``torch.concat`` (``torch.cat``'s other name)."""
    return ops.cat(tensors, dim)


concatenate = concat
broadcast_tensors, meshgrid = composed.broadcast_tensors, composed.meshgrid
take_along_dim, cdist = composed.take_along_dim, composed.cdist


def nan_to_num(input: Any, nan: float = 0.0, posinf: Any = None, neginf: Any = None) -> Tensor:  # noqa: A002
    return composed.nan_to_num(_t(input, "nan_to_num"), nan, posinf, neginf)


def einsum(equation: str, *operands: Any) -> Tensor:
    """``torch.einsum``: operands as arguments or as one list, and ``...`` (broadcast
    axes, right-aligned, as PyTorch's: each ``...`` is spelled with unused letters and
    the operands broadcast to one shape there, differentiably) before
    :func:`tinygrad_bp.ops.einsum`.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> a, b = tg.Tensor(np.ones((2, 5, 3, 4))), tg.Tensor(np.ones((5, 4, 6)))
    >>> tg.einsum("...ij,...jk->...ik", a, b).shape
    (2, 5, 3, 6)
    >>> tg.einsum("ij,jk", [tg.Tensor(np.ones((2, 3))), tg.Tensor(np.ones((3, 4)))]).shape
    (2, 4)
    """
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    eq = equation.replace(" ", "")
    if "..." not in eq:
        return ops.einsum(eq, *operands)
    ts = [o if isinstance(o, Tensor) else ops.as_tensor(o, "einsum") for o in operands]
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ts):
        raise ValueError(f"einsum: {equation!r} names {len(terms)} operands, got {len(ts)}")
    free = [c for c in string.ascii_letters if c not in eq]
    spans = []  # (where '...' starts, how many axes it stands for) per operand
    for term, t in zip(terms, ts):
        if term.count("...") > 1 or "." in term.replace("...", ""):
            raise ValueError(f"einsum: {term!r} must hold at most one '...'")
        named = len(term.replace("...", ""))
        k = t.ndim - named if "..." in term else 0
        if k < 0:
            raise ValueError(f"einsum: operand {term!r} has more subscripts than shape {t.shape}")
        spans.append((term.find("..."), k))
    n = builtins.max(k for _, k in spans)
    try:
        common = np.broadcast_shapes(
            *(t.shape[s : s + k] for t, (s, k) in zip(ts, spans) if s >= 0)
        )
    except ValueError:
        raise ValueError(
            f"einsum: the '...' axes of shapes {[t.shape for t in ts]} do not broadcast"
        ) from None
    letters = "".join(free[:n])
    new_terms, new_ts = [], []
    for term, t, (s, k) in zip(terms, ts, spans):
        if s < 0:
            new_terms.append(term)
            new_ts.append(t)
            continue
        shape = t.shape[:s] + common + t.shape[s + k :]
        if t.shape != shape:
            t = ops.broadcast_to(ops.reshape(t, t.shape[:s] + (1,) * (n - k) + t.shape[s:]), shape)
        new_terms.append(term.replace("...", letters))
        new_ts.append(t)
    if arrow:
        out = out.replace("...", letters)
    else:
        named = "".join(new_terms).replace(letters, "") if letters else "".join(new_terms)
        out = letters + "".join(sorted(c for c in set(named) if named.count(c) == 1))
    return ops.einsum(f"{','.join(new_terms)}->{out}", *new_ts)


def var(input: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,  # noqa: A002
        correction: Any = None) -> Tensor:  # fmt: skip
    """``torch.var``: PyTorch's default is the unbiased variance (``correction=1``); the
    method ``Tensor.var`` keeps NumPy's ``ddof=0`` default (the contract's)."""
    return _spread("var", input, dim, unbiased, keepdim, correction)


def std(input: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,  # noqa: A002
        correction: Any = None) -> Tensor:  # fmt: skip
    """``torch.std``: unbiased by default, as :func:`var`."""
    return _spread("std", input, dim, unbiased, keepdim, correction)


def var_mean(input: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,  # noqa: A002
             correction: Any = None) -> tuple[Tensor, Tensor]:  # fmt: skip
    """``torch.var_mean``: ``(var, mean)``, the variance unbiased by default."""
    return var(input, dim, unbiased, keepdim, correction=correction), _t(input, "var_mean").mean(
        dim=dim, keepdim=keepdim
    )


def std_mean(input: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,  # noqa: A002
             correction: Any = None) -> tuple[Tensor, Tensor]:  # fmt: skip
    """``torch.std_mean``: ``(std, mean)``, the deviation unbiased by default."""
    return std(input, dim, unbiased, keepdim, correction=correction), _t(input, "std_mean").mean(
        dim=dim, keepdim=keepdim
    )


def _spread(op: str, input: Any, dim: Any, unbiased: Any, keepdim: bool, correction: Any) -> Tensor:  # noqa: A002
    if isinstance(dim, bool):  # PyTorch's older torch.var(x, unbiased)
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}: pass unbiased or correction, not both")
    if unbiased is None and correction is None:
        correction = 1
    return getattr(_t(input, op), op)(
        dim=dim, keepdim=keepdim, unbiased=unbiased, correction=correction
    )


def argmax(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """``torch.argmax``: an int64 tensor (the method ``Tensor.argmax`` gives a NumPy array,
    the contract's)."""
    return leaf(np.asarray(_t(input, "argmax").argmax(dim=dim, keepdim=keepdim), np.int64))


def argmin(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """``torch.argmin``: an int64 tensor."""
    return leaf(np.asarray(_t(input, "argmin").argmin(dim=dim, keepdim=keepdim), np.int64))


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def logical_and(input: Any, other: Any) -> Tensor:  # noqa: A002
    return leaf(np.logical_and(_data(input), _data(other)))


def logical_or(input: Any, other: Any) -> Tensor:  # noqa: A002
    return leaf(np.logical_or(_data(input), _data(other)))


def logical_xor(input: Any, other: Any) -> Tensor:  # noqa: A002
    return leaf(np.logical_xor(_data(input), _data(other)))


def logical_not(input: Any) -> Tensor:  # noqa: A002
    return leaf(np.logical_not(_data(input)))


def isclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08,  # noqa: A002
            equal_nan: bool = False) -> Tensor:  # fmt: skip
    """``torch.isclose``: a boolean tensor."""
    return leaf(np.isclose(_data(input), _data(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def count_nonzero(input: Any, dim: Any = None) -> Tensor:  # noqa: A002
    """``torch.count_nonzero``: an int64 tensor."""
    return leaf(np.asarray(np.count_nonzero(_data(input), axis=dim), dtype=np.int64))


def select(input: Any, dim: int, index: int) -> Tensor:  # noqa: A002
    return _t(input, "select").select(dim, index)


def narrow(input: Any, dim: int, start: int, length: int) -> Tensor:  # noqa: A002
    return _t(input, "narrow").narrow(dim, start, length)


def clamp_min(input: Any, min: Any) -> Tensor:  # noqa: A002
    return _t(input, "clamp_min").clamp(min=min)


def clamp_max(input: Any, max: Any) -> Tensor:  # noqa: A002
    return _t(input, "clamp_max").clamp(max=max)


def hstack(tensors: Any) -> Tensor:
    """``torch.hstack``: along dim 1 (dim 0 for 1-D tensors)."""
    ts = [_t(t, "hstack") for t in tensors]
    ts = [t.reshape(1) if t.ndim == 0 else t for t in ts]
    return ops.cat(ts, 0 if all(t.ndim == 1 for t in ts) else 1)


def vstack(tensors: Any) -> Tensor:
    """``torch.vstack``: along dim 0, 1-D tensors as rows."""
    ts = [_t(t, "vstack") for t in tensors]
    ts = [t.reshape(1, -1) if t.ndim < 2 else t for t in ts]
    return ops.cat(ts, 0)


def _indices(op: str, row: int, col: int | None, offset: int, lower: bool) -> Tensor:
    m = np.tri(row, row if col is None else col, offset, dtype=bool)
    if not lower:
        m = ~np.tri(row, row if col is None else col, offset - 1, dtype=bool)
    return leaf(np.stack(np.nonzero(m)).astype(np.int64))


def tril_indices(row: int, col: int, offset: int = 0) -> Tensor:
    """``torch.tril_indices``: the ``(2, n)`` int64 coordinates of the lower triangle."""
    return _indices("tril_indices", row, col, offset, True)


def triu_indices(row: int, col: int, offset: int = 0) -> Tensor:
    """``torch.triu_indices``: the ``(2, n)`` int64 coordinates of the upper triangle."""
    return _indices("triu_indices", row, col, offset, False)


def searchsorted(sorted_sequence: Any, values: Any, *, right: bool = False,
                 side: str | None = None) -> Tensor:  # fmt: skip
    """``torch.searchsorted`` along the last axis: int64 insertion indices."""
    seq, val = _data(sorted_sequence), _data(values)
    how = side if side is not None else ("right" if right else "left")
    if seq.ndim == 1:
        return leaf(np.searchsorted(seq, val, side=how).astype(np.int64))
    if seq.shape[:-1] != val.shape[:-1]:
        raise ValueError(
            f"searchsorted: the leading dims of {seq.shape} and {val.shape} must match"
        )
    flat_s, flat_v = seq.reshape(-1, seq.shape[-1]), val.reshape(-1, val.shape[-1])
    out = np.stack([np.searchsorted(a, b, side=how) for a, b in zip(flat_s, flat_v)])
    return leaf(out.reshape(val.shape).astype(np.int64))


def bucketize(input: Any, boundaries: Any, *, right: bool = False) -> Tensor:  # noqa: A002
    """``torch.bucketize``: the int64 bucket of each value among 1-D ``boundaries``."""
    b = _data(boundaries)
    if b.ndim != 1:
        raise ValueError(f"bucketize: boundaries must be 1-D, got shape {b.shape}")
    return leaf(
        np.searchsorted(b, _data(input), side="left" if not right else "right").astype(np.int64)
    )


def logspace(start: float, end: float, steps: int, base: float = 10.0, dtype: Any = None) -> Tensor:
    """``torch.logspace``: ``base ** linspace(start, end, steps)``."""
    from .tensor import get_default_dtype

    d = np.dtype(dtype) if dtype is not None else get_default_dtype()
    return Tensor(np.logspace(start, end, int(steps), base=base).astype(d), dtype=d)


def _generator() -> Any:
    from .creation import default_generator

    return default_generator()


def bernoulli(input: Any) -> Tensor:  # noqa: A002
    """``torch.bernoulli``: 1 with each entry's probability, else 0."""
    return _t(input, "bernoulli").bernoulli()


def multinomial(input: Any, num_samples: int, replacement: bool = False) -> Tensor:  # noqa: A002
    """``torch.multinomial``: ``num_samples`` int64 indices drawn from each row's weights
    (without replacement unless told), from the generator ``tg.manual_seed`` sets."""
    w = _data(input).astype(np.float64)
    if w.ndim not in (1, 2) or (w < 0).any() or not np.isfinite(w).all():
        raise ValueError("multinomial: expects 1-D or 2-D non-negative finite weights")
    rows = w.reshape(-1, w.shape[-1])
    if not replacement and num_samples > w.shape[-1]:
        raise ValueError(
            f"multinomial: cannot draw {num_samples} samples without replacement from "
            f"{w.shape[-1]} categories"
        )
    g = _generator()
    out = []
    for r in rows:
        if r.sum() <= 0:
            raise ValueError("multinomial: a row's weights sum to 0")
        if not replacement and np.count_nonzero(r) < num_samples:
            raise ValueError(
                f"multinomial: a row has fewer than {num_samples} nonzero weights to draw "
                f"without replacement"
            )
        out.append(g.choice(r.size, size=num_samples, replace=replacement, p=r / r.sum()))
    res = np.stack(out).astype(np.int64)
    return leaf(res if w.ndim == 2 else res[0])


def normal(mean: Any, std: Any, size: Any = None) -> Tensor:
    """``torch.normal``: samples with the given mean and standard deviation (numbers with
    ``size``, or tensors, broadcast)."""
    from .tensor import get_default_dtype

    m, s = _data(mean), _data(std)
    shape = tuple(size) if size is not None else np.broadcast_shapes(m.shape, s.shape)
    d = m.dtype if m.dtype.kind == "f" else get_default_dtype()
    return leaf(_generator().normal(m, s, size=shape).astype(d))
