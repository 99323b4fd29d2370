"""``check.layer`` and ``check.functions``: the learner's forward and backward against the
engine twin and finite differences, each wrong gradient pointed at and, where a known slip
explains it, explained."""

from __future__ import annotations

import copy
import inspect
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..autograd import grad as _grad
from ..tensor import Tensor
from . import _engines
from ._learner import as_result, call
from ._report import CheckReport, Row, mark_lines

FD_EPS = 1e-6
TOL_ENGINE = (1e-8, 1e-6)  # atol, rtol against max|right|
TOL_FD = (1e-6, 1e-4)


def _tol(right: np.ndarray, tol: tuple[float, float]) -> float:
    return tol[0] + tol[1] * float(np.abs(right).max(initial=0.0))


def close(a: np.ndarray, b: np.ndarray, tol: tuple[float, float] = TOL_FD) -> bool:
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= _tol(b, tol)))


def _swap(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2) if a.ndim >= 2 else a


def _index(a: np.ndarray, flat: int) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, a.shape)) if a.ndim else ()


# ====================================================================== the problem
@dataclass
class _Problem:
    """What a check compares, whatever the learner's style.

    ``values``: the differentiable arrays by name (float64), input(s) first;
    ``forward(values)``: the learner's output there (run on fresh copies: deterministic);
    ``grads``: the learner's gradients by name; ``changed``: parameters the learner's
    backward changed (their values after it); ``engine(tensors)``: the twin, or None."""

    title: str
    values: dict[str, np.ndarray]
    labels: dict[str, str]  # name -> the row's name (dx, dW, ...)
    forward: Callable[[dict[str, np.ndarray]], np.ndarray]
    out: np.ndarray
    g: np.ndarray
    grads: dict[str, np.ndarray]
    changed: dict[str, np.ndarray]
    engine: Callable[..., Tensor] | None
    engine_name: str | None
    family: _engines.Family | None
    batch: int
    notes: list[str]
    draw_op: Callable[..., Any] | None = None  # (tensors) -> Tensor: the learner as one op
    inputs: tuple[str, ...] = ("x",)


def _engine_arg(where: str, engine: Any) -> tuple[_engines.Family | None, Any]:
    if engine is None:
        return None, None
    if isinstance(engine, str):
        fam = _engines.FAMILIES.get(engine)
        if fam is None:
            raise ValueError(
                f"{where}: unknown built-in layer {engine!r}; the built-in engine twins are "
                f"{', '.join(map(repr, _engines.NAMES))} (or pass a function of Tensors)"
            )
        return fam, None
    if not callable(engine):
        raise TypeError(
            f"{where}: engine must be a built-in name or a function of Tensors, got "
            f"{type(engine).__name__}"
        )
    return None, engine


def _engine_tensors(values: dict[str, np.ndarray], wrt: bool) -> dict[str, Tensor]:
    return {k: Tensor(v.copy(), requires_grad=wrt, name=k) for k, v in values.items()}


def _engine_grads(
    p: _Problem,
    values: dict[str, np.ndarray],
    g: np.ndarray,
    act: Any = "right",
    extra: dict[str, Any] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The twin's output and its gradients (vector-Jacobian products with ``g``)."""
    assert p.engine is not None
    ts = _engine_tensors(values, True)
    token = _engines.VARIANT.set(act)
    try:
        out = p.engine(ts, **(extra or {}))
    finally:
        _engines.VARIANT.reset(token)
    if not isinstance(out, Tensor):
        raise TypeError(f"{p.title}: the engine twin returned {type(out).__name__}, not a Tensor")
    if out.shape != p.out.shape:
        raise ValueError(
            f"{p.title}: the engine twin's output has shape {out.shape}, your forward's "
            f"{p.out.shape}: they do not compute the same thing"
        )
    names = list(ts)
    if not out.requires_grad:
        return out.data.astype(np.float64), {k: np.zeros_like(values[k]) for k in names}
    gs = _grad(out, [ts[k] for k in names], grad_outputs=g, allow_unused=True)
    return out.data.astype(np.float64), {
        k: np.zeros_like(values[k]) if gk is None else np.asarray(gk.data, dtype=np.float64)
        for k, gk in zip(names, gs)
    }


def _fd(p: _Problem, values: dict[str, np.ndarray], names: Sequence[str], g: np.ndarray):
    """Central differences of the learner's forward: for each name, ``Σ g·∂out/∂v`` and
    ``Σ ∂out/∂v`` (the gradient were the incoming one all ones)."""
    with_g: dict[str, np.ndarray] = {}
    ones: dict[str, np.ndarray] = {}
    for name in names:
        base = values[name]
        fg = np.zeros(base.size)
        f1 = np.zeros(base.size)
        for k in range(base.size):
            vals = dict(values)
            arr = base.copy()
            flat = arr.reshape(-1)
            flat[k] += FD_EPS
            vals[name] = arr
            up = p.forward(vals)
            arr2 = base.copy()
            arr2.reshape(-1)[k] -= FD_EPS
            vals[name] = arr2
            down = p.forward(vals)
            d = (up - down) / (2 * FD_EPS)
            fg[k] = float(np.sum(d * g))
            f1[k] = float(np.sum(d))
        with_g[name] = fg.reshape(base.shape)
        ones[name] = f1.reshape(base.shape)
    return with_g, ones


# ====================================================================== diagnosis
def _sentences(label: str, n: int) -> dict[str, str]:
    return {
        "sign": (
            f"your {label} has the wrong sign: it equals −1 × the right one (a minus sign "
            "too many or too few, e.g. ŷ − y written y − ŷ)"
        ),
        "batch_times": (
            f"your {label} equals the right one × {n} (the batch size): the 1/N of the batch "
            "mean is left out, or the incoming gradient was multiplied by N"
        ),
        "batch_over": (
            f"your {label} equals the right one ÷ {n} (the batch size): a batch mean is "
            "taken that the chain rule does not have (when the loss is a batch mean, its 1/N "
            "already comes with the incoming gradient)"
        ),
        "transpose": (
            f"your {label} is the transpose of the right one: write the product the other "
            "way round (xᵀ·g, not gᵀ·x), so that it has the parameter's own layout"
        ),
        "incoming gradient": (
            f"your {label} is what it would be if the incoming gradient were all ones: the "
            "incoming gradient (grad_out) is ignored; the chain rule multiplies by it"
        ),
        "activation_none": (
            f"your {label} equals the right one with the activation's derivative left out: "
            "multiply the incoming gradient by act'(a) before going through the weights"
        ),
        "activation_output": (
            f"your {label} equals the right one with the activation's derivative taken at "
            "the output h instead of the input a: 1 − h² is tanh' already written in h "
            "(and h·(1 − h) is sigmoid's): do not apply the activation to h again"
        ),
        "sum": (
            f"your {label} has one row per sample: a bias is shared by the whole batch, so "
            "its gradient is the sum over the batch (axis 0) of those rows"
        ),
        "updated": (
            f"your {label} was computed after the weights were updated: your backward "
            "changes the parameters before it uses them for the input's gradient (the "
            "tutorial's own order); compute every gradient first, then update"
        ),
        "forward": (
            f"your {label} matches finite differences of your own forward, but your forward "
            "differs from the engine's: fix the forward first"
        ),
    }


def _diagnose(
    p: _Problem,
    name: str,
    mine: np.ndarray,
    right: np.ndarray,
    variants: dict[str, dict[str, np.ndarray]],
    forward_ok: bool,
    fd: np.ndarray | None,
) -> str | None:
    """Which known slip turns the right gradient into the learner's."""
    say = _sentences(p.labels[name], p.batch)
    cands: list[tuple[str, np.ndarray]] = [("sign", -right)]
    if p.batch > 1:
        cands += [("batch_times", right * p.batch), ("batch_over", right / p.batch)]
    if right.ndim >= 2 and right.shape[-1] == right.shape[-2]:
        cands.append(("transpose", _swap(right)))
    gates = [key for key in variants if key.startswith("gate ")]
    for key in ["incoming gradient", "activation_none", "activation_output", *gates, "updated",
                "updated_tutorial"]:  # fmt: skip
        v = variants.get(key, {}).get(name)
        if v is not None:
            cands.append((key, v))
    for key, cand in cands:
        if close(cand, right):  # this slip would change nothing here: it cannot be told
            continue
        if close(mine, cand):
            if key.startswith("gate "):
                return _gate_sentence(p.labels[name], *key.split()[1:])
            return say[key.replace("_tutorial", "")]
    if name == "x" and "updated" in variants:
        changed = ", ".join(sorted(p.changed))
        return (
            f"your backward changed {changed} (an update inside backward) and your "
            f"{p.labels[name]} is wrong: it was probably computed after the weights were "
            "updated; compute every gradient first, then update"
        )
    if not forward_ok and fd is not None and close(mine, fd):
        return say["forward"]
    return None


def _gate_sentence(label: str, tag: str, kind: str) -> str:
    gate, deriv = _engines.LSTM_GATES[tag]
    if kind == "none":
        return (
            f"your {label} equals the right one with the derivative of {gate} left out "
            f"(the other gates are right): multiply its gradient by {deriv} on the way back"
        )
    return (
        f"your {label} equals the right one with the derivative of {gate} taken at its "
        f"output instead of its input (the other gates are right): {deriv} is already "
        "written in the gate's output; do not apply the activation to it again"
    )


def _shape_slip(p: _Problem, name: str, mine: np.ndarray, right: np.ndarray) -> str | None:
    """A learner's gradient of another shape that a known slip explains."""
    say = _sentences(p.labels[name], p.batch)
    if mine.ndim >= 2 and _swap(mine).shape == right.shape and close(_swap(mine), right):
        return say["transpose"]
    if mine.ndim >= 1 and mine[0].size == right.size and mine.shape[0] > 1:
        if close(mine.sum(axis=0).reshape(right.shape), right):
            return say["sum"]
    return None


# ====================================================================== comparing
def _compare(p: _Problem) -> CheckReport:
    names = list(p.grads)
    rows: list[Row] = []
    forward_ok = True
    e_out = e_grads = None
    variants: dict[str, dict[str, np.ndarray]] = {}
    fd_g, fd_1 = _fd(p, p.values, names, p.g)
    if p.engine is not None:
        e_out, e_grads = _engine_grads(p, p.values, p.g)
        d = float(np.abs(p.out - e_out).max(initial=0.0))
        forward_ok = close(p.out, e_out, TOL_ENGINE)
        r = Row("out", p.out.shape, d, None, "ok" if forward_ok else "wrong", kind="output")
        if not forward_ok:
            _first_bad(r, p.out, e_out, TOL_ENGINE)
            r.diagnosis = (
                f"your forward differs from the engine twin{_twin(p)}: the gradients below "
                "are compared with the engine's, so fix the forward first"
            )
        rows.append(r)
        variants["incoming gradient"] = _engine_grads(p, p.values, np.ones_like(p.g))[1]
        if p.family is not None and p.family.activation:
            variants["activation_none"] = _engine_grads(p, p.values, p.g, act="none")[1]
            variants["activation_output"] = _engine_grads(p, p.values, p.g, act="output")[1]
            if p.family.name == "lstm":  # one gate's derivative slipped, the others right
                for tag in _engines.LSTM_GATES:
                    for kind in ("none", "output"):
                        variants[f"gate {tag} {kind}"] = _engine_grads(
                            p, p.values, p.g, act=(kind, tag)
                        )[1]
    else:
        variants["incoming gradient"] = fd_1
        p.notes.append(
            "no engine twin: your backward is checked against finite differences of your "
            "own forward, and the forward itself went unchecked (pass engine=... to check it)"
        )
    if p.changed and "x" in names:
        new = dict(p.values)
        new.update(p.changed)
        if p.engine is not None:
            variants["updated"] = {"x": _engine_grads(p, new, p.g)[1]["x"]}
            if p.family is not None and p.family.name == "dense" and "W" in p.changed:
                extra = {"w_backward": p.changed["W"]}
                variants["updated_tutorial"] = {
                    "x": _engine_grads(p, p.values, p.g, extra=extra)[1]["x"]
                }
        else:
            variants["updated"] = {"x": _fd(p, new, ["x"], p.g)[0]["x"]}
        p.notes.append(
            f"your backward changed {', '.join(sorted(p.changed))}: the check used the values "
            "the forward saw (update the weights after backward, in a separate step)"
        )
    for name in names:
        mine = p.grads[name]
        right = e_grads[name] if e_grads is not None else fd_g[name]
        fd = fd_g[name]
        label = p.labels[name]
        tol = TOL_ENGINE if e_grads is not None else TOL_FD
        shape = mine.shape
        if mine.shape != right.shape:
            if mine.size == right.size and _squeezed(mine.shape) == _squeezed(right.shape):
                mine = mine.reshape(right.shape)  # the tutorial's b (1, out) for (out,)
            else:
                slip = _shape_slip(p, name, mine, right)
                if slip is None:
                    raise ValueError(
                        f"{p.title}: your {label} has shape {mine.shape}; expected "
                        f"{right.shape}, the shape of {name}"
                    )
                rows.append(Row(label, mine.shape, None, None, "wrong", diagnosis=slip))
                continue
        d_e = None if e_grads is None else float(np.abs(mine - right).max(initial=0.0))
        d_fd = float(np.abs(mine - fd).max(initial=0.0))
        ok = close(mine, right, tol)
        r = Row(label, shape, d_e, d_fd, "ok" if ok else "wrong")
        if not ok:
            _first_bad(r, mine, right, tol)
            r.diagnosis = _diagnose(p, name, mine, right, variants, forward_ok, fd)
        rows.append(r)
    report = CheckReport(p.title, rows, p.notes)
    report._drawer = lambda: _draw(p, report)
    return report


def _twin(p: _Problem) -> str:
    return f" {p.engine_name!r}" if p.engine_name else ""


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(s for s in shape if s != 1)


def _first_bad(r: Row, mine: np.ndarray, right: np.ndarray, tol: tuple[float, float]) -> None:
    bad = np.flatnonzero(np.abs(mine - right) > _tol(right, tol))
    if bad.size:
        k = int(bad[0])
        r.first_bad_index = _index(mine, k)
        r.yours_at = float(mine.reshape(-1)[k])
        r.right_at = float(right.reshape(-1)[k])


# ====================================================================== the picture
def _draw(p: _Problem, report: CheckReport) -> Any:
    from .. import viz

    by_label = {r.name: r for r in report.rows}
    if p.engine is not None:
        ts = _engine_tensors(p.values, True)
        out = p.engine(ts)
        title = f"{p.title}: your gradients against the engine twin{_twin(p)}"
    else:
        assert p.draw_op is not None
        ts = _engine_tensors(p.values, True)
        out = p.draw_op(ts)
        title = f"{p.title}: your backward against finite differences"
    out.name = "out"
    marks = []
    for name, t in ts.items():
        r = by_label.get(p.labels.get(name, ""))
        if r is not None:
            marks.append((t, r.verdict, mark_lines(r)))
    if "out" in by_label:
        marks.append((out, by_label["out"].verdict, mark_lines(by_label["out"])))
    return viz.draw_graph(out, backward=True, grad=p.g, title=title, marks=marks)


def _learner_op(title: str, names: list[str], out: np.ndarray, grads: dict[str, np.ndarray]):
    """The learner's layer as one op of the graph: its forward's output, its gradients."""
    from ..autograd import Function

    class Op(Function):
        @staticmethod
        def forward(ctx: Any, *ts: Tensor) -> Any:
            ctx.save_for_backward(*ts)
            return out

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> Any:
            shapes = [t.shape for t in ctx.saved_tensors]
            return tuple(  # a gradient of another shape is shown by the marks alone
                Tensor(grads[n]) if n in grads and grads[n].size == int(np.prod(sh)) and
                grads[n].shape == sh else None
                for n, sh in zip(names, shapes)
            )  # fmt: skip

    Op.__name__ = title
    return lambda ts: Op.apply(*(ts[n] for n in names))


# ====================================================================== check.layer
_GRAD_NAMES = ("d{}", "grad_{}", "{}_grad")


def _find_grad(layer: Any, name: str) -> tuple[str, Any] | None:
    for pat in _GRAD_NAMES:
        attr = pat.format(name)
        v = getattr(layer, attr, None)
        if v is not None:
            return attr, v
    return None


def _resolve(where: str, fam: _engines.Family, arrays: dict[str, np.ndarray]):
    """The family's parameters found among the layer's arrays: (slot key, attribute name,
    transposed)."""
    found = []
    for slot in fam.slots:
        hit = next(((n, t) for n, t in slot.names if n in arrays), None)
        if hit is None:
            if not slot.optional:
                want = " or ".join(n for n, _ in slot.names)
                raise ValueError(
                    f"{where}: the {fam.name!r} twin needs {want} on your layer (an array "
                    f"attribute set in __init__); your layer has "
                    f"{', '.join(sorted(arrays)) or 'no float arrays'}"
                )
            continue
        found.append((slot.key, hit[0], hit[1]))
    keys = {k for k, _, _ in found}
    if fam.name == "attention" and not ({"Wqkv"} <= keys or {"Wq", "Wk", "Wv"} <= keys):
        raise ValueError(
            f"{where}: the 'attention' twin needs Wq, Wk and Wv (each (E, E)) or PyTorch's "
            "in_proj_weight (3E, E) on your layer"
        )
    return found


def layer(layer: Any, x: Any, engine: Any = None, seed: int = 0) -> CheckReport:
    """Check a layer written in the tutorial's style against the engine.

    ``layer.forward(x)`` returns the output; ``layer.backward(grad_out)`` returns the
    gradient for ``x`` and leaves each parameter's gradient on the layer as ``d<name>``
    (``W`` → ``dW``), ``grad_<name>`` or ``<name>_grad``.  The parameters are the layer's
    float arrays (set before ``forward``) that have such a gradient after ``backward``.

    ``engine`` is the same computation on Tensors, ``engine(x, **params) -> Tensor`` with
    the parameters by name, or a built-in name (``tinygrad_bp.check.BUILTINS``); without
    it the backward is checked against finite differences of your own forward only.  The
    incoming gradient is seeded random normals (``seed``), never all ones; everything
    runs in float64 on copies: your layer and your arrays are left as they were.

    Returns a :class:`CheckReport`.  Raises ValueError/TypeError for what cannot be
    checked (no ``backward``, a result of the wrong shape or dtype, NaN, a parameter
    without a gradient, an unknown built-in name) and :class:`LearnerError` when your code
    raises (its message is your traceback).
    """
    where = "check.layer"
    cls = type(layer).__name__
    for m in ("forward", "backward"):
        if not callable(getattr(layer, m, None)):
            raise TypeError(
                f"{where}: your layer ({cls}) has no {m}() method; a layer in the tutorial's "
                "style has forward(x) returning its output and backward(grad_out) returning "
                "the gradient for x (parameters' gradients left on it as dW, db, ...)"
            )
    fam, user_engine = _engine_arg(where, engine)
    if fam is not None and fam.name == "dense" and getattr(layer, "activation", None) is None:
        notes_first = ["the 'dense' twin found no self.activation on your layer: it used none"]
    else:
        notes_first = []
    xa = np.asarray(x)
    if xa.dtype.kind not in "fiub":
        raise TypeError(f"{where}: x must be an array of numbers, got dtype {xa.dtype}")
    indices = xa.dtype.kind in "iu" and (fam is None or fam.integer_input)
    try:
        proto = copy.deepcopy(layer)
    except Exception as exc:  # an object that cannot be copied (an open file, a lock)
        raise TypeError(
            f"{where}: cannot copy your layer ({type(exc).__name__}: {exc}); the check runs "
            "on copies so that your layer is left as it was"
        ) from None
    notes: list[str] = notes_first
    arrays: dict[str, np.ndarray] = {}
    for k, v in list(vars(proto).items()):
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            if v.dtype != np.float64:
                notes.append(f"your {k} is {v.dtype}: the check used a float64 copy of it")
            arrays[k] = v.astype(np.float64)
            setattr(proto, k, arrays[k].copy())
    x64 = xa.copy() if indices else xa.astype(np.float64)
    state = np.random.get_state()

    def run(values: dict[str, np.ndarray]) -> tuple[Any, np.ndarray]:
        lay = copy.deepcopy(proto)
        for k, v in values.items():
            if k != "x":
                setattr(lay, k, v.copy())
        np.random.set_state(state)  # the same dropout mask every time
        xin = values["x"].copy() if "x" in values else x64.copy()
        out = as_result(f"{cls}.forward", call(f"{cls}.forward", lay.forward, xin))
        return lay, out

    try:
        base = dict(arrays)
        if not indices:
            base = {"x": x64, **arrays}
        lay, out = run(base)
        g = np.random.default_rng(seed).standard_normal(out.shape)
        dx_raw = call(f"{cls}.backward", lay.backward, g.copy())
    finally:
        np.random.set_state(state)
    grads: dict[str, np.ndarray] = {}
    if not indices:
        grads["x"] = as_result(f"{cls}.backward (the gradient for x)", dx_raw, x64.shape)
    labels = {"x": "dx"}
    found: dict[str, str] = {}
    for k in arrays:
        hit = _find_grad(lay, k)
        if hit is not None:
            found[k] = hit[0]
    # what the engine needs must have a gradient
    engine_fn = None
    if fam is not None:
        slots = _resolve(where, fam, arrays)
        need = [attr for _, attr, _ in slots]
        fam_ = fam

        def engine_fn(ts: dict[str, Tensor], w_backward: Any = None) -> Tensor:
            p = {key: (ts[attr].T if tr else ts[attr]) for key, attr, tr in slots}
            xin = ts["x"] if "x" in ts else x64
            if w_backward is not None:  # the tutorial's order: dx through the updated W
                return _engines.dense_through(xin, p, lay, w_backward)
            return fam_.fn(xin, p, lay)

    elif user_engine is not None:
        need = _engine_params(where, user_engine, arrays)

        def engine_fn(ts: dict[str, Tensor], w_backward: Any = None) -> Tensor:
            xin = ts["x"] if "x" in ts else x64
            return user_engine(xin, **{k: ts[k] for k in need})

    else:
        need = []
    for k in need:
        if k not in found:
            raise ValueError(
                f"{where}: your layer has {k} but after backward() there is no d{k} (nor "
                f"grad_{k}, {k}_grad): store its gradient on the layer, self.d{k} = ..."
            )
    for k, attr in found.items():
        grads[k] = as_result(f"{cls}.backward (self.{attr})", getattr(lay, attr))
        labels[k] = attr
    if not found and arrays and fam is None and user_engine is None:
        notes.append(
            f"no parameter gradient found on your layer (looked for d<name>, grad_<name>, "
            f"<name>_grad for {', '.join(sorted(arrays))}): only the input's gradient is checked"
        )
    values = {k: v for k, v in base.items() if k in grads}
    changed = {
        k: np.asarray(getattr(lay, k), dtype=np.float64).copy()
        for k in grads
        if k != "x" and not np.array_equal(getattr(lay, k), arrays[k])
    }
    batch = x64.shape[fam.batch_axis] if fam is not None and x64.ndim > fam.batch_axis else (
        x64.shape[0] if x64.ndim else 1
    )  # fmt: skip
    p = _Problem(
        title=f"{cls}" + (f" (vs {engine!r})" if isinstance(engine, str) else ""),
        values=values,
        labels=labels,
        forward=lambda vals: run({**base, **vals})[1],
        out=out,
        g=g,
        grads=grads,
        changed=changed,
        engine=engine_fn,
        engine_name=engine if isinstance(engine, str) else None,
        family=fam,
        batch=int(batch),
        notes=notes,
    )
    names = list(values)
    p.draw_op = _learner_op(cls, names, out, grads)
    return _compare(p)


def _engine_params(where: str, engine: Callable[..., Any], arrays: dict[str, np.ndarray]):
    try:
        sig = inspect.signature(engine)
    except (TypeError, ValueError):
        return sorted(arrays)
    params = list(sig.parameters.values())[1:]
    if any(q.kind == q.VAR_KEYWORD for q in params):
        return sorted(arrays)
    names = [q.name for q in params if q.kind in (q.POSITIONAL_OR_KEYWORD, q.KEYWORD_ONLY)]
    missing = [n for n in names if n not in arrays]
    if missing:
        raise ValueError(
            f"{where}: the engine takes {', '.join(missing)}, which your layer does not have "
            f"as float arrays (it has {', '.join(sorted(arrays)) or 'none'})"
        )
    return names


# ====================================================================== check.functions
def functions(
    forward: Callable[..., Any],
    backward: Callable[..., Any],
    inputs: Sequence[Any],
    engine: Any = None,
    seed: int = 0,
) -> CheckReport:
    """Check a forward/backward pair in CS231n's style.

    ``forward(*inputs) -> (out, cache)``; ``backward(dout, cache)`` returns one gradient
    per float-array input, in order (or one per input, None for the others: integer
    labels, a settings dict such as ``conv_param``).  ``engine`` is a function of the
    same inputs as Tensors returning a Tensor, or a built-in name: then the first float
    input is ``x`` and the others are the family's parameters by name (or in order), and a
    dict input gives the settings (``stride``, ``pad``, ``eps``, ...).  Otherwise as
    :func:`layer`: a seeded random incoming gradient, float64, the inputs left unchanged.
    """
    where = "check.functions"
    if not callable(forward) or not callable(backward):
        raise TypeError(f"{where}: forward and backward must be functions")
    fam, user_engine = _engine_arg(where, engine)
    if isinstance(inputs, np.ndarray) or not isinstance(inputs, (list, tuple)):
        raise TypeError(f"{where}: inputs must be a list or tuple of the forward's arguments")
    try:
        argnames = [
            q.name
            for q in inspect.signature(forward).parameters.values()
            if q.kind in (q.POSITIONAL_ONLY, q.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        argnames = []
    if len(argnames) < len(inputs):
        argnames = [f"x{i}" for i in range(len(inputs))]
    argnames = argnames[: len(inputs)]
    diff = [
        i
        for i, a in enumerate(inputs)
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" or isinstance(a, float)
    ]
    if not diff:
        raise ValueError(f"{where}: no input is a float array: there is nothing to differentiate")
    base = {argnames[i]: np.array(inputs[i], dtype=np.float64) for i in diff}
    fname = getattr(forward, "__name__", "forward")
    bname = getattr(backward, "__name__", "backward")
    state = np.random.get_state()

    def run(values: dict[str, np.ndarray]) -> tuple[np.ndarray, Any]:
        args = [
            values[argnames[i]].copy() if i in diff else copy.deepcopy(a)
            for i, a in enumerate(inputs)
        ]
        np.random.set_state(state)
        res = call(fname, forward, *args)
        if not isinstance(res, tuple) or len(res) != 2:
            raise TypeError(
                f"{where}: {fname} must return (out, cache), as in CS231n; got "
                f"{type(res).__name__}" + (f" of {len(res)}" if isinstance(res, tuple) else "")
            )
        return as_result(fname, res[0]), res[1]

    try:
        out, cache = run(base)
        g = np.random.default_rng(seed).standard_normal(out.shape)
        got = call(bname, backward, g.copy(), cache)
    finally:
        np.random.set_state(state)
    got_t = got if isinstance(got, (tuple, list)) else (got,)
    if len(got_t) == len(inputs) and len(inputs) != len(diff):
        got_t = [got_t[i] for i in diff]
    if len(got_t) != len(diff):
        raise ValueError(
            f"{where}: {bname} returned {len(got_t)} gradients; expected {len(diff)}, one per "
            f"float input ({', '.join(argnames[i] for i in diff)})"
        )
    grads = {
        argnames[i]: as_result(f"{bname} (the gradient for {argnames[i]})", gi)
        for i, gi in zip(diff, got_t)
    }
    labels = {n: "d" + n for n in grads}
    engine_fn = None
    if fam is not None:
        settings = next((a for a in inputs if isinstance(a, dict)), {})
        opts = types.SimpleNamespace(**_settings(settings))
        ints = [a for a in inputs if isinstance(a, np.ndarray) and a.dtype.kind in "iu"]
        first = argnames[diff[0]] if not fam.integer_input else None
        rest = [argnames[i] for i in diff if argnames[i] != first]
        slots = _match_slots(where, fam, rest)

        def engine_fn(ts: dict[str, Tensor], w_backward: Any = None) -> Tensor:
            p = {key: ts[n] for key, n in slots}
            xin = ts[first] if first is not None else ints[0]
            if w_backward is not None:
                return _engines.dense_through(xin, p, opts, w_backward)
            return fam.fn(xin, p, opts)

    elif user_engine is not None:

        def engine_fn(ts: dict[str, Tensor], w_backward: Any = None) -> Tensor:
            args = [ts[argnames[i]] if i in diff else a for i, a in enumerate(inputs)]
            return user_engine(*args)

    first_arr = inputs[diff[0]]
    p = _Problem(
        title=fname + (f" (vs {engine!r})" if isinstance(engine, str) else ""),
        values=base,
        labels=labels,
        forward=lambda vals: run({**base, **vals})[0],
        out=out,
        g=g,
        grads=grads,
        changed={},
        engine=engine_fn,
        engine_name=engine if isinstance(engine, str) else None,
        family=fam,
        batch=int(np.shape(first_arr)[fam.batch_axis if fam else 0]) if np.ndim(first_arr) else 1,
        notes=[],
        inputs=tuple(argnames[i] for i in diff),
    )
    p.draw_op = _learner_op(fname, list(base), out, grads)
    return _compare(p)


def _settings(d: dict[str, Any]) -> dict[str, Any]:
    s = dict(d)
    if "pool_height" in s and "pool_width" in s:  # CS231n's pool_param
        s.setdefault("kernel_size", (s["pool_height"], s["pool_width"]))
    return s


def _match_slots(where: str, fam: _engines.Family, names: list[str]) -> list[tuple[str, str]]:
    by_name = {}
    for slot in fam.slots:
        for n, tr in slot.names:
            if n in names and not tr:
                by_name[slot.key] = n
    if by_name and len(by_name) == len(names):
        return list(by_name.items())
    plain = [s for s in fam.slots if any(not tr for _, tr in s.names)]
    if fam.name == "attention":
        plain = [s for s in plain if s.key in ("Wq", "Wk", "Wv", "Wo")]
    if len(names) > len(plain):
        raise ValueError(
            f"{where}: the {fam.name!r} twin takes x and at most {len(plain)} parameters "
            f"({', '.join(s.key for s in plain)}); got {len(names)} more float inputs"
        )
    return [(s.key, n) for s, n in zip(plain, names)]
