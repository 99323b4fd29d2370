"""The hand-written layers of ``tinygrad_bp.reference``: against PyTorch (forward and every
gradient, float64) and against central finite differences, over several shapes, strides
and paddings; their errors; the training steps built from them.

Nothing here uses the engine: the reference is checked on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tinygrad_bp import reference as R

TORCH_TOL = 1e-12  # relative to the size of the values compared
FD_TOL = 1e-7  # relative, float64 central differences


def close(ours: np.ndarray, ref: Any, tol: float = TORCH_TOL, what: str = "") -> None:
    ref = ref.detach().numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref)
    assert ours.shape == ref.shape, (what, ours.shape, ref.shape)
    scale = max(1.0, float(np.abs(ref).max(initial=0.0)))
    err = float(np.abs(ours - ref).max(initial=0.0))
    assert err <= tol * scale, f"{what}: max |diff| {err:.3g} > {tol:g}·{scale:.3g}"


def t64(a: np.ndarray, grad: bool = True) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def copy_from_torch(layer: R.HandLayer, module: torch.nn.Module, rename=None) -> None:
    state = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    if rename:
        state = {rename.get(k, k): v for k, v in state.items()}
    layer.load_state_dict(state)


def fd_check(
    layer: Any,
    run: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray | None,
    grads: dict[str, np.ndarray],
    dout: np.ndarray,
    h: float = 1e-6,
    before: Callable[[], None] | None = None,
) -> None:
    """Central differences of ``L = Σ run(x) · dout`` for ``x`` and every parameter of
    ``layer``, compared with ``grads`` (what ``backward(dout)`` returned)."""

    def loss(xv: np.ndarray | None) -> float:
        if before:
            before()
        return float((run(xv) * dout).sum())

    targets: list[tuple[str, np.ndarray]] = []
    if x is not None:
        targets.append(("x", x))
    targets += list(layer.parameters().items())
    assert set(grads) == {name for name, _ in targets}, (sorted(grads), [n for n, _ in targets])
    for name, arr in targets:
        num = np.zeros_like(arr)
        flat, nflat = arr.reshape(-1), num.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + h
            up = loss(x)
            flat[i] = old - h
            down = loss(x)
            flat[i] = old
            nflat[i] = (up - down) / (2 * h)
        scale = max(float(np.abs(num).max()), 1e-3)
        err = float(np.abs(grads[name] - num).max())
        assert err <= FD_TOL * scale, (
            f"{type(layer).__name__} {name}: finite differences differ by {err:.3g} "
            f"(scale {scale:.3g})"
        )


# ------------------------------------------------------------------------- convolution
CONV_CASES = [
    # (N, C_in, H, W), C_out, kernel, stride, padding, bias
    ((2, 2, 5, 5), 3, 3, 1, 0, True),
    ((2, 3, 6, 5), 2, (3, 2), (2, 1), (1, 0), True),
    ((1, 1, 7, 7), 2, 3, 2, 1, False),
    ((2, 2, 4, 4), 3, 1, 1, 0, True),
    ((1, 2, 5, 5), 2, 5, 1, 0, True),  # kernel as large as the image
    ((2, 1, 8, 7), 2, 3, 3, 2, True),  # stride equal to the kernel, wide padding
]


@pytest.mark.parametrize(("shape", "c_out", "k", "s", "p", "bias"), CONV_CASES)
def test_conv2d_equals_torch_and_finite_differences(shape, c_out, k, s, p, bias):
    rng = np.random.default_rng(len(CONV_CASES) + shape[2])
    x = rng.normal(size=shape)
    conv = R.Conv2d(shape[1], c_out, k, stride=s, padding=p, bias=bias, rng=rng)
    tconv = torch.nn.Conv2d(shape[1], c_out, k, stride=s, padding=p, bias=bias)
    tconv = tconv.double()
    copy_from_torch(conv, tconv)
    xt = t64(x)
    yt = tconv(xt)
    y = conv.forward(x)
    close(y, yt, what="forward")
    dout = rng.normal(size=y.shape)
    yt.backward(torch.tensor(dout))
    g = conv.backward(dout)
    close(g["x"], xt.grad, what="dx")
    close(g["weight"], tconv.weight.grad, what="dW")
    if bias:
        close(g["bias"], tconv.bias.grad, what="db")
    else:
        assert "bias" not in g
    fd_check(conv, conv.forward, x, g, dout)


POOL_CASES = [
    # (N, C, H, W), kernel, stride, padding
    ((2, 2, 4, 4), 2, None, 0),
    ((1, 2, 5, 5), 3, 1, 1),
    ((2, 1, 7, 6), 3, 2, 1),
    ((1, 2, 6, 7), (2, 3), (1, 2), (1, 1)),
    ((2, 3, 5, 5), 2, None, 0),  # a row and a column left over
]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(("shape", "k", "s", "p"), POOL_CASES)
def test_pooling_equals_torch_and_finite_differences(kind, shape, k, s, p):
    rng = np.random.default_rng(7)
    x = rng.normal(size=shape)
    layer = (R.MaxPool2d if kind == "max" else R.AvgPool2d)(k, stride=s, padding=p)
    fn = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    xt = t64(x)
    yt = fn(xt, k, stride=s, padding=p)
    y = layer.forward(x)
    close(y, yt, what="forward")
    dout = rng.normal(size=y.shape)
    yt.backward(torch.tensor(dout))
    g = layer.backward(dout)
    close(g["x"], xt.grad, what="dx")
    fd_check(layer, layer.forward, x, g, dout)


@pytest.mark.parametrize(("k", "s"), [(2, None), (3, 1)])
def test_max_pool_ties_go_to_the_first_maximum_as_in_torch(k, s):
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1:3, 1:3] = 1.0
    x[0, 0, 0, 2:] = 1.0  # every window holds two or more equal maxima
    layer = R.MaxPool2d(k, stride=s)
    xt = t64(x)
    yt = torch.nn.functional.max_pool2d(xt, k, stride=s)
    y = layer.forward(x)
    dout = np.arange(1.0, y.size + 1).reshape(y.shape)
    yt.backward(torch.tensor(dout))
    np.testing.assert_array_equal(layer.backward(dout)["x"], xt.grad.numpy())


def test_pool_keeps_float32_and_conv_casts_to_its_weight():
    x = np.random.default_rng(0).normal(size=(1, 1, 4, 4)).astype(np.float32)
    for layer in (R.MaxPool2d(2), R.AvgPool2d(2)):
        assert layer.forward(x).dtype == np.float32
        assert layer.backward(np.ones((1, 1, 2, 2)))["x"].dtype == np.float32
    conv = R.Conv2d(1, 2, 3, rng=0, dtype=np.float32)
    assert conv.forward(x).dtype == np.float32
    assert conv.backward(np.ones((1, 2, 2, 2)))["weight"].dtype == np.float32


# ------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize(
    ("cls", "shape"),
    [
        (R.BatchNorm1d, (6, 3)),
        (R.BatchNorm1d, (4, 3, 5)),
        (R.BatchNorm2d, (3, 2, 3, 4)),
        (R.BatchNorm2d, (1, 3, 2, 2)),
    ],
)
def test_batch_norm_training_and_eval_equal_torch(cls, shape):
    rng = np.random.default_rng(3)
    c = shape[1]
    bn = cls(c)
    tbn = (torch.nn.BatchNorm1d if cls is R.BatchNorm1d else torch.nn.BatchNorm2d)(c).double()
    with torch.no_grad():
        tbn.weight.copy_(torch.tensor(rng.uniform(0.5, 1.5, c)))
        tbn.bias.copy_(torch.tensor(rng.normal(size=c)))
    copy_from_torch(bn, tbn)
    for step in range(2):  # the running statistics follow PyTorch's over several batches
        x = rng.normal(2.0, 3.0, size=shape)
        xt = t64(x)
        yt = tbn(xt)
        y = bn.forward(x)
        close(y, yt, what=f"forward {step}")
        dout = rng.normal(size=shape)
        yt.backward(torch.tensor(dout))
        g = bn.backward(dout)
        close(g["x"], xt.grad, what="dx")
        close(g["weight"], tbn.weight.grad, what="dγ")
        close(g["bias"], tbn.bias.grad, what="dβ")
        tbn.zero_grad()
        close(bn.running_mean, tbn.running_mean, what="running_mean")
        close(bn.running_var, tbn.running_var, what="running_var")
    state = bn.state_dict()
    fd_check(bn, bn.forward, x, g, dout)  # each of its forwards moves the running statistics
    bn.load_state_dict(state)
    # evaluation: the running statistics normalise, and are left alone
    bn.eval()
    tbn.eval()
    x = rng.normal(size=shape)
    xt = t64(x)
    yt = tbn(xt)
    close(bn.forward(x), yt, what="eval forward")
    dout = rng.normal(size=shape)
    yt.backward(torch.tensor(dout))
    g = bn.backward(dout)
    close(g["x"], xt.grad, what="eval dx")
    close(g["weight"], tbn.weight.grad, what="eval dγ")
    close(bn.running_var, tbn.running_var, what="eval running_var")
    fd_check(bn, bn.forward, x, g, dout)


@pytest.mark.parametrize(
    ("shape", "normalized", "affine"),
    [((4, 5), 5, True), ((2, 3, 4), (3, 4), True), ((3, 2, 4), 4, False), ((2, 6), (6,), True)],
)
def test_layer_norm_equals_torch_and_finite_differences(shape, normalized, affine):
    rng = np.random.default_rng(4)
    ln = R.LayerNorm(normalized, elementwise_affine=affine)
    tln = torch.nn.LayerNorm(normalized, elementwise_affine=affine).double()
    if affine:
        with torch.no_grad():
            tln.weight.copy_(torch.tensor(rng.uniform(0.5, 1.5, ln.weight.shape)))
            tln.bias.copy_(torch.tensor(rng.normal(size=ln.bias.shape)))
        copy_from_torch(ln, tln)
    x = rng.normal(1.0, 2.0, size=shape)
    xt = t64(x)
    yt = tln(xt)
    y = ln.forward(x)
    close(y, yt, what="forward")
    dout = rng.normal(size=shape)
    yt.backward(torch.tensor(dout))
    g = ln.backward(dout)
    close(g["x"], xt.grad, what="dx")
    if affine:
        close(g["weight"], tln.weight.grad, what="dγ")
        close(g["bias"], tln.bias.grad, what="dβ")
    fd_check(ln, ln.forward, x, g, dout)


# ------------------------------------------------------------------------- dropout, embedding
def test_dropout_inverted_mask_and_finite_differences():
    x = np.random.default_rng(0).normal(size=(200, 50))
    drop = R.Dropout(0.3, rng=1)
    y = drop.forward(x)
    kept = drop.mask
    assert abs(kept.mean() - 0.7) < 0.01  # P(keep) = 1 − p
    np.testing.assert_allclose(y[kept], x[kept] / 0.7, rtol=1e-15, atol=0)
    assert not y[~kept].any()
    dout = np.random.default_rng(2).normal(size=x.shape)
    np.testing.assert_allclose(drop.backward(dout)["x"], dout * kept / 0.7, rtol=1e-15, atol=0)
    # the same generator state gives the same mask: a seeded run repeats
    again = R.Dropout(0.3, rng=1)
    np.testing.assert_array_equal(again.forward(x), y)
    # finite differences, the mask held fixed by reseeding before each forward
    small = R.Dropout(0.5, rng=np.random.default_rng(5))
    xs = x[:3, :4].copy()
    small.forward(xs)
    g = small.backward(dout[:3, :4])

    def reseed():
        small.rng = np.random.default_rng(5)

    fd_check(small, small.forward, xs, g, dout[:3, :4], before=reseed)
    # evaluation, p = 0 and p = 1
    assert np.array_equal(R.Dropout(0.5).eval().forward(x), x)
    assert np.array_equal(R.Dropout(0.0).forward(x), x)
    one = R.Dropout(1.0)
    assert not one.forward(x).any() and not one.backward(dout)["x"].any()


def test_dropout_mask_matches_torch_in_distribution():
    # different generators, so only the law can be compared: PyTorch's scale is 1/(1 − p)
    t = torch.nn.functional.dropout(torch.ones(10000, dtype=torch.float64), 0.25)
    ours = R.Dropout(0.25, rng=0).forward(np.ones(10000))
    assert set(np.unique(ours)) == set(np.unique(t.numpy())) == {0.0, 1 / 0.75}


def test_embedding_equals_torch_and_finite_differences():
    rng = np.random.default_rng(5)
    emb = R.Embedding(6, 3, rng=rng)
    temb = torch.nn.Embedding(6, 3).double()
    copy_from_torch(emb, temb)
    idx = np.array([[0, 5, 5, 2], [2, 2, 1, 0]])  # repeated indices accumulate
    yt = temb(torch.tensor(idx))
    y = emb.forward(idx)
    close(y, yt, what="forward")
    dout = rng.normal(size=y.shape)
    yt.backward(torch.tensor(dout))
    g = emb.backward(dout)
    assert set(g) == {"weight"}
    close(g["weight"], temb.weight.grad, what="dW")
    fd_check(emb, lambda _: emb.forward(idx), None, g, dout)


# ------------------------------------------------------------------------- recurrent
def _cell_pair(kind: str, i: int, h: int, bias: bool = True):
    if kind == "lstm":
        return R.LSTMCell(i, h, bias=bias, rng=0), torch.nn.LSTMCell(i, h, bias=bias).double()
    if kind == "gru":
        return R.GRUCell(i, h, bias=bias, rng=0), torch.nn.GRUCell(i, h, bias=bias).double()
    nl = kind.split("_")[1]
    cell = R.RNNCell(i, h, bias=bias, nonlinearity=nl, rng=0)
    return cell, torch.nn.RNNCell(i, h, bias=bias, nonlinearity=nl).double()


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "lstm", "gru"])
def test_cell_one_step_equals_torch_and_finite_differences(kind, bias):
    rng = np.random.default_rng(6)
    n, i, h = 3, 4, 5
    cell, tcell = _cell_pair(kind, i, h, bias)
    copy_from_torch(cell, tcell)
    x, h0, c0 = rng.normal(size=(n, i)), rng.normal(size=(n, h)), rng.normal(size=(n, h))
    xt, ht, ct = t64(x), t64(h0), t64(c0)
    dh, dc = rng.normal(size=(n, h)), rng.normal(size=(n, h))
    if kind == "lstm":
        h1t, c1t = tcell(xt, (ht, ct))
        h1, c1 = cell.forward(x, (h0, c0))
        close(c1, c1t, what="c'")
        (h1t * torch.tensor(dh) + c1t * torch.tensor(dc)).sum().backward()
        g = cell.backward(dh, dc)
        close(g["c"], ct.grad, what="dc")
    else:
        h1t = tcell(xt, ht)
        h1 = cell.forward(x, h0)
        h1t.backward(torch.tensor(dh))
        g = cell.backward(dh)
    close(h1, h1t, what="h'")
    close(g["x"], xt.grad, what="dx")
    close(g["h"], ht.grad, what="dh")
    for name, p in tcell.named_parameters():
        close(g[name], p.grad, what=name)
    if not bias:
        assert "bias_ih" not in g
    # finite differences through the x input and the parameters, the state held fixed
    if kind == "lstm":
        fd_grads = {k: v for k, v in g.items() if k not in ("h", "c")}

        def run(xv):
            hh, cc = cell.forward(xv, (h0, c0))
            return np.concatenate([hh, cc])

        fd_check(cell, run, x, fd_grads, np.concatenate([dh, dc]))
    else:
        fd_check(
            cell, lambda xv: cell.forward(xv, h0), x, {k: v for k, v in g.items() if k != "h"}, dh
        )


def _torch_seq(kind: str, i: int, h: int) -> torch.nn.Module:
    if kind == "lstm":
        return torch.nn.LSTM(i, h).double()
    if kind == "gru":
        return torch.nn.GRU(i, h).double()
    return torch.nn.RNN(i, h, nonlinearity=kind.split("_")[1]).double()


@pytest.mark.parametrize(
    ("kind", "t_len", "n"),
    [
        ("rnn_tanh", 5, 2),
        ("rnn_relu", 4, 3),
        ("lstm", 6, 2),
        ("gru", 5, 3),
        ("lstm", 1, 1),
    ],
)
def test_unroll_bptt_equals_torch_sequence_and_finite_differences(kind, t_len, n):
    rng = np.random.default_rng(8)
    i, h = 3, 4
    cell, _ = _cell_pair(kind, i, h)
    tseq = _torch_seq(kind, i, h)
    copy_from_torch(cell, tseq, rename={f"{p}_l0": p for p in R.recurrent.PARAMS})
    run = R.Unroll(cell)
    xs, h0, c0 = rng.normal(size=(t_len, n, i)), rng.normal(size=(n, h)), rng.normal(size=(n, h))
    xt, ht, ct = t64(xs), t64(h0[None]), t64(c0[None])
    douts, dh_n, dc_n = (rng.normal(size=s) for s in ((t_len, n, h), (n, h), (n, h)))
    if kind == "lstm":
        out_t, (hn_t, cn_t) = tseq(xt, (ht, ct))
        out, (hn, cn) = run.forward(xs, (h0, c0))
        close(cn, cn_t[0], what="c_n")
        loss = (out_t * torch.tensor(douts)).sum() + (hn_t[0] * torch.tensor(dh_n)).sum()
        (loss + (cn_t[0] * torch.tensor(dc_n)).sum()).backward()
        g = run.backward(douts, (dh_n, dc_n))
        close(g["c0"], ct.grad[0], what="dc0")
    else:
        out_t, hn_t = tseq(xt, ht)
        out, hn = run.forward(xs, h0)
        ((out_t * torch.tensor(douts)).sum() + (hn_t[0] * torch.tensor(dh_n)).sum()).backward()
        g = run.backward(douts, dh_n)
    close(out, out_t, what="outputs")
    close(hn, hn_t[0], what="h_n")
    close(g["x"], xt.grad, what="dx")
    close(g["h0"], ht.grad[0], what="dh0")
    for name, p in tseq.named_parameters():
        close(g[name.removesuffix("_l0")], p.grad, what=name)
    state0 = (h0, c0) if kind == "lstm" else h0
    run.forward(xs, state0)
    g = run.backward(douts)  # no final-state gradient: the loss is Σ outputs · douts
    fd_grads = {k: v for k, v in g.items() if k not in ("h0", "c0")}
    fd_check(run, lambda xv: run.forward(xv, state0)[0], xs, fd_grads, douts)


@pytest.mark.parametrize("batch_first", [False, True])
def test_fast_lstm_equals_torch_and_the_unrolled_cell(batch_first):
    rng = np.random.default_rng(9)
    t_len, n, i, h = 5, 3, 4, 6
    lstm = R.LSTM(i, h, batch_first=batch_first, rng=0)
    tl = torch.nn.LSTM(i, h, batch_first=batch_first).double()
    copy_from_torch(lstm, tl)
    shape = (n, t_len, i) if batch_first else (t_len, n, i)
    xs, h0, c0 = rng.normal(size=shape), rng.normal(size=(1, n, h)), rng.normal(size=(1, n, h))
    xt, ht, ct = t64(xs), t64(h0), t64(c0)
    out_t, (hn_t, cn_t) = tl(xt, (ht, ct))
    out, (hn, cn) = lstm.forward(xs, (h0, c0))
    close(out, out_t, what="output")
    close(hn, hn_t, what="h_n")
    close(cn, cn_t, what="c_n")
    douts = rng.normal(size=out.shape)
    dh_n, dc_n = rng.normal(size=(1, n, h)), rng.normal(size=(1, n, h))
    loss = (out_t * torch.tensor(douts)).sum() + (hn_t * torch.tensor(dh_n)).sum()
    (loss + (cn_t * torch.tensor(dc_n)).sum()).backward()
    g = lstm.backward(douts, (dh_n, dc_n))
    close(g["x"], xt.grad, what="dx")
    close(g["h0"], ht.grad, what="dh0")
    close(g["c0"], ct.grad, what="dc0")
    for name, p in tl.named_parameters():
        close(g[name], p.grad, what=name)
    # the same numbers as the plain unrolled cell
    cell = R.LSTMCell(i, h)
    copy_from_torch(cell, tl, rename={f"{p}_l0": p for p in R.recurrent.PARAMS})
    seq = xs.transpose(1, 0, 2) if batch_first else xs
    out_u, _ = R.Unroll(cell).forward(seq, (h0[0], c0[0]))
    close(out_u.transpose(1, 0, 2) if batch_first else out_u, out, what="Unroll")
    # without a given state, zeros, and the final-state gradient left out
    lstm.forward(xs)
    g0 = lstm.backward(douts)
    tl.zero_grad()
    out_t, _ = tl(t64(xs))
    out_t.backward(torch.tensor(douts))
    close(g0["weight_hh_l0"], tl.weight_hh_l0.grad, what="dW_hh, zero state")


def test_fast_lstm_finite_differences():
    rng = np.random.default_rng(10)
    lstm = R.LSTM(2, 3, rng=1)
    xs = rng.normal(size=(4, 2, 2))
    out, _ = lstm.forward(xs)
    dout = rng.normal(size=out.shape)
    g = lstm.backward(dout)
    fd_check(
        lstm,
        lambda xv: lstm.forward(xv)[0],
        xs,
        {k: v for k, v in g.items() if k not in ("h0", "c0")},
        dout,
    )


# ------------------------------------------------------------------------- attention
@pytest.mark.parametrize(("n", "t_len", "e"), [(2, 4, 3), (1, 1, 2), (3, 5, 4)])
def test_causal_self_attention_equals_torch_and_finite_differences(n, t_len, e):
    rng = np.random.default_rng(11)
    att = R.CausalSelfAttention(e, rng=rng)
    mha = torch.nn.MultiheadAttention(e, 1, batch_first=True).double()
    with torch.no_grad():  # PyTorch starts the biases at zero: make them count
        mha.in_proj_bias.copy_(torch.tensor(rng.normal(size=3 * e)))
        mha.out_proj.bias.copy_(torch.tensor(rng.normal(size=e)))
    copy_from_torch(att, mha)
    x = rng.normal(size=(n, t_len, e))
    xt = t64(x)
    causal = torch.triu(torch.ones(t_len, t_len, dtype=torch.bool), diagonal=1)
    yt = mha(xt, xt, xt, attn_mask=causal, need_weights=False)[0]
    y = att.forward(x)
    close(y, yt, what="forward")
    dout = rng.normal(size=y.shape)
    yt.backward(torch.tensor(dout))
    g = att.backward(dout)
    close(g["x"], xt.grad, what="dx")
    for name, p in mha.named_parameters():
        close(g[name], p.grad, what=name)
    fd_check(att, att.forward, x, g, dout)


def test_attention_is_causal():
    att = R.CausalSelfAttention(3, rng=0)
    x = np.random.default_rng(1).normal(size=(1, 5, 3))
    y = att.forward(x)
    x2 = x.copy()
    x2[0, 3:] += 10.0  # the future changes...
    np.testing.assert_allclose(att.forward(x2)[0, :3], y[0, :3], rtol=0, atol=1e-15)


# ------------------------------------------------------------------------- linear, loss
def test_linear_and_cross_entropy_equal_torch():
    rng = np.random.default_rng(12)
    lin = R.Linear(5, 4, rng=0)
    tlin = torch.nn.Linear(5, 4).double()
    copy_from_torch(lin, tlin)
    x, y = rng.normal(size=(2, 3, 5)), rng.integers(0, 4, size=6)
    xt = t64(x)
    zt = tlin(xt)
    z = lin.forward(x)
    close(z, zt, what="forward")
    lt = torch.nn.functional.cross_entropy(zt.reshape(6, 4), torch.tensor(y))
    loss, dz = R.softmax_cross_entropy(z.reshape(6, 4), y)
    assert abs(loss - lt.item()) <= 1e-12
    lt.backward()
    g = lin.backward(dz.reshape(2, 3, 4))
    close(g["x"], xt.grad, what="dx")
    close(g["weight"], tlin.weight.grad, what="dW")
    close(g["bias"], tlin.bias.grad, what="db")
    fd_check(lin, lin.forward, x, g, dz.reshape(2, 3, 4))


# ------------------------------------------------------------------------- bad input
def _raises(exc, match, fn, *args, **kwargs):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


@pytest.mark.parametrize(
    "make",
    [
        lambda: R.Conv2d(1, 2, 3, rng=0),
        lambda: R.MaxPool2d(2),
        lambda: R.AvgPool2d(2),
        lambda: R.BatchNorm1d(2),
        lambda: R.BatchNorm2d(2),
        lambda: R.LayerNorm(3),
        lambda: R.Dropout(0.5),
        lambda: R.Embedding(3, 2),
        lambda: R.RNNCell(2, 3),
        lambda: R.LSTMCell(2, 3),
        lambda: R.GRUCell(2, 3),
        lambda: R.Unroll(R.LSTMCell(2, 3)),
        lambda: R.LSTM(2, 3),
        lambda: R.CausalSelfAttention(2),
        lambda: R.Linear(2, 3),
    ],
)
def test_backward_before_forward_says_so(make):
    layer = make()
    with pytest.raises(RuntimeError, match=rf"{type(layer).__name__}\.backward: call forward"):
        layer.backward(np.ones(1))


def test_bad_shapes_and_arguments_name_the_layer():
    conv = R.Conv2d(3, 4, 3, rng=0)
    _raises(
        ValueError,
        r"Conv2d: the input has 2 channels.*expects 3",
        conv.forward,
        np.ones((1, 2, 5, 5)),
    )
    _raises(
        ValueError,
        r"Conv2d: kernel \(3, 3\) is larger than the padded input \(2, 5\)",
        conv.forward,
        np.ones((1, 3, 2, 5)),
    )
    _raises(ValueError, r"Conv2d: expected a 4-D input", conv.forward, np.ones((3, 5, 5)))
    _raises(ValueError, r"Conv2d: stride must be a positive int", R.Conv2d, 1, 1, 3, stride=0)
    _raises(ValueError, r"Conv2d: padding must be a non-negative", R.Conv2d, 1, 1, 3, padding=-1)
    _raises(ValueError, r"Conv2d: kernel_size must be a positive", R.Conv2d, 1, 1, (3, 0))
    _raises(ValueError, r"Conv2d: in_channels must be a positive int", R.Conv2d, 0, 1, 3)
    _raises(TypeError, r"Conv2d: the input must be numeric", conv.forward, np.array([["a"]]))
    conv.forward(np.ones((1, 3, 4, 4)))
    _raises(
        ValueError,
        r"Conv2d.backward: expected a gradient of shape \(1, 4, 2, 2\)",
        conv.backward,
        np.ones((1, 4, 3, 3)),
    )
    _raises(
        ValueError, r"MaxPool2d: padding \(2, 2\) must be at most half", R.MaxPool2d, 3, padding=2
    )
    _raises(
        ValueError,
        r"AvgPool2d: kernel \(3, 3\) is larger",
        R.AvgPool2d(3).forward,
        np.ones((1, 1, 2, 2)),
    )
    _raises(ValueError, r"Dropout: p must be a probability in \[0, 1\], got 1.5", R.Dropout, 1.5)
    _raises(ValueError, r"Dropout: p must be .* got -0.1", R.Dropout, -0.1)
    _raises(TypeError, r"Dropout: p must be a number", R.Dropout, "0.5")
    _raises(
        ValueError,
        r"BatchNorm1d: expected more than 1 value per channel when training",
        R.BatchNorm1d(3).forward,
        np.ones((1, 3)),
    )
    _raises(
        ValueError,
        r"BatchNorm2d: expected more than 1 value per channel",
        R.BatchNorm2d(3).forward,
        np.ones((1, 3, 1, 1)),
    )
    R.BatchNorm1d(3).eval().forward(np.ones((1, 3)))  # evaluation needs no batch statistics
    _raises(
        ValueError,
        r"BatchNorm2d\(3\): expected 3 channels",
        R.BatchNorm2d(3).forward,
        np.ones((2, 4, 2, 2)),
    )
    _raises(
        ValueError, r"BatchNorm2d: expected a 4-D input", R.BatchNorm2d(3).forward, np.ones((2, 3))
    )
    _raises(
        ValueError, r"BatchNorm1d: momentum must be in \[0, 1\]", R.BatchNorm1d, 3, momentum=2.0
    )
    _raises(
        ValueError,
        r"LayerNorm\(4,\): expected an input ending in \(4,\)",
        R.LayerNorm(4).forward,
        np.ones((2, 3)),
    )
    _raises(ValueError, r"LayerNorm: eps must be a positive", R.LayerNorm, 4, eps=0)
    emb = R.Embedding(5, 2)
    _raises(
        ValueError,
        r"Embedding\(5, 2\): index out of range: expected 0..4, got values "
        r"from 0 to 5",
        emb.forward,
        np.array([0, 5]),
    )
    _raises(ValueError, r"Embedding.*out of range", emb.forward, np.array([-1]))
    _raises(TypeError, r"Embedding: indices must be integers", emb.forward, np.array([1.0]))
    _raises(
        ValueError,
        r"LSTMCell\(4, 3\): expected input of shape \(batch, 4\), got \(2, 5\)",
        R.LSTMCell(4, 3).forward,
        np.ones((2, 5)),
    )
    _raises(
        ValueError,
        r"LSTMCell\(4, 3\): expected c of shape \(2, 3\)",
        R.LSTMCell(4, 3).forward,
        np.ones((2, 4)),
        (np.ones((2, 3)), np.ones((1, 3))),
    )
    _raises(
        ValueError,
        r"LSTM\(4, 3\): expected input of shape \(T, batch, 4\), got \(2, 5, 3\)",
        R.LSTM(4, 3).forward,
        np.ones((2, 5, 3)),
    )
    _raises(
        ValueError,
        r"Unroll\(GRUCell\(4, 3\)\): expected a sequence of shape",
        R.Unroll(R.GRUCell(4, 3)).forward,
        np.ones((2, 4)),
    )
    _raises(
        ValueError,
        r"RNNCell: unknown nonlinearity 'sigmoid'",
        R.RNNCell,
        2,
        3,
        nonlinearity="sigmoid",
    )
    _raises(TypeError, r"Unroll: expected an RNNCell", R.Unroll, R.Linear(2, 3))
    _raises(
        TypeError,
        r"Unroll\(LSTMCell\): state0 must be a pair",
        R.Unroll(R.LSTMCell(2, 3)).forward,
        np.ones((2, 1, 2)),
        np.ones((1, 3)),
    )
    _raises(
        TypeError,
        r"LSTM: state0 must be a pair",
        R.LSTM(2, 3).forward,
        np.ones((2, 1, 2)),
        np.ones((1, 1, 3)),
    )
    _raises(
        ValueError,
        r"LSTM: expected h0 of shape \(1, 1, 3\)",
        R.LSTM(2, 3).forward,
        np.ones((2, 1, 2)),
        (np.ones((1, 3)), np.ones((1, 1, 3))),
    )
    _raises(
        ValueError,
        r"CausalSelfAttention\(4\): expected input of shape \(batch, T, 4\)",
        R.CausalSelfAttention(4).forward,
        np.ones((2, 3, 5)),
    )
    _raises(
        KeyError,
        r"Conv2d.load_state_dict: missing keys \['bias'\]",
        conv.load_state_dict,
        {"weight": conv.weight},
    )
    _raises(
        ValueError,
        r"Conv2d.load_state_dict: weight has shape \(1,\)",
        conv.load_state_dict,
        {"weight": np.ones(1), "bias": conv.bias},
    )


def test_max_pool_propagates_nan_as_torch():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 1, 0] = np.nan  # not the first pixel of its window
    ours = R.MaxPool2d(2).forward(x)
    np.testing.assert_array_equal(ours, torch.nn.functional.max_pool2d(t64(x, False), 2).numpy())


# ------------------------------------------------------------------------- training steps
def _torch_cnn() -> torch.nn.Module:
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(128, 10),
    ).double()


class _TorchNames(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(27, 32)
        self.lstm = torch.nn.LSTM(32, 128, batch_first=True)
        self.head = torch.nn.Linear(128, 27)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(self.embed(ids))[0])


def _numpy_state(module: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("net", ["cnn", "lstm"])
def test_training_step_gradients_equal_torch(net):
    from tinygrad_bp.reference import steps

    rng = np.random.default_rng(13)
    if net == "cnn":
        tmod = _torch_cnn()
        inputs, targets = rng.normal(size=(64, 1, 8, 8)), rng.integers(0, 10, size=64)
        model = steps.DigitsCNN(dtype=np.float64)
        names = steps.DIGITS_CNN_PARAMS
        logits = tmod(torch.tensor(inputs))
        tloss = torch.nn.functional.cross_entropy(logits, torch.tensor(targets))
        build = steps.build_digits_cnn
    else:
        tmod = _TorchNames().double()
        inputs, targets = rng.integers(0, 27, size=(32, 16)), rng.integers(0, 27, size=(32, 16))
        model = steps.NamesLSTM(dtype=np.float64)
        names = steps.NAMES_LSTM_PARAMS
        logits = tmod(torch.tensor(inputs)).reshape(-1, 27)
        tloss = torch.nn.functional.cross_entropy(logits, torch.tensor(targets).reshape(-1))
        build = steps.build_names_lstm
    state = _numpy_state(tmod)
    assert tuple(state) == names  # the same names, in the same order, as PyTorch's
    model.load(state)
    loss, grads = model.loss_and_grads(inputs, targets)
    tloss.backward()
    assert abs(loss - tloss.item()) <= 1e-12
    tgrads = {k: p.grad for k, p in tmod.named_parameters()}
    assert set(grads) == set(tgrads) == set(names)
    for k in names:
        close(grads[k], tgrads[k], what=k)
    # the step: returns the loss of the weights it started from, then p -= 0.01·∂L/∂p
    step, params = build(inputs, targets, state)
    assert step() == loss
    for k, p in zip(names, params()):
        np.testing.assert_allclose(p, state[k] - 0.01 * grads[k], rtol=0, atol=1e-15, err_msg=k)
    assert np.array_equal(state[names[0]], _numpy_state(tmod)[names[0]])  # weights copied


@pytest.mark.parametrize("net", ["cnn", "lstm"])
def test_training_steps_lower_the_loss_in_float32(net):
    from tinygrad_bp.reference import steps

    rng = np.random.default_rng(14)
    if net == "cnn":
        x = rng.normal(size=(64, 1, 8, 8)).astype(np.float32)
        y = rng.integers(0, 10, size=64)
        step, params = steps.build_digits_cnn(x, y, steps.init_digits_cnn(0), lr=0.1)
    else:
        x, y = rng.integers(0, 27, size=(32, 16)), rng.integers(0, 27, size=(32, 16))
        step, params = steps.build_names_lstm(x, y, steps.init_names_lstm(0), lr=1.0)
    losses = [step() for _ in range(6)]
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert all(p.dtype == np.float32 for p in params())


def test_training_step_bad_input():
    from tinygrad_bp.reference import steps

    w = steps.init_digits_cnn(0)
    _raises(
        ValueError,
        r"build_digits_cnn: expected images \(N, 1, 8, 8\)",
        steps.build_digits_cnn,
        np.ones((64, 64)),
        np.zeros(64, int),
        w,
    )
    _raises(
        KeyError,
        r"DigitsCNN: missing weights \['7.bias'\]",
        steps.build_digits_cnn,
        np.ones((2, 1, 8, 8)),
        np.zeros(2, int),
        {k: v for k, v in w.items() if k != "7.bias"},
    )
    _raises(
        ValueError,
        r"build_names_lstm: expected ids and targets of one shape",
        steps.build_names_lstm,
        np.zeros((2, 3), int),
        np.zeros((2, 4), int),
        steps.init_names_lstm(0),
    )


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 3),
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
    hw=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    k=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    p=st.tuples(st.integers(0, 2), st.integers(0, 2)),
)
def test_conv_and_pools_equal_torch_on_drawn_shapes(n, c_in, c_out, hw, k, s, p):
    padded = (hw[0] + 2 * p[0], hw[1] + 2 * p[1])
    assume(k[0] <= padded[0] and k[1] <= padded[1])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, c_in) + hw)
    conv = R.Conv2d(c_in, c_out, k, stride=s, padding=p, rng=rng)
    xt = t64(x)
    yt = torch.nn.functional.conv2d(
        xt, torch.tensor(conv.weight), torch.tensor(conv.bias), stride=s, padding=p
    )
    y = conv.forward(x)
    close(y, yt, what="conv forward")
    dout = rng.normal(size=y.shape)
    yt.backward(torch.tensor(dout))
    close(conv.backward(dout)["x"], xt.grad, what="conv dx")
    if 2 * p[0] <= k[0] and 2 * p[1] <= k[1]:  # PyTorch's rule for the pools' padding
        for layer, fn in (
            (R.MaxPool2d(k, s, p), torch.nn.functional.max_pool2d),
            (R.AvgPool2d(k, s, p), torch.nn.functional.avg_pool2d),
        ):
            xt = t64(x)
            yt = fn(xt, k, s, p)
            close(layer.forward(x), yt, what=f"{layer} forward")
            dout = rng.normal(size=tuple(yt.shape))
            yt.backward(torch.tensor(dout))
            close(layer.backward(dout)["x"], xt.grad, what=f"{layer} dx")


def test_max_pool_backward_keeps_a_non_finite_gradient_to_its_winner():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    pool = R.MaxPool2d(2)
    pool.forward(x)
    g = np.array([[[[np.inf, 1.0], [np.nan, 2.0]]]])
    xt = t64(x)
    torch.nn.functional.max_pool2d(xt, 2).backward(torch.tensor(g))
    np.testing.assert_array_equal(pool.backward(g)["x"], xt.grad.numpy())


def test_hand_erf_is_float32_accurate_and_exact_otherwise():
    import math

    from tinygrad_bp.reference import steps

    x = np.linspace(-6, 6, 20001)
    exact = np.array([math.erf(v) for v in x])
    got32 = steps.erf(x.astype(np.float32))
    assert got32.dtype == np.float32
    assert np.abs(got32 - exact).max() < 6e-7  # a few float32 ulps of 1
    assert np.array_equal(steps.erf(x), exact)  # float64: math.erf itself


def test_hand_transformer_step_lowers_the_loss_in_float32():
    from tinygrad_bp.commands import _bench_impls as bi
    from tinygrad_bp.reference import steps

    p = bi.make_problem(bi.MODEL_WORKLOADS["W7"])
    step, params = steps.build_names_transformer(p.X, p.y, p.weights, lr=3e-3)
    losses = [step() for _ in range(4)]
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert [a.shape for a in params()] == [a.shape for a in p.arrays]
    with pytest.raises(ValueError, match="build_names_transformer: expected ids and targets"):
        steps.build_names_transformer(p.X, p.y[:, :3], p.weights)
