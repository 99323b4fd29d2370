"""Adam and AdamW, as ``torch.optim.Adam`` and ``torch.optim.AdamW``."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..backend import xp
from .optimizer import Optimizer, check_flag, check_number

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam`` (``weight_decay`` is L2: added to the gradient)::

        g = g + weight_decay * p          (decoupled_weight_decay: p = p (1 − lr wd))
        m = β1 m + (1 − β1) g;   v = β2 v + (1 − β2) g²
        v̂ = max(v̂, v) with amsgrad, else v
        p = p − lr / (1 − β1ᵗ) · m / (√v̂ / √(1 − β2ᵗ) + eps)

    ``t`` counts each parameter's own steps (``state[p]["step"]``).  The arithmetic is
    done in the parameter's dtype (float32 stays float32), in place: the state arrays
    and one scratch array per shape are reused by every step.

    ``foreach`` (PyTorch's option, default None: chosen here) picks the multi-tensor
    path where a group allows it (every parameter has a gradient, one dtype, one step
    count): the group's ``exp_avg``/``exp_avg_sq`` are views of one flat array each and
    the update runs over all parameters at once; ``foreach=False`` updates one parameter
    at a time.  Both give the same numbers, bit for bit.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> w = tg.Tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()  # the first step moves each weight by lr against its gradient's sign
    >>> w.data
    array([ 0.9, -1.9])
    """

    _state_keys = frozenset({"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"})
    _required_state_keys = frozenset({"step", "exp_avg", "exp_avg_sq"})

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
        foreach: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
            foreach=foreach,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any], where: str) -> None:
        super()._check_group(group, where)
        betas = group["betas"]
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"{where}: betas must be a pair of floats, got {betas!r}")
        group["betas"] = (
            check_number(where, "betas[0]", betas[0], 0.0, 1.0),
            check_number(where, "betas[1]", betas[1], 0.0, 1.0),
        )
        group["eps"] = check_number(where, "eps", group["eps"], 0.0)
        group["weight_decay"] = check_number(where, "weight_decay", group["weight_decay"], 0.0)
        group["amsgrad"] = check_flag(where, "amsgrad", group["amsgrad"])
        group["maximize"] = check_flag(where, "maximize", group["maximize"])
        group["decoupled_weight_decay"] = check_flag(
            where, "decoupled_weight_decay", group["decoupled_weight_decay"]
        )
        foreach = group.get("foreach")
        if foreach is not None and not isinstance(foreach, (bool, np.bool_)):
            raise TypeError(f"{where}: foreach must be None, True or False, got {foreach!r}")
        group["foreach"] = None if foreach is None else bool(foreach)

    def step(self) -> None:
        name = type(self).__name__
        for group in self.param_groups:
            lr = float(group["lr"])
            b1, b2 = group["betas"]
            eps, wd = group["eps"], group["weight_decay"]
            amsgrad, maximize = group["amsgrad"], group["maximize"]
            decoupled = group["decoupled_weight_decay"]
            items = []
            for p in group["params"]:
                g = self._grad(p, name)
                if g is not None:
                    items.append((p, g, self._state_of(p, amsgrad)))
            if not items:
                continue
            hyper = (lr, b1, b2, eps, wd, amsgrad, maximize, decoupled)
            if group.get("foreach") is not False and self._step_flat(group, items, hyper):
                continue
            for p, g, st in items:
                st["step"] += 1
                d = p.data
                tmp = self._scratch(d)
                vmax = st.get("max_exp_avg_sq") if amsgrad else None
                if amsgrad and vmax is None:
                    vmax = st["max_exp_avg_sq"] = xp.zeros_like(d)
                _update(d, g, st["exp_avg"], st["exp_avg_sq"], vmax, tmp, st["step"], hyper)

    def _state_of(self, p: Any, amsgrad: bool) -> dict[str, Any]:
        """``p``'s state, created (zeros, step 0) on its first step."""
        entry = self.state._by_id.get(id(p))
        st = entry[1] if entry is not None and entry[0] is p else self.state[p]
        if not st:
            d = p.data
            st["step"] = 0
            st["exp_avg"] = xp.zeros_like(d)
            st["exp_avg_sq"] = xp.zeros_like(d)
            if amsgrad:
                st["max_exp_avg_sq"] = xp.zeros_like(d)
        return st

    def _scratch(self, d: Any) -> Any:
        """One scratch array per (shape, dtype), reused by every step (never state)."""
        pool = self.__dict__.setdefault("_scratch_pool", {})
        key = (d.shape, d.dtype)
        tmp = pool.get(key)
        if tmp is None:
            tmp = pool[key] = xp.empty(d.shape, dtype=d.dtype)
        return tmp

    def _step_flat(self, group: dict[str, Any], items: list[Any], hyper: tuple) -> bool:
        """The multi-tensor ("foreach") path: the group's moment estimates live in one
        flat array each (every parameter's state entries are views of it), the gradients
        are gathered into one flat scratch array, and the update is ~14 NumPy calls over
        all of them plus 2-3 per parameter, each element computed by exactly the
        per-parameter path's operations (the same numbers, bit for bit).  Taken when
        every parameter of the group has a gradient, they share a dtype and a step
        count; returns False (nothing done) otherwise."""
        params = group["params"]
        if len(items) != len(params) or len(items) < 2:
            return False
        dtype = params[0].data.dtype
        t = items[0][2]["step"]
        amsgrad = hyper[5]
        for p, _, st in items:
            if p.data.dtype != dtype or st["step"] != t:
                return False
        flat = self.__dict__.setdefault("_flat", {}).get(id(group))
        keys = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if amsgrad else ())
        if (
            flat is None
            or flat["params"] != [id(p) for p in params]
            or not all(
                st.get(k) is view
                for (_, _, st), views in zip(items, flat["views"])
                for k, view in zip(keys, views)
            )
        ):
            flat = self._flatten(group, items, keys, dtype)
        flat_state = flat["state"]
        for _, _, st in items:
            st["step"] = t + 1
        m, v = flat_state[0], flat_state[1]
        vmax = flat_state[2] if amsgrad else None
        gflat, tmp = flat["g"], flat["tmp"]
        lr, b1, b2, eps, wd, _, maximize, decoupled = hyper
        coupled = wd != 0.0 and not decoupled
        for (p, g, _), gv in zip(items, flat["g_views"]):
            d = p.data
            if not coupled:
                if wd != 0.0:
                    d *= 1.0 - lr * wd
                xp.copyto(gv, g)
            else:  # g + wd·d (−g + wd·d under maximize), as the per-parameter path
                xp.multiply(d, wd, out=gv)
                if maximize:
                    gv -= g
                else:
                    gv += g
        _moments(gflat, m, v, vmax, tmp, t + 1, hyper, folded=coupled)
        for (p, _, _), tv in zip(items, flat["tmp_views"]):
            d = p.data
            d -= tv
        return True

    def _flatten(
        self, group: dict[str, Any], items: list[Any], keys: tuple[str, ...], dtype: Any
    ) -> dict[str, Any]:
        """Move the group's state into flat arrays (copying what it holds) and make each
        parameter's state entries views of them."""
        sizes = [p.data.size for p, _, _ in items]
        total = sum(sizes)
        offsets = [0]
        for n in sizes:
            offsets.append(offsets[-1] + n)

        def views(a: Any) -> list[Any]:
            return [
                a[lo:hi].reshape(p.data.shape)
                for (p, _, _), lo, hi in zip(items, offsets, offsets[1:])
            ]

        state = []
        per_param: list[list[Any]] = [[] for _ in items]
        for k in keys:
            a = xp.zeros(total, dtype=dtype)
            for (_, _, st), view, row in zip(items, views(a), per_param):
                old = st.get(k)
                if old is not None:
                    xp.copyto(view, old)
                st[k] = view
                row.append(view)
            state.append(a)
        g, tmp = xp.empty(total, dtype=dtype), xp.empty(total, dtype=dtype)
        flat = {
            "params": [id(p) for p in group["params"]],
            "state": state,
            "views": per_param,
            "g": g,
            "tmp": tmp,
            "g_views": views(g),
            "tmp_views": views(tmp),
        }
        # (keyed by the group dict's id; entries of groups no longer here are dropped)
        live = {id(g) for g in self.param_groups}
        cache = {k: f for k, f in self.__dict__.get("_flat", {}).items() if k in live}
        cache[id(group)] = flat
        self._flat = cache
        return flat


def _update(d: Any, g: Any, m: Any, v: Any, vmax: Any, tmp: Any, t: int, hyper: tuple) -> None:
    """One parameter's Adam(W) step in place, ``tmp`` its scratch array."""
    lr, b1, b2, eps, wd, amsgrad, maximize, decoupled = hyper
    folded = False
    if wd != 0.0:
        if decoupled:
            d *= 1.0 - lr * wd
        else:  # g + wd·d: (−g) + wd·d under maximize, the same number as wd·d − g
            g = xp.add(-g if maximize else g, wd * d)
            folded = True
    _moments(g, m, v, vmax, tmp, t, hyper, folded=folded)
    d -= tmp


def _moments(
    g: Any, m: Any, v: Any, vmax: Any, tmp: Any, t: int, hyper: tuple, folded: bool
) -> None:
    """``m = β1 m + (1 − β1) g``, ``v = β2 v + (1 − β2) g²`` (``v̂ = max(v̂, v)``), and
    the step ``lr/(1 − β1ᵗ) · m / (√v̂/√(1 − β2ᵗ) + eps)`` left in ``tmp``.  ``folded``:
    ``g`` already holds the sign of ``maximize``; otherwise it is applied here, exactly
    (negating is exact: ``(−(1 − β1))·g = −((1 − β1)·g)``, ``(−g)² = g²``)."""
    lr, b1, b2, eps, _, amsgrad, maximize, _ = hyper
    neg = maximize and not folded
    m *= b1
    xp.multiply(g, -(1.0 - b1) if neg else 1.0 - b1, out=tmp)
    m += tmp
    v *= b2
    xp.multiply(g, g, out=tmp)
    tmp *= 1.0 - b2
    v += tmp
    if amsgrad:
        xp.maximum(vmax, v, out=vmax)
        v = vmax
    step_size = lr / (1.0 - b1**t)
    # denom = sqrt(v) / sqrt(1 - b2^t) + eps, then the step = step_size * m / denom
    xp.sqrt(v, out=tmp)
    tmp /= math.sqrt(1.0 - b2**t)
    tmp += eps
    xp.divide(m, tmp, out=tmp)
    tmp *= step_size


class AdamW(Adam):
    """AdamW, as ``torch.optim.AdamW``: Adam with decoupled weight decay (Loshchilov &
    Hutter, 2019), each step first shrinking the weights, ``p = p (1 − lr · wd)``, then
    taking Adam's step with the plain gradient.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> w = tg.Tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()  # (1 - 0.1 * 0.5) * w, then Adam's first step of lr
    >>> w.data
    array([ 0.85, -1.8 ])
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
            foreach=foreach,
        )

    def _check_group(self, group: dict[str, Any], where: str) -> None:
        super()._check_group(group, where)
        if not group["decoupled_weight_decay"]:
            raise ValueError(f"{where}: AdamW's weight decay is always decoupled")
