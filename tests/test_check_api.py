"""``tg.check``: its contract (float64, seeded random incoming gradient, the learner's arrays
left alone, their exceptions as their own tracebacks), the CS231n and Karpathy styles, the
report and its picture, one clear message for each kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp.check import LearnerError

RNG = np.random.default_rng(11)


class Dense:
    """The tutorial's layer, written by a learner (tanh, W (in, out), b (1, out))."""

    def __init__(self, W, b):
        self.W, self.b, self.activation = W, b, "tanh"

    def forward(self, x):
        self.x = x
        self.h = np.tanh(x @ self.W + self.b)
        return self.h

    def backward(self, grad_out):
        a_grad = grad_out * (1 - self.h**2)
        self.dW = self.x.T @ a_grad
        self.db = a_grad.sum(axis=0, keepdims=True)
        return a_grad @ self.W.T


def _dense(cls=Dense):
    return cls(RNG.normal(size=(4, 3)), RNG.normal(size=(1, 3)) * 0.1)


X = RNG.normal(size=(5, 4))


def test_a_correct_layer_passes_with_and_without_an_engine() -> None:
    for engine in ("dense", lambda x, W, b: (x @ W + b).tanh(), None):
        report = tg.check.layer(_dense(), X, engine=engine)
        assert report.ok and bool(report), str(report)
        names = [r.name for r in report.rows]
        assert names[-3:] == ["dx", "dW", "db"]
        assert ("out" in names) == (engine is not None)
    assert any("forward itself went unchecked" in n for n in report.notes)


def test_the_learners_arrays_and_layer_are_left_alone() -> None:
    class Scribbler(Dense):
        def backward(self, grad_out):
            grad_out *= 1.0  # in place on the checker's copy: harmless
            out = super().backward(grad_out)
            self.W -= 0.1 * self.dW  # an update inside backward
            return out

    lay = _dense(Scribbler)
    W, b, x = lay.W, lay.b, X.copy()
    before = (W.copy(), b.copy(), X.copy())
    report = tg.check.layer(lay, X, engine="dense")
    assert lay.W is W and lay.b is b  # the same objects, the same values
    np.testing.assert_array_equal(W, before[0])
    np.testing.assert_array_equal(b, before[1])
    np.testing.assert_array_equal(X, before[2])
    assert not hasattr(lay, "dW") and not hasattr(lay, "x")  # the check ran on copies
    assert report.ok  # dx came before the update here: only a note
    assert any("changed W" in n for n in report.notes)
    del x


def test_float32_parameters_are_checked_in_float64() -> None:
    lay = Dense(RNG.normal(size=(4, 3)).astype(np.float32), np.zeros((1, 3), np.float32))
    report = tg.check.layer(lay, X.astype(np.float32), engine="dense")
    assert report.ok and any("float64 copy" in n for n in report.notes)
    assert lay.W.dtype == np.float32


def test_the_incoming_gradient_is_seeded_random() -> None:
    seen = []

    class Spy(Dense):
        def backward(self, grad_out):
            seen.append(grad_out.copy())
            return super().backward(grad_out)

    tg.check.layer(_dense(Spy), X, seed=3)
    tg.check.layer(_dense(Spy), X, seed=3)
    tg.check.layer(_dense(Spy), X, seed=4)
    assert seen[0].dtype == np.float64 and not np.allclose(seen[0], 1.0)
    np.testing.assert_array_equal(seen[0], seen[1])
    assert not np.allclose(seen[0], seen[2])


def test_a_learners_exception_is_their_own_traceback() -> None:
    class Typo(Dense):
        def backward(self, grad_out):
            a_grad = grad_out * (1 - self.h**2)
            return a_grad @ self.w.T  # lower-case w

    with pytest.raises(LearnerError) as info:
        tg.check.layer(_dense(Typo), X)
    msg = str(info.value)
    assert "Typo.backward raised AttributeError" in msg
    assert "return a_grad @ self.w.T" in msg and "test_check_api.py" in msg
    assert "_core.py" not in msg and "_learner.py" not in msg
    assert isinstance(info.value.original, AttributeError)


# ---------------------------------------------------------------- bad input
class NoBackward:
    def forward(self, x):
        return x


class WrongShape(Dense):
    def backward(self, grad_out):
        super().backward(grad_out)
        return grad_out  # (5, 3), not x's (5, 4)


class WrongDtype(Dense):
    def backward(self, grad_out):
        return super().backward(grad_out).astype(np.float32)


class NoParamGrads(Dense):
    def backward(self, grad_out):
        return (grad_out * (1 - self.h**2)) @ self.W.T


class NaNOut(Dense):
    def forward(self, x):
        out = super().forward(x)
        out[1, 2] = np.nan
        return out


@pytest.mark.parametrize(
    "layer,engine,exc,pattern",
    [
        (NoBackward(), None, TypeError, r"no backward\(\) method"),
        (_dense(WrongShape), "dense", ValueError, r"dx has shape \(5, 3\); expected \(5, 4\)"),
        (_dense(WrongDtype), "dense", TypeError, r"dtype float32; expected float64"),
        (_dense(NoParamGrads), "dense", ValueError, r"has W but after backward\(\) there is no dW"),
        (_dense(NaNOut), None, ValueError, r"forward returned nan at index \(1, 2\)"),
        (_dense(), "dens", ValueError, r"unknown built-in layer 'dens'.*'dense', 'conv2d'"),
        (_dense(), 3, TypeError, r"engine must be a built-in name or a function"),
    ],
    ids=["no-backward", "shape", "dtype", "no-param-grad", "nan", "unknown-name", "engine-type"],
)
def test_bad_input_has_one_clear_message(layer, engine, exc, pattern) -> None:
    with pytest.raises(exc, match=pattern):
        tg.check.layer(layer, X, engine=engine)


# ---------------------------------------------------------------- CS231n's style
def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def test_functions_in_cs231n_style() -> None:
    x, w, b = RNG.normal(size=(6, 3)), RNG.normal(size=(3, 3)), RNG.normal(size=3)
    for engine in (None, lambda x, w, b: x @ w + b):
        report = tg.check.functions(affine_forward, affine_backward, [x, w, b], engine=engine)
        assert report.ok, str(report)
        assert [r.name for r in report.rows if r.kind == "gradient"] == ["dx", "dw", "db"]

    def transposed(dout, cache):
        dx, dw, db = affine_backward(dout, cache)
        return dx, dw.T, db

    report = tg.check.functions(affine_forward, transposed, [x, w, b])
    assert "transpose" in report.row("dw").diagnosis


def test_functions_with_a_builtin_and_its_settings() -> None:
    def conv_forward(x, w, b, conv_param):
        from tinygrad_bp import reference

        layer = reference.Conv2d(w.shape[1], w.shape[0], w.shape[2], padding=conv_param["pad"])
        layer.weight, layer.bias = w, b
        return layer.forward(x), layer

    def conv_backward(dout, layer):
        g = layer.backward(dout)
        return g["x"], g["weight"], g["bias"] * 3  # a slip: three times the bias gradient

    x, w, b = RNG.normal(size=(2, 2, 4, 4)), RNG.normal(size=(3, 2, 3, 3)), RNG.normal(size=3)
    report = tg.check.functions(conv_forward, conv_backward, [x, w, b, {"pad": 1}], "conv2d")
    assert report.row("out").ok and report.row("dx").ok and report.row("dw").ok
    assert report.row("db").verdict == "wrong" and report.row("db").diagnosis is None
    assert "first wrong at (0,)" in str(report)


# ---------------------------------------------------------------- Karpathy's exercise
def mlp(m, x, y, W1, b1, W2, b2):
    n = x.shape[0]
    hpre = x @ W1 + b1
    h = m.tanh(hpre)
    logits = h @ W2 + b2
    logit_maxes = logits.max(axis=1, keepdims=True)
    norm_logits = logits - logit_maxes
    counts = m.exp(norm_logits)
    counts_sum = counts.sum(axis=1, keepdims=True)
    probs = counts * counts_sum**-1
    logprobs = m.log(probs)
    loss = -logprobs[np.arange(n), y].mean()
    return locals()


def mlp_backward(v, slip=None):
    n = v["x"].shape[0]
    dlogprobs = np.zeros_like(v["logprobs"])
    dlogprobs[np.arange(n), v["y"]] = -1.0 / n
    dprobs = dlogprobs / v["probs"]
    dlogits = v["probs"].copy()
    dlogits[np.arange(n), v["y"]] -= 1
    dlogits /= n
    if slip == "batch":
        dlogits *= n
    dh = dlogits @ v["W2"].T
    dW2 = v["h"].T @ dlogits
    db2 = dlogits.sum(axis=0)
    dhpre = (1 - v["h"] ** 2) * dh
    dW1 = v["x"].T @ dhpre
    db1 = dhpre.sum(axis=0)
    return {k: val for k, val in locals().items() if k.startswith("d")}


def _mlp_inputs():
    r = np.random.default_rng(2)
    return {
        "x": r.normal(size=(8, 4)),
        "y": r.integers(0, 3, 8),
        "W1": r.normal(size=(4, 5)),
        "b1": r.normal(size=5) * 0.1,
        "W2": r.normal(size=(5, 3)),
        "b2": r.normal(size=3) * 0.1,
    }


def test_network_backprop_ninja() -> None:
    report = tg.check.network(mlp, mlp_backward, _mlp_inputs())
    assert report.ok, str(report)
    names = [r.name for r in report.rows]
    assert names == ["dW1", "db1", "dW2", "db2", "dhpre", "dh", "dlogits", "dprobs", "dlogprobs"]
    table = str(report)
    assert "exact" in table and "close" in table
    assert any(r.exact for r in report.rows)

    bad = tg.check.network(mlp, lambda v: mlp_backward(v, "batch"), _mlp_inputs())
    assert not bad.ok
    assert "batch" in bad.row("dlogits").diagnosis
    assert bad.row("dlogprobs").ok  # before the slip, still right
    g = bad.draw()
    assert "#c62828" in g.source and "#2e7d32" in g.source and "logits" in g.source


def test_network_bad_input() -> None:
    with pytest.raises(TypeError, match="return its intermediates by name"):
        tg.check.network(lambda m, **k: 1.0, mlp_backward, _mlp_inputs())
    with pytest.raises(ValueError, match="no 'loss'"):
        tg.check.network(lambda m, x, **k: {"out": x}, mlp_backward, _mlp_inputs())


# ---------------------------------------------------------------- the report
def test_report_table_and_picture(tmp_path) -> None:
    class HalfW(Dense):
        def backward(self, grad_out):
            dx = super().backward(grad_out)
            self.dW = self.dW * len(self.x)
            return dx

    report = tg.check.layer(_dense(HalfW), X, engine="dense")
    text = str(report)
    assert "max|yours − engine|" in text and "WRONG" in text and "first wrong at (0, 0)" in text
    row = report.row("dW")
    assert "× 5 (the batch size)" in row.diagnosis
    assert row.verdict == "wrong" and row.first_bad_index == (0, 0)
    assert row.yours_at == pytest.approx(5 * row.right_at)
    assert row.max_abs_engine > 0 and row.max_abs_fd > 0
    g = report.draw()
    assert "#c62828" in g.source and "✗ dW wrong" in g.source
    path = tmp_path / "r.svg"
    assert report.draw(path) is not None and path.read_text().startswith("<?xml")
    with pytest.raises(KeyError, match="no row 'dq'"):
        report.row("dq")


def test_a_dense_layer_without_activation_is_said() -> None:
    class Linear(Dense):
        def __init__(self, W, b):
            super().__init__(W, b)
            del self.activation

        def forward(self, x):
            self.x = x
            self.h = x @ self.W + self.b
            return self.h

        def backward(self, grad_out):
            self.dW, self.db = self.x.T @ grad_out, grad_out.sum(axis=0)
            return grad_out @ self.W.T

    report = tg.check.layer(_dense(Linear), X, engine="dense")
    assert report.ok and any("no self.activation" in n for n in report.notes)
