"""The hand-written reference network: it stands alone, and the engine agrees with it."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import functional as F
from tinygrad_bp import nn, optim
from tinygrad_bp.data import load_iris, make_regression, standardize
from tinygrad_bp.reference import HIDDEN_ACTIVATIONS, Layer, Network, OutputLayer

REFERENCE_DIR = Path(tg.__file__).parent / "reference"
REFERENCE_PY = REFERENCE_DIR / "dense.py"
SIZES = [4, 10, 5, 3]


def _data(task: str, n: int):
    if task == "classify":
        X, y = load_iris()
        Z, _, _ = standardize(X)
        idx = np.random.default_rng(n).permutation(len(Z))[:n]
        return Z[idx], y[idx]
    return make_regression(n, seed=1)


def _pair(task: str, activation: str, init: str = "xavier", seed: int = 0):
    """The engine's network and the reference with the same weights."""
    model = nn.mlp(SIZES, activation=activation, init=init, rng=seed)
    net = Network.from_sizes(SIZES, activation, "softmax" if task == "classify" else "linear")
    net.load_state_dict(model.state_dict())
    return model, net


def _loss(task, out, target):
    return F.cross_entropy(out, target) if task == "classify" else F.half_squared_error(out, target)


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """The top-level modules ``path`` imports, and the sibling modules it imports
    relatively (``from .conv import ...``)."""
    absolute, relative = set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            absolute |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                assert node.level == 1, f"{path.name} imports from above the reference package"
                relative.add(node.module)
            else:
                absolute.add(node.module.split(".")[0])
    return absolute, relative


def test_reference_imports_numpy_only_and_loads_standalone():
    modules = sorted(REFERENCE_DIR.glob("*.py"))
    names = {p.stem for p in modules}
    assert {
        "dense",
        "conv",
        "norm",
        "dropout",
        "embedding",
        "recurrent",
        "attention",
        "linear",
        "steps",
    } <= names
    for path in modules:
        absolute, relative = _imports(path)
        allowed = {"numpy", "__future__", "collections", "typing", "math"}
        assert absolute <= allowed, (path.name, absolute - allowed)
        assert relative <= names, (path.name, relative - names)
    # The tutorial's module loaded from its file alone, outside the package, still works.
    spec = importlib.util.spec_from_file_location("standalone_reference", REFERENCE_PY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    net = mod.Network.from_sizes([4, 3], output="softmax", rng=0)
    net.forward(np.ones((2, 4)))
    assert net.backward(np.array([0, 1])).shape == (2, 4)


STANDALONE = """
import importlib, importlib.util, sys
import numpy as np
spec = importlib.util.spec_from_file_location(
    "standalone_ref", sys.argv[1] + "/__init__.py", submodule_search_locations=[sys.argv[1]])
ref = importlib.util.module_from_spec(spec)
sys.modules["standalone_ref"] = ref
spec.loader.exec_module(ref)
for name in sys.argv[2:]:
    importlib.import_module("standalone_ref." + name)
engine = sorted(m for m in sys.modules if m.split(".")[0] in ("tinygrad_bp", "torch"))
assert not engine, engine
x = np.random.default_rng(0).normal(size=(2, 3, 6, 6))
conv = ref.Conv2d(3, 4, 3, padding=1, rng=0)
h = ref.MaxPool2d(2).forward(conv.forward(x))
for layer, inp in [(ref.AvgPool2d(2), h), (ref.BatchNorm2d(4), h), (ref.LayerNorm(3), h),
                   (ref.Dropout(0.5, rng=0), h), (ref.Linear(3, 2, rng=0), h)]:
    out = layer.forward(inp)
    assert layer.backward(np.ones_like(out))["x"].shape == inp.shape
emb = ref.Embedding(5, 3, rng=0)
seq = emb.forward(np.array([[1, 2], [3, 4], [0, 1]]))  # (T, N, 3)
for run in (ref.Unroll(ref.RNNCell(3, 4, rng=0)), ref.Unroll(ref.GRUCell(3, 4, rng=0)),
            ref.Unroll(ref.LSTMCell(3, 4, rng=0)), ref.LSTM(3, 4, rng=0)):
    out, _ = run.forward(seq)
    assert run.backward(np.ones_like(out))["x"].shape == seq.shape
att = ref.CausalSelfAttention(3, rng=0)
out = att.forward(seq)  # read as (N, T, E) = (3, 2, 3)
assert att.backward(np.ones_like(out))["x"].shape == seq.shape
w = ref.steps.init_digits_cnn(0)
step, _ = ref.steps.build_digits_cnn(np.ones((4, 1, 8, 8), np.float32), np.arange(4), w)
step()
engine = sorted(m for m in sys.modules if m.split(".")[0] in ("tinygrad_bp", "torch"))
assert not engine, engine
print("ok", len([m for m in sys.modules if m.startswith("standalone_ref.")]))
"""


def test_reference_package_runs_with_the_engine_absent():
    """The whole package, every module, in a fresh interpreter that never imports
    ``tinygrad_bp``: no engine (nor PyTorch) in ``sys.modules`` before or after."""
    mods = sorted(p.stem for p in REFERENCE_DIR.glob("*.py") if p.stem != "__init__")
    out = subprocess.run(
        [sys.executable, "-c", STANDALONE, str(REFERENCE_DIR), *mods],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REFERENCE_DIR.parent.parent.parent,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ok", str(len(mods))]


@pytest.mark.parametrize("batch", [1, 150])
@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("task", ["classify", "regress"])
def test_engine_gradients_equal_hand_written(task, activation, batch):
    x, target = _data(task, batch)
    model, net = _pair(task, activation)
    xt = tg.Tensor(x, requires_grad=True)
    loss = _loss(task, model(xt), target)
    loss.backward()
    net.forward(x)
    assert abs(loss.item() - net.loss(target)) <= 1e-12
    dx = net.backward(target)
    ref = net.gradients()
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, ref[name], rtol=0, atol=1e-12, err_msg=name)
    # intermediate gradients: the engine's carry the loss's 1/N, the tutorial's do not
    np.testing.assert_allclose(xt.grad * batch, dx, rtol=0, atol=1e-12)


def test_loss_definitions_match_the_engine_and_mse_differs_by_2_over_D():
    rng = np.random.default_rng(0)
    pred, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    out = OutputLayer(np.eye(3), np.zeros(3), "linear")
    out.forward(pred)
    half = F.half_squared_error(tg.Tensor(pred), y).item()
    assert out.loss(y) == pytest.approx(half, abs=1e-15)
    assert half == pytest.approx(0.5 * ((pred - y) ** 2).sum(axis=1).mean(), abs=1e-15)
    assert F.mse_loss(tg.Tensor(pred), tg.Tensor(y)).item() == pytest.approx(half * 2 / 3)
    labels = np.array([0, 2, 1, 1, 0, 2, 2])
    soft = OutputLayer(np.eye(3), np.zeros(3), "softmax")
    soft.forward(pred)
    assert soft.loss(labels) == pytest.approx(
        F.cross_entropy(tg.Tensor(pred), labels).item(), abs=1e-15
    )
    # the output layer's dL/da is y_hat - y per sample
    np.testing.assert_allclose(soft.loss_grad(labels), soft.h - np.eye(3)[labels], atol=0)


def test_per_sample_intermediates_are_N_times_the_engines():
    x, y = _data("classify", 150)
    model, net = _pair("classify", "tanh")
    xt = tg.Tensor(x)
    hs = []
    h = xt
    for layer in model:
        h = layer(h)
        h.retain_grad()
        hs.append(h)
    F.cross_entropy(h, y).backward()
    net.forward(x)
    net.backward(y)
    for i in range(len(SIZES) - 1):  # layer i's output gradient is layer i+1's input gradient
        below = net.layers[i + 1].x_grad if i + 1 < len(net.layers) else net.layers[i].a_grad
        np.testing.assert_allclose(150 * hs[i].grad, below, rtol=0, atol=1e-13)


def test_broadcast_w_gradient_equals_matmul():
    x, y = _data("regress", 40)
    _, a = _pair("regress", "sigmoid")
    _, b = _pair("regress", "sigmoid")
    a.forward(x)
    a.backward(y)
    b.forward(x)
    b.backward(y, wgrad="broadcast")
    for k, g in a.gradients().items():
        np.testing.assert_allclose(b.gradients()[k], g, rtol=0, atol=1e-15)


def test_tutorial_order_propagates_through_updated_weights():
    x, y = _data("classify", 30)
    lr = 0.5
    _, correct = _pair("classify", "tanh")
    _, tut = _pair("classify", "tanh")
    W_top = correct.layers[2].W.copy()
    correct.forward(x)
    correct.backward(y)
    tut.forward(x)
    tut.backward(y, order="tutorial", lr=lr)
    top_c, top_t = correct.layers[2], tut.layers[2]
    np.testing.assert_array_equal(top_t.W_grad, top_c.W_grad)  # the top layer is unaffected
    np.testing.assert_allclose(top_t.W, W_top - lr * top_c.W_grad, atol=1e-15)  # updated
    # what it passed down went through the *updated* W, unlike the correct order's
    np.testing.assert_allclose(top_t.x_grad, top_c.a_grad @ (W_top - lr * top_c.W_grad).T)
    np.testing.assert_allclose(top_c.x_grad, top_c.a_grad @ W_top.T)
    assert not np.allclose(tut.layers[0].W_grad, correct.layers[0].W_grad, rtol=1e-6, atol=0)
    with pytest.raises(RuntimeError, match="already applied"):
        tut.step(lr)
    with pytest.raises(ValueError, match="pass lr="):
        tut.backward(y, order="tutorial")


def test_reference_training_matches_engine_sgd():
    """Fifty correct-order steps by hand and by the engine + optim.SGD: the same weights."""
    x, y = _data("classify", 150)
    model, net = _pair("classify", "relu", init="he")
    opt = optim.SGD(model.parameters(), lr=0.1)
    xt = tg.Tensor(x)
    for _ in range(50):
        opt.zero_grad()
        F.cross_entropy(model(xt), y).backward()
        opt.step()
        net.train_step(x, y, lr=0.1)
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(net.state_dict()[k], v, rtol=0, atol=1e-12, err_msg=k)


def test_float32_stays_float32():
    net = Network.from_sizes(SIZES, "sigmoid", "softmax", rng=0, dtype=np.float32)
    out = net.forward(np.ones((3, 4)))
    net.backward(np.array([0, 1, 2]))
    assert out.dtype == np.float32 and net.layers[0].W_grad.dtype == np.float32


def test_from_sizes_uses_the_tutorial_init_and_matches_the_engines_draws():
    net = Network.from_sizes(SIZES, "tanh", "softmax", rng=3)
    model = nn.mlp(SIZES, activation="tanh", init="tutorial", rng=3)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(net.state_dict()[k], v)
    big = Layer.init(200, 300, "tanh", rng=0)
    assert abs(big.W.std() - 0.1) < 0.002 and not big.b.any()


def test_reference_bad_input():
    with pytest.raises(ValueError, match="layer 1 expects 5 inputs but layer 0 gives 10"):
        Network([Layer.init(4, 10, "tanh"), OutputLayer.init(5, 3, "softmax")])
    with pytest.raises(TypeError, match="last layer must be an OutputLayer"):
        Network([Layer.init(4, 3, "tanh")])
    with pytest.raises(ValueError, match="unknown activation 'softplus'"):
        Layer.init(4, 3, "softplus")
    with pytest.raises(ValueError, match="unknown output"):
        Network.from_sizes([4, 3], output="sigmoid")
    net = Network.from_sizes(SIZES, "tanh", "softmax", rng=0)
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, 4\), got \(2, 5\)"):
        net.forward(np.ones((2, 5)))
    net.forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"labels out of range: expected 0..2 for 3 classes"):
        net.backward(np.array([0, 3]))
    with pytest.raises(ValueError, match=r"targets must have shape \(2, 3\)"):
        net.backward(np.ones((2, 4)))
    with pytest.raises(ValueError, match="unknown order"):
        net.backward(np.array([0, 1]), order="reversed")
    with pytest.raises(ValueError, match="unknown wgrad"):
        net.backward(np.array([0, 1]), wgrad="einsum")
    fresh = Network.from_sizes([4, 3], rng=0)
    with pytest.raises(RuntimeError, match="call forward"):
        fresh.layers[0].backward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"0\.W has shape \(4, 4\)"):
        fresh.load_state_dict({"0.W": np.zeros((4, 4)), "0.b": np.zeros(3)})
