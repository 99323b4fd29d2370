"""nn: parameter discovery, state dicts and .npz files, Dense and its initialisations."""

from __future__ import annotations

import os

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import functional as F
from tinygrad_bp import nn


class Inner(nn.Module):
    def __init__(self) -> None:
        self.w = tg.Tensor(np.ones(3), requires_grad=True)
        self.frozen = tg.Tensor(np.ones(3))  # no grad: not a parameter


class Outer(nn.Module):
    def __init__(self) -> None:
        self.a = tg.Tensor(np.zeros(2), requires_grad=True)
        self.inner = Inner()
        self.same_inner = self.inner  # the same sub-module twice
        self.plist = [tg.Tensor(np.zeros(4), requires_grad=True), self.a]  # `a` again
        self.ptuple = (tg.Tensor(np.zeros(5), requires_grad=True),)
        self.pdict = {"k": tg.Tensor(np.zeros(6), requires_grad=True)}
        self.mods = [nn.Dense(2, 3, rng=0), Inner()]
        self.number = 3.0


def test_parameters_found_through_attributes_lists_dicts_and_submodules_each_once():
    m = Outer()
    params = m.parameters()
    ids = [id(p) for p in params]
    assert len(ids) == len(set(ids))
    expected = [m.a, m.inner.w, m.plist[0], m.ptuple[0], m.pdict["k"], m.mods[0].W]
    expected += [m.mods[0].b, m.mods[1].w]
    assert {id(p) for p in expected} == set(ids)
    assert all(p is not m.inner.frozen for p in params)  # (`in` would compare values)
    names = dict(m.named_parameters())
    assert names["a"] is m.a and names["inner.w"] is m.inner.w
    assert names["plist.0"] is m.plist[0] and names["pdict.k"] is m.pdict["k"]
    assert names["mods.0.W"] is m.mods[0].W and names["mods.1.w"] is m.mods[1].w


def test_sequential_names_modules_and_zero_grad():
    net = nn.mlp([4, 10, 5, 3], activation="tanh", rng=0)
    assert [n for n, _ in net.named_parameters()] == ["0.W", "0.b", "1.W", "1.b", "2.W", "2.b"]
    assert [n for n, _ in net.modules()] == ["", "0", "1", "2"]
    F.cross_entropy(net(tg.Tensor(np.ones((2, 4)))), np.array([0, 2])).backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_mlp_shapes_and_activations():
    net = nn.mlp([4, 10, 5, 3], activation="relu", init="he", rng=1)
    assert [(d.in_features, d.out_features, d.activation) for d in net] == [
        (4, 10, "relu"),
        (10, 5, "relu"),
        (5, 3, None),
    ]
    single = nn.mlp([4, 3], rng=0)
    assert len(single) == 1 and single[0].activation is None
    with pytest.raises(ValueError, match="at least"):
        nn.mlp([4])


def test_dense_forward_is_act_of_affine():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 4))
    for act, fn in (
        (None, lambda a: a),
        ("sigmoid", lambda a: 1 / (1 + np.exp(-a))),
        ("tanh", np.tanh),
        ("relu", lambda a: np.maximum(a, 0)),
    ):
        layer = nn.Dense(4, 3, activation=act, rng=1)
        got = layer(tg.Tensor(x)).data
        np.testing.assert_allclose(got, fn(x @ layer.W.data + layer.b.data), rtol=1e-14, atol=0)


def test_activation_modules_match_functional():
    x = tg.Tensor(np.linspace(-3, 3, 12).reshape(3, 4))
    np.testing.assert_array_equal(nn.ReLU()(x).data, F.relu(x).data)
    np.testing.assert_array_equal(nn.Sigmoid()(x).data, F.sigmoid(x).data)
    np.testing.assert_array_equal(nn.Tanh()(x).data, F.tanh(x).data)
    seq = nn.Sequential(nn.Dense(4, 2, rng=0), nn.Tanh())
    assert seq(x).shape == (3, 2)


def test_dense_bad_input():
    with pytest.raises(ValueError, match="unknown activation 'softplus'"):
        nn.Dense(4, 3, activation="softplus")
    with pytest.raises(ValueError, match="unknown init"):
        nn.Dense(4, 3, init="orthogonal")
    with pytest.raises(ValueError, match="in_features must be a positive int"):
        nn.Dense(0, 3)
    with pytest.raises(ValueError, match=r"last dimension is 4, got shape \(2, 5\)"):
        nn.Dense(4, 3)(tg.Tensor(np.ones((2, 5))))
    with pytest.raises(
        ValueError, match="layer 1 expects 5 inputs but the layer before it gives 10"
    ):
        nn.Sequential(nn.Dense(4, 10), nn.Dense(5, 3))
    with pytest.raises(TypeError, match="expected an nn.Module"):
        nn.Sequential(nn.Dense(4, 10), "tanh")


# ---------------------------------------------------------------------- initialisation
def test_tutorial_init_is_normal_0_01_variance_with_zero_bias():
    layer = nn.Dense(300, 400, activation="tanh", init="tutorial", rng=0)
    w = layer.W.data
    assert abs(w.mean()) < 0.002
    assert abs(w.std() - 0.1) < 0.002  # 120000 draws: the sample std is within 0.0005
    assert np.all(layer.b.data == 0)


def test_xavier_and_he_inits():
    fan_in, fan_out = 300, 400
    xav = nn.Dense(fan_in, fan_out, init="xavier", rng=0).W.data
    limit = np.sqrt(6 / (fan_in + fan_out))
    assert xav.min() >= -limit and xav.max() <= limit
    assert abs(xav.std() - limit / np.sqrt(3)) < 0.01 * limit
    he = nn.Dense(fan_in, fan_out, activation="relu", init="he", rng=0).W.data
    assert abs(he.std() - np.sqrt(2 / fan_in)) < 0.01 * np.sqrt(2 / fan_in)
    # "auto": He for ReLU, Xavier otherwise
    assert nn.Dense(3, 4, activation="relu", rng=0).init == "he"
    assert nn.Dense(3, 4, activation="tanh", rng=0).init == "xavier"


def test_init_is_seeded_and_dtype_is_kept():
    a = nn.mlp([4, 10, 3], init="tutorial", rng=5).state_dict()
    b = nn.mlp([4, 10, 3], init="tutorial", rng=5).state_dict()
    c = nn.mlp([4, 10, 3], init="tutorial", rng=6).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["0.W"], c["0.W"])
    layer = nn.Dense(4, 3, dtype=np.float32, rng=0)
    assert layer.W.dtype == np.float32 and layer.b.dtype == np.float32


# ---------------------------------------------------------------------- state
def test_state_dict_is_a_copy_and_load_state_dict_round_trips():
    net = nn.mlp([4, 6, 3], rng=0)
    state = net.state_dict()
    state["0.W"][...] = 7.0  # a copy: the model is untouched
    assert not np.any(net[0].W.data == 7.0)
    other = nn.mlp([4, 6, 3], rng=1)
    W_before = other[0].W.data
    other.load_state_dict(net.state_dict())
    assert other[0].W.data is W_before  # loaded in place: optimizers keep their arrays
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[k], v)


def test_load_state_dict_checks_everything_before_changing_anything():
    net = nn.mlp([4, 6, 3], rng=0)
    before = net.state_dict()
    bad = nn.mlp([4, 6, 3], rng=1).state_dict()
    bad["1.W"] = np.zeros((5, 3))
    with pytest.raises(ValueError, match=r"1\.W has shape \(5, 3\) in the state, \(6, 3\)"):
        net.load_state_dict(bad)
    assert all(np.array_equal(net.state_dict()[k], before[k]) for k in before)
    missing = dict(before)
    del missing["0.b"]
    missing["extra"] = np.zeros(1)
    with pytest.raises(KeyError, match=r"missing keys \['0.b'\], unexpected keys \['extra'\]"):
        net.load_state_dict(missing)


def test_save_load_npz_round_trip(tmp_path):
    net = nn.mlp([4, 10, 5, 3], activation="tanh", rng=0)
    path = tmp_path / "weights.npz"
    net.save(path)
    assert sorted(os.listdir(tmp_path)) == ["weights.npz"]  # no temporary file left
    with np.load(path) as f:
        # the parameters, and one metadata entry recording the architecture
        assert sorted(f.files) == sorted([*net.state_dict(), "__tinygrad_bp__"])
    fresh = nn.mlp([4, 10, 5, 3], activation="tanh", rng=99)
    fresh.load(path)
    x = tg.Tensor(np.random.default_rng(0).normal(size=(5, 4)))
    np.testing.assert_array_equal(fresh(x).data, net(x).data)


def test_save_and_load_bad_input(tmp_path):
    net = nn.mlp([4, 3], rng=0)
    with pytest.raises(ValueError, match="ending in .npz"):
        net.save(tmp_path / "weights.bin")
    with pytest.raises(FileNotFoundError, match="no such file"):
        net.load(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="junk.npz is not a weights file"):
        net.load(junk)
    other = tmp_path / "other.npz"
    nn.mlp([4, 5, 3], rng=0).save(other)
    with pytest.raises(KeyError, match="missing keys"):
        net.load(other)
