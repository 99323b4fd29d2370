"""``tinygrad-bp compare --layer NAME``: one engine layer against its hand-written twin
(:mod:`tinygrad_bp.reference`) and against finite differences, in float64.

Each layer is built both ways with the same weights (the engine's, every parameter redrawn
from a seeded normal so that no bias is a trivial zero, then copied into the hand-written
layer with ``load_state_dict``) and fed the same input.  The scalar checked is a seeded
random projection of the output, ``L = Σ out ⊙ R``, so ``∂L/∂out = R``: the engine's
``L.backward()`` and the hand-written ``backward(R)`` must agree.  Reported for the output,
every parameter and the input (and, for batch norm, the running statistics):

- ``|eng-ref|``: max |engine − hand-written|; must be at most :data:`TOLERANCE` (1e-10);
- ``|eng-fd|``: max |engine − finite differences| of ``L``, taken on the engine's layer
  with the fourth-order *central* stencil ``[8(f(θ+h) − f(θ−h)) − (f(θ+2h) − f(θ−2h))]/12h``,
  ``h =`` :data:`FD_STEP` (5e-4).  Its truncation error is ``h⁴/30·|f⁽⁵⁾|`` (2e-15 times a
  fifth derivative) and its round-off ``(18/12)·ε·max|f|/h`` (about 7e-13·|L|).  The step
  balances the two: at ``h = 1e-3`` the RNN's ``weight_ih`` (tanh over four steps, inputs
  up to about 3, so a large fifth derivative) was off by 2e-10 from truncation alone,
  falling 16-fold per halving of ``h``; at 5e-4 every layer's worst element is below 3e-11.
  The bound applied per element is 1e-10 plus that element's round-off bound (printed).

Where the layer is not smooth the inputs are chosen so that no stencil point crosses a kink:
max pooling gets inputs whose values within any window differ by far more than ``4h`` (a
seeded permutation of a grid), so no perturbation changes which element is the maximum.
Dropout's mask must be the same in both and in every finite-difference evaluation: both
the engine's ``nn.Dropout(p, rng=seed)`` and ``reference.Dropout(p, rng=seed)`` draw it as
``Generator.random(shape) >= p`` from a fresh generator with the same seed, so a shared seed
gives the same mask (checked, not assumed: the masks' difference is a row of the report);
every finite-difference evaluation uses a fresh engine ``Dropout`` with that seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import nn, ops
from .. import reference as ref
from ..autograd import no_grad
from ..tensor import Tensor

__all__ = [
    "LAYERS",
    "TOLERANCE",
    "FD_STEP",
    "Case",
    "LayerResult",
    "build_case",
    "compare_layer",
    "compare_layers",
    "format_layers_report",
]

LAYERS = (
    "conv2d",
    "maxpool2d",
    "avgpool2d",
    "batchnorm",
    "layernorm",
    "dropout",
    "embedding",
    "rnn",
    "lstm",
    "attention",
)
TOLERANCE = 1e-10
FD_STEP = 5e-4
_CENTRAL = ((1, 8.0), (-1, -8.0), (2, -1.0), (-2, 1.0))  # offsets in h, weights / 12h
_EPS = float(np.finfo(np.float64).eps)


@dataclass
class Case:
    """One layer built both ways: how to run each, and what to compare."""

    name: str
    description: str
    engine: nn.Module
    reference: Any
    x: np.ndarray
    engine_forward: Callable[[Tensor], Tensor]  # the output, from the input tensor
    reference_forward: Callable[[np.ndarray], np.ndarray]
    reference_backward: Callable[[np.ndarray], dict[str, np.ndarray]]
    input_grad: bool = True  # False for Embedding's indices
    buffers: tuple[str, ...] = ()  # compared after the forward (batch norm's running stats)
    extra: Callable[[], dict[str, float]] | None = None  # extra |eng-ref| rows (dropout mask)


@dataclass
class Row:
    """One compared quantity of one layer."""

    layer: str
    name: str
    shape: tuple[int, ...]
    grad_max: float
    ref_diff: float
    fd_diff: float | None = None  # None: no finite differences (output, buffers)
    fd_rel: float | None = None
    fd_bound: float = 0.0  # largest round-off bound of the stencil
    fd_over: int = 0  # elements above TOLERANCE + their round-off bound


@dataclass
class LayerResult:
    """The rows of one layer; ``ok`` when every difference is within the tolerance."""

    layer: str
    description: str
    rows: list[Row] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        out = []
        for r in self.rows:
            if not r.ref_diff <= TOLERANCE:
                out.append(f"{r.layer} {r.name}: |engine - hand-written| {r.ref_diff:.3g}")
            if r.fd_over:
                out.append(
                    f"{r.layer} {r.name}: {r.fd_over} element(s) with |engine - finite diff| "
                    f"above {TOLERANCE:g} + round-off (max {r.fd_diff:.3g})"
                )
        return out

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def max_ref_diff(self) -> float:
        return max((r.ref_diff for r in self.rows), default=0.0)

    @property
    def max_fd_diff(self) -> float:
        return max((r.fd_diff for r in self.rows if r.fd_diff is not None), default=0.0)

    @property
    def max_fd_bound(self) -> float:
        return max((r.fd_bound for r in self.rows), default=0.0)


# ---------------------------------------------------------------------- the cases
def _randomize(module: nn.Module, g: np.random.Generator, scale: float = 0.5) -> None:
    """Redraw every parameter so that biases, gains and shifts are not trivial."""
    for _, p in module.named_parameters():
        p.data[...] = g.standard_normal(p.data.shape) * scale


def _sync(case_engine: nn.Module, reference: Any) -> None:
    reference.load_state_dict(dict(case_engine.state_dict()))


def _stack_steps(cell: nn.Module, x: Tensor, lstm: bool) -> Tensor:
    """The cell stepped over ``x (T, N, I)`` from a zero state; every step's ``h``."""
    state: Any = None
    hs = []
    for t in range(x.shape[0]):
        state = cell(x[t], state)
        hs.append(state[0] if lstm else state)
    return ops.stack(hs, 0)


def build_case(name: str, seed: int = 0, **kw: Any) -> Case:
    """The layer ``name`` (one of :data:`LAYERS`) built both ways with the same weights.

    Keyword arguments change the shapes (``n``, ``c``, ``hw``, ``kernel``, ``stride``,
    ``padding``, ``t``, ``features``, ...); the defaults are the command's small sizes.

    Examples
    --------
    >>> c = build_case("conv2d", stride=2, padding=1)
    >>> c.engine
    Conv2d(3, 4, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))
    """
    if name not in LAYERS:
        raise ValueError(f"unknown layer {name!r}; known layers: {', '.join(LAYERS)}, all")
    g = np.random.default_rng(seed)
    f64 = np.float64
    n = kw.get("n", 2)
    if name == "conv2d":
        c_in, c_out = kw.get("c", 3), kw.get("c_out", 4)
        k, s, p = kw.get("kernel", 3), kw.get("stride", 1), kw.get("padding", 1)
        hw = kw.get("hw", (5, 6))
        eng = nn.Conv2d(c_in, c_out, k, stride=s, padding=p, rng=seed, dtype=f64)
        _randomize(eng, g)
        hand = ref.Conv2d(c_in, c_out, k, stride=s, padding=p)
        _sync(eng, hand)
        x = g.standard_normal((n, c_in, *hw))
        desc = f"Conv2d({c_in}, {c_out}, {k}, stride={s}, padding={p}), x {x.shape}"
        return Case(name, desc, eng, hand, x, eng, hand.forward, hand.backward)
    if name in ("maxpool2d", "avgpool2d"):
        c, hw = kw.get("c", 2), kw.get("hw", (6, 6))
        k, s, p = kw.get("kernel", 3), kw.get("stride", 2), kw.get("padding", 1)
        shape = (n, c, *hw)
        if name == "maxpool2d":
            eng = nn.MaxPool2d(k, stride=s, padding=p)
            hand = ref.MaxPool2d(k, stride=s, padding=p)
            # distinct values 0.1 apart: no finite-difference step (at most 2h) changes
            # which element of a window is the maximum
            x = (g.permutation(int(np.prod(shape))).reshape(shape) - np.prod(shape) / 2) * 0.1
        else:
            eng = nn.AvgPool2d(k, stride=s, padding=p)
            hand = ref.AvgPool2d(k, stride=s, padding=p)
            x = g.standard_normal(shape)
        desc = f"{type(eng).__name__}({k}, stride={s}, padding={p}), x {shape}"
        return Case(name, desc, eng, hand, x.astype(f64), eng, hand.forward, hand.backward)
    if name == "batchnorm":
        c, hw = kw.get("c", 3), kw.get("hw", (3, 4))
        eng = nn.BatchNorm2d(c, dtype=f64)
        _randomize(eng, g)
        hand = ref.BatchNorm2d(c)
        _sync(eng, hand)
        x = g.standard_normal((n, c, *hw)) * 2.0 + 0.5
        desc = f"BatchNorm2d({c}), training mode, x {x.shape}"
        return Case(
            name, desc, eng, hand, x, eng, hand.forward, hand.backward,
            buffers=("running_mean", "running_var"),
        )  # fmt: skip
    if name == "layernorm":
        shape = kw.get("shape", (n, 3, 5))
        norm = kw.get("normalized", shape[-1:])
        eng = nn.LayerNorm(norm, dtype=f64)
        _randomize(eng, g)
        hand = ref.LayerNorm(norm)
        _sync(eng, hand)
        x = g.standard_normal(shape) * 2.0 + 0.5
        desc = f"LayerNorm({tuple(norm)}), x {tuple(shape)}"
        return Case(name, desc, eng, hand, x, eng, hand.forward, hand.backward)
    if name == "dropout":
        p, shape, mseed = kw.get("p", 0.5), kw.get("shape", (n, 4, 5)), seed + 1
        eng = nn.Dropout(p, rng=mseed)
        hand = ref.Dropout(p, rng=mseed)
        x = g.standard_normal(shape)

        def eng_fwd(xt: Tensor) -> Tensor:
            # a fresh generator with the shared seed each call: the same mask every time
            return nn.Dropout(p, rng=mseed)(xt)

        def mask_diff() -> dict[str, float]:
            with no_grad():
                e_mask = eng_fwd(Tensor(np.ones(shape))).data
            # the kept positions (booleans) both ways: 0 when the masks are the same
            return {"mask: # differ": float(np.sum((e_mask != 0) != hand.mask))}

        desc = f"Dropout({p}), mask from the shared seed {mseed} (rng=), x {shape}"
        return Case(name, desc, eng, hand, x, eng_fwd, hand.forward, hand.backward, extra=mask_diff)
    if name == "embedding":
        num, dim = kw.get("num", 7), kw.get("dim", 4)
        eng = nn.Embedding(num, dim, rng=seed, dtype=f64)
        hand = ref.Embedding(num, dim)
        _sync(eng, hand)
        idx = g.integers(0, num, size=kw.get("shape", (n, 5)))
        idx[0, :2] = 1  # a repeated index: its gradient rows must add up
        desc = f"Embedding({num}, {dim}), indices {idx.shape}"
        return Case(name, desc, eng, hand, idx, eng, hand.forward, hand.backward, input_grad=False)
    if name in ("rnn", "lstm"):
        t, i, h = kw.get("t", 4), kw.get("input_size", 3), kw.get("hidden", 4)
        lstm = name == "lstm"
        eng = (nn.LSTMCell if lstm else nn.RNNCell)(i, h, rng=seed, dtype=f64)
        _randomize(eng, g)
        hand = ref.Unroll((ref.LSTMCell if lstm else ref.RNNCell)(i, h))
        hand.cell.load_state_dict(dict(eng.state_dict()))
        x = g.standard_normal((t, n, i))
        desc = (
            f"{type(eng).__name__}({i}, {h}) over T={t} steps from zero (BPTT), "
            f"out: each h, x {x.shape}"
        )
        return Case(
            name, desc, eng, hand, x,
            lambda xt: _stack_steps(eng, xt, lstm),
            lambda xs: hand.forward(xs)[0],
            hand.backward,
        )  # fmt: skip
    # attention
    t, e = kw.get("t", 4), kw.get("embed", 4)
    eng = nn.MultiheadAttention(e, 1, batch_first=True, rng=seed, dtype=f64)
    _randomize(eng, g)
    hand = ref.CausalSelfAttention(e)
    _sync(eng, hand)
    x = g.standard_normal((n, t, e))
    causal = np.triu(np.ones((t, t), dtype=bool), k=1)  # True: not allowed (the future)

    def att_fwd(xt: Tensor) -> Tensor:
        return eng(xt, xt, xt, attn_mask=causal, need_weights=False)[0]

    desc = f"MultiheadAttention({e}, 1, batch_first=True), causal mask, x {x.shape}"
    return Case(name, desc, eng, hand, x, att_fwd, hand.forward, hand.backward)


# ---------------------------------------------------------------------- the comparison
def _max_abs(a: np.ndarray) -> float:
    return float(np.max(np.abs(a))) if np.size(a) else 0.0


def _finite_differences(
    f: Callable[[], float], flat: np.ndarray, step: float
) -> tuple[np.ndarray, np.ndarray]:
    """Central fourth-order differences of ``f`` for every element of ``flat`` (a view that
    ``f`` reads), and each element's round-off bound."""
    grad = np.zeros(flat.size)
    bound = np.zeros(flat.size)
    for k in range(flat.size):
        orig = flat[k]
        vals = []
        try:
            for m, _ in _CENTRAL:
                flat[k] = orig + m * step
                vals.append(f())
        finally:
            flat[k] = orig
        grad[k] = sum(c * v for (_, c), v in zip(_CENTRAL, vals)) / (12 * step)
        bound[k] = 18.0 / 12.0 * _EPS * max(abs(v) for v in vals) / step
    return grad, bound


def compare_layer(
    name: str, seed: int = 0, fd: bool = True, step: float = FD_STEP, **kw: Any
) -> LayerResult:
    """Build the layer both ways (:func:`build_case`) and measure every difference.

    ``fd=False`` skips the finite differences (the tests' fast path).

    Examples
    --------
    >>> r = compare_layer("avgpool2d")
    >>> r.ok, r.max_ref_diff < 1e-12
    (True, True)
    """
    case = build_case(name, seed, **kw)
    g = np.random.default_rng(seed + 1000)
    # the engine: L = Σ out ⊙ R
    xt = Tensor(case.x, requires_grad=case.input_grad) if case.input_grad else case.x
    case.engine.zero_grad()
    out = case.engine_forward(xt)
    R = g.standard_normal(out.shape)
    (out * Tensor(R)).sum().backward()
    eng_grads = {pn: p.grad.copy() for pn, p in case.engine.named_parameters()}
    if case.input_grad:
        eng_grads = {"x": xt.grad.copy(), **eng_grads}
    eng_buffers = {b: dict(case.engine.state_dict())[b] for b in case.buffers}
    # the hand-written layer: backward(R)
    ref_out = case.reference_forward(case.x)
    ref_grads = case.reference_backward(R)
    result = LayerResult(name, case.description)
    result.rows.append(
        Row(name, "output", out.shape, _max_abs(out.data), _max_abs(out.data - ref_out))
    )
    for b in case.buffers:
        hb = getattr(case.reference, b)
        result.rows.append(Row(name, b, hb.shape, _max_abs(hb), _max_abs(eng_buffers[b] - hb)))
    if case.extra is not None:
        for k, v in case.extra().items():
            result.rows.append(Row(name, k, case.x.shape, v, v))

    def f() -> float:
        with no_grad():
            return float(np.sum(case.engine_forward(Tensor(case.x)).data * R))

    params = dict(case.engine.named_parameters())
    for qname, eg in eng_grads.items():
        if qname not in ref_grads:
            raise RuntimeError(
                f"compare: the hand-written {name} returned no gradient for {qname!r} "
                f"(it returned {sorted(ref_grads)})"
            )
        row = Row(name, qname, eg.shape, _max_abs(eg), _max_abs(eg - ref_grads[qname]))
        if fd:
            flat = (case.x if qname == "x" else params[qname].data).reshape(-1)
            gfd, bound = _finite_differences(f, flat, step)
            dev = np.abs(eg.reshape(-1) - gfd)
            scale = _max_abs(gfd)
            row.fd_diff = _max_abs(dev)
            row.fd_rel = (
                row.fd_diff / scale if scale > 0 else (0.0 if row.fd_diff == 0 else math.inf)
            )
            row.fd_bound = float(bound.max()) if bound.size else 0.0
            row.fd_over = int((dev > TOLERANCE + bound).sum())
        result.rows.append(row)
    return result


def compare_layers(names: Sequence[str] | str = "all", seed: int = 0) -> list[LayerResult]:
    """:func:`compare_layer` for each name (``"all"``: every layer of :data:`LAYERS`)."""
    if isinstance(names, str):
        names = LAYERS if names == "all" else (names,)
    for nm in names:
        if nm not in LAYERS:
            raise ValueError(f"unknown layer {nm!r}; known layers: {', '.join(LAYERS)}, all")
    return [compare_layer(nm, seed) for nm in names]


def summary(results: list[LayerResult]) -> dict[str, Any]:
    """Everything as plain numbers, for ``--json``."""
    return {
        "ok": all(r.ok for r in results),
        "tolerance": TOLERANCE,
        "fd_step": FD_STEP,
        "fd_bound": "tolerance + per-element round-off bound 1.5*eps*max|L|/h",
        "layers": {
            r.layer: {
                "ok": r.ok,
                "description": r.description,
                "max_abs_engine_minus_handwritten": r.max_ref_diff,
                "max_abs_engine_minus_finite_differences": r.max_fd_diff,
                "max_fd_roundoff_bound": r.max_fd_bound,
                "rows": [
                    {
                        "name": w.name,
                        "shape": list(w.shape),
                        "max_abs": w.grad_max,
                        "engine_minus_handwritten": w.ref_diff,
                        "engine_minus_finite_differences": w.fd_diff,
                        "relative_to_finite_differences": w.fd_rel,
                    }
                    for w in r.rows
                ],
                "failures": r.failures,
            }
            for r in results
        },
    }


def format_layers_report(results: list[LayerResult]) -> str:
    """The tables printed by ``tinygrad-bp compare --layer``."""

    def e(v: float | None) -> str:
        return f"{'-':>9}" if v is None else f"{v:9.2e}"

    lines = []
    for r in results:
        lines.append(f"== {r.layer}: {r.description}, float64")
        lines.append("   quantity        shape           max|val|  |eng-ref|   |eng-fd|   rel(fd)")
        for w in r.rows:
            lines.append(
                f"   {w.name:<15} {str(w.shape):<15} {e(w.grad_max)} {e(w.ref_diff)} "
                f"{e(w.fd_diff)} {e(w.fd_rel)}"
            )
        lines.append("")
    bound = max((r.max_fd_bound for r in results), default=0.0)
    lines.append(f"tolerance: |engine - hand-written| <= {TOLERANCE:g};")
    lines.append(
        f"  |engine - finite differences| <= {TOLERANCE:g} + the stencil's round-off bound "
        f"(<= {bound:.1e})"
    )
    lines.append(
        f"  finite differences: central, 4th order, h = {FD_STEP:g}, of L = sum(out * R), R seeded"
    )
    lines.append("maxima per layer:        |eng-ref|   |eng-fd|")
    for r in results:
        lines.append(f"  {r.layer:<22} {r.max_ref_diff:9.2e}  {r.max_fd_diff:9.2e}")
    failures = [f for r in results for f in r.failures]
    if not failures:
        lines.append("OK: every difference is within the tolerance")
    else:
        lines.append(f"FAIL: {len(failures)} difference(s) above the tolerance:")
        lines.extend("  " + f for f in failures)
    return "\n".join(lines)
