"""``tg.check.layer`` names each slip on each built-in family.

Every family's reference layer (``tinygrad_bp.reference``, NumPy only) is wrapped in the
tutorial's style (``forward(x)``, ``backward(grad_out)`` returning ``dx`` and leaving
``d<name>`` on the layer); the correct wrapper passes, and a copy with one slip injected is
diagnosed with the slip's word."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import reference as ref

RNG = np.random.default_rng(5)


class Adapter:
    """A reference layer in the tutorial's style, with an optional slip.

    ``params``: the adapter's attribute name -> (the object holding it, its name there,
    its key in the reference backward's dict)."""

    def __init__(self, inner, params, slip=None, target=None, bias=None, batch_axis=0):
        self.inner = inner
        self._params = params
        for attr, (holder, name, _) in params.items():
            setattr(self, attr, getattr(self._holder(holder), name).astype(np.float64))
        self.slip = slip
        self.target = target  # the parameter the slip hits (None: dx)
        self.bias_name = bias
        self.batch_axis = batch_axis

    def _holder(self, holder):
        return self.inner if holder is None else getattr(self.inner, holder)

    def __getattr__(self, name):  # settings (stride, eps, mask, ...) come from the layer
        if name.startswith("__") or "inner" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["inner"], name)

    def _push(self):
        for attr, (holder, name, _) in self._params.items():
            setattr(self._holder(holder), name, getattr(self, attr))

    def _run(self, x):
        self._push()
        out = self.inner.forward(x)
        return out[0] if isinstance(out, tuple) else out

    def forward(self, x):
        self.x = x
        return self._run(x)

    def _grads(self, g):
        got = self.inner.backward(g)
        return {attr: got[key] for attr, (_, _, key) in self._params.items()}, got.get("x")

    def backward(self, g):
        slip = self.slip
        if slip == "incoming gradient":
            g = np.ones_like(g)
        grads, dx = self._grads(g)
        n = g.shape[self.batch_axis]
        t = self.target
        if slip == "sign":
            grads[t] = -grads[t] if t else None
            dx = dx if t else -dx
        elif slip in ("batch×", "batch÷"):
            f = n if slip == "batch×" else 1.0 / n
            if t:
                grads[t] = grads[t] * f
            else:
                dx = dx * f
        elif slip == "transpose":
            grads[t] = np.swapaxes(grads[t], -1, -2)
        elif slip == "sum":
            grads[self.bias_name] = self._per_sample_bias(g)
        elif slip == "updated":
            for attr in grads:  # an update inside backward, then dx through the new weights
                setattr(self, attr, getattr(self, attr) - 0.1 * grads[attr])
            self._run(self.x)
            dx = self._grads(g)[1]
        for attr, v in grads.items():
            if v is not None:
                setattr(self, "d" + attr, v)
        return dx

    def _per_sample_bias(self, g):
        if isinstance(self.inner, ref.BatchNorm1d | ref.BatchNorm2d):  # not separable
            return g.sum(axis=(2, 3)) if g.ndim == 4 else g
        rows = []
        ax = self.batch_axis
        for i in range(g.shape[ax]):
            one = copy.deepcopy(self)
            one.slip = None
            sl = [slice(None)] * g.ndim
            sl[ax] = slice(i, i + 1)
            xi = self.x[tuple(sl[: self.x.ndim])] if ax < self.x.ndim else self.x
            one.forward(xi)
            rows.append(one._grads(g[tuple(sl)])[0][self.bias_name])
        return np.stack(rows)


def P(*names, holder=None):
    return {n.replace(".", "_"): (holder, n.replace(".", "_"), n) for n in names}


# family -> (make the adapter, input, the weight a slip hits, the bias, slips)
WEIGHT_SLIPS = ["sign", "batch×", "batch÷", "transpose", "incoming gradient", "updated"]
FAMILIES = {
    "conv2d": (
        lambda **k: Adapter(ref.Conv2d(2, 3, 3, padding=1, rng=0), P("weight", "bias"), **k),
        RNG.normal(size=(3, 2, 4, 4)),
        "weight",
        "bias",
        WEIGHT_SLIPS + ["sum"],
    ),
    "maxpool2d": (
        lambda **k: Adapter(ref.MaxPool2d(2), {}, **k),
        RNG.normal(size=(2, 2, 4, 4)),
        None,
        None,
        ["sign", "batch×", "batch÷", "incoming gradient"],
    ),
    "avgpool2d": (
        lambda **k: Adapter(ref.AvgPool2d(2), {}, **k),
        RNG.normal(size=(2, 2, 4, 4)),
        None,
        None,
        ["sign", "batch×", "batch÷", "incoming gradient"],
    ),
    "batchnorm": (
        lambda **k: Adapter(_bn(), P("weight", "bias"), **k),
        RNG.normal(size=(6, 3)),
        "weight",
        "bias",
        ["sign", "batch×", "batch÷", "incoming gradient", "sum", "updated"],
    ),
    "layernorm": (
        lambda **k: Adapter(_ln(), P("weight", "bias"), **k),
        RNG.normal(size=(4, 5)),
        "weight",
        "bias",
        ["sign", "batch×", "batch÷", "incoming gradient", "sum", "updated"],
    ),
    "dropout": (
        lambda **k: Adapter(ref.Dropout(0.4, rng=3), {}, **k),
        RNG.normal(size=(4, 5)),
        None,
        None,
        ["sign", "batch×", "batch÷", "incoming gradient"],
    ),
    "embedding": (
        lambda **k: Adapter(ref.Embedding(6, 3, rng=0), P("weight"), **k),
        np.array([[0, 2, 5], [2, 1, 1]]),
        "weight",
        None,
        ["sign", "batch×", "batch÷", "transpose", "incoming gradient"],
    ),
    "rnn": (
        lambda **k: Adapter(
            ref.Unroll(ref.RNNCell(3, 4, rng=0)),
            P("weight_ih", "weight_hh", "bias_ih", "bias_hh", holder="cell"),
            batch_axis=1,
            **k,
        ),
        RNG.normal(size=(3, 2, 3)),
        "weight_hh",
        "bias_ih",
        WEIGHT_SLIPS + ["sum"],
    ),
    "lstm": (
        lambda **k: Adapter(
            ref.LSTM(3, 2, rng=0),
            P("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"),
            batch_axis=1,
            **k,
        ),
        RNG.normal(size=(3, 2, 3)),
        "weight_ih_l0",
        "bias_hh_l0",
        WEIGHT_SLIPS + ["sum"],
    ),
    "attention": (
        lambda **k: Adapter(
            _attn(),
            P("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"),
            **k,
        ),
        RNG.normal(size=(2, 3, 4)),
        "out_proj_weight",
        "out_proj_bias",
        WEIGHT_SLIPS + ["sum"],
    ),
}


def _bn():
    bn = ref.BatchNorm1d(3)
    bn.weight[:] = RNG.normal(size=3)
    bn.bias[:] = RNG.normal(size=3)
    return bn


def _ln():
    ln = ref.LayerNorm(5)
    ln.weight[:] = RNG.normal(size=5)
    ln.bias[:] = RNG.normal(size=5)
    return ln


def _attn():
    a = ref.CausalSelfAttention(4, rng=0)
    a.in_proj_bias[:] = RNG.normal(size=12) * 0.3
    a.out_proj_bias[:] = RNG.normal(size=4) * 0.3
    return a


WORD = {
    "sign": "sign",
    "batch×": "batch",
    "batch÷": "batch",
    "transpose": "transpose",
    "incoming gradient": "incoming gradient",
    "sum": "sum",
    "updated": "updated",
    "activation_none": "activation",
    "activation_output": "activation",
}

CASES = [(fam, slip) for fam, spec in FAMILIES.items() for slip in spec[4]]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_correct_layer_passes(family: str) -> None:
    make, x, *_ = FAMILIES[family]
    report = tg.check.layer(make(), x, engine=family)
    assert report.ok, str(report)
    assert report.rows[0].name == "out"


@pytest.mark.parametrize("family,slip", CASES, ids=[f"{f}-{s}" for f, s in CASES])
def test_each_slip_is_named(family: str, slip: str) -> None:
    make, x, weight, bias, _ = FAMILIES[family]
    target = bias if slip == "sum" else weight
    if slip in ("sign", "batch×", "batch÷") and weight is None:
        target = None
    layer = make(slip=slip, target=target, bias=bias)
    report = tg.check.layer(layer, x, engine=family)
    assert not report.ok
    label = "dx" if slip == "updated" or target is None else "d" + target
    if slip == "incoming gradient":
        label = report.rows[1].name  # the first gradient: dx (dweight for embedding)
    row = report.row(label)
    assert row.verdict == "wrong", str(report)
    assert row.diagnosis is not None and WORD[slip] in row.diagnosis, str(report)


# ---------------------------------------------------------------- dense, the tutorial's layer
class Dense(ref.Layer):
    """The reference tutorial layer, its gradients made plain chain-rule ones (the
    reference keeps the tutorial's batch mean at the parameters), with a slip."""

    def __init__(self, W, b, activation, slip=None):
        super().__init__(W, b, activation)
        self.slip = slip

    def _a_grad(self, input_grad):
        if self.slip == "activation_none":
            return input_grad
        if self.slip == "activation_output":  # act'(h) instead of act'(a)
            saved_a, saved_h = self.a, self.h
            self.a, self.h = self.h, self.activate(self.h)
            try:
                return input_grad * self.activate_grad()
            finally:
                self.a, self.h = saved_a, saved_h
        return input_grad * self.activate_grad()

    def backward(self, g):
        s = self.slip
        n = g.shape[0]
        if s == "incoming gradient":
            g = np.ones_like(g)
        dx = super().backward(g, lr=0.1 if s == "updated" else None)  # "tutorial" order
        self.dW, self.db = self.W_grad * n, self.b_grad * n
        if s == "sign":
            self.dW = -self.dW
        elif s == "batch×":
            self.dW = self.dW * n
        elif s == "batch÷":
            self.db = self.db / n
        elif s == "transpose":
            self.dW = self.dW.T
        elif s == "sum":
            self.db = self.a_grad
        return dx


DENSE_SLIPS = ["sign", "batch×", "batch÷", "transpose", "incoming gradient", "sum", "updated",
               "activation_none", "activation_output"]  # fmt: skip
DENSE_CASES = [
    (act, s)
    for act in ("sigmoid", "tanh", "relu")
    for s in DENSE_SLIPS
    if not (act == "relu" and s == "activation_output")  # relu'(h) = relu'(a): no slip
]


def _dense(act, slip=None):
    W = RNG.normal(size=(4, 3))
    b = RNG.normal(size=3) * 0.2
    return Dense(W, b, act, slip)


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu"])
def test_dense_correct_passes(act: str) -> None:
    report = tg.check.layer(_dense(act), RNG.normal(size=(5, 4)), engine="dense")
    assert report.ok, str(report)


@pytest.mark.parametrize("act,slip", DENSE_CASES, ids=[f"{a}-{s}" for a, s in DENSE_CASES])
def test_dense_slips_are_named(act: str, slip: str) -> None:
    report = tg.check.layer(_dense(act, slip), RNG.normal(size=(5, 4)), engine="dense")
    label = {"batch÷": "db", "sum": "db", "updated": "dx", "incoming gradient": "dx",
             "activation_none": "dW", "activation_output": "dW"}.get(slip, "dW")  # fmt: skip
    row = report.row(label)
    assert row.verdict == "wrong" and row.diagnosis and WORD[slip] in row.diagnosis, str(report)


def test_the_tutorial_order_is_named_without_an_engine_too() -> None:
    report = tg.check.layer(_dense("tanh", "updated"), RNG.normal(size=(5, 4)))
    assert "updated" in report.row("dx").diagnosis
    assert any("changed W" in n for n in report.notes)


# ---------------------------------------------------------------- rnn: the activation's slips
@pytest.mark.parametrize(
    "wrong,word",
    [
        ("(input_grad[t] + dh_next) * 1.0", "activation's derivative left out"),
        ("(input_grad[t] + dh_next) * (1 - np.tanh(self.hs[t + 1]) ** 2)", "taken at the output"),
    ],
    ids=["left-out", "at-output"],
)
def test_rnn_activation_slips_are_named(wrong: str, word: str) -> None:
    """The rnn starter of `tinygrad-bp exercise`, solved, with tanh' left out of (or taken
    at the output in) backprop through time."""
    from .exercise_solutions import SOLUTIONS, solved

    right = "(input_grad[t] + dh_next) * (1 - self.hs[t + 1] ** 2)"
    assert right in SOLUTIONS["rnn"]
    namespace: dict = {}
    exec(solved("rnn", body=SOLUTIONS["rnn"].replace(right, wrong)), namespace)
    report = namespace["check_rnn"]()
    row = report.row("dWx")
    assert row.verdict == "wrong" and word in row.diagnosis, str(report)


def test_the_activation_variant_is_per_thread():
    """The checker asks the engine twin for a slipped activation derivative while it
    diagnoses; a check running at the same time in another thread (the live page serves
    several) still gets the right derivative."""
    import threading

    from tinygrad_bp.check import _engines

    a = np.linspace(-2.0, 2.0, 7)
    right = 1 - np.tanh(a) ** 2

    def grad_of_tanh():
        x = tg.Tensor(a.copy(), requires_grad=True)
        _engines.activate("tanh", x).sum().backward()
        return x.grad

    token = _engines.VARIANT.set("none")  # this thread: the derivative left out
    try:
        got = {}
        t = threading.Thread(target=lambda: got.setdefault("other", grad_of_tanh()))
        t.start()
        t.join()
        mine = grad_of_tanh()
    finally:
        _engines.VARIANT.reset(token)
    np.testing.assert_array_equal(mine, np.ones_like(a))
    np.testing.assert_allclose(got["other"], right, rtol=1e-12)


# ------------------------------------------------------- lstm: one gate's derivative slipped
_SIG = "(1 / (1 + np.exp(-{0}))) * (1 - 1 / (1 + np.exp(-{0})))"  # σ'(σ(a)): taken at the output


@pytest.mark.parametrize(
    "right,wrong,words",
    [
        ("di * i * (1 - i)", "di", ("input gate", "left out")),
        ("df * f * (1 - f)", "df", ("forget gate", "left out")),
        ("dg * (1 - g**2)", "dg", ("cell candidate", "left out")),
        ("do * o * (1 - o)", "do", ("output gate", "left out")),
        ("dh * o * (1 - tc**2)", "dh * o", ("tanh(c)", "left out")),
        ("do * o * (1 - o)", "do * " + _SIG.format("o"), ("output gate", "taken at its output")),
        ("dg * (1 - g**2)", "dg * (1 - np.tanh(g) ** 2)", ("cell candidate", "at its output")),
        ("dh * o * (1 - tc**2)", "dh * o * (1 - np.tanh(tc) ** 2)", ("tanh(c)", "at its output")),
    ],
    ids=["i", "f", "g", "o", "c", "o-at-output", "g-at-output", "c-at-output"],
)
def test_lstm_one_gates_slip_is_named(right: str, wrong: str, words: tuple[str, str]) -> None:
    """The lstm starter of `tinygrad-bp exercise`, solved, with one gate's activation
    derivative left out or taken at the gate's output: the diagnosis names that gate."""
    from .exercise_solutions import SOLUTIONS, solved

    assert right in SOLUTIONS["lstm"]
    namespace: dict = {}
    exec(solved("lstm", body=SOLUTIONS["lstm"].replace(right, wrong, 1)), namespace)
    report = namespace["check_lstm"]()
    row = report.row("dWx")
    assert row.verdict == "wrong", str(report)
    assert all(w in row.diagnosis for w in words), str(report)
