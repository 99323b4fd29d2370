"""The op table read for derivatives of derivatives.

- Every case PyTorch has: ``tg.grad(..., create_graph=True)`` then a second ``tg.grad``
  against ``torch.autograd.grad(..., create_graph=True)`` twice, with the same seeds (a
  random gradient for the output, random weights for the first derivative), to rtol 1e-9
  in float64.  The first derivatives (Tensors with a graph) are compared too.
- Every case finite differences can check: ``tg.gradgradcheck`` (finite differences of
  the first derivative, computed by the engine in a plain backward).
- Third derivatives of a few composites (tanh, sigmoid of a matmul, softmax +
  cross-entropy, logsumexp, a small MLP) against PyTorch.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pytest
import torch

import tinygrad_bp as tg

from .op_cases import (
    CASES,
    GRADCHECK_CASES,
    LABELS5,
    TG,
    TORCH,
    TORCH_CASES,
    OpCase,
    case,
    seed_for,
)

RTOL = 1e-9
ATOL = 1e-11  # only for entries that are (near) zero


def _weights(c: OpCase, arrays: list[np.ndarray], order: int) -> list[np.ndarray]:
    """Fixed random weights that turn the order-th derivatives into one number."""
    rng = np.random.default_rng([zlib.crc32(c.name.encode()), 50 + order])
    return [rng.normal(size=a.shape) for a in arrays]


def _tg_orders(c: OpCase, arrays: list[np.ndarray], orders: int) -> list[list[np.ndarray]]:
    """The derivatives of order 1..orders of ``c`` on tinygrad_bp, each contracted with
    the previous order's weights before it is differentiated again."""
    xs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    out = c.fn(TG, *xs)
    seed = seed_for(c, arrays)
    target: Any = out
    gouts: Any = seed
    result = []
    for k in range(1, orders + 1):
        last = k == orders
        if not (isinstance(target, tg.Tensor) and target.requires_grad):
            result.append([np.zeros_like(a) for a in arrays])  # a constant: all zero
            target = None
            continue
        gs = tg.grad(target, xs, grad_outputs=gouts, create_graph=not last, allow_unused=True)
        for g, x in zip(gs, xs):
            assert g is None or (isinstance(g, tg.Tensor) and g.shape == x.shape), c.name
            assert g is None or g.dtype == x.dtype, c.name
        result.append([np.zeros(x.shape) if g is None else g.data.copy() for g, x in zip(gs, xs)])
        if not last:
            parts = [(g * w).sum() for g, w in zip(gs, _weights(c, arrays, k)) if g is not None]
            target = sum(parts[1:], parts[0]) if parts else None
            gouts = None
    return result


def _torch_orders(c: OpCase, arrays: list[np.ndarray], orders: int) -> list[list[np.ndarray]]:
    xs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = c.fn(TORCH, *xs)
    seed = seed_for(c, arrays)
    target: Any = out
    gouts: Any = None if seed is None else torch.tensor(seed)
    result = []
    for k in range(1, orders + 1):
        last = k == orders
        if target is None or not target.requires_grad:
            result.append([np.zeros_like(a) for a in arrays])
            target = None
            continue
        gs = torch.autograd.grad(
            target, xs, grad_outputs=gouts, create_graph=not last, allow_unused=True
        )
        result.append(  # (force: PyTorch returns its ZeroTensor for some zero gradients)
            [np.zeros(x.shape) if g is None else g.detach().numpy(force=True).copy()
             for g, x in zip(gs, xs)]
        )  # fmt: skip
        if not last:
            ws = _weights(c, arrays, k)
            parts = [(g * torch.tensor(w)).sum() for g, w in zip(gs, ws) if g is not None]
            target = sum(parts[1:], parts[0]) if parts else None
            gouts = None
    return result


def _compare(c: OpCase, ours: list[list[np.ndarray]], theirs: list[list[np.ndarray]]) -> None:
    for k, (mine, ref) in enumerate(zip(ours, theirs), start=1):
        for i, (a, b) in enumerate(zip(mine, ref)):
            np.testing.assert_allclose(
                a, b, rtol=RTOL, atol=ATOL, err_msg=f"{c.name}: order {k}, input {i}"
            )


SECOND_TORCH_CASES = [c for c in TORCH_CASES if "no_second_torch" not in c.tags]


@pytest.mark.parametrize("c", SECOND_TORCH_CASES, ids=repr)
def test_second_derivatives_match_torch(c: OpCase) -> None:
    arrays = c.inputs()
    _compare(c, _tg_orders(c, arrays, 2), _torch_orders(c, arrays, 2))


@pytest.mark.parametrize("c", GRADCHECK_CASES, ids=repr)
def test_gradgradcheck(c: OpCase) -> None:
    xs = [tg.Tensor(a, requires_grad=True) for a in c.inputs()]
    assert tg.gradgradcheck(lambda *ts: c.fn(TG, *ts), xs) is True


# ---------------------------------------------------------------- third derivatives
COMPOSITES = [
    case("tanh3", lambda m, a: a.tanh(), (3, 4)),
    case("sigmoid_matmul3", lambda m, x, W: (x @ W).sigmoid(), (4, 3), (3, 2)),
    case(
        "softmax_cross_entropy3",
        lambda m, z: m.F.cross_entropy(z, m.labels(LABELS5)),
        (5, 4),
    ),
    case(
        "cross_entropy_probs3",
        lambda m, z, y: m.F.cross_entropy(z, y),
        (4, 3),
        (4, 3),
        domains=("real", "prob"),
    ),
    case("logsumexp3", lambda m, a: m.logsumexp(a, 1), (3, 4)),
    case(
        "mlp3",
        lambda m, x, W1, b1, W2, b2: m.F.cross_entropy(
            (x @ W1 + b1).tanh() @ W2 + b2, m.labels(LABELS5)
        ),
        (5, 3),
        (3, 4),
        (4,),
        (4, 4),
        (4,),
    ),
]


@pytest.mark.parametrize("c", COMPOSITES, ids=repr)
def test_third_derivatives_match_torch(c: OpCase) -> None:
    arrays = c.inputs()
    ours, theirs = _tg_orders(c, arrays, 3), _torch_orders(c, arrays, 3)
    assert any(np.abs(g).max() > 1e-3 for g in ours[2]), f"{c.name}: third order all zero"
    _compare(c, ours, theirs)


def test_tanh_derivatives_by_hand() -> None:
    """tanh' = 1 − t², tanh'' = −2t(1 − t²), tanh''' = (6t² − 2)(1 − t²)."""
    a = np.array([-1.3, -0.2, 0.0, 0.4, 2.1])
    x = tg.Tensor(a, requires_grad=True)
    (d1,) = tg.grad(x.tanh().sum(), x, create_graph=True)
    (d2,) = tg.grad(d1.sum(), x, create_graph=True)
    (d3,) = tg.grad(d2.sum(), x)
    t = np.tanh(a)
    np.testing.assert_allclose(d1.data, 1 - t**2, rtol=1e-14)
    np.testing.assert_allclose(d2.data, -2 * t * (1 - t**2), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(d3.data, (6 * t**2 - 2) * (1 - t**2), rtol=1e-13)


def test_table_covers_the_new_ops() -> None:
    """Every op of the API additions has a row in the table (so all four readers see it)."""
    names = " ".join(c.name for c in TORCH_CASES)
    for op in (
        "sin", "cos", "tan", "abs", "square", "log1p", "erf", "clamp", "maximum", "minimum",
        "where", "sign", "floor", "ceil", "min", "prod", "cumsum", "logsumexp", "var", "std",
        "squeeze", "unsqueeze", "flatten", "broadcast_to", "cat", "stack", "split", "pad",
        "flip", "gather", "einsum", "permute", "swapaxes", "view", "clone", "index_bool",
    ):  # fmt: skip
        assert op in names, f"no op case for {op}"


# Primitives whose derivatives of derivatives are tested outside the op table, and where.
ELSEWHERE = {
    "unfold": "test_functional_torch.py (the window primitives differentiate twice)",
    "fold": "test_functional_torch.py (the window primitives differentiate twice)",
    "max_pool": "test_functional_torch.py (the window primitives differentiate twice)",
    "max_last": "test_functional_torch.py (the window primitives differentiate twice)",
    "erf": "test_functional_torch.py (the window primitives differentiate twice)",
    "lstm_cell": "test_functional_torch.py (lstm_cell against PyTorch, its closure on Tensors)",
    "lstm_layer": "test_lstm_layer.py::test_lstm_layer_second_derivatives",
    "gru_layer": "test_gru_layer.py (orders 2 and 3 by finite differences and written out)",
    "index_put": "test_views_inplace.py (second derivatives through in-place ops)",
    "index_add": "the backward of getitem (index rows): its own backward is getitem again",
    "scatter_add": "the backward of gather (gather rows): its own backward is gather again",
    "cast": "linear (its derivative is a cast back, its second zero); test_dtypes.py",
    "floor_divide": "test_pytorch_parity_ops.py::test_floor_division_and_remainder (no "
    "derivative, as in PyTorch: backward through it raises)",
}


def test_every_declared_primitive_has_a_row() -> None:
    """The table's check, read from the declarations (``ops.PRIMITIVES``): every primitive
    is reached by some case's graph (so the second-order tests above cover it), or is
    named in ELSEWHERE with the test that does."""
    from tinygrad_bp import ops

    seen: set[str] = set()
    for c in CASES:
        xs = [tg.Tensor(a, requires_grad=True) for a in c.inputs()]
        stack, visited = [c.fn(TG, *xs)], set()
        while stack:
            t = stack.pop()
            if id(t) in visited:
                continue
            visited.add(id(t))
            if t.op:
                seen.add(t.op.split()[0])
            stack.extend(t.parents)
    missing = sorted(
        p.name for p in ops.PRIMITIVES.values() if p.op not in seen and p.name not in ELSEWHERE
    )
    assert not missing, f"primitives with no row in tests/op_cases.py: {missing}"
    assert set(ELSEWHERE) <= set(ops.PRIMITIVES)


def test_rules_with_a_second_formula_say_so_where_declared() -> None:
    """A backward that reads what the forward computed on arrays and computes it again as
    ops under create_graph (``D.is_tensor``) is declared ``graph_formula=True``, and only
    those: the one visible mark of a rule that is not written once."""
    import inspect

    from tinygrad_bp import ops

    for p in ops.PRIMITIVES.values():
        src = inspect.getsource(getattr(ops, p.name))
        assert ("D.is_tensor(" in src) == p.graph_formula, p.name
    assert sum(p.graph_formula for p in ops.PRIMITIVES.values()) == 7
