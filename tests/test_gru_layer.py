"""ops.recurrent.gru_layer (the whole GRU layer as one primitive, used by nn.GRU and
nn.GRUCell): values and every gradient against PyTorch's nn.GRU and nn.GRUCell in float64
and float32 (PyTorch's gate order r, z, n and its ``r·(W_hn·h + b_hn)``), the hand-derived
backward by finite differences, orders 2 and 3 against finite differences and against a
GRU written out op by op, and Hypothesis shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_bp as tg
from tinygrad_bp.ops.recurrent import gru_layer

# float64: the same formula, rounding apart; float32: PyTorch's kernel vs ours in float32
TOL = {
    np.float64: dict(val=(1e-10, 1e-12), grad=(1e-9, 1e-11)),
    np.float32: dict(val=(2e-5, 2e-6), grad=(2e-4, 2e-5)),
}


def _arrays(T=3, N=2, I=3, H=2, seed=0):
    r = np.random.default_rng(seed)
    shapes = [(T, N, I), (N, H), (3 * H, I), (3 * H, H), (3 * H,), (3 * H,)]
    return [r.standard_normal(s) for s in shapes]


def _args(**kw):
    return [tg.Tensor(a, requires_grad=True) for a in _arrays(**kw)]


def _gru_written_out(x, h, w_ih, w_hh, b_ih, b_hh):
    """PyTorch's GRU formula, step by step, from elementary ops (no fused node)."""
    H = h.shape[1]
    hs = []
    for t in range(x.shape[0]):
        gi = x[t] @ w_ih.T + b_ih
        gh = h @ w_hh.T + b_hh
        r = (gi[:, :H] + gh[:, :H]).sigmoid()
        z = (gi[:, H : 2 * H] + gh[:, H : 2 * H]).sigmoid()
        n = (gi[:, 2 * H :] + r * gh[:, 2 * H :]).tanh()
        h = (1 - z) * n + z * h
        hs.append(h)
    return tg.stack(hs, 0)


def test_one_node_same_values_and_gradients_as_written_out():
    xs = _args(T=4, N=3, I=2, H=3)
    out = gru_layer(*xs)
    assert out.op == "gru_layer" and list(out.parents) == xs
    ref = _gru_written_out(*xs)
    np.testing.assert_allclose(out.data, ref.data, rtol=1e-12, atol=1e-14)
    seed = np.random.default_rng(5).standard_normal(out.shape)
    plain = tg.grad(out, xs, seed)  # the hand-derived backward on arrays
    graph = tg.grad(gru_layer(*xs), xs, seed, create_graph=True)  # the composition's
    theirs = tg.grad(ref, xs, seed)
    for a, b, c in zip(plain, graph, theirs):
        np.testing.assert_allclose(a.data, c.data, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(b.data, c.data, rtol=1e-10, atol=1e-12)


def test_gru_layer_gradients_by_finite_differences():
    assert tg.gradcheck(lambda *a: gru_layer(*a), _args())


def test_gru_layer_second_derivatives_by_finite_differences():
    assert tg.gradgradcheck(lambda *a: gru_layer(*a), _args(T=2, N=2, I=2, H=2))


def _second_order_scalar(f, xs, w0, w1):
    """``Σ w1·∂(Σ w1·∂(Σ w0·f)/∂x)/∂x``: a number whose gradient holds third derivatives."""
    g1 = tg.grad(f(*xs), xs, grad_outputs=w0, create_graph=True)
    s1 = sum(((g * w).sum() for g, w in zip(g1, w1)), tg.Tensor(0.0))
    g2 = tg.grad(s1, xs, create_graph=True, allow_unused=True)
    return sum(((g * w).sum() for g, w in zip(g2, w1) if g is not None), tg.Tensor(0.0))


def test_gru_layer_third_derivatives_by_finite_differences_and_written_out():
    arrays = _arrays(T=2, N=1, I=2, H=2, seed=3)
    rng = np.random.default_rng(4)
    w0 = rng.standard_normal((2, 1, 2))
    w1 = [rng.standard_normal(a.shape) for a in arrays]

    def h(*arrs, f=gru_layer):
        xs = [tg.Tensor(a, requires_grad=True) for a in arrs]
        return _second_order_scalar(f, xs, w0, w1), xs

    def third(f):
        value, xs = h(*arrays, f=f)
        return value.item(), [t.data for t in tg.grad(value, xs)]

    v, ours = third(gru_layer)
    v_c, theirs = third(_gru_written_out)
    assert abs(v - v_c) <= 1e-10 * max(1.0, abs(v_c))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)
    # central differences of the written-out GRU's second-order number
    eps = 1e-5
    for i in (0, 1, 3, 5):  # x, h0, w_hh, b_hh (w_ih and b_ih enter as x and b_hh do)
        a = arrays[i]
        fd = np.empty_like(a)
        for j in range(a.size):
            up, dn = [x.copy() for x in arrays], [x.copy() for x in arrays]
            up[i].flat[j] += eps
            dn[i].flat[j] -= eps
            f_up = h(*up, f=_gru_written_out)[0].item()
            f_dn = h(*dn, f=_gru_written_out)[0].item()
            fd.flat[j] = (f_up - f_dn) / (2 * eps)
        np.testing.assert_allclose(ours[i], fd, rtol=1e-5, atol=1e-6)
    assert max(np.abs(t).max() for t in ours) > 1e-3  # not trivially zero


def _copy_weights(ours, theirs):
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(dict(ours.named_parameters())[name].data))


def _compare(outs, touts, leaves, tleaves, ours, theirs, dtype, rng):
    tol = TOL[dtype]
    for a, b in zip(outs, touts):
        np.testing.assert_allclose(a.data, b.detach().numpy(), *tol["val"])
    ws = [rng.standard_normal(a.shape).astype(dtype) for a in outs]
    sum(((a * w).sum() for a, w in zip(outs, ws)), tg.Tensor(np.zeros((), dtype))).backward()
    sum((b * torch.from_numpy(w)).sum() for b, w in zip(touts, ws)).backward()
    for a, b in zip(leaves, tleaves):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), *tol["grad"])
    mine = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert mine[name].grad.dtype == dtype
        np.testing.assert_allclose(mine[name].grad, p.grad.numpy(), *tol["grad"], err_msg=name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "batch_first, layers, bidirectional, bias, with_state",
    [(False, 1, False, True, False), (True, 2, True, True, True), (False, 1, False, False, True)],
)
def test_nn_gru_matches_torch_values_and_gradients(
    dtype, batch_first, layers, bidirectional, bias, with_state
):
    T, N, I, H = 5, 3, 4, 6
    kw = dict(num_layers=layers, batch_first=batch_first, bidirectional=bidirectional, bias=bias)
    ours = tg.nn.GRU(I, H, rng=0, dtype=dtype, **kw)
    theirs = torch.nn.GRU(I, H, **kw).to(getattr(torch, np.dtype(dtype).name))
    _copy_weights(ours, theirs)
    r = np.random.default_rng(1)
    x = r.standard_normal((N, T, I) if batch_first else (T, N, I)).astype(dtype)
    leaves, tleaves = [tg.Tensor(x, requires_grad=True)], [torch.tensor(x, requires_grad=True)]
    if with_state:
        h0 = r.standard_normal(((1 + bidirectional) * layers, N, H)).astype(dtype)
        leaves.append(tg.Tensor(h0, requires_grad=True))
        tleaves.append(torch.tensor(h0, requires_grad=True))
    y, h = ours(*leaves)
    assert y.dtype == dtype and h.dtype == dtype
    yt, ht = theirs(*tleaves)
    _compare((y, h), (yt, ht), leaves, tleaves, ours, theirs, dtype, r)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batched", [True, False])
def test_nn_gru_cell_matches_torch(dtype, batched):
    I, H = 3, 5
    ours = tg.nn.GRUCell(I, H, rng=0, dtype=dtype)
    theirs = torch.nn.GRUCell(I, H).to(getattr(torch, np.dtype(dtype).name))
    _copy_weights(ours, theirs)
    r = np.random.default_rng(2)
    shape = (4, I) if batched else (I,)
    x = r.standard_normal(shape).astype(dtype)
    h0 = r.standard_normal(shape[:-1] + (H,)).astype(dtype)
    leaves = [tg.Tensor(x, requires_grad=True), tg.Tensor(h0, requires_grad=True)]
    tleaves = [torch.tensor(x, requires_grad=True), torch.tensor(h0, requires_grad=True)]
    y = ours(*leaves)
    assert y.shape == shape[:-1] + (H,) and y.op != "gru_layer"  # a reshape of its one node
    _compare((y,), (theirs(*tleaves),), leaves, tleaves, ours, theirs, dtype, r)


@settings(max_examples=15, deadline=None)
@given(
    T=st.integers(1, 4),
    N=st.integers(1, 3),
    I=st.integers(1, 4),
    H=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_gru_layer_matches_torch_on_hypothesis_shapes(T, N, I, H, seed):
    arrays = _arrays(T, N, I, H, seed)
    xs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = gru_layer(*xs)
    gru = torch.nn.GRU(I, H).double()
    with torch.no_grad():
        for p, t in zip(
            (gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0), ts[2:]
        ):
            p.copy_(t)
    # torch's GRU with the weights as its parameters; their gradients are the weights'
    yt, _ = gru(ts[0], ts[1][None])
    np.testing.assert_allclose(out.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    seed_g = np.random.default_rng(seed + 1).standard_normal(out.shape)
    (out * tg.Tensor(seed_g)).sum().backward()
    (yt * torch.from_numpy(seed_g)).sum().backward()
    np.testing.assert_allclose(xs[0].grad, ts[0].grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(xs[1].grad, ts[1].grad.numpy(), rtol=1e-9, atol=1e-11)
    for ours, p in zip(
        xs[2:], (gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0)
    ):
        np.testing.assert_allclose(ours.grad, p.grad.numpy(), rtol=1e-9, atol=1e-11)


def test_float32_stays_float32():
    arrays = [a.astype(np.float32) for a in _arrays(T=3, N=2, I=3, H=4)]
    xs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    out = gru_layer(*xs)
    assert out.dtype == np.float32
    out.sum().backward()
    assert all(x.grad.dtype == np.float32 for x in xs)


def test_gru_layer_refuses_mismatched_shapes():
    a = _args()
    a[3] = tg.Tensor(np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"gru_layer: expected w_ih \(6, 3\), w_hh \(6, 2\)"):
        gru_layer(*a)
    a = _args()
    a[1] = tg.Tensor(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="gru_layer: expected x .T, N, I. and a state .N, H."):
        gru_layer(*a)
    a = _args()
    a[0] = tg.Tensor(np.zeros((0, 2, 3)))
    with pytest.raises(ValueError, match="gru_layer: the sequence is empty"):
        gru_layer(*a)


def test_gru_twin_bench_steps_agree_with_pytorch():
    """benchmarks/gru_twin.py (W6 with a GRU): the two steps it times compute the same."""
    from benchmarks import gru_twin

    ours, theirs = gru_twin.check(steps=2)
    assert len(ours) == len(theirs) == 2 and ours[1] < ours[0]
