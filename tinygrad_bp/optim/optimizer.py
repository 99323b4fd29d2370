"""The optimizer base class: parameter groups, per-parameter state, ``state_dict``.

As ``torch.optim.Optimizer``: ``params`` is an iterable of Tensors, of ``(name, Tensor)``
pairs, or of dicts ``{"params": [...], "lr": ..., other options}`` (parameter groups).
Every group is a dict holding its options, the constructor's values filling in what a
group leaves out; ``step()`` reads each group's options every time, so a scheduler (or
the user) can change ``group["lr"]`` between steps.

Parameters are updated in place (``p.data`` keeps its array) and ``.grad`` is never
modified by ``step()``.  A parameter whose ``.grad`` is ``None`` is skipped, as in PyTorch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from ..backend import xp
from ..tensor import Tensor, bump_steps, track_steps

__all__ = ["Optimizer"]


class _ParamState(Mapping):
    """``optimizer.state``: per-parameter state dicts keyed by the parameter itself.

    Keyed by identity (``id``), not by hashing the Tensor, so that a Tensor's ``==``
    (which gives an elementwise result) never takes part in a lookup.  Reading a
    parameter that has no state yet gives an empty dict, as PyTorch's ``defaultdict``.
    """

    __slots__ = ("_by_id",)

    def __init__(self) -> None:
        # id(param) -> (param, state dict); the param is kept so iteration yields it
        self._by_id: dict[int, tuple[Tensor, dict[str, Any]]] = {}

    def __getitem__(self, p: Tensor) -> dict[str, Any]:
        entry = self._by_id.get(id(p))
        if entry is None or entry[0] is not p:
            entry = self._by_id[id(p)] = (p, {})
        return entry[1]

    def __contains__(self, p: object) -> bool:
        entry = self._by_id.get(id(p))
        return entry is not None and entry[0] is p

    def __iter__(self) -> Iterator[Tensor]:
        return (p for p, _ in list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)

    def __repr__(self) -> str:
        return f"<optimizer state for {len(self)} parameter(s)>"


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.floating, np.integer))


def check_number(
    opt: str,
    label: str,
    value: Any,
    low: float,
    high: float | None = None,
    *,
    high_inclusive: bool = False,
) -> float:
    """``float(value)`` if it is a finite number in ``[low, high)`` (or ``[low, high]``);
    otherwise a TypeError / ValueError naming the optimizer, the argument and the value.
    NaN is refused: every comparison with it is false, so the checks are written as
    ``not (low <= value ...)``."""
    if not _is_number(value):
        raise TypeError(f"{opt}: {label} must be a number, got {value!r}")
    v = float(value)
    if high is None:
        ok, rng = low <= v < math.inf, f">= {low}"
    elif high_inclusive:
        ok, rng = low <= v <= high, f"in [{low}, {high}]"
    else:
        ok, rng = low <= v < high, f"in [{low}, {high})"
    if not ok:
        raise ValueError(f"{opt}: {label} must be {rng} (and finite), got {value!r}")
    return v


def check_flag(opt: str, label: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{opt}: {label} must be True or False, got {value!r}")
    return bool(value)


class Optimizer:
    """Holds the parameter groups and the per-parameter state; subclasses define
    :meth:`step` and :meth:`_check_group` (which validates one group's options).

    Attributes
    ----------
    param_groups : list of dict
        One dict per group: ``"params"`` (the list of Tensors) and the options.
    defaults : dict
        The constructor's options, used for what a group leaves out.
    state : mapping
        ``state[p]`` is parameter ``p``'s dict (momentum buffers, moment estimates, step
        counts), created on its first step.
    """

    #: keys a state entry of this optimizer may hold, and those it must hold once it
    #: has any (both checked by load_state_dict)
    _state_keys: frozenset[str] = frozenset()
    _required_state_keys: frozenset[str] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every step changes the parameters in place: record it (one record per optimizer,
        # bumped once per step), so that a graph built before the step refuses to
        # backpropagate through the old values instead of computing a wrong gradient
        # (PyTorch's version check).
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is None or getattr(step, "_marks_params", False):
            return

        def marked_step(self: Optimizer) -> None:
            step(self)
            bump_steps(self._steps)

        marked_step.__doc__ = step.__doc__
        marked_step.__name__ = "step"
        marked_step.__qualname__ = f"{cls.__qualname__}.step"
        marked_step._marks_params = True  # type: ignore[attr-defined]
        cls.step = marked_step  # type: ignore[method-assign]

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts, got a single "
                f"Tensor (wrap it in a list: [t])"
            )
        if isinstance(params, (dict, str, bytes)) or not isinstance(params, Iterable):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts (parameter "
                f"groups), got {type(params).__name__}"
            )
        self.defaults: dict[str, Any] = dict(defaults)
        self.state = _ParamState()
        self.param_groups: list[dict[str, Any]] = []
        self._steps = [0, 0]  # [counter at the last step, steps]: see track_steps
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, with its own options, as PyTorch's
        ``Optimizer.add_param_group`` (a fine-tuning habit: unfreeze a layer and give it
        its own learning rate).  Options it leaves out take the constructor's values."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{name}: a parameter group must be a dict, got {type(param_group).__name__}"
            )
        if "params" not in param_group:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry")
        group = dict(param_group)  # the caller's dict is left as it was
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{name}: parameters must be given in an ordered collection, not a set "
                f"(a set's order changes from run to run)"
            )
        elif isinstance(params, (dict, str, bytes)) or not isinstance(params, Iterable):
            raise TypeError(
                f"{name}: a group's 'params' must be a Tensor or an iterable of Tensors, "
                f"got {type(params).__name__}"
            )
        tensors: list[Tensor] = []
        names: list[str] = []
        index0 = sum(len(g["params"]) for g in self.param_groups)
        for i, p in enumerate(params):
            if isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str):
                names.append(p[0])  # (name, Tensor), as from named_parameters()
                p = p[1]
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{name}: can only optimize Tensors, but parameter {index0 + i} is a "
                    f"{type(p).__name__}"
                )
            if not p.is_leaf and not p.retains_grad:
                raise ValueError(
                    f"{name}: can't optimize a non-leaf Tensor (parameter {index0 + i} was "
                    f"computed by {p.op!r}; optimize the leaf it came from, or .detach() it "
                    f"and set requires_grad=True)"
                )
            if p.dtype.kind != "f":
                raise TypeError(
                    f"{name}: parameter {index0 + i} has dtype {p.dtype}; only floating "
                    f"tensors can be optimized"
                )
            tensors.append(p)
        if names and len(names) != len(tensors):
            raise ValueError(
                f"{name}: all parameters of a group must be named (name, Tensor) pairs, "
                f"or none of them"
            )
        if len({id(p) for p in tensors}) != len(tensors):
            # PyTorch only warns here (and would step such a parameter twice)
            raise ValueError(f"{name}: a parameter appears more than once in a group")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in tensors):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        if self.param_groups and bool(names) != ("param_names" in self.param_groups[0]):
            raise ValueError(
                f"{name}: all parameter groups must be named (name, Tensor) pairs or none of "
                f"them; cannot add a group {'with' if names else 'without'} names"
            )
        group["params"] = tensors
        if names:
            group["param_names"] = names
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        where = name if not self.param_groups else f"{name} (param group {len(self.param_groups)})"
        self._check_group(group, where)
        self.param_groups.append(group)
        track_steps(tensors, self._steps)

    def _check_group(self, group: dict[str, Any], where: str) -> None:
        """Validate (and normalise) one group's options in place; ``where`` names the
        optimizer and group for the error message."""
        group["lr"] = check_number(where, "lr", group["lr"], 0.0)

    # ------------------------------------------------------------------ grads
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter.

        ``set_to_none=True`` (PyTorch 2's default) sets ``.grad`` to ``None``, so the
        next backward writes a fresh array and ``step()`` skips parameters that get no
        gradient; ``set_to_none=False`` fills the existing arrays with zeros in place.
        """
        if set_to_none:
            for group in self.param_groups:
                for p in group["params"]:
                    p.grad = None
            return
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    g = p.grad
                    if isinstance(g, np.ndarray) and g.flags.writeable:
                        g.fill(0)
                    else:
                        p.grad = xp.zeros_like(p.data)

    def step(self) -> None:
        """Update every parameter that has a gradient, by the optimizer's rule."""
        raise NotImplementedError

    def _grad(self, p: Tensor, where: str) -> Any:
        """``p.grad`` after checking it fits ``p`` (a wrong-shape gradient set by hand
        would otherwise broadcast silently)."""
        g = p.grad
        if g is not None and g.shape != p.data.shape:
            raise RuntimeError(
                f"{where}.step: a parameter of shape {p.data.shape} has a gradient of shape "
                f"{g.shape}"
            )
        return g

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as PyTorch lays it out::

            {"state": {index: {"step": ..., "exp_avg": array, ...}, ...},
             "param_groups": [{"lr": ..., ..., "params": [index, ...]}, ...]}

        Parameters are numbered 0, 1, ... across the groups in order; only parameters
        that have state appear under ``"state"``.  Arrays are copies, so the dict is a
        snapshot that later steps do not change (PyTorch returns references).
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for pid, (_, st) in self.state._by_id.items():
            if pid in index and st:
                state[index[pid]] = {k: _copy_value(v) for k, v in st.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (this optimizer's type, the same
        parameter groups with the same numbers of parameters): options and state are
        copied in, so training resumes exactly where it was saved."""
        name = type(self).__name__
        if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError(
                f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups', "
                f"got {type(state_dict).__name__}"
                + (f" with keys {sorted(state_dict)}" if isinstance(state_dict, Mapping) else "")
            )
        saved_groups = state_dict["param_groups"]
        _check_layout(name, saved_groups, state_dict["state"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: loaded state dict has a different number of "
                f"parameter groups ({len(saved_groups)}, the optimizer has "
                f"{len(self.param_groups)})"
            )
        params: list[Tensor] = []
        for i, (g, sg) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: loaded state dict contains a parameter group "
                    f"that doesn't match the size of optimizer's group (group {i}: "
                    f"{len(sg['params'])} saved, {len(g['params'])} here)"
                )
            params.extend(g["params"])
        # the saved numbering -> this optimizer's parameters, group by group
        id_map = {
            saved: p
            for sg, g in zip(saved_groups, self.param_groups)
            for saved, p in zip(sg["params"], g["params"])
        }
        new_groups = []
        for i, (g, sg) in enumerate(zip(self.param_groups, saved_groups)):
            ng = {k: _copy_value(v) for k, v in sg.items() if k != "params"}
            ng["params"] = g["params"]
            for key, default in self.defaults.items():  # a state dict with fewer options
                ng.setdefault(key, default)
            self._check_group(ng, f"{name}.load_state_dict (param group {i})")
            new_groups.append(ng)
        new_state = _ParamState()
        for key, st in state_dict["state"].items():
            if key not in id_map:
                raise ValueError(
                    f"{name}.load_state_dict: state for parameter {key!r}, which no group "
                    f"of the loaded state dict lists"
                )
            p = id_map[key]
            if not isinstance(st, Mapping):
                raise ValueError(
                    f"{name}.load_state_dict: the state of parameter {key} is a "
                    f"{type(st).__name__}, not a dict"
                )
            unknown = set(st) - self._state_keys
            if unknown:
                raise ValueError(
                    f"{name}.load_state_dict: the state of parameter {key} has "
                    f"{sorted(unknown)}, which {name} does not use (a state dict of "
                    f"another optimizer?)"
                )
            missing = self._required_state_keys - set(st) if st else set()
            if missing:
                raise ValueError(
                    f"{name}.load_state_dict: the state of parameter {key} lacks {sorted(missing)}"
                )
            entry = new_state[p]
            for k, v in st.items():
                if k == "step":
                    entry[k] = _whole_step(name, key, v)
                    continue
                try:
                    arr = xp.asarray(v)
                except (ValueError, TypeError, OverflowError) as exc:
                    first = (str(exc).splitlines() or [type(exc).__name__])[0]
                    raise ValueError(
                        f"{name}.load_state_dict: state {k!r} of parameter {key} is not an "
                        f"array of numbers ({first})"
                    ) from None
                if arr.dtype.kind not in "biuf":
                    raise TypeError(
                        f"{name}.load_state_dict: state {k!r} of parameter {key} has dtype "
                        f"{arr.dtype}; expected real numbers"
                    )
                if arr.shape != p.data.shape:
                    raise ValueError(
                        f"{name}.load_state_dict: state {k!r} of parameter {key} has shape "
                        f"{arr.shape}, the parameter {p.data.shape}"
                    )
                entry[k] = arr.astype(p.data.dtype, copy=True)
        self.param_groups[:] = new_groups
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k not in ("params", "param_names"):
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)


def _check_layout(name: str, groups: Any, state: Any) -> None:
    """The containers of a state dict are what :meth:`Optimizer.state_dict` makes: a list
    of group dicts, each with a list of parameter numbers, and a dict of states."""
    where = f"{name}.load_state_dict"
    if not isinstance(groups, (list, tuple)):
        raise TypeError(
            f"{where}: 'param_groups' must be a list of dicts, got {type(groups).__name__}"
        )
    for i, g in enumerate(groups):
        if not isinstance(g, Mapping) or "params" not in g:
            got = f"keys {sorted(map(str, g))}" if isinstance(g, Mapping) else type(g).__name__
            raise ValueError(f"{where}: param group {i} must be a dict with 'params', got {got}")
        ids = g["params"]
        if not isinstance(ids, (list, tuple)) or not all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in ids
        ):
            raise ValueError(
                f"{where}: 'params' of param group {i} must be a list of parameter numbers, "
                f"got {str(ids)[:60]}"
            )
    if not isinstance(state, Mapping):
        raise TypeError(
            f"{where}: 'state' must be a dict of parameter number -> state, got "
            f"{type(state).__name__}"
        )


def _whole_step(name: str, key: Any, v: Any) -> int:
    """A saved step count: a whole number >= 0 (an int, or a float such as PyTorch's)."""
    if isinstance(v, np.ndarray) and v.ndim == 0:
        v = v.item()
    ok = not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating))
    if ok and math.isfinite(v) and v >= 0 and float(v).is_integer():
        return int(v)
    raise ValueError(
        f"{name}.load_state_dict: state 'step' of parameter {key} must be a whole number "
        f">= 0, got {v!r}"
    )


def _copy_value(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, list):
        return [_copy_value(x) for x in v]
    return v


# Bytes per slice in sub_scaled's NumPy path: a 256 KiB scratch array stays in L2, and
# slices this size cost no more NumPy calls than a whole update would for the workloads'
# layers (16 KiB slices made a 784x256 float32 update 25% slower than the plain one).
CHUNK_BYTES = 262144

_AXPY: dict[str, Any] = {}  # dtype char -> BLAS axpy (SciPy's), filled on first use

# Below this many elements NumPy's two ufunc calls cost less than SciPy's BLAS wrapper
# (one thread: 40 elements 1.7 vs 2.7 us, 256 elements 2.0 vs 2.7, 4096 elements 5.2 vs 3.5).
AXPY_MIN = 2048


def _axpy(char: str) -> Any:
    """BLAS ``axpy`` (``y ← a·x + y``, in place) for float64 ("d") or float32 ("f"), or
    None for another dtype.  Imported on the first optimizer step: SciPy's linalg takes
    a few tenths of a second to import, which ``import tinygrad_bp`` should not pay."""
    if char not in "fd":
        return None
    fn = _AXPY.get(char)
    if fn is None:
        from scipy.linalg import blas

        _AXPY["d"], _AXPY["f"] = blas.daxpy, blas.saxpy
        fn = _AXPY[char]
    return fn


def sub_scaled(d: Any, lr: float, g: Any) -> None:
    """``d -= lr * g`` in place.

    For a contiguous float32/float64 parameter of at least ``AXPY_MIN`` elements and a
    gradient of its shape and dtype, one BLAS ``axpy`` call: one pass over the arrays and
    no temporary (NumPy's ``d -= lr * g`` makes ``lr * g`` first, then reads it back; on
    the benchmark's 64x64 layers axpy takes two thirds of the time).  BLAS fuses the
    multiply and add (one rounding instead of two), so the result can differ from
    NumPy's in the last bit.  Otherwise NumPy, slice by slice for a large contiguous
    parameter, so that the temporary is one 256 KiB array instead of a second copy of
    the gradient."""
    n = d.size
    if n < AXPY_MIN:
        d -= lr * g
        return
    dtype = d.dtype
    if g.dtype is dtype and g.shape == d.shape and d.flags.c_contiguous:
        axpy = _AXPY.get(dtype.char) or _axpy(dtype.char)
        if axpy is not None:
            # (on a C-contiguous array reshape(-1) is a view, which axpy updates in place;
            # should SciPy ever hand back a copy instead, it is written back)
            df = d.reshape(-1)
            out = axpy(g.reshape(-1), df, a=-lr)
            if out is not df:
                df[...] = out
            return
    chunk = max(1, CHUNK_BYTES // d.itemsize)
    if n <= chunk or not (
        d.flags.c_contiguous and g.flags.c_contiguous and g.dtype == d.dtype and g.size == n
    ):
        d -= lr * g
        return
    df, gf = d.reshape(-1), g.reshape(-1)
    tmp = xp.empty(chunk, dtype=d.dtype)
    for i in range(0, n, chunk):
        j = min(i + chunk, n)
        t = tmp[: j - i]
        xp.multiply(gf[i:j], lr, out=t)
        xp.subtract(df[i:j], t, out=df[i:j])
