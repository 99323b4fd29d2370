"""``compare --layer``: every hand-written layer against the engine's, and the command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinygrad_bp import reference as ref
from tinygrad_bp.commands import cli
from tinygrad_bp.commands.compare_layers import LAYERS, TOLERANCE, build_case, compare_layer

EXACT = 1e-12


def _check_exact(name: str, seed: int = 0, **kw) -> None:
    r = compare_layer(name, seed=seed, fd=False, **kw)
    assert r.rows, name
    for row in r.rows:
        assert row.ref_diff <= EXACT, (name, kw, row.name, row.ref_diff)


@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel=3, stride=1, padding=0, hw=(5, 5)),
        dict(kernel=3, stride=2, padding=1, hw=(6, 7)),
        dict(kernel=(2, 3), stride=(2, 1), padding=(1, 0), hw=(5, 6), c=2, c_out=3),
        dict(kernel=1, stride=3, padding=0, hw=(7, 4), n=1),
    ],
)
def test_conv2d_equals_engine(kw):
    _check_exact("conv2d", **kw)


@pytest.mark.parametrize("name", ["maxpool2d", "avgpool2d"])
@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel=2, stride=2, padding=0, hw=(4, 6)),
        dict(kernel=3, stride=2, padding=1, hw=(7, 5)),
        dict(kernel=3, stride=1, padding=0, hw=(5, 5), n=1, c=3),
        dict(kernel=(2, 3), stride=(1, 2), padding=(1, 1), hw=(5, 6)),
    ],
)
def test_pools_equal_engine(name, kw):
    _check_exact(name, **kw)


@pytest.mark.parametrize(
    "name, kw",
    [
        ("batchnorm", dict(c=2, hw=(2, 3), n=3)),
        ("batchnorm", dict(c=4, hw=(1, 1), n=5)),
        ("layernorm", dict(shape=(2, 3, 5))),
        ("layernorm", dict(shape=(4, 3, 2), normalized=(3, 2))),
        ("dropout", dict(p=0.3, shape=(3, 7))),
        ("dropout", dict(p=0.8, shape=(2, 2, 5))),
        ("embedding", dict(num=3, dim=2, shape=(4, 6))),
        ("embedding", dict(num=9, dim=5, shape=(1, 3))),
        ("rnn", dict(t=1, n=3, input_size=2, hidden=3)),
        ("rnn", dict(t=6, n=2, input_size=4, hidden=2)),
        ("lstm", dict(t=1, n=1, input_size=3, hidden=2)),
        ("lstm", dict(t=5, n=3, input_size=2, hidden=3)),
        ("attention", dict(t=1, n=2, embed=3)),
        ("attention", dict(t=5, n=1, embed=6)),
    ],
)
def test_layers_equal_engine(name, kw):
    _check_exact(name, seed=3, **kw)


def test_dropout_masks_agree_through_the_shared_seed():
    case = build_case("dropout", seed=5, p=0.5, shape=(4, 9))
    r = compare_layer("dropout", seed=5, fd=False, p=0.5, shape=(4, 9))
    assert {w.name: w.ref_diff for w in r.rows}["mask: # differ"] == 0
    assert 0 < case.reference.forward(case.x).astype(bool).mean() < 1  # a real mask


def test_batchnorm_running_stats_compared():
    r = compare_layer("batchnorm", fd=False)
    names = {w.name for w in r.rows}
    assert {"running_mean", "running_var", "x", "weight", "bias", "output"} <= names


def test_finite_differences_agree_per_layer():
    for name in LAYERS:
        r = compare_layer(name)
        assert r.ok, r.failures
        assert r.max_fd_diff < TOLERANCE
        for row in r.rows:  # and the 1e-7 relative, for every quantity
            assert row.fd_rel is None or row.fd_rel < 1e-7, (name, row.name, row.fd_rel)


def _run(capsys, *argv):
    status = cli.main(["compare", *argv])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_compare_layer_all_passes(capsys):
    status, out, _ = _run(capsys, "--layer", "all")
    assert status == 0
    assert "OK: every difference is within the tolerance" in out
    for name in LAYERS:
        assert f"== {name}:" in out
    assert "1e-10" in out


def test_compare_layer_json_parses(capsys):
    status, out, _ = _run(capsys, "--layer", "all", "--json")
    assert status == 0
    data = json.loads(out)
    assert data["ok"] is True and set(data["layers"]) == set(LAYERS)
    for v in data["layers"].values():
        assert v["max_abs_engine_minus_handwritten"] <= TOLERANCE


def test_compare_default_json_parses(capsys):
    status, out, _ = _run(
        capsys, "--json", "--hidden", "3", "--activation", "tanh", "--task", "classify",
        "--batch-size", "8",
    )  # fmt: skip
    assert status == 0
    assert json.loads(out)["ok"] is True


def test_unknown_layer_lists_the_known_ones(capsys):
    status, out, err = _run(capsys, "--layer", "convolution")
    assert status == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "unknown layer 'convolution'" in lines[0]
    for name in LAYERS:
        assert name in lines[0]


def test_a_broken_layer_fails_the_command(capsys, monkeypatch):
    # a hand-written convolution whose bias gradient is off by one part in a million
    original = ref.Conv2d.backward

    def broken(self, dout, input_grad=True):
        g = original(self, dout, input_grad)
        g["bias"] = g["bias"] * (1 + 1e-6)
        return g

    monkeypatch.setattr(ref.Conv2d, "backward", broken)
    status, out, _ = _run(capsys, "--layer", "conv2d")
    assert status == 1
    assert "FAIL" in out and "conv2d bias: |engine - hand-written|" in out


def test_a_perturbed_weight_fails_both_checks(capsys, monkeypatch):
    # the hand-written layer gets a different weight: forward and gradients disagree
    original = ref.LayerNorm.load_state_dict

    def perturbed(self, state):
        original(self, state)
        self.weight[0] += 1e-7

    monkeypatch.setattr(ref.LayerNorm, "load_state_dict", perturbed)
    r = compare_layer("layernorm")
    assert not r.ok
    failing = " ".join(r.failures)
    assert "output" in failing and "x:" in failing
    status, _, _ = _run(capsys, "--layer", "layernorm")
    assert status == 1


def test_network_options_with_layer_are_refused(capsys):
    status, out, err = _run(capsys, "--layer", "conv2d", "--hidden", "3", "--fd-step", "1e-4")
    assert status == 2 and out == ""
    assert "--hidden 3" in err and "--fd-step 0.0001" in err and "do(es) not apply" in err


@pytest.mark.parametrize("t, n, i, h", [(1, 1, 2, 3), (5, 3, 4, 2)])
def test_reference_lstm_sequence_equals_engine_lstm(t, n, i, h):
    # the fast hand-written sequence layer against nn.LSTM (the command checks the cell)
    import tinygrad_bp as tg
    from tinygrad_bp import nn

    g = np.random.default_rng(t * 10 + h)
    eng = nn.LSTM(i, h, rng=0, dtype=np.float64)
    for _, p in eng.named_parameters():
        p.data[...] = g.standard_normal(p.data.shape) * 0.5
    hand = ref.LSTM(i, h)
    hand.load_state_dict(dict(eng.state_dict()))
    x = g.standard_normal((t, n, i))
    R = g.standard_normal((t, n, h))
    xt = tg.Tensor(x, requires_grad=True)
    out, _ = eng(xt)
    (out * tg.Tensor(R)).sum().backward()
    ref_out, _ = hand.forward(x)
    grads = hand.backward(R)
    assert np.abs(out.data - ref_out).max() <= EXACT
    assert np.abs(xt.grad - grads["x"]).max() <= EXACT
    for name, p in eng.named_parameters():
        assert np.abs(p.grad - grads[name]).max() <= EXACT, name
