"""``tinygrad-bp compare``: the engine's gradients against the tutorial's hand-written ones
and against finite differences.

For each task (classification on Iris, regression on :func:`tinygrad_bp.data.make_regression`)
and each hidden activation, the same network is built twice with identical weights, the
engine's (:func:`tinygrad_bp.nn.mlp`) and the hand-written one
(:class:`tinygrad_bp.reference.Network`), and fed the same batch.  Reported per layer and
parameter:

- ``|eng-ref|``: max |engine − hand-written| of ∂L/∂W and ∂L/∂b;
- ``|eng-fd|``, ``rel``: max |engine − finite differences|, and that divided by the largest
  |finite-difference gradient| of the parameter.  The finite differences are taken on a
  float64 copy of the engine's network, for *every* parameter, with the fourth-order
  central stencil ``[8(f(θ+h) − f(θ−h)) − (f(θ+2h) − f(θ−2h))] / 12h`` (error ``O(h⁴)``
  plus round-off ``≈ ε·|L|/h``, about 1e-12 at the default ``h = 1e-3``).  ReLU makes the
  loss kinked where a pre-activation crosses 0: there a one-sided fourth-order stencil on
  a kink-free side is used, or the step is shrunk; an element that sits exactly on a kink
  (a pre-activation exactly 0, e.g. a unit whose inputs are all 0 and whose bias is 0) has
  no derivative and is counted, not compared.

Then the intermediate gradients both ways: the engine's ∂L/∂a and ∂L/∂x carry the batch
mean's 1/N, the tutorial's are per sample; the factor between them is N.  And, in numbers,
what the tutorial's own order (each layer updates W before returning ``∂L/∂a · Wᵀ``) does
to the lower layers' gradients at learning rate ``lr``, and how far the tutorial's
``(N, in, out)`` broadcast ∂L/∂W is from ``xᵀ·∂L/∂a / N``.

The check fails (exit status 1) when a difference exceeds the tolerance: 1e-10 in
float64, 1e-5 in float32 (single-precision rounding summed over a batch).  For the finite
differences the stencil's own round-off bound is added to it, which matters only where a
ReLU kink forced a small step.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import functional as F
from .. import nn
from ..autograd import no_grad
from ..data import load_iris, make_regression, standardize
from ..reference import HIDDEN_ACTIVATIONS, Network
from ..tensor import Tensor
from ._output import seed_type
from .compare_layers import LAYERS, compare_layers, format_layers_report
from .compare_layers import summary as layers_summary

__all__ = [
    "TASKS",
    "TOLERANCE",
    "compare",
    "format_report",
    "parse_hidden",
    "configure",
    "main",
    "CompareResult",
    "Trained",
]

TASKS = ("classify", "regress")
TOLERANCE = {"float64": 1e-10, "float32": 1e-5}
N_CLASSES = 3  # Iris
N_TARGETS = 3  # make_regression
N_FEATURES = 4


def parse_hidden(text: str | Sequence[int]) -> tuple[int, ...]:
    """``"10,5"`` → ``(10, 5)``; ``""`` (or ``"none"``) → ``()``, the single output layer.

    Examples
    --------
    >>> parse_hidden("10,5"), parse_hidden("")
    ((10, 5), ())
    """
    if not isinstance(text, str):
        sizes = tuple(text)
    else:
        t = text.strip()
        if t.lower() in ("", "none"):
            return ()
        parts = [p.strip() for p in t.split(",")]
        sizes = []
        for p in parts:
            try:
                sizes.append(int(p))
            except ValueError:
                raise ValueError(
                    f"hidden sizes: expected comma-separated positive integers such as "
                    f"'10,5', got {text!r}"
                ) from None
        sizes = tuple(sizes)
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s <= 0:
            raise ValueError(f"hidden sizes: each must be a positive integer, got {text!r}")
    return tuple(int(s) for s in sizes)


# ---------------------------------------------------------------------- results
@dataclass
class ParamRow:
    """One parameter of one network: the three gradients' differences."""

    task: str
    activation: str
    name: str  # "0.W"
    shape: tuple[int, ...]
    grad_max: float  # max |engine gradient|
    ref_diff: float  # max |engine - hand-written|
    fd_diff: float  # max |engine - finite differences|
    fd_rel: float  # fd_diff / max |finite differences|
    fd_bound: float  # largest round-off bound of the stencils used
    fd_over: int  # elements with |engine - fd| > tolerance + their round-off bound
    fd_one_sided: int  # elements differenced one-sided to avoid a ReLU kink
    fd_shrunk: int  # elements whose step was shrunk to avoid a ReLU kink
    fd_kinks: int  # elements sitting on a kink (not differentiable): not compared


@dataclass
class IntermediateRow:
    """∂L/∂a or ∂L/∂x of one layer: the engine's (with 1/N) vs the tutorial's (per sample)."""

    task: str
    activation: str
    layer: int
    quantity: str  # "dL/da" or "dL/dx"
    engine_max: float
    reference_max: float
    factor: float  # ‖reference‖ / ‖engine‖, N up to rounding
    diff: float  # max |N·engine - reference|


@dataclass
class OrderRow:
    """How the tutorial's update-before-propagate order changes one parameter gradient."""

    task: str
    activation: str
    name: str
    rel_change: float  # ‖g_tutorial − g‖ / ‖g‖
    max_change: float  # max |g_tutorial − g|


@dataclass
class CompareResult:
    """Everything :func:`compare` measured; ``ok`` says whether the check passed."""

    settings: dict[str, Any]
    tolerance: float
    params: list[ParamRow] = field(default_factory=list)
    intermediates: list[IntermediateRow] = field(default_factory=list)
    order: list[OrderRow] = field(default_factory=list)
    broadcast_diff: dict[tuple[str, str], float] = field(default_factory=dict)
    losses: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)

    @property
    def max_ref_diff(self) -> float:
        return max((r.ref_diff for r in self.params), default=0.0)

    @property
    def max_fd_diff(self) -> float:
        return max((r.fd_diff for r in self.params), default=0.0)

    @property
    def max_fd_rel(self) -> float:
        return max((r.fd_rel for r in self.params), default=0.0)

    @property
    def max_intermediate_diff(self) -> float:
        return max((r.diff for r in self.intermediates), default=0.0)

    @property
    def max_loss_diff(self) -> float:
        return max((abs(a - b) for a, b in self.losses.values()), default=0.0)

    @property
    def failures(self) -> list[str]:
        tol = self.tolerance
        out = []
        for r in self.params:
            if not r.ref_diff <= tol:
                out.append(
                    f"{r.task}/{r.activation} {r.name}: |engine - hand-written| {r.ref_diff:.3g}"
                )
            if r.fd_over:
                out.append(
                    f"{r.task}/{r.activation} {r.name}: {r.fd_over} element(s) with "
                    f"|engine - finite diff| above {tol:g} + round-off (max {r.fd_diff:.3g})"
                )
        for r in self.intermediates:
            if not r.diff <= tol:
                out.append(
                    f"{r.task}/{r.activation} layer {r.layer} {r.quantity}: "
                    f"|N*engine - hand-written| {r.diff:.3g}"
                )
        for (task, act), (le, lr_) in self.losses.items():
            if not abs(le - lr_) <= tol:
                out.append(f"{task}/{act} loss: |engine - hand-written| {abs(le - lr_):.3g}")
        return out

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> dict[str, Any]:
        """The maxima as plain numbers (for JSON)."""
        return {
            "ok": self.ok,
            "tolerance": self.tolerance,
            "max_abs_engine_minus_handwritten": self.max_ref_diff,
            "max_abs_engine_minus_finite_differences": self.max_fd_diff,
            "max_rel_engine_minus_finite_differences": self.max_fd_rel,
            "max_abs_intermediate_N_engine_minus_handwritten": self.max_intermediate_diff,
            "max_rel_change_tutorial_order_lower_layers": max(
                (r.rel_change for r in self.order), default=0.0
            ),
            "settings": self.settings,
        }


@dataclass
class Trained:
    """A trained network for :func:`compare` to check instead of a freshly initialised
    one: its weights (``state``, by dotted name) and the rows it was trained on."""

    state: dict[str, np.ndarray]
    X: np.ndarray
    y: np.ndarray
    description: str = "the training rows"


# ---------------------------------------------------------------------- the two networks
def _batch(task: str, batch_size: int, seed: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    if task == "classify":
        X, y = load_iris()
        Z, _, _ = standardize(X)  # the notebook standardised the whole set
        if not 1 <= batch_size <= len(Z):
            raise ValueError(
                f"compare: --batch-size must be between 1 and {len(Z)} (the Iris rows), "
                f"got {batch_size}"
            )
        idx = np.random.default_rng(seed).permutation(len(Z))[:batch_size]
        return Z[idx].astype(dtype), y[idx]
    if batch_size < 1:
        raise ValueError(f"compare: --batch-size must be positive, got {batch_size}")
    X, Y = make_regression(batch_size, seed=seed)
    return X.astype(dtype), Y.astype(dtype)


def _loss(task: str, out: Tensor, target: Any) -> Tensor:
    return F.cross_entropy(out, target) if task == "classify" else F.half_squared_error(out, target)


def _engine_pass(model: nn.Sequential, x: np.ndarray, target: Any, task: str):
    """Forward keeping every ∂L/∂a and ∂L/∂x; returns (loss, {name: grad}, a_grads, x_grads)."""
    model.zero_grad()
    xt = Tensor(x, requires_grad=True)
    inputs, pre = [xt], []
    h = xt
    for layer in model:
        h = layer(h)
        a = h.parents[0] if layer.activation is not None else h  # h = act(a) or h = a
        if a.op != "add" or a.shape != h.shape:  # Dense's graph is matmul -> add -> act
            raise RuntimeError(
                f"compare: expected Dense to build matmul -> add -> {layer.activation}, "
                f"found {a.op} -> {h.op}; cannot read its pre-activation gradient"
            )
        a.retain_grad()
        pre.append(a)
        h.retain_grad()
        inputs.append(h)
    loss = _loss(task, h, target)
    loss.backward()
    grads = {n: p.grad.copy() for n, p in model.named_parameters()}
    a_grads = [a.grad for a in pre]
    x_grads = [t.grad for t in inputs[:-1]]  # the gradient reaching each layer's input
    return float(loss.data), grads, a_grads, x_grads


# Fourth-order stencils for f'(θ): offsets (in steps h) and weights (divide by 12h).
_CENTRAL = ((1, 8.0), (-1, -8.0), (2, -1.0), (-2, 1.0))
_FORWARD = ((0, -25.0), (1, 48.0), (2, -36.0), (3, 16.0), (4, -3.0))
_BACKWARD = tuple((-m, -c) for m, c in _FORWARD)
_SHRINKS = 4  # a step is divided by 4 at most this many times


@dataclass
class _FD:
    grads: dict[str, np.ndarray]
    bound: dict[str, np.ndarray]  # per element: round-off bound of the stencil used
    kink: dict[str, np.ndarray]  # per element: True where every step straddles a kink
    one_sided: dict[str, int]
    shrunk: dict[str, int]


def _finite_differences(
    model: nn.Sequential, x: np.ndarray, target: Any, task: str, step: float
) -> _FD:
    """Fourth-order finite differences of the engine's loss for every parameter (float64).

    Smooth activations use the central stencil.  With ReLU the loss has kinks where a
    pre-activation crosses 0; a stencil is used only if none of its points changes the
    sign pattern of the pre-activations: the central one, else a one-sided one on a side
    free of kinks, else the step is divided by 4 (up to ``_SHRINKS`` times).  An element
    whose every step straddles a kink sits on one (a pre-activation exactly 0): the
    derivative is not defined there, and it is reported, not compared.  Each element also
    gets the stencil's round-off bound ``Σ|c|/12 · ε · max|f| / h``.
    """
    relu = any(layer.activation == "relu" for layer in model)
    xt = Tensor(x)
    eps = float(np.finfo(np.float64).eps)

    def f() -> tuple[float, list[np.ndarray]]:
        with no_grad():
            h, signs = xt, []
            for layer in model:
                if layer.activation == "relu":  # Dense.forward's ops, keeping the pre-activation
                    a = h @ layer.W + layer.b
                    signs.append(np.sign(a.data))
                    h = F.relu(a)
                else:
                    h = layer(h)
            return float(_loss(task, h, target).data), signs

    f0, s0 = f()

    def at(flat: np.ndarray, k: int, value: float) -> tuple[float, bool]:
        """The loss with ``flat[k] = value``, and whether no kink lies in between."""
        orig = flat[k]
        flat[k] = value
        try:
            v, signs = f()
        finally:
            flat[k] = orig
        return v, all(np.array_equal(a, b) for a, b in zip(signs, s0))

    def difference(flat: np.ndarray, k: int) -> tuple[float, float, tuple, float] | None:
        """(derivative, round-off bound, stencil, step), or None on a kink."""
        h = step
        for _ in range(_SHRINKS + 1):
            cache: dict[int, tuple[float, bool]] = {0: (f0, True)}
            for stencil in (_CENTRAL, _FORWARD, _BACKWARD) if relu else (_CENTRAL,):
                for m, _ in stencil:
                    if m not in cache:
                        cache[m] = at(flat, k, flat[k] + m * h)
                if all(cache[m][1] for m, _ in stencil):
                    vals = [cache[m][0] for m, _ in stencil]
                    d = sum(c * v for (_, c), v in zip(stencil, vals)) / (12 * h)
                    weight = sum(abs(c) for _, c in stencil) / 12
                    return d, weight * eps * max(abs(v) for v in vals) / h, stencil, h
            h /= 4
        return None

    out = _FD({}, {}, {}, {}, {})
    for name, p in model.named_parameters():
        flat = p.data.reshape(-1)  # a view: writing it perturbs the parameter
        g = np.zeros(flat.size)
        bound = np.zeros(flat.size)
        kink = np.zeros(flat.size, dtype=bool)
        n_one = n_shrunk = 0
        for k in range(flat.size):
            found = difference(flat, k)
            if found is None:  # on a kink: report, do not compare
                kink[k] = True
                continue
            g[k], bound[k], stencil, h = found
            n_one += stencil is not _CENTRAL
            n_shrunk += h != step
        out.grads[name] = g.reshape(p.data.shape)
        out.bound[name] = bound.reshape(p.data.shape)
        out.kink[name] = kink.reshape(p.data.shape)
        out.one_sided[name] = n_one
        out.shrunk[name] = n_shrunk
    return out


def _max_abs(a: np.ndarray) -> float:
    return float(np.max(np.abs(a))) if a.size else 0.0


def _compare_one(
    result: CompareResult,
    task: str,
    activation: str,
    sizes: list[int],
    batch_size: int,
    seed: int,
    dtype: np.dtype,
    init: str,
    lr: float,
    fd_step: float,
    trained: Trained | None = None,
) -> None:
    if trained is None:
        x, target = _batch(task, batch_size, seed, dtype)
    else:  # the trained network's own rows, a seeded sample of them
        idx = np.random.default_rng(seed).permutation(len(trained.X))[:batch_size]
        x = trained.X[idx].astype(dtype)
        target = trained.y[idx] if task == "classify" else trained.y[idx].astype(dtype)
    n = x.shape[0]
    model = nn.mlp(sizes, activation=activation, init=init, rng=seed, dtype=dtype)
    if trained is not None:
        model.load_state_dict(trained.state)
    output = "softmax" if task == "classify" else "linear"
    state = {k: v.copy() for k, v in model.state_dict().items()}

    def reference() -> Network:
        net = Network.from_sizes(sizes, activation, output, rng=0, dtype=dtype)
        net.load_state_dict(state)
        return net

    # engine
    eng_loss, eng, eng_a, eng_x = _engine_pass(model, x, target, task)

    # hand-written, correct order
    ref_net = reference()
    ref_net.forward(x)
    ref_loss = ref_net.loss(target)
    ref_net.backward(target)
    ref = ref_net.gradients()
    result.losses[(task, activation)] = (eng_loss, ref_loss)

    # finite differences on a float64 copy of the engine's network
    model64 = nn.mlp(sizes, activation=activation, init=init, rng=seed, dtype=np.float64)
    model64.load_state_dict({k: v.astype(np.float64) for k, v in state.items()})
    fd = _finite_differences(model64, x.astype(np.float64), target, task, fd_step)

    for name, g in eng.items():
        ok = ~fd.kink[name]
        dev = np.abs(g - fd.grads[name])[ok]
        d_fd = float(dev.max()) if dev.size else 0.0
        scale = _max_abs(fd.grads[name][ok])
        allowed = result.tolerance + fd.bound[name][ok]
        result.params.append(
            ParamRow(
                task,
                activation,
                name,
                g.shape,
                grad_max=_max_abs(g),
                ref_diff=_max_abs(g - ref[name]),
                fd_diff=d_fd,
                fd_rel=d_fd / scale if scale > 0 else (0.0 if d_fd == 0 else math.inf),
                fd_bound=float(fd.bound[name].max()),
                fd_over=int((dev > allowed).sum()),
                fd_one_sided=fd.one_sided[name],
                fd_shrunk=fd.shrunk[name],
                fd_kinks=int(fd.kink[name].sum()),
            )
        )

    # intermediate gradients: engine (with 1/N) against per-sample hand-written
    for i, layer in enumerate(ref_net.layers):
        for quantity, e, r in (
            ("dL/da", eng_a[i], layer.a_grad),
            ("dL/dx", eng_x[i], layer.x_grad),
        ):
            ne, nr = float(np.linalg.norm(e)), float(np.linalg.norm(r))
            result.intermediates.append(
                IntermediateRow(
                    task,
                    activation,
                    i,
                    quantity,
                    engine_max=_max_abs(e),
                    reference_max=_max_abs(r),
                    factor=nr / ne if ne > 0 else math.nan,
                    diff=_max_abs(n * e.astype(np.float64) - r.astype(np.float64)),
                )
            )

    # the tutorial's broadcast dW
    bnet = reference()
    bnet.forward(x)
    bnet.backward(target, wgrad="broadcast")
    result.broadcast_diff[(task, activation)] = max(
        _max_abs(bnet.layers[i].W_grad - ref_net.layers[i].W_grad) for i in range(len(sizes) - 1)
    )

    # the tutorial's order: update W before propagating through it
    tnet = reference()
    tnet.forward(x)
    tnet.backward(target, order="tutorial", lr=lr)
    for i, (lt, lc) in enumerate(zip(tnet.layers, ref_net.layers)):
        for pname, gt, gc in (("W", lt.W_grad, lc.W_grad), ("b", lt.b_grad, lc.b_grad)):
            norm = float(np.linalg.norm(gc))
            diff = float(np.linalg.norm(gt - gc))
            result.order.append(
                OrderRow(
                    task,
                    activation,
                    f"{i}.{pname}",
                    rel_change=diff / norm if norm > 0 else (0.0 if diff == 0 else math.inf),
                    max_change=_max_abs(gt - gc),
                )
            )


def compare(
    hidden: Sequence[int] | str = (10, 5),
    activations: Sequence[str] | str = HIDDEN_ACTIVATIONS,
    tasks: Sequence[str] | str = TASKS,
    batch_size: int = 150,
    seed: int = 0,
    dtype: Any = "float64",
    init: str = "tutorial",
    lr: float = 0.01,
    fd_step: float = 1e-3,
    trained: Trained | None = None,
) -> CompareResult:
    """Build the engine's and the hand-written network with the same weights and batch,
    and measure every difference described in the module docstring.

    ``hidden`` are the hidden sizes between the 4 inputs and the 3 outputs (the default is
    the tutorial's 4-10-5-3); ``lr`` is the learning rate used to show the effect of the
    tutorial's update-before-propagate order.  Returns a :class:`CompareResult`; its
    ``ok`` is False when a difference exceeds the dtype's tolerance (:data:`TOLERANCE`).

    With ``trained`` (a :class:`Trained`), the network checked is that one: its sizes come
    from its weights (any number of inputs and outputs), its weights are the trained ones,
    and the batch is drawn from its own rows; ``tasks`` and ``activations`` should then be
    the one it was trained with.

    Examples
    --------
    >>> from tinygrad_bp.commands.compare import compare
    >>> r = compare(hidden=(4,), activations="tanh", tasks="classify", batch_size=8)
    >>> r.ok, r.max_ref_diff < 1e-12
    (True, True)
    """
    hidden = parse_hidden(hidden)
    if isinstance(activations, str):
        activations = (activations,)
    if isinstance(tasks, str):
        tasks = (tasks,)
    for a in activations:
        if a not in HIDDEN_ACTIVATIONS:
            raise ValueError(
                f"compare: unknown activation {a!r}; expected one of {HIDDEN_ACTIVATIONS}"
            )
    for t in tasks:
        if t not in TASKS:
            raise ValueError(f"compare: unknown task {t!r}; expected one of {TASKS}")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"compare: unknown dtype {dtype!r}; expected float64 or float32") from None
    if dt.name not in TOLERANCE:
        raise ValueError(f"compare: dtype must be float64 or float32, got {dt}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"compare: batch_size must be an int, got {batch_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"compare: seed must be a non-negative integer, got {seed!r}")
    if init not in nn.INITS:
        raise ValueError(f"compare: unknown init {init!r}; expected one of {nn.INITS}")
    if not (isinstance(fd_step, (int, float)) and fd_step > 0):
        raise ValueError(f"compare: fd_step must be a positive number, got {fd_step!r}")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"compare: lr must be a positive number, got {lr!r}")
    settings = {
        "hidden": list(hidden),
        "activations": list(activations),
        "tasks": list(tasks),
        "batch_size": int(batch_size),
        "seed": int(seed),
        "dtype": dt.name,
        "init": init,
        "lr": float(lr),
        "fd_step": float(fd_step),
    }
    if not hidden:  # no hidden layer, no activation: one network per task
        activations = tuple(activations[:1])
        settings["activations"] = list(activations)
    sizes_of: dict[str, list[int]] = {}
    data_of: dict[str, str] = {}
    for task in tasks:
        if trained is None:
            out = N_CLASSES if task == "classify" else N_TARGETS
            sizes_of[task] = [N_FEATURES, *hidden, out]
            data_of[task] = "Iris (standardised)" if task == "classify" else "make_regression"
        else:
            n_layers = len(hidden) + 1
            shapes = [trained.state.get(f"{i}.W", np.zeros((0, 0))).shape for i in range(n_layers)]
            sizes = [shapes[0][0], *[w[1] for w in shapes]]
            if sizes[1:-1] != list(hidden) or len(trained.state) != 2 * n_layers:
                raise ValueError(
                    f"compare: the trained weights ({sorted(trained.state)}) are not a "
                    f"network with hidden sizes {list(hidden)}"
                )
            if not 1 <= batch_size:
                raise ValueError(f"compare: --batch-size must be positive, got {batch_size}")
            sizes_of[task] = sizes
            data_of[task] = trained.description
    settings["sizes"] = sizes_of
    settings["data"] = data_of
    settings["weights"] = "trained" if trained is not None else f"init {init}"
    if trained is not None:
        settings["batch_size"] = min(int(batch_size), len(trained.X))
    result = CompareResult(settings=settings, tolerance=TOLERANCE[dt.name])
    for task in tasks:
        for act in activations:
            _compare_one(
                result, task, act, sizes_of[task], settings["batch_size"], int(seed), dt, init,
                lr, fd_step, trained,
            )  # fmt: skip
    return result


# ---------------------------------------------------------------------- report
def _e(v: float) -> str:
    return f"{v:9.2e}"


def format_report(result: CompareResult) -> str:
    """The tables, as printed by ``tinygrad-bp compare``."""
    s = result.settings
    tasks, acts = s["tasks"], s["activations"]
    lines = []
    for task in tasks:
        shape = "-".join(str(v) for v in s["sizes"][task])
        data = s["data"][task]
        loss = "mean cross-entropy" if task == "classify" else "mean of 1/2 squared error"
        for act in acts:
            le, lr_ = result.losses[(task, act)]
            hid = f"hidden {act}" if s["hidden"] else "no hidden layer"
            lines.append(
                f"== {task}: {shape}, {hid}, {loss}, batch {s['batch_size']} of "
                f"{data}, {s['dtype']}, seed {s['seed']}, "
                + ("trained weights" if s["weights"] == "trained" else f"init {s['init']}")
            )
            lines.append(
                f"   loss: engine {le:.12g}, hand-written {lr_:.12g} (|diff| {abs(le - lr_):.2e})"
            )
            relu = act == "relu" and s["hidden"]
            lines.append(
                "   param  shape      max|grad|  |eng-ref|   |eng-fd|   rel(fd)"
                + ("   fd: 1-sided shrunk on-kink" if relu else "")
            )
            for r in result.params:
                if r.task == task and r.activation == act:
                    lines.append(
                        f"   {r.name:<6} {str(r.shape):<10} {_e(r.grad_max)} {_e(r.ref_diff)} "
                        f"{_e(r.fd_diff)} {_e(r.fd_rel)}"
                        + (
                            f"   {r.fd_one_sided:7d} {r.fd_shrunk:6d} {r.fd_kinks:7d}"
                            if relu
                            else ""
                        )
                    )
            lines.append(
                "   intermediate gradients: engine's carry 1/N, hand-written are per sample"
            )
            lines.append("   layer  grad    max|engine|  max|hand|   factor  |N*eng-hand|")
            for r in result.intermediates:
                if r.task == task and r.activation == act:
                    lines.append(
                        f"   {r.layer:<6} {r.quantity:<6} {_e(r.engine_max)}   "
                        f"{_e(r.reference_max)} {r.factor:8.3f}  {_e(r.diff)}"
                    )
            lines.append(
                f"   tutorial's order (W updated before dL/da.W^T is passed down), lr "
                f"{s['lr']:g}: change of each gradient vs the correct order"
            )
            lines.append("   param   rel change  max|change|")
            for r in result.order:
                if r.task == task and r.activation == act:
                    lines.append(f"   {r.name:<7} {_e(r.rel_change)}  {_e(r.max_change)}")
            lines.append(
                "   tutorial's (N, in, out) broadcast dW vs x^T.dL/da/N: max |diff| "
                f"{result.broadcast_diff[(task, act)]:.2e}"
            )
            lines.append("")
    lower = [r for r in result.order if int(r.name.split(".")[0]) < len(s["hidden"])]
    bound = max((r.fd_bound for r in result.params), default=0.0)
    lines.append(f"maxima over {len(tasks)} task(s) x {len(acts)} activation(s), {s['dtype']}:")
    lines.append(
        f"  tolerance {result.tolerance:g}; vs finite differences {result.tolerance:g} + the "
        f"stencil's round-off bound (<= {bound:.1e})"
    )
    lines.append(f"  |engine - hand-written| parameter gradients   {result.max_ref_diff:.2e}")
    lines.append(f"  |engine - finite differences|                 {result.max_fd_diff:.2e}")
    lines.append(f"  |engine - finite differences| / max|fd|       {result.max_fd_rel:.2e}")
    lines.append(
        f"  |N*engine - hand-written| intermediates       {result.max_intermediate_diff:.2e}"
    )
    lines.append(f"  |engine - hand-written| loss                  {result.max_loss_diff:.2e}")
    if lower:
        worst = max(lower, key=lambda r: r.rel_change)
        lines.append(
            f"  tutorial's order moves lower layers' gradients by up to "
            f"{worst.rel_change:.2e} (relative; {worst.task}/{worst.activation} {worst.name})"
        )
    if result.ok:
        lines.append("OK: every difference is within the tolerance")
    else:
        lines.append(
            f"FAIL: {len(result.failures)} difference(s) above the tolerance "
            f"({result.tolerance:g}, plus the round-off bound against finite differences):"
        )
        lines.extend("  " + f for f in result.failures)
    return "\n".join(lines)


# ---------------------------------------------------------------------- command line
def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``tinygrad-bp compare``."""
    parser.epilog = (
        "Exit status: 0 when every difference is within the tolerance, 1 when one is not, "
        "2 on bad input."
    )
    parser.add_argument(
        "--hidden",
        default="10,5",
        help="hidden layer sizes between the 4 inputs and 3 outputs, e.g. '10,5' (the "
        "tutorial's 4-10-5-3, default) or '' for the single output layer",
    )
    parser.add_argument(
        "--activation",
        default="all",
        choices=[*HIDDEN_ACTIVATIONS, "all"],
        help="hidden activation to check (default: all of them)",
    )
    parser.add_argument(
        "--task", default="all", choices=[*TASKS, "all"], help="task to check (default: both)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=150, help="rows in the batch (default 150)"
    )
    parser.add_argument(
        "--seed", type=seed_type, default=0, help="seed of weights and batch (default 0)"
    )
    parser.add_argument(
        "--dtype",
        default="float64",
        choices=sorted(TOLERANCE),
        help="float64 (tolerance 1e-10, default) or float32 (tolerance 1e-5)",
    )
    parser.add_argument(
        "--init", default="tutorial", choices=list(nn.INITS), help="weight init (default tutorial)"
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=0.01,
        help="learning rate for showing the tutorial's update order (default 0.01)",
    )
    parser.add_argument(
        "--fd-step", type=float, default=1e-3, help="finite-difference step (default 1e-3)"
    )
    parser.add_argument(
        "--layer",
        default=None,
        metavar="NAME",
        help="instead of the tutorial's network, check one layer against its hand-written "
        "twin (tinygrad_bp.reference) and finite differences, float64: "
        + ", ".join(LAYERS)
        + " or all (only --seed and --json apply with it)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the maxima as JSON instead of the tables"
    )


_NETWORK_DEFAULTS = {
    "hidden": "10,5",
    "activation": "all",
    "task": "all",
    "batch_size": 150,
    "dtype": "float64",
    "init": "tutorial",
    "lr": 0.01,
    "fd_step": 1e-3,
}


def main(args: argparse.Namespace) -> int:
    """Run the comparison, print the tables; 0 when every difference is within tolerance."""
    if args.layer is not None:
        if args.layer != "all" and args.layer not in LAYERS:
            raise ValueError(
                f"unknown layer {args.layer!r}; known layers: {', '.join(LAYERS)}, all"
            )
        # the network's options mean nothing for one layer: refuse them, never ignore them
        given = [
            f"--{k.replace('_', '-')} {getattr(args, k)}"
            for k, default in _NETWORK_DEFAULTS.items()
            if getattr(args, k) != default
        ]
        if given:
            raise ValueError(
                f"--layer checks one layer in float64 with its own sizes; "
                f"{', '.join(given)} do(es) not apply (only --seed and --json do)"
            )
        results = compare_layers(args.layer, seed=args.seed)
        if args.json:
            print(json.dumps(layers_summary(results), indent=1))
        else:
            print(format_layers_report(results))
        return 0 if all(r.ok for r in results) else 1
    result = compare(
        hidden=parse_hidden(args.hidden),
        activations=HIDDEN_ACTIVATIONS if args.activation == "all" else args.activation,
        tasks=TASKS if args.task == "all" else args.task,
        batch_size=args.batch_size,
        seed=args.seed,
        dtype=args.dtype,
        init=args.init,
        lr=args.lr,
        fd_step=args.fd_step,
    )
    print(json.dumps(result.summary(), indent=1) if args.json else format_report(result))
    return 0 if result.ok else 1
