"""optim.SGD and optim.Adam against torch.optim, step for step, in float64."""

from __future__ import annotations

import re

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import functional as F
from tinygrad_bp import nn, optim
from tinygrad_bp.data import load_iris, standardize

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # These tensors are tiny: threads only add contention on a shared machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


STEPS = 300
CONFIGS = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.01, nesterov=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.003, betas=(0.8, 0.95), eps=1e-6)),
    ("Adam", dict(lr=0.01, weight_decay=0.05)),
]


def _grad_fn(p: np.ndarray, A: np.ndarray) -> np.ndarray:
    """A gradient field that depends on the parameters (so the trajectories must agree)
    and never vanishes: near a minimum Adam's steps chatter and amplify rounding
    differences chaotically, which would test the dynamics rather than the rule."""
    return np.sign(A[:, 0]) * (1.0 + 0.5 * np.sin(A @ p + 3 * p))


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{k}" for n, k in CONFIGS])
def test_update_rule_matches_torch_over_hundreds_of_steps(name, kwargs):
    rng = np.random.default_rng(0)
    shapes = [(6,), (6,), (4,)]
    init = [rng.normal(size=s) for s in shapes]
    mats = [np.eye(s[0]) * 0.5 + 0.1 * rng.normal(size=(s[0], s[0])) for s in shapes]
    ours = [tg.Tensor(a, requires_grad=True) for a in init]
    theirs = [torch.tensor(a.copy(), dtype=torch.float64, requires_grad=True) for a in init]
    opt = getattr(optim, name)(ours, **kwargs)
    topt = getattr(torch.optim, name)(theirs, **kwargs)
    for step in range(STEPS):
        for i, (p, tp) in enumerate(zip(ours, theirs)):
            if i == 2 and step % 3 == 0:  # a parameter without a gradient is skipped
                p.grad, tp.grad = None, None
                continue
            p.grad = _grad_fn(p.data, mats[i])
            tp.grad = torch.from_numpy(_grad_fn(tp.detach().numpy(), mats[i]))
        opt.step()
        topt.step()
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=0, atol=1e-10)
        assert p.data.dtype == np.float64


@pytest.mark.parametrize(
    "name,kwargs",
    [("SGD", dict(lr=0.01)), ("SGD", dict(lr=0.01, momentum=0.9)), ("Adam", dict(lr=0.01))],
)
def test_training_the_tutorial_network_matches_torch(name, kwargs):
    """Engine + our optimizer vs torch autograd + torch.optim on Iris, 200 full-batch steps."""
    X, y = load_iris()
    Z, _, _ = standardize(X)
    net = nn.mlp([4, 10, 5, 3], activation="tanh", init="xavier", rng=0)
    tparams = [torch.tensor(v.copy(), requires_grad=True) for v in net.state_dict().values()]
    opt = getattr(optim, name)(net.parameters(), **kwargs)
    topt = getattr(torch.optim, name)(tparams, **kwargs)
    x, tx, ty = tg.Tensor(Z), torch.from_numpy(Z), torch.from_numpy(y)
    for _ in range(200):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
        topt.zero_grad()
        h = tx
        for i in range(3):
            h = h @ tparams[2 * i] + tparams[2 * i + 1]
            if i < 2:
                h = torch.tanh(h)
        torch.nn.functional.cross_entropy(h, ty).backward()
        topt.step()
    for ours, theirs in zip(net.parameters(), tparams):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=0, atol=1e-10)


def test_step_updates_in_place_and_leaves_grad_alone():
    w = tg.Tensor([1.0, -2.0], requires_grad=True)
    arr = w.data
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    w.grad = np.array([0.5, 0.5])
    g = w.grad.copy()
    opt.step()
    assert w.data is arr
    np.testing.assert_array_equal(w.grad, g)
    opt.zero_grad()
    assert w.grad is None


def test_optimizer_bad_input():
    w = tg.Tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    # a tensor that does not require grad is accepted, as in PyTorch (it gets no .grad)
    optim.SGD([tg.Tensor([1.0])], lr=0.1).step()
    with pytest.raises(ValueError, match="more than once"):
        optim.Adam([w, w])
    with pytest.raises(ValueError, match="lr must be >= 0"):
        optim.SGD([w], lr=-1)
    with pytest.raises(ValueError, match="nesterov needs momentum"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"betas\[1\] must be in \[0.0, 1.0\)"):
        optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="lr must be a number"):
        optim.Adam([w], lr="0.1")


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("grad_shape", [(3,), (3, 2), (1, 6)])
def test_sgd_refuses_a_gradient_of_another_shape(momentum, grad_shape):
    # a .grad set by hand with the wrong shape: broadcasting it would update with the
    # wrong numbers, so the step names both shapes instead (parameter unchanged)
    p = tg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    p.grad = np.ones(grad_shape)
    opt = optim.SGD([p], lr=0.1, momentum=momentum)
    with pytest.raises(RuntimeError, match=r"SGD.step: a parameter of shape \(2, 3\) has a "
                       r"gradient of shape " + re.escape(str(grad_shape))):  # fmt: skip
        opt.step()
    np.testing.assert_array_equal(p.data, np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["c", "transposed", "strided"])
def test_sgd_update_in_place_for_every_layout(dtype, layout):
    # The BLAS path (contiguous float arrays) and the NumPy path (anything else) both
    # update the parameter's own array, to the rounding of p - lr * g
    rng = np.random.default_rng(0)
    base = rng.standard_normal((64, 48)).astype(dtype)  # above AXPY_MIN: the BLAS path
    data = {"c": base, "transposed": base.T, "strided": base[:, ::2]}[layout]
    p = tg.Tensor(data, dtype=dtype, requires_grad=True)
    p.data = data  # (the constructor may copy: put the exact layout back)
    g = rng.standard_normal(data.shape).astype(dtype)
    p.grad = g.copy()
    d64, g64 = data.astype(np.float64), g.astype(np.float64)
    want = d64 - 0.1 * g64
    # two roundings (NumPy) or one (BLAS's fused multiply-add) in the parameter's dtype:
    # within 2 ulps of the operands' size, elementwise (p - lr*g may cancel to near 0)
    bound = 2 * np.finfo(dtype).eps * (np.abs(d64) + np.abs(0.1 * g64))
    before = p.data
    optim.SGD([p], lr=0.1).step()
    assert p.data is before and p.data.dtype == dtype
    err = np.abs(p.data.astype(np.float64) - want)
    assert np.all(err <= bound), float((err / bound).max())
    np.testing.assert_array_equal(p.grad, g)
