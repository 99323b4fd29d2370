"""Every differentiable primitive, forward and backward side by side, by family.

Each op computes its value, names what its backward needs, and hands ``make_node`` a
closure ``backward(g, <saved values>) -> (grad for each parent)``.  The saved values that
the derivative depends on are the closure's default arguments (a parent's array or the
op's own output); everything else it reads is a constant (shapes, axes, masks, indices).
Closures are written in the dialect of :mod:`.dialect`, so the engine calls the same lines
with arrays in a plain ``backward()`` and with Tensors under ``create_graph=True``: each
derivative is written once and can be differentiated again.  Closures return gradients of
the broadcast result's shape where that is natural; the engine
(``autograd.unbroadcast``) sums them back to each parent's shape and casts them to its
dtype, in one place.  ``None`` marks a parent that gets no gradient.

The families:

- :mod:`.elementwise`: add, sub, mul, div, pow, neg, floor_divide, remainder, exp, log,
  log1p, sqrt, sin, cos, tan, abs, square, erf, sign, floor, ceil, clamp, maximum, minimum,
  where, relu, sigmoid, tanh (and the bitwise & | ^, never differentiable);
- :mod:`.reduce`: sum, mean, max, min, prod, cumsum, logsumexp, softmax, log_softmax (and
  var, std composed of them);
- :mod:`.shape`: reshape, transpose, broadcast_to, cat, stack, pad, flip, cast (and
  squeeze, unsqueeze, flatten, split composed of them);
- :mod:`.index`: getitem and gather with their adjoints index_add and scatter_add;
- :mod:`.linalg`: matmul, einsum;
- :mod:`.loss`: cross_entropy, the fused softmax + cross-entropy;
- :mod:`.window`: unfold (im2col) and fold (col2im), each the other's adjoint, and
  max_last (a window's maximum, routed as PyTorch's max pooling);
- :mod:`.recurrent`: lstm_cell, one LSTM step fused; lstm_layer and gru_layer, a whole
  LSTM or GRU layer over a sequence as one node.

Composed of the primitives (no derivative of their own): :mod:`.sorting` (sort, argsort,
topk, through ``gather``) and :mod:`.composed` (index_select, repeat, roll, tril, cumprod,
the norms, ...: PyTorch's other tensor ops).

The primitive set is :data:`PRIMITIVES`: each primitive declares itself, its family and
its picture rule with ``@primitive`` where it is defined, and the docs' table and the
tests read it from there.
Everything in :mod:`tinygrad_bp.functional` and :mod:`tinygrad_bp.nn` is composed from
these.
"""

from __future__ import annotations

from ._common import FAMILIES, PRIMITIVE_OPS, PRIMITIVES, Primitive
from .elementwise import (
    abs, add, bitwise, ceil, clamp, clone, cos, div, erf, exp, floor, floor_divide, log, log1p,
    maximum, minimum, mul, neg, pow, relu, remainder, sigmoid, sign, sin, sqrt, square, sub,
    tan, tanh, where,
)  # fmt: skip
from ._common import result_type
from .index import gather, getitem, index_add, index_key, index_put, scatter, scatter_add
from .linalg import einsum, matmul
from .loss import cross_entropy
from .recurrent import gru_layer, lstm_cell, lstm_layer
from .reduce import (
    cumsum, log_softmax, logsumexp, max, max_min_dim, mean, min, prod, softmax, std, sum, var,
)  # fmt: skip
from .shape import (
    broadcast_to, cast, cat, flatten, flip, pad, reshape, split, squeeze, stack, transpose,
    unsqueeze,
)  # fmt: skip
from .window import fold, max_last, max_pool, unfold, window_shape
from .sorting import argsort, sort, topk
from . import composed

__all__ = [
    "abs", "add", "ceil", "clamp", "clone", "cos", "div", "erf", "exp", "floor", "log", "log1p",
    "maximum", "minimum", "mul", "neg", "pow", "relu", "sigmoid", "sign", "sin", "sqrt",
    "square", "sub", "tan", "tanh", "where", "floor_divide", "remainder", "bitwise",
    "max_min_dim", "result_type", "gather", "getitem", "index_add", "scatter_add",
    "index_put", "index_key",
    "einsum", "matmul", "cross_entropy", "cumsum", "log_softmax", "logsumexp", "max", "mean",
    "min", "prod", "softmax", "std", "sum", "var", "broadcast_to", "cast", "cat", "flatten",
    "flip", "pad", "reshape", "split", "squeeze", "stack", "transpose", "unsqueeze",
    "unfold", "fold", "max_last", "max_pool", "window_shape", "lstm_cell", "lstm_layer",
    "gru_layer",
    "PRIMITIVES", "PRIMITIVE_OPS", "FAMILIES", "Primitive", "scatter", "sort", "argsort",
    "topk", "composed",
]  # fmt: skip
