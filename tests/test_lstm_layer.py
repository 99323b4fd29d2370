"""ops.recurrent.lstm_layer (the whole LSTM layer as one primitive): its values and every
gradient against PyTorch's nn.LSTM, finite differences, and second derivatives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinygrad_bp as tg
from tinygrad_bp.ops.recurrent import lstm_layer


def _args(T=3, N=2, I=3, H=2, seed=0):
    r = np.random.default_rng(seed)
    shapes = [(T, N, I), (N, H), (N, H), (4 * H, I), (4 * H, H), (4 * H,)]
    return [tg.Tensor(r.standard_normal(s), requires_grad=True) for s in shapes]


def test_lstm_layer_gradients_by_finite_differences():
    assert tg.gradcheck(lambda *a: lstm_layer(*a), _args())


def test_lstm_layer_second_derivatives():
    assert tg.gradgradcheck(lambda *a: lstm_layer(*a), _args(T=2, N=1, I=2, H=2))


@pytest.mark.parametrize("batch_first, layers, with_state", [(False, 1, False), (True, 2, True)])
def test_nn_lstm_matches_torch_values_and_gradients(batch_first, layers, with_state):
    T, N, I, H = 5, 3, 4, 6
    ours = tg.nn.LSTM(I, H, num_layers=layers, batch_first=batch_first, rng=0)
    theirs = torch.nn.LSTM(I, H, num_layers=layers, batch_first=batch_first).double()
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(dict(ours.named_parameters())[name].data))
    r = np.random.default_rng(1)
    x = r.standard_normal((N, T, I) if batch_first else (T, N, I))
    xt, xo = torch.tensor(x, requires_grad=True), tg.Tensor(x, requires_grad=True)
    if with_state:
        h0, c0 = r.standard_normal((layers, N, H)), r.standard_normal((layers, N, H))
        st = (torch.tensor(h0, requires_grad=True), torch.tensor(c0, requires_grad=True))
        so = (tg.Tensor(h0, requires_grad=True), tg.Tensor(c0, requires_grad=True))
        yt, (ht, ct) = theirs(xt, st)
        yo, (ho, co) = ours(xo, so)
    else:
        yt, (ht, ct) = theirs(xt)
        yo, (ho, co) = ours(xo)
    for a, b in ((yo, yt), (ho, ht), (co, ct)):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-10, atol=1e-12)
    wy, wh, wc = (r.standard_normal(t.shape) for t in (yo, ho, co))
    ((yo * wy).sum() + (ho * wh).sum() + (co * wc).sum()).backward()
    (
        (yt * torch.from_numpy(wy)).sum()
        + (ht * torch.from_numpy(wh)).sum()
        + (ct * torch.from_numpy(wc)).sum()
    ).backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    for name, p in theirs.named_parameters():
        mine = dict(ours.named_parameters())[name].grad
        np.testing.assert_allclose(mine, p.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=name)
    if with_state:
        for a, b in zip(so, st):
            np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-9, atol=1e-11)


def test_lstm_layer_refuses_mismatched_shapes():
    a = _args()
    a[3] = tg.Tensor(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="lstm_layer: expected w_ih"):
        lstm_layer(*a)


def test_lstm_refuses_an_empty_sequence():
    with pytest.raises(ValueError, match=r"LSTM: the input is empty \(shape \(0, 2, 3\)\)"):
        tg.nn.LSTM(3, 2, rng=0)(tg.Tensor(np.zeros((0, 2, 3))))


def test_nn_lstm_float32_matches_torch_and_stays_float32():
    """The W6 path: float32 throughout (no silent float64), PyTorch's float32 values."""
    T, N, I, H = 6, 4, 5, 8
    ours = tg.nn.LSTM(I, H, rng=0, dtype=np.float32)
    theirs = torch.nn.LSTM(I, H).float()
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(dict(ours.named_parameters())[name].data))
    r = np.random.default_rng(3)
    x = r.standard_normal((T, N, I)).astype(np.float32)
    xo, xt = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, (ho, co) = ours(xo)
    yt, (ht, ct) = theirs(xt)
    assert yo.dtype == ho.dtype == co.dtype == np.float32
    for a, b in ((yo, yt), (ho, ht), (co, ct)):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=2e-5, atol=2e-6)
    w = r.standard_normal(yo.shape).astype(np.float32)
    wc = r.standard_normal(co.shape).astype(np.float32)
    ((yo * w).sum() + (co * wc).sum()).backward()
    ((yt * torch.from_numpy(w)).sum() + (ct * torch.from_numpy(wc)).sum()).backward()
    assert xo.grad.dtype == np.float32
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=2e-4, atol=2e-5)
    for name, p in theirs.named_parameters():
        mine = dict(ours.named_parameters())[name].grad
        assert mine.dtype == np.float32, name
        np.testing.assert_allclose(mine, p.grad.numpy(), rtol=2e-4, atol=2e-5, err_msg=name)
