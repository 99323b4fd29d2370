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


def exp(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.exp(input, ...)``: ``input.exp(...)``."""
    return _t(input, "exp").exp(*args, **kwargs)


def log(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.log(input, ...)``: ``input.log(...)``."""
    return _t(input, "log").log(*args, **kwargs)


def log1p(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.log1p(input, ...)``: ``input.log1p(...)``."""
    return _t(input, "log1p").log1p(*args, **kwargs)


def log2(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.log2(input, ...)``: ``input.log2(...)``."""
    return _t(input, "log2").log2(*args, **kwargs)


def log10(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.log10(input, ...)``: ``input.log10(...)``."""
    return _t(input, "log10").log10(*args, **kwargs)


def exp2(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.exp2(input, ...)``: ``input.exp2(...)``."""
    return _t(input, "exp2").exp2(*args, **kwargs)


def sqrt(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.sqrt(input, ...)``: ``input.sqrt(...)``."""
    return _t(input, "sqrt").sqrt(*args, **kwargs)


def rsqrt(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.rsqrt(input, ...)``: ``input.rsqrt(...)``."""
    return _t(input, "rsqrt").rsqrt(*args, **kwargs)


def sin(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.sin(input, ...)``: ``input.sin(...)``."""
    return _t(input, "sin").sin(*args, **kwargs)


def cos(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.cos(input, ...)``: ``input.cos(...)``."""
    return _t(input, "cos").cos(*args, **kwargs)


def tan(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.tan(input, ...)``: ``input.tan(...)``."""
    return _t(input, "tan").tan(*args, **kwargs)


def abs(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.abs(input, ...)``: ``input.abs(...)``."""
    return _t(input, "abs").abs(*args, **kwargs)


def square(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.square(input, ...)``: ``input.square(...)``."""
    return _t(input, "square").square(*args, **kwargs)


def sign(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.sign(input, ...)``: ``input.sign(...)``."""
    return _t(input, "sign").sign(*args, **kwargs)


def floor(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.floor(input, ...)``: ``input.floor(...)``."""
    return _t(input, "floor").floor(*args, **kwargs)


def ceil(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.ceil(input, ...)``: ``input.ceil(...)``."""
    return _t(input, "ceil").ceil(*args, **kwargs)


def erf(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.erf(input, ...)``: ``input.erf(...)``."""
    return _t(input, "erf").erf(*args, **kwargs)


def reciprocal(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.reciprocal(input, ...)``: ``input.reciprocal(...)``."""
    return _t(input, "reciprocal").reciprocal(*args, **kwargs)


def sigmoid(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.sigmoid(input, ...)``: ``input.sigmoid(...)``."""
    return _t(input, "sigmoid").sigmoid(*args, **kwargs)


def tanh(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.tanh(input, ...)``: ``input.tanh(...)``."""
    return _t(input, "tanh").tanh(*args, **kwargs)


def relu(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.relu(input, ...)``: ``input.relu(...)``."""
    return _t(input, "relu").relu(*args, **kwargs)


def softmax(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.softmax(input, ...)``: ``input.softmax(...)``."""
    return _t(input, "softmax").softmax(*args, **kwargs)


def log_softmax(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.log_softmax(input, ...)``: ``input.log_softmax(...)``."""
    return _t(input, "log_softmax").log_softmax(*args, **kwargs)


def sum(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.sum(input, ...)``: ``input.sum(...)``."""
    return _t(input, "sum").sum(*args, **kwargs)


def mean(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.mean(input, ...)``: ``input.mean(...)``."""
    return _t(input, "mean").mean(*args, **kwargs)


def prod(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.prod(input, ...)``: ``input.prod(...)``."""
    return _t(input, "prod").prod(*args, **kwargs)


def max(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.max(input, ...)``: ``input.max(...)``."""
    return _t(input, "max").max(*args, **kwargs)


def min(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.min(input, ...)``: ``input.min(...)``."""
    return _t(input, "min").min(*args, **kwargs)


def amax(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.amax(input, ...)``: ``input.amax(...)``."""
    return _t(input, "amax").amax(*args, **kwargs)


def amin(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.amin(input, ...)``: ``input.amin(...)``."""
    return _t(input, "amin").amin(*args, **kwargs)


def logsumexp(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.logsumexp(input, ...)``: ``input.logsumexp(...)``."""
    return _t(input, "logsumexp").logsumexp(*args, **kwargs)


def cumsum(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.cumsum(input, ...)``: ``input.cumsum(...)``."""
    return _t(input, "cumsum").cumsum(*args, **kwargs)


def cumprod(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.cumprod(input, ...)``: ``input.cumprod(...)``."""
    return _t(input, "cumprod").cumprod(*args, **kwargs)


def clamp(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.clamp(input, ...)``: ``input.clamp(...)``."""
    return _t(input, "clamp").clamp(*args, **kwargs)


def clip(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.clip(input, ...)``: ``input.clip(...)``."""
    return _t(input, "clip").clip(*args, **kwargs)


def flatten(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.flatten(input, ...)``: ``input.flatten(...)``."""
    return _t(input, "flatten").flatten(*args, **kwargs)


def squeeze(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.squeeze(input, ...)``: ``input.squeeze(...)``."""
    return _t(input, "squeeze").squeeze(*args, **kwargs)


def unsqueeze(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.unsqueeze(input, ...)``: ``input.unsqueeze(...)``."""
    return _t(input, "unsqueeze").unsqueeze(*args, **kwargs)


def permute(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.permute(input, ...)``: ``input.permute(...)``."""
    return _t(input, "permute").permute(*args, **kwargs)


def t(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.t(input, ...)``: ``input.t(...)``."""
    return _t(input, "t").t(*args, **kwargs)


def flip(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.flip(input, ...)``: ``input.flip(...)``."""
    return _t(input, "flip").flip(*args, **kwargs)


def roll(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.roll(input, ...)``: ``input.roll(...)``."""
    return _t(input, "roll").roll(*args, **kwargs)


def tril(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.tril(input, ...)``: ``input.tril(...)``."""
    return _t(input, "tril").tril(*args, **kwargs)


def triu(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.triu(input, ...)``: ``input.triu(...)``."""
    return _t(input, "triu").triu(*args, **kwargs)


def gather(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.gather(input, ...)``: ``input.gather(...)``."""
    return _t(input, "gather").gather(*args, **kwargs)


def scatter(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.scatter(input, ...)``: ``input.scatter(...)``."""
    return _t(input, "scatter").scatter(*args, **kwargs)


def scatter_add(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.scatter_add(input, ...)``: ``input.scatter_add(...)``."""
    return _t(input, "scatter_add").scatter_add(*args, **kwargs)


def index_select(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.index_select(input, ...)``: ``input.index_select(...)``."""
    return _t(input, "index_select").index_select(*args, **kwargs)


def masked_fill(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.masked_fill(input, ...)``: ``input.masked_fill(...)``."""
    return _t(input, "masked_fill").masked_fill(*args, **kwargs)


def masked_select(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.masked_select(input, ...)``: ``input.masked_select(...)``."""
    return _t(input, "masked_select").masked_select(*args, **kwargs)


def take(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.take(input, ...)``: ``input.take(...)``."""
    return _t(input, "take").take(*args, **kwargs)


def sort(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.sort(input, ...)``: ``input.sort(...)``."""
    return _t(input, "sort").sort(*args, **kwargs)


def argsort(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.argsort(input, ...)``: ``input.argsort(...)``."""
    return _t(input, "argsort").argsort(*args, **kwargs)


def topk(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.topk(input, ...)``: ``input.topk(...)``."""
    return _t(input, "topk").topk(*args, **kwargs)


def split(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.split(input, ...)``: ``input.split(...)``."""
    return _t(input, "split").split(*args, **kwargs)


def chunk(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.chunk(input, ...)``: ``input.chunk(...)``."""
    return _t(input, "chunk").chunk(*args, **kwargs)


def unbind(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.unbind(input, ...)``: ``input.unbind(...)``."""
    return _t(input, "unbind").unbind(*args, **kwargs)


def norm(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.norm(input, ...)``: ``input.norm(...)``."""
    return _t(input, "norm").norm(*args, **kwargs)


def lerp(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.lerp(input, ...)``: ``input.lerp(...)``."""
    return _t(input, "lerp").lerp(*args, **kwargs)


def isnan(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.isnan(input, ...)``: ``input.isnan(...)``."""
    return _t(input, "isnan").isnan(*args, **kwargs)


def isinf(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.isinf(input, ...)``: ``input.isinf(...)``."""
    return _t(input, "isinf").isinf(*args, **kwargs)


def isfinite(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.isfinite(input, ...)``: ``input.isfinite(...)``."""
    return _t(input, "isfinite").isfinite(*args, **kwargs)


def allclose(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.allclose(input, ...)``: ``input.allclose(...)``."""
    return _t(input, "allclose").allclose(*args, **kwargs)


def equal(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.equal(input, ...)``: ``input.equal(...)``."""
    return _t(input, "equal").equal(*args, **kwargs)


def numel(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.numel(input, ...)``: ``input.numel(...)``."""
    return _t(input, "numel").numel(*args, **kwargs)


def diag(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.diag(input, ...)``: ``input.diag(...)``."""
    return _t(input, "diag").diag(*args, **kwargs)


def diagonal(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.diagonal(input, ...)``: ``input.diagonal(...)``."""
    return _t(input, "diagonal").diagonal(*args, **kwargs)


def trace(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.trace(input, ...)``: ``input.trace(...)``."""
    return _t(input, "trace").trace(*args, **kwargs)


def movedim(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.movedim(input, ...)``: ``input.movedim(...)``."""
    return _t(input, "movedim").movedim(*args, **kwargs)


def moveaxis(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.moveaxis(input, ...)``: ``input.moveaxis(...)``."""
    return _t(input, "moveaxis").moveaxis(*args, **kwargs)


def repeat_interleave(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.repeat_interleave(input, ...)``: ``input.repeat_interleave(...)``."""
    return _t(input, "repeat_interleave").repeat_interleave(*args, **kwargs)


def tile(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.tile(input, ...)``: ``input.tile(...)``."""
    return _t(input, "tile").tile(*args, **kwargs)


def nonzero(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.nonzero(input, ...)``: ``input.nonzero(...)``."""
    return _t(input, "nonzero").nonzero(*args, **kwargs)


def swapaxes(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.swapaxes(input, ...)``: ``input.swapaxes(...)``."""
    return _t(input, "swapaxes").swapaxes(*args, **kwargs)


def reshape(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.reshape(input, ...)``: ``input.reshape(...)``."""
    return _t(input, "reshape").reshape(*args, **kwargs)


def broadcast_to(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.broadcast_to(input, ...)``: ``input.broadcast_to(...)``."""
    return _t(input, "broadcast_to").broadcast_to(*args, **kwargs)


def round(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.round(input, ...)``: ``input.round(...)``."""
    return _t(input, "round").round(*args, **kwargs)


def trunc(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.trunc(input, ...)``: ``input.trunc(...)``."""
    return _t(input, "trunc").trunc(*args, **kwargs)


def frac(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A001, A002
    """``torch.frac(input, ...)``: ``input.frac(...)``."""
    return _t(input, "frac").frac(*args, **kwargs)


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
