"""The new nn layers against PyTorch (float64): outputs, every parameter's and the
input's gradient, train/eval, state dicts with buffers, bad input; and a small CNN and an
LSTM trained 20 steps with plain SGD matching PyTorch's loss at every step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinygrad_bp as tg
from tinygrad_bp import nn, optim

torch.set_default_dtype(torch.float64)


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def copy_to_torch(ours: nn.Module, theirs: torch.nn.Module, rename=lambda n: n) -> None:
    mine = dict(ours.named_parameters())
    tp = dict(theirs.named_parameters())
    assert {rename(n) for n in mine} == set(tp), (sorted(mine), sorted(tp))
    with torch.no_grad():
        for n, p in mine.items():
            assert tuple(tp[rename(n)].shape) == p.shape, n
            tp[rename(n)].copy_(torch.from_numpy(p.data))


def compare(ours, theirs, x, rename=lambda n: n, out=lambda y: y, rtol=1e-10):
    """Same input through both; compare outputs, then the gradients of sum(out·w)."""
    xt = torch.tensor(x, requires_grad=True)
    xo = tg.Tensor(x, requires_grad=True)
    yo, yt = out(ours(xo)), out(theirs(xt))
    np.testing.assert_allclose(yo.data, yt.detach().numpy(), rtol=rtol, atol=1e-12)
    w = rnd(*yo.shape, seed=7)
    (yo * w).sum().backward()
    (yt * torch.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    tp = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        np.testing.assert_allclose(
            p.grad, tp[rename(n)].grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=n
        )


def test_linear_matches_pytorch_shapes_and_init_range():
    lin = nn.Linear(5, 3, rng=0)
    assert lin.weight.shape == (3, 5) and lin.bias.shape == (3,)
    assert np.abs(lin.weight.data).max() <= 1 / np.sqrt(5)
    t = torch.nn.Linear(5, 3)
    copy_to_torch(lin, t)
    compare(lin, t, rnd(4, 5))
    nb = nn.Linear(5, 3, bias=False, rng=0)
    assert nb.bias is None and [n for n, _ in nb.named_parameters()] == ["weight"]


def test_dense_bias_false():
    d = nn.Dense(4, 2, activation="tanh", bias=False, rng=0)
    assert d.b is None and [n for n, _ in d.named_parameters()] == ["W"]
    x = rnd(3, 4)
    np.testing.assert_allclose(d(tg.Tensor(x)).data, np.tanh(x @ d.W.data))


def test_conv_pool_modules():
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1, rng=0)
    t = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1)
    copy_to_torch(conv, t)
    compare(conv, t, rnd(2, 3, 7, 6))
    for ours, theirs in (
        (nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),
        (nn.AvgPool2d(3, 1, 1), torch.nn.AvgPool2d(3, 1, 1)),
    ):
        compare(ours, theirs, rnd(2, 3, 6, 6))


@pytest.mark.parametrize(
    "cls, tcls, shape",
    [
        (nn.BatchNorm1d, torch.nn.BatchNorm1d, (8, 3)),
        (nn.BatchNorm1d, torch.nn.BatchNorm1d, (8, 3, 5)),
        (nn.BatchNorm2d, torch.nn.BatchNorm2d, (4, 3, 5, 5)),
    ],
)
def test_batchnorm_train_eval_and_buffers(cls, tcls, shape):
    bn, tb = cls(3, momentum=0.3), tcls(3, momentum=0.3)
    bn.weight.data[...] = rnd(3, seed=1)
    bn.bias.data[...] = rnd(3, seed=2)
    copy_to_torch(bn, tb)
    for step in range(3):
        compare(bn, tb, rnd(*shape, seed=10 + step) * 2 + 1)
    sd, tsd = bn.state_dict(), tb.state_dict()
    assert list(sd) == list(tsd)  # weight, bias, running_mean, running_var, num_batches_tracked
    for k in sd:
        np.testing.assert_allclose(sd[k], tsd[k].numpy(), rtol=1e-12)
    bn.eval()
    tb.eval()
    assert not bn.training
    compare(bn, tb, rnd(*shape, seed=20))
    before = bn.state_dict()
    bn(tg.Tensor(rnd(*shape, seed=21)))  # eval: the running statistics stay
    for k in before:
        np.testing.assert_array_equal(before[k], bn.state_dict()[k])
    fresh = cls(3)
    fresh.load_state_dict(sd)
    np.testing.assert_allclose(fresh.running_var.data, tsd["running_var"].numpy())


def test_batchnorm_refuses_one_value_per_channel_and_stays_unchanged():
    bn = nn.BatchNorm1d(3)
    before = bn.state_dict()
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(tg.Tensor(rnd(1, 3)))
    with pytest.raises(
        ValueError, match=r"BatchNorm1d\(3\): expected .* C = 3, got shape \(4, 2\)"
    ):
        bn(tg.Tensor(rnd(4, 2)))
    for k, v in bn.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_layernorm_embedding_dropout():
    ln, tl = nn.LayerNorm((4, 5)), torch.nn.LayerNorm((4, 5))
    ln.weight.data[...] = rnd(4, 5, seed=1)
    ln.bias.data[...] = rnd(4, 5, seed=2)
    copy_to_torch(ln, tl)
    compare(ln, tl, rnd(3, 4, 5))
    emb = nn.Embedding(10, 3, rng=0)
    idx = np.array([[1, 9, 1], [0, 2, 2]])
    y = emb(idx)
    te = torch.nn.Embedding(10, 3)
    copy_to_torch(emb, te)
    np.testing.assert_allclose(y.data, te(torch.from_numpy(idx)).detach().numpy())
    y.sum().backward()
    te(torch.from_numpy(idx)).sum().backward()
    np.testing.assert_allclose(emb.weight.grad, te.weight.grad.numpy())
    with pytest.raises(IndexError, match=r"Embedding\(10, 3\): .*index 10 is out of range"):
        emb(np.array([10]))
    d1, d2 = nn.Dropout(0.4, rng=3), nn.Dropout(0.4, rng=3)
    x = tg.Tensor(np.ones((20, 20)))
    np.testing.assert_array_equal(d1(x).data, d2(x).data)
    d1.eval()
    assert d1(x) is x
    with pytest.raises(ValueError, match=r"Dropout: p must be a probability in \[0, 1\), got 1"):
        nn.Dropout(1)


def test_cells_match_pytorch():
    for ours, theirs in (
        (nn.RNNCell(3, 4, rng=0), torch.nn.RNNCell(3, 4)),
        (nn.RNNCell(3, 4, nonlinearity="relu", rng=0), torch.nn.RNNCell(3, 4, nonlinearity="relu")),
        (nn.GRUCell(3, 4, rng=0), torch.nn.GRUCell(3, 4)),
    ):
        copy_to_torch(ours, theirs)
        compare(ours, theirs, rnd(5, 3))
    lc, tlc = nn.LSTMCell(3, 4, rng=0), torch.nn.LSTMCell(3, 4)
    copy_to_torch(lc, tlc)
    compare(lc, tlc, rnd(5, 3), out=lambda hc: hc[0] * 2 + hc[1])
    h = rnd(5, 4, seed=3)
    c = rnd(5, 4, seed=4)
    got = lc(tg.Tensor(rnd(5, 3)), (tg.Tensor(h), tg.Tensor(c)))
    want = tlc(torch.tensor(rnd(5, 3)), (torch.tensor(h), torch.tensor(c)))
    np.testing.assert_allclose(got[1].data, want[1].detach().numpy(), rtol=1e-10)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("layers", [1, 2])
def test_lstm_matches_pytorch(batch_first, layers):
    lstm = nn.LSTM(3, 5, num_layers=layers, batch_first=batch_first, rng=0)
    tl = torch.nn.LSTM(3, 5, num_layers=layers, batch_first=batch_first)
    copy_to_torch(lstm, tl)
    x = rnd(4, 6, 3)
    compare(lstm, tl, x, out=lambda r: r[0] + r[1][0].sum() + 2 * r[1][1].sum())
    out, (h, c) = lstm(tg.Tensor(x))
    assert h.shape == c.shape == (layers, 6 if not batch_first else 4, 5)
    with pytest.raises(
        ValueError,
        match=r"LSTM\(3, 5\): expected an input .* I = 3 \(input_size\), got shape \(4, 6, 2\)",
    ):
        lstm(tg.Tensor(rnd(4, 6, 2)))


def test_multihead_attention_matches_pytorch():
    mha = nn.MultiheadAttention(8, 2, rng=0)
    tm = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    copy_to_torch(mha, tm)
    x = rnd(3, 5, 8)
    mask = np.triu(np.ones((5, 5), dtype=bool), 1)
    xo, xt = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, wo = mha(xo, xo, xo, attn_mask=mask)
    yt, wt = tm(xt, xt, xt, attn_mask=torch.from_numpy(mask))
    np.testing.assert_allclose(yo.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(wo.data, wt.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rnd(*yo.shape, seed=1)
    (yo * g).sum().backward()
    (yt * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    tp = dict(tm.named_parameters())
    for n, p in mha.named_parameters():
        np.testing.assert_allclose(p.grad, tp[n].grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=n)


def test_activation_and_loss_modules():
    x = rnd(4, 5)
    for ours, theirs in (
        (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
        (nn.GELU(), torch.nn.GELU()),
        (nn.SiLU(), torch.nn.SiLU()),
        (nn.ELU(), torch.nn.ELU()),
        (nn.Softplus(), torch.nn.Softplus()),
    ):
        compare(ours, theirs, x)
    t = np.array([0, 4, 2, 1])
    for ours, theirs in (
        (nn.CrossEntropyLoss(label_smoothing=0.1), torch.nn.CrossEntropyLoss(label_smoothing=0.1)),
        (nn.CrossEntropyLoss(reduction="sum"), torch.nn.CrossEntropyLoss(reduction="sum")),
    ):
        np.testing.assert_allclose(
            ours(tg.Tensor(x), t).item(),
            theirs(torch.tensor(x), torch.from_numpy(t)).item(),
            rtol=1e-12,
        )
    y = rnd(4, 5, seed=1)
    np.testing.assert_allclose(
        nn.MSELoss()(tg.Tensor(x), tg.Tensor(y)).item(),
        torch.nn.MSELoss()(torch.tensor(x), torch.tensor(y)).item(),
        rtol=1e-12,
    )


def test_module_tree_train_eval_parameter_buffers_and_containers():
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3),
        nn.BatchNorm2d(2),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.Flatten(),
        nn.Identity(),
        nn.Linear(8, 3),
    )
    net.eval()
    assert all(not m.training for _, m in net.modules())
    net.train()
    assert all(m.training for _, m in net.modules())
    names = list(net.state_dict())
    assert (
        names[:2] == ["0.weight", "0.bias"]
        and "1.running_mean" in names
        and "1.num_batches_tracked" in names
    )
    ml = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
    holder = nn.Sequential(nn.Identity())
    holder.extra = ml
    assert len(list(ml.parameters())) == 4
    p = nn.Parameter(np.zeros(3))
    assert p.requires_grad and isinstance(p, tg.Tensor)


def test_clip_grad_norm_matches_pytorch():
    grads = [rnd(3, 4), rnd(5, seed=1)]
    ps = [tg.Tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    tps = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, tp, g in zip(ps, tps, grads):
        p.grad = g.copy()
        tp.grad = torch.tensor(g)
    n = nn.utils.clip_grad_norm_(ps, 1.5)
    tn = torch.nn.utils.clip_grad_norm_(tps, 1.5)
    np.testing.assert_allclose(n.item(), tn.item(), rtol=1e-12)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)


def test_conv_bad_input_names_the_layer_and_shapes():
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(
        ValueError,
        match=r"Conv2d\(3, 4\): expected an input of shape \(N, 3, H, W\), got shape "
        r"\(1, 2, 5, 5\)",
    ):
        conv(tg.Tensor(rnd(1, 2, 5, 5)))
    with pytest.raises(ValueError, match="kernel size"):
        conv(tg.Tensor(rnd(1, 3, 2, 2)))
    with pytest.raises(ValueError, match="stride must be >= 1"):
        nn.Conv2d(3, 4, 3, stride=0)
    with pytest.raises(ValueError, match="padding must be >= 0"):
        nn.Conv2d(3, 4, 3, padding=-1)


# ------------------------------------------------------------------ trajectories
def _train_both(ours, theirs, make_batch, loss_ours, loss_theirs, steps=20, lr=0.1):
    opt = optim.SGD(ours.parameters(), lr=lr)
    topt = torch.optim.SGD(theirs.parameters(), lr=lr)
    for step in range(steps):
        xb, yb = make_batch(step)
        lo = loss_ours(ours, xb, yb)
        opt.zero_grad()
        lo.backward()
        opt.step()
        lt = loss_theirs(theirs, xb, yb)
        topt.zero_grad()
        lt.backward()
        topt.step()
        assert abs(lo.item() - lt.item()) <= 1e-8 * max(1.0, abs(lt.item())), step


def test_small_cnn_trains_like_pytorch_for_20_steps():
    from tinygrad_bp.functional import cross_entropy

    ours = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, rng=0),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1, rng=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32, 5, rng=2),
    )
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(32, 5),
    )
    copy_to_torch(ours, theirs)
    g = np.random.default_rng(0)
    data = [(g.standard_normal((8, 1, 8, 8)), g.integers(0, 5, 8)) for _ in range(20)]
    _train_both(
        ours,
        theirs,
        lambda s: data[s],
        lambda m, x, y: cross_entropy(m(tg.Tensor(x)), y),
        lambda m, x, y: torch.nn.functional.cross_entropy(m(torch.tensor(x)), torch.from_numpy(y)),
    )


def test_lstm_language_model_trains_like_pytorch_for_20_steps():
    from tinygrad_bp.commands import models

    ours = models.NamesLSTM(emb=6, hidden=10, rng=0)

    class Twin(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(27, 6)
            self.lstm = torch.nn.LSTM(6, 10)
            self.out = torch.nn.Linear(10, 27)

        def forward(self, idx):
            s, _ = self.lstm(self.emb(idx.T))
            return self.out(s.reshape(-1, 10))

    theirs = Twin()
    copy_to_torch(ours, theirs)
    g = np.random.default_rng(1)
    data = [(g.integers(0, 27, (4, 7)), g.integers(0, 27, (4, 7))) for _ in range(20)]
    _train_both(
        ours,
        theirs,
        lambda s: data[s],
        lambda m, x, y: tg.functional.cross_entropy(m(x), y.T.ravel()),
        lambda m, x, y: torch.nn.functional.cross_entropy(
            m(torch.from_numpy(x)), torch.from_numpy(y.T.ravel())
        ),
        lr=0.5,
    )
