"""Issue 20: nn.RNN, nn.GRU and nn.LSTM with num_layers, batch_first, bidirectional and
dropout, against PyTorch: the same parameter names and shapes (weights copy across),
the same outputs, final states and gradients."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import nn

torch = pytest.importorskip("torch")

CONFIGS = [
    dict(num_layers=1),
    dict(num_layers=2, batch_first=True),
    dict(num_layers=2, bidirectional=True),
    dict(num_layers=3, bidirectional=True, batch_first=True, bias=False),
]
KINDS = {
    "RNN": (nn.RNN, torch.nn.RNN, {}),
    "RNN-relu": (nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "GRU": (nn.GRU, torch.nn.GRU, {}),
    "LSTM": (nn.LSTM, torch.nn.LSTM, {}),
}


def _pair(kind: str, cfg: dict):
    ours_cls, theirs_cls, extra = KINDS[kind]
    ours = ours_cls(3, 4, **extra, **cfg, rng=0)
    theirs = theirs_cls(3, 4, **extra, **cfg).double()
    names = [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_parameters()] == names
    assert [p.shape for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    with torch.no_grad():
        theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent_layers_equal_torch(kind: str, cfg: dict, with_state: bool) -> None:
    ours, theirs = _pair(kind, cfg)
    rng = np.random.default_rng(1)
    shape = (2, 5, 3) if cfg.get("batch_first") else (5, 2, 3)
    x = rng.standard_normal(shape)
    D = 2 if cfg.get("bidirectional") else 1
    L = cfg["num_layers"]
    h0 = rng.standard_normal((D * L, 2, 4))
    c0 = rng.standard_normal((D * L, 2, 4))
    xt = tg.Tensor(x, requires_grad=True)
    xr = torch.tensor(x, requires_grad=True)
    if with_state:
        st_o = (tg.Tensor(h0), tg.Tensor(c0)) if kind == "LSTM" else tg.Tensor(h0)
        st_t = (torch.tensor(h0), torch.tensor(c0)) if kind == "LSTM" else torch.tensor(h0)
        out, hn = ours(xt, st_o)
        ref, hr = theirs(xr, st_t)
    else:
        out, hn = ours(xt)
        ref, hr = theirs(xr)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    if kind == "LSTM":
        for a, b in zip(hn, hr):
            np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-10, atol=1e-12)
        loss = (out * out).sum() + hn[0].sum() + (hn[1] * 2).sum()
        lr = (ref * ref).sum() + hr[0].sum() + (hr[1] * 2).sum()
    else:
        np.testing.assert_allclose(hn.data, hr.detach().numpy(), rtol=1e-10, atol=1e-12)
        loss, lr = (out * out).sum() + hn.sum(), (ref * ref).sum() + hr.sum()
    loss.backward()
    lr.backward()
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), rtol=1e-9, atol=1e-11)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_unbatched_input_as_torch(kind: str) -> None:
    ours, theirs = _pair(kind, dict(num_layers=2, bidirectional=True))
    x = np.random.default_rng(2).standard_normal((6, 3))
    out, hn = ours(tg.Tensor(x))
    ref, hr = theirs(torch.tensor(x))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    first = hn[0] if kind == "LSTM" else hn
    first_ref = hr[0] if kind == "LSTM" else hr
    assert first.shape == tuple(first_ref.shape) == (4, 4)


def test_dropout_between_layers_seeded_and_off_in_eval() -> None:
    lstm = nn.LSTM(3, 4, num_layers=3, dropout=0.5, rng=0)
    x = tg.Tensor(np.random.default_rng(0).standard_normal((5, 2, 3)))
    tg.manual_seed(7)
    a = lstm(x)[0].data
    tg.manual_seed(7)
    b = lstm(x)[0].data
    c = lstm(x)[0].data
    assert np.array_equal(a, b) and not np.array_equal(a, c)  # seeded, and random
    lstm.eval()
    nodrop = nn.LSTM(3, 4, num_layers=3, rng=0)
    assert np.array_equal(lstm(x)[0].data, nodrop(x)[0].data)  # eval: no dropout, as torch


def test_default_init_bounds_as_torch() -> None:
    gru = nn.GRU(3, 16, num_layers=2, bidirectional=True)
    for name, p in gru.named_parameters():
        assert np.abs(p.data).max() <= 0.25 and np.abs(p.data).max() > 0.2, name


BAD = [
    (lambda: nn.LSTM(3, 4)(tg.Tensor(np.zeros((5, 2, 3))), (tg.Tensor(np.zeros((1, 2, 4))),) * 3),
     TypeError, r"LSTM: expected hx as a pair \(h_0, c_0\), got a tuple of 3"),
    (lambda: nn.LSTM(3, 4)(tg.Tensor(np.zeros((5, 2, 3))), tg.Tensor(np.zeros((1, 2, 4)))),
     TypeError, "LSTM: expected hx as a pair"),
    (lambda: nn.LSTM(3, 4)(tg.Tensor(np.zeros((5, 2, 3))),
                           (tg.Tensor(np.zeros((2, 2, 4))), tg.Tensor(np.zeros((1, 2, 4))))),
     ValueError, r"LSTM: expected h_0 of shape \(1, 2, 4\)"),
    (lambda: nn.GRU(3, 4)(tg.Tensor(np.zeros((5, 2, 7)))), ValueError, r"GRU\(3, 4\): expected"),
    (lambda: nn.RNN(3, 4)(tg.Tensor(np.zeros(3))), ValueError, r"RNN\(3, 4\): expected"),
    (lambda: nn.RNN(3, 4)([tg.Tensor(np.zeros(3))]), TypeError, "RNN: expected the input"),
    (lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), ValueError, "RNN: nonlinearity"),
    (lambda: nn.GRU(3, 4, dropout=1.5), ValueError, "GRU: dropout must be"),
    (lambda: nn.LSTM(3, 0), ValueError, "LSTM: hidden_size must be"),
    (lambda: nn.LSTM(3, 4, num_layers=0), ValueError, "LSTM: num_layers must be"),
    (lambda: nn.GRU(3, 4)(tg.Tensor(np.zeros((0, 2, 3)))), ValueError, "GRU: the input is empty"),
]  # fmt: skip


@pytest.mark.parametrize("call,exc,match", BAD)
def test_bad_recurrent_inputs_are_named(call, exc, match) -> None:
    with pytest.raises(exc, match=match):
        call()
