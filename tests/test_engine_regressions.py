"""Engine regressions: micrograd's two classic expressions against PyTorch, a reused
inner node, a 100,000-op chain, a node with 10,000 consumers, flat memory over 3,000
build-and-backward steps, and saved closures released after backward."""

from __future__ import annotations

import gc
import math
import tracemalloc
import weakref

import numpy as np
import torch

import tinygrad_bp as tg
from tinygrad_bp import Tensor


def _relu(x):
    return x.relu()


def sanity_expression(x):
    """micrograd's test_sanity_check expression (written here from its math)."""
    z = 2 * x + 2 + x
    q = _relu(z) + z * x
    h = _relu(z * z)
    return h + q + q * x


def more_ops_expression(a, b):
    """micrograd's larger expression (the README's): reused nodes, in-place style
    rebinding, reflected ops, relu, powers and division by a number and by a node."""
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + _relu(b + a)
    d = d + 3 * d + _relu(b - a)
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    return g


def _torch_scalar(v: float) -> torch.Tensor:
    return torch.tensor(v, dtype=torch.float64, requires_grad=True)


def test_micrograd_sanity_check_matches_torch() -> None:
    x = Tensor(-4.0, requires_grad=True)
    y = sanity_expression(x)
    y.backward()
    xt = _torch_scalar(-4.0)
    yt = sanity_expression(xt)
    yt.backward()
    assert y.item() == yt.item()
    assert x.grad.item() == xt.grad.item()
    assert y.item() == -20.0 and x.grad.item() == 46.0


def test_micrograd_more_ops_matches_torch() -> None:
    a, b = Tensor(-4.0, requires_grad=True), Tensor(2.0, requires_grad=True)
    g = more_ops_expression(a, b)
    g.backward()
    at, bt = _torch_scalar(-4.0), _torch_scalar(2.0)
    gt = more_ops_expression(at, bt)
    gt.backward()
    np.testing.assert_allclose(g.item(), gt.item(), rtol=1e-12)
    np.testing.assert_allclose(a.grad, at.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad, bt.grad.numpy(), rtol=1e-12)
    # and the values micrograd's README prints
    assert round(g.item(), 4) == 24.7041
    assert round(float(a.grad), 4) == 138.8338 and round(float(b.grad), 4) == 645.5773


def test_reused_inner_node() -> None:
    a = Tensor([3.0, -1.0], requires_grad=True)
    b = a + a
    c = b + b
    c.backward(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(a.grad, [4.0, 8.0])
    a0 = Tensor(3.0, requires_grad=True)
    b0 = a0 * a0
    (b0 * b0 + b0).backward()  # d/da (a^4 + a^2) = 4a^3 + 2a
    assert a0.grad.item() == 4 * 27 + 6


def test_100k_op_chain() -> None:
    n = 100_000
    x = Tensor(0.5, requires_grad=True)
    y = x
    for i in range(n):
        y = y * 1.00001 if i % 2 else y + 0.25  # y = 1.00001^(n/2) * x + const
    y.backward()
    np.testing.assert_allclose(x.grad, 1.00001 ** (n // 2), rtol=1e-9)
    del y  # releasing a 100k-deep chain must not overflow the C stack either
    gc.collect()


def test_deep_chain_with_retain_graph_and_second_backward() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x
    for _ in range(30_000):
        y = y - 0.0
    y.backward(np.ones(2), retain_graph=True)
    y.backward(np.ones(2))
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_node_used_10k_times() -> None:
    n = 10_000
    x = Tensor([1.0, -2.0], requires_grad=True)
    h = x * 2  # the fan-out node: 10,000 consumers
    terms = [h * float(i % 7) for i in range(n)]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    total.sum().backward()
    weight = float(sum(i % 7 for i in range(n)))
    np.testing.assert_array_equal(x.grad, [2 * weight, 2 * weight])


def test_leaf_used_10k_times() -> None:
    x = Tensor(np.arange(3.0), requires_grad=True)
    outs = [x for _ in range(10_000)]
    # the same leaf feeds 10,000 adds
    s = outs[0]
    for o in outs[1:]:
        s = s + o
    s.sum().backward()
    np.testing.assert_array_equal(x.grad, np.full(3, 10_000.0))


def _train_step(W1: Tensor, W2: Tensor, X: np.ndarray, y: np.ndarray) -> float:
    h = (Tensor(X) @ W1).tanh()
    loss = tg.functional.cross_entropy(h @ W2, y)
    loss.backward()
    with tg.no_grad():
        for p in (W1, W2):
            p.data -= 0.01 * p.grad
            p.grad = None
    return loss.item()


def test_memory_is_flat_over_3000_steps() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 4)), rng.integers(0, 3, size=8)
    W1 = Tensor(rng.normal(size=(4, 5)), requires_grad=True)
    W2 = Tensor(rng.normal(size=(5, 3)), requires_grad=True)
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(300):  # warm-up: caches, interned objects, first allocations
            _train_step(W1, W2, X, y)
        gc.collect()
        warm_current, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(300):
            _train_step(W1, W2, X, y)
        _, warm_peak = tracemalloc.get_traced_memory()
        for _ in range(2400):
            _train_step(W1, W2, X, y)
        tracemalloc.reset_peak()
        for _ in range(300):
            _train_step(W1, W2, X, y)
        gc.collect()
        current, late_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One step's graph is several kilobytes: a leak of one graph per step would grow
    # memory by megabytes over these 3,000 steps.
    assert current - warm_current < 32 * 1024, (warm_current, current)
    assert late_peak - warm_peak < 32 * 1024, (warm_peak, late_peak)


def test_graph_is_freed_without_the_cycle_collector() -> None:
    gc.disable()
    try:
        x = Tensor(np.ones(3), requires_grad=True)
        h = x.exp()
        loss = (h * h).sum()
        loss.backward()
        ref = weakref.ref(h)
        del h, loss
        assert ref() is None  # no reference cycles: plain reference counting frees it
    finally:
        gc.enable()


def _saved_arrays(node: Tensor) -> list[np.ndarray]:
    cells = node._backward.__closure__ or ()
    return [c.cell_contents for c in cells if isinstance(c.cell_contents, np.ndarray)]


def _graph(root: Tensor) -> list[Tensor]:
    seen, stack, out = set(), [root], []
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        out.append(n)
        stack.extend(n.parents)
    return out


def test_saved_closures_and_arrays_released_after_backward() -> None:
    rng = np.random.default_rng(1)
    x = Tensor(rng.normal(size=(6, 4)), requires_grad=True)
    W = Tensor(rng.normal(size=(4, 3)), requires_grad=True)
    loss = tg.functional.cross_entropy((x @ W).sigmoid() * 3, np.array([0, 1, 2, 0, 1, 2]))
    nodes = [n for n in _graph(loss) if not n.is_leaf]
    graph_data = {id(n.data) for n in _graph(loss)}
    closures = [weakref.ref(n._backward) for n in nodes]
    # arrays the closures saved that no tensor in the graph holds (e.g. exp(z - max))
    private = [weakref.ref(a) for n in nodes for a in _saved_arrays(n) if id(a) not in graph_data]
    assert private, "expected the fused loss to save arrays of its own"
    del nodes
    loss.backward()
    assert all(r() is None for r in closures)
    assert all(r() is None for r in private)
    assert tg.autograd.is_freed(loss)


def test_retain_graph_keeps_closures() -> None:
    x = Tensor(np.ones(3), requires_grad=True)
    loss = (x.exp() * 2).sum()
    ref = weakref.ref(loss._backward)
    loss.backward(retain_graph=True)
    assert ref() is not None and not tg.autograd.is_freed(loss)


def test_tanh_chain_matches_closed_form() -> None:
    x = Tensor(0.3, requires_grad=True)
    y = x
    for _ in range(200):
        y = y.tanh() * 1.5
    y.backward()
    # same chain by hand
    v, d = 0.3, 1.0
    for _ in range(200):
        t = math.tanh(v)
        d *= 1.5 * (1 - t * t)
        v = 1.5 * t
    assert math.isclose(y.item(), v, rel_tol=1e-12)
    assert math.isclose(x.grad.item(), d, rel_tol=1e-9, abs_tol=1e-300)
