"""The benchmark's workloads and implementations, and the worker process that runs them.

Every implementation builds one full SGD training step (forward, softmax cross-entropy,
backward, update) of a fully connected network from the *same* problem: the data, the
labels and the initial weights come from :func:`make_problem`, seeded, as NumPy arrays
with ``W`` of shape ``(in, out)``.  Each returns ``(step, params)``: ``step()`` does one
training step and returns the loss of the weights it started from; ``params()`` gives the
current weights back as NumPy arrays in the same layout, so the harness can check that
every implementation computes the same update.

The worker (``python -m tinygrad_bp.commands._bench_impls IMPL``) is started by
:mod:`tinygrad_bp.commands.bench` with the BLAS thread variables already in its environment; it
pins the BLAS pool again with threadpoolctl, answers one JSON request per line on stdin
and writes one ``@@bench {json}`` line per answer on stdout.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

__all__ = [
    "Workload",
    "WORKLOADS",
    "IMPLS",
    "IMPL_TITLES",
    "make_problem",
    "build",
    "register",
]

LR = 0.01
SEED = 0
TAG = "@@bench "
# The tutorial's (batch, in, out) product is skipped when one such array would exceed this.
TUTORIAL_LIMIT_BYTES = 512 * 2**20


@dataclass(frozen=True)
class Workload:
    """A fully connected network and its batch."""

    key: str
    title: str
    sizes: tuple[int, ...]  # layer widths, input first, classes last
    activation: str  # of every hidden layer; the last layer is linear (logits)
    batch: int
    dtype: str
    data: str  # "iris" (standardised Iris, the tutorial's data) or "random"
    kind: str = "mlp"  # "mlp", or "cnn" (W5) / "lstm" (W6) / "transformer" (W7)
    # The correctness check runs in this dtype (None: the workload's).  W7 checks in
    # float64: some of its gradients are exactly zero in exact arithmetic (the key bias
    # moves every score of a softmax row alike), and AdamW divides their float32 rounding
    # noise by its own square root, a step of ±lr whatever the implementation.
    check_dtype: str | None = None

    def for_check(self) -> Workload:
        return replace(self, dtype=self.check_dtype) if self.check_dtype else self

    @property
    def layers(self) -> list[tuple[int, int]]:
        return list(zip(self.sizes[:-1], self.sizes[1:]))

    def tutorial_bytes(self) -> int:
        """Bytes of the largest (batch, in, out) array the tutorial's W-gradient makes."""
        item = np.dtype(self.dtype).itemsize
        return max(self.batch * i * o * item for i, o in self.layers)


WORKLOADS: dict[str, Workload] = {
    w.key: w
    for w in (
        Workload("W1", "tutorial 4-10-5-3 tanh, batch 150, float64", (4, 10, 5, 3), "tanh",
                 150, "float64", "iris"),
        Workload("W2", "784-256-128-10 relu, batch 128, float32", (784, 256, 128, 10), "relu",
                 128, "float32", "random"),
        Workload("W3", "784-1024-1024-10 relu, batch 512, float32", (784, 1024, 1024, 10),
                 "relu", 512, "float32", "random"),
        Workload("W4", "64 → 20 × 64 tanh → 10, batch 32, float64", (64,) + (64,) * 20 + (10,),
                 "tanh", 32, "float64", "random"),
    )
}  # fmt: skip

# The next chapters' models, one full SGD step each (tinygrad_bp and PyTorch eager build
# them here; the hand-NumPy baseline is tinygrad_bp.reference.steps):
# W5: the digits CNN Conv2d(1,16,3,p=1)-ReLU-MaxPool2d(2)-Conv2d(16,32,3,p=1)-ReLU-
#     MaxPool2d(2)-Flatten-Linear(128,10) on 64 digits; W6: Embedding(27,32)-LSTM(128)-
#     Linear(128,27) on 32 sequences of 16 characters, the loss over all 512 positions;
# W7: makemore's transformer (models.NamesTransformer: 4 pre-norm blocks of 4-head causal
#     attention and a GELU MLP, 64 channels) on 32 sequences of 16 characters, one AdamW
#     step (lr 5e-4, betas (0.9, 0.99), wd 0.01, as the results page trains it).
MODEL_WORKLOADS: dict[str, Workload] = {
    w.key: w
    for w in (
        Workload("W5", "digits CNN (2 conv, 2 max-pool, linear), batch 64, float32",
                 (64, 10), "relu", 64, "float32", "digits", "cnn"),
        Workload("W6", "names LSTM (embedding 32, hidden 128), batch 32 × 16 steps, float32",
                 (32, 128, 27), "tanh", 32, "float32", "names", "lstm"),
        Workload("W7", "names transformer (4 layers, 4 heads, 64 channels, block 16), batch "
                 "32, AdamW, float32", (64, 27), "gelu", 32, "float32", "names", "transformer",
                 "float64"),
    )
}  # fmt: skip
DIGITS_CNN_PARAMS = ("0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias")
NAMES_LSTM_PARAMS = (
    "embed.weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0",
    "lstm.bias_hh_l0", "head.weight", "head.bias",
)  # fmt: skip
SEQ_LEN = 16


def _hand_steps() -> Any:
    """The hand-written W5/W6 steps, where the reference package has them."""
    try:
        from ..reference import steps
    except ImportError:
        return None
    return steps if hasattr(steps, "build_digits_cnn") else None


_STEPS = _hand_steps()
if _STEPS is not None:  # the baseline exists: the bench runs W5, W6 (and W7) by default
    WORKLOADS.update(
        {k: w for k, w in MODEL_WORKLOADS.items()
         if w.kind != "transformer" or hasattr(_STEPS, "build_names_transformer")}
    )  # fmt: skip


@dataclass
class ModelProblem:
    """W5/W6: inputs, integer targets and the initial weights by PyTorch's names."""

    X: np.ndarray
    y: np.ndarray
    weights: dict[str, np.ndarray]
    kind: str
    lr: float
    adamw: dict[str, Any] | None = None  # W7 steps with AdamW (these settings), not SGD

    @property
    def arrays(self) -> list[np.ndarray]:
        return list(self.weights.values())

    # the harness pairs (Ws[i], bs[i]) into the flat list of initial arrays
    @property
    def Ws(self) -> list[np.ndarray]:  # noqa: N802
        return self.arrays[0::2]

    @property
    def bs(self) -> list[np.ndarray]:
        rest = self.arrays[1::2]
        return rest + [np.zeros(0)] * (len(self.Ws) - len(rest))


def _uniform(rng: np.random.Generator, bound: float, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(-bound, bound, size=shape)


def make_model_problem(workload: Workload, seed: int = SEED, lr: float = LR) -> ModelProblem:
    """Seeded W5/W6 inputs and PyTorch-style initial weights (uniform ±1/√fan_in).

    W5 takes the first 64 shipped digits, standardised, where the data package has them
    (seeded normal images otherwise); W6 takes seeded random character ids in 0..26
    (its cost does not depend on which characters they are)."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(workload.dtype)
    if workload.kind == "cnn":
        try:
            from ..data import load_digits

            X, y = load_digits()
            X = X[: workload.batch].reshape(-1, 1, 8, 8)
            X = (X - X.mean()) / X.std()
            y = y[: workload.batch]
        except ImportError:
            X = rng.standard_normal((workload.batch, 1, 8, 8))
            y = rng.integers(0, 10, size=workload.batch)
        shapes = [((16, 1, 3, 3), 9), ((16,), 9), ((32, 16, 3, 3), 144), ((32,), 144),
                  ((10, 128), 128), ((10,), 128)]  # fmt: skip
        names = DIGITS_CNN_PARAMS
    elif workload.kind == "transformer":
        X = rng.integers(0, 27, size=(workload.batch, SEQ_LEN))
        y = rng.integers(0, 27, size=(workload.batch, SEQ_LEN))
        c = workload.sizes[0]
        shapes = [((27, c), 0), ((SEQ_LEN, c), 0)]
        names = ["wte.weight", "wpe.weight"]
        for i in range(4):
            for name, shape, fan in (("ln_1.weight", (c,), -1), ("ln_1.bias", (c,), -2),
                                     ("c_attn.weight", (3 * c, c), c), ("c_attn.bias", (3 * c,), c),
                                     ("attn_proj.weight", (c, c), c), ("attn_proj.bias", (c,), c),
                                     ("ln_2.weight", (c,), -1), ("ln_2.bias", (c,), -2),
                                     ("c_fc.weight", (4 * c, c), c), ("c_fc.bias", (4 * c,), c),
                                     ("mlp_proj.weight", (c, 4 * c), 4 * c),
                                     ("mlp_proj.bias", (c,), 4 * c)):  # fmt: skip
                names.append(f"blocks.{i}.{name}")
                shapes.append((shape, fan))
        names += ["ln_f.weight", "ln_f.bias", "lm_head.weight"]
        shapes += [((c,), -1), ((c,), -2), ((27, c), c)]
        weights = {}
        for name, (shape, fan) in zip(names, shapes):
            if fan == 0:
                w = rng.standard_normal(shape)
            elif fan < 0:  # LayerNorm: PyTorch's ones and zeros, moved a little
                w = (1.0 if fan == -1 else 0.0) + _uniform(rng, 0.1, shape)
            else:
                w = _uniform(rng, 1 / math.sqrt(fan), shape)
            weights[name] = w.astype(dtype)
        hand = _hand_steps()
        settings = dict(hand.ADAMW) if hand is not None else {}
        return ModelProblem(X.astype(np.int64), y.astype(np.int64), weights, "transformer",
                            settings.get("lr", 5e-4), settings)  # fmt: skip
    else:
        X = rng.integers(0, 27, size=(workload.batch, SEQ_LEN))
        y = rng.integers(0, 27, size=(workload.batch, SEQ_LEN))
        h = 128
        shapes = [((27, 32), 0), ((4 * h, 32), h), ((4 * h, h), h), ((4 * h,), h),
                  ((4 * h,), h), ((27, h), h), ((27,), h)]  # fmt: skip
        names = NAMES_LSTM_PARAMS
    weights = {}
    for name, (shape, fan) in zip(names, shapes):
        w = rng.standard_normal(shape) if fan == 0 else _uniform(rng, 1 / math.sqrt(fan), shape)
        weights[name] = w.astype(dtype)
    X = X.astype(dtype) if workload.kind == "cnn" else X.astype(np.int64)
    return ModelProblem(X, y.astype(np.int64), weights, workload.kind, lr)


def _model_tinygrad_bp(p: ModelProblem, tg: Any) -> tuple[Step, Params]:
    """Plain user code: the layers of tinygrad_bp.nn, F.cross_entropy, optim.SGD."""
    import importlib

    nn = importlib.import_module(tg.__name__ + ".nn")
    optim = importlib.import_module(tg.__name__ + ".optim")
    F, Tensor = tg.functional, tg.Tensor
    dt = next(iter(p.weights.values())).dtype
    if p.kind == "cnn":
        model = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, dtype=dt), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1, dtype=dt), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(128, 10, dtype=dt),
        )  # fmt: skip
        x, y = Tensor(p.X), p.y

        def loss_fn() -> Any:
            return F.cross_entropy(model(x), y)

    elif p.kind == "transformer":
        try:
            models = importlib.import_module(tg.__name__ + ".commands.models")
        except ImportError:  # an older tree (benchmarks/ab.py --base), before the layout
            models = importlib.import_module(tg.__name__ + ".models")
        model = models.NamesTransformer(p.X.shape[1], dtype=dt)
        x, y = p.X, p.y.ravel()

        def loss_fn() -> Any:
            return F.cross_entropy(model(x), y)

    else:

        class NamesLSTM(nn.Module):
            def __init__(self) -> None:
                self.embed = nn.Embedding(27, 32, dtype=dt)
                self.lstm = nn.LSTM(32, 128, dtype=dt)
                self.head = nn.Linear(128, 27, dtype=dt)

            def forward(self, idx: Any) -> Any:
                seq, _ = self.lstm(self.embed(idx.T))  # time-major (T, N, H)
                return self.head(seq.reshape(-1, 128))

        model = NamesLSTM()
        x, y = p.X, np.ascontiguousarray(p.y.T).ravel()  # targets in the logits' order

        def loss_fn() -> Any:
            return F.cross_entropy(model(x), y)

    model.load_state_dict(p.weights)
    params_ = dict(model.named_parameters())
    if p.adamw:
        opt = optim.AdamW(model.parameters(), **p.adamw)
    else:
        opt = optim.SGD(model.parameters(), lr=p.lr)

    def step() -> Any:
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        return loss.item()

    def params() -> list[np.ndarray]:
        return [params_[n].data.copy() for n in p.weights]

    return step, params


def _model_numpy(p: ModelProblem) -> tuple[Step, Params]:
    """Hand-written backprop: tinygrad_bp.reference.steps."""
    steps = _hand_steps()
    if steps is None:
        raise RuntimeError("W5/W6 need tinygrad_bp.reference.steps for the hand-NumPy step")
    build_fn = {"cnn": steps.build_digits_cnn, "lstm": steps.build_names_lstm,
                "transformer": getattr(steps, "build_names_transformer", None)}[p.kind]  # fmt: skip
    return build_fn(p.X, p.y, {k: v.copy() for k, v in p.weights.items()}, lr=p.lr)


@dataclass
class Problem:
    X: np.ndarray
    y: np.ndarray  # int64 class indices
    Ws: list[np.ndarray]  # (in, out)
    bs: list[np.ndarray]  # (out,)
    activation: str
    lr: float


def make_problem(workload: Workload, seed: int = SEED, lr: float = LR) -> Any:
    """The seeded inputs and initial weights every implementation starts from.

    Weights: He normal for ReLU networks, Glorot uniform for tanh ones; biases small
    random values (not zeros, so that a wrong bias gradient shows in the check).
    """
    if workload.kind != "mlp":
        return make_model_problem(workload, seed, lr)
    rng = np.random.default_rng(seed)
    dtype = np.dtype(workload.dtype)
    if workload.data == "iris":
        from ..data import load_iris, standardize

        X, y = load_iris()
        X = standardize(X)[0]
        if len(X) != workload.batch or X.shape[1] != workload.sizes[0]:
            raise ValueError(f"{workload.key}: Iris is (150, 4), the workload wants another shape")
    else:
        X = rng.standard_normal((workload.batch, workload.sizes[0]))
        y = rng.integers(0, workload.sizes[-1], size=workload.batch)
    Ws, bs = [], []
    for fan_in, fan_out in workload.layers:
        if workload.activation == "relu":
            W = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
        else:
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            W = rng.uniform(-limit, limit, size=(fan_in, fan_out))
        Ws.append(W.astype(dtype))
        bs.append(rng.uniform(-0.1, 0.1, size=fan_out).astype(dtype))
    return Problem(X.astype(dtype), y.astype(np.int64), Ws, bs, workload.activation, lr)


Step = Callable[[], Any]
Params = Callable[[], list[np.ndarray]]


# ----------------------------------------------------------------------------- tinygrad_bp
def build_tinygrad_bp(p: Problem, package: Any = None) -> tuple[Step, Params]:
    """Plain user code: nn.Sequential of nn.Dense, F.cross_entropy, optim.SGD.

    ``package`` is the tinygrad_bp package to use (this one by default; the A/B script
    ``benchmarks/ab.py`` passes an older revision's)."""
    import importlib

    tg = package if package is not None else importlib.import_module(__package__.rpartition(".")[0])
    if isinstance(p, ModelProblem):
        return _model_tinygrad_bp(p, tg)
    Tensor, F = tg.Tensor, tg.functional
    nn = importlib.import_module(tg.__name__ + ".nn")
    optim = importlib.import_module(tg.__name__ + ".optim")

    n_layers = len(p.Ws)
    layers = [
        nn.Dense(W.shape[0], W.shape[1], activation=p.activation if i < n_layers - 1 else None,
                 dtype=W.dtype)
        for i, W in enumerate(p.Ws)
    ]  # fmt: skip
    model = nn.Sequential(*layers)
    state = {}
    for i, (W, b) in enumerate(zip(p.Ws, p.bs)):
        state[f"{i}.W"], state[f"{i}.b"] = W, b
    model.load_state_dict(state)
    opt = optim.SGD(model.parameters(), lr=p.lr)
    x = Tensor(p.X)
    y = p.y  # integer class indices, as load_iris returns them

    def step() -> Any:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    def params() -> list[np.ndarray]:
        out = []
        for layer in layers:
            out += [layer.W.data.copy(), layer.b.data.copy()]
        return out

    return step, params


def build_tinygrad_bp_compiled(p: Problem, package: Any = None) -> tuple[Step, Params]:
    """The same user code as :func:`build_tinygrad_bp`, its step wrapped in ``tg.compile``:
    traced on its 2nd and 3rd calls, then replayed as straight-line NumPy calls."""
    import importlib

    tg = package if package is not None else importlib.import_module(__package__.rpartition(".")[0])
    step, params = build_tinygrad_bp(p, tg)
    return tg.compile(step), params


# ----------------------------------------------------------------------------- by hand
def _softmax_ce(z: np.ndarray, y: np.ndarray, rows: np.ndarray) -> tuple[Any, np.ndarray]:
    """Mean cross-entropy of logits ``z`` (through logsumexp) and ``softmax(z) - onehot``."""
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    loss = np.log(s[:, 0]).mean() - shifted[rows, y].mean()
    g = e / s
    g[rows, y] -= 1
    return loss, g


def _hand(p: Problem, tutorial: bool) -> tuple[Step, Params]:
    Ws = [W.copy() for W in p.Ws]
    bs = [b.copy() for b in p.bs]
    X, y, lr = p.X, p.y, p.lr
    n = X.shape[0]
    rows = np.arange(n)
    last = len(Ws) - 1
    relu = p.activation == "relu"

    def step() -> Any:
        hs = [X]  # each layer's input
        h = X
        for i in range(last):
            a = h @ Ws[i] + bs[i]
            h = np.maximum(a, 0) if relu else np.tanh(a)
            hs.append(h)
        z = h @ Ws[last] + bs[last]
        loss, g = _softmax_ce(z, y, rows)  # g = ∂(N·L)/∂z = softmax - onehot
        if not tutorial:
            g /= n  # ∂L/∂z for the batch mean
        for i in range(last, -1, -1):
            h_in, W = hs[i], Ws[i]
            if tutorial:
                # The article's batch formulas: the gradient of each sample's W as a
                # (batch, in, out) array, averaged over the batch; b likewise.
                dW = (g.reshape(n, 1, -1) * h_in.reshape(n, -1, 1)).mean(axis=0)
                db = g.mean(axis=0)
            else:
                dW = h_in.T @ g  # xᵀ·g
                db = g.sum(axis=0)  # Σ over the batch
            if i:
                g = g @ W.T  # ∂/∂h with the pre-update W
                g = g * (h_in > 0) if relu else g * (1 - h_in * h_in)
            W -= lr * dW
            bs[i] -= lr * db
        return float(loss)

    def params() -> list[np.ndarray]:
        out = []
        for W, b in zip(Ws, bs):
            out += [W.copy(), b.copy()]
        return out

    return step, params


def build_numpy(p: Problem) -> tuple[Step, Params]:
    """Hand-written backprop: dW = xᵀ·g, db = Σg, dx = g·Wᵀ, CE gradient (softmax−onehot)/N."""
    if isinstance(p, ModelProblem):
        return _model_numpy(p)
    return _hand(p, tutorial=False)


def build_tutorial(p: Problem) -> tuple[Step, Params]:
    """The article's batch code: W-gradient through a (batch, in, out) product, averaged."""
    return _hand(p, tutorial=True)


IMPLS: dict[str, Callable[[Problem], tuple[Step, Params]]] = {
    "numpy": build_numpy,
    "tinygrad_bp": build_tinygrad_bp,
    "tutorial": build_tutorial,
    "tinygrad_bp-compiled": build_tinygrad_bp_compiled,
}
IMPL_TITLES = {
    "numpy": "hand NumPy",
    "tinygrad_bp": "tinygrad_bp",
    "tutorial": "tutorial (batch,in,out)",
    "tinygrad_bp-compiled": "tinygrad_bp, tg.compile",
}
# What a peer added by register() needs: the Python module it imports (the harness leaves
# out the ones not installed), the script that serves it, its own thread pinning and
# version report.  tinygrad-bp bench itself has none; benchmarks/peers.py adds PyTorch,
# MyGrad and HIPS autograd for the benchmarks page.
IMPL_MODULES: dict[str, str] = {}
WORKER_SCRIPTS: dict[str, str] = {}
SET_THREADS: dict[str, Callable[[int], None]] = {}
VERSIONS: dict[str, Callable[[], dict[str, Any]]] = {}
MODEL_IMPLS = {"numpy", "tinygrad_bp", "tinygrad_bp-compiled"}  # the ones that build W5-W7


def register(
    name: str,
    build_fn: Callable[[Any], tuple[Step, Params]],
    title: str,
    *,
    module: str,
    worker_script: str,
    models: bool = False,
    set_threads: Callable[[int], None] | None = None,
    versions: Callable[[], dict[str, Any]] | None = None,
) -> None:
    """Add an implementation (a peer the benchmarks page compares with), in the harness and
    in its worker, which runs ``worker_script IMPL ...``, a script that registers the same
    peers and calls :func:`main`."""
    IMPLS[name] = build_fn
    IMPL_TITLES[name] = title
    IMPL_MODULES[name] = module
    WORKER_SCRIPTS[name] = worker_script
    if models:
        MODEL_IMPLS.add(name)
    if set_threads is not None:
        SET_THREADS[name] = set_threads
    if versions is not None:
        VERSIONS[name] = versions


def skip_reason(impl: str, workload: Workload) -> str | None:
    """Why an implementation does not run a workload (None: it does)."""
    if workload.kind != "mlp" and impl not in MODEL_IMPLS:
        return "built for the fully connected workloads only"
    if impl == "tutorial" and workload.tutorial_bytes() > TUTORIAL_LIMIT_BYTES:
        gib = workload.tutorial_bytes() / 2**30
        return f"its (batch, in, out) W-gradient array would take {gib:.1f} GiB"
    return None


def build(impl: str, workload: Workload) -> tuple[Step, Params]:
    return IMPLS[impl](make_problem(workload))


# ----------------------------------------------------------------------------- the worker
def _versions(impl: str) -> dict[str, Any]:
    from threadpoolctl import threadpool_info

    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "blas": [
            {k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads",
                                   "threading_layer", "filepath")}
            for d in threadpool_info()
        ],
    }  # fmt: skip
    module = IMPL_MODULES.get(impl)
    if module is not None:
        from importlib.metadata import version

        info[module] = version(module)
    if impl in VERSIONS:
        info.update(VERSIONS[impl]())
    return info


class _Worker:
    def __init__(self, impl: str, threads: int) -> None:
        from threadpoolctl import threadpool_limits

        self.impl = impl
        self.threads = threads
        self._limits = threadpool_limits(limits=threads)  # kept for the life of the worker
        if impl in SET_THREADS:
            SET_THREADS[impl](threads)
        if impl in IMPL_MODULES:
            __import__(IMPL_MODULES[impl])
        self.models: dict[str, Step] = {}

    def info(self) -> dict[str, Any]:
        return _versions(self.impl)

    def check(self, workload: str, steps: int, out: str) -> dict[str, Any]:
        """Run ``steps`` steps from the initial weights; save the final weights to ``out``."""
        step, params = build(self.impl, WORKLOADS[workload].for_check())
        losses = [float(step()) for _ in range(steps)]
        arrays = params()
        np.savez(out, *arrays)
        return {"losses": losses, "dtypes": sorted({str(a.dtype) for a in arrays})}

    def calibrate(self, workload: str, block_s: float) -> dict[str, Any]:
        """Build the timed model, warm it up, and choose the steps per block."""
        step, _ = build(self.impl, {**MODEL_WORKLOADS, **WORKLOADS}[workload])
        self.models[workload] = step
        n, t = 1, 0.0
        while True:  # warm-up: at least 3 steps and 0.1 s (or one block when blocks are short)
            t = self._time(step, n)["wall"]
            if n >= 3 and t >= min(0.1, block_s):
                break
            n *= 2
        n = max(1, math.ceil(block_s / (t / n)))
        t = self._time(step, n)["wall"]
        return {"n": max(1, math.ceil(block_s * 1.05 / (t / n))), "per_step": t / n}

    @staticmethod
    def _time(step: Step, n: int) -> dict[str, float]:
        """Wall-clock and this thread's CPU seconds of ``n`` steps, and minor page faults."""
        import resource

        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        c0 = time.thread_time()
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        t1 = time.perf_counter()
        c1 = time.thread_time()
        f1 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        return {"wall": t1 - t0, "cpu": c1 - c0, "faults": f1 - f0}

    def block(self, workload: str, n: int) -> dict[str, Any]:
        t = self._time(self.models[workload], n)
        return {
            "n": n,
            "per_step": t["wall"] / n,
            "cpu_per_step": t["cpu"] / n,
            "faults_per_step": t["faults"] / n,
        }

    def drop(self, workload: str) -> dict[str, Any]:
        self.models.pop(workload, None)
        return {}


def _rss_reset() -> int | None:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux 4.0+); return it in bytes."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _proc_status("VmRSS")
    except OSError:
        return None


def _proc_status(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _trim_heap() -> None:
    """Hand the C heap's free memory back to the system (glibc's ``malloc_trim``), so
    that what a warm-up freed is not there for the measured run to reuse unseen."""
    import ctypes

    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def measure_memory(impl: str, workload: str, warmup: int = 2, steps: int = 3) -> dict[str, Any]:
    """Peak memory of one implementation on one workload; run in a fresh process.

    First the implementation is built on the *same* workload and stepped twice, then
    thrown away, the garbage collected and the C heap's free memory handed back to the
    system (``malloc_trim``): every library and lazily imported module the measured run
    uses (SciPy's BLAS wrapper that a large SGD update calls, PyTorch's kernels, ...)
    is then loaded before the high-water mark is reset, for every implementation alike.
    (Warming up on the tiny W1 counted SciPy's libraries, loaded on the first large
    update, as W5's step memory.)  Then two measurements of building the model out of
    the given arrays and running ``warmup + steps`` steps:

    ``rss``: growth of the peak resident set size (the kernel's high-water mark, reset to
    the current RSS just before; Linux), which sees everything, PyTorch's own allocations
    included, but is coarse (pages, and whatever the C allocator keeps); None where it
    cannot be measured.
    ``traced``: the peak of the memory traced by ``tracemalloc`` over the same span (NumPy
    reports its array buffers to it, and Python objects are traced too): the weights,
    gradients, optimiser state, saved activations, graph objects and temporaries; the
    input data, made before tracing starts, is not counted.  Meaningless for PyTorch,
    whose tensors are not allocated by NumPy.
    """
    import gc
    import tracemalloc

    w = {**MODEL_WORKLOADS, **WORKLOADS}[workload]
    step, _ = IMPLS[impl](make_problem(w))
    for _ in range(2):
        step()
    del step, _
    gc.collect()
    _trim_heap()
    problem = make_problem(w)
    rss0 = _rss_reset()
    step, _ = IMPLS[impl](problem)
    for _ in range(warmup + steps):
        step()
    peak = _proc_status("VmHWM")
    rss = peak - rss0 if rss0 is not None and peak is not None else None
    del step, _
    gc.collect()
    problem = make_problem(w)
    tracemalloc.start()
    step, _ = IMPLS[impl](problem)
    for _ in range(warmup + steps):
        step()
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"traced": traced, "rss": rss}


def _serve(impl: str, threads: int) -> int:
    worker = _Worker(impl, threads)
    out = sys.stdout
    print(TAG + json.dumps({"ready": True}), file=out, flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        cmd = req.pop("cmd")
        if cmd == "quit":
            break
        try:
            result = getattr(worker, cmd)(**req)
            reply = {"ok": True, **result}
        except Exception as exc:  # reported to the parent, which names the implementation
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        print(TAG + json.dumps(reply), file=out, flush=True)
    return 0


def main(argv: list[str], prog: str = "python -m tinygrad_bp.commands._bench_impls") -> int:
    """``IMPL --threads N`` serves requests; ``IMPL --memory WORKLOAD`` measures and exits."""
    import argparse

    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("impl", choices=sorted(IMPLS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--memory", metavar="WORKLOAD", choices=sorted(WORKLOADS))
    args = parser.parse_args(argv)
    if args.memory:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=args.threads):
            if args.impl in SET_THREADS:
                SET_THREADS[args.impl](args.threads)
            result = measure_memory(args.impl, args.memory)
        print(TAG + json.dumps({"ok": True, **result}), flush=True)
        return 0
    return _serve(args.impl, args.threads)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
