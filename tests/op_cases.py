"""One table of op cases, read by several tests.

Each case is a function ``fn(m, *inputs)`` written once and run on both engines: ``m`` is
a small adapter (:data:`TG` for tinygrad_bp, :data:`TORCH` for PyTorch) that hides the few
places where the two spell things differently (``axis`` vs ``dim``, how class labels and
constant arrays are made).  Everything else in a case (operators, ``.exp()``,
``.softmax(-1)``) is the same code on both.

Readers of the table:

- ``test_op_gradcheck.py``: finite differences through the public ``tg.gradcheck``.
- ``test_op_torch.py``: PyTorch as the oracle for values and every input's gradient.
- ``test_op_hypothesis.py``: cases marked ``broadcast`` or with a ``signature`` are re-run on
  Hypothesis-drawn shapes.
- ``test_invariants.py`` and ``test_dtypes.py``: invariants and float32 behaviour per case.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as TF

import tinygrad_bp as tg
from tinygrad_bp import functional as F

Shape = tuple[int, ...]


# ---------------------------------------------------------------- the two adapters
class _Adapter:
    """What differs between the engines, behind one set of names.

    ``dtype`` is the float dtype of the current run: constants are made in it so that a
    float32 run stays float32 on both engines.
    """

    name = "?"

    def __init__(self, dtype: Any = np.float64) -> None:
        self.dtype = np.dtype(dtype)

    def with_dtype(self, dtype: Any) -> _Adapter:
        return type(self)(dtype)


class TGAdapter(_Adapter):
    name = "tinygrad_bp"
    F = F
    lib = tg  # torch.f(...) is tg.f(...) (torch.linalg is tg.linalg)

    def tensor(self, arr: np.ndarray, requires_grad: bool = True) -> tg.Tensor:
        return tg.Tensor(arr, requires_grad=requires_grad)

    def const(self, arr: np.ndarray) -> np.ndarray:
        """A constant operand: a plain NumPy array (exercises ``ndarray <op> Tensor``)."""
        return np.asarray(arr, dtype=self.dtype)

    def labels(self, arr: Any) -> np.ndarray:
        return np.asarray(arr, dtype=np.int64)

    def idx(self, arr: Any) -> np.ndarray:
        return np.asarray(arr)

    def index_tensor(self, arr: Any) -> tg.Tensor:
        """An index given as a (float64 by default) Tensor, as users do with labels."""
        return tg.Tensor(arr)

    def sum(self, x: tg.Tensor, axis: Any = None, keepdims: bool = False) -> tg.Tensor:
        return x.sum(axis=axis, keepdims=keepdims)

    def mean(self, x: tg.Tensor, axis: Any = None, keepdims: bool = False) -> tg.Tensor:
        return x.mean(axis=axis, keepdims=keepdims)

    def max(self, x: tg.Tensor, axis: Any = None, keepdims: bool = False) -> tg.Tensor:
        return x.max(axis=axis, keepdims=keepdims)

    def transpose(self, x: tg.Tensor, *axes: int) -> tg.Tensor:
        return x.transpose(*axes)

    def min(self, x: tg.Tensor, axis: Any = None, keepdims: bool = False) -> tg.Tensor:
        return x.min(axis=axis, keepdims=keepdims)

    def prod(self, x: tg.Tensor, axis: Any = None, keepdims: bool = False) -> tg.Tensor:
        return x.prod(axis=axis, keepdims=keepdims)

    def var(self, x: tg.Tensor, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
        return x.var(axis=axis, keepdims=keepdims, ddof=ddof)

    def std(self, x: tg.Tensor, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
        return x.std(axis=axis, keepdims=keepdims, ddof=ddof)

    def logsumexp(self, x: tg.Tensor, axis: Any = None, keepdims: bool = False) -> tg.Tensor:
        return x.logsumexp(axis=axis, keepdims=keepdims)

    def cumsum(self, x: tg.Tensor, axis: int) -> tg.Tensor:
        return x.cumsum(axis)

    def flip(self, x: tg.Tensor, axis: Any = None) -> tg.Tensor:
        return x.flip(axis)

    def pad(self, x: tg.Tensor, widths: Any, value: float = 0.0) -> tg.Tensor:
        """``widths``: NumPy's ``pad_width``, one ``(before, after)`` pair per axis."""
        return x.pad(widths, value)

    def cat(self, ts: list[Any], axis: int = 0) -> tg.Tensor:
        return tg.cat(ts, axis)

    def stack(self, ts: list[Any], axis: int = 0) -> tg.Tensor:
        return tg.stack(ts, axis)

    def maximum(self, a: Any, b: Any) -> tg.Tensor:
        return tg.maximum(a, b)

    def minimum(self, a: Any, b: Any) -> tg.Tensor:
        return tg.minimum(a, b)

    def where(self, cond: Any, a: Any, b: Any) -> tg.Tensor:
        return tg.where(cond, a, b)

    def mask(self, arr: Any) -> tg.Tensor:
        """A boolean mask as a Tensor (it stays boolean, and selects)."""
        return tg.Tensor(np.asarray(arr, dtype=bool))

    def erf(self, x: tg.Tensor) -> tg.Tensor:
        return tg.ops.erf(x)

    def einsum(self, subscripts: str, *operands: Any) -> tg.Tensor:
        return tg.einsum(subscripts, *operands)

    @staticmethod
    def value(x: tg.Tensor) -> np.ndarray:
        return x.data

    @staticmethod
    def grad(x: tg.Tensor) -> np.ndarray | None:
        return x.grad


def _dims(x: torch.Tensor, axis: Any) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(x.ndim))
    return (axis,) if isinstance(axis, int) else tuple(axis)


class TorchAdapter(_Adapter):
    name = "torch"
    F = SimpleNamespace(
        cross_entropy=TF.cross_entropy,
        mse_loss=TF.mse_loss,
        linear=TF.linear,
        relu=torch.relu,
        sigmoid=torch.sigmoid,
        tanh=torch.tanh,
        softmax=torch.softmax,
        log_softmax=torch.log_softmax,
        **{
            n: getattr(TF, n)
            for n in (
                "pad",
                "max_pool2d",
                "max_unpool2d",
                "binary_cross_entropy_with_logits",
                "hardtanh",
                "relu6",
                "hardsigmoid",
                "hardswish",
                "selu",
                "celu",
                "mish",
                "softsign",
                "logsigmoid",
                "tanhshrink",
                "threshold",
                "softmin",
                "glu",
                "normalize",
                "cosine_similarity",
                "pairwise_distance",
                "l1_loss",
                "smooth_l1_loss",
                "huber_loss",
                "binary_cross_entropy",
                "kl_div",
                "conv1d",
                "adaptive_avg_pool1d",
                "adaptive_avg_pool2d",
                "group_norm",
                "instance_norm",
                "prelu",
                "interpolate",
                "adaptive_max_pool2d",
                "unfold",
                "fold",
                "conv_transpose2d",
                "conv_transpose1d",
                "max_pool1d",
                "avg_pool1d",
                "bilinear",
            )
        },  # fmt: skip
    )
    lib = torch

    def tensor(self, arr: np.ndarray, requires_grad: bool = True) -> torch.Tensor:
        return torch.tensor(arr, requires_grad=requires_grad)

    def const(self, arr: np.ndarray) -> torch.Tensor:
        return torch.tensor(np.asarray(arr, dtype=self.dtype))

    def labels(self, arr: Any) -> torch.Tensor:
        return torch.tensor(np.asarray(arr, dtype=np.int64))

    def idx(self, arr: Any) -> torch.Tensor:
        return torch.tensor(np.asarray(arr))

    def index_tensor(self, arr: Any) -> torch.Tensor:
        return torch.tensor(np.asarray(arr))

    def sum(self, x: torch.Tensor, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
        return x.sum(dim=_dims(x, axis), keepdim=keepdims)

    def mean(self, x: torch.Tensor, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
        return x.mean(dim=_dims(x, axis), keepdim=keepdims)

    def max(self, x: torch.Tensor, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
        # amax splits the gradient evenly between ties, the rule tinygrad_bp documents.
        return torch.amax(x, dim=_dims(x, axis), keepdim=keepdims)

    def transpose(self, x: torch.Tensor, *axes: int) -> torch.Tensor:
        return x.permute(*(axes or tuple(reversed(range(x.ndim)))))

    def min(self, x: torch.Tensor, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
        return torch.amin(x, dim=_dims(x, axis), keepdim=keepdims)

    def prod(self, x: torch.Tensor, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
        if axis is None:  # torch.prod reduces one dim at a time
            out = x.prod()
            return out.reshape((1,) * x.ndim) if keepdims else out
        return x.prod(dim=axis, keepdim=keepdims)

    def var(self, x: torch.Tensor, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
        return x.var(dim=_dims(x, axis), keepdim=keepdims, correction=ddof)

    def std(self, x: torch.Tensor, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
        return x.std(dim=_dims(x, axis), keepdim=keepdims, correction=ddof)

    def logsumexp(self, x: torch.Tensor, axis: Any = None, keepdims: bool = False) -> Any:
        return torch.logsumexp(x, dim=_dims(x, axis), keepdim=keepdims)

    def cumsum(self, x: torch.Tensor, axis: int) -> torch.Tensor:
        return torch.cumsum(x, dim=axis)

    def flip(self, x: torch.Tensor, axis: Any = None) -> torch.Tensor:
        return torch.flip(x, dims=_dims(x, axis))

    def pad(self, x: torch.Tensor, widths: Any, value: float = 0.0) -> torch.Tensor:
        flat = [int(n) for pair in reversed(widths) for n in pair]  # F.pad: last axis first
        return TF.pad(x, flat, value=value)

    def cat(self, ts: list[Any], axis: int = 0) -> torch.Tensor:
        return torch.cat(ts, axis)

    def stack(self, ts: list[Any], axis: int = 0) -> torch.Tensor:
        return torch.stack(ts, axis)

    def maximum(self, a: Any, b: Any) -> torch.Tensor:
        return torch.maximum(a, b if torch.is_tensor(b) else torch.tensor(b, dtype=a.dtype))

    def minimum(self, a: Any, b: Any) -> torch.Tensor:
        return torch.minimum(a, b if torch.is_tensor(b) else torch.tensor(b, dtype=a.dtype))

    def where(self, cond: Any, a: Any, b: Any) -> torch.Tensor:
        return torch.where(cond, a, b)

    def mask(self, arr: Any) -> torch.Tensor:
        return torch.tensor(np.asarray(arr, dtype=bool))

    def erf(self, x: torch.Tensor) -> torch.Tensor:
        return torch.erf(x)

    def einsum(self, subscripts: str, *operands: Any) -> torch.Tensor:
        return torch.einsum(subscripts, *operands)

    @staticmethod
    def value(x: torch.Tensor) -> np.ndarray:
        return x.detach().numpy()

    @staticmethod
    def grad(x: torch.Tensor) -> np.ndarray | None:
        return None if x.grad is None else x.grad.numpy()


TG = TGAdapter()
TORCH = TorchAdapter()


# ---------------------------------------------------------------- input domains
def _draw(domain: str, shape: Shape, rng: np.random.Generator) -> np.ndarray:
    """Values an op is smooth on, well away from kinks and poles (finite differences use
    eps = 1e-6, so every value keeps a margin far larger than that)."""
    if domain == "real":
        return rng.normal(size=shape)
    if domain == "positive":  # log, sqrt, the base of a Tensor power
        return rng.uniform(0.5, 2.0, size=shape)
    if domain == "away":  # relu's kink and a divisor's pole at 0
        return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 1.5, size=shape)
    if domain == "distinct":  # max: no ties, gaps >= 0.1
        n = int(np.prod(shape))
        return (rng.permutation(n) * 0.1 + rng.uniform(0, 0.01, size=n)).reshape(shape) - 1
    if domain == "ties":  # -1, 0 and 1 with many repeats: max ties, relu at its kink
        return rng.integers(-1, 2, size=shape).astype(np.float64)
    if domain == "small":  # tan: well inside (-pi/2, pi/2)
        return rng.uniform(-1.0, 1.0, size=shape)
    if domain == "zeros":  # exact zeros among normal values (prod, polynomials at 0)
        a = rng.normal(size=shape)
        a[rng.uniform(size=shape) < 0.3] = 0.0
        return a
    if domain == "pos_zeros":  # a base of a Tensor power: positive, some exact zeros
        a = rng.uniform(0.5, 2.0, size=shape)
        a[rng.uniform(size=shape) < 0.3] = 0.0
        return a
    if domain == "exponent":  # above 1: a**b has a finite first derivative at a = 0
        return rng.uniform(1.1, 2.5, size=shape)
    if domain == "prob":  # probability rows (cross-entropy targets)
        e = np.exp(rng.normal(size=shape))
        return e / e.sum(axis=-1, keepdims=True)
    raise ValueError(f"unknown domain {domain!r}")


@dataclass(frozen=True)
class OpCase:
    """One row of the table.

    ``fn(m, *inputs)`` uses ``m`` for the spellings that differ.  Every input is a float
    tensor that requires grad; non-differentiable operands (labels, index arrays,
    constants) live inside ``fn``.  ``broadcast``: any mutually broadcastable shapes are
    valid inputs; ``signature``: a gufunc signature the inputs may be drawn from.
    """

    name: str
    fn: Callable[..., Any]
    shapes: tuple[Shape, ...]
    domains: tuple[str, ...] = ()
    broadcast: bool = False
    signature: str | None = None
    tags: frozenset[str] = field(default_factory=frozenset)

    def domain(self, i: int) -> str:
        return self.domains[i] if i < len(self.domains) else "real"

    def inputs(
        self, dtype: Any = np.float64, shapes: tuple[Shape, ...] | None = None, seed: int = 0
    ) -> list[np.ndarray]:
        """Deterministic input arrays (seeded by the case's name)."""
        rng = np.random.default_rng([zlib.crc32(self.name.encode()), seed])
        shapes = self.shapes if shapes is None else shapes
        return [_draw(self.domain(i), s, rng).astype(dtype) for i, s in enumerate(shapes)]

    def __repr__(self) -> str:  # pytest ids
        return self.name


_const_rng = np.random.default_rng(20240607)
C34 = _const_rng.normal(size=(3, 4))
C4 = _const_rng.normal(size=(4,))
C53 = _const_rng.normal(size=(5, 3))
C34_AWAY = _const_rng.uniform(0.5, 1.5, size=(3, 4))
LABELS5 = np.array([2, 0, 3, 3, 1])
ONEHOT = np.eye(3)[[1, 0, 2, 2]]
MASK34 = _const_rng.uniform(size=(3, 4)) > 0.4
GATHER_IDX = np.array([[0, 3], [2, 2], [1, 0]])  # along axis 1 of a (3, 4): repeats included
PROD_ZERO_ROWS = np.array([[0.0, 1.5, -2.0], [0.0, 0.0, 1.2], [0.7, -1.1, 0.9]])


def case(name: str, fn: Callable[..., Any], *shapes: Shape, **kw: Any) -> OpCase:
    domains = kw.pop("domains", ())
    kw["tags"] = frozenset(kw.get("tags", ()))
    return OpCase(name, fn, tuple(shapes), tuple(domains), **kw)


A, P, D = "away", "positive", "distinct"
NG = frozenset({"no_gradcheck"})  # not differentiable there: PyTorch is the only oracle

CASES: list[OpCase] = [
    # ------------------------------------------------ binary arithmetic, broadcasting
    case("add", lambda m, a, b: a + b, (3, 4), (3, 4), broadcast=True),
    case("add_bias", lambda m, a, b: a + b, (5, 3), (3,), broadcast=True),
    case("add_col_row", lambda m, a, b: a + b, (4, 1), (1, 3), broadcast=True),
    case("add_0d", lambda m, a, b: a + b, (), (2, 3), broadcast=True),
    case("sub", lambda m, a, b: a - b, (3, 4), (4,), broadcast=True),
    case("sub_0d_0d", lambda m, a, b: a - b, (), (), broadcast=True),
    case("mul", lambda m, a, b: a * b, (2, 3), (2, 3), broadcast=True),
    case("mul_col_row", lambda m, a, b: a * b, (4, 1), (1, 3), broadcast=True),
    case("mul_3d", lambda m, a, b: a * b, (2, 1, 4), (3, 1), broadcast=True),
    case("div", lambda m, a, b: a / b, (3, 4), (3, 4), domains=("real", A), broadcast=True),
    case("div_bcast", lambda m, a, b: a / b, (3, 1), (4,), domains=("real", A), broadcast=True),
    case("pow_tensor", lambda m, a, b: a**b, (3, 4), (4,), domains=(P, "real"), broadcast=True),
    case("pow_tensor_0d", lambda m, a, b: a**b, (2, 3), (), domains=(P, "real"), broadcast=True),
    case("pow_2", lambda m, a: a**2, (3, 4)),
    case("pow_3", lambda m, a: a**3, (3, 4)),
    case("pow_half", lambda m, a: a**0.5, (3, 4), domains=(P,)),
    case("pow_neg", lambda m, a: a**-1.5, (3, 4), domains=(P,)),
    case("pow_0d", lambda m, a: a**3, ()),
    case("neg", lambda m, a: -a, (3, 4)),
    case("neg_0d", lambda m, a: -a, ()),
    # ------------------------------------------------ a number or an array on either side
    case("radd_number", lambda m, a: 2.5 + a, (3, 4)),
    case("rsub_number", lambda m, a: 3 - a, (3, 4)),
    case("rmul_number", lambda m, a: 2 * a, (3, 4)),
    case("rdiv_number", lambda m, a: 1 / a, (3, 4), domains=(A,)),
    case("rpow_number", lambda m, a: 2.0**a, (3, 4)),
    case("sub_number", lambda m, a: a - 0.75, (3, 4)),
    case("div_number", lambda m, a: a / 4, (3, 4)),
    case("radd_array", lambda m, a: m.const(C34) + a, (3, 4)),
    case("rsub_array", lambda m, a: m.const(C4) - a, (3, 4)),
    case("rmul_array", lambda m, a: m.const(C34) * a, (3, 1)),
    case("rdiv_array", lambda m, a: m.const(C34) / a, (4,), domains=(A,)),
    case("rpow_array", lambda m, a: m.const(C34_AWAY) ** a, (3, 4)),
    case("rmatmul_array", lambda m, a: m.const(C53) @ a, (3, 2)),
    case("add_array", lambda m, a: a + m.const(C34), (4,)),
    case("matmul_array", lambda m, a: a @ m.const(C34), (2, 3)),
    # ------------------------------------------------ matmul as NumPy defines it
    case("matmul_2d", lambda m, a, b: a @ b, (3, 4), (4, 5), signature="(m?,n),(n,p?)->(m?,p?)"),
    case("matmul_mv", lambda m, a, b: a @ b, (3, 4), (4,), signature="(m?,n),(n,p?)->(m?,p?)"),
    case("matmul_vm", lambda m, a, b: a @ b, (4,), (4, 5), signature="(m?,n),(n,p?)->(m?,p?)"),
    case("matmul_vv", lambda m, a, b: a @ b, (4,), (4,), signature="(m?,n),(n,p?)->(m?,p?)"),
    case(
        "matmul_batched",
        lambda m, a, b: a @ b,
        (2, 3, 4),
        (2, 4, 5),
        signature="(m?,n),(n,p?)->(m?,p?)",
    ),
    case(
        "matmul_batch_bcast",
        lambda m, a, b: a @ b,
        (2, 1, 3, 4),
        (3, 4, 2),
        signature="(m?,n),(n,p?)->(m?,p?)",
    ),
    case(
        "matmul_batch_2d",
        lambda m, a, b: a @ b,
        (2, 3, 4),
        (4, 2),
        signature="(m?,n),(n,p?)->(m?,p?)",
    ),
    case(
        "matmul_v_batch", lambda m, a, b: a @ b, (4,), (2, 4, 3), signature="(m?,n),(n,p?)->(m?,p?)"
    ),
    case(
        "matmul_batch_v", lambda m, a, b: a @ b, (2, 3, 4), (4,), signature="(m?,n),(n,p?)->(m?,p?)"
    ),
    # ------------------------------------------------ indexing
    case("index_int", lambda m, a: a[2], (4, 3)),
    case("index_slices", lambda m, a: a[1:3, ::2], (4, 5)),
    case("index_strided", lambda m, a: a[1::2, -2:], (5, 3)),
    # PyTorch has no negative steps: this one is checked by finite differences only.
    case("index_negative_step", lambda m, a: a[::-2, 1:], (5, 3), tags=frozenset({"no_torch"})),
    case("index_ellipsis", lambda m, a: a[..., -1], (2, 3, 4)),
    case("index_newaxis", lambda m, a: a[None, 1:], (3, 2)),
    case("index_0d_result", lambda m, a: a[1, 2], (3, 4)),
    case("index_array_repeated", lambda m, a: a[m.idx([0, 2, 0, 0])], (3, 4)),
    case("index_array_pairs", lambda m, a: a[m.idx([0, 1, 1, 1]), m.idx([2, 2, 0, 2])], (3, 4)),
    case("index_array_2d", lambda m, a: a[m.idx([[0, 1], [1, 1]])], (3, 2)),
    case("index_array_slice", lambda m, a: a[1:, m.idx([3, 0, 3])], (3, 4)),
    case("index_list_repeated", lambda m, a: a[[2, 0, 2]], (3, 4)),
    case("index_tensor", lambda m, a: a[m.index_tensor([1, 1, 0])], (2, 3)),
    case("index_bool_mask", lambda m, a: a[m.idx(MASK34)], (3, 4)),
    # ------------------------------------------------ reductions
    case("sum_all", lambda m, a: m.sum(a), (3, 4)),
    case("sum_axis0", lambda m, a: m.sum(a, 0), (3, 4)),
    case("sum_axis_neg_keep", lambda m, a: m.sum(a, -1, keepdims=True), (3, 4)),
    case("sum_tuple", lambda m, a: m.sum(a, (0, 2)), (2, 3, 4)),
    case("sum_tuple_keep", lambda m, a: m.sum(a, (0, 2), keepdims=True), (2, 3, 4)),
    case("sum_all_keep", lambda m, a: m.sum(a, keepdims=True), (2, 3)),
    case("sum_0d", lambda m, a: m.sum(a), ()),
    case("mean_all", lambda m, a: m.mean(a), (3, 4)),
    case("mean_axis1", lambda m, a: m.mean(a, 1), (3, 4)),
    case("mean_tuple_keep", lambda m, a: m.mean(a, (1, 2), keepdims=True), (2, 3, 4)),
    case("mean_all_keep", lambda m, a: m.mean(a, None, keepdims=True), (2, 3)),
    case("max_all", lambda m, a: m.max(a), (3, 4), domains=(D,)),
    case("max_axis0", lambda m, a: m.max(a, 0), (3, 4), domains=(D,)),
    case("max_axis_neg_keep", lambda m, a: m.max(a, -1, keepdims=True), (3, 4), domains=(D,)),
    case("max_tuple", lambda m, a: m.max(a, (0, 2)), (2, 3, 4), domains=(D,)),
    case("max_tuple_keep", lambda m, a: m.max(a, (0, 2), keepdims=True), (2, 3, 4), domains=(D,)),
    # ties are not differentiable: PyTorch's rule (amax: split evenly) is the reference
    case("max_ties_all", lambda m, a: m.max(a), (3, 4), domains=("ties",), tags=NG),
    case("max_ties_axis", lambda m, a: m.max(a, 1), (3, 5), domains=("ties",), tags=NG),
    case("max_ties_tuple", lambda m, a: m.max(a, (0, 2)), (2, 3, 2), domains=("ties",), tags=NG),
    # ------------------------------------------------ shapes
    case("reshape", lambda m, a: a.reshape(2, 6), (3, 4)),
    case("reshape_tuple_infer", lambda m, a: a.reshape((4, -1)), (2, 3, 2)),
    case("reshape_flat", lambda m, a: a.reshape(-1), (3, 4)),
    case("reshape_to_0d", lambda m, a: a.reshape(()), (1, 1)),
    case("transpose_default", lambda m, a: m.transpose(a), (2, 3, 4)),
    case("transpose_axes", lambda m, a: m.transpose(a, 1, 2, 0), (2, 3, 4)),
    case("dot_T", lambda m, a: a.T, (3, 4)),
    case("T_matmul", lambda m, a, b: a.T @ b, (4, 3), (4, 2)),
    # ------------------------------------------------ elementwise unary
    case("exp", lambda m, a: a.exp(), (3, 4)),
    case("log", lambda m, a: a.log(), (3, 4), domains=(P,)),
    case("sqrt", lambda m, a: a.sqrt(), (3, 4), domains=(P,)),
    case("relu", lambda m, a: a.relu(), (3, 4), domains=(A,)),
    case("relu_at_zero", lambda m, a: a.relu(), (3, 4), domains=("ties",), tags=NG),
    case("sigmoid", lambda m, a: a.sigmoid(), (3, 4)),
    case("sigmoid_wide", lambda m, a: (a * 12).sigmoid(), (3, 4)),
    case("tanh", lambda m, a: a.tanh(), (3, 4)),
    case("exp_0d", lambda m, a: a.exp(), ()),
    case("softmax", lambda m, a: a.softmax(-1), (3, 4)),
    case("softmax_axis0", lambda m, a: a.softmax(0), (2, 3, 4)),
    case("log_softmax", lambda m, a: a.log_softmax(-1), (3, 4)),
    case("log_softmax_axis1", lambda m, a: a.log_softmax(1), (2, 3, 4)),
    case("F_relu", lambda m, a: m.F.relu(a), (3, 4), domains=(A,)),
    case("F_sigmoid", lambda m, a: m.F.sigmoid(a), (3, 4)),
    case("F_tanh", lambda m, a: m.F.tanh(a), (3, 4)),
    case("F_softmax", lambda m, a: m.F.softmax(a, 0), (3, 4)),
    case("F_log_softmax", lambda m, a: m.F.log_softmax(a, 1), (3, 4)),
    # ------------------------------------------------ more elementwise (API additions)
    case("sin", lambda m, a: a.sin(), (3, 4)),
    case("cos", lambda m, a: a.cos(), (3, 4)),
    case("tan", lambda m, a: a.tan(), (3, 4), domains=("small",)),
    case("abs", lambda m, a: a.abs(), (3, 4), domains=(A,)),
    case("abs_at_zero", lambda m, a: a.abs(), (3, 4), domains=("ties",), tags=NG),
    case("square", lambda m, a: a.square(), (3, 4)),
    case("log1p", lambda m, a: a.log1p(), (3, 4), domains=(P,)),
    case("erf", lambda m, a: m.erf(a), (3, 4)),
    case("sign", lambda m, a: a.sign() * a, (3, 4), domains=(A,)),
    case("remainder", lambda m, a, b: a % b + a * b, (3, 4), (3, 4), domains=(P, "exponent")),
    case("remainder_scalar", lambda m, a: (a * 3) % 0.7 * a, (3, 4), domains=(P,)),
    case("floor", lambda m, a: (a * 3).floor() + a, (3, 4)),
    case("ceil", lambda m, a: (a * 3).ceil() * a, (3, 4)),
    case("clamp", lambda m, a: a.clamp(-0.5, 0.7), (3, 4)),
    case("clamp_min", lambda m, a: a.clamp(min=0.1), (3, 4)),
    case("clamp_max", lambda m, a: a.clip(max=-0.2), (3, 4)),
    case("clamp_boundary", lambda m, a: a.clamp(0.0, 1.0), (3, 4), domains=("ties",), tags=NG),
    case("maximum", lambda m, a, b: m.maximum(a, b), (3, 4), (3, 4), broadcast=True),
    case("maximum_bcast", lambda m, a, b: m.maximum(a, b), (3, 1), (4,), broadcast=True),
    case("minimum", lambda m, a, b: m.minimum(a, b), (3, 4), (4,), broadcast=True),
    case("maximum_number", lambda m, a: m.maximum(a, 0.2), (3, 4)),
    case(
        "maximum_ties",
        lambda m, a, b: m.maximum(a, b),
        (3, 4),
        (3, 4),
        domains=("ties", "ties"),
        tags=NG,
    ),
    case(
        "minimum_ties",
        lambda m, a, b: m.minimum(a, b),
        (3, 4),
        (4,),
        domains=("ties", "ties"),
        tags=NG,
    ),
    case("where_mask", lambda m, a, b: m.where(m.mask(MASK34), a, b), (3, 4), (3, 4)),
    case(
        "where_compare",
        lambda m, a, b: m.where(a > b, a * a, b.exp()),
        (3, 4),
        (4,),
        broadcast=True,
    ),
    case("where_number", lambda m, a: m.where(a < 0, 0.0, a), (3, 4)),
    # PyTorch's conventions at 0: x**0 has gradient 0; Σ xᵏ has a finite gradient at 0
    case("pow_zero", lambda m, a: a**0 + a, (3, 4), domains=("zeros",)),
    case("polynomial_at_zero", lambda m, a: a**0 + a**1 + a**2 + a**3, (3, 4), domains=("zeros",)),
    # (at a = 0 PyTorch's second derivative in b is NaN where the true one is 0: a**b is 0
    # for every b > 0 there; tinygrad_bp gives 0, which test_pytorch_habits checks)
    case(
        "pow_tensor_at_zero",
        lambda m, a, b: a**b,
        (3, 4),
        (3, 4),
        domains=("pos_zeros", "exponent"),
        tags=NG | {"no_second_torch"},
    ),
    # ------------------------------------------------ more reductions
    case("min_all", lambda m, a: m.min(a), (3, 4), domains=(D,)),
    case("min_axis1_keep", lambda m, a: m.min(a, 1, keepdims=True), (3, 4), domains=(D,)),
    case("min_tuple", lambda m, a: m.min(a, (0, 2)), (2, 3, 4), domains=(D,)),
    case("min_ties", lambda m, a: m.min(a, 0), (4, 3), domains=("ties",), tags=NG),
    case("prod_all", lambda m, a: m.prod(a), (2, 3)),
    case("prod_axis1", lambda m, a: m.prod(a, 1), (3, 4)),
    case("prod_axis0_keep", lambda m, a: m.prod(a, 0, keepdims=True), (3, 4)),
    case("prod_zeros", lambda m, a: m.prod(a, 1), (3, 3), domains=("zeros",)),
    case(
        "prod_zero_rows", lambda m, a: m.prod(a + m.const(PROD_ZERO_ROWS), 1) + 0 * a.sum(), (3, 3)
    ),
    case("cumsum_axis1", lambda m, a: m.cumsum(a, 1), (3, 4)),
    case("cumsum_axis0", lambda m, a: m.cumsum(a, 0), (3, 2, 2)),
    case("cumsum_neg", lambda m, a: m.cumsum(a, -1), (5,)),
    case("logsumexp_all", lambda m, a: m.logsumexp(a), (3, 4)),
    case("logsumexp_axis1", lambda m, a: m.logsumexp(a, 1), (3, 4)),
    case("logsumexp_keep", lambda m, a: m.logsumexp(a * 30, (0, 2), keepdims=True), (2, 3, 2)),
    case("var_all", lambda m, a: m.var(a), (3, 4)),
    case("var_axis1_keep", lambda m, a: m.var(a, 1, keepdims=True), (3, 4)),
    case("var_ddof1", lambda m, a: m.var(a, 0, ddof=1), (4, 3)),
    case("std_all", lambda m, a: m.std(a), (3, 4)),
    case("std_tuple_ddof1", lambda m, a: m.std(a, (0, 2), ddof=1), (2, 3, 4)),
    # ------------------------------------------------ PyTorch spellings, the same on both
    case("sum_dim_keepdim", lambda m, a: a.sum(dim=1, keepdim=True), (3, 4)),
    case("mean_dim", lambda m, a: a.mean(dim=0), (3, 4)),
    case("softmax_dim", lambda m, a: a.softmax(dim=0), (3, 4)),
    case("log_softmax_dim", lambda m, a: a.log_softmax(dim=-1), (3, 4)),
    case("var_unbiased", lambda m, a: a.var(dim=1, unbiased=True), (3, 4)),
    case("std_correction", lambda m, a: a.std(dim=0, correction=1), (4, 3)),
    case("permute", lambda m, a: a.permute(2, 0, 1), (2, 3, 4)),
    case("swapaxes", lambda m, a: a.swapaxes(0, 2), (2, 3, 4)),
    case("view", lambda m, a: a.view(4, 6), (2, 3, 4)),
    case("clone", lambda m, a: a.clone() * a, (3, 4)),
    # ------------------------------------------------ more shapes
    case("squeeze_all", lambda m, a: a.squeeze(), (3, 1, 4, 1)),
    case("squeeze_axis", lambda m, a: a.squeeze(1), (3, 1, 4)),
    case("unsqueeze_0", lambda m, a: a.unsqueeze(0), (3, 4)),
    case("unsqueeze_neg", lambda m, a: a.unsqueeze(-1), (3, 4)),
    case("flatten_all", lambda m, a: a.flatten(), (2, 3, 4)),
    case("flatten_from1", lambda m, a: a.flatten(1), (2, 3, 4)),
    case("broadcast_to", lambda m, a: a.broadcast_to((2, 3, 4)), (3, 1)),
    case("broadcast_to_mul", lambda m, a: a.broadcast_to((2, 3)) * a, (3,)),
    case("cat_axis0", lambda m, a, b: m.cat([a, b], 0), (2, 3), (4, 3)),
    case("cat_axis_neg", lambda m, a, b: m.cat([a, b * b, a], -1), (3, 1), (3, 2)),
    case("cat_const", lambda m, a: m.cat([a, m.const(C34)], 0), (2, 4)),
    case("stack_axis0", lambda m, a, b: m.stack([a, b], 0), (2, 3), (2, 3)),
    case("stack_axis_last", lambda m, a, b: m.stack([a, b, a * b], -1), (2, 3), (2, 3)),
    case(
        "split_size",
        lambda m, a: m.cat([p * (k + 1) for k, p in enumerate(a.split(2, 0))], 0),
        (5, 3),
    ),
    case(
        "split_sections",
        lambda m, a: (lambda p: p[0].sum() * p[1].exp().sum())(a.split([1, 3], 1)),
        (2, 4),
    ),
    case("pad", lambda m, a: m.pad(a, ((1, 0), (2, 1))), (3, 4)),
    case("pad_value", lambda m, a: m.pad(a, ((0, 2), (1, 1), (0, 0)), 0.5) * 2, (2, 2, 3)),
    case("flip_axis0", lambda m, a: m.flip(a, 0), (3, 4)),
    case("flip_all", lambda m, a: m.flip(a) * a, (3, 4)),
    case("flip_tuple", lambda m, a: m.flip(a, (0, 2)), (2, 3, 4)),
    # ------------------------------------------------ more indexing
    case("gather_axis1", lambda m, a: a.gather(1, m.idx(GATHER_IDX)), (3, 4)),
    case("gather_axis0", lambda m, a: a.gather(0, m.idx(GATHER_IDX[:2, :3])), (4, 3)),
    case(
        "nll_by_gather",
        lambda m, z: -m.mean(z.log_softmax(1).gather(1, m.idx(LABELS5[:, None]))),
        (5, 4),
    ),
    case("index_bool_tensor", lambda m, a: a[m.mask(MASK34)], (3, 4)),
    case("index_compare_mask", lambda m, a: a[a > 0.1] * 2, (3, 4)),
    # ------------------------------------------------ einsum
    case("einsum_matmul", lambda m, a, b: m.einsum("ij,jk->ik", a, b), (3, 4), (4, 2)),
    case("einsum_implicit", lambda m, a, b: m.einsum("ij,jk", a, b), (3, 4), (4, 2)),
    case("einsum_batch", lambda m, a, b: m.einsum("bij,bjk->bik", a, b), (2, 3, 4), (2, 4, 2)),
    case("einsum_transpose", lambda m, a: m.einsum("ijk->kij", a), (2, 3, 4)),
    case("einsum_dot", lambda m, a, b: m.einsum("i,i->", a, b), (4,), (4,)),
    case("einsum_outer", lambda m, a, b: m.einsum("i,j->ij", a, b), (3,), (4,)),
    case("einsum_sum_axis", lambda m, a: m.einsum("ij->j", a), (3, 4)),
    case("einsum_broadcast_axis", lambda m, a, b: m.einsum("ij,k->ijk", a, b), (2, 3), (4,)),
    case(
        "einsum_three", lambda m, a, b, c: m.einsum("ij,jk,kl->il", a, b, c), (2, 3), (3, 4), (4, 2)
    ),
    # ------------------------------------------------ losses
    case("cross_entropy_labels", lambda m, z: m.F.cross_entropy(z, m.labels(LABELS5)), (5, 4)),
    case("cross_entropy_onehot", lambda m, z: m.F.cross_entropy(z, m.const(ONEHOT)), (4, 3)),
    case(
        "cross_entropy_probs",
        lambda m, z, y: m.F.cross_entropy(z, y),
        (4, 3),
        (4, 3),
        domains=("real", "prob"),
    ),
    case(
        "cross_entropy_large_logits",
        lambda m, z: m.F.cross_entropy(z * 1e4, m.labels(LABELS5)),
        (5, 4),
        domains=(D,),
    ),
    case("mse_loss", lambda m, a, b: m.F.mse_loss(a, b), (4, 3), (4, 3)),
    case("mse_loss_const", lambda m, a: m.F.mse_loss(a, m.const(C34)), (3, 4)),
    # not in PyTorch: checked by finite differences (and the invariants) only
    case(
        "F_half_squared_error",
        lambda m, a, b: m.F.half_squared_error(a, b),
        (4, 3),
        (4, 3),
        tags={"no_torch"},
    ),
    case("F_linear", lambda m, x, W, b: m.F.linear(x, W, b), (5, 3), (2, 3), (2,)),
    # ------------------------------------------------ compositions
    case(
        "dense_sigmoid",
        lambda m, x, W, b: (x @ W + b).sigmoid(),
        (5, 3),
        (3, 4),
        (4,),
    ),
    case(
        "mlp_cross_entropy",
        lambda m, x, W1, b1, W2, b2: m.F.cross_entropy(
            (x @ W1 + b1).tanh() @ W2 + b2, m.labels(LABELS5)
        ),
        (5, 3),
        (3, 4),
        (4,),
        (4, 4),
        (4,),
    ),
    case(
        "reused_inner",
        lambda m, a: (lambda b: (b * b + b.exp()).sum() / b.mean())(a * 2 + 1),
        (3, 4),
    ),
]

# ------------------------------------------------ PyTorch's other tensor ops (ops.sorting,
# ops.composed, the new F functions): the same torch spelling on both engines
SCATTER_IDX = np.array([[0, 3], [2, 1], [1, 0]])  # along axis 1 of a (3, 4): no repeats
SCATTER_ADD_IDX = np.array([[0, 0, 3], [2, 2, 2], [1, 0, 1]])  # repeats accumulate
CASES += [
    case("sort_values", lambda m, a: a.sort(1)[0], (3, 4), domains=(D,)),
    case(
        "sort_descending", lambda m, a: a.sort(dim=0, descending=True).values, (4, 3), domains=(D,)
    ),
    case("sort_stable", lambda m, a: a.sort(stable=True)[0] * a, (3, 4), domains=(D,)),
    case(
        "argsort_gather",
        lambda m, a: a.gather(1, a.argsort(dim=1, descending=True)),
        (3, 4),
        domains=(D,),
    ),
    case("topk", lambda m, a: a.topk(2)[0], (3, 4), domains=(D,)),
    case(
        "topk_smallest", lambda m, a: a.topk(2, dim=0, largest=False).values, (4, 3), domains=(D,)
    ),
    case("index_select", lambda m, a: a.index_select(1, m.idx([2, 0, 2])), (3, 4)),
    case("index_select_dim0", lambda m, a: a.index_select(0, m.idx([1])) * a, (3, 4)),
    case("repeat", lambda m, a: a.repeat(2, 1, 3), (3, 4)),
    case("repeat_same_dims", lambda m, a: a.repeat(2, 2) * a.repeat(2, 2), (2, 3)),
    case("tile", lambda m, a: a.tile((2,)), (3, 2)),
    case("repeat_interleave", lambda m, a: a.repeat_interleave(2, dim=0), (3, 4)),
    case(
        "repeat_interleave_counts",
        lambda m, a: a.repeat_interleave(m.idx([1, 0, 3]), dim=0),
        (3, 2),
    ),
    case("repeat_interleave_flat", lambda m, a: a.repeat_interleave(3), (2, 2)),
    case("roll", lambda m, a: a.roll(1, 0), (3, 4)),
    case("roll_two_dims", lambda m, a: a.roll((1, -2), (0, 1)) * a, (3, 4)),
    case("roll_flat", lambda m, a: a.roll(5), (3, 4)),
    case("tril", lambda m, a: a.tril(), (3, 4)),
    case("triu_k", lambda m, a: a.triu(1) * a, (2, 3, 4)),
    case("tril_fn", lambda m, a: m.lib.tril(a, -1), (4, 4)),
    case("unbind", lambda m, a: (lambda u: u[0] * u[1] + u[2])(a.unbind(0)), (3, 4)),
    case("movedim", lambda m, a: a.movedim(0, -1), (2, 3, 4)),
    case("diagonal", lambda m, a: a.diagonal(1), (3, 4)),
    case("diagonal_3d", lambda m, a: a.diagonal(-1, 1, 2), (2, 3, 3)),
    case("trace", lambda m, a: a.trace() * a, (3, 3)),
    case("diag_vector", lambda m, a: m.lib.diag(a, 1), (3,)),
    case("cumprod", lambda m, a: a.cumprod(1), (3, 4)),
    case("cumprod_zeros", lambda m, a: a.cumprod(dim=0), (4, 3), domains=("zeros",)),
    case("outer", lambda m, a, b: m.lib.outer(a, b), (3,), (4,)),
    case("dot", lambda m, a, b: m.lib.dot(a, b), (4,), (4,)),
    case("mm", lambda m, a, b: m.lib.mm(a, b), (3, 4), (4, 2)),
    case("bmm", lambda m, a, b: m.lib.bmm(a, b), (2, 3, 4), (2, 4, 2)),
    case("mv", lambda m, a, b: m.lib.mv(a, b), (3, 4), (4,)),
    case(
        "addmm", lambda m, c, a, b: m.lib.addmm(c, a, b, beta=0.5, alpha=2.0), (3,), (3, 4), (4, 3)
    ),
    case("baddbmm", lambda m, c, a, b: m.lib.baddbmm(c, a, b), (2, 3, 2), (2, 3, 4), (2, 4, 2)),
    case(
        "clamp_tensors", lambda m, a, b, c: a.clamp(b, c), (3, 4), (4,), (3, 1), domains=(D, D, D)
    ),
    case("clamp_min_tensor", lambda m, a, b: a.clamp(min=b), (3, 4), (3, 4), domains=(D, D)),
    case("lerp", lambda m, a, b: a.lerp(b, 0.3) + a.lerp(b, 0.8), (3, 4), (3, 4)),
    case("lerp_tensor_weight", lambda m, a, b, w: a.lerp(b, w), (3, 4), (3, 4), (3, 4)),
    case("scatter", lambda m, a, b: a.scatter(1, m.idx(SCATTER_IDX), b), (3, 4), (3, 2)),
    case("scatter_value", lambda m, a: a.scatter(1, m.idx(SCATTER_IDX), 2.5) * a, (3, 4)),
    case(
        "scatter_add", lambda m, a, b: a.scatter_add(1, m.idx(SCATTER_ADD_IDX), b), (3, 4), (3, 3)
    ),
    case("index_add", lambda m, a, b: a.index_add(0, m.idx([2, 0, 2]), b), (3, 4), (3, 4)),
    case("masked_select", lambda m, a: a.masked_select(m.mask(MASK34)), (3, 4)),
    case("take", lambda m, a: a.take(m.idx([[0, 5], [11, 5]])), (3, 4)),
    case("norm", lambda m, a: a.norm(), (3, 4)),
    case("norm_dim", lambda m, a: a.norm(dim=1), (3, 4)),
    case("norm_p3_keepdim", lambda m, a: a.norm(p=3, dim=0, keepdim=True), (3, 4), domains=(A,)),
    case("norm_p1", lambda m, a: a.norm(p=1), (3, 4), domains=(A,)),
    case("norm_fro_two_dims", lambda m, a: a.norm("fro", dim=(0, 2)), (2, 3, 4)),
    case(
        "vector_norm_inf",
        lambda m, a: m.lib.linalg.vector_norm(a, float("inf"), dim=1),
        (3, 4),
        domains=(D,),
    ),
    case(
        "vector_norm_neg_inf",
        lambda m, a: m.lib.linalg.vector_norm(a, -float("inf")),
        (3, 4),
        domains=(D,),
    ),
    case("matrix_norm_fro", lambda m, a: m.lib.linalg.matrix_norm(a), (2, 3, 4)),
    case("matrix_norm_1", lambda m, a: m.lib.linalg.matrix_norm(a, 1), (3, 4), domains=(D,)),
    case(
        "matrix_norm_inf",
        lambda m, a: m.lib.linalg.matrix_norm(a, float("inf"), keepdim=True),
        (2, 3, 4),
        domains=(D,),
    ),
    case("linalg_norm", lambda m, a: m.lib.linalg.norm(a), (3, 4)),
    case("linalg_norm_ord_dim", lambda m, a: m.lib.linalg.norm(a, 4, dim=1), (3, 4), domains=(A,)),
    case("pad_reflect", lambda m, a: m.F.pad(a, (1, 2), mode="reflect"), (2, 3, 4)),
    case("pad_replicate", lambda m, a: m.F.pad(a, (2, 0, 1, 3), mode="replicate"), (1, 2, 3, 4)),
    case("pad_circular", lambda m, a: m.F.pad(a, (1, 2, -1, 2), mode="circular"), (2, 3, 4)),
    case(
        "max_unpool2d",
        lambda m, a: (lambda y, i: m.F.max_unpool2d(y * y, i, 2))(
            *m.F.max_pool2d(a, 2, return_indices=True)
        ),
        (1, 2, 4, 4),
        domains=(D,),
    ),
    case("hardtanh", lambda m, a: m.F.hardtanh(a * 2, -1.0, 1.5), (3, 4), domains=(D,)),
    case("relu6", lambda m, a: m.F.relu6(a * 8), (3, 4), domains=(D,)),
    # (PyTorch's float64 hardsigmoid backward uses float32's 1/6: test_torch_ops.py checks it)
    case(
        "hardsigmoid", lambda m, a: m.F.hardsigmoid(a * 5), (3, 4), domains=(D,), tags={"no_torch"}
    ),
    case("hardswish", lambda m, a: m.F.hardswish(a * 5), (3, 4), domains=(D,)),
    case("selu", lambda m, a: m.F.selu(a), (3, 4), domains=(A,)),
    case("celu", lambda m, a: m.F.celu(a, 0.5), (3, 4), domains=(A,)),
    case("mish", lambda m, a: m.F.mish(a), (3, 4)),
    case("softsign", lambda m, a: m.F.softsign(a), (3, 4)),
    case("logsigmoid", lambda m, a: m.F.logsigmoid(a * 10), (3, 4)),
    case("tanhshrink", lambda m, a: m.F.tanhshrink(a), (3, 4)),
    case("threshold", lambda m, a: m.F.threshold(a, 0.1, -2.0), (3, 4), domains=(D,)),
    case("softmin", lambda m, a: m.F.softmin(a, 1), (3, 4)),
    case("glu", lambda m, a: m.F.glu(a, 1), (3, 4)),
    case("normalize", lambda m, a: m.F.normalize(a, dim=0), (3, 4)),
    case("cosine_similarity", lambda m, a, b: m.F.cosine_similarity(a, b), (3, 4), (1, 4)),
    case("pairwise_distance", lambda m, a, b: m.F.pairwise_distance(a, b), (3, 4), (3, 4)),
    case("l1_loss", lambda m, a, b: m.F.l1_loss(a, b), (3, 4), (3, 4), domains=(D, D)),
    case("smooth_l1_loss", lambda m, a, b: m.F.smooth_l1_loss(a * 2, b, beta=0.5), (3, 4), (3, 4)),
    case(
        "huber_loss",
        lambda m, a, b: m.F.huber_loss(a * 2, b, reduction="sum", delta=0.7),
        (3, 4),
        (3, 4),
    ),
    case(
        "binary_cross_entropy",
        lambda m, p, y: m.F.binary_cross_entropy(p, y),
        (2, 3),
        (2, 3),
        domains=("prob", "prob"),
    ),
    case(
        "kl_div",
        lambda m, a, t: m.F.kl_div(a.log_softmax(1), t, reduction="batchmean"),
        (2, 3),
        (2, 3),
        domains=("real", "prob"),
    ),
    case(
        "bce_logits_pos_weight",
        lambda m, z, y: m.F.binary_cross_entropy_with_logits(
            z, y, weight=m.const(C34_AWAY.T), pos_weight=m.const([0.5, 2.0, 3.0])
        ),
        (4, 3),
        (4, 3),
        domains=("real", "prob"),
    ),
]

CASES += [
    case(
        "conv1d",
        lambda m, x, w, b: m.F.conv1d(x, w, b, padding=1, stride=2),
        (2, 3, 7),
        (4, 3, 3),
        (4,),
    ),
    case(
        "conv1d_same_groups",
        lambda m, x, w: m.F.conv1d(x, w, padding="same", dilation=2, groups=2),
        (1, 4, 6),
        (2, 2, 3),
    ),
    case("adaptive_avg_pool2d", lambda m, x: m.F.adaptive_avg_pool2d(x, (3, 2)), (1, 2, 5, 7)),
    case("adaptive_avg_pool1d", lambda m, x: m.F.adaptive_avg_pool1d(x, 4), (2, 3, 7)),
    case("group_norm", lambda m, x, w, b: m.F.group_norm(x, 2, w, b), (2, 4, 3, 2), (4,), (4,)),
    case("instance_norm", lambda m, x: m.F.instance_norm(x), (2, 3, 5)),
    case("prelu", lambda m, x, w: m.F.prelu(x, w), (2, 3, 4), (3,), domains=(A, "real")),
    case("nan_to_num", lambda m, a: a.nan_to_num() * a, (3, 4)),
    case(
        "broadcast_tensors",
        lambda m, a, b: (lambda u, v: u * 2 + v)(*m.lib.broadcast_tensors(a, b)),
        (3, 1),
        (4,),
    ),
    case(
        "meshgrid_xy",
        lambda m, a, b: (lambda u, v: u * v + u)(*m.lib.meshgrid(a, b, indexing="xy")),
        (3,),
        (2,),
    ),
    case(
        "take_along_dim",
        lambda m, a: m.lib.take_along_dim(a, m.idx(np.array([[[0], [2]], [[1], [1]]])), 1),
        (2, 3, 4),
    ),
    # (PyTorch has no second derivative of cdist; gradgradcheck checks ours)
    case(
        "cdist",
        lambda m, a, b: m.lib.cdist(a, b),
        (2, 3, 4),
        (2, 5, 4),
        tags={"no_second_torch"},
    ),
]

CASES += [
    case("interpolate_nearest", lambda m, x: m.F.interpolate(x, size=(4, 7)), (1, 2, 3, 5)),
    case(
        "interpolate_bilinear",
        lambda m, x: m.F.interpolate(x, scale_factor=1.5, mode="bilinear"),
        (2, 1, 3, 4),
    ),
    case(
        "interpolate_linear_corners",
        lambda m, x: m.F.interpolate(x, size=6, mode="linear", align_corners=True),
        (2, 3, 4),
    ),
    case(
        "adaptive_max_pool2d",
        lambda m, x: m.F.adaptive_max_pool2d(x, (2, 3)),
        (1, 2, 5, 7),
        domains=(D,),
    ),
    case(
        "einsum_ellipsis", lambda m, a, b: m.einsum("...ij,...jk->...ik", a, b), (2, 3, 4), (4, 2)
    ),
    case(
        "einsum_ellipsis_implicit",
        lambda m, a, b: m.einsum("b...d,b...d", a, b),
        (2, 3, 4),
        (2, 1, 4),
    ),
    case("einsum_list", lambda m, a, b: m.einsum("ij,jk", [a, b]), (2, 3), (3, 4)),
]

CASES += [
    case("F_unfold", lambda m, x: m.F.unfold(x, (2, 3), padding=1, stride=(2, 1)), (2, 2, 4, 5)),
    case(
        "F_fold",
        lambda m, c: m.F.fold(c, (4, 5), (2, 3), padding=1, stride=(2, 1)),
        (2, 12, 15),
    ),
    case("tg_var_default_unbiased", lambda m, x: m.lib.var(x, 1) + m.lib.std(x), (3, 4)),
]

CASES += [
    case(
        "conv_transpose2d",
        lambda m, x, w, b: m.F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        (2, 3, 3, 2),
        (3, 2, 3, 2),
        (2,),
    ),
    case(
        "conv_transpose1d_groups",
        lambda m, x, w: m.F.conv_transpose1d(x, w, stride=2, groups=2, dilation=2),
        (1, 4, 3),
        (4, 1, 2),
    ),
    case("max_pool1d", lambda m, x: m.F.max_pool1d(x, 3, 2, 1), (2, 2, 7), domains=(D,)),
    case("avg_pool1d", lambda m, x: m.F.avg_pool1d(x, 2, ceil_mode=True), (2, 3, 5)),
    case("bilinear", lambda m, a, b, w: m.F.bilinear(a, b, w), (4, 2), (4, 3), (5, 2, 3)),
]

BY_NAME = {c.name: c for c in CASES}
TORCH_CASES = [c for c in CASES if "no_torch" not in c.tags]
GRADCHECK_CASES = [c for c in CASES if "no_gradcheck" not in c.tags]
assert len(BY_NAME) == len(CASES), "duplicate case names"


# ---------------------------------------------------------------- running a case
def run_case(
    m: _Adapter, c: OpCase, arrays: list[np.ndarray], seed: np.ndarray | None = None
) -> tuple[np.ndarray, list[np.ndarray | None], list[Any], Any]:
    """Forward and backward on one engine.  ``seed`` is the gradient of the output
    (``None``: the implicit 1 of a one-element output).  Returns the output value, each
    input's gradient, the input tensors and the output tensor."""
    xs = [m.tensor(a) for a in arrays]
    out = c.fn(m, *xs)
    if seed is None:
        out.backward()
    else:
        out.backward(seed if isinstance(m, TGAdapter) else m.tensor(seed, requires_grad=False))
    return m.value(out), [m.grad(x) for x in xs], xs, out


def output_shape(c: OpCase, arrays: list[np.ndarray]) -> Shape:
    with tg.no_grad():
        return c.fn(TG, *[tg.Tensor(a) for a in arrays]).shape


def seed_for(c: OpCase, arrays: list[np.ndarray], dtype: Any = np.float64) -> np.ndarray | None:
    """A random, non-trivial seed gradient for outputs with more than one element, or with
    dimensions; ``None`` (seed with 1) for 0-d outputs."""
    shape = output_shape(c, arrays)
    if shape == ():
        return None
    rng = np.random.default_rng([zlib.crc32(c.name.encode()), 99])
    return rng.normal(size=shape).astype(dtype)
