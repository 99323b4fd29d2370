"""Every new function in F against PyTorch: values and every gradient, float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_bp as tg
from tinygrad_bp import functional as F
from tinygrad_bp import ops as ops_window  # the window, lstm_cell and erf primitives

RTOL = 1e-10
ATOL = 1e-12


def _run(fn_ours, fn_torch, arrays, needs_grad=None, seed=0):
    """Run both on the same float64 arrays; compare values and the gradient of
    sum(out * w) for a random w with respect to every float input."""
    needs_grad = needs_grad if needs_grad is not None else [a.dtype.kind == "f" for a in arrays]
    ours = [
        tg.Tensor(a, requires_grad=r) if a.dtype.kind == "f" else a
        for a, r in zip(arrays, needs_grad)
    ]
    theirs = [
        torch.tensor(a, requires_grad=r) if a.dtype.kind == "f" else torch.from_numpy(a)
        for a, r in zip(arrays, needs_grad)
    ]
    y = fn_ours(*ours)
    ty = fn_torch(*theirs)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=RTOL, atol=ATOL)
    w = np.random.default_rng(seed).standard_normal(y.shape)
    (y * w).sum().backward()
    (ty * torch.from_numpy(w)).sum().backward()
    for o, t, r in zip(ours, theirs, needs_grad):
        if r:
            np.testing.assert_allclose(o.grad, t.grad.numpy(), rtol=1e-9, atol=1e-11)
    return y


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize(
    "name, ours, theirs",
    [
        ("leaky_relu", lambda x: F.leaky_relu(x, 0.1), lambda x: TF.leaky_relu(x, 0.1)),
        ("gelu", F.gelu, TF.gelu),
        ("silu", F.silu, TF.silu),
        ("softplus", F.softplus, TF.softplus),
        ("softplus_beta", lambda x: F.softplus(x, 2.0, 3.0), lambda x: TF.softplus(x, 2.0, 3.0)),
        ("elu", lambda x: F.elu(x, 0.7), lambda x: TF.elu(x, 0.7)),
    ],
)
def test_activations(name, ours, theirs):
    x = rnd(4, 7) * 3
    x[0, 0] = 0.0  # the kink, where PyTorch's rule picks a side
    _run(ours, theirs, [x])


def test_gelu_wide_range_and_float32():
    x = np.concatenate([np.linspace(-9, 9, 3601), [0.0, 1e-300, -1e-8]])
    _run(F.gelu, TF.gelu, [x])
    x32 = rnd(1000).astype(np.float32) * 3
    y = F.gelu(tg.Tensor(x32))
    assert y.dtype == np.float32
    # float32: 1 + erf(x/√2) carries float32 rounding (6e-8, more near erf = -1) times
    # |x|/2; both engines are that far from the exact value, PyTorch's a little further
    true = np.array([0.5 * float(v) * math.erfc(-float(v) / math.sqrt(2)) for v in x32])
    theirs = TF.gelu(torch.from_numpy(x32)).numpy()
    assert np.abs(y.data - true).max() <= max(np.abs(theirs - true).max(), 5e-7)
    np.testing.assert_allclose(y.data, theirs, rtol=2e-6, atol=1.5e-6)


def test_erf_against_libm():
    x = np.concatenate([np.linspace(-7, 7, 20001), np.logspace(-300, 0.9, 500)])
    ref = np.array([math.erf(v) for v in x])
    got = ops_window.erf(tg.Tensor(x)).data
    np.testing.assert_allclose(got, ref, rtol=5e-15, atol=0)


@pytest.mark.parametrize(
    "xs, ws, stride, padding",
    [
        ((2, 3, 7, 6), (4, 3, 3, 3), 1, 0),
        ((2, 3, 7, 6), (4, 3, 3, 2), 2, 1),
        ((1, 2, 5, 5), (3, 2, 5, 5), 1, 0),
        ((2, 1, 8, 8), (5, 1, 3, 3), (2, 1), (1, 2)),
    ],
)
def test_conv2d(xs, ws, stride, padding):
    x, w, b = rnd(*xs), rnd(*ws, seed=1), rnd(ws[0], seed=2)
    _run(
        lambda x, w, b: F.conv2d(x, w, b, stride, padding),
        lambda x, w, b: TF.conv2d(x, w, b, stride, padding),
        [x, w, b],
    )
    _run(
        lambda x, w: F.conv2d(x, w, None, stride, padding),
        lambda x, w: TF.conv2d(x, w, None, stride, padding),
        [x, w],
    )


@pytest.mark.parametrize("k, s, p", [(2, None, 0), (3, 1, 1), (3, 2, 1), ((2, 3), (1, 2), (1, 1))])
def test_pools(k, s, p):
    x = rnd(2, 3, 7, 8)
    _run(lambda x: F.max_pool2d(x, k, s, p), lambda x: TF.max_pool2d(x, k, s, p), [x])
    _run(lambda x: F.avg_pool2d(x, k, s, p), lambda x: TF.avg_pool2d(x, k, s, p), [x])


def test_max_pool_ties_route_to_one_element_like_pytorch():
    x = np.zeros((1, 1, 4, 4))
    _run(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [x])


@pytest.mark.parametrize("shape", [(6, 3), (5, 3, 4), (4, 3, 2, 5)])
def test_batch_norm_training_and_running_stats(shape):
    x, w, b = rnd(*shape), rnd(3, seed=1), rnd(3, seed=2)
    rm, rv = rnd(3, seed=3), np.abs(rnd(3, seed=4)) + 0.5
    rm_t, rv_t = torch.tensor(rm), torch.tensor(rv)
    _run(
        lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.2),
        lambda x, w, b: TF.batch_norm(x, rm_t, rv_t, w, b, training=True, momentum=0.2),
        [x, w, b],
    )
    np.testing.assert_allclose(rm, rm_t.numpy(), rtol=RTOL)
    np.testing.assert_allclose(rv, rv_t.numpy(), rtol=RTOL)
    _run(
        lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False),
        lambda x, w, b: TF.batch_norm(x, rm_t, rv_t, w, b, training=False),
        [x, w, b],
    )


def test_layer_norm():
    x, w, b = rnd(3, 4, 5), rnd(4, 5, seed=1), rnd(4, 5, seed=2)
    _run(
        lambda x, w, b: F.layer_norm(x, (4, 5), w, b),
        lambda x, w, b: TF.layer_norm(x, (4, 5), w, b),
        [x, w, b],
    )
    _run(lambda x: F.layer_norm(x, 5), lambda x: TF.layer_norm(x, (5,)), [x])


def test_embedding_and_one_hot():
    w = rnd(7, 3)
    idx = np.array([[1, 2, 1], [6, 0, 1]])
    _run(lambda i, w: F.embedding(i, w), lambda i, w: TF.embedding(i, w), [idx, w], [False, True])
    np.testing.assert_array_equal(
        F.one_hot(idx, 7).data, TF.one_hot(torch.from_numpy(idx), 7).numpy()
    )
    with pytest.raises(IndexError, match="index 7 is out of range for 7 embeddings"):
        F.embedding(np.array([7]), tg.Tensor(w))


@pytest.mark.parametrize("causal", [False, True])
def test_scaled_dot_product_attention(causal):
    q, k, v = rnd(2, 3, 5, 4), rnd(2, 3, 5, 4, seed=1), rnd(2, 3, 5, 6, seed=2)
    _run(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=causal),
        lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, is_causal=causal),
        [q, k, v],
    )


def test_sdpa_masks():
    q, k, v = rnd(2, 4, 3), rnd(2, 6, 3, seed=1), rnd(2, 6, 2, seed=2)
    bm = np.random.default_rng(5).random((4, 6)) > 0.3
    bm[:, 0] = True
    fm = rnd(4, 6, seed=6)
    for m in (bm, fm):
        _run(
            lambda q, k, v, m=m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
            lambda q, k, v, m=m: TF.scaled_dot_product_attention(
                q, k, v, attn_mask=torch.from_numpy(m)
            ),
            [q, k, v],
        )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ls", [0.0, 0.2])
def test_cross_entropy_options(reduction, ls):
    z = rnd(6, 4)
    t = np.array([0, 3, 1, -100, 2, 3])
    _run(
        lambda z: F.cross_entropy(z, t, reduction=reduction, label_smoothing=ls),
        lambda z: TF.cross_entropy(z, torch.from_numpy(t), reduction=reduction, label_smoothing=ls),
        [z],
    )
    t2 = np.array([0, 3, 1, -1, 2, 3])
    _run(
        lambda z: F.cross_entropy(z, t2, reduction=reduction, label_smoothing=ls, ignore_index=-1),
        lambda z: TF.cross_entropy(
            z, torch.from_numpy(t2), reduction=reduction, label_smoothing=ls, ignore_index=-1
        ),
        [z],
    )
    p = np.abs(rnd(6, 4, seed=3))
    p /= p.sum(1, keepdims=True)
    _run(
        lambda z: F.cross_entropy(z, p, reduction=reduction, label_smoothing=ls),
        lambda z: TF.cross_entropy(z, torch.from_numpy(p), reduction=reduction, label_smoothing=ls),
        [z],
    )


def test_cross_entropy_default_is_the_fused_primitive():
    z = tg.Tensor(rnd(5, 3), requires_grad=True)
    assert F.cross_entropy(z, np.array([0, 1, 2, 0, 1])).op == "cross_entropy"


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_mse_bce(reduction):
    z = rnd(5, 4)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    t = np.array([1, 0, 3, 3, 2])
    _run(
        lambda a: F.nll_loss(a, t, reduction=reduction),
        lambda a: TF.nll_loss(a, torch.from_numpy(t), reduction=reduction),
        [logp],
    )
    y = rnd(5, 4, seed=1)
    _run(
        lambda a: F.mse_loss(a, tg.Tensor(y), reduction=reduction),
        lambda a: TF.mse_loss(a, torch.from_numpy(y), reduction=reduction),
        [z],
    )
    yb = (rnd(5, 4, seed=2) > 0).astype(np.float64)
    _run(
        lambda a: F.binary_cross_entropy_with_logits(a, yb, reduction=reduction),
        lambda a: TF.binary_cross_entropy_with_logits(a, torch.from_numpy(yb), reduction=reduction),
        [z * 10],
    )


def test_dropout_seeded_scaled_and_identity_in_eval():
    x = tg.Tensor(np.ones((200, 50)), requires_grad=True)
    a = F.dropout(x, 0.3, rng=np.random.default_rng(1))
    b = F.dropout(x, 0.3, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a.data, b.data)
    kept = a.data != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(a.data[kept], 1 / 0.7)
    a.sum().backward()
    np.testing.assert_allclose(x.grad, kept / 0.7)
    assert F.dropout(x, 0.3, training=False) is x
    for p in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"dropout: p must be a probability in \[0, 1\)"):
            F.dropout(x, p)


def test_bad_input_messages():
    x = tg.Tensor(rnd(1, 3, 5, 5))
    with pytest.raises(ValueError, match=r"3 channels .*expects 2 .*\(4, 2, 3, 3\)"):
        F.conv2d(x, tg.Tensor(rnd(4, 2, 3, 3)))
    with pytest.raises(
        ValueError, match=r"kernel size \(7, 7\) is larger than the padded input \(5, 5\)"
    ):
        F.conv2d(x, tg.Tensor(rnd(4, 3, 7, 7)))
    with pytest.raises(ValueError, match="stride must be >= 1"):
        F.conv2d(x, tg.Tensor(rnd(4, 3, 3, 3)), stride=0)
    with pytest.raises(ValueError, match="padding must be >= 0"):
        F.conv2d(x, tg.Tensor(rnd(4, 3, 3, 3)), padding=-1)
    with pytest.raises(ValueError, match="expected more than 1 value per channel"):
        F.batch_norm(tg.Tensor(rnd(1, 3)), np.zeros(3), np.ones(3), training=True)
    with pytest.raises(ValueError, match="at most half the kernel"):
        F.max_pool2d(x, 2, padding=2)


@pytest.mark.parametrize(
    "make",
    [
        lambda x: ops_window.unfold(x, (2, 3), (1, 2), (1, 0)),
        lambda x: ops_window.max_last(x, axis=1),
        lambda x: ops_window.erf(x),
        lambda x: ops_window.max_last(x),
        lambda x: F.softplus(x),
    ],
)
def test_backward_closures_accept_tensors(make):
    """The op convention: under create_graph the engine calls the closure with Tensors."""
    x = tg.Tensor(rnd(2, 3, 4, 5), requires_grad=True)
    y = make(x)
    g = rnd(*y.shape, seed=9)
    (arr,) = y._backward(g, *y._saved)  # the saved values named at the node: arrays...
    (ten,) = y._backward(tg.Tensor(g), *_saved_tensors(y))  # ... or their Tensors
    assert isinstance(ten, tg.Tensor)
    np.testing.assert_allclose(ten.data, np.broadcast_to(arr, ten.shape), rtol=1e-13)


def _saved_tensors(y):
    from tinygrad_bp.autograd import _saved_tensors as saved

    return saved(y, y._parents)


def test_fold_is_the_adjoint_of_unfold():
    rng = np.random.default_rng(0)
    x, shape = rng.standard_normal((2, 3, 6, 5)), (2, 3, 6, 5)
    u = ops_window.unfold(tg.Tensor(x), 3, 2, 1)
    c = rng.standard_normal(u.shape)
    f = ops_window.fold(tg.Tensor(c, requires_grad=True), shape, 3, 2, 1)
    assert np.isclose((u.data * c).sum(), (x * f.data).sum(), rtol=1e-12)  # <Ux, c> = <x, Fc>
    (back,) = f._backward(tg.Tensor(x))
    np.testing.assert_allclose(back.data, u.data, rtol=1e-13)


def test_stack():
    a, b = rnd(3, 4), rnd(3, 4, seed=1)
    _run(lambda a, b: ops_window.stack([a, b], 1), lambda a, b: torch.stack([a, b], 1), [a, b])


def test_lstm_cell_matches_pytorch_and_its_closure_takes_tensors():
    H = 3
    a, c = rnd(4, 4 * H) * 2, rnd(4, H, seed=1)

    def theirs(a, c):
        i, f, g, o = a.chunk(4, 1)
        c2 = f.sigmoid() * c + i.sigmoid() * g.tanh()
        return torch.stack([o.sigmoid() * c2.tanh(), c2])

    _run(ops_window.lstm_cell, theirs, [a, c])
    y = ops_window.lstm_cell(tg.Tensor(a, requires_grad=True), tg.Tensor(c, requires_grad=True))
    g = rnd(*y.shape, seed=2)
    arrays = y._backward(g, *y._saved)
    tensors = y._backward(tg.Tensor(g), *_saved_tensors(y))
    for arr, ten in zip(arrays, tensors):
        assert isinstance(ten, tg.Tensor)
        np.testing.assert_allclose(ten.data, arr, rtol=1e-12)


_R = np.random.default_rng(0)


@pytest.mark.parametrize(
    "name, fn, arrays",
    [
        (
            "unfold",
            lambda x: ops_window.unfold(x, 2, (2, 1), 1),
            [_R.standard_normal((1, 2, 4, 3))],
        ),
        (
            "fold",
            lambda c: ops_window.fold(c * c, (1, 1, 3, 3), 2, 1, 0),
            [_R.standard_normal((1, 1, 2, 2, 2, 2))],
        ),
        ("erf", ops_window.erf, [_R.standard_normal(5)]),
        ("gelu", F.gelu, [_R.standard_normal(5)]),
        ("softplus", F.softplus, [_R.standard_normal(5)]),
        ("max_pool2d", lambda x: F.max_pool2d(x, 2), [_R.standard_normal((1, 2, 4, 4))]),
        (
            "conv2d",
            lambda x, w: F.conv2d(x, w, padding=1),
            [_R.standard_normal((1, 2, 4, 4)), _R.standard_normal((3, 2, 3, 3))],
        ),
        (
            "lstm_cell",
            ops_window.lstm_cell,
            [_R.standard_normal((2, 8)), _R.standard_normal((2, 2))],
        ),
        (
            "stack",
            lambda a, b: ops_window.stack([a * a, b * a], 1),
            [_R.standard_normal((2, 3)), _R.standard_normal((2, 3))],
        ),
        ("layer_norm", lambda x: F.layer_norm(x, 4), [_R.standard_normal((2, 4))]),
        (
            "sdpa",
            lambda q: F.scaled_dot_product_attention(q, q * 2, q, is_causal=True),
            [_R.standard_normal((3, 2))],
        ),
    ],
)
def test_second_derivatives(name, fn, arrays):
    """The window primitives and the layers' functions differentiate twice (create_graph)."""
    assert tg.gradgradcheck(fn, [tg.Tensor(a, requires_grad=True) for a in arrays])


@given(
    n=st.integers(1, 2), c=st.integers(1, 3), cout=st.integers(1, 3),
    h=st.integers(1, 7), w=st.integers(1, 7), kh=st.integers(1, 4), kw=st.integers(1, 4),
    sh=st.integers(1, 3), sw=st.integers(1, 3), ph=st.integers(0, 2), pw=st.integers(0, 2),
)  # fmt: skip
def test_conv2d_and_pools_on_drawn_shapes(n, c, cout, h, w, kh, kw, sh, sw, ph, pw):
    if kh > h + 2 * ph or kw > w + 2 * pw:
        with pytest.raises(ValueError, match="larger than the padded input"):
            F.conv2d(
                tg.Tensor(rnd(n, c, h, w)),
                tg.Tensor(rnd(cout, c, kh, kw)),
                None,
                (sh, sw),
                (ph, pw),
            )
        return
    x, wt, b = rnd(n, c, h, w), rnd(cout, c, kh, kw, seed=1), rnd(cout, seed=2)
    _run(
        lambda x, wt, b: F.conv2d(x, wt, b, (sh, sw), (ph, pw)),
        lambda x, wt, b: TF.conv2d(x, wt, b, (sh, sw), (ph, pw)),
        [x, wt, b],
    )
    if ph <= kh // 2 and pw <= kw // 2:
        _run(
            lambda x: F.max_pool2d(x, (kh, kw), (sh, sw), (ph, pw)),
            lambda x: TF.max_pool2d(x, (kh, kw), (sh, sw), (ph, pw)),
            [x],
        )
        _run(
            lambda x: F.avg_pool2d(x, (kh, kw), (sh, sw), (ph, pw)),
            lambda x: TF.avg_pool2d(x, (kh, kw), (sh, sw), (ph, pw)),
            [x],
        )
