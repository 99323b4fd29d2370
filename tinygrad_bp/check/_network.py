"""``check.network``: Karpathy's "becoming a backprop ninja" exercise.

The learner writes the forward once, as named intermediates, with the array functions of
a namespace ``m`` (``m.exp``, ``m.log``, ``m.tanh``, ...) and the operators and methods
NumPy arrays and Tensors share (``@``, ``+``, ``**``, ``.sum(axis=, keepdims=)``,
``.max(axis=, keepdims=)``, ``.mean``, ``.T``, indexing), and returns them
(``return locals()`` does).  The checker runs it twice: on NumPy arrays (the values the
learner's backward uses) and on Tensors, where every intermediate keeps its gradient.
The learner's backward gets the NumPy values and returns a gradient per intermediate,
under ``d<name>`` (``return locals()`` again does).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .. import ops
from ..tensor import Tensor
from ._core import TOL_ENGINE, _first_bad, _shape_slip, _swap, close
from ._learner import as_result, call
from ._report import CheckReport, Row, mark_lines

__all__ = ["network", "NUMPY", "ENGINE"]


def _np_sigmoid(a: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-a))


#: The namespace ``m`` for the NumPy run and for the engine's run: the same names.
NUMPY = types.SimpleNamespace(
    exp=np.exp, log=np.log, tanh=np.tanh, sqrt=np.sqrt, abs=np.abs, sigmoid=_np_sigmoid,
    maximum=np.maximum, minimum=np.minimum, where=np.where, name="numpy",
)  # fmt: skip
ENGINE = types.SimpleNamespace(
    exp=ops.exp, log=ops.log, tanh=ops.tanh, sqrt=ops.sqrt, abs=ops.abs, sigmoid=ops.sigmoid,
    maximum=ops.maximum, minimum=ops.minimum, where=ops.where, name="engine",
)  # fmt: skip


def _values(where: str, got: Any, kind: type) -> dict[str, Any]:
    if not isinstance(got, Mapping):
        raise TypeError(
            f"{where}: the forward must return its intermediates by name (a dict; "
            f"`return locals()` does), got {type(got).__name__}"
        )
    return {k: v for k, v in got.items() if isinstance(v, kind)}


def network(
    forward: Callable[..., Mapping[str, Any]],
    backward: Callable[[dict[str, np.ndarray]], Mapping[str, Any]],
    inputs: Mapping[str, Any],
    loss: str = "loss",
) -> CheckReport:
    """Compare a hand-written backward of a whole network, intermediate by intermediate,
    with the engine's retained gradients of the same forward.

    ``forward(m, **inputs)`` computes the loss from the inputs through named
    intermediates and returns them by name (``return locals()``), with ``m`` the array
    functions (``m.exp``, ``m.log``, ``m.tanh``, ``m.sqrt``, ``m.abs``, ``m.sigmoid``,
    ``m.maximum``, ``m.minimum``, ``m.where``) and what arrays and Tensors share.
    ``backward(v)`` gets those intermediates as NumPy arrays and returns the gradient of
    the loss for each it differentiates, as ``d<name>`` (``return locals()`` again).
    ``inputs``: the float arrays (inputs and parameters, differentiated) and integer
    ones (labels) by name.  The loss must be a scalar; its incoming gradient is 1.

    Returns a :class:`CheckReport` whose rows say per intermediate whether yours is
    exact, close or wrong; its picture is the engine's graph with those names.
    """
    where = "check.network"
    if not callable(forward) or not callable(backward):
        raise TypeError(f"{where}: forward and backward must be functions")
    if not isinstance(inputs, Mapping):
        raise TypeError(f"{where}: inputs must map the forward's argument names to arrays")
    arrays = {k: np.asarray(v) for k, v in inputs.items()}
    for k, a in arrays.items():
        if a.dtype.kind not in "fiub":
            raise TypeError(f"{where}: input {k!r} must be an array of numbers, got {a.dtype}")
    floats = {k: a.astype(np.float64) for k, a in arrays.items() if a.dtype.kind == "f"}
    fname = getattr(forward, "__name__", "forward")
    bname = getattr(backward, "__name__", "backward")

    np_in = {k: floats[k].copy() if k in floats else a.copy() for k, a in arrays.items()}
    v = _values(where, call(f"{fname} (on NumPy arrays)", forward, NUMPY, **np_in),
                (np.ndarray, np.generic, float))  # fmt: skip
    if loss not in v:
        raise ValueError(
            f"{where}: the forward returned no {loss!r}; it returned {', '.join(v)} (name the "
            "loss, or pass loss='its name')"
        )
    v = {k: np.asarray(x) for k, x in v.items()}

    ts = {k: Tensor(a.copy(), requires_grad=True, name=k) for k, a in floats.items()}
    tg_in = {k: ts.get(k, arrays[k]) for k in arrays}
    e = _values(where, call(f"{fname} (on Tensors)", forward, ENGINE, **tg_in), Tensor)
    if loss not in e:
        raise ValueError(f"{where}: on Tensors the forward's {loss!r} is not a Tensor")
    root = e[loss]
    if root.shape != ():
        raise ValueError(f"{where}: the loss {loss!r} must be a scalar, got shape {root.shape}")
    for k, t in e.items():
        if t.requires_grad and t.parents:
            t.retain_grad()
        if t.name is None:
            t.name = k
    root.backward()

    mine_all = call(bname, backward, {k: x.copy() for k, x in v.items()})
    if not isinstance(mine_all, Mapping):
        raise TypeError(
            f"{where}: {bname} must return the gradients by name, d<name> (a dict; "
            f"`return locals()` does), got {type(mine_all).__name__}"
        )
    grads = {k[1:]: g for k, g in mine_all.items() if k.startswith("d") and k[1:] in e}
    if not grads:
        raise ValueError(
            f"{where}: {bname} returned no gradient d<name> for any intermediate of the "
            f"forward ({', '.join(e)})"
        )
    first = next(iter(floats.values()))
    batch = int(first.shape[0]) if first.ndim else 1
    notes: list[str] = []
    rows: list[Row] = []
    tensors: dict[str, Tensor] = {}
    for name, t in e.items():  # in the forward's order
        if name not in grads:
            continue
        tensors[name] = t
        mine = as_result(f"{bname} (d{name})", grads[name])
        right = np.zeros(t.shape) if t.grad is None else np.asarray(t.grad, dtype=np.float64)
        label = "d" + name
        if name in v and not close(np.asarray(v[name], dtype=np.float64), t.data, TOL_ENGINE):
            notes.append(
                f"{name} differs between the NumPy run and the engine's run of your forward "
                "(a function outside m?): its engine gradient may not be yours to match"
            )
        if mine.shape != right.shape:
            if mine.size == right.size and _squeeze(mine.shape) == _squeeze(right.shape):
                mine = mine.reshape(right.shape)
            else:
                prob = types.SimpleNamespace(labels={name: label}, batch=batch)
                slip = _shape_slip(prob, name, mine, right)  # type: ignore[arg-type]
                if slip is None:
                    raise ValueError(
                        f"{where}: your {label} has shape {mine.shape}; {name} has {right.shape}"
                    )
                rows.append(Row(label, mine.shape, None, None, "wrong", diagnosis=slip,
                                exact=False, kind="intermediate"))  # fmt: skip
                continue
        d = float(np.abs(mine - right).max(initial=0.0))
        ok = close(mine, right, TOL_ENGINE)
        r = Row(label, mine.shape, d, None, "ok" if ok else "wrong",
                exact=bool(np.array_equal(mine, right)), kind="intermediate")  # fmt: skip
        if not ok:
            _first_bad(r, mine, right, TOL_ENGINE)
            r.diagnosis = _net_slip(label, mine, right, batch)
        rows.append(r)
    missing = [k for k in e if k not in grads and k != loss and e[k].requires_grad]
    if missing:
        notes.append(f"not written (no d<name>): {', '.join(missing)}")
    report = CheckReport(f"{fname} / {bname}", rows, notes, network=True)

    def draw() -> Any:
        from .. import viz

        by = {r.name: r for r in rows}
        marks = [(t, by["d" + k].verdict, mark_lines(by["d" + k])) for k, t in tensors.items()]
        return viz.draw_graph(root, backward=True, marks=marks,
                              title=f"{fname}: your gradients against the engine's")  # fmt: skip

    report._drawer = draw
    return report


def _squeeze(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(s for s in shape if s != 1)


def _net_slip(label: str, mine: np.ndarray, right: np.ndarray, n: int) -> str | None:
    cands = [
        (-right, f"your {label} has the wrong sign: it equals −1 × the right one"),
        (right * n, f"your {label} equals the right one × {n} (the batch size): the 1/N of "
                    "the batch mean is left out"),
        (right / n, f"your {label} equals the right one ÷ {n} (the batch size): the batch "
                    "mean is applied twice"),
    ]  # fmt: skip
    if right.ndim >= 2 and right.shape[-1] == right.shape[-2]:
        cands.append((_swap(right), f"your {label} is the transpose of the right one"))
    for cand, text in cands:
        if not close(cand, right) and close(mine, cand):
            return text
    return None
