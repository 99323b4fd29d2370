"""The worked examples of docs/higher_order.md as tests, with the checks the page can only
print: Newton's method converging quadratically to 1.0, a Hessian-vector product of the
tutorial network's loss against PyTorch and against finite differences of the gradient,
a gradient penalty trained for a few steps against PyTorch, and the graphs of tanh's
derivatives (their values and their sizes)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import tinygrad_bp as tg
from tinygrad_bp import Tensor, nn, optim
from tinygrad_bp import functional as F
from tinygrad_bp.data import load_iris, standardize


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris()
    return standardize(X)[0], y


def _torch_mlp(params: list[Any], x: torch.Tensor) -> torch.Tensor:
    """The same network as nn.mlp with tanh, on torch tensors (W of shape (in, out))."""
    h = x
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]
        if i < len(params) - 2:
            h = torch.tanh(h)
    return h


# ---------------------------------------------------------------- Newton's method
def test_newton_converges_to_one_quadratically() -> None:
    x = Tensor(2.0, requires_grad=True)
    errors = []
    for _ in range(8):
        f = x**4 - 2 * x**2
        (d1,) = tg.grad(f, x, create_graph=True)
        (d2,) = tg.grad(d1, x)
        a = x.item()
        np.testing.assert_allclose(d1.item(), 4 * a**3 - 4 * a, rtol=1e-14)
        np.testing.assert_allclose(d2.item(), 12 * a**2 - 4, rtol=1e-14)
        with tg.no_grad():
            x -= d1.detach() / d2
        errors.append(abs(x.item() - 1.0))
    assert x.item() == pytest.approx(1.0, abs=1e-15)
    assert x.is_leaf and x.requires_grad and x.grad is None
    # quadratic: each error is at most a constant times the square of the previous one
    for e0, e1 in zip(errors[:4], errors[1:5]):
        assert e1 <= 2.0 * e0**2
    assert errors[0] == pytest.approx(1.454545454545 - 1, abs=1e-12)


# ---------------------------------------------------------------- Hessian-vector product
def _hvp(model: nn.Module, X: np.ndarray, y: np.ndarray, v: list[np.ndarray]) -> list[Any]:
    params = list(model.parameters())
    loss = F.cross_entropy(model(Tensor(X)), y)
    grads = tg.grad(loss, params, create_graph=True)
    return [h.data for h in tg.grad(sum((g * vp).sum() for g, vp in zip(grads, v)), params)]


def test_hessian_vector_product_of_the_tutorial_loss_matches_torch(iris) -> None:
    X, y = iris
    model = nn.mlp([4, 10, 5, 3], activation="tanh", rng=0)
    params = list(model.parameters())
    rng = np.random.default_rng(1)
    v = [rng.standard_normal(p.shape) for p in params]
    hv = _hvp(model, X, y, v)
    tp = [torch.tensor(p.data, requires_grad=True) for p in params]
    tloss = torch.nn.functional.cross_entropy(_torch_mlp(tp, torch.tensor(X)), torch.tensor(y))
    tgrads = torch.autograd.grad(tloss, tp, create_graph=True)
    thv = torch.autograd.grad(sum((g * torch.tensor(vp)).sum() for g, vp in zip(tgrads, v)), tp)
    for ours, theirs in zip(hv, thv):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-11, atol=1e-14)
    assert all(p.grad is None for p in params)  # tg.grad touched no .grad


def test_hessian_vector_product_matches_finite_differences_of_the_gradient(iris) -> None:
    """Hv ≈ (∇L(w + εv) − ∇L(w − εv)) / 2ε, the gradients from plain backward() calls."""
    X, y = iris
    X, y = X[:20], y[:20]
    model = nn.mlp([4, 10, 5, 3], activation="tanh", rng=0)
    params = list(model.parameters())
    rng = np.random.default_rng(2)
    v = [rng.standard_normal(p.shape) for p in params]
    hv = _hvp(model, X, y, v)
    eps = 1e-5

    def grads_at(sign: float) -> list[np.ndarray]:
        with tg.no_grad():
            for p, vp in zip(params, v):
                p += sign * eps * vp
        model.zero_grad()
        F.cross_entropy(model(Tensor(X)), y).backward()
        out = [p.grad.copy() for p in params]
        with tg.no_grad():
            for p, vp in zip(params, v):
                p -= sign * eps * vp
        return out

    up, down = grads_at(1.0), grads_at(-1.0)
    for h, u, d in zip(hv, up, down):
        np.testing.assert_allclose(h, (u - d) / (2 * eps), rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------- gradient penalty
def test_gradient_penalty_training_matches_torch(iris) -> None:
    X, y = iris
    idx = np.random.default_rng(0).permutation(len(X))[:32]
    xb, yb = X[idx], y[idx]
    lam = 1.0
    model = nn.mlp([4, 8, 3], activation="tanh", rng=0)
    opt = optim.SGD(model.parameters(), lr=0.5)
    tp = [torch.tensor(p.data, requires_grad=True) for p in model.parameters()]
    topt = torch.optim.SGD(tp, lr=0.5)
    penalties = []
    for _ in range(5):
        x = Tensor(xb, requires_grad=True)
        ce = F.cross_entropy(model(x), yb)
        (gx,) = tg.grad(ce * len(xb), x, create_graph=True)
        penalty = (gx * gx).sum(axis=1).mean()
        total = ce + lam * penalty
        opt.zero_grad()
        total.backward()
        opt.step()
        penalties.append(penalty.item())

        xt = torch.tensor(xb, requires_grad=True)
        tce = torch.nn.functional.cross_entropy(_torch_mlp(tp, xt), torch.tensor(yb))
        (tgx,) = torch.autograd.grad(tce * len(xb), xt, create_graph=True)
        ttotal = tce + lam * (tgx * tgx).sum(dim=1).mean()
        topt.zero_grad()
        ttotal.backward()
        topt.step()
        assert total.item() == pytest.approx(ttotal.item(), rel=1e-12)
        assert x.grad is not None  # backward() also reached the input, through both graphs
    for p, t in zip(model.parameters(), tp):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-11, atol=1e-14)
    assert all(p > 0 for p in penalties)


def test_the_penalty_changes_the_training() -> None:
    """The penalty's gradient reaches the weights: with lam = 0 the weights differ."""
    rng = np.random.default_rng(3)
    xb, yb = rng.normal(size=(8, 4)), rng.integers(0, 3, size=8)

    def train(lam: float) -> list[np.ndarray]:
        model = nn.mlp([4, 6, 3], activation="tanh", rng=0)
        opt = optim.SGD(model.parameters(), lr=0.5)
        for _ in range(3):
            x = Tensor(xb, requires_grad=True)
            ce = F.cross_entropy(model(x), yb)
            (gx,) = tg.grad(ce * len(xb), x, create_graph=True)
            opt.zero_grad()
            (ce + lam * (gx * gx).sum(axis=1).mean()).backward()
            opt.step()
        return [p.data.copy() for p in model.parameters()]

    plain, penalised = train(0.0), train(10.0)
    assert max(np.abs(a - b).max() for a, b in zip(plain, penalised)) > 1e-4


# ---------------------------------------------------------------- tanh's derivatives drawn
def test_graphs_of_tanh_derivatives() -> None:
    from tinygrad_bp import viz

    x = Tensor(0.5, requires_grad=True)
    orders = [x.tanh()]
    for _ in range(3):
        (d,) = tg.grad(orders[-1], x, create_graph=True)
        orders.append(d)
    t = np.tanh(0.5)
    exact = [t, 1 - t**2, -2 * t * (1 - t**2), (6 * t**2 - 2) * (1 - t**2)]
    np.testing.assert_allclose([d.item() for d in orders], exact, rtol=1e-14)
    graphs = [viz.draw_graph(d) for d in orders]
    counts = [g.num_nodes for g in graphs]
    assert counts == [3, 11, 17, 43]  # the page prints these
    assert all(g.view == "forward" for g in graphs)
    # the first derivative's graph is tanh's backward closure on Tensors: g·(1 − out·out)
    src = graphs[1].source
    assert src.count('"tanh"') + src.count(">tanh<") >= 1 and "sub" in src and "mul" in src
